/**
 * AIMD: additive increase, multiplicative decrease. The loss-based rule of TCP Reno, applied to
 * requests as Netflix concurrency-limits' `AIMDLimit` does. It reacts to drops only, not to
 * latency: use it when the backend says clearly that it is overloaded (rejections, timeouts).
 *
 * For each sample, with L the current limit:
 *
 *     dropped, or rttMs > timeoutMs   →  L' = floor(L · backoffRatio)
 *     otherwise, inflight · 2 ≥ L     →  L' = L + 1
 *     otherwise                       →  L' = L   (app-limited: too little traffic to judge L)
 *
 * then L' is clamped to [minLimit, maxLimit]. A timeout counts as a drop.
 *
 * Defaults, and Netflix's where they differ:
 *
 *     initialLimit  20
 *     minLimit      1         Netflix 20: too high for a backend with 4 workers, which AIMD
 *                             must be able to push down to 4 or fewer
 *     maxLimit      1000      Netflix 200
 *     backoffRatio  0.9       in (0, 1); Netflix accepts [0.5, 1)
 *     timeoutMs     Infinity  Netflix 5 s. The limiter already reports a timed-out request as
 *                             dropped; set this when slow successes also mean overload
 *
 * Invariants:
 * 1. `limit` is an integer in [minLimit, maxLimit].
 * 2. `update` depends only on the sample and the limit before it: the same samples give the
 *    same limits. `now` is not read.
 *
 * @example
 * const algorithm = aimd({ initialLimit: 4, maxLimit: 64 });
 * algorithm.update({ rttMs: 12, inflight: 4, dropped: false }, 0); // 5
 * algorithm.update({ rttMs: 12, inflight: 5, dropped: true }, 10); // 4 (floor of 4.5)
 */
import { describe } from '../internal/describe.js';
import { type Bounds, checkBounds, clamp } from './bounds.js';
import { checkSample } from './sample.js';
import type { LimitAlgorithm, LimitBounds } from './types.js';

/** Options for {@link aimd}. */
export interface AimdOptions extends LimitBounds {
  /** What a drop multiplies the limit by: a number in (0, 1). Default 0.9. */
  readonly backoffRatio?: number | undefined;
  /**
   * A sample slower than this counts as a drop: milliseconds, above 0, or Infinity (the
   * default: only `dropped` samples count).
   */
  readonly timeoutMs?: number | undefined;
}

const DEFAULTS: Bounds = { initialLimit: 20, minLimit: 1, maxLimit: 1000 };

/** An AIMD limit: +1 per sample while busy, × `backoffRatio` per drop. */
export function aimd(options?: AimdOptions): LimitAlgorithm {
  const { initialLimit, minLimit, maxLimit } = checkBounds('aimd', options, DEFAULTS);
  const backoffRatio = checkBackoffRatio(options?.backoffRatio ?? 0.9);
  const timeoutMs = checkTimeout(options?.timeoutMs ?? Number.POSITIVE_INFINITY);
  let limit = initialLimit;
  return {
    name: 'aimd',
    get limit(): number {
      return limit;
    },
    update(sample): number {
      checkSample('aimd', sample);
      if (sample.dropped || sample.rttMs > timeoutMs) {
        limit = clamp(Math.floor(limit * backoffRatio), minLimit, maxLimit);
      } else if (sample.inflight * 2 >= limit) {
        limit = clamp(limit + 1, minLimit, maxLimit);
      }
      return limit;
    },
  };
}

/** A number in (0, 1): 1 would never back off, 0 would drop to `minLimit` at once. */
function checkBackoffRatio(value: unknown): number {
  if (typeof value === 'number' && value > 0 && value < 1) return value;
  throw new RangeError(
    `Expected \`aimd.backoffRatio\` to be a number in (0, 1), got ${describe(value)}`,
  );
}

/** A number of milliseconds above 0, or Infinity. */
function checkTimeout(value: unknown): number {
  if (typeof value === 'number' && value > 0) return value;
  throw new RangeError(
    `Expected \`aimd.timeoutMs\` to be a number of milliseconds above 0 (or Infinity), got ${describe(value)}`,
  );
}
