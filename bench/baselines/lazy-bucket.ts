/**
 * Baseline: a hand-written lazy-refill token bucket, the yardstick for the cost of one
 * `TokenBucket.tryTake` decision.
 *
 * Two numbers of state (`tokens` at time `last`); a decision reads the clock, refills by the time
 * elapsed (`Math.min` against the burst), compares and subtracts. Nothing else: no validation, no
 * waiters, no FIFO check, no reservations, no counters, no result object (it returns a boolean).
 * It reads the clock the way sluice's default clock does (`performance.now()` through the global
 * `performance`, on every call), so the clock's cost is on both sides of the ratio.
 */
export class LazyBucket {
  #tokens: number;
  #last: number;
  readonly #perMs: number;
  readonly #burst: number;

  /** `rate` tokens per second, at most `burst` at once; starts full. */
  constructor(rate: number, burst: number) {
    this.#perMs = rate / 1000;
    this.#burst = burst;
    this.#tokens = burst;
    this.#last = performance.now();
  }

  /** Takes one token if there is one; never waits. */
  tryTake(): boolean {
    const now = performance.now();
    const tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#perMs);
    this.#last = now;
    if (tokens < 1) {
      this.#tokens = tokens;
      return false;
    }
    this.#tokens = tokens - 1;
    return true;
  }
}
