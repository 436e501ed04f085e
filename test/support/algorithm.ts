/**
 * What the adaptive algorithms' tests share (aimd, gradient2, vegas): one-line-per-sample tables
 * in Netflix's style, the table of bad bounds every algorithm validates the same way, and the
 * property that the limit stays an integer in [minLimit, maxLimit] whatever samples come.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import type { LimitAlgorithm, Sample } from '../../src/adaptive/types.js';

/** One sample and the limit after it. `dropped` defaults to false. */
export interface SampleRow {
  readonly rttMs: number;
  readonly inflight: number;
  readonly dropped?: boolean;
  readonly limit: number;
}

/** Feeds the rows in order, 10 ms apart; after each, the answer and `limit` must be the row's. */
export function runRows(algorithm: LimitAlgorithm, rows: readonly SampleRow[]): void {
  rows.forEach((row, i) => {
    const answer = algorithm.update(
      { rttMs: row.rttMs, inflight: row.inflight, dropped: row.dropped ?? false },
      i * 10,
    );
    expect(answer, `row ${i}: ${JSON.stringify(row)}`).toBe(row.limit);
    expect(algorithm.limit, `row ${i}: limit`).toBe(row.limit);
  });
}

/** A row of a bad-input table: its title, the input, the error class and the exact message. */
export type ErrorRow = [string, unknown, typeof RangeError | typeof TypeError, string];

/** Bounds that contradict each other, with the message `name` (e.g. 'aimd') must give for each. */
export function badBoundsRows(name: string): ErrorRow[] {
  return [
    [
      'minLimit > maxLimit',
      { minLimit: 10, maxLimit: 5 },
      RangeError,
      `Expected \`${name}.minLimit\` (10) to be at most \`${name}.maxLimit\` (5)`,
    ],
    [
      'initialLimit above maxLimit',
      { initialLimit: 50, maxLimit: 40 },
      RangeError,
      `Expected \`${name}.initialLimit\` to be within [1, 40], got \`50\` (number)`,
    ],
    [
      'initialLimit below minLimit',
      { initialLimit: 2, minLimit: 4 },
      RangeError,
      `Expected \`${name}.initialLimit\` to be within [4, 1000], got \`2\` (number)`,
    ],
  ];
}

/** Any valid sample, RTT 0 included. */
export const sampleArb: fc.Arbitrary<Sample> = fc.record({
  rttMs: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1e5, noNaN: true })),
  inflight: fc.nat({ max: 3000 }),
  dropped: fc.boolean(),
});

/**
 * Property: after every sample, `make(options)`'s answer equals its `limit` and is an integer in
 * [options.minLimit, options.maxLimit] (so `optionsArb` must always set both).
 */
export function limitAlwaysInBounds<
  Options extends {
    readonly minLimit?: number | undefined;
    readonly maxLimit?: number | undefined;
  },
>(
  make: (options: Options) => LimitAlgorithm,
  optionsArb: fc.Arbitrary<Options>,
  samples: fc.Arbitrary<Sample> = sampleArb,
): fc.IPropertyWithHooks<[Options, Sample[]]> {
  return fc.property(optionsArb, fc.array(samples, { maxLength: 300 }), (options, list) => {
    const algorithm = make(options);
    list.forEach((sample, i) => {
      const answer = algorithm.update(sample, i);
      expect(Number.isInteger(answer)).toBe(true);
      expect(answer).toBe(algorithm.limit);
      expect(answer).toBeGreaterThanOrEqual(options.minLimit as number);
      expect(answer).toBeLessThanOrEqual(options.maxLimit as number);
    });
  });
}
