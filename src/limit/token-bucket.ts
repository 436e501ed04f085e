/**
 * TokenBucket: golang.org/x/time/rate's limiter — lazy refill, reservations, FIFO waits.
 *
 * The bucket holds up to `burst` tokens and refills at `rate` tokens per second. Nothing runs
 * while it is idle: the count is computed from the time elapsed since it was last read. A
 * request takes its tokens when it is made, even if that makes the count negative, and its
 * time to act is when the count will have climbed back to zero. The waiting, FIFO order,
 * shared timer and cancellation are the {@link Scheduler}'s; this file is the arithmetic.
 *
 * Invariants (of the ledger):
 * 1. `tokens` is the count at `last`, net of every request made (negative while some wait).
 * 2. After `advance`, `tokens <= burst`.
 * 3. `last` never decreases.
 */
import { type Clock, checkClock } from '../clock.js';
import { describe } from '../internal/describe.js';
import { invariant } from '../internal/invariant.js';
import { checkOptions } from '../internal/validate.js';
import { EPSILON_MS, type Ledger, Scheduler, type ScheduleStats } from './schedule.js';
import type { RateLimiter, Reservation, TakeOptions, TakeResult } from './types.js';

/** Options for {@link TokenBucket}. */
export interface TokenBucketOptions {
  /**
   * Tokens added per second: a number from 0 up. `0` allows only what is in the bucket;
   * `Infinity` allows everything. For "n per interval" use {@link perInterval}.
   */
  readonly rate: number;
  /** The bucket's size: an integer from 1 up. */
  readonly burst: number;
  /** Tokens at the start, from 0 to `burst`. Default: `burst` (the bucket starts full). */
  readonly initial?: number | undefined;
  /** Where time is read and the timer armed. Default: the system clock. */
  readonly clock?: Clock | undefined;
}

/** A snapshot of a bucket's state and counters. */
export interface TokenBucketStats extends ScheduleStats {
  readonly rate: number;
  readonly burst: number;
  /** Tokens now; negative while requests wait or reservations are outstanding. */
  readonly available: number;
}

/**
 * The rate, in tokens per second, of `count` tokens every `intervalMs` milliseconds:
 * `perInterval(100, 60_000)` is 100 per minute.
 */
export function perInterval(count: number, intervalMs: number): number {
  if (!(typeof count === 'number' && count >= 0 && Number.isFinite(count))) {
    throw new RangeError(
      `Expected \`count\` to be a finite number from 0 up, got ${describe(count)}`,
    );
  }
  if (!(typeof intervalMs === 'number' && intervalMs > 0)) {
    throw new RangeError(
      `Expected \`intervalMs\` to be a number of milliseconds above 0, got ${describe(intervalMs)}`,
    );
  }
  return (count * 1000) / intervalMs;
}

/**
 * Tolerance for floating-point error in token counts: a count within a billionth of a token of
 * `n` counts as `n`, so "1 per hour" grants at the hour, not a rounding error after it.
 */
const TOKEN_EPSILON = 1e-9;

/** Rounds a computed time to the nanosecond, where float error in the division lives. */
function toNanosecond(ms: number): number {
  return Math.round(ms * 1e6) / 1e6;
}

/** The token count as a line over time; see the invariants above. */
class TokenLedger implements Ledger {
  /** Milliseconds per token: 0 at rate Infinity, Infinity at rate 0. */
  msPerToken: number;
  burst: number;
  tokens: number;
  last: number;
  /** Tokens a new bucket starts with. */
  readonly initial: number;

  constructor(rate: number, burst: number, initial: number, now: number) {
    this.msPerToken = 1000 / rate;
    this.burst = burst;
    this.tokens = initial;
    this.initial = initial;
    this.last = now;
  }

  advance(now: number): void {
    if (now > this.last) {
      this.tokens += (now - this.last) / this.msPerToken; // Infinity at rate Infinity: capped
      this.last = now;
    }
    if (this.tokens > this.burst) this.tokens = this.burst;
  }

  earliest(n: number, from: number): number {
    // The count climbs linearly from `last`; before `from` it cannot reach the cap (an earlier
    // waiter acts at `from` and takes what has accrued), so the later of the two times is it.
    const deficit = n - this.tokens;
    if (deficit <= TOKEN_EPSILON || this.msPerToken === 0) return from;
    return Math.max(from, toNanosecond(this.last + deficit * this.msPerToken)); // Infinity at rate 0
  }

  commit(n: number): void {
    if (this.msPerToken !== 0) this.tokens -= n;
  }

  uncommit(n: number): void {
    if (this.msPerToken !== 0) this.tokens += n;
  }

  /** A bucket with at least what a new one starts with can be replaced by a new one. */
  isIdle(): boolean {
    return this.tokens >= Math.min(this.initial, this.burst) - TOKEN_EPSILON;
  }
}

/**
 * A token bucket: at most `burst` at once, `rate` per second on average.
 *
 * Most callers should use `take`, which waits its turn. Use `tryTake` to drop or skip work
 * when the limit is reached, and `reserve` to learn the wait and sleep yourself.
 *
 * Guarantee: in any window of length W, the tokens granted are at most `burst + rate·W`;
 * while demand exceeds supply, the long-run grant rate equals `rate`, however late timers
 * fire (a waiter's time is fixed by the schedule; the timer only wakes it).
 *
 * @example
 * ```ts
 * const bucket = new TokenBucket({ rate: 5, burst: 5 }); // 5 per second, bursts of 5
 * for (const job of jobs) {
 *   await bucket.take(); // waits when the bucket is empty
 *   start(job);
 * }
 * ```
 */
export class TokenBucket implements RateLimiter {
  readonly #ledger: TokenLedger;
  readonly #schedule: Scheduler;
  #rate: number;

  /** Throws a RangeError naming the value for a negative or NaN rate, or a bad burst or initial. */
  constructor(options: TokenBucketOptions) {
    if (options === undefined)
      throw new TypeError('Expected an options object with rate and burst');
    checkOptions('options', options);
    this.#rate = checkRate(options.rate);
    const burst = checkBurst(options.burst);
    const initial = options.initial ?? burst;
    if (!(typeof initial === 'number' && initial >= 0 && initial <= burst)) {
      throw new RangeError(
        `Expected \`initial\` to be a number from 0 to burst (${burst}), got ${describe(initial)}`,
      );
    }
    const clock = checkClock(options.clock);
    this.#ledger = new TokenLedger(this.#rate, burst, initial, clock.now());
    this.#schedule = new Scheduler(clock, this.#ledger, this);
  }

  /** Tokens per second. */
  get rate(): number {
    return this.#rate;
  }

  /** The bucket's size. */
  get burst(): number {
    return this.#ledger.burst;
  }

  /** Tokens now (fractional; negative while requests wait or reservations are outstanding). */
  get available(): number {
    this.#schedule.advance();
    return this.#ledger.tokens;
  }

  /** Callers of `take` waiting now. */
  get waiting(): number {
    return this.#schedule.waiting;
  }

  /** True when the limiter holds no state a new one would not: it can be forgotten. */
  get idle(): boolean {
    return this.#schedule.idle;
  }

  /** What `tryTake(n)` would return now, taking nothing. */
  peek(n = 1): TakeResult {
    this.#checkN(n);
    return this.#schedule.peek(n);
  }

  /**
   * Takes `n` tokens now if they are there and nobody is waiting (it never jumps the queue).
   * Returns `{ ok: true }`, or `{ ok: false, retryAfterMs }`. Never waits.
   * Throws a RangeError if `n` is not an integer from 1 up or exceeds the burst.
   */
  tryTake(n = 1): TakeResult {
    this.#checkN(n);
    return this.#schedule.tryTake(n);
  }

  /**
   * Waits until `n` tokens can be taken, then takes them.
   *
   * Resolves when the caller's turn comes: its tokens were reserved in FIFO order at the call,
   * so a caller is never overtaken by a later one.
   *
   * Cancellation: if `signal` aborts while waiting, the promise rejects with `signal.reason`
   * untouched and its tokens go back: all of them, with the callers behind it moved up — or,
   * while a `reserve()` reservation is outstanding, those no later request has been promised.
   * An already-aborted signal rejects at once and takes nothing.
   *
   * Ordering: first come, first served; `tryTake` never goes ahead of a waiting caller.
   *
   * Errors: a `TimeoutError` at once, taking nothing, if the wait would be longer than
   * `timeoutMs` (its message says how long it would have been) or could never end (rate 0);
   * a RangeError for an `n` that is not an integer from 1 up or exceeds the burst.
   */
  take(n = 1, options?: TakeOptions): Promise<void> {
    this.#checkN(n);
    return this.#schedule.take(n, options);
  }

  /**
   * Reserves `n` tokens at the earliest time the schedule allows and returns that time.
   * The caller waits `delayMs` itself, then acts — or calls `cancel()`, which gives back the
   * tokens no later request has been promised.
   *
   * A reservation that could never be honoured (rate 0 and too few tokens) has `ok: false`
   * and takes nothing. Throws a RangeError for a bad `n` or one above the burst.
   */
  reserve(n = 1): Reservation {
    this.#checkN(n);
    return this.#schedule.reserve(n);
  }

  /**
   * Changes the rate. Tokens accrued so far count at the old rate; from now on the new one
   * applies, and waiting callers are rescheduled to it (a waiter whose new time would pass its
   * `timeoutMs` is rejected with a `TimeoutError`, and its tokens go back). While a `reserve()`
   * reservation is outstanding, waiters keep their times and only later requests see the change.
   */
  setRate(rate: number): void {
    const checked = checkRate(rate);
    this.#schedule.advance();
    this.#rate = checked;
    this.#ledger.msPerToken = 1000 / checked;
    this.#schedule.reschedule();
  }

  /** Changes the bucket's size; tokens above the new size are lost. Reschedules waiters. */
  setBurst(burst: number): void {
    const checked = checkBurst(burst);
    this.#schedule.advance();
    this.#ledger.burst = checked;
    this.#schedule.reschedule();
  }

  /** A snapshot of the bucket's state and counters. */
  stats(): TokenBucketStats {
    return {
      ...this.#schedule.stats(),
      rate: this.#rate,
      burst: this.burst,
      available: this.available,
    };
  }

  /** Checks the bucket's invariants; throws an `InvariantError` if one fails. */
  assertInvariants(): void {
    this.#schedule.assertInvariants();
    const { tokens, burst } = this.#ledger;
    invariant(tokens <= burst + EPSILON_MS, () => `tokens ${tokens} > burst ${burst}`);
  }

  #checkN(n: number): void {
    if (!(Number.isInteger(n) && n >= 1)) {
      throw new RangeError(`Expected \`n\` to be an integer from 1 up, got ${describe(n)}`);
    }
    if (n > this.#ledger.burst) {
      throw new RangeError(
        `Cannot take ${n} tokens from a bucket of burst ${this.#ledger.burst}: it could never hold that many`,
      );
    }
  }
}

function checkRate(rate: unknown): number {
  if (typeof rate === 'number' && rate >= 0) return rate;
  throw new RangeError(
    `Expected \`rate\` to be a number of tokens per second from 0 up (or Infinity), got ${describe(rate)}`,
  );
}

function checkBurst(burst: unknown): number {
  if (typeof burst === 'number' && Number.isInteger(burst) && burst >= 1) return burst;
  throw new RangeError(`Expected \`burst\` to be an integer from 1 up, got ${describe(burst)}`);
}
