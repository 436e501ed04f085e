/**
 * AbortSignal helpers. Every listener added here is removed by the function it returns, so a
 * waiter that settles for any reason leaves nothing behind on a long-lived signal.
 */
import { describe } from './describe.js';

/** Throws a TypeError unless `signal` is `undefined` or looks like an AbortSignal. */
export function checkSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (
    typeof signal === 'object' &&
    signal !== null &&
    typeof (signal as AbortSignal).aborted === 'boolean' &&
    typeof (signal as AbortSignal).addEventListener === 'function'
  ) {
    return signal as AbortSignal;
  }
  throw new TypeError(`Expected \`signal\` to be an AbortSignal, got ${describe(signal)}`);
}

/**
 * Calls `onAbort(signal.reason)` once when `signal` aborts. Returns the function that removes
 * the listener; call it on every other way out.
 */
export function listenForAbort(
  signal: AbortSignal,
  onAbort: (reason: unknown) => void,
): () => void {
  const listener = (): void => {
    signal.removeEventListener('abort', listener);
    onAbort(signal.reason);
  };
  signal.addEventListener('abort', listener);
  return () => signal.removeEventListener('abort', listener);
}
