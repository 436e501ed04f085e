/**
 * WindowLimiter: "at most `limit` requests in any `windowMs`", for APIs whose quota is stated
 * that way (100 per minute). Three algorithms, from exact to cheap; see window-ledgers.ts for
 * their arithmetic and error. Waiting, FIFO order, cancellation and the shared timer are the
 * {@link Scheduler}'s, exactly as for the token bucket.
 */
import { type Clock, checkClock } from '../clock.js';
import { describe } from '../internal/describe.js';
import { checkOneOf, checkOptions } from '../internal/validate.js';
import type { ScheduleStats } from './schedule.js';
import { ScheduledLimiter } from './scheduled-limiter.js';
import { FixedWindowLedger, SlidingCounterLedger, SlidingLogLedger } from './window-ledgers.js';

const ALGORITHMS = ['sliding-log', 'sliding-counter', 'fixed'] as const;

/**
 * How a {@link WindowLimiter} counts:
 * - `sliding-log` (default): exact; remembers the time of each request in the last window.
 * - `sliding-counter`: two counters, the previous window weighted by its overlap; approximate
 *   (it assumes requests were spread evenly over the previous window), constant memory.
 * - `fixed`: one counter per window aligned to the limiter's start; up to 2·limit can pass
 *   across a window boundary.
 */
export type WindowAlgorithm = (typeof ALGORITHMS)[number];

/** Options for {@link WindowLimiter}. */
export interface WindowLimiterOptions {
  /** Requests allowed per window: an integer from 1 up. */
  readonly limit: number;
  /** The window's length in milliseconds: a finite number above 0. */
  readonly windowMs: number;
  /** Default `'sliding-log'`. */
  readonly algorithm?: WindowAlgorithm | undefined;
  /** Where time is read and the timer armed. Default: the system clock. */
  readonly clock?: Clock | undefined;
}

/** A snapshot of a window limiter's state and counters. */
export interface WindowLimiterStats extends ScheduleStats {
  readonly limit: number;
  readonly windowMs: number;
  readonly algorithm: WindowAlgorithm;
}

/**
 * At most `limit` per `windowMs`. Most callers should use `take`, which waits its turn.
 *
 * @example
 * ```ts
 * const quota = new WindowLimiter({ limit: 100, windowMs: 60_000 }); // 100 per minute
 * await quota.take();
 * ```
 */
export class WindowLimiter extends ScheduledLimiter {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #algorithm: WindowAlgorithm;

  /** Throws a RangeError naming the value for a bad limit, window or algorithm. */
  constructor(options: WindowLimiterOptions) {
    if (options === undefined)
      throw new TypeError('Expected an options object with limit and windowMs');
    checkOptions('options', options);
    const { limit, windowMs } = options;
    if (!(typeof limit === 'number' && Number.isInteger(limit) && limit >= 1)) {
      throw new RangeError(`Expected \`limit\` to be an integer from 1 up, got ${describe(limit)}`);
    }
    if (!(typeof windowMs === 'number' && windowMs > 0 && Number.isFinite(windowMs))) {
      throw new RangeError(
        `Expected \`windowMs\` to be a finite number of milliseconds above 0, got ${describe(windowMs)}`,
      );
    }
    const algorithm = checkOneOf('algorithm', options.algorithm ?? 'sliding-log', ALGORITHMS);
    const clock = checkClock(options.clock);
    const origin = clock.now();
    super(
      clock,
      algorithm === 'fixed'
        ? new FixedWindowLedger(limit, windowMs, origin)
        : algorithm === 'sliding-counter'
          ? new SlidingCounterLedger(limit, windowMs, origin)
          : new SlidingLogLedger(limit, windowMs),
    );
    this.#algorithm = algorithm;
    this.#limit = limit;
    this.#windowMs = windowMs;
  }

  /** Requests allowed per window. */
  get limit(): number {
    return this.#limit;
  }

  /** The window's length in milliseconds. */
  get windowMs(): number {
    return this.#windowMs;
  }

  /** The counting algorithm. */
  get algorithm(): WindowAlgorithm {
    return this.#algorithm;
  }

  /** A snapshot of the limiter's counters. */
  stats(): WindowLimiterStats {
    return {
      ...this.schedule.stats(),
      limit: this.#limit,
      windowMs: this.#windowMs,
      algorithm: this.#algorithm,
    };
  }

  protected checkN(n: number): void {
    if (!(Number.isInteger(n) && n >= 1)) {
      throw new RangeError(`Expected \`n\` to be an integer from 1 up, got ${describe(n)}`);
    }
    if (n > this.#limit) {
      throw new RangeError(
        `Cannot take ${n} from a window of limit ${this.#limit}: it could never fit`,
      );
    }
  }
}
