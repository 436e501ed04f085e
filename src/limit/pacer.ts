/**
 * Pacer: events evenly spaced, one every `intervalMs`, with `slack` for catching up after idle
 * (uber-go/ratelimit's model). This is GCRA, the "virtual scheduling" form of the leaky bucket,
 * which admits exactly what a token bucket of `rate = 1000 / intervalMs` and
 * `burst = slack + 1` admits. So it runs on the same engine, starting with one token rather
 * than a full bucket: the first event goes at once, the next waits a whole interval.
 */
import type { Clock } from '../clock.js';
import { describe } from '../internal/describe.js';
import { checkOptions } from '../internal/validate.js';
import { shareScheduler } from './schedule.js';
import { TokenBucket } from './token-bucket.js';
import type { RateLimiter, Reservation, TakeOptions, TakeResult } from './types.js';

/** Options for {@link Pacer}. */
export interface PacerOptions {
  /** Time between events, in milliseconds: a number above 0. */
  readonly intervalMs: number;
  /**
   * How many events may go without waiting after an idle spell, to catch up: an integer from
   * 0 up. Default 0: strict spacing. (uber-go/ratelimit's default is 10.)
   */
  readonly slack?: number | undefined;
  /** Where time is read and the timer armed. Default: the system clock. */
  readonly clock?: Clock | undefined;
}

/**
 * Spaces events `intervalMs` apart. Most callers should `await pacer.take()` before each
 * event. Same contract as {@link TokenBucket}: FIFO, abortable, one shared timer.
 *
 * @example
 * ```ts
 * const pacer = new Pacer({ intervalMs: 100 }); // 10 per second, evenly
 * for (const request of requests) {
 *   await pacer.take();
 *   send(request);
 * }
 * ```
 */
export class Pacer implements RateLimiter {
  readonly #bucket: TokenBucket;
  readonly #intervalMs: number;
  readonly #slack: number;

  /** Throws a RangeError naming the value for an `intervalMs` ≤ 0 or a bad `slack`. */
  constructor(options: PacerOptions) {
    if (options === undefined) throw new TypeError('Expected an options object with intervalMs');
    checkOptions('options', options);
    const { intervalMs, slack = 0 } = options;
    if (!(typeof intervalMs === 'number' && intervalMs > 0 && Number.isFinite(intervalMs))) {
      throw new RangeError(
        `Expected \`intervalMs\` to be a finite number of milliseconds above 0, got ${describe(intervalMs)}`,
      );
    }
    if (!(typeof slack === 'number' && Number.isInteger(slack) && slack >= 0)) {
      throw new RangeError(`Expected \`slack\` to be an integer from 0 up, got ${describe(slack)}`);
    }
    this.#intervalMs = intervalMs;
    this.#slack = slack;
    this.#bucket = new TokenBucket({
      rate: 1000 / intervalMs,
      burst: slack + 1,
      initial: 1,
      clock: options.clock,
    });
    shareScheduler(this, this.#bucket);
  }

  /** Time between events, in milliseconds. */
  get intervalMs(): number {
    return this.#intervalMs;
  }

  /** Events allowed to catch up after idle. */
  get slack(): number {
    return this.#slack;
  }

  /** Callers of `take` waiting now. */
  get waiting(): number {
    return this.#bucket.waiting;
  }

  /** True when the pacer holds no state a new one would not. */
  get idle(): boolean {
    return this.#bucket.idle;
  }

  /** What `tryTake(n)` would return now, taking nothing. */
  peek(n = 1): TakeResult {
    return this.#bucket.peek(n);
  }

  /** Goes now if this event's slot has come and nobody waits; never waits. */
  tryTake(n = 1): TakeResult {
    return this.#bucket.tryTake(n);
  }

  /**
   * Waits for this event's slot, first come, first served. Cancellation, timeouts and errors
   * as in {@link TokenBucket.take}; `n` (default 1) takes `n` consecutive slots, at most
   * `slack + 1`.
   */
  take(n = 1, options?: TakeOptions): Promise<void> {
    return this.#bucket.take(n, options);
  }

  /** Reserves the next slot and says how long to wait for it. */
  reserve(n = 1): Reservation {
    return this.#bucket.reserve(n);
  }
}
