/**
 * envoyGradient() one line per sample, each at its own time: the minRTT measurement (the limit
 * pinned at minConcurrency, then restored), the sample windows and the gradient with its clamps,
 * the jitter from an injected `random`, the re-measurement after five windows at the minimum,
 * drops, and time jumps. Then bad options and input, determinism, and a property: the limit is
 * an integer in [minLimit, maxLimit].
 *
 * Reading a row: a sample arriving at `at` first ends every window that is over (a window is
 * [start, end)), then joins the open one; its request started at `at − rttMs`. When a window
 * ends: gradient = clamp(minRtt · 1.25 / sampleRtt, 0.5, 2), scaled = limit · gradient,
 * limit = floor(scaled + √scaled). Percentiles are nearest-rank: p50 of [2, 3, 4] is 3.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type EnvoyGradientOptions, envoyGradient } from '../../src/adaptive/envoy-gradient.js';
import type { LimitAlgorithm, Sample } from '../../src/adaptive/types.js';
import { caught } from '../support/errors.js';
import { propRuns } from '../support/prop.js';

/** A sample at time `at` and the limit after it. */
interface Row {
  readonly at: number;
  readonly rttMs: number;
  readonly dropped?: boolean;
  readonly limit: number;
}

function run(algorithm: LimitAlgorithm, rows: readonly Row[]): void {
  for (const [i, row] of rows.entries()) {
    const sample = { rttMs: row.rttMs, inflight: 1, dropped: row.dropped ?? false };
    const answer = algorithm.update(sample, row.at);
    expect(answer, `row ${i}: ${JSON.stringify(row)}`).toBe(row.limit);
    expect(algorithm.limit, `row ${i}: limit`).toBe(row.limit);
  }
}

/** Measures with 3 requests, every 1000 ms, no jitter; windows of 100 ms. */
function create(options: EnvoyGradientOptions = {}): LimitAlgorithm {
  return envoyGradient({
    minRttRequestCount: 3,
    minRttCalcIntervalMs: 1000,
    jitter: 0,
    initialLimit: 10,
    ...options,
  });
}

/** The first measurement: minRtt 10, the limit back at 10; the first window ends at 102. */
const measured: Row[] = [
  { at: 0, rttMs: 10, limit: 3 },
  { at: 1, rttMs: 10, limit: 3 },
  { at: 2, rttMs: 10, limit: 10 },
];

describe('envoyGradient(): defaults', () => {
  it("starts measuring at minConcurrency 3, over 50 requests, and returns to 3 (Envoy's start)", () => {
    const g = envoyGradient({ random: () => 0 });
    expect(g.name).toBe('envoyGradient');
    expect(g.limit).toBe(3);
    for (let i = 0; i < 49; i++) g.update({ rttMs: 10, inflight: 3, dropped: false }, i);
    expect(g.limit).toBe(3);
    run(g, [
      { at: 49, rttMs: 10, limit: 3 }, // minRtt 10; the first window ends at 149
      { at: 100, rttMs: 10, limit: 3 },
      { at: 149, rttMs: 10, limit: 5 }, // 3 · 1.25 = 3.75, + 1.94
      { at: 249, rttMs: 10, limit: 8 }, // 6.25 + 2.5
    ]);
  });

  it('measures again 60 s after the last measurement ended (no jitter with random 0)', () => {
    const g = envoyGradient({ random: () => 0, minRttRequestCount: 1 });
    run(g, [
      { at: 0, rttMs: 10, limit: 3 }, // minRtt 10; windows end at 100, 200, …
      { at: 50, rttMs: 10, limit: 3 },
      { at: 100, rttMs: 10, limit: 5 },
      { at: 59_999, rttMs: 10, limit: 8 }, // ends [100, 200): 6.25 + 2.5
      // The window ending at 60 000 closes first (10 + 3.16), then the measurement starts; this
      // request started at 59 999, before it: ignored.
      { at: 60_000, rttMs: 1, limit: 3 },
      { at: 60_010, rttMs: 5, limit: 13 }, // minRtt 5; back to 13
    ]);
  });
});

describe('envoyGradient(): sample windows and the gradient', () => {
  it('one update per window, from the percentile of its samples; gradient clamped to [0.5, 2]', () => {
    run(create(), [
      ...measured,
      { at: 50, rttMs: 11, limit: 10 },
      { at: 101, rttMs: 9, limit: 10 },
      { at: 102, rttMs: 22, limit: 17 }, // window [11, 9]: p50 9, gradient 1.39 → 13.89 + 3.73
      { at: 202, rttMs: 100, limit: 12 }, // [22]: 0.568 → 9.66 + 3.11
      { at: 302, rttMs: 1, limit: 8 }, // [100]: 0.125 → 0.5: 6 + 2.45
      { at: 402, rttMs: 10, limit: 20 }, // [1]: 12.5 → 2: 16 + 4
      { at: 502, rttMs: 12.5, limit: 30 }, // [10]: 1.25: 25 + 5
      { at: 602, rttMs: 12.5, limit: 35 }, // [12.5]: 1: 30 + 5.48
    ]);
  });

  it('aggregates by the configured percentile, nearest rank', () => {
    const window = (percentile: number): number => {
      const g = create({ percentile });
      run(g, measured);
      for (const rtt of [14, 10, 12, 13, 11]) {
        g.update({ rttMs: rtt, inflight: 1, dropped: false }, 50);
      }
      return g.update({ rttMs: 10, inflight: 1, dropped: false }, 102);
    };
    // The ceil(5 · p)-th smallest of [10, 11, 12, 13, 14] against minRtt · 1.25 = 12.5.
    expect(window(0.2)).toBe(16); // 10: gradient 1.25 → 12.5 + 3.54
    expect(window(0.4)).toBe(14); // 11: 1.136 → 11.36 + 3.37
    expect(window(0.5)).toBe(13); // 12: 1.042 → 10.42 + 3.23
    expect(window(0.6)).toBe(13); // 12, still the third
    expect(window(0.61)).toBe(12); // 13, the fourth: 0.962 → 9.62 + 3.1
    expect(window(1)).toBe(11); // 14: 0.893 → 8.93 + 2.99
  });

  it('minRttBuffer moves the point where the limit starts to shrink', () => {
    const next = (minRttBuffer: number): number => {
      const g = create({ minRttBuffer });
      run(g, measured);
      g.update({ rttMs: 12, inflight: 1, dropped: false }, 50);
      return g.update({ rttMs: 12, inflight: 1, dropped: false }, 102);
    };
    expect(next(0)).toBe(11); // 10 / 12: 8.33 + 2.89
    expect(next(0.25)).toBe(13); // 12.5 / 12: 10.42 + 3.23
    expect(next(1)).toBe(20); // 20 / 12: 16.67 + 4.08
  });

  it('an empty window changes nothing, and a long silence skips the empty windows', () => {
    run(create(), [
      ...measured,
      { at: 102, rttMs: 10, limit: 10 }, // [2, 102) was empty
      { at: 999, rttMs: 10, limit: 16 }, // ends [102, 202) with [10]; the next ones were empty
      { at: 1001, rttMs: 10, limit: 16 }, // in [902, 1002)
      { at: 1002, rttMs: 10, limit: 3 }, // [902, 1002) ends (24), then the measurement starts
    ]);
  });

  it('keeps maxLimit and minLimit', () => {
    run(create({ maxLimit: 20 }), [
      ...measured,
      { at: 50, rttMs: 1, limit: 10 },
      { at: 102, rttMs: 1000, limit: 20 }, // [1]: 20 + 4.47, clamped
      { at: 202, rttMs: 1000, limit: 13 }, // [1000]: 0.5: 10 + 3.16
      { at: 302, rttMs: 1000, limit: 9 }, // 6.5 + 2.55
      { at: 402, rttMs: 1000, limit: 6 }, // 4.5 + 2.12
      { at: 502, rttMs: 1000, limit: 4 }, // 3 + 1.73
      { at: 602, rttMs: 1000, limit: 3 }, // 2 + 1.41
      { at: 702, rttMs: 1000, limit: 3 }, // 1.5 + 1.22 = 2.72, clamped to minLimit 3
    ]);
  });
});

describe('envoyGradient(): the minRTT measurement', () => {
  it('pins the limit at minConcurrency, counts only requests started since, then restores it', () => {
    run(create(), [
      ...measured, // the next measurement at 1002
      { at: 102, rttMs: 10, limit: 10 }, // [2, 102) was empty
      { at: 202, rttMs: 10, limit: 16 }, // 12.5 + 3.54
      { at: 1002, rttMs: 10, limit: 3 }, // [202, 302) ends (24), then measuring; started at 992
      { at: 1005, rttMs: 2, limit: 3 }, // started at 1003: 1 of 3
      { at: 1010, rttMs: 20, limit: 3 }, // started at 990: ignored
      { at: 1011, rttMs: 4, limit: 3 },
      { at: 1012, rttMs: 3, limit: 24 }, // minRtt = p50 of [2, 4, 3] = 3; the next at 2012
      { at: 1112, rttMs: 3, limit: 24 }, // [1012, 1112) was empty
      { at: 1212, rttMs: 3, limit: 35 }, // [3]: 1.25 → 30 + 5.48
      // Started before the measurement: ignored for good (counted, p50 would be 400: 21).
      { at: 1300, rttMs: 400, limit: 35 },
      { at: 1301, rttMs: 400, limit: 35 },
      { at: 1312, rttMs: 3, limit: 50 }, // [3]: 43.75 + 6.61
    ]);
  });

  it('the pinned limit is minConcurrency, within [minLimit, maxLimit]', () => {
    run(create({ minConcurrency: 5, minLimit: 2 }), [
      { at: 0, rttMs: 10, limit: 5 },
      { at: 1, rttMs: 10, limit: 5 },
      { at: 2, rttMs: 10, limit: 10 },
    ]);
    expect(create({ minConcurrency: 7 }).limit).toBe(7);
  });

  it('measures again at once after five windows in a row that find and leave it at minLimit', () => {
    run(create({ minLimit: 2, minRttCalcIntervalMs: 10_000 }), [
      ...measured,
      { at: 50, rttMs: 1000, limit: 10 },
      ...[7, 5, 4, 3, 2].map((limit, i) => ({ at: 102 + 100 * i, rttMs: 1000, limit })), // ×0.5
      { at: 602, rttMs: 1000, limit: 2 }, // 2 → 2 (1 + 1): the first
      { at: 702, rttMs: 1000, limit: 2 },
      { at: 802, rttMs: 1000, limit: 2 },
      { at: 902, rttMs: 1000, limit: 2 },
      { at: 1002, rttMs: 1000, limit: 3 }, // the fifth: measuring at minConcurrency 3
      { at: 1004, rttMs: 1, limit: 3 },
      { at: 1005, rttMs: 1, limit: 3 },
      { at: 1006, rttMs: 1, limit: 2 }, // minRtt 1, back to 2
    ]);
  });

  it('a window that brings the limit down to minLimit does not count toward the five', () => {
    run(create({ minLimit: 2, initialLimit: 3, minRttCalcIntervalMs: 10_000 }), [
      { at: 0, rttMs: 10, limit: 3 },
      { at: 1, rttMs: 10, limit: 3 },
      { at: 2, rttMs: 10, limit: 3 },
      { at: 50, rttMs: 1000, limit: 3 },
      { at: 102, rttMs: 1000, limit: 2 }, // 3 → 2: not counted
      ...[202, 302, 402, 502].map((at) => ({ at, rttMs: 1000, limit: 2 })), // 1 to 4
      { at: 602, rttMs: 1000, limit: 3 }, // the fifth
    ]);
  });
});

describe('envoyGradient(): jitter and random', () => {
  it('delays the next measurement by floor(random() · ceil(interval · jitter)) ms', () => {
    const draws: number[] = [];
    const g = create({
      jitter: 0.15,
      random: () => {
        draws.push(0.5);
        return 0.5;
      },
    });
    run(g, measured); // 1000 + floor(0.5 · 150): next at 2 + 1075 = 1077
    expect(draws).toHaveLength(1);
    run(g, [
      { at: 102, rttMs: 10, limit: 10 },
      { at: 1076, rttMs: 10, limit: 16 },
      { at: 1077, rttMs: 1, limit: 3 },
    ]);
    expect(draws).toHaveLength(1);
  });

  it('jitter 0.15 of 10 s spreads measurements over [10 s, 11.5 s)', () => {
    /** When the limit first drops to minConcurrency 3 (samples started 1 ms before: ignored). */
    const next = (draw: number): number => {
      const g = envoyGradient({
        minRttRequestCount: 1,
        minRttCalcIntervalMs: 10_000,
        initialLimit: 10,
        random: () => draw,
      });
      g.update({ rttMs: 1, inflight: 1, dropped: false }, 0);
      for (let t = 10_000; t < 12_000; t++) {
        if (g.update({ rttMs: 1, inflight: 1, dropped: false }, t) === 3) return t;
      }
      return Number.NaN;
    };
    expect(next(0)).toBe(10_000);
    expect(next(0.5)).toBe(10_750);
    expect(next(0.9999)).toBe(11_499);
  });

  it('does not call random when jitter is 0', () => {
    let calls = 0;
    const g = create({
      random: () => {
        calls++;
        return 0;
      },
    });
    run(g, measured);
    expect(calls).toBe(0);
  });
});

describe('envoyGradient(): drops', () => {
  it('ignores dropped samples: they neither count toward minRTT nor join a window', () => {
    run(create(), [
      { at: 0, rttMs: 10, limit: 3 },
      { at: 1, rttMs: 0, dropped: true, limit: 3 },
      { at: 2, rttMs: 10, limit: 3 },
      { at: 3, rttMs: 10, limit: 10 }, // the third good one (a counted drop: one row earlier)
      { at: 50, rttMs: 1000, dropped: true, limit: 10 },
      { at: 103, rttMs: 10, limit: 10 }, // [3, 103) was empty of good samples
    ]);
  });
});

describe('envoyGradient(): bad options and input', () => {
  const rows: [string, unknown, typeof RangeError | typeof TypeError, string][] = [
    [
      'options []',
      [],
      TypeError,
      'Expected `envoyGradient` to be an options object, got `[]` (array)',
    ],
    [
      'minLimit > maxLimit',
      { minLimit: 10, maxLimit: 5 },
      RangeError,
      'Expected `envoyGradient.minLimit` (10) to be at most `envoyGradient.maxLimit` (5)',
    ],
    [
      'initialLimit below minLimit (minConcurrency by default)',
      { initialLimit: 2 },
      RangeError,
      'Expected `envoyGradient.initialLimit` to be within [3, 1000], got `2` (number)',
    ],
    [
      'minConcurrency below minLimit',
      { minConcurrency: 3, minLimit: 4 },
      RangeError,
      'Expected `envoyGradient.minConcurrency` to be within [4, 1000] (minLimit, maxLimit), got `3` (number)',
    ],
    [
      'minConcurrency above maxLimit',
      { minConcurrency: 30, maxLimit: 20, minLimit: 1 },
      RangeError,
      'Expected `envoyGradient.minConcurrency` to be within [1, 20] (minLimit, maxLimit), got `30` (number)',
    ],
    [
      'minConcurrency 0',
      { minConcurrency: 0 },
      RangeError,
      'Expected `envoyGradient.minConcurrency` to be an integer from 1 up, got `0` (number)',
    ],
    ...[0, -1, Number.NaN, Number.POSITIVE_INFINITY, '60s'].map(
      (v): [string, unknown, typeof RangeError, string] => [
        `minRttCalcIntervalMs ${String(v)}`,
        { minRttCalcIntervalMs: v },
        RangeError,
        `Expected \`envoyGradient.minRttCalcIntervalMs\` to be a finite number of milliseconds above 0, got ${typeof v === 'string' ? `\`"${v}"\` (string)` : `\`${v}\` (number)`}`,
      ],
    ),
    [
      'sampleIntervalMs 0',
      { sampleIntervalMs: 0 },
      RangeError,
      'Expected `envoyGradient.sampleIntervalMs` to be a finite number of milliseconds above 0, got `0` (number)',
    ],
    ...[0, 2.5, Number.NaN].map((v): [string, unknown, typeof RangeError, string] => [
      `minRttRequestCount ${v}`,
      { minRttRequestCount: v },
      RangeError,
      `Expected \`envoyGradient.minRttRequestCount\` to be an integer from 1 up, got \`${v}\` (number)`,
    ]),
    ...[-0.1, 1.5, Number.NaN].map((v): [string, unknown, typeof RangeError, string] => [
      `jitter ${v}`,
      { jitter: v },
      RangeError,
      `Expected \`envoyGradient.jitter\` to be a number in [0, 1], got \`${v}\` (number)`,
    ]),
    [
      'jitter "15%"',
      { jitter: '15%' },
      RangeError,
      'Expected `envoyGradient.jitter` to be a number in [0, 1], got `"15%"` (string)',
    ],
    ...[-0.1, 25].map((v): [string, unknown, typeof RangeError, string] => [
      `minRttBuffer ${v}`,
      { minRttBuffer: v },
      RangeError,
      `Expected \`envoyGradient.minRttBuffer\` to be a number in [0, 1], got \`${v}\` (number)`,
    ]),
    ...[0, 50, Number.NaN].map((v): [string, unknown, typeof RangeError, string] => [
      `percentile ${v}`,
      { percentile: v },
      RangeError,
      `Expected \`envoyGradient.percentile\` to be a number in (0, 1], got \`${v}\` (number)`,
    ]),
    [
      'random 0.5',
      { random: 0.5 },
      TypeError,
      'Expected `envoyGradient.random` to be a function, got `0.5` (number)',
    ],
  ];

  it.each(rows)('%s', (_, options, errorClass, message) => {
    const error = caught(() => envoyGradient(options as EnvoyGradientOptions));
    expect(error).toBeInstanceOf(errorClass);
    expect(error.message).toBe(message);
  });

  it.each([1, -0.5, Number.NaN, '0.5'])('rejects random() returning %s', (draw) => {
    const g = create({ jitter: 0.1, random: () => draw as number });
    run(g, measured.slice(0, 2));
    const error = caught(() => g.update({ rttMs: 10, inflight: 1, dropped: false }, 2));
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toBe(
      `Expected \`envoyGradient.random\` to return a number in [0, 1), got \`${typeof draw === 'string' ? `"${draw}"` : draw}\` (${typeof draw})`,
    );
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, '5', undefined])(
    'rejects now = %s, and changes nothing',
    (now) => {
      const g = create();
      const error = caught(() =>
        g.update({ rttMs: 10, inflight: 1, dropped: false }, now as number),
      );
      expect(error).toBeInstanceOf(RangeError);
      expect(error.message).toMatch(
        /^Expected `now` given to `envoyGradient.update` to be a finite number, got `.*` \(\w+\)$/,
      );
      run(g, measured);
    },
  );

  it('rejects a bad sample, naming the field, and changes nothing', () => {
    const g = create();
    const error = caught(() => g.update({ rttMs: -1, inflight: 1, dropped: false }, 0));
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toBe(
      'Expected `sample.rttMs` given to `envoyGradient.update` to be a finite number from 0 up, got `-1` (number)',
    );
    run(g, measured);
  });
});

interface Step {
  readonly gap: number;
  readonly sample: Sample;
}

const stepArb: fc.Arbitrary<Step> = fc.record({
  gap: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 3000, noNaN: true })),
  sample: fc.record({
    rttMs: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 2000, noNaN: true })),
    inflight: fc.nat({ max: 3000 }),
    dropped: fc.boolean(),
  }),
});

interface Generated extends EnvoyGradientOptions {
  readonly minLimit: number;
  readonly maxLimit: number;
  /** What `random` returns, in turn. */
  readonly draws: number[];
}

const optionsArb: fc.Arbitrary<Generated> = fc.integer({ min: 1, max: 20 }).chain((minLimit) =>
  fc.integer({ min: minLimit, max: 500 }).chain((maxLimit) =>
    fc.record({
      minLimit: fc.constant(minLimit),
      maxLimit: fc.constant(maxLimit),
      minConcurrency: fc.integer({ min: minLimit, max: maxLimit }),
      initialLimit: fc.integer({ min: minLimit, max: maxLimit }),
      minRttCalcIntervalMs: fc.double({ min: 1, max: 5000, noNaN: true }),
      sampleIntervalMs: fc.double({ min: 1, max: 500, noNaN: true }),
      minRttRequestCount: fc.integer({ min: 1, max: 20 }),
      jitter: fc.double({ min: 0, max: 1, noNaN: true }),
      minRttBuffer: fc.double({ min: 0, max: 1, noNaN: true }),
      percentile: fc.double({ min: 0.01, max: 1, noNaN: true }),
      draws: fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), {
        minLength: 1,
      }),
    }),
  ),
);

/** Runs the steps from time 0; returns the limit after each. */
function limitsOf({ draws, ...options }: Generated, steps: readonly Step[]): number[] {
  let i = 0;
  const g = envoyGradient({ ...options, random: () => draws[i++ % draws.length]! });
  let now = 0;
  return steps.map((step) => {
    now += step.gap;
    return g.update(step.sample, now);
  });
}

describe('envoyGradient(): properties', () => {
  it('the limit is always an integer in [minLimit, maxLimit]', () => {
    fc.assert(
      fc.property(optionsArb, fc.array(stepArb, { maxLength: 300 }), (options, steps) => {
        for (const limit of limitsOf(options, steps)) {
          expect(Number.isInteger(limit)).toBe(true);
          expect(limit).toBeGreaterThanOrEqual(options.minLimit);
          expect(limit).toBeLessThanOrEqual(options.maxLimit);
        }
      }),
      { numRuns: propRuns(200) },
    );
  });

  it('is deterministic: the same samples, times and random numbers give the same limits', () => {
    fc.assert(
      fc.property(optionsArb, fc.array(stepArb, { maxLength: 300 }), (options, steps) => {
        expect(limitsOf(options, steps)).toEqual(limitsOf(options, steps));
      }),
      { numRuns: propRuns(100) },
    );
  });
});
