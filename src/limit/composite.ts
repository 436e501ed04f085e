/**
 * allOf: one limiter that needs every one of several limiters at once — say 4 per second AND
 * 60 per minute. A request reserves on all of them in one synchronous step and may act when
 * the last of them allows; cancelling gives every reservation back.
 */
import type { Clock, TimerHandle } from '../clock.js';
import { checkClock } from '../clock.js';
import { TimeoutError } from '../errors.js';
import { checkSignal, listenForAbort } from '../internal/abort.js';
import { describe } from '../internal/describe.js';
import { checkDuration, checkOptions } from '../internal/validate.js';
import type { RateLimiter, Reservation, TakeOptions, TakeResult } from './types.js';

const OK: TakeResult = Object.freeze({ ok: true });

/** Options for {@link allOf}. */
export interface AllOfOptions {
  /** Where waits arm their timers. Default: the system clock (use the limiters' clock). */
  readonly clock?: Clock | undefined;
}

/** Reservations on every limiter, acting when the last allows. */
class AllReservation implements Reservation {
  constructor(
    readonly parts: readonly Reservation[],
    readonly ok: boolean,
    readonly delayMs: number,
    readonly timeToAct: number,
  ) {}

  cancel(): void {
    for (const part of this.parts) part.cancel();
  }
}

/**
 * A limiter that grants a request only when every one of `limiters` does.
 *
 * - `tryTake(n)` takes from all of them or from none.
 * - `take(n)` reserves on all of them at once and waits for the longest of the waits; if that
 *   would pass `timeoutMs` it takes nothing and rejects at once with a `TimeoutError`. On
 *   abort, every reservation is cancelled (each gives back what no later request was promised).
 * - Requests through the composite keep their order: each limiter places them in order, so the
 *   longest wait never decreases from one request to the next.
 *
 * Each waiting `take` arms one timer through `clock`; pass the limiters' clock in tests.
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
  for (let i = 0; i < limiters.length; i++) {
    const l = limiters[i] as RateLimiter | undefined;
    if (typeof l?.reserve !== 'function' || typeof l.tryTake !== 'function') {
      throw new TypeError(`Expected \`limiters[${i}]\` to be a rate limiter, got ${describe(l)}`);
    }
  }
  checkOptions('options', options);
  return new AllOf([...limiters], checkClock(options.clock));
}

class AllOf implements RateLimiter {
  constructor(
    readonly limiters: readonly RateLimiter[],
    readonly clock: Clock,
  ) {}

  get idle(): boolean {
    return this.limiters.every((l) => l.idle);
  }

  peek(n = 1): TakeResult {
    let ok = true;
    let longest = 0;
    for (const l of this.limiters) {
      const r = l.peek(n);
      if (!r.ok) {
        ok = false;
        longest = Math.max(longest, r.retryAfterMs);
      }
    }
    return ok ? OK : { ok: false, retryAfterMs: longest };
  }

  tryTake(n = 1): TakeResult {
    const check = this.peek(n);
    if (!check.ok) return check;
    for (const l of this.limiters) l.tryTake(n); // each succeeds: peek said so, synchronously
    return OK;
  }

  reserve(n = 1): Reservation {
    const parts = this.limiters.map((l) => l.reserve(n));
    let delayMs = 0;
    let timeToAct = Number.NEGATIVE_INFINITY;
    let ok = true;
    for (const part of parts) {
      if (!part.ok) ok = false;
      if (part.delayMs > delayMs) delayMs = part.delayMs;
      if (part.timeToAct > timeToAct) timeToAct = part.timeToAct;
    }
    if (!ok) {
      for (const part of parts) part.cancel();
      return new AllReservation([], false, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY);
    }
    return new AllReservation(parts, true, delayMs, timeToAct);
  }

  take(n = 1, options?: TakeOptions): Promise<void> {
    checkOptions('options', options);
    const signal = checkSignal(options?.signal);
    const timeoutMs =
      options?.timeoutMs === undefined ? Infinity : checkDuration('timeoutMs', options.timeoutMs);
    if (signal?.aborted) return Promise.reject(signal.reason);
    const reservation = this.reserve(n);
    if (!reservation.ok || reservation.delayMs > timeoutMs) {
      reservation.cancel();
      return Promise.reject(TimeoutError.wouldExceed(reservation.delayMs, timeoutMs));
    }
    if (reservation.delayMs === 0) return Promise.resolve();
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
}
