/**
 * AbortSignal helpers. Every listener added here is removed by the function it returns, so a
 * waiter that settles for any reason leaves nothing behind on a long-lived signal.
 */
import type { Clock, TimerHandle } from '../clock.js';
import { describe } from './describe.js';

/**
 * True when `value` looks like an AbortSignal: an object with a boolean `aborted` and an
 * `addEventListener` method (duck-typed, so a signal from another realm or a polyfill counts).
 */
export function isAbortSignal(value: unknown): value is AbortSignal {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AbortSignal).aborted === 'boolean' &&
    typeof (value as AbortSignal).addEventListener === 'function'
  );
}

/** Throws a TypeError unless `signal` is `undefined` or looks like an AbortSignal. */
export function checkSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined || isAbortSignal(signal)) return signal;
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

/** A waiter that may hold an abort listener (`unlisten` removes it) and a timeout timer. */
export interface Disarmable {
  unlisten: (() => void) | undefined;
  timer: TimerHandle | undefined;
}

/** Removes `waiter`'s abort listener and clears its timer, if it has them; safe to call twice. */
export function disarm(waiter: Disarmable, clock: Clock): void {
  if (waiter.unlisten !== undefined) {
    waiter.unlisten();
    waiter.unlisten = undefined;
  }
  if (waiter.timer !== undefined) {
    clock.clearTimer(waiter.timer);
    waiter.timer = undefined;
  }
}
