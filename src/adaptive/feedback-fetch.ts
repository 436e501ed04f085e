/**
 * feedbackFetch: a `fetch` function that waits for a {@link FeedbackRateLimiter} before each
 * call and reports each response back to it.
 *
 * For every call: `take(1)` (with the caller's `init.signal`, or the `Request`'s), then the
 * call; then, by status —
 *
 *   429 or 503 (`throttleStatuses`)  →  onThrottle({ retryAfterMs: parseRetryAfter(Retry-After) })
 *   any other status                 →  onSuccess()
 *   the call rejects (network error, abort)  →  nothing: the rejection passes through
 *
 * A network error says nothing about the server's load (the request may never have reached
 * it), so it neither lowers nor raises the rate — AWS's adaptive mode likewise feeds only
 * responses. The wrapper never retries and never reads the body: the response is returned as
 * it came, whatever its status. Stateless: all state is the limiter's.
 */
import { isAbortSignal } from '../internal/abort.js';
import { describe } from '../internal/describe.js';
import { checkDuration, checkOptions } from '../internal/validate.js';
import type { TakeOptions } from '../limit/types.js';
import type { ThrottleFeedback } from './feedback-rate.js';
import { parseRetryAfter } from './retry-after.js';

/**
 * What the wrapper reads from a response: its status and a header. The global `Response`,
 * undici's and node-fetch's all have this shape.
 */
export interface ResponseLike {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
}

/** The part of a {@link FeedbackRateLimiter} the wrapper uses. */
export interface FeedbackLimiter {
  take(n?: number, options?: TakeOptions): Promise<void>;
  onThrottle(feedback?: ThrottleFeedback): unknown;
  onSuccess(): unknown;
}

/** Options for {@link feedbackFetch}. */
export interface FeedbackFetchOptions {
  /** Statuses that mean "slow down". Default `[429, 503]`. Every other status is a success. */
  readonly throttleStatuses?: readonly number[] | undefined;
  /**
   * The wall-clock time in epoch milliseconds, for `Retry-After` given as an HTTP-date.
   * Default `Date.now`. (The limiter's own clock is monotonic and cannot date a header.)
   */
  readonly now?: (() => number) | undefined;
  /**
   * The longest a call waits for the limiter, in milliseconds: if its turn is further off (say,
   * behind a long `Retry-After`), it rejects at once with a `TimeoutError` and nothing is
   * sent. Default: no limit.
   */
  readonly timeoutMs?: number | undefined;
}

/**
 * Wraps `fetchFn` (the global `fetch`, undici's, node-fetch's, or anything returning a
 * {@link ResponseLike}) so that each call first waits its turn at `limiter` and then reports
 * the response's status to it. Returns a function of the same type.
 *
 * Waits for: the limiter's `take(1)`, first come, first served; the request is sent when it
 * resolves. Cancellation: the caller's `init.signal` (or the `Request`'s) is passed to `take`,
 * so aborting while waiting rejects with `signal.reason` before anything is sent; the same
 * signal then goes to `fetchFn` as usual. Errors: a `TimeoutError` if the wait would pass
 * `timeoutMs`; whatever `fetchFn` rejects with, unchanged (and not reported to the limiter).
 *
 * @example
 * ```ts
 * const limiter = new FeedbackRateLimiter({ initialRate: 20, maxRate: 200 });
 * const apiFetch = feedbackFetch(fetch, limiter);
 * const res = await apiFetch('https://api.example.com/items', { signal });
 * ```
 */
export function feedbackFetch<F extends (...args: never[]) => Promise<ResponseLike>>(
  fetchFn: F,
  limiter: FeedbackLimiter,
  options: FeedbackFetchOptions = {},
): F {
  if (typeof fetchFn !== 'function') {
    throw new TypeError(`Expected \`fetchFn\` to be a function, got ${describe(fetchFn)}`);
  }
  if (
    typeof limiter !== 'object' ||
    limiter === null ||
    typeof limiter.take !== 'function' ||
    typeof limiter.onThrottle !== 'function' ||
    typeof limiter.onSuccess !== 'function'
  ) {
    throw new TypeError(
      `Expected \`limiter\` to be a FeedbackRateLimiter (take, onThrottle, onSuccess), got ${describe(limiter)}`,
    );
  }
  checkOptions('options', options);
  const statuses = options.throttleStatuses ?? [429, 503];
  if (!Array.isArray(statuses) || !statuses.every((s) => Number.isInteger(s))) {
    throw new TypeError(
      `Expected \`throttleStatuses\` to be an array of integer statuses, got ${describe(statuses)}`,
    );
  }
  const throttle = new Set<number>(statuses);
  const now = options.now ?? Date.now;
  if (typeof now !== 'function') {
    throw new TypeError(`Expected \`now\` to be a function, got ${describe(now)}`);
  }
  const timeoutMs =
    options.timeoutMs === undefined ? undefined : checkDuration('timeoutMs', options.timeoutMs);
  const call = fetchFn as unknown as (...args: unknown[]) => Promise<ResponseLike>;

  const wrapped = async (...args: unknown[]): Promise<ResponseLike> => {
    const signal = signalOf(args[1]) ?? signalOf(args[0]);
    await limiter.take(1, { signal, timeoutMs });
    const response = await call(...args);
    if (throttle.has(response.status)) {
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), now());
      limiter.onThrottle({ retryAfterMs });
    } else {
      limiter.onSuccess();
    }
    return response;
  };
  return wrapped as unknown as F;
}

/** The `signal` of a `RequestInit` or `Request`, if it has one that looks like an AbortSignal. */
function signalOf(value: unknown): AbortSignal | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const signal = (value as { signal?: unknown }).signal;
  return isAbortSignal(signal) ? signal : undefined;
}
