/**
 * Vegas: a delay-based limit, from TCP Vegas (Brakmo and Peterson, 1994), applied to requests as
 * Netflix concurrency-limits' `VegasLimit` does. It guesses how many requests wait in the
 * backend's queue from how much slower they are than with no load, and keeps that queue small:
 *
 *     queue = ceil(L · (1 − rttNoLoad / rttMs))
 *
 * where L is the estimated limit (a real number: `limit` is its floor, as Netflix returns
 * `(int) estimatedLimit`) and rttNoLoad the lowest RTT seen since the last probe. With
 * log = max(1, floor(log10(floor(L)))) (Netflix's `Log10RootIntFunction`: 1 below 100, 2 below
 * 1000, …), each sample moves L to L':
 *
 *     dropped                        →  L' = L − log
 *     inflight · 2 < L               →  L' = L        (app-limited: too little traffic to judge L)
 *     queue ≤ log        (threshold) →  L' = L + 6·log (no queue: grow fast)
 *     queue < 3·log      (alpha)     →  L' = L + log
 *     queue > 6·log      (beta)      →  L' = L − log
 *     otherwise                      →  L' = L
 *
 * and then L ← (1 − smoothing) · L + smoothing · clamp(L', minLimit, maxLimit), clamped again.
 *
 * rttNoLoad: the first sample sets it, and a faster one replaces it; such a sample moves nothing
 * else. Every probeMultiplier · L · jitter samples (jitter in [0.5, 1), drawn from `random`)
 * comes a probe: that sample's RTT becomes rttNoLoad even if it is higher, so that a backend
 * that got slower for good (a deploy, a bigger payload) is not read as queueing forever.
 *
 * Where sluice differs from Netflix:
 * - a dropped sample always lowers the limit, and its RTT (often a fast rejection) never becomes
 *   rttNoLoad; Netflix ignores a drop that sets a new minimum or falls on a probe;
 * - a sample with `rttMs` 0 (a coarse clock) says nothing about queueing: unless dropped, it
 *   moves nothing. Netflix rejects it.
 *
 * Defaults: initialLimit 20, minLimit 1, maxLimit 1000 (Netflix's `maxConcurrency`), smoothing 1
 * (no smoothing), probeMultiplier 30, random `Math.random`.
 *
 * Invariants:
 * 1. minLimit ≤ estimate ≤ maxLimit, so `limit` (its floor) is an integer in [minLimit, maxLimit].
 * 2. rttNoLoad is unset until the first sample that is not dropped and has `rttMs` > 0; from
 *    then on it is > 0.
 * 3. probeCount is the number of samples since the last probe; jitter is in [0.5, 1).
 * 4. `random` is called at construction and after each probe, nowhere else: the same samples
 *    and the same random numbers give the same limits. `now` is not read.
 *
 * @example
 * const algorithm = vegas({ initialLimit: 10, maxLimit: 100 });
 * algorithm.update({ rttMs: 10, inflight: 10, dropped: false }, 0); // 10: sets rttNoLoad
 * algorithm.update({ rttMs: 10, inflight: 10, dropped: false }, 5); // 16: no queue
 * algorithm.update({ rttMs: 50, inflight: 16, dropped: false }, 9); // 15: queue 13 > 6
 */
import { describe } from '../internal/describe.js';
import { checkCount, checkOptionalFunction } from '../internal/validate.js';
import { type Bounds, checkBounds, checkRange, clamp } from './bounds.js';
import { checkSample } from './sample.js';
import type { LimitAlgorithm, LimitBounds, Sample } from './types.js';

/** Options for {@link vegas}. */
export interface VegasOptions extends LimitBounds {
  /** How far each change moves the limit toward its target: a number in (0, 1]. Default 1. */
  readonly smoothing?: number | undefined;
  /**
   * Probe rttNoLoad every probeMultiplier · limit · jitter samples: an integer from 1 up.
   * Default 30.
   */
  readonly probeMultiplier?: number | undefined;
  /** Numbers in [0, 1) for the probe's jitter. Default `Math.random`; tests pass their own. */
  readonly random?: (() => number) | undefined;
}

const DEFAULTS: Bounds = { initialLimit: 20, minLimit: 1, maxLimit: 1000 };

/** A Vegas limit: grows while requests are as fast as with no load, shrinks when they queue. */
export function vegas(options?: VegasOptions): LimitAlgorithm {
  return new Vegas(options);
}

class Vegas implements LimitAlgorithm {
  readonly name = 'vegas';
  readonly #minLimit: number;
  readonly #maxLimit: number;
  readonly #smoothing: number;
  readonly #probeMultiplier: number;
  readonly #random: () => number;
  #estimate: number;
  #rttNoLoad: number | undefined;
  #probeCount = 0;
  #jitter: number;

  constructor(options: VegasOptions | undefined) {
    const bounds = checkBounds('vegas', options, DEFAULTS);
    this.#minLimit = bounds.minLimit;
    this.#maxLimit = bounds.maxLimit;
    this.#estimate = bounds.initialLimit;
    this.#smoothing = checkRange('vegas.smoothing', options?.smoothing ?? 1, 0, 1);
    this.#probeMultiplier = checkCount('vegas.probeMultiplier', options?.probeMultiplier ?? 30, 1);
    this.#random =
      checkOptionalFunction<() => number>('vegas.random', options?.random) ?? Math.random;
    this.#jitter = this.#drawJitter();
  }

  get limit(): number {
    return Math.floor(this.#estimate);
  }

  update(sample: Sample): number {
    checkSample('vegas', sample);
    const { rttMs, inflight, dropped } = sample;
    this.#probeCount++;
    if (dropped) return this.#moveTo(this.#estimate - log10Root(this.limit));
    if (rttMs === 0) return this.limit; // says nothing about queueing

    if (this.#probeCount >= this.#jitter * this.#probeMultiplier * this.#estimate) {
      // A probe: this RTT becomes rttNoLoad, even if higher. `random` first: if it throws,
      // nothing has changed but the count, and the next sample probes again.
      this.#jitter = this.#drawJitter();
      this.#probeCount = 0;
      this.#rttNoLoad = rttMs;
      return this.limit;
    }
    if (this.#rttNoLoad === undefined || rttMs < this.#rttNoLoad) {
      // The first RTT, or a new minimum.
      this.#rttNoLoad = rttMs;
      return this.limit;
    }
    if (inflight * 2 < this.#estimate) return this.limit; // app-limited

    const queue = Math.ceil(this.#estimate * (1 - this.#rttNoLoad / rttMs));
    const log = log10Root(this.limit);
    const threshold = log;
    const alpha = 3 * log;
    const beta = 6 * log;
    if (queue <= threshold) return this.#moveTo(this.#estimate + beta);
    if (queue < alpha) return this.#moveTo(this.#estimate + log);
    if (queue > beta) return this.#moveTo(this.#estimate - log);
    return this.limit;
  }

  /** Moves the estimate `smoothing` of the way to `target` (clamped); returns the new limit. */
  #moveTo(target: number): number {
    const bounded = clamp(target, this.#minLimit, this.#maxLimit);
    const smoothed = (1 - this.#smoothing) * this.#estimate + this.#smoothing * bounded;
    // Clamped again in case rounding puts a mix of two in-range numbers a hair outside them.
    this.#estimate = clamp(smoothed, this.#minLimit, this.#maxLimit);
    return this.limit;
  }

  /** A jitter in [0.5, 1) from `random`, which must answer a number in [0, 1). */
  #drawJitter(): number {
    const r = this.#random();
    if (typeof r !== 'number' || !(r >= 0 && r < 1)) {
      throw new RangeError(
        `Expected \`vegas.random\` to return a number in [0, 1), got ${describe(r)}`,
      );
    }
    return 0.5 + 0.5 * r;
  }
}

/** max(1, floor(log10(n))) for an integer n ≥ 1: Netflix's `Log10RootIntFunction`. */
function log10Root(n: number): number {
  return Math.max(1, Math.floor(Math.log10(n)));
}
