/**
 * gradient2() one line per sample: the formula with both baselines, the warm-up, app-limited
 * samples, the clamps, Netflix's decay, and what the default baseline refuses to learn. Then bad
 * options and samples, determinism, and a property: the limit is an integer in
 * [minLimit, maxLimit]. The creep itself, against a simulated backend, is in
 * gradient2-creep.test.ts.
 *
 * Reading a row (smoothing 1 unless a test says otherwise): gradient = rttMs ≤ 1.5 · longRtt ? 1
 * : max(0.5, 1.5 · longRtt / rttMs); L' = L · gradient + 4; the limit is floor(L'). With
 * longWindow 3, learning a sample moves longRtt half way to it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Gradient2Options, gradient2 } from '../../src/adaptive/gradient2.js';
import type { LimitAlgorithm, Sample } from '../../src/adaptive/types.js';
import {
  badBoundsRows,
  type ErrorRow,
  limitAlwaysInBounds,
  runRows,
  type SampleRow,
  sampleArb,
} from '../support/algorithm.js';
import { caught } from '../support/errors.js';
import { propRuns } from '../support/prop.js';

/** `n` identical rows. */
const times = (n: number, row: SampleRow): SampleRow[] => Array.from({ length: n }, () => row);

/** Smoothing 1 and longWindow 3 keep the arithmetic of the tables readable. */
function create(options: Gradient2Options = {}): LimitAlgorithm {
  return gradient2({ initialLimit: 10, maxLimit: 100, smoothing: 1, longWindow: 3, ...options });
}

describe('gradient2(): defaults', () => {
  it('starts at 20, holds it through the 10 warm-up samples, then grows 0.8 per sample', () => {
    const g = gradient2();
    expect(g.name).toBe('gradient2');
    expect(g.limit).toBe(20);
    runRows(g, [
      ...times(10, { rttMs: 10, inflight: 20, limit: 20 }),
      { rttMs: 10, inflight: 20, limit: 20 }, // 20 · 0.8 + 24 · 0.2 = 20.8
      { rttMs: 10, inflight: 20, limit: 21 }, // 21.6
      { rttMs: 10, inflight: 20, limit: 22 }, // 22.4
    ]);
  });

  it('reaches maxLimit 1000; under a gradient of 0.5 it falls to 2 · queueSize = 8, not to 1', () => {
    const g = gradient2();
    for (let i = 0; i < 2000; i++) g.update({ rttMs: 10, inflight: 1000, dropped: false }, i);
    expect(g.limit).toBe(1000);
    // L' = 0.9 · L + 0.8 has its fixed point at 8: minLimit 1 is reached only with a smaller queue.
    for (let i = 0; i < 2000; i++) g.update({ rttMs: 1000, inflight: 1000, dropped: false }, i);
    expect(g.limit).toBe(8);
  });
});

describe("gradient2(): Netflix's Gradient2Limit (baseline 'netflix')", () => {
  it('the formula: gradient from longRtt / rtt, clamped to [0.5, 1], plus queueSize', () => {
    runRows(create({ baseline: 'netflix' }), [
      { rttMs: 10, inflight: 10, limit: 14 }, // warm-up moves the limit: longRtt 10, gradient 1
      { rttMs: 10, inflight: 14, limit: 18 },
      { rttMs: 30, inflight: 18, limit: 19 }, // longRtt 50/3: gradient 25/30, 18 · 5/6 + 4
      { rttMs: 1000, inflight: 19, limit: 13 }, // gradient 0.39 → 0.5: 19 · 0.5 + 4 = 13.5
      { rttMs: 10, inflight: 6, limit: 13 }, // 6 < 13.5 / 2: app-limited
      { rttMs: 10, inflight: 7, limit: 17 }, // 17.5
    ]);
  });

  it('learns every sample: a run of queued samples pulls longRtt up and the limit creeps', () => {
    runRows(create({ baseline: 'netflix' }), [
      ...times(10, { rttMs: 10, inflight: 0, limit: 10 }), // app-limited: longRtt 10
      { rttMs: 25, inflight: 10, limit: 14 }, // longRtt 17.5: 26.25 ≥ 25, gradient 1
      { rttMs: 25, inflight: 14, limit: 18 }, // longRtt 21.25
      { rttMs: 25, inflight: 18, limit: 22 },
      { rttMs: 25, inflight: 22, limit: 26 },
    ]);
  });

  it('decays longRtt by 5 % after a sample more than twice as fast (the limit shows it)', () => {
    runRows(create({ baseline: 'netflix', initialLimit: 100, maxLimit: 200 }), [
      ...times(10, { rttMs: 100, inflight: 0, limit: 100 }), // app-limited: longRtt 100
      { rttMs: 10, inflight: 0, limit: 100 }, // longRtt 55 > 20: × 0.95 = 52.25
      { rttMs: 10, inflight: 0, limit: 100 }, // longRtt 31.125 > 20: × 0.95 = 29.56875
      // longRtt 114.78: gradient 0.8609 → 90.09. Without the decays: 116.25, 0.8719 → 91.19.
      { rttMs: 200, inflight: 100, limit: 90 },
    ]);
  });
});

describe("gradient2(): the default baseline 'uncongested'", () => {
  it('holds the limit through warm-up; the baseline is the mean of the warm-up samples', () => {
    runRows(create(), [
      ...Array.from({ length: 10 }, (_, i) => ({ rttMs: i + 1, inflight: 10, limit: 10 })),
      { rttMs: 11, inflight: 10, limit: 11 }, // longRtt 5.5: gradient 8.25 / 11, 7.5 + 4
    ]);
  });

  it('the formula after warm-up, learning only samples within tolerance or app-limited', () => {
    runRows(create(), [
      ...times(10, { rttMs: 10, inflight: 10, limit: 10 }), // longRtt 10
      { rttMs: 10, inflight: 10, limit: 14 },
      { rttMs: 15, inflight: 14, limit: 18 }, // 15 ≤ 15: learned, longRtt 12.5
      { rttMs: 25, inflight: 18, limit: 17 }, // 25 > 18.75: not learned; 18 · 0.75 + 4 = 17.5
      // Not learned again (had it been, longRtt 18.75 and gradient 1: 21).
      { rttMs: 25, inflight: 17, limit: 17 }, // 17.5 · 0.75 + 4 = 17.125
      { rttMs: 100, inflight: 17, limit: 12 }, // gradient 0.1875 → 0.5: 12.5625
      { rttMs: 0, inflight: 12, limit: 16 }, // learned, longRtt 6.25; gradient 1 at rtt 0
      { rttMs: 100, inflight: 8, limit: 16 }, // app-limited (8 < 8.28): learned, longRtt 53.125
      { rttMs: 70, inflight: 16, limit: 20 }, // 70 ≤ 79.7: learned, gradient 1
    ]);
  });

  it('a run of queued samples leaves longRtt alone: the limit settles at 4 / (1 − 0.6) = 10', () => {
    runRows(create(), [
      ...times(10, { rttMs: 10, inflight: 0, limit: 10 }),
      ...times(4, { rttMs: 25, inflight: 10, limit: 10 }), // gradient 15 / 25 every time
    ]);
  });

  it('has no decay: a burst of fast failures does not pin the baseline low', () => {
    const g = gradient2();
    for (let i = 0; i < 10; i++) g.update({ rttMs: 10, inflight: 20, dropped: false }, i);
    // 40 rejections at 0.5 ms pull longRtt down by the average's step only (to about 8.8).
    for (let i = 0; i < 40; i++) g.update({ rttMs: 0.5, inflight: g.limit, dropped: true }, i);
    expect(g.limit).toBe(52);
    // With Netflix's decay longRtt would be near 1.1 and these samples would halve the gradient.
    runRows(g, [
      { rttMs: 10, inflight: 52, limit: 52 }, // 52.8 (growing by 0.8)
      { rttMs: 10, inflight: 52, limit: 53 },
      { rttMs: 10, inflight: 53, limit: 54 },
    ]);
  });
});

describe('gradient2(): drops, bounds, smoothing', () => {
  it('reads a dropped sample like any other, as Netflix does', () => {
    const samples: Sample[] = [10, 10, 30, 1000, 10, 0].map((rttMs, i) => ({
      rttMs,
      inflight: 10,
      dropped: i % 2 === 0,
    }));
    const a = create({ baseline: 'netflix' });
    const b = create({ baseline: 'netflix' });
    const withDrops = samples.map((s, i) => a.update(s, i));
    const withoutDrops = samples.map((s, i) => b.update({ ...s, dropped: false }, i));
    expect(withDrops).toEqual(withoutDrops);
    expect(withDrops).toEqual([14, 18, 19, 13, 17, 21]);
  });

  it('clamps to maxLimit and to minLimit', () => {
    runRows(create({ initialLimit: 20, minLimit: 15, maxLimit: 25 }), [
      ...times(10, { rttMs: 10, inflight: 20, limit: 20 }),
      { rttMs: 10, inflight: 20, limit: 24 },
      { rttMs: 10, inflight: 24, limit: 25 }, // 28, clamped
      { rttMs: 1000, inflight: 25, limit: 16 }, // 25 · 0.5 + 4 = 16.5
      { rttMs: 1000, inflight: 25, limit: 15 }, // 12.25, clamped
      { rttMs: 1000, inflight: 25, limit: 15 },
    ]);
  });

  it('smoothing 0.5 moves half way; the estimate stays fractional', () => {
    runRows(create({ smoothing: 0.5 }), [
      ...times(10, { rttMs: 10, inflight: 10, limit: 10 }),
      { rttMs: 10, inflight: 10, limit: 12 }, // toward 14: 12
      { rttMs: 10, inflight: 12, limit: 14 }, // toward 16: 14
      { rttMs: 20, inflight: 14, limit: 14 }, // 20 > 15, gradient 0.75: toward 14.5, 14.25
      { rttMs: 10, inflight: 7, limit: 14 }, // 7 < 14.25 / 2: app-limited (not if L were 14)
      { rttMs: 10, inflight: 8, limit: 16 }, // toward 18.25: 16.25
    ]);
  });
});

describe('gradient2(): bad options and samples', () => {
  const rows: ErrorRow[] = [
    ['options 5', 5, TypeError, 'Expected `gradient2` to be an options object, got `5` (number)'],
    ...badBoundsRows('gradient2'),
    [
      'maxLimit "100"',
      { maxLimit: '100' },
      RangeError,
      'Expected `gradient2.maxLimit` to be an integer from 1 up, got `"100"` (string)',
    ],
    ...[0, 1.5, -0.2, Number.NaN, Number.POSITIVE_INFINITY].map(
      (v): ErrorRow => [
        `smoothing ${v}`,
        { smoothing: v },
        RangeError,
        `Expected \`gradient2.smoothing\` to be a number in (0, 1], got \`${v}\` (number)`,
      ],
    ),
    [
      'smoothing "0.2"',
      { smoothing: '0.2' },
      RangeError,
      'Expected `gradient2.smoothing` to be a number in (0, 1], got `"0.2"` (string)',
    ],
    ...[0.9, 0, Number.NaN, Number.POSITIVE_INFINITY].map(
      (v): ErrorRow => [
        `rttTolerance ${v}`,
        { rttTolerance: v },
        RangeError,
        `Expected \`gradient2.rttTolerance\` to be a finite number from 1 up, got \`${v}\` (number)`,
      ],
    ),
    ...[0, -4, Number.NaN, Number.POSITIVE_INFINITY].map(
      (v): ErrorRow => [
        `queueSize ${v}`,
        { queueSize: v },
        RangeError,
        `Expected \`gradient2.queueSize\` to be a finite number above 0, got \`${v}\` (number)`,
      ],
    ),
    [
      'queueSize "4"',
      { queueSize: '4' },
      RangeError,
      'Expected `gradient2.queueSize` to be a finite number above 0, got `"4"` (string)',
    ],
    ...[0, 2.5, Number.NaN].map(
      (v): ErrorRow => [
        `longWindow ${v}`,
        { longWindow: v },
        RangeError,
        `Expected \`gradient2.longWindow\` to be an integer from 1 up, got \`${v}\` (number)`,
      ],
    ),
    [
      'baseline "fixed"',
      { baseline: 'fixed' },
      RangeError,
      "Expected `gradient2.baseline` to be one of 'uncongested', 'netflix', got `\"fixed\"` (string)",
    ],
    [
      'baseline true',
      { baseline: true },
      RangeError,
      "Expected `gradient2.baseline` to be one of 'uncongested', 'netflix', got `true` (boolean)",
    ],
  ];

  it.each(rows)('%s', (_, options, errorClass, message) => {
    const error = caught(() => gradient2(options as Gradient2Options));
    expect(error).toBeInstanceOf(errorClass);
    expect(error.message).toBe(message);
  });

  const samples: ErrorRow[] = [
    [
      'rttMs NaN',
      { rttMs: Number.NaN, inflight: 1, dropped: false },
      RangeError,
      'Expected `sample.rttMs` given to `gradient2.update` to be a finite number from 0 up, got `NaN` (number)',
    ],
    [
      'rttMs "10"',
      { rttMs: '10', inflight: 1, dropped: false },
      RangeError,
      'Expected `sample.rttMs` given to `gradient2.update` to be a finite number from 0 up, got `"10"` (string)',
    ],
    [
      'inflight -1',
      { rttMs: 10, inflight: -1, dropped: false },
      RangeError,
      'Expected `sample.inflight` given to `gradient2.update` to be a finite number from 0 up, got `-1` (number)',
    ],
    [
      'dropped "no"',
      { rttMs: 10, inflight: 1, dropped: 'no' },
      TypeError,
      'Expected `sample.dropped` given to `gradient2.update` to be a boolean, got `"no"` (string)',
    ],
    [
      'sample null',
      null,
      TypeError,
      'Expected the sample given to `gradient2.update` to be an object { rttMs, inflight, dropped }, got `null` (null)',
    ],
  ];

  it.each(samples)(
    'rejects a sample with %s and changes nothing',
    (_, sample, errorClass, message) => {
      const g = create();
      const error = caught(() => g.update(sample as Sample, 0));
      expect(error).toBeInstanceOf(errorClass);
      expect(error.message).toBe(message);
      runRows(g, [
        ...times(10, { rttMs: 10, inflight: 10, limit: 10 }),
        { rttMs: 10, inflight: 10, limit: 14 },
      ]);
    },
  );
});

const optionsArb: fc.Arbitrary<Gradient2Options> = fc
  .integer({ min: 1, max: 50 })
  .chain((minLimit) =>
    fc.integer({ min: minLimit, max: 1200 }).chain((maxLimit) =>
      fc.record({
        minLimit: fc.constant(minLimit),
        maxLimit: fc.constant(maxLimit),
        initialLimit: fc.integer({ min: minLimit, max: maxLimit }),
        smoothing: fc.double({ min: 0.01, max: 1, noNaN: true }),
        rttTolerance: fc.double({ min: 1, max: 4, noNaN: true }),
        queueSize: fc.double({ min: 0.1, max: 50, noNaN: true }),
        longWindow: fc.integer({ min: 1, max: 700 }),
        baseline: fc.constantFrom('uncongested' as const, 'netflix' as const),
      }),
    ),
  );

describe('gradient2(): properties', () => {
  it('the limit is always an integer in [minLimit, maxLimit]', () => {
    fc.assert(limitAlwaysInBounds(gradient2, optionsArb), { numRuns: propRuns(200) });
  });

  it('is deterministic and ignores `now`: the same samples give the same limits', () => {
    fc.assert(
      fc.property(optionsArb, fc.array(sampleArb, { maxLength: 300 }), (options, samples) => {
        const first = gradient2(options);
        const second = gradient2(options);
        const a = samples.map((s, i) => first.update(s, i));
        const b = samples.map((s, i) => second.update(s, 1e6 - i * 7));
        expect(b).toEqual(a);
      }),
      { numRuns: propRuns(100) },
    );
  });
});
