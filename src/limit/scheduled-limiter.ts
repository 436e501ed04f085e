/**
 * ScheduledLimiter: the public surface every scheduled rate limiter shares (`tryTake`, `take`,
 * `reserve`, `peek`, `idle`, `waiting`). A subclass brings its ledger (the arithmetic) and its
 * check of `n`; the {@link Scheduler} does the waiting.
 */
import type { Clock } from '../clock.js';
import { type Ledger, Scheduler } from './schedule.js';
import type { RateLimiter, Reservation, TakeOptions, TakeResult } from './types.js';

export abstract class ScheduledLimiter implements RateLimiter {
  /** The waiting machinery (for subclasses). */
  protected readonly schedule: Scheduler;

  protected constructor(clock: Clock, ledger: Ledger) {
    this.schedule = new Scheduler(clock, ledger, this);
  }

  /** Throws a RangeError for an `n` that is not an integer from 1 up or could never be granted. */
  protected abstract checkN(n: number): void;

  /** Callers of `take` waiting now. */
  get waiting(): number {
    return this.schedule.waiting;
  }

  /** True when the limiter holds no state a new one would not: it can be forgotten. */
  get idle(): boolean {
    return this.schedule.idle;
  }

  /** What `tryTake(n)` would return now, taking nothing. */
  peek(n = 1): TakeResult {
    this.checkN(n);
    return this.schedule.peek(n);
  }

  /**
   * Takes `n` now if the limit allows it and nobody is waiting (it never jumps the queue).
   * Returns `{ ok: true }`, or `{ ok: false, retryAfterMs }`. Never waits.
   * Throws a RangeError if `n` is not an integer from 1 up or could never be granted.
   */
  tryTake(n = 1): TakeResult {
    this.checkN(n);
    return this.schedule.tryTake(n);
  }

  /**
   * Waits until `n` can be taken, then takes it.
   *
   * Resolves when the caller's turn comes: its place was fixed in FIFO order at the call, so a
   * caller is never overtaken by a later one, and a late timer costs no rate.
   *
   * Cancellation: if `signal` aborts while waiting, the promise rejects with `signal.reason`
   * untouched and its share goes back: all of it, with the callers behind it moved up — or,
   * while a `reserve()` reservation is outstanding, what no later request has been promised.
   * An already-aborted signal rejects at once and takes nothing.
   *
   * Ordering: first come, first served; `tryTake` never goes ahead of a waiting caller.
   *
   * Errors: a `TimeoutError` at once, taking nothing, if the wait would be longer than
   * `timeoutMs` (its message says how long it would have been) or could never end (rate 0);
   * a RangeError for an `n` that is not an integer from 1 up or could never be granted.
   */
  take(n = 1, options?: TakeOptions): Promise<void> {
    this.checkN(n);
    return this.schedule.take(n, options);
  }

  /**
   * Reserves `n` at the earliest time the limit allows and returns that time. The caller waits
   * `delayMs` itself, then acts — or calls `cancel()`, which gives back what no later request
   * has been promised. A reservation that could never be honoured (rate 0) has `ok: false` and
   * takes nothing. Throws a RangeError for a bad `n`.
   */
  reserve(n = 1): Reservation {
    this.checkN(n);
    return this.schedule.reserve(n);
  }

  /** Checks the scheduler's invariants; throws an `InvariantError` if one fails. */
  assertInvariants(): void {
    this.schedule.assertInvariants();
  }
}
