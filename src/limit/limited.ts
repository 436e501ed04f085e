/**
 * limited(fn, …): the same function, called no faster than a rate limiter allows and (with a
 * semaphore) no more at once than it allows.
 */
import { describe } from '../internal/describe.js';
import { checkOptions } from '../internal/validate.js';
import type { Semaphore } from './semaphore.js';
import type { RateLimiter } from './types.js';

/** Options for {@link limited}. */
export interface LimitedOptions<A extends unknown[]> {
  /** Each call takes `cost(...args)` tokens from it (default 1) before `fn` runs. */
  readonly limiter?: RateLimiter | undefined;
  /** Each call holds one permit of it while `fn` runs. */
  readonly semaphore?: Semaphore | undefined;
  /** Tokens a call costs. Default: 1. */
  readonly cost?: ((...args: A) => number) | undefined;
  /**
   * The signal that cancels a call's wait. Default: the `signal` of the last argument when it
   * is an object that has one (as in `fetch(url, { signal })`), so it passes straight through.
   */
  readonly signal?: ((...args: A) => AbortSignal | undefined) | undefined;
}

function lastArgumentSignal(...args: unknown[]): AbortSignal | undefined {
  const last = args[args.length - 1] as { signal?: unknown } | null | undefined;
  const signal = typeof last === 'object' && last !== null ? last.signal : undefined;
  return signal instanceof AbortSignal ? signal : undefined;
}

/**
 * Wraps `fn` so that every call first waits for `options.semaphore` (if any: concurrency), then
 * for `options.limiter` (if any: rate), then runs `fn` with the same arguments and resolves or
 * rejects as it does. The permit is released when `fn` settles.
 *
 * Cancellation: if the call's signal aborts while it waits, the call rejects with
 * `signal.reason` and `fn` never runs; the signal is also in `fn`'s own arguments, so `fn` can
 * stop early. Ordering: calls go in the order they were made (both waits are FIFO).
 *
 * @example
 * ```ts
 * const get = limited(fetch, {
 *   limiter: allOf([new TokenBucket({ rate: 4, burst: 4 }), perMinute]),
 *   semaphore: new Semaphore({ capacity: 10 }),
 * });
 * const response = await get(url, { signal }); // waits its turn; abortable
 * ```
 */
export function limited<A extends unknown[], R>(
  fn: (...args: A) => R | PromiseLike<R>,
  options: LimitedOptions<A>,
): (...args: A) => Promise<Awaited<R>> {
  if (typeof fn !== 'function') {
    throw new TypeError(`Expected \`fn\` to be a function, got ${describe(fn)}`);
  }
  if (options === undefined)
    throw new TypeError('Expected an options object with `limiter` or `semaphore`');
  checkOptions('options', options);
  const { limiter, semaphore, cost } = options;
  if (limiter === undefined && semaphore === undefined) {
    throw new TypeError('Expected `limiter` or `semaphore` (or both) in the options');
  }
  if (limiter !== undefined && typeof (limiter as Partial<RateLimiter>).take !== 'function') {
    throw new TypeError(`Expected \`limiter\` to be a rate limiter, got ${describe(limiter)}`);
  }
  if (semaphore !== undefined && typeof (semaphore as Partial<Semaphore>).acquire !== 'function') {
    throw new TypeError(`Expected \`semaphore\` to be a Semaphore, got ${describe(semaphore)}`);
  }
  for (const [name, value] of [
    ['cost', cost],
    ['signal', options.signal],
  ] as const) {
    if (value !== undefined && typeof value !== 'function') {
      throw new TypeError(`Expected \`${name}\` to be a function, got ${describe(value)}`);
    }
  }
  const signalOf =
    options.signal ?? (lastArgumentSignal as (...args: A) => AbortSignal | undefined);
  return async (...args: A): Promise<Awaited<R>> => {
    const signal = signalOf(...args);
    const permit = semaphore === undefined ? undefined : await semaphore.acquire({ signal });
    try {
      if (limiter !== undefined)
        await limiter.take(cost === undefined ? 1 : cost(...args), { signal });
      return await fn(...args);
    } finally {
      permit?.release();
    }
  };
}
