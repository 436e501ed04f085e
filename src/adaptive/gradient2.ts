/**
 * Gradient2: the limit follows the ratio of a long-term RTT (the baseline) to the RTT of the
 * sample, as Netflix concurrency-limits' `Gradient2Limit` does
 * (`concurrency-limits-core/.../limit/Gradient2Limit.java`). For each sample, with L the
 * current estimate (a real number; the limit is its floor):
 *
 *     longRtt   ← the mean of the first 10 samples, then an exponential average over
 *                 `longWindow` samples: longRtt += (rtt − longRtt) · 2 / (longWindow + 1)
 *     inflight < L / 2                →  L unchanged (app-limited: too little traffic to judge L)
 *     gradient  = clamp(rttTolerance · longRtt / rtt, 0.5, 1)     (1 when rtt = 0)
 *     L'        = L · (1 − smoothing) + (L · gradient + queueSize) · smoothing
 *
 * then L' is clamped to [minLimit, maxLimit]. Within tolerance (gradient 1) the estimate grows by
 * queueSize · smoothing per sample; slower samples shrink it, but never below 2 · queueSize,
 * where the smallest gradient, 0.5, and the queueSize balance.
 *
 * Drops: like Netflix, Gradient2 ignores `dropped` and reads the sample's RTT like any other.
 * A limiter that reports overload mostly as fast rejections should feed a drop-based algorithm
 * (`aimd()`), or wrap this one in `windowed()` so one rejection is not a whole sample.
 *
 * **The creep, and the default `baseline: 'uncongested'`.** Netflix's baseline learns from every
 * sample. Under sustained overload every sample is queued, so the baseline drifts up to the
 * queued RTT; once rttTolerance · longRtt ≥ rtt the gradient is pinned at 1 and every sample adds
 * queueSize · smoothing again: the limit, and with it the queue, creeps upward for as long as the
 * overload lasts (Netflix concurrency-limits PR #134: under modest overload "the inclusion of a
 * queue will cause the limit to gradually increase indefinitely"). The default keeps queueing
 * out of the baseline, judged by the formula's own test:
 *
 *     longRtt learns from a sample only if rtt ≤ rttTolerance · longRtt (what the gradient calls
 *       no queueing), or the sample is app-limited (our own load did not queue it), or in warm-up;
 *     the limit holds still during warm-up, so the baseline is measured at initialLimit;
 *     there is no decay rule (below).
 *
 * A queued sample then never teaches the baseline, so the gradient keeps seeing the queue. In a
 * closed loop against N workers (test/adaptive/gradient2-creep.test.ts) the limit settles at
 * rttTolerance · N + queueSize and stays there: with 4 workers and the defaults, Netflix's rule
 * averages 48 and swings 16..88 with one update per sample, and reaches maxLimit (963 after
 * 100 000 samples) with windowed updates; the default holds 10. That standing queue is what the
 * knobs ask for: rttTolerance 1.5 accepts RTTs 50 % above the baseline, plus queueSize. For a
 * limit within 25 % of N use rttTolerance near 1 and a queueSize small against N (4 workers,
 * rttTolerance 1, queueSize 1: 5). Netflix's decay rule (longRtt × 0.95 whenever
 * longRtt > 2 · rtt) undoes a baseline inflated by overload; with the filter it could only push
 * down, and a burst of fast failures would pin the baseline, and the limit, low for good.
 *
 * What the filter cannot do: learn a baseline it never saw. If the warm-up samples are already
 * queued (initialLimit far above what the backend serves), the baseline is inflated and the limit
 * settles that much higher: bounded, not near N (4 workers, initialLimit 20: 34). Start at or
 * below the expected capacity, or use `envoyGradient()`, which measures its minimum RTT at a
 * pinned low limit. A backend that becomes slower for good by more than rttTolerance is learned
 * only from app-limited samples (quiet periods). `baseline: 'netflix'` is Netflix's rule exactly.
 *
 * One update per sample reacts many times per RTT to RTTs that describe the queue of one RTT
 * ago: with more than a handful of workers, or noisy RTTs, the limit swings (either baseline).
 * Netflix applies the formula once per sampling window; so should you: `windowed(gradient2())`.
 *
 * Defaults, and Netflix's where they differ:
 *
 *     initialLimit  20
 *     minLimit      1         Netflix 20, which a backend with 4 workers could never be
 *                             protected by; this one settles at 10 for it (see above)
 *     maxLimit      1000      Netflix 200
 *     smoothing     0.2       in (0, 1]
 *     rttTolerance  1.5       from 1 up
 *     queueSize     4         a number above 0 (Netflix: an integer, or a function of the limit)
 *     longWindow    600       samples; the warm-up is 10 samples, as Netflix's
 *     baseline      'uncongested'   Netflix: 'netflix'
 *
 * Invariants:
 * 1. minLimit ≤ estimate ≤ maxLimit, and `limit` = floor(estimate): an integer in
 *    [minLimit, maxLimit].
 * 2. `seen` ≤ 10 counts the warm-up samples learned and `sum` is their total; while `seen` < 10,
 *    longRtt is sum / seen (with 'netflix', possibly times 0.95 after a decay), and with
 *    'uncongested' the estimate is still initialLimit.
 * 3. longRtt is finite and ≥ 0. With 'uncongested', after warm-up it moves only by the
 *    average's step toward a sample within tolerance or app-limited.
 * 4. `update` depends only on the sample and the state before it. `now` is not read.
 *
 * @example
 * const algorithm = windowed(gradient2({ initialLimit: 4 }), { windowMs: 100 });
 * algorithm.update({ rttMs: 10, inflight: 4, dropped: false }, 0); // 4
 */
import { describe } from '../internal/describe.js';
import { checkCount, checkOneOf } from '../internal/validate.js';
import { type Bounds, checkBounds, checkRange, clamp } from './bounds.js';
import { checkSample } from './sample.js';
import type { LimitAlgorithm, LimitBounds } from './types.js';

/** Options for {@link gradient2}. */
export interface Gradient2Options extends LimitBounds {
  /** How much of the new estimate each sample takes in: a number in (0, 1]. Default 0.2. */
  readonly smoothing?: number | undefined;
  /**
   * How much slower than the baseline a sample may be before the limit shrinks: a finite
   * number from 1 up (2 accepts twice the baseline). Default 1.5.
   */
  readonly rttTolerance?: number | undefined;
  /** Added to L · gradient on every sample: a finite number above 0. Default 4. */
  readonly queueSize?: number | undefined;
  /** Samples the long-term RTT averages over: an integer from 1 up. Default 600. */
  readonly longWindow?: number | undefined;
  /**
   * How the long-term RTT learns: `'uncongested'` (the default: only from samples within
   * tolerance or app-limited; no creep under sustained overload) or `'netflix'` (from every
   * sample, with Netflix's decay rule: exactly `Gradient2Limit`).
   */
  readonly baseline?: 'uncongested' | 'netflix' | undefined;
}

const DEFAULTS: Bounds = { initialLimit: 20, minLimit: 1, maxLimit: 1000 };
const BASELINES = ['uncongested', 'netflix'] as const;
/** Samples averaged plainly before the exponential average starts (Netflix's warm-up). */
const WARMUP = 10;

/** A Gradient2 limit: the estimate scaled by longRtt / rtt, plus a small queue. */
export function gradient2(options?: Gradient2Options): LimitAlgorithm {
  const { initialLimit, minLimit, maxLimit } = checkBounds('gradient2', options, DEFAULTS);
  const smoothing = checkRange('gradient2.smoothing', options?.smoothing ?? 0.2, 0, 1);
  const tolerance = checkFinite('gradient2.rttTolerance', options?.rttTolerance ?? 1.5, 1, true);
  const queueSize = checkFinite('gradient2.queueSize', options?.queueSize ?? 4, 0, false);
  const longWindow = checkCount('gradient2.longWindow', options?.longWindow ?? 600, 1);
  const netflix =
    checkOneOf('gradient2.baseline', options?.baseline ?? 'uncongested', BASELINES) === 'netflix';
  const factor = 2 / (longWindow + 1);

  let estimate = initialLimit;
  let longRtt = 0;
  let seen = 0;
  let sum = 0;

  const learn = (rtt: number): void => {
    if (seen < WARMUP) {
      // As Netflix's ExpAvgMeasurement: the mean of the sum, so a decay during warm-up is lost.
      seen++;
      sum += rtt;
      longRtt = sum / seen;
    } else {
      longRtt += (rtt - longRtt) * factor;
    }
  };

  return {
    name: 'gradient2',
    get limit(): number {
      return Math.floor(estimate);
    },
    update(sample): number {
      checkSample('gradient2', sample);
      const rtt = sample.rttMs;
      const warming = seen < WARMUP;
      const appLimited = sample.inflight < estimate / 2;
      if (netflix || warming || appLimited || rtt <= tolerance * longRtt) learn(rtt);
      const reference = longRtt; // what the gradient reads: Netflix reads it before the decay
      // Netflix: after a long overload, let the baseline fall faster than the average would.
      if (netflix && longRtt > 2 * rtt) longRtt *= 0.95;
      if (appLimited || (warming && !netflix)) return Math.floor(estimate);

      const gradient =
        rtt <= tolerance * reference ? 1 : Math.max(0.5, (tolerance * reference) / rtt);
      const next = estimate * gradient + queueSize;
      estimate = clamp(estimate * (1 - smoothing) + next * smoothing, minLimit, maxLimit);
      return Math.floor(estimate);
    },
  };
}

/** A finite number ≥ `low` (`inclusive`) or > `low`. */
function checkFinite(name: string, value: unknown, low: number, inclusive: boolean): number {
  if (
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (inclusive ? value >= low : value > low)
  ) {
    return value;
  }
  const range = inclusive ? `from ${low} up` : `above ${low}`;
  throw new RangeError(
    `Expected \`${name}\` to be a finite number ${range}, got ${describe(value)}`,
  );
}
