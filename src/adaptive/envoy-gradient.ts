/**
 * Envoy's gradient controller: the adaptive concurrency filter's algorithm
 * (`source/extensions/filters/http/adaptive_concurrency/controller/gradient_controller.cc`,
 * configuration `GradientControllerConfig`). Two kinds of window, never open at once:
 *
 * - **minRTT measurement.** The limit is pinned at `minConcurrency`. Samples of requests that
 *   started after the measurement began collect until there are `minRttRequestCount`; their
 *   `percentile` becomes minRTT and the limit returns to what it was. The next
 *   measurement starts `minRttCalcIntervalMs` + jitter later, jitter being a whole number of
 *   milliseconds drawn uniformly from [0, ceil(minRttCalcIntervalMs · jitter)) with `random`.
 *   A measurement also starts at once when five sample windows in a row find the limit at
 *   minLimit and leave it there (Envoy: "might be indicative of an inaccurate minRTT
 *   measurement"). The algorithm
 *   starts inside a measurement, as Envoy's controller does.
 * - **Sample windows** of `sampleIntervalMs`, back to back from the end of a measurement. When
 *   one ends with samples in it, their `percentile` is sampleRTT and
 *
 *       gradient = clamp(minRTT · (1 + minRttBuffer) / sampleRTT, 0.5, 2)     (2 when sampleRTT = 0)
 *       scaled   = limit · gradient
 *       limit'   = floor(scaled + sqrt(scaled))
 *
 *   clamped to [minLimit, maxLimit]. sqrt(scaled) is Envoy's burst headroom: its docs say "the
 *   square-root of the concurrency limit"; its code takes the root of the scaled limit, as here.
 *   An empty window changes nothing.
 *
 * Feed it one sample per request: it aggregates inside, because the measurement counts
 * requests and drops those that started before it. Do not wrap it in `windowed()`. Time is the
 * `now` given to `update` (windows and measurements end, in order, when a sample arrives at or
 * after their end: a window is [start, end)); a sample's start is `now − rttMs`.
 *
 * The percentile is the nearest rank: the ceil(n · p)-th smallest of n (as `windowed()`; Envoy
 * reads an approximate histogram, circllhist). Percentages of Envoy's configuration are fractions here
 * (`jitter: 0.15` for 15 %).
 *
 * Drops: ignored, neither aggregated nor counted. Envoy samples every request that completed a
 * response and none that was reset; a rejection's RTT measures the rejection and a timeout's the
 * timeout, not the service, and both would pull sampleRTT the wrong way.
 *
 * Defaults, and Envoy's:
 *
 *     minRttCalcIntervalMs  60 000   Envoy: required (its example uses 60 s)
 *     sampleIntervalMs      100      concurrency_update_interval; Envoy: required (example 0.1 s)
 *     minRttRequestCount    50       request_count
 *     jitter                0.15     in [0, 1]
 *     minConcurrency        3        the limit during a measurement
 *     minRttBuffer          0.25     in [0, 1]; Envoy's buffer
 *     percentile            0.5      in (0, 1]; sample_aggregate_percentile
 *     minLimit              minConcurrency   min_concurrency_limit, which defaults so in Envoy
 *     maxLimit              1000     max_concurrency_limit
 *     initialLimit          minConcurrency   Envoy starts at min_concurrency; this is the
 *                                            limit restored after the first measurement
 *     random                Math.random
 *
 * Where sluice differs: Envoy's newer mode in which a separately configured
 * min_concurrency_limit disables the pinning is not implemented (the limit is always pinned at
 * minConcurrency, which must lie in [minLimit, maxLimit]); there is no fixed minRTT option.
 *
 * Invariants:
 * 1. `limit` is an integer in [minLimit, maxLimit]; while measuring it is minConcurrency.
 * 2. Measuring ⇔ `restore` (the limit to go back to) is defined. `rtts` holds the current
 *    window's samples (a measurement's, or a sample window's), none from a request that started
 *    before `epoch`, the start of the latest measurement (−Infinity for the first one, which
 *    starts before any time is known).
 * 3. Not measuring ⇒ `minRtt`, `windowEndsAt` and `measureAt` are finite; `windowEndsAt` is the
 *    end of the open sample window and `measureAt` the start of the next measurement.
 * 4. `atMinimum` (< 5 after every call) counts the latest sample windows in a row that found
 *    and left the limit at minLimit.
 * 5. The same samples, times and `random` values give the same limits.
 *
 * @example
 * const algorithm = envoyGradient({ minRttRequestCount: 2, initialLimit: 10 });
 * algorithm.limit; // 3: measuring minRTT
 * algorithm.update({ rttMs: 10, inflight: 1, dropped: false }, 10); // 3
 * algorithm.update({ rttMs: 12, inflight: 1, dropped: false }, 22); // 10: minRTT = 10
 */
import { describe } from '../internal/describe.js';
import { checkCount, checkOptionalFunction, checkPositive } from '../internal/validate.js';
import { checkBounds, checkRange, clamp } from './bounds.js';
import { checkSample } from './sample.js';
import type { LimitAlgorithm, LimitBounds } from './types.js';

/** Options for {@link envoyGradient}. */
export interface EnvoyGradientOptions extends LimitBounds {
  /** Time between minRTT measurements, before jitter: milliseconds above 0. Default 60 000. */
  readonly minRttCalcIntervalMs?: number | undefined;
  /** Length of a sample window (one limit update each): milliseconds above 0. Default 100. */
  readonly sampleIntervalMs?: number | undefined;
  /** Samples a minRTT measurement aggregates: an integer from 1 up. Default 50. */
  readonly minRttRequestCount?: number | undefined;
  /** Random delay added to the interval, as a fraction of it: a number in [0, 1]. Default 0.15. */
  readonly jitter?: number | undefined;
  /** The limit while minRTT is measured: an integer in [minLimit, maxLimit]. Default 3. */
  readonly minConcurrency?: number | undefined;
  /** Headroom over minRTT before the limit shrinks, as a fraction: in [0, 1]. Default 0.25. */
  readonly minRttBuffer?: number | undefined;
  /** Which percentile of a window's RTTs stands for it: a number in (0, 1]. Default 0.5. */
  readonly percentile?: number | undefined;
  /** Uniform random numbers in [0, 1) for the jitter. Default `Math.random`. */
  readonly random?: (() => number) | undefined;
}

/** Sample windows in a row at the minimum that trigger a new minRTT measurement (Envoy's 5). */
const STUCK_WINDOWS = 5;

/** Envoy's gradient controller: minRTT measured at a pinned limit, then gradient updates. */
export function envoyGradient(options?: EnvoyGradientOptions): LimitAlgorithm {
  const name = 'envoyGradient';
  const minConcurrency = checkCount(`${name}.minConcurrency`, options?.minConcurrency ?? 3, 1);
  const { initialLimit, minLimit, maxLimit } = checkBounds(name, options, {
    initialLimit: minConcurrency,
    minLimit: minConcurrency,
    maxLimit: 1000,
  });
  if (minConcurrency < minLimit || minConcurrency > maxLimit) {
    throw new RangeError(
      `Expected \`${name}.minConcurrency\` to be within [${minLimit}, ${maxLimit}] (minLimit, maxLimit), got ${describe(minConcurrency)}`,
    );
  }
  const intervalMs = checkPositive(
    `${name}.minRttCalcIntervalMs`,
    options?.minRttCalcIntervalMs ?? 60_000,
    'milliseconds',
  );
  const sampleIntervalMs = checkPositive(
    `${name}.sampleIntervalMs`,
    options?.sampleIntervalMs ?? 100,
    'milliseconds',
  );
  const requestCount = checkCount(
    `${name}.minRttRequestCount`,
    options?.minRttRequestCount ?? 50,
    1,
  );
  const jitter = checkRange(`${name}.jitter`, options?.jitter ?? 0.15, 0, 1, true);
  const buffer = checkRange(`${name}.minRttBuffer`, options?.minRttBuffer ?? 0.25, 0, 1, true);
  const percentile = checkRange(`${name}.percentile`, options?.percentile ?? 0.5, 0, 1);
  const random =
    checkOptionalFunction<() => number>(`${name}.random`, options?.random) ?? Math.random;

  let limit = minConcurrency;
  let restore: number | undefined = initialLimit;
  let epoch = Number.NEGATIVE_INFINITY;
  let rtts: number[] = [];
  let minRtt = Number.NaN;
  let windowEndsAt = Number.NaN;
  let measureAt = Number.NaN;
  let atMinimum = 0;

  const startMeasuring = (at: number): void => {
    restore = limit;
    limit = minConcurrency;
    rtts = [];
    epoch = at;
    atMinimum = 0;
  };

  /** Envoy's `random() % ceil(interval · jitter)`: whole milliseconds in [0, range). */
  const jitterMs = (): number => {
    const range = Math.ceil(intervalMs * jitter);
    if (range === 0) return 0;
    const draw = random();
    if (typeof draw === 'number' && draw >= 0 && draw < 1) return Math.floor(draw * range);
    throw new RangeError(
      `Expected \`${name}.random\` to return a number in [0, 1), got ${describe(draw)}`,
    );
  };

  const finishMeasuring = (now: number): void => {
    measureAt = now + intervalMs + jitterMs(); // first: a bad `random` throws before any change
    minRtt = aggregate(rtts, percentile);
    rtts = [];
    limit = restore!;
    restore = undefined;
    windowEndsAt = now + sampleIntervalMs;
  };

  /** Ends the open sample window at `at`: one limit update if it holds samples. */
  const closeWindow = (at: number): void => {
    if (rtts.length === 0) return;
    const sampleRtt = aggregate(rtts, percentile);
    rtts = [];
    const gradient = sampleRtt === 0 ? 2 : clamp((minRtt * (1 + buffer)) / sampleRtt, 0.5, 2);
    const scaled = limit * gradient;
    const next = clamp(Math.floor(scaled + Math.sqrt(scaled)), minLimit, maxLimit);
    atMinimum = limit === minLimit && next === minLimit ? atMinimum + 1 : 0;
    limit = next;
    if (atMinimum >= STUCK_WINDOWS) startMeasuring(at);
  };

  /** Ends, in time order, every window and interval that is over by `now`. */
  const advance = (now: number): void => {
    while (restore === undefined) {
      if (windowEndsAt <= now && windowEndsAt <= measureAt) {
        const end = windowEndsAt;
        // The windows after this one and before `now` are empty: skip them.
        windowEndsAt +=
          sampleIntervalMs * Math.max(1, Math.floor((now - end) / sampleIntervalMs) + 1);
        closeWindow(end);
      } else if (measureAt <= now) {
        startMeasuring(measureAt);
      } else {
        return;
      }
    }
  };

  return {
    name,
    get limit(): number {
      return limit;
    },
    update(sample, now): number {
      checkSample(name, sample);
      if (typeof now !== 'number' || !Number.isFinite(now)) {
        throw new RangeError(
          `Expected \`now\` given to \`${name}.update\` to be a finite number, got ${describe(now)}`,
        );
      }
      advance(now);
      if (sample.dropped || now - sample.rttMs < epoch) return limit;
      rtts.push(sample.rttMs);
      if (restore !== undefined && rtts.length >= requestCount) finishMeasuring(now);
      return limit;
    },
  };
}

/** The `p` percentile of `values` (not empty), by nearest rank. */
function aggregate(values: number[], p: number): number {
  values.sort((a, b) => a - b);
  return values[Math.max(0, Math.ceil(values.length * p) - 1)]!;
}
