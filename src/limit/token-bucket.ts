/**
 * TokenBucket: golang.org/x/time/rate's limiter — lazy refill, reservations, FIFO waits.
 *
 * The bucket holds up to `burst` tokens and refills at `rate` tokens per second. Nothing runs
 * while it is idle: the count is computed from the time elapsed since it was last read. A
 * request takes its tokens when it is made, even if that makes the count negative, and its
 * time to act is when the count will have climbed back to zero. A pause (`pauseUntil`, or a
 * server's Retry-After in `FeedbackRateLimiter`) is a floor on every time to act. The waiting,
 * FIFO order, shared timer and cancellation are the {@link Scheduler}'s; this file is the
 * arithmetic, and the surface every token bucket shares ({@link TokenBucketBase}).
 *
 * Invariants (of the ledger):
 * 1. `tokens` is the count at `last`, net of every request made (negative while some wait);
 *    the count at a later time t is `tokens + (t − last) / msPerToken`, up to the first time
 *    it reaches `burst`. A request committed at a time when the line would pass `burst` first
 *    lowers the line so that it meets `burst` there, as the bucket's cap would.
 * 2. After `advance`, `tokens <= burst`.
 * 3. `last` never decreases.
 * 4. `pausedUntil` never decreases, and no request placed or rescheduled while it is ahead has
 *    a time to act before it (reservations made earlier keep their times).
 * 5. `msPerToken` is `1000 / rate` for the bucket's `rate` (0 at rate Infinity, Infinity at 0).
 */
import { type Clock, checkClock } from '../clock.js';
import { describe } from '../internal/describe.js';
import { invariant } from '../internal/invariant.js';
import { checkOptions } from '../internal/validate.js';
import { EPSILON_MS, type Ledger, type ScheduleStats } from './schedule.js';
import { ScheduledLimiter } from './scheduled-limiter.js';

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

/** The token count as a line over time, with the pause as a floor; see the invariants above. */
class TokenLedger implements Ledger {
  /** Milliseconds per token: 0 at rate Infinity, Infinity at rate 0. */
  msPerToken: number;
  burst: number;
  tokens: number;
  last: number;
  /** Nothing is granted before this time (a pause); it never decreases. */
  pausedUntil: number = Number.NEGATIVE_INFINITY;
  /** Tokens a new bucket starts with. */
  readonly initial: number;
  /** Tokens lost to the cap by commitments placed late, by their time (see `commit`). */
  readonly #capped = new Map<number, number>();
  /** The latest time of any commitment. */
  #latest = Number.NEGATIVE_INFINITY;

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
      if (this.#capped.size > 0 && this.#latest <= now) this.#capped.clear();
    }
    if (this.tokens > this.burst) this.tokens = this.burst;
  }

  earliest(n: number, from: number): number {
    // The count climbs linearly from `last`; before `from` it cannot reach the cap (an earlier
    // waiter acts at `from` and takes what has accrued), so the later of the two times is it.
    if (n > this.burst) return Number.POSITIVE_INFINITY; // after setBurst below a waiter's n
    const start = Math.max(from, this.pausedUntil);
    const deficit = n - this.tokens;
    if (deficit <= TOKEN_EPSILON || this.msPerToken === 0) return start;
    return Math.max(start, toNanosecond(this.last + deficit * this.msPerToken)); // Infinity at rate 0
  }

  commit(n: number, at: number): void {
    if (this.msPerToken === 0) return;
    // A request placed later than the count needs (behind a composite's other limiters) acts on
    // a bucket that has filled up meanwhile: what it would have held beyond the cap is lost.
    const accrued = (at - this.last) / this.msPerToken;
    const excess = this.tokens + accrued - this.burst;
    if (excess > 0) {
      this.tokens -= excess;
      this.#capped.set(at, (this.#capped.get(at) ?? 0) + excess);
    }
    if (at > this.#latest) this.#latest = at;
    this.tokens -= n;
  }

  uncommit(n: number, at: number): void {
    if (this.msPerToken === 0) return;
    this.tokens += n;
    // The cap's loss comes back only with the latest commitment: one made after it was placed
    // on the lowered count, and giving the loss back under it could pass the cap.
    const excess = this.#capped.get(at);
    if (excess !== undefined && at >= this.#latest) {
      this.tokens += excess;
      this.#capped.delete(at);
    }
  }

  giveBack(n: number, at: number): void {
    this.uncommit(n, at);
    // A later commitment placed late had its count held at the cap (`#capped`): tokens given
    // back before it would lift the count there past `burst`, and the requests at and after it
    // would get more than a full bucket. The cap takes them, as it would have; they come back
    // only with that commitment, like the rest of its loss.
    let capped = Number.POSITIVE_INFINITY;
    for (const time of this.#capped.keys()) if (time > at && time < capped) capped = time;
    if (capped === Number.POSITIVE_INFINITY) return;
    this.tokens -= n;
    this.#capped.set(capped, (this.#capped.get(capped) ?? 0) + n);
  }

  /** A bucket with at least what a new one starts with can be replaced by a new one. */
  isIdle(): boolean {
    return (
      this.tokens >= Math.min(this.initial, this.burst) - TOKEN_EPSILON &&
      this.pausedUntil <= this.last
    );
  }
}

/**
 * What every token bucket shares — the ledger, `rate`, `burst`, `available`, the pause and the
 * check of `n` — under {@link TokenBucket} and the feedback-driven `FeedbackRateLimiter`. It
 * changes rate, size and pause only through the protected `retune`: each subclass decides
 * which changes its callers may make (any rate for a `TokenBucket`; for a
 * `FeedbackRateLimiter`, only its feedback, within its bounds).
 */
export abstract class TokenBucketBase extends ScheduledLimiter {
  readonly #ledger: TokenLedger;
  #rate: number;

  /**
   * `rate`, `burst` and `initial` are already checked; `now` is the clock's reading at
   * construction (the ledger's start).
   */
  protected constructor(clock: Clock, rate: number, burst: number, initial: number, now: number) {
    const ledger = new TokenLedger(rate, burst, initial, now);
    super(clock, ledger);
    this.#ledger = ledger;
    this.#rate = rate;
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
    this.schedule.advance();
    return this.#ledger.tokens;
  }

  /** Nothing is granted before this clock time; `-Infinity` until a pause is set. */
  protected get pausedUntil(): number {
    return this.#ledger.pausedUntil;
  }

  /**
   * Switches to the given rate and size and raises the pause to `pauseUntil` (a pause never
   * moves earlier), then reschedules the waiters. The values are already checked, and the
   * schedule already advanced to now, so what accrued so far counts at the old values.
   */
  protected retune(change: {
    readonly rate?: number;
    readonly burst?: number;
    readonly pauseUntil?: number;
  }): void {
    const ledger = this.#ledger;
    if (change.rate !== undefined) {
      this.#rate = change.rate;
      ledger.msPerToken = 1000 / change.rate;
    }
    if (change.burst !== undefined) ledger.burst = change.burst;
    if (change.pauseUntil !== undefined && change.pauseUntil > ledger.pausedUntil) {
      ledger.pausedUntil = change.pauseUntil;
    }
    this.schedule.reschedule();
  }

  /** Checks the bucket's invariants; throws an `InvariantError` if one fails. */
  override assertInvariants(): void {
    super.assertInvariants();
    const { tokens, burst, msPerToken } = this.#ledger;
    invariant(tokens <= burst + EPSILON_MS, () => `tokens ${tokens} > burst ${burst}`);
    invariant(msPerToken === 1000 / this.#rate, 'ledger rate out of step');
  }

  protected checkN(n: number): void {
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

/**
 * A token bucket: at most `burst` at once, `rate` per second on average.
 *
 * Most callers should use `take`, which waits its turn. Use `tryTake` to drop or skip work
 * when the limit is reached, and `reserve` to learn the wait and sleep yourself. `setRate`,
 * `setBurst` and `pause` change the limit while callers wait.
 *
 * Guarantee: in any window of length W, the tokens granted are at most `burst + rate·W`;
 * while demand exceeds supply (and no pause is running), the long-run grant rate equals
 * `rate`, however late timers fire (a waiter's time is fixed by the schedule; the timer only
 * wakes it).
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
export class TokenBucket extends TokenBucketBase {
  /** Throws a RangeError naming the value for a negative or NaN rate, or a bad burst or initial. */
  constructor(options: TokenBucketOptions) {
    if (options === undefined)
      throw new TypeError('Expected an options object with rate and burst');
    checkOptions('options', options);
    const rate = checkRate(options.rate);
    const burst = checkBurst(options.burst);
    const initial = options.initial ?? burst;
    if (!(typeof initial === 'number' && initial >= 0 && initial <= burst)) {
      throw new RangeError(
        `Expected \`initial\` to be a number from 0 to burst (${burst}), got ${describe(initial)}`,
      );
    }
    const clock = checkClock(options.clock);
    super(clock, rate, burst, initial, clock.now());
  }

  /**
   * Changes the rate. Tokens accrued so far count at the old rate; from now on the new one
   * applies, and waiting callers are rescheduled to it (a waiter whose new time would pass its
   * `timeoutMs` is rejected with a `TimeoutError`, and its tokens go back). At rate 0, waiters
   * with a `timeoutMs` are rejected and the others pause until the rate rises again, so
   * `setRate(0)` … `setRate(r)` pauses and resumes a limiter. While a `reserve()` reservation is
   * outstanding, waiters keep their times and only later requests see the change.
   */
  setRate(rate: number): void {
    const checked = checkRate(rate);
    this.schedule.advance();
    this.retune({ rate: checked });
  }

  /**
   * Changes the bucket's size; tokens above the new size are lost. Reschedules waiters: one
   * waiting for more than the new size is never granted at this size — it is rejected with a
   * `TimeoutError` if it has a `timeoutMs`, and otherwise waits (with every caller behind it)
   * until the size is raised again or its signal aborts.
   */
  setBurst(burst: number): void {
    const checked = checkBurst(burst);
    this.schedule.advance();
    this.retune({ burst: checked });
  }

  /**
   * Pauses the bucket until `time`, a reading of its clock (for "for `ms` from now", use
   * `pause`): nothing is granted before it — not by `tryTake`, `take` or `reserve`, not even
   * from a full bucket. Tokens keep accruing meanwhile (up to `burst`), so at `time` up to
   * `burst` go at once, then the rate applies. The pause never moves earlier: a `time` before
   * the end of the current pause, or before now, changes nothing.
   *
   * Waiting `take` callers are rescheduled behind the pause, keeping their order; one whose
   * new time would pass its `timeoutMs` is rejected with a `TimeoutError`, and its tokens go
   * back. While a `reserve()` reservation is outstanding, waiters keep their times and only
   * later requests see the pause; reservations keep theirs.
   *
   * Throws a RangeError for a `time` that is not a finite number.
   *
   * @example
   * ```ts
   * const clock = new ManualClock();
   * const bucket = new TokenBucket({ rate: 10, burst: 10, clock });
   * bucket.pauseUntil(30_000);
   * bucket.tryTake(); // { ok: false, retryAfterMs: 30_000 }
   * ```
   */
  pauseUntil(time: number): void {
    if (!(typeof time === 'number' && Number.isFinite(time))) {
      throw new RangeError(
        `Expected \`time\` to be a finite clock reading in milliseconds, got ${describe(time)}`,
      );
    }
    const now = this.schedule.advance();
    if (time <= now || time <= this.pausedUntil) return;
    this.retune({ pauseUntil: time });
  }

  /**
   * Shorthand for `pauseUntil(now + ms)`: nothing is granted for the next `ms` milliseconds (a
   * server's `Retry-After`, say). A shorter pause than the one running changes nothing.
   * Throws a RangeError for an `ms` that is not a finite number from 0 up.
   *
   * @example
   * ```ts
   * if (res.status === 429) {
   *   bucket.pause(parseRetryAfter(res.headers.get('retry-after'), Date.now()) ?? 1000);
   * }
   * ```
   */
  pause(ms: number): void {
    if (!(typeof ms === 'number' && ms >= 0 && Number.isFinite(ms))) {
      throw new RangeError(
        `Expected \`ms\` to be a finite number of milliseconds from 0 up, got ${describe(ms)}`,
      );
    }
    this.pauseUntil(this.schedule.advance() + ms);
  }

  /** A snapshot of the bucket's state and counters. */
  stats(): TokenBucketStats {
    return {
      ...this.schedule.stats(),
      rate: this.rate,
      burst: this.burst,
      available: this.available,
    };
  }
}

function checkRate(rate: unknown): number {
  if (typeof rate === 'number' && rate >= 0) return rate;
  throw new RangeError(
    `Expected \`rate\` to be a number of tokens per second from 0 up (or Infinity), got ${describe(rate)}`,
  );
}

/** `burst` if it is an integer from 1 up; otherwise a RangeError naming it. */
export function checkBurst(burst: unknown): number {
  if (typeof burst === 'number' && Number.isInteger(burst) && burst >= 1) return burst;
  throw new RangeError(`Expected \`burst\` to be an integer from 1 up, got ${describe(burst)}`);
}
