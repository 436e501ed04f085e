/**
 * Capturing the errors a call throws or a promise rejects with, so a test can look at them.
 */

/**
 * Calls `fn`, which must throw synchronously, and returns what it threw. Fails if `fn` returns
 * instead; a returned promise (misuse reported asynchronously) has its rejection swallowed so it
 * is not unhandled.
 */
export function thrown(fn: () => unknown): unknown {
  let result: unknown;
  try {
    result = fn();
  } catch (error) {
    return error;
  }
  if (result instanceof Promise) {
    result.catch(() => {});
    throw new Error('expected a synchronous throw, but the call returned a promise');
  }
  throw new Error(`expected a throw, got ${String(result)}`);
}

/** `thrown`, typed as an `Error` (for reading `name`, `message`, …). */
export function caught(fn: () => unknown): Error {
  return thrown(fn) as Error;
}

/** The rejection reason of `promise`; fails if it fulfils. */
export function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (reason: unknown) => reason,
  );
}
