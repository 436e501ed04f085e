/**
 * The check every algorithm runs on a sample before its formula reads it: a bad sample (a NaN
 * round-trip time, a negative count) would otherwise turn the limit into NaN for good.
 */
import { describe } from '../internal/describe.js';
import type { Sample } from './types.js';

/**
 * Throws unless `sample` is a {@link Sample}: `rttMs` a finite number from 0 up (0 is what a
 * millisecond clock reads for a fast request), `inflight` a finite number from 0 up, `dropped` a
 * boolean. `name` is the algorithm's, for the message: `` `aimd.update` ``.
 */
export function checkSample(name: string, sample: unknown): asserts sample is Sample {
  const where = `given to \`${name}.update\``;
  if (typeof sample !== 'object' || sample === null) {
    throw new TypeError(
      `Expected the sample ${where} to be an object { rttMs, inflight, dropped }, got ${describe(sample)}`,
    );
  }
  const { rttMs, inflight, dropped } = sample as Record<string, unknown>;
  if (!isFiniteFromZero(rttMs)) {
    throw new RangeError(
      `Expected \`sample.rttMs\` ${where} to be a finite number from 0 up, got ${describe(rttMs)}`,
    );
  }
  if (!isFiniteFromZero(inflight)) {
    throw new RangeError(
      `Expected \`sample.inflight\` ${where} to be a finite number from 0 up, got ${describe(inflight)}`,
    );
  }
  if (typeof dropped !== 'boolean') {
    throw new TypeError(
      `Expected \`sample.dropped\` ${where} to be a boolean, got ${describe(dropped)}`,
    );
  }
}

function isFiniteFromZero(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}
