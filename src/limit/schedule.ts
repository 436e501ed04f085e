/**
 * Scheduler: the waiting machinery every rate limiter shares. A limiter supplies a
 * {@link Ledger} — its arithmetic: when could `n` more act, and how to record or undo that —
 * and the scheduler does the rest: `tryTake`, `take` and `reserve`, FIFO among waiters, one
 * shared timer, abort, timeouts and rescheduling.
 *
 * A request takes its place in the ledger when it is made, at the earliest time the ledger
 * allows (its time to act), even if that is in the future. The shared timer wakes at the head
 * waiter's time and releases every waiter whose time has come, so a late timer delays callers
 * a little but never lowers the rate: the ledger, not the timer, decides who may go.
 *
 * Invariants:
 * 1. Time never runs backwards: `now` is the latest clock reading seen (the ledger's too).
 * 2. Waiters are in FIFO order with non-decreasing times to act; `waitingTokens` is the sum of
 *    their `n`. A new request is never placed before the last waiter, so `take` callers are
 *    granted in the order they called.
 * 3. The shared timer is armed exactly when the head waiter's time is finite, for a time no
 *    later than it; an idle limiter holds no timer.
 * 4. `promised` is the total taken by requests that had to wait, less what cancellations gave
 *    back; each such request records the total just after its own (`promisedAt`).
 * 5. `fixed` holds the times to act of the `reserve()` reservations still outstanding (not
 *    cancelled, time not yet come). Waiters are moved (rescheduled) only while it is empty:
 *    reservations have fixed times, and a waiter moved up past one could break the limit at
 *    that instant. Meanwhile a cancellation gives back only what no later request has been
 *    promised (golang.org/x/time/rate's CancelAt, counted in tokens).
 *
 * Diagnostics (./diagnostics.ts): a `take` that waits publishes its start as its last step, and
 * its end on a microtask queued where the waiter is settled; each behind one `hasSubscribers`
 * read (the end: one field test), so a limiter nobody observes builds no message.
 */
import type { Clock, TimerHandle } from '../clock.js';
import { TimeoutError } from '../errors.js';
import { checkSignal, listenForAbort } from '../internal/abort.js';
import { invariant } from '../internal/invariant.js';
import { checkDuration, checkOptions } from '../internal/validate.js';
import { type Linked, WaiterList } from '../internal/waiter-list.js';
import { LIMITER_WAIT, type LimiterWaitOutcome } from './diagnostics.js';
import type { RateLimiter, Reservation, TakeOptions, TakeResult } from './types.js';

/** A limiter's arithmetic. Times are clock milliseconds; `n` is already validated. */
export interface Ledger {
  /**
   * Brings the ledger's state up to `now` (which never decreases) and applies its bounds
   * (a bucket's cap); the scheduler also calls it after a batch of uncommits and commits.
   */
  advance(now: number): void;
  /**
   * The earliest time ≥ `from` at which `n` more could act, given every commitment so far.
   * `from` is at least the time the ledger was last advanced to, and at least the time of every
   * earlier waiter (requests are placed in order). `Infinity` if never.
   */
  earliest(n: number, from: number): number;
  /** Records `n` acting at `at`. */
  commit(n: number, at: number): void;
  /** Undoes (part of) a commitment of `n` at `at`, without applying bounds (see `advance`). */
  uncommit(n: number, at: number): void;
  /**
   * Gives back `n` of a commitment at `at` while later commitments stay where they are (a
   * cancellation while reservations are outstanding). Default: `uncommit`. A ledger whose
   * later commitments may depend on the count staying low (a bucket's cap) keeps what would
   * lift it past its bound.
   */
  giveBack?(n: number, at: number): void;
  /** True when the ledger holds nothing a new ledger would not (a full bucket, an empty log). */
  isIdle(): boolean;
}

/** Counters every scheduler keeps. */
export interface ScheduleStats {
  /** Requests granted (by `tryTake`, `take` and `reserve`), and the tokens they took. */
  readonly granted: number;
  readonly tokensGranted: number;
  /** `tryTake` calls refused. */
  readonly refused: number;
  /** Waits and reservations given back by abort or `cancel()`. */
  readonly cancelled: number;
  /** `take` calls refused at once, or dropped on a reschedule, for passing their `timeoutMs`. */
  readonly timedOut: number;
  /** Callers of `take` waiting now. */
  readonly waiting: number;
}

const OK: TakeResult = Object.freeze({ ok: true });
const RESOLVED: Promise<void> = Promise.resolve();
/** Slack for floating-point error when comparing a time to act with the clock (1 ns). */
export const EPSILON_MS = 1e-6;

class Waiter implements Linked<Waiter> {
  prev: Waiter | undefined = undefined;
  next: Waiter | undefined = undefined;
  list: object | undefined = undefined;
  unlisten: (() => void) | undefined = undefined;
  /** When the wait started, if that was published (`undefined`, not a number: no boxing). */
  since: number | undefined = undefined;

  constructor(
    readonly n: number,
    public at: number,
    /** Latest time the caller accepts (`Infinity`: none). */
    readonly deadline: number,
    readonly timeoutMs: number,
    readonly promisedAt: number,
    readonly resolve: () => void,
    readonly reject: (error: unknown) => void,
  ) {}
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

const schedulers = new WeakMap<object, Scheduler>();

/** The scheduler behind one of sluice's rate limiters (for `allOf`), or `undefined`. */
export function schedulerOf(limiter: object): Scheduler | undefined {
  return schedulers.get(limiter);
}

export class Scheduler {
  readonly #owner: RateLimiter;
  readonly #clock: Clock;
  readonly #ledger: Ledger;
  readonly #waiters = new WaiterList<Waiter>();
  #now: number;
  #waitingTokens = 0;
  #promised = 0;
  /** Times to act of outstanding `reserve()` reservations (pruned lazily). */
  #fixed: number[] = [];
  #timer: TimerHandle | undefined = undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #granted = 0;
  #tokensGranted = 0;
  #refused = 0;
  #cancelled = 0;
  #timedOut = 0;

  /** `owner` is the public limiter this scheduler serves, so `allOf` can find it. */
  constructor(clock: Clock, ledger: Ledger, owner: RateLimiter) {
    this.#owner = owner;
    this.#clock = clock;
    this.#ledger = ledger;
    this.#now = clock.now();
    schedulers.set(owner, this);
  }

  /** Reads the clock (never backwards), brings the ledger up to date, and returns now. */
  advance(): number {
    const now = this.#clock.now();
    if (now > this.#now) this.#now = now;
    this.#ledger.advance(this.#now);
    return this.#now;
  }

  /** Callers of `take` waiting now. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** True when nothing waits, no reservation is outstanding and the ledger is as new. */
  get idle(): boolean {
    const now = this.advance();
    return this.#waiters.length === 0 && !this.#fixedAhead(now) && this.#ledger.isIdle();
  }

  /** What `tryTake(n)` would return now, taking nothing. */
  peek(n: number): TakeResult {
    const now = this.advance();
    const at = this.#earliest(n, now);
    if (at <= now && this.#waiters.length === 0) return OK;
    return { ok: false, retryAfterMs: Math.max(0, at - now) };
  }

  /** Takes `n` now if it needs no waiting and no earlier request is still to act. */
  tryTake(n: number): TakeResult {
    const now = this.advance();
    const at = this.#earliest(n, now);
    if (at <= now && this.#waiters.length === 0) {
      this.#ledger.commit(n, now);
      return this.#grant(n);
    }
    this.#refused++;
    return { ok: false, retryAfterMs: Math.max(0, at - now) };
  }

  /** Waits for `n`; see `RateLimiter.take` for the contract. */
  take(n: number, options: TakeOptions | undefined): Promise<void> {
    let signal: AbortSignal | undefined;
    let timeoutMs = Number.POSITIVE_INFINITY;
    if (options !== undefined) {
      checkOptions('options', options);
      signal = checkSignal(options.signal);
      if (options.timeoutMs !== undefined)
        timeoutMs = checkDuration('timeoutMs', options.timeoutMs);
      if (signal?.aborted) return Promise.reject(signal.reason);
    }
    const now = this.advance();
    const at = this.#earliest(n, now);
    if (at <= now && this.#waiters.length === 0) {
      this.#ledger.commit(n, now);
      this.#grant(n);
      return RESOLVED;
    }
    const wait = at - now;
    if (wait > timeoutMs || at === Number.POSITIVE_INFINITY) {
      this.#timedOut++;
      return Promise.reject(TimeoutError.wouldExceed(wait, timeoutMs));
    }
    this.#ledger.commit(n, at);
    this.#waitingTokens += n;
    this.#promised += n;
    const promisedAt = this.#promised;
    return new Promise<void>((resolve, reject) => {
      const waiter = new Waiter(n, at, now + timeoutMs, timeoutMs, promisedAt, resolve, reject);
      this.#waiters.push(waiter);
      if (signal !== undefined) {
        waiter.unlisten = listenForAbort(signal, (reason) => {
          waiter.unlisten = undefined;
          this.#leave(waiter);
          this.#waitEnded(waiter, 'aborted');
          reject(reason);
        });
      }
      this.#arm(now);
      if (LIMITER_WAIT.hasSubscribers) {
        waiter.since = now;
        LIMITER_WAIT.publish({ phase: 'start', limiter: this.#owner, n, delayMs: wait });
      }
    });
  }

  /** Reserves `n` at the earliest time possible; see `RateLimiter.reserve`. */
  reserve(n: number): Reservation {
    const now = this.advance();
    return this.reserveAt(n, this.#earliest(n, now));
  }

  /** The earliest time ≥ `from` at which `n` could act here (for `allOf`). */
  earliestFrom(n: number, from: number): number {
    return this.#earliest(n, Math.max(this.advance(), from));
  }

  /**
   * Reserves `n` to act at `at`, which the caller got from `earliestFrom` (or a later time all
   * its limiters accept) in the same synchronous step.
   */
  reserveAt(n: number, at: number): Reservation {
    const now = this.advance();
    if (at === Number.POSITIVE_INFINITY) {
      return new FixedReservation(false, Number.POSITIVE_INFINITY, at, undefined);
    }
    this.#ledger.commit(n, at);
    this.#grant(n);
    if (at <= now && this.#waiters.length === 0)
      return new FixedReservation(true, 0, at, undefined);
    this.#promised += n;
    const promisedAt = this.#promised;
    this.#fixed.push(at);
    let cancelled = false;
    return new FixedReservation(true, at - now, at, () => {
      if (cancelled) return;
      cancelled = true;
      const current = this.advance();
      if (at < current) return; // acted on already: nothing to give back
      this.#fixed.splice(this.#fixed.indexOf(at), 1);
      this.#cancelled++;
      this.#giveBack(n, at, promisedAt);
      this.#ledger.advance(current);
    });
  }

  /**
   * Recomputes every waiter's time from the ledger (after a rate or size change), FIFO. A
   * waiter whose new time passes its deadline is rejected with a `TimeoutError` and its share
   * goes back. One that could now never be served (rate 0, or a burst below its `n`) and has no
   * deadline stays paused — no timer — until a later change lets it through, or its signal
   * aborts. Does nothing to waiters while a `reserve()` reservation is outstanding.
   */
  reschedule(): void {
    const now = this.advance();
    if (this.#waiters.length > 0 && !this.#fixedAhead(now)) {
      this.#replan(now);
      this.#ledger.advance(now);
    }
    this.#arm(now);
  }

  stats(): ScheduleStats {
    return {
      granted: this.#granted,
      tokensGranted: this.#tokensGranted,
      refused: this.#refused,
      cancelled: this.#cancelled,
      timedOut: this.#timedOut,
      waiting: this.#waiters.length,
    };
  }

  assertInvariants(): void {
    let previous = Number.NEGATIVE_INFINITY;
    let sum = 0;
    this.#waiters.forEach((w) => {
      invariant(w.at >= previous, 'waiters out of order');
      previous = w.at;
      sum += w.n;
    });
    invariant(sum === this.#waitingTokens, () => `waitingTokens ${this.#waitingTokens} != ${sum}`);
    const head = this.#waiters.head;
    const needsTimer = head !== undefined && head.at !== Number.POSITIVE_INFINITY;
    invariant(needsTimer === (this.#timer !== undefined), 'timer armed iff a waiter can be served');
    if (head !== undefined && needsTimer) {
      invariant(this.#timerAt <= head.at + EPSILON_MS, 'timer later than the head waiter');
    }
  }

  // ---- internals ---------------------------------------------------------------------------

  /** The ledger's earliest time, never before the last waiter's. */
  #earliest(n: number, now: number): number {
    const tail = this.#waiters.tail;
    return this.#ledger.earliest(n, tail === undefined ? now : Math.max(now, tail.at));
  }

  /** True while a `reserve()` reservation's time to act is still to come. */
  #fixedAhead(now: number): boolean {
    if (this.#fixed.some((at) => at <= now)) this.#fixed = this.#fixed.filter((at) => at > now);
    return this.#fixed.length > 0;
  }

  #grant(n: number): TakeResult {
    this.#granted++;
    this.#tokensGranted += n;
    return OK;
  }

  /** A waiter left (abort): give its share back and, when safe, move the others up. */
  #leave(waiter: Waiter): void {
    if (!this.#waiters.remove(waiter)) return;
    const now = this.advance();
    this.#cancelled++;
    this.#waitingTokens -= waiter.n;
    if (!this.#fixedAhead(now)) {
      this.#ledger.uncommit(waiter.n, waiter.at);
      this.#promised -= waiter.n;
      this.#replan(now);
    } else {
      this.#giveBack(waiter.n, waiter.at, waiter.promisedAt);
    }
    this.#ledger.advance(now);
    this.#arm(now);
  }

  /** Gives back the part of a request no later request has been promised. */
  #giveBack(n: number, at: number, promisedAt: number): void {
    const restore = Math.min(n, n - (this.#promised - promisedAt));
    if (restore <= 0) return;
    this.#promised -= restore;
    if (this.#ledger.giveBack !== undefined) this.#ledger.giveBack(restore, at);
    else this.#ledger.uncommit(restore, at);
  }

  /** Takes every waiter out of the ledger and puts them back in order at their new times. */
  #replan(now: number): void {
    const waiters: Waiter[] = [];
    for (let w = this.#waiters.tail; w !== undefined; w = w.prev) {
      this.#ledger.uncommit(w.n, w.at);
      waiters.push(w);
    }
    waiters.reverse();
    let previous = Number.NEGATIVE_INFINITY;
    const expired: [Waiter, number][] = [];
    for (const w of waiters) {
      const at = this.#ledger.earliest(w.n, Math.max(now, previous));
      if (at > w.deadline) {
        this.#waiters.remove(w);
        this.#waitingTokens -= w.n;
        this.#promised -= w.n;
        this.#timedOut++;
        expired.push([w, at]);
        continue;
      }
      this.#ledger.commit(w.n, at);
      w.at = previous = at;
    }
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    for (const [w, at] of expired) {
      if (w.unlisten !== undefined) w.unlisten();
      this.#waitEnded(w, 'timeout');
      // The wait as the caller sees it: from its call (deadline − timeoutMs) to its new time.
      w.reject(TimeoutError.wouldExceed(at - (w.deadline - w.timeoutMs), w.timeoutMs));
    }
  }

  /** Arms the shared timer for the head waiter unless it is armed early enough already. */
  #arm(now: number): void {
    const head = this.#waiters.head;
    const at = head === undefined ? Number.POSITIVE_INFINITY : head.at;
    if (this.#timer !== undefined) {
      // An early timer is harmless (it re-arms when it fires); keep it unless none is needed.
      if (this.#timerAt <= at && at !== Number.POSITIVE_INFINITY) return;
      this.#clock.clearTimer(this.#timer);
      this.#timer = undefined;
      this.#timerAt = Number.POSITIVE_INFINITY;
    }
    if (at === Number.POSITIVE_INFINITY) return;
    this.#timerAt = at;
    this.#timer = this.#clock.setTimer(this.#onTimer, at - now);
  }

  /** The shared timer: releases every waiter whose time has come, then re-arms. */
  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = this.advance();
    const released: Waiter[] = [];
    for (let w = this.#waiters.head; w !== undefined && w.at <= now + EPSILON_MS; ) {
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
      this.#waitEnded(w, 'ok');
      w.resolve();
    }
  };

  /**
   * A waiter left: if its start was published, queue its end. On a microtask, because this
   * runs inside a state change and a subscriber is user code.
   */
  #waitEnded(waiter: Waiter, outcome: LimiterWaitOutcome): void {
    const since = waiter.since;
    if (since === undefined) return;
    waiter.since = undefined;
    const message = {
      phase: 'end',
      limiter: this.#owner,
      n: waiter.n,
      outcome,
      waitedMs: this.#now - since,
    } as const;
    queueMicrotask(() => {
      if (LIMITER_WAIT.hasSubscribers) LIMITER_WAIT.publish(message);
    });
  }
}
