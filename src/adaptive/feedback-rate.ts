/**
 * FeedbackRateLimiter: a token bucket whose rate follows the server's overload signals — the
 * client-side rate limiting of the AWS SDKs' `adaptive` retry mode (the JS SDK v3's
 * `DefaultRateLimiter` in @smithy/util-retry), with a server's `Retry-After` honoured as a pause.
 *
 * The caller reports each response: `onThrottle()` for "slow down" (HTTP 429/503, a throttling
 * error), `onSuccess()` for anything else. The rate moves by one of two algorithms:
 *
 * - `'cubic'` (default; AWS's constants). On a throttle at time T, with `m` the measured
 *   response rate and `r` the current rate:
 *     base = min(m, r);  rate = β·base;  W = ∛(base·(1 − β) / C)   (β = 0.7, C = 0.4)
 *   and on a success at time t (seconds):
 *     rate = min(C·(t − T − W)³ + base,  2·m)
 *   — the CUBIC curve: back up to `base` at T + W, flat around it, then probing ever faster.
 *   `m` is AWS's measure: responses counted in half-second buckets, smoothed when a bucket
 *   ends as `m ← 0.8·(count / seconds since the last bucket) + 0.2·m`.
 * - `'aimd'`: on a throttle, `rate ← rate · decreaseFactor` (default 0.5), at most once per
 *   `windowMs` (default 1000 ms; throttles within a window of the last cut are echoes of the
 *   same overload); on a success, `rate ← rate + increase` (default 1 token/s), at most once
 *   per `windowMs` and only if no throttle came in the last `windowMs`.
 *
 * Either way the rate is then clamped to `[minRate, maxRate]`, and waiting `take()` callers
 * are rescheduled to it. `onThrottle({ retryAfterMs })` also pauses the bucket: no request is
 * granted before `now + retryAfterMs`.
 *
 * The bucket is TokenBucket's (the shared `TokenBucketBase` in token-bucket.ts): its token
 * arithmetic, the pause (a floor on every time to act), and the {@link Scheduler}'s waiting,
 * FIFO order, shared timer and cancellation. This file holds the feedback; it changes the
 * bucket only through `retune`, so the rate stays within its bounds (no public `setRate`).
 *
 * Invariants:
 * 1. `minRate ≤ rate ≤ maxRate`, `0 < rate < Infinity`, and the ledger's `msPerToken` is
 *    `1000 / rate`.
 * 2. Ledger (TokenBucket's, invariants 1–3 there): `tokens` is the count at `last`, net of
 *    every request made; the count at t ≥ last is `tokens + (t − last) / msPerToken`, capped at
 *    `burst`; after `advance`, `tokens ≤ burst`; `last` never decreases.
 * 3. `pausedUntil` never decreases, and no request placed or rescheduled while it is ahead has
 *    a time to act before it (reservations made earlier keep their times; see `onThrottle`).
 * 4. The feedback state changes only in `onThrottle` and `onSuccess`, each one synchronous
 *    step: measure, compute, clamp, then reschedule (which settles promises last).
 */
import { type Clock, checkClock } from '../clock.js';
import { describe } from '../internal/describe.js';
import { invariant } from '../internal/invariant.js';
import { checkOneOf, checkOptions, checkPositive } from '../internal/validate.js';
import type { ScheduleStats } from '../limit/schedule.js';
import { checkBurst, TokenBucketBase } from '../limit/token-bucket.js';
import type { Reservation, TakeOptions, TakeResult } from '../limit/types.js';

/** Options every {@link FeedbackRateLimiter} takes, whatever the algorithm. */
export interface FeedbackRateBaseOptions {
  /** The rate to start at, in tokens per second: a finite number within `[minRate, maxRate]`. */
  readonly initialRate: number;
  /**
   * The rate never goes below this: a finite number above 0 (at rate 0 no request would go, so
   * no feedback would ever raise it). Default 0.5 (AWS's `minFillRate`), or `initialRate` if
   * that is lower.
   */
  readonly minRate?: number | undefined;
  /** The rate never goes above this: a number from `minRate` up, or `Infinity`. Default `Infinity`. */
  readonly maxRate?: number | undefined;
  /**
   * The bucket's size: an integer from 1 up. Default 1: requests are paced evenly at the rate,
   * with no bursts. (AWS sizes the bucket at one second's worth of the current rate.)
   */
  readonly burst?: number | undefined;
  /**
   * The longest pause a `retryAfterMs` may cause, in milliseconds: a number from 0 up, or
   * `Infinity`. Default `Infinity`: the server's word is honoured however long.
   */
  readonly maxPauseMs?: number | undefined;
  /** Where time is read and the timer armed. Default: the system clock. */
  readonly clock?: Clock | undefined;
}

/** CUBIC, as the AWS SDKs' adaptive retry mode runs it. */
export interface CubicFeedbackOptions extends FeedbackRateBaseOptions {
  readonly algorithm?: 'cubic' | undefined;
  /** The multiplicative decrease β: a number in (0, 1). Default 0.7. */
  readonly beta?: number | undefined;
  /** The scale constant C, in tokens/s per s³: a finite number above 0. Default 0.4. */
  readonly scaleConstant?: number | undefined;
}

/** Additive increase, multiplicative decrease. */
export interface AimdFeedbackOptions extends FeedbackRateBaseOptions {
  readonly algorithm: 'aimd';
  /** Tokens per second added per window of successes: a finite number above 0. Default 1. */
  readonly increase?: number | undefined;
  /** The factor the rate is multiplied by on a throttle: a number in (0, 1). Default 0.5. */
  readonly decreaseFactor?: number | undefined;
  /**
   * The window, in milliseconds: at most one increase and at most one decrease per window. A
   * finite number above 0. Default 1000.
   */
  readonly windowMs?: number | undefined;
}

/** Options for {@link FeedbackRateLimiter}: `algorithm` picks the knobs that apply. */
export type FeedbackRateLimiterOptions = CubicFeedbackOptions | AimdFeedbackOptions;

/** What `onThrottle` may be told. */
export interface ThrottleFeedback {
  /**
   * The server's `Retry-After`, in milliseconds from now (see `parseRetryAfter`): a finite
   * number from 0 up. Nothing is granted until it has passed.
   */
  readonly retryAfterMs?: number | undefined;
}

/** A snapshot of a {@link FeedbackRateLimiter}'s state and counters. */
export interface FeedbackRateStats extends ScheduleStats {
  readonly algorithm: 'cubic' | 'aimd';
  /** Tokens per second now. */
  readonly rate: number;
  readonly burst: number;
  /** Tokens now; negative while requests wait or reservations are outstanding. */
  readonly available: number;
  /** The measured response rate (AWS's), per second; 0 until the first half-second bucket ends. */
  readonly measuredRate: number;
  /** Time left in a `Retry-After` pause, in milliseconds (0: none). */
  readonly pausedForMs: number;
  /** `onThrottle` and `onSuccess` calls so far. */
  readonly throttles: number;
  readonly successes: number;
}

/** Half-second buckets, as AWS measures. */
const MEASURE_BUCKET_MS = 500;
/** Weight of the newest bucket in the measured rate (AWS's `smooth`). */
const MEASURE_SMOOTH = 0.8;

/**
 * AWS's `updateMeasuredRate`: responses counted per half-second bucket; when a call lands in a
 * later bucket, `rate ← 0.8·count / (seconds between the bucket starts) + 0.2·rate`. As in AWS,
 * the call that ends a bucket is counted in it. (AWS starts from the whole second; this from
 * the half-second.)
 */
class RateMeter {
  #count = 0;
  #bucketStart: number;
  #rate = 0;
  #known = false;

  constructor(now: number) {
    this.#bucketStart = Math.floor(now / MEASURE_BUCKET_MS) * MEASURE_BUCKET_MS;
  }

  /** The smoothed rate, or 0 before the first bucket ended. */
  get rate(): number {
    return this.#rate;
  }

  /** Counts one response at `now`; returns the rate, or `undefined` while none is measured. */
  record(now: number): number | undefined {
    this.#count++;
    const bucket = Math.floor(now / MEASURE_BUCKET_MS) * MEASURE_BUCKET_MS;
    if (bucket > this.#bucketStart) {
      const current = this.#count / ((bucket - this.#bucketStart) / 1000);
      this.#rate = MEASURE_SMOOTH * current + (1 - MEASURE_SMOOTH) * this.#rate;
      this.#count = 0;
      this.#bucketStart = bucket;
      this.#known = true;
    }
    return this.#known ? this.#rate : undefined;
  }
}

/**
 * One algorithm: a new rate (before clamping) from one piece of feedback at `now`, given the
 * current rate and the measured rate (`undefined` until measured).
 */
interface RateAlgorithm {
  readonly name: 'cubic' | 'aimd';
  throttle(now: number, rate: number, measured: number | undefined): number;
  success(now: number, rate: number, measured: number | undefined): number;
}

/**
 * CUBIC (AWS's `cubicThrottle`/`cubicSuccess`). `plateau` is AWS's `lastMaxRate`, `epoch` the
 * time the curve passes it (AWS's `lastThrottleTime + timeWindow`), in ms. Before the first
 * throttle the curve starts at its plateau, `initialRate`, at construction, so successes
 * probe upwards from there; the `2·m` cap applies from the first throttle on (before it, AWS
 * does not limit at all), and only once a rate has been measured.
 */
class CubicRate implements RateAlgorithm {
  readonly name = 'cubic';
  #plateau: number;
  #epoch: number;
  #throttled = false;

  constructor(
    readonly beta: number,
    readonly scale: number,
    initialRate: number,
    now: number,
  ) {
    this.#plateau = initialRate;
    this.#epoch = now;
  }

  throttle(now: number, rate: number, measured: number | undefined): number {
    const base = measured === undefined ? rate : Math.min(measured, rate);
    this.#plateau = base;
    this.#epoch = now + 1000 * Math.cbrt((base * (1 - this.beta)) / this.scale);
    this.#throttled = true;
    return base * this.beta; // ≤ 2·m already
  }

  success(now: number, _rate: number, measured: number | undefined): number {
    const t = (now - this.#epoch) / 1000;
    const curve = this.scale * t ** 3 + this.#plateau;
    return this.#throttled && measured !== undefined ? Math.min(curve, 2 * measured) : curve;
  }
}

/** AIMD with one move up and one move down per window at most. */
class AimdRate implements RateAlgorithm {
  readonly name = 'aimd';
  /** The last increase or throttle (an increase needs a whole window without either). */
  #lastChange: number;
  #lastDecrease = Number.NEGATIVE_INFINITY;

  constructor(
    readonly increase: number,
    readonly factor: number,
    readonly windowMs: number,
    now: number,
  ) {
    this.#lastChange = now;
  }

  throttle(now: number, rate: number): number {
    this.#lastChange = now;
    if (now - this.#lastDecrease < this.windowMs) return rate;
    this.#lastDecrease = now;
    return rate * this.factor;
  }

  success(now: number, rate: number): number {
    if (now - this.#lastChange < this.windowMs) return rate;
    this.#lastChange = now;
    return rate + this.increase;
  }
}

/**
 * A rate limiter that slows down when the server says it is overloaded and speeds up while it
 * does not: the AWS SDKs' adaptive retry mode, as a sluice {@link RateLimiter}.
 *
 * Most callers should `await limiter.take()` before each request, then report the response:
 * `onThrottle({ retryAfterMs })` for a 429 or 503 (with the `Retry-After` header, parsed by
 * `parseRetryAfter`), `onSuccess()` for any other response. `feedbackFetch` does all three for
 * a `fetch` function. A network error is neither: report nothing.
 *
 * Everything else is a token bucket's contract — FIFO, abortable, `timeoutMs`, one shared
 * timer — with `rate` moving under the feedback. Share one limiter per server resource that
 * throttles together (AWS's advice: per table, per bucket — not one for unrelated resources).
 *
 * @example
 * ```ts
 * const limiter = new FeedbackRateLimiter({ initialRate: 50, minRate: 1, maxRate: 500 });
 * await limiter.take();
 * const res = await fetch(url);
 * if (res.status === 429 || res.status === 503) {
 *   limiter.onThrottle({ retryAfterMs: parseRetryAfter(res.headers.get('retry-after'), Date.now()) });
 * } else {
 *   limiter.onSuccess();
 * }
 * ```
 */
export class FeedbackRateLimiter extends TokenBucketBase {
  readonly #meter: RateMeter;
  readonly #algorithm: RateAlgorithm;
  readonly #initialRate: number;
  readonly #minRate: number;
  readonly #maxRate: number;
  readonly #maxPauseMs: number;
  #throttles = 0;
  #successes = 0;

  /**
   * Throws a RangeError naming the option and value for a rate that is negative, NaN, 0 or
   * infinite where it must be finite, `minRate > maxRate`, `initialRate` outside them, a bad
   * `burst`, `beta`, `scaleConstant`, `increase`, `decreaseFactor`, `windowMs` or `maxPauseMs`,
   * or an unknown `algorithm`.
   */
  constructor(options: FeedbackRateLimiterOptions) {
    if (options === undefined) {
      throw new TypeError('Expected an options object with initialRate');
    }
    checkOptions('options', options);
    const initialRate = checkPositive('initialRate', options.initialRate, 'tokens per second');
    const minRate = checkPositive(
      'minRate',
      options.minRate ?? Math.min(0.5, initialRate),
      'tokens per second',
    );
    const maxRate = options.maxRate ?? Number.POSITIVE_INFINITY;
    if (!(typeof maxRate === 'number' && maxRate > 0)) {
      throw new RangeError(
        `Expected \`maxRate\` to be a number of tokens per second above 0 (or Infinity), got ${describe(maxRate)}`,
      );
    }
    if (minRate > maxRate) {
      throw new RangeError(
        `Expected \`minRate\` (${minRate}) to be at most \`maxRate\` (${maxRate})`,
      );
    }
    if (initialRate < minRate || initialRate > maxRate) {
      throw new RangeError(
        `Expected \`initialRate\` to be within [${minRate}, ${maxRate}], got ${describe(initialRate)}`,
      );
    }
    const burst = checkBurst(options.burst ?? 1);
    const maxPauseMs = options.maxPauseMs ?? Number.POSITIVE_INFINITY;
    if (!(typeof maxPauseMs === 'number' && maxPauseMs >= 0)) {
      throw new RangeError(
        `Expected \`maxPauseMs\` to be a number of milliseconds from 0 up (or Infinity), got ${describe(maxPauseMs)}`,
      );
    }
    const name = checkOneOf('algorithm', options.algorithm ?? 'cubic', ['cubic', 'aimd'] as const);
    const clock = checkClock(options.clock);
    const now = clock.now();
    let algorithm: RateAlgorithm;
    if (name === 'aimd') {
      const o = options as AimdFeedbackOptions;
      algorithm = new AimdRate(
        checkPositive('increase', o.increase ?? 1),
        checkFraction('decreaseFactor', o.decreaseFactor ?? 0.5),
        checkPositive('windowMs', o.windowMs ?? 1000),
        now,
      );
    } else {
      const o = options as CubicFeedbackOptions;
      algorithm = new CubicRate(
        checkFraction('beta', o.beta ?? 0.7),
        checkPositive('scaleConstant', o.scaleConstant ?? 0.4),
        initialRate,
        now,
      );
    }
    super(clock, initialRate, burst, burst, now);
    this.#meter = new RateMeter(now);
    this.#algorithm = algorithm;
    this.#initialRate = initialRate;
    this.#minRate = minRate;
    this.#maxRate = maxRate;
    this.#maxPauseMs = maxPauseMs;
  }

  /**
   * True when a new limiter would do no worse in its place: nothing waits, no reservation is
   * outstanding, the bucket is full, no pause is ahead, and the rate is back to `initialRate`
   * or above (a new limiter would start there). A keyed map may then drop it.
   */
  override get idle(): boolean {
    return super.idle && this.rate >= this.#initialRate;
  }

  /**
   * The server said "slow down" (HTTP 429 or 503, a throttling error). Lowers the rate (see
   * the algorithm in the file comment) and, given `retryAfterMs`, pauses: nothing is granted
   * before now + `retryAfterMs` (at most `maxPauseMs`; a longer pause already running stays).
   * Waiting `take` callers are rescheduled to the new rate and after the pause, keeping their
   * order; one whose new time would pass its `timeoutMs` is rejected with a `TimeoutError`
   * and its tokens go back. Reservations already made by `reserve()` keep their times, and
   * while one is outstanding the waiting callers keep theirs too (the scheduler's rule), so
   * then the pause and the new rate apply only to requests made from now on.
   *
   * Returns the new rate. Throws a RangeError for a `retryAfterMs` that is not a finite number
   * from 0 up.
   */
  onThrottle(feedback?: ThrottleFeedback): number {
    checkOptions('feedback', feedback);
    const given = feedback?.retryAfterMs;
    if (given !== undefined && !(typeof given === 'number' && given >= 0 && given < Infinity)) {
      throw new RangeError(
        `Expected \`retryAfterMs\` to be a finite number of milliseconds from 0 up, got ${describe(given)}`,
      );
    }
    const now = this.schedule.advance();
    const measured = this.#meter.record(now);
    this.#throttles++;
    const rate = this.#clamp(this.#algorithm.throttle(now, this.rate, measured));
    const pause = Math.min(given ?? 0, this.#maxPauseMs);
    this.#apply(rate, pause > 0 ? now + pause : Number.NEGATIVE_INFINITY);
    return rate;
  }

  /**
   * The server handled a request without complaint. Probes the rate upwards (see the algorithm
   * in the file comment); waiting `take` callers are rescheduled to the new rate. Does not end
   * a `Retry-After` pause. Returns the new rate.
   */
  onSuccess(): number {
    const now = this.schedule.advance();
    const measured = this.#meter.record(now);
    this.#successes++;
    const rate = this.#clamp(this.#algorithm.success(now, this.rate, measured));
    this.#apply(rate, Number.NEGATIVE_INFINITY);
    return rate;
  }

  /**
   * Waits until `n` tokens can be taken at the current rate and no `Retry-After` pause is
   * ahead, then takes them.
   *
   * Resolves when the caller's turn comes. Its time is fixed at the call from the rate and any
   * pause, and moved (earlier or later) whenever `onThrottle` or `onSuccess` changes them.
   *
   * Cancellation: if `signal` aborts while waiting, the promise rejects with `signal.reason`
   * untouched and the tokens go back, the callers behind moving up (never before a pause). An
   * already-aborted signal rejects at once and takes nothing.
   *
   * Ordering: first come, first served; `tryTake` never goes ahead of a waiting caller, and a
   * rate change or a pause never reorders the waiters.
   *
   * Errors: a `TimeoutError`, taking nothing, if the wait would be longer than `timeoutMs` —
   * at once when called, or when a later throttle or pause pushes the caller's time past it;
   * a RangeError for an `n` that is not an integer from 1 up to `burst`.
   *
   * @example
   * ```ts
   * await limiter.take(1, { signal: AbortSignal.timeout(5_000) });
   * ```
   */
  override take(n = 1, options?: TakeOptions): Promise<void> {
    return super.take(n, options);
  }

  /**
   * Takes `n` now if the rate allows it, no pause is ahead and nobody is waiting. Returns
   * `{ ok: true }`, or `{ ok: false, retryAfterMs }` (until the pause ends, or the tokens are
   * there). Never waits.
   */
  override tryTake(n = 1): TakeResult {
    return super.tryTake(n);
  }

  /**
   * Reserves `n` at the earliest time the rate and any pause allow. The time is fixed: a later
   * throttle does not move it (and, while it is outstanding, does not move waiting `take`
   * callers either). Prefer `take` with this limiter.
   */
  override reserve(n = 1): Reservation {
    return super.reserve(n);
  }

  /** A snapshot of the limiter's state and counters. */
  stats(): FeedbackRateStats {
    const now = this.schedule.advance();
    return {
      ...this.schedule.stats(),
      algorithm: this.#algorithm.name,
      rate: this.rate,
      burst: this.burst,
      available: this.available,
      measuredRate: this.#meter.rate,
      pausedForMs: Math.max(0, this.pausedUntil - now),
      throttles: this.#throttles,
      successes: this.#successes,
    };
  }

  /** Checks the limiter's invariants; throws an `InvariantError` if one fails. */
  override assertInvariants(): void {
    super.assertInvariants(); // the scheduler's, tokens ≤ burst, and msPerToken = 1000 / rate
    const rate = this.rate;
    invariant(
      rate >= this.#minRate && rate <= this.#maxRate && rate > 0 && rate < Infinity,
      () => `rate ${rate} outside [${this.#minRate}, ${this.#maxRate}]`,
    );
  }

  #clamp(rate: number): number {
    return Math.max(this.#minRate, Math.min(rate, this.#maxRate));
  }

  /**
   * Sets the rate and raises the pause (the schedule already advanced to now), then
   * reschedules — unless neither changes.
   */
  #apply(rate: number, pauseUntil: number): void {
    if (rate === this.rate && pauseUntil <= this.pausedUntil) return;
    this.retune({ rate, pauseUntil });
  }
}

function checkFraction(name: string, value: unknown): number {
  if (typeof value === 'number' && value > 0 && value < 1) return value;
  throw new RangeError(
    `Expected \`${name}\` to be a number between 0 and 1 (exclusive), got ${describe(value)}`,
  );
}
