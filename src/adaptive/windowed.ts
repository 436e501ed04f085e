/**
 * Windowed: feeds another algorithm one sample per window instead of one per request, as Netflix
 * concurrency-limits' `WindowedLimit` does. A single request's RTT is noisy; the mean (or a
 * percentile) of a window's is not, and the inner algorithm then moves at most once per window.
 *
 * Samples collect in the current window, which starts at the `now` of its first sample. When a
 * sample arrives with at least `minSamples` in the window (itself included) and
 * `now − start ≥ windowMs`, the window closes and the inner algorithm gets one sample:
 *
 *     rttMs     the mean of the window's RTTs, or their percentile p (nearest rank: the
 *               ceil(n·p)-th smallest of n)
 *     inflight  the largest `inflight` in the window
 *     dropped   true if any sample in the window was dropped
 *
 * Dropped samples count like the others (toward `minSamples`, and their RTT in the aggregate).
 * A window that is short of `minSamples` stays open until it has them, however long that takes.
 *
 * Defaults: windowMs 1000 and minSamples 10 (Netflix: minWindowTime = maxWindowTime = 1 s,
 * windowSize 10), aggregate 'mean' (Netflix's `AverageSampleWindowFactory`; a percentile is its
 * `PercentileSampleWindowFactory`).
 *
 * Where sluice differs from Netflix: one `windowMs` instead of a window of twice the minimum RTT
 * bounded by minWindowTime and maxWindowTime (equal by default); no `minRttThreshold` (samples
 * under 100 µs, which Netflix discards); a window short of samples waits for more, where the
 * latest Netflix discards it; the percentile index is ceil(n·p) − 1, where Netflix's
 * round(n·p) − 1 fails for n·p < 0.5.
 *
 * Invariants:
 * 1. `count` is the number of samples in the open window; `startedAt` is set exactly when
 *    `count` > 0; with a percentile, `rtts` holds the window's `count` RTTs.
 * 2. The inner algorithm gets one sample per closed window, made from at least `minSamples`
 *    samples; the window is emptied before it is called.
 * 3. `limit` is the inner algorithm's.
 *
 * @example
 * const algorithm = windowed(vegas(), { windowMs: 500, aggregate: { percentile: 0.9 } });
 * algorithm.name; // 'windowed(vegas)'
 */
import { describe } from '../internal/describe.js';
import { checkCount, checkOneOf, checkOptions } from '../internal/validate.js';
import { checkAlgorithm, checkRange } from './bounds.js';
import { checkSample } from './sample.js';
import type { LimitAlgorithm, Sample } from './types.js';

/** Options for {@link windowed}. */
export interface WindowedOptions {
  /** A window lasts at least this long: milliseconds, a finite number from 0 up. Default 1000. */
  readonly windowMs?: number | undefined;
  /** A window holds at least this many samples: an integer from 1 up. Default 10. */
  readonly minSamples?: number | undefined;
  /**
   * How a window's RTTs become one: `'mean'` (the default) or `{ percentile: p }` with p in
   * (0, 1], e.g. `{ percentile: 0.9 }` for the 90th percentile.
   */
  readonly aggregate?: 'mean' | { readonly percentile: number } | undefined;
}

/** `algorithm`, fed one aggregated sample per window. */
export function windowed(algorithm: LimitAlgorithm, options?: WindowedOptions): LimitAlgorithm {
  return new Windowed(algorithm, options);
}

class Windowed implements LimitAlgorithm {
  readonly name: string;
  readonly #inner: LimitAlgorithm;
  readonly #windowMs: number;
  readonly #minSamples: number;
  /** The percentile in (0, 1], or undefined for the mean. */
  readonly #percentile: number | undefined;
  #count = 0;
  #startedAt: number | undefined;
  #rttSum = 0;
  #rtts: number[] = [];
  #maxInflight = 0;
  #dropped = false;

  constructor(algorithm: LimitAlgorithm, options: WindowedOptions | undefined) {
    this.#inner = checkAlgorithm('windowed.algorithm', algorithm);
    checkOptions('windowed', options);
    this.#windowMs = checkWindowMs(options?.windowMs ?? 1000);
    this.#minSamples = checkCount('windowed.minSamples', options?.minSamples ?? 10, 1);
    this.#percentile = checkAggregate(options?.aggregate ?? 'mean');
    this.name = `windowed(${algorithm.name})`;
  }

  get limit(): number {
    return this.#inner.limit;
  }

  update(sample: Sample, now: number): number {
    checkSample(this.name, sample);
    if (typeof now !== 'number' || !Number.isFinite(now)) {
      throw new RangeError(
        `Expected \`now\` given to \`${this.name}.update\` to be a finite number, got ${describe(now)}`,
      );
    }
    this.#startedAt ??= now;
    this.#count++;
    this.#rttSum += sample.rttMs;
    if (this.#percentile !== undefined) this.#rtts.push(sample.rttMs);
    this.#maxInflight = Math.max(this.#maxInflight, sample.inflight);
    this.#dropped ||= sample.dropped;

    if (this.#count < this.#minSamples || now - this.#startedAt < this.#windowMs) {
      return this.#inner.limit;
    }
    const aggregate: Sample = {
      rttMs: this.#aggregateRtt(),
      inflight: this.#maxInflight,
      dropped: this.#dropped,
    };
    this.#reset();
    return this.#inner.update(aggregate, now);
  }

  #aggregateRtt(): number {
    if (this.#percentile === undefined) return this.#rttSum / this.#count;
    const sorted = this.#rtts.sort((a, b) => a - b);
    return sorted[Math.ceil(sorted.length * this.#percentile) - 1] as number;
  }

  #reset(): void {
    this.#count = 0;
    this.#startedAt = undefined;
    this.#rttSum = 0;
    this.#rtts = [];
    this.#maxInflight = 0;
    this.#dropped = false;
  }
}

/** A finite number of milliseconds from 0 up (0: close as soon as `minSamples` are in). */
function checkWindowMs(value: unknown): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  throw new RangeError(
    `Expected \`windowed.windowMs\` to be a finite number of milliseconds from 0 up, got ${describe(value)}`,
  );
}

/** `'mean'` → undefined; `{ percentile: p }` → p, checked to be in (0, 1]. */
function checkAggregate(value: unknown): number | undefined {
  if (typeof value === 'string') {
    checkOneOf('windowed.aggregate', value, ['mean']);
    return undefined;
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const { percentile } = value as { percentile?: unknown };
    return checkRange('windowed.aggregate.percentile', percentile, 0, 1);
  }
  throw new TypeError(
    `Expected \`windowed.aggregate\` to be 'mean' or { percentile } with percentile in (0, 1], got ${describe(value)}`,
  );
}
