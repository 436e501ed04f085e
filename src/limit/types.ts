/**
 * The contract every sluice rate limiter follows, so that composite limits, keyed limits and
 * the `limited` wrapper can use any of them.
 */

/** The outcome of `tryTake`. */
export type TakeResult =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /**
       * How long until the same request could succeed if nothing else happened in between
       * (`Infinity` if it never could at the current rate).
       */
      readonly retryAfterMs: number;
    };

/** Options for `take`. */
export interface TakeOptions {
  /** Abort the wait: the call rejects with `signal.reason` and its tokens go back. */
  readonly signal?: AbortSignal | undefined;
  /**
   * The longest the caller will wait, in milliseconds. If the wait would be longer, `take`
   * rejects at once with a `TimeoutError` that says how long it would have been, and takes
   * nothing. Default: no limit.
   */
  readonly timeoutMs?: number | undefined;
}

/**
 * A place in a limiter's schedule, made by `reserve`. The caller waits `delayMs` and then acts,
 * or calls `cancel()` to give the reservation back.
 */
export interface Reservation {
  /** False when the request can never be granted (e.g. rate 0 and not enough tokens left). */
  readonly ok: boolean;
  /** How long to wait from the moment of reserving (0: act now; `Infinity` when not ok). */
  readonly delayMs: number;
  /** The clock time at which the caller may act. */
  readonly timeToAct: number;
  /**
   * Gives the reservation back: returns the tokens that no later reservation has been promised.
   * Harmless once the time to act has passed (then nothing is returned) and when called twice.
   */
  cancel(): void;
}

/** What every rate limiter offers. */
export interface RateLimiter {
  /** What `tryTake(n)` would return now, taking nothing. */
  peek(n?: number): TakeResult;
  /** True when the limiter holds no state a new one would not (so a keyed map may drop it). */
  readonly idle: boolean;
  /** Takes `n` now if that needs no waiting and nobody is waiting already. Never waits. */
  tryTake(n?: number): TakeResult;
  /** Waits until `n` can be taken, first come, first served. */
  take(n?: number, options?: TakeOptions): Promise<void>;
  /** Reserves `n` at the earliest time possible and says how long to wait for it. */
  reserve(n?: number): Reservation;
}
