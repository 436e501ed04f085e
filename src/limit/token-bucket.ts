/**
 * TokenBucket: golang.org/x/time/rate's limiter — lazy refill, reservations, FIFO waits.
 *
 * The bucket holds up to `burst` tokens and refills at `rate` tokens per second. Nothing runs
 * while it is idle: the token count is computed from the time elapsed since it was last read.
 * A reservation takes its tokens at once, even if that makes the count negative, and is told
 * when the count will have climbed back: that is its time to act. Later reservations queue
 * behind it, so grants are first come, first served, and a late timer loses no rate (the
 * schedule, not the timer, decides who may go).
 *
 * Invariants:
 * 1. `last` never decreases: a clock reading older than `last` counts as `last`.
 * 2. `tokens <= burst`; `tokens` is the count at `last`, net of every reservation made.
 * 3. Waiters (callers of `take` that must wait) are in FIFO order and their times to act are
 *    non-decreasing; `waitingTokens` is the sum of their `n`.
 * 4. The single shared timer is armed exactly when some waiter's time to act is finite, for
 *    a time no later than the head's; an idle bucket holds no timer.
 * 5. `promised` is the running total of tokens taken by requests that had to wait (`take`
 *    waiters and `reserve()` reservations), less what cancellations gave back; each such
 *    request records the total just after its own, so `promised - promisedAt` is what later
 *    requests have been promised.
 * 6. Waiters are moved (rescheduled) only while no `reserve()` reservation is outstanding
 *    (`now >= fixedUntil`): those have fixed times, and moving a waiter earlier past one could
 *    grant more than the bucket's cap allows at that instant. While one is outstanding,
 *    cancelling gives back what x/time/rate's CancelAt would, and nothing moves.
 */
import { type Clock, checkClock, type TimerHandle } from '../clock.js';
import { TimeoutError } from '../errors.js';
import { checkSignal, listenForAbort } from '../internal/abort.js';
import { describe } from '../internal/describe.js';
import { invariant } from '../internal/invariant.js';
import { checkDuration, checkOptions } from '../internal/validate.js';
import { type Linked, WaiterList } from '../internal/waiter-list.js';
import type { RateLimiter, Reservation, TakeOptions, TakeResult } from './types.js';

/** Options for {@link TokenBucket}. */
export interface TokenBucketOptions {
  /**
   * Tokens added per second: a number from 0 up. `0` allows only the initial burst;
   * `Infinity` allows everything. For "n per interval" use {@link perInterval}.
   */
  readonly rate: number;
  /** The bucket's size: an integer from 1 up. The bucket starts full. */
  readonly burst: number;
  /** Where time is read and the timer armed. Default: the system clock. */
  readonly clock?: Clock | undefined;
}

/** A snapshot of a bucket's state and counters. */
export interface TokenBucketStats {
  readonly rate: number;
  readonly burst: number;
  /** Tokens now; negative while reservations are outstanding. */
  readonly available: number;
  /** Callers of `take` waiting now. */
  readonly waiting: number;
  /** Requests granted (by `tryTake`, `take` and `reserve`), and the tokens they took. */
  readonly granted: number;
  readonly tokensGranted: number;
  /** `tryTake` calls refused. */
  readonly refused: number;
  /** Waits and reservations given back by abort or `cancel()`. */
  readonly cancelled: number;
  /** `take` calls refused at once because the wait would pass their `timeoutMs`. */
  readonly timedOut: number;
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

const OK: TakeResult = Object.freeze({ ok: true });
const RESOLVED: Promise<void> = Promise.resolve();
/** Slack for floating-point error when comparing a time to act with the clock (1 ns). */
const EPSILON_MS = 1e-6;

class TakeWaiter implements Linked<TakeWaiter> {
  prev: TakeWaiter | undefined = undefined;
  next: TakeWaiter | undefined = undefined;
  list: object | undefined = undefined;
  unlisten: (() => void) | undefined = undefined;

  constructor(
    readonly n: number,
    public timeToAct: number,
    /** Latest time the caller accepts (`Infinity`: none). */
    readonly deadline: number,
    readonly timeoutMs: number,
    /** `promised` just after this waiter reserved. */
    readonly promisedAt: number,
    readonly resolve: () => void,
    readonly reject: (error: unknown) => void,
  ) {}
}

/**
 * A token bucket: at most `burst` at once, `rate` per second on average.
 *
 * Most callers should use `take`, which waits its turn. Use `tryTake` to drop or skip work
 * when the limit is reached, and `reserve` to learn the wait and sleep yourself.
 *
 * Guarantee: in any window of length W, the tokens granted are at most `burst + rate·W`;
 * while demand exceeds supply, the long-run grant rate equals `rate`, however late timers fire.
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
  readonly #clock: Clock;
  #rate: number;
  /** `rate` in tokens per millisecond. */
  #perMs: number;
  #burst: number;
  #tokens: number;
  #last: number;
  readonly #waiters = new WaiterList<TakeWaiter>();
  #waitingTokens = 0;
  #promised = 0;
  /** The latest time to act of any `reserve()` reservation. */
  #fixedUntil = Number.NEGATIVE_INFINITY;
  #timer: TimerHandle | undefined = undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #granted = 0;
  #tokensGranted = 0;
  #refused = 0;
  #cancelled = 0;
  #timedOut = 0;

  /** Throws a RangeError naming the value for a negative or NaN rate, or a bad burst. */
  constructor(options: TokenBucketOptions) {
    checkOptions('options', options);
    if (options === undefined)
      throw new TypeError('Expected an options object with rate and burst');
    this.#rate = checkRate(options.rate);
    this.#perMs = this.#rate / 1000;
    this.#burst = checkBurst(options.burst);
    this.#clock = checkClock(options.clock);
    this.#tokens = this.#burst;
    this.#last = this.#clock.now();
  }

  /** Tokens per second. */
  get rate(): number {
    return this.#rate;
  }

  /** The bucket's size. */
  get burst(): number {
    return this.#burst;
  }

  /** Tokens now (fractional; negative while reservations are outstanding). */
  get available(): number {
    this.#advance();
    return this.#rate === Number.POSITIVE_INFINITY ? this.#burst : this.#tokens;
  }

  /** Callers of `take` waiting now. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /**
   * Takes `n` tokens now if they are there and nobody is waiting (it never jumps the queue).
   * Returns `{ ok: true }`, or `{ ok: false, retryAfterMs }`. Never waits.
   * Throws a RangeError if `n` is not an integer from 1 up or exceeds the burst.
   */
  tryTake(n = 1): TakeResult {
    this.#checkN(n);
    if (this.#rate === Number.POSITIVE_INFINITY) return this.#grant(n);
    const now = this.#advance();
    if (this.#waiters.length === 0 && this.#tokens >= n) {
      this.#tokens -= n;
      return this.#grant(n);
    }
    this.#refused++;
    return { ok: false, retryAfterMs: this.#timeToAct(n, now) - now };
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
    let signal: AbortSignal | undefined;
    let timeoutMs = Number.POSITIVE_INFINITY;
    if (options !== undefined) {
      checkOptions('options', options);
      signal = checkSignal(options.signal);
      if (options.timeoutMs !== undefined)
        timeoutMs = checkDuration('timeoutMs', options.timeoutMs);
      if (signal?.aborted) return Promise.reject(signal.reason);
    }
    if (this.#rate === Number.POSITIVE_INFINITY) {
      this.#grant(n);
      return RESOLVED;
    }
    const now = this.#advance();
    if (this.#waiters.length === 0 && this.#tokens >= n) {
      this.#tokens -= n;
      this.#grant(n);
      return RESOLVED;
    }
    const timeToAct = this.#timeToAct(n, now);
    const wait = timeToAct - now;
    if (wait > timeoutMs || wait === Number.POSITIVE_INFINITY) {
      this.#timedOut++;
      return Promise.reject(TimeoutError.wouldExceed(wait, timeoutMs));
    }
    this.#tokens -= n;
    this.#waitingTokens += n;
    this.#promised += n;
    const promisedAt = this.#promised;
    return new Promise<void>((resolve, reject) => {
      const waiter = new TakeWaiter(
        n,
        timeToAct,
        now + timeoutMs,
        timeoutMs,
        promisedAt,
        resolve,
        reject,
      );
      this.#waiters.push(waiter);
      if (signal !== undefined) {
        waiter.unlisten = listenForAbort(signal, (reason) => {
          waiter.unlisten = undefined;
          this.#giveBackWaiter(waiter);
          reject(reason);
        });
      }
      this.#arm(now);
    });
  }

  /**
   * Reserves `n` tokens at the earliest time the schedule allows and returns that time.
   * The caller waits `delayMs` itself, then acts — or calls `cancel()`.
   *
   * A reservation that could never be honoured (rate 0 and too few tokens) has `ok: false`
   * and takes nothing. Throws a RangeError for a bad `n` or one above the burst.
   */
  reserve(n = 1): Reservation {
    this.#checkN(n);
    const now = this.#advance();
    if (this.#rate === Number.POSITIVE_INFINITY) {
      this.#grant(n);
      return new FixedReservation(true, 0, now, undefined);
    }
    const timeToAct = this.#timeToAct(n, now);
    if (timeToAct === Number.POSITIVE_INFINITY) {
      return new FixedReservation(false, Number.POSITIVE_INFINITY, timeToAct, undefined);
    }
    this.#tokens -= n;
    this.#grant(n);
    if (timeToAct <= now) return new FixedReservation(true, 0, timeToAct, undefined);
    this.#promised += n;
    const promisedAt = this.#promised;
    if (timeToAct > this.#fixedUntil) this.#fixedUntil = timeToAct;
    let cancelled = false;
    return new FixedReservation(true, timeToAct - now, timeToAct, () => {
      if (cancelled) return;
      cancelled = true;
      this.#giveBackReservation(n, timeToAct, promisedAt);
    });
  }

  /**
   * Changes the rate. Tokens accrued so far count at the old rate; from now on the new one
   * applies, and waiting callers are rescheduled to it (a waiter whose new time would pass its
   * `timeoutMs` is rejected with a `TimeoutError`, and its tokens go back). While a `reserve()`
   * reservation is outstanding, waiters keep their times and only later requests see the change.
   */
  setRate(rate: number): void {
    const checked = checkRate(rate);
    const now = this.#advance();
    this.#rate = checked;
    this.#perMs = checked / 1000;
    this.#reschedule(now);
  }

  /** Changes the bucket's size; tokens above the new size are lost. Reschedules waiters. */
  setBurst(burst: number): void {
    const checked = checkBurst(burst);
    const now = this.#advance();
    this.#burst = checked;
    if (this.#tokens > checked) this.#tokens = checked;
    this.#reschedule(now);
  }

  /** A snapshot of the bucket's state and counters. */
  stats(): TokenBucketStats {
    return {
      rate: this.#rate,
      burst: this.#burst,
      available: this.available,
      waiting: this.#waiters.length,
      granted: this.#granted,
      tokensGranted: this.#tokensGranted,
      refused: this.#refused,
      cancelled: this.#cancelled,
      timedOut: this.#timedOut,
    };
  }

  /** Checks the invariants at the top of this file; throws an `InvariantError` if one fails. */
  assertInvariants(): void {
    invariant(this.#tokens <= this.#burst + EPSILON_MS, () => `tokens ${this.#tokens} > burst`);
    let previous = Number.NEGATIVE_INFINITY;
    let sum = 0;
    this.#waiters.forEach((w) => {
      invariant(w.timeToAct >= previous, 'waiters out of order');
      previous = w.timeToAct;
      sum += w.n;
    });
    invariant(sum === this.#waitingTokens, () => `waitingTokens ${this.#waitingTokens} != ${sum}`);
    const head = this.#waiters.head;
    const needsTimer = head !== undefined && head.timeToAct !== Number.POSITIVE_INFINITY;
    invariant(needsTimer === (this.#timer !== undefined), 'timer armed iff a waiter can be served');
    if (head !== undefined && needsTimer) {
      invariant(this.#timerAt <= head.timeToAct + EPSILON_MS, 'timer later than the head waiter');
    }
  }

  // ---- internals ---------------------------------------------------------------------------

  /** Brings `tokens` up to now (never backwards) and returns now. */
  #advance(): number {
    const now = this.#clock.now();
    const last = this.#last;
    if (now <= last) return last;
    if (this.#tokens < this.#burst) {
      const tokens = this.#tokens + (now - last) * this.#perMs;
      this.#tokens = Math.min(tokens, this.#burst);
    }
    this.#last = now;
    return now;
  }

  /** When a request for `n` made now could act: after the queue, once `n` tokens accrue. */
  #timeToAct(n: number, now: number): number {
    const deficit = n - this.#tokens;
    let at = deficit <= 0 ? now : now + deficit / this.#perMs;
    const tail = this.#waiters.tail;
    if (tail !== undefined && tail.timeToAct > at) at = tail.timeToAct;
    return at;
  }

  #grant(n: number): TakeResult {
    this.#granted++;
    this.#tokensGranted += n;
    return OK;
  }

  /** Arms the shared timer for the head waiter if it is not armed early enough already. */
  #arm(now: number): void {
    const head = this.#waiters.head;
    const at = head === undefined ? Number.POSITIVE_INFINITY : head.timeToAct;
    if (at === this.#timerAt) return;
    if (this.#timer !== undefined && (at > this.#timerAt || at === Number.POSITIVE_INFINITY)) {
      // Armed earlier than needed: keep it (it re-arms when it fires), unless nothing is left.
      if (at !== Number.POSITIVE_INFINITY) return;
    }
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#timerAt = at;
    if (at === Number.POSITIVE_INFINITY) return;
    this.#timer = this.#clock.setTimer(this.#onTimer, at - now);
  }

  /** The shared timer: releases every waiter whose time has come, then re-arms. */
  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = this.#advance();
    const released: TakeWaiter[] = [];
    for (let w = this.#waiters.head; w !== undefined && w.timeToAct <= now + EPSILON_MS; ) {
      const next = w.next;
      this.#waiters.remove(w);
      this.#waitingTokens -= w.n;
      this.#grant(w.n);
      released.push(w);
      w = next;
    }
    this.#arm(now);
    for (const w of released) {
      if (w.unlisten !== undefined) w.unlisten();
      w.resolve();
    }
  };

  /** A waiting `take` left (abort): give its tokens back and, when safe, move the others up. */
  #giveBackWaiter(waiter: TakeWaiter): void {
    if (!this.#waiters.remove(waiter)) return;
    const now = this.#advance();
    this.#cancelled++;
    this.#waitingTokens -= waiter.n;
    if (now >= this.#fixedUntil) {
      this.#restore(waiter.n);
      this.#reschedule(now);
    } else {
      this.#restore(waiter.n - (this.#promised - waiter.promisedAt));
      this.#arm(now);
    }
  }

  /**
   * `reserve().cancel()`: x/time/rate's CancelAt — give back the tokens no later request has
   * been promised — counting tokens rather than converting durations at the current rate, so
   * a rate change in between cannot skew it.
   */
  #giveBackReservation(n: number, timeToAct: number, promisedAt: number): void {
    const now = this.#advance();
    if (timeToAct <= now) return; // already acted on: nothing to give back
    this.#cancelled++;
    this.#restore(n - (this.#promised - promisedAt));
  }

  #restore(tokens: number): void {
    if (tokens <= 0) return;
    this.#promised -= tokens;
    this.#tokens = Math.min(this.#burst, this.#tokens + tokens);
  }

  /**
   * Recomputes every waiter's time to act from the current token count and rate, in FIFO
   * order. A waiter whose new time passes its deadline is rejected and its tokens go back.
   */
  #reschedule(now: number): void {
    if (this.#waiters.length === 0 || now < this.#fixedUntil) {
      this.#arm(now);
      return;
    }
    let tokens = this.#tokens + this.#waitingTokens;
    let previous = now;
    const expired: TakeWaiter[] = [];
    for (let w = this.#waiters.head; w !== undefined; ) {
      const next = w.next;
      const after = tokens - w.n;
      let at = after >= 0 ? now : now - after / this.#perMs;
      if (at < previous) at = previous;
      if (at > w.deadline) {
        this.#waiters.remove(w);
        this.#waitingTokens -= w.n;
        this.#promised -= w.n;
        this.#timedOut++;
        expired.push(w);
      } else {
        tokens = after;
        w.timeToAct = at;
        previous = at;
      }
      w = next;
    }
    this.#tokens = tokens;
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    this.#arm(now);
    for (const w of expired) {
      if (w.unlisten !== undefined) w.unlisten();
      w.reject(TimeoutError.wouldExceed(w.timeToAct - now, w.timeoutMs));
    }
  }

  #checkN(n: number): void {
    if (!(Number.isInteger(n) && n >= 1)) {
      throw new RangeError(`Expected \`n\` to be an integer from 1 up, got ${describe(n)}`);
    }
    if (n > this.#burst) {
      throw new RangeError(
        `Cannot take ${n} tokens from a bucket of burst ${this.#burst}: it could never hold that many`,
      );
    }
  }
}

/** A reservation whose time is fixed when made. */
class FixedReservation implements Reservation {
  constructor(
    readonly ok: boolean,
    readonly delayMs: number,
    readonly timeToAct: number,
    readonly onCancel: (() => void) | undefined,
  ) {}

  cancel(): void {
    this.onCancel?.();
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
