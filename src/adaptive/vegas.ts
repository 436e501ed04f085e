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
 * 1000, …), alpha = 3·log and beta = 6·log unless given, each sample moves L to L':
 *
 *     dropped                        →  L' = L − log
 *     inflight · 2 < L               →  L' = L        (app-limited: too little traffic to judge L)
 *     queue ≤ log        (threshold) →  L' = L + beta (no queue: grow fast)
 *     queue < alpha                  →  L' = L + log
 *     queue > beta                   →  L' = L − log
 *     otherwise                      →  L' = L
 *
 * and then L ← (1 − smoothing) · L + smoothing · clamp(L', minLimit, maxLimit), clamped again.
 *
 * **alpha and beta** are the queue Vegas keeps: a limit of about N + alpha..beta for a backend
 * that serves N at once. Netflix's 3 and 6 (below a limit of 100) are 75–150 % over N = 4 and
 * 5–10 % over N = 64. For a queue in proportion to the limit, pass functions, as Netflix's
 * `alpha(Function)` and `beta(Function)` allow: `alpha: (l) => Math.max(1, Math.floor(l / 10))`
 * and `beta: (l) => Math.max(1, Math.floor(l / 5))` keep 10–20 % (Netflix's own class comment
 * describes alpha = max(3, 10 % of the limit) and beta = max(6, 20 %); its code uses log10).
 * Small constants do not work across sizes: the queue is read from RTTs, and an RTT noise of a
 * few per cent reads as a queue of a few requests at a limit of 64.
 *
 * **rttNoLoad and the probe.** The first sample sets rttNoLoad, and a faster one replaces it;
 * such a sample moves nothing else. Every probeMultiplier · L · jitter samples (jitter in
 * [0.5, 1), drawn from `random`) a probe measures it again, so that a backend that got slower
 * for good (a deploy, a bigger payload) is not read as queueing forever.
 *
 * Netflix's probe (`probe: 'netflix'`) takes the RTT of whatever sample comes next. When the
 * client keeps the backend busy, that sample waited in the queue Vegas keeps, so the probe calls
 * a queued RTT "no load": the queue turns invisible and the limit climbs by alpha..beta at every
 * probe. The default, `probe: 'pinned'`, measures at a load that cannot queue by itself, as
 * TCP BBR's ProbeRTT and Envoy's minRTT measurement do: when the probe is due, the limit drops
 * to `minLimit` until a sample that started with at most `minLimit` in flight arrives; that
 * sample's RTT becomes rttNoLoad and the limit returns to the estimate. Samples of requests
 * started before the pin move nothing; a drop still lowers the estimate. A due probe whose
 * sample already qualifies (a quiet period) takes it without pinning.
 *
 * Measured on test/support/backend.ts (N workers, ±10 % service jitter, unlimited demand,
 * workers halved at mid-run; "mean" is the mean limit over the second half of each phase;
 * N = 4 → 2, 16 → 8, 64 → 32):
 *
 *     one update per sample, defaults     N = 4        N = 16       N = 64
 *       'netflix'  mean limit, p99        14.3, 7.5·S  21.5, 2.5·S  55.6, 1.3·S
 *                  after halving          15.2         13.8         35.3
 *       'pinned'   mean limit, p99         7.8, 3.3·S  20.7, 2.3·S  53.7, 1.2·S
 *                  after halving           6.7         12.7         34.0
 *     windowed(2·S), alpha 10 %, beta 20 %, smoothing 0.5, initialLimit 2
 *       'netflix'  mean limit              4.8          21.4         68.0
 *                  after halving           3.4          17.8         72.0   (never backs off)
 *       'pinned'   mean limit              4.7          18.7         68.0
 *                  after halving           2.7           8.8         38.0
 *
 * With Netflix's probe the limit did not follow the halving at 16 and 64 workers: the probe
 * adopted RTTs queued behind the halved workers. Pinned, it settles within 25 % of N before and
 * after (test/adaptive/convergence.test.ts).
 *
 * What pinning costs: the throughput of the pinned period. Windowed as above, a probe comes every
 * 30 · L · jitter windows, and the served rate was 98.2 %, 99.5 % and 100 % of capacity at N = 4,
 * 16, 64. Updated per sample, a probe comes every 15–30 round trips and costs one or two: at
 * N = 64, 71.6 % of capacity against 80.1 % with Netflix's probe (both under-use it: an RTT noise
 * of 10 % reads as a queue of several requests there). Raise `probeMultiplier` or use
 * `windowed()`. What it cannot do: measure below `minLimit`; if the backend queues at
 * `minLimit` (it serves fewer at once), rttNoLoad includes that queue.
 *
 * Start at or below the backend's capacity: the first RTT is rttNoLoad until a faster one or the
 * first probe, and a first sample that queued (initialLimit 20 against 4 workers) hides a queue
 * of that size until then.
 *
 * Where sluice differs from Netflix:
 * - the pinned probe (above) is the default;
 * - a dropped sample always lowers the limit, and its RTT (often a fast rejection) never becomes
 *   rttNoLoad; Netflix ignores a drop that sets a new minimum or falls on a probe;
 * - a sample with `rttMs` 0 (a coarse clock) says nothing about queueing: unless dropped, it
 *   moves nothing. Netflix rejects it.
 *
 * Defaults: initialLimit 20, minLimit 1, maxLimit 1000 (Netflix's `maxConcurrency`), smoothing 1
 * (no smoothing), probeMultiplier 30, alpha 3·log, beta 6·log, probe 'pinned', random
 * `Math.random`.
 *
 * Invariants:
 * 1. minLimit ≤ estimate ≤ maxLimit; `limit` is minLimit while pinned, else the estimate's
 *    floor: an integer in [minLimit, maxLimit].
 * 2. rttNoLoad is unset until the first sample that is not dropped and has `rttMs` > 0; from
 *    then on it is > 0.
 * 3. probeCount is the number of samples since the last probe; jitter is in [0.5, 1).
 * 4. pinned only with `probe: 'pinned'`, and only while a probe is due and no sample that
 *    started with at most minLimit in flight has come.
 * 5. `random` is called at construction and after each probe, nowhere else; alpha and beta
 *    functions only to judge a queue. The same samples and the same random numbers give the
 *    same limits. `now` is not read.
 *
 * @example
 * const algorithm = vegas({ initialLimit: 10, maxLimit: 100 });
 * algorithm.update({ rttMs: 10, inflight: 10, dropped: false }, 0); // 10: sets rttNoLoad
 * algorithm.update({ rttMs: 10, inflight: 10, dropped: false }, 5); // 16: no queue
 * algorithm.update({ rttMs: 50, inflight: 16, dropped: false }, 9); // 15: queue 13 > 6
 */
import { describe } from '../internal/describe.js';
import { checkCount, checkOneOf, checkOptionalFunction } from '../internal/validate.js';
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
  /**
   * A queue shorter than alpha grows the limit by log: an integer from 0 up, or a function of
   * the limit answering a number from 0 up (Netflix's `alpha(int)` and `alpha(Function)`).
   * Default `(limit) => 3 · log`.
   */
  readonly alpha?: number | ((limit: number) => number) | undefined;
  /**
   * A queue longer than beta shrinks the limit by log, and a queue of at most log grows it by
   * beta: an integer from 0 up (from `alpha` up if both are integers), or a function of the
   * limit as for `alpha`. Default `(limit) => 6 · log`.
   */
  readonly beta?: number | ((limit: number) => number) | undefined;
  /**
   * How rttNoLoad is probed: `'pinned'` (the default: the limit drops to `minLimit` until a
   * request that started with at most `minLimit` in flight ends, and its RTT is the new
   * rttNoLoad) or `'netflix'` (the next sample's RTT, whatever the load it ran under: Netflix's
   * `VegasLimit`).
   */
  readonly probe?: 'pinned' | 'netflix' | undefined;
}

const DEFAULTS: Bounds = { initialLimit: 20, minLimit: 1, maxLimit: 1000 };
const PROBES = ['pinned', 'netflix'] as const;
/** alpha or beta: a constant, or a function of the limit. */
type Threshold = number | ((limit: number) => number);

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
  readonly #alpha: Threshold | undefined;
  readonly #beta: Threshold | undefined;
  readonly #pinnedProbe: boolean;
  #estimate: number;
  #rttNoLoad: number | undefined;
  #probeCount = 0;
  #jitter: number;
  /** A pinned probe is waiting for its sample: the limit is minLimit meanwhile. */
  #pinned = false;

  constructor(options: VegasOptions | undefined) {
    const bounds = checkBounds('vegas', options, DEFAULTS);
    this.#minLimit = bounds.minLimit;
    this.#maxLimit = bounds.maxLimit;
    this.#estimate = bounds.initialLimit;
    this.#smoothing = checkRange('vegas.smoothing', options?.smoothing ?? 1, 0, 1);
    this.#probeMultiplier = checkCount('vegas.probeMultiplier', options?.probeMultiplier ?? 30, 1);
    this.#random =
      checkOptionalFunction<() => number>('vegas.random', options?.random) ?? Math.random;
    this.#alpha = checkThreshold('vegas.alpha', options?.alpha);
    this.#beta = checkThreshold('vegas.beta', options?.beta);
    if (
      typeof this.#alpha === 'number' &&
      typeof this.#beta === 'number' &&
      this.#beta < this.#alpha
    ) {
      throw new RangeError(
        `Expected \`vegas.beta\` (${this.#beta}) to be at least \`vegas.alpha\` (${this.#alpha})`,
      );
    }
    this.#pinnedProbe = checkOneOf('vegas.probe', options?.probe ?? 'pinned', PROBES) === 'pinned';
    this.#jitter = this.#drawJitter();
  }

  get limit(): number {
    return this.#pinned ? this.#minLimit : Math.floor(this.#estimate);
  }

  update(sample: Sample): number {
    checkSample('vegas', sample);
    const { rttMs, inflight, dropped } = sample;
    this.#probeCount++;
    if (dropped) return this.#moveTo(this.#estimate - log10Root(Math.floor(this.#estimate)));
    if (rttMs === 0) return this.limit; // says nothing about queueing

    if (this.#pinned || this.#probeCount >= this.#jitter * this.#probeMultiplier * this.#estimate) {
      if (this.#pinnedProbe && inflight > this.#minLimit) {
        // Not a no-load sample: pin the limit (or keep it pinned) until one comes. This one
        // started before the pin and tells nothing new: it moves nothing.
        this.#pinned = true;
        return this.limit;
      }
      // A probe: this RTT becomes rttNoLoad, even if higher. `random` first: if it throws,
      // nothing has changed but the count, and the next sample probes again.
      this.#jitter = this.#drawJitter();
      this.#probeCount = 0;
      this.#rttNoLoad = rttMs;
      this.#pinned = false;
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
    const alpha = this.#threshold('vegas.alpha', this.#alpha, 3 * log);
    const beta = this.#threshold('vegas.beta', this.#beta, 6 * log);
    if (queue <= threshold) return this.#moveTo(this.#estimate + beta);
    if (queue < alpha) return this.#moveTo(this.#estimate + log);
    if (queue > beta) return this.#moveTo(this.#estimate - log);
    return this.limit;
  }

  /** alpha or beta at the current limit: the constant, the function's answer, or `fallback`. */
  #threshold(name: string, value: Threshold | undefined, fallback: number): number {
    if (value === undefined) return fallback;
    if (typeof value === 'number') return value;
    const answer = value(this.limit);
    if (typeof answer === 'number' && answer >= 0 && Number.isFinite(answer)) return answer;
    throw new RangeError(
      `Expected \`${name}\` to return a finite number from 0 up, got ${describe(answer)}`,
    );
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

/** An integer from 0 up, a function, or undefined. */
function checkThreshold(name: string, value: unknown): Threshold | undefined {
  if (value === undefined || typeof value === 'function') return value as Threshold | undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  throw new RangeError(
    `Expected \`${name}\` to be an integer from 0 up or a function of the limit, got ${describe(value)}`,
  );
}

/** max(1, floor(log10(n))) for an integer n ≥ 1: Netflix's `Log10RootIntFunction`. */
function log10Root(n: number): number {
  return Math.max(1, Math.floor(Math.log10(n)));
}
