/**
 * allOf: one limiter that needs every one of several limiters at once — say 4 per second AND
 * 60 per minute. A request is placed, in one synchronous step, at the earliest time that every
 * limiter accepts, and recorded at that same time in each; cancelling gives every part back.
 *
 * Finding that time is a fixpoint: start from now, ask each limiter for its earliest time at
 * or after the candidate, take the latest answer as the next candidate, and stop when every
 * limiter accepts the candidate as it is. Each answer only moves forward, so it ends (or
 * reaches Infinity: some limiter could never grant).
 */
import type { Clock, TimerHandle } from '../clock.js';
import { checkClock } from '../clock.js';
import { TimeoutError } from '../errors.js';
import { checkSignal, listenForAbort } from '../internal/abort.js';
import { describe } from '../internal/describe.js';
import { checkDuration, checkOptions } from '../internal/validate.js';
import { type Scheduler, schedulerOf } from './schedule.js';
import type { RateLimiter, Reservation, TakeOptions, TakeResult } from './types.js';

const OK: TakeResult = Object.freeze({ ok: true });
const NEVER: Reservation = Object.freeze({
  ok: false,
  delayMs: Number.POSITIVE_INFINITY,
  timeToAct: Number.POSITIVE_INFINITY,
  cancel(): void {},
});

/** Options for {@link allOf}. */
export interface AllOfOptions {
  /** Where waits arm their timers. Default: the system clock (pass the limiters' clock). */
  readonly clock?: Clock | undefined;
}

/** Reservations on every limiter at one common time. */
class AllReservation implements Reservation {
  readonly ok = true;

  constructor(
    readonly parts: readonly Reservation[],
    readonly delayMs: number,
    readonly timeToAct: number,
  ) {}

  cancel(): void {
    for (const part of this.parts) part.cancel();
  }
}

/**
 * A limiter that grants a request only when every one of `limiters` does, recording it in each
 * at the same time.
 *
 * - `tryTake(n)` takes from all of them or from none.
 * - `take(n)` waits for the earliest time all of them accept; if that would pass `timeoutMs` it
 *   takes nothing and rejects at once with a `TimeoutError`. On abort every part is given back.
 * - Requests through the composite keep their order.
 *
 * The limiters must be sluice's own (`TokenBucket`, `Pacer`, `WindowLimiter`, or another
 * `allOf`'s parts), on one clock. Each waiting `take` arms one timer through `clock`.
 * For a concurrency limit as well (at most 10 in flight), use `limited()` with a `Semaphore`.
 *
 * @example
 * ```ts
 * const api = allOf([
 *   new TokenBucket({ rate: 4, burst: 4 }),
 *   new WindowLimiter({ limit: 60, windowMs: 60_000 }),
 * ]);
 * await api.take();
 * ```
 */
export function allOf(limiters: readonly RateLimiter[], options: AllOfOptions = {}): RateLimiter {
  if (!Array.isArray(limiters) || limiters.length === 0) {
    throw new RangeError(
      `Expected \`limiters\` to be a non-empty array, got ${describe(limiters)}`,
    );
  }
  const schedulers: Scheduler[] = [];
  for (let i = 0; i < limiters.length; i++) {
    const limiter = limiters[i] as unknown;
    const scheduler =
      typeof limiter === 'object' && limiter !== null ? schedulerOf(limiter) : undefined;
    if (scheduler === undefined) {
      throw new TypeError(
        `Expected \`limiters[${i}]\` to be a sluice rate limiter (TokenBucket, Pacer, WindowLimiter), got ${describe(limiter)}`,
      );
    }
    schedulers.push(scheduler);
  }
  checkOptions('options', options);
  return new AllOf([...limiters], schedulers, checkClock(options.clock));
}

class AllOf implements RateLimiter {
  constructor(
    readonly limiters: readonly RateLimiter[],
    readonly schedulers: readonly Scheduler[],
    readonly clock: Clock,
  ) {}

  get idle(): boolean {
    return this.limiters.every((l) => l.idle);
  }

  peek(n = 1): TakeResult {
    let ok = true;
    let longest = 0;
    for (const l of this.limiters) {
      const r = l.peek(n); // also validates n for each limiter
      if (!r.ok) {
        ok = false;
        longest = Math.max(longest, r.retryAfterMs);
      }
    }
    if (ok) return OK;
    const now = this.#now();
    return { ok: false, retryAfterMs: Math.max(longest, this.#commonTime(n, now) - now) };
  }

  tryTake(n = 1): TakeResult {
    const check = this.peek(n);
    if (!check.ok) return check;
    for (const l of this.limiters) l.tryTake(n); // each succeeds: peek said so, synchronously
    return OK;
  }

  reserve(n = 1): Reservation {
    for (const l of this.limiters) l.peek(n); // validates n everywhere before taking anything
    const now = this.#now();
    const at = this.#commonTime(n, now);
    if (at === Number.POSITIVE_INFINITY) return NEVER;
    const parts = this.schedulers.map((s) => s.reserveAt(n, at));
    return new AllReservation(parts, at - now, at);
  }

  take(n = 1, options?: TakeOptions): Promise<void> {
    checkOptions('options', options);
    const signal = checkSignal(options?.signal);
    const timeoutMs =
      options?.timeoutMs === undefined ? Infinity : checkDuration('timeoutMs', options.timeoutMs);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.tryTake(n).ok) return Promise.resolve();
    const now = this.#now();
    const at = this.#commonTime(n, now);
    if (at - now > timeoutMs || at === Number.POSITIVE_INFINITY) {
      return Promise.reject(TimeoutError.wouldExceed(at - now, timeoutMs));
    }
    const reservation = this.reserve(n);
    return new Promise<void>((resolve, reject) => {
      let unlisten: (() => void) | undefined;
      const timer: TimerHandle = this.clock.setTimer(() => {
        unlisten?.();
        resolve();
      }, reservation.delayMs);
      if (signal !== undefined) {
        unlisten = listenForAbort(signal, (reason) => {
          this.clock.clearTimer(timer);
          reservation.cancel();
          reject(reason);
        });
      }
    });
  }

  #now(): number {
    let now = Number.NEGATIVE_INFINITY;
    for (const s of this.schedulers) now = Math.max(now, s.advance());
    return now;
  }

  /** The earliest time ≥ now that every limiter accepts for `n` (the fixpoint above). */
  #commonTime(n: number, now: number): number {
    let at = now;
    for (;;) {
      let next = at;
      for (const s of this.schedulers) next = Math.max(next, s.earliestFrom(n, at));
      if (next === at || next === Number.POSITIVE_INFINITY) return next;
      at = next;
    }
  }
}
