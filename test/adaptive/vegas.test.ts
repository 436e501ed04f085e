/**
 * vegas() in Netflix VegasLimitTest's style: one line per sample, each with the limit it must
 * give. `random` is injected everywhere, so probes come when the table says. Then bad options
 * and samples, determinism, and a property: the limit is an integer in [minLimit, maxLimit].
 *
 * Reading a row: rttNoLoad is the lowest RTT so far, queue = ceil(L · (1 − rttNoLoad / rttMs)),
 * log = max(1, floor(log10(floor(L)))); queue ≤ log → L + 6·log; queue < 3·log → L + log;
 * queue > 6·log → L − log; a drop → L − log.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LimitAlgorithm, Sample } from '../../src/adaptive/types.js';
import { type VegasOptions, vegas } from '../../src/adaptive/vegas.js';
import { caught } from '../support/errors.js';
import { propRuns } from '../support/prop.js';

/** One sample and the limit after it. `dropped` defaults to false. */
interface Row {
  readonly rttMs: number;
  readonly inflight: number;
  readonly dropped?: boolean;
  readonly limit: number;
}

/** Feeds the rows in order, 10 ms apart; after each, the answer and `limit` must be the row's. */
function run(algorithm: LimitAlgorithm, rows: readonly Row[]): void {
  rows.forEach((row, i) => {
    const answer = algorithm.update(
      { rttMs: row.rttMs, inflight: row.inflight, dropped: row.dropped ?? false },
      i * 10,
    );
    expect(answer, `row ${i}: ${JSON.stringify(row)}`).toBe(row.limit);
    expect(algorithm.limit, `row ${i}: limit`).toBe(row.limit);
  });
}

/** Jitter 0.5: with the default probeMultiplier of 30, no probe before 15 · limit samples. */
const zero = (): number => 0;

/** Netflix's `create()`: alpha 3 and beta 6 are what the defaults give for limits 10–99. */
function create(options: VegasOptions = {}): LimitAlgorithm {
  return vegas({ initialLimit: 10, maxLimit: 20, smoothing: 1, random: zero, ...options });
}

describe('vegas(): Netflix VegasLimitTest', () => {
  it('initialLimit', () => {
    expect(create().limit).toBe(10);
  });

  it('largeLimitIncrease: log is 4 at 10 000, so the limit grows by 6·4', () => {
    run(vegas({ initialLimit: 10_000, maxLimit: 20_000, random: zero }), [
      { rttMs: 10_000, inflight: 5000, limit: 10_000 }, // sets rttNoLoad
      { rttMs: 10_000, inflight: 6000, limit: 10_024 },
    ]);
  });

  it('increaseLimit', () => {
    run(create(), [
      { rttMs: 10, inflight: 10, limit: 10 },
      { rttMs: 10, inflight: 11, limit: 16 }, // queue 0
    ]);
  });

  it('decreaseLimit', () => {
    run(create(), [
      { rttMs: 10, inflight: 10, limit: 10 },
      { rttMs: 50, inflight: 11, limit: 9 }, // queue ceil(10 · 0.8) = 8 > 6
    ]);
  });

  it('noChangeIfWithinThresholds', () => {
    run(create(), [
      { rttMs: 10, inflight: 10, limit: 10 },
      { rttMs: 14, inflight: 14, limit: 10 }, // queue ceil(2.86) = 3: not < 3, not > 6
    ]);
  });
});

describe('vegas(): one line per sample', () => {
  it('has the documented defaults: 20 in [1, 1000], name vegas', () => {
    const v = vegas({ random: zero });
    expect(v.name).toBe('vegas');
    expect(v.limit).toBe(20);
    for (let i = 0; i < 40; i++) v.update({ rttMs: 10, inflight: 1, dropped: true }, i);
    expect(v.limit).toBe(1);
    v.update({ rttMs: 10, inflight: 1, dropped: false }, 0); // sets rttNoLoad
    for (let i = 0; i < 3000; i++) v.update({ rttMs: 10, inflight: 5000, dropped: false }, i);
    expect(v.limit).toBe(1000);
  });

  it('grows by log within alpha, holds between alpha and beta, stops at maxLimit', () => {
    run(create(), [
      { rttMs: 10, inflight: 10, limit: 10 },
      { rttMs: 12, inflight: 10, limit: 11 }, // queue ceil(1.67) = 2 < 3
      { rttMs: 13, inflight: 11, limit: 11 }, // queue ceil(2.54) = 3
      { rttMs: 10, inflight: 11, limit: 17 },
      { rttMs: 10, inflight: 17, limit: 20 }, // 23, clamped
    ]);
  });

  it('makes no change while app-limited (inflight · 2 < limit)', () => {
    run(create(), [
      { rttMs: 10, inflight: 4, limit: 10 },
      { rttMs: 10, inflight: 4, limit: 10 }, // 8 < 10
      { rttMs: 100, inflight: 4, limit: 10 }, // even with a long queue
      { rttMs: 10, inflight: 5, limit: 16 }, // 10 ≥ 10
    ]);
  });

  it('lowers the limit by log on a drop, before any RTT is known and whatever the load', () => {
    run(create(), [
      { rttMs: 10, inflight: 10, dropped: true, limit: 9 },
      { rttMs: 10, inflight: 1, dropped: true, limit: 8 },
    ]);
  });

  it("never takes a dropped sample's RTT as rttNoLoad", () => {
    run(create(), [
      { rttMs: 10, inflight: 10, limit: 10 },
      { rttMs: 1, inflight: 10, dropped: true, limit: 9 }, // a fast rejection
      // rttNoLoad is still 10, so no queue; had it become 1, queue 9 > 6 would lower the limit.
      { rttMs: 10, inflight: 9, limit: 15 },
    ]);
  });

  it('ignores a sample with rttMs 0 unless it is dropped', () => {
    run(create(), [
      { rttMs: 0, inflight: 10, limit: 10 },
      { rttMs: 10, inflight: 10, limit: 10 }, // sets rttNoLoad: the 0 did not
      { rttMs: 10, inflight: 10, limit: 16 },
      { rttMs: 0, inflight: 16, dropped: true, limit: 15 },
    ]);
  });

  it('steps by log = floor(log10(limit)) above 1000, and by 2 just under it', () => {
    run(vegas({ initialLimit: 1000, maxLimit: 2000, random: zero }), [
      { rttMs: 10, inflight: 1000, limit: 1000 },
      { rttMs: 10, inflight: 1000, dropped: true, limit: 997 }, // log10(1000) = 3
      { rttMs: 10, inflight: 1000, limit: 1009 }, // + 6·2
    ]);
  });

  it('keeps minLimit', () => {
    run(create({ initialLimit: 5, minLimit: 5 }), [
      { rttMs: 10, inflight: 5, dropped: true, limit: 5 }, // 4, clamped
      { rttMs: 10, inflight: 5, dropped: true, limit: 5 },
      { rttMs: 10, inflight: 5, limit: 5 }, // sets rttNoLoad
      { rttMs: 10, inflight: 5, limit: 11 },
    ]);
  });
});

describe('vegas(): smoothing keeps a fractional estimate; the limit is its floor', () => {
  it('moves half way with smoothing 0.5', () => {
    run(vegas({ initialLimit: 100, maxLimit: 200, smoothing: 0.5, random: zero }), [
      { rttMs: 10, inflight: 100, limit: 100 },
      { rttMs: 20, inflight: 100, limit: 99 }, // queue 50 > 12: toward 98, L = 99
      { rttMs: 20, inflight: 100, limit: 98 }, // log is 1 at 99: toward 98, L = 98.5
      { rttMs: 10, inflight: 100, limit: 101 }, // toward 104.5, L = 101.5
    ]);
  });

  it('compares inflight with the fractional estimate, as Netflix does', () => {
    run(create({ smoothing: 0.5 }), [
      { rttMs: 10, inflight: 10, limit: 10 },
      { rttMs: 12, inflight: 10, limit: 10 }, // toward 11: L = 10.5
      { rttMs: 10, inflight: 5, limit: 10 }, // 10 < 10.5: app-limited (not if L were 10)
      { rttMs: 10, inflight: 6, limit: 13 }, // toward 16.5: L = 13.5
    ]);
  });
});

describe('vegas(): probing rttNoLoad', () => {
  /** Probes every probeMultiplier · L · jitter samples; with multiplier 1 and L = 4, soon. */
  const probing = (random: () => number): LimitAlgorithm =>
    vegas({ initialLimit: 4, maxLimit: 20, probeMultiplier: 1, random });

  it('a probe sample becomes rttNoLoad even when slower, and moves nothing', () => {
    run(probing(zero), [
      { rttMs: 10, inflight: 4, limit: 4 }, // 1 sample < 0.5 · 4: sets rttNoLoad 10
      { rttMs: 20, inflight: 4, limit: 4 }, // 2 ≥ 2: probe, rttNoLoad 20
      { rttMs: 20, inflight: 4, limit: 10 }, // no queue against 20 (against 10: queue 2, → 5)
      { rttMs: 20, inflight: 10, limit: 16 }, // 2 < 5
      { rttMs: 20, inflight: 16, limit: 20 }, // 3 < 8; 22 clamped
    ]);
  });

  it('the jitter comes from `random`: near 1 it puts the probe later', () => {
    run(
      probing(() => 0.99),
      [
        { rttMs: 10, inflight: 4, limit: 4 },
        { rttMs: 20, inflight: 4, limit: 5 }, // 2 < 3.98: no probe; queue 2 < 3
      ],
    );
  });

  it('calls `random` once at construction and once per probe', () => {
    let calls = 0;
    const v = probing(() => {
      calls++;
      return 0;
    });
    expect(calls).toBe(1);
    v.update({ rttMs: 10, inflight: 4, dropped: false }, 0);
    expect(calls).toBe(1);
    v.update({ rttMs: 20, inflight: 4, dropped: false }, 10); // the probe
    expect(calls).toBe(2);
  });

  it('a drop does not probe: the probe waits for the next good sample', () => {
    run(probing(zero), [
      { rttMs: 10, inflight: 4, limit: 4 },
      { rttMs: 20, inflight: 4, dropped: true, limit: 3 }, // 2 ≥ 2, but dropped
      { rttMs: 30, inflight: 3, limit: 3 }, // 3 ≥ 1.5: probe, rttNoLoad 30
      { rttMs: 30, inflight: 3, limit: 9 },
    ]);
  });
});

describe('vegas(): bad options', () => {
  const rows: [string, unknown, typeof RangeError | typeof TypeError, string][] = [
    [
      'options "fast"',
      'fast',
      TypeError,
      'Expected `vegas` to be an options object, got `"fast"` (string)',
    ],
    [
      'minLimit > maxLimit',
      { minLimit: 10, maxLimit: 5 },
      RangeError,
      'Expected `vegas.minLimit` (10) to be at most `vegas.maxLimit` (5)',
    ],
    [
      'initialLimit above maxLimit',
      { initialLimit: 50, maxLimit: 40 },
      RangeError,
      'Expected `vegas.initialLimit` to be within [1, 40], got `50` (number)',
    ],
    [
      'initialLimit 2.5',
      { initialLimit: 2.5 },
      RangeError,
      'Expected `vegas.initialLimit` to be an integer from 1 up, got `2.5` (number)',
    ],
    ...[0, 1.5, -1, Number.NaN, Number.POSITIVE_INFINITY].map(
      (v): [string, unknown, typeof RangeError, string] => [
        `smoothing ${v}`,
        { smoothing: v },
        RangeError,
        `Expected \`vegas.smoothing\` to be a number in (0, 1], got \`${v}\` (number)`,
      ],
    ),
    [
      'smoothing "1"',
      { smoothing: '1' },
      RangeError,
      'Expected `vegas.smoothing` to be a number in (0, 1], got `"1"` (string)',
    ],
    ...[0, 1.5, Number.NaN].map((v): [string, unknown, typeof RangeError, string] => [
      `probeMultiplier ${v}`,
      { probeMultiplier: v },
      RangeError,
      `Expected \`vegas.probeMultiplier\` to be an integer from 1 up, got \`${v}\` (number)`,
    ]),
    [
      'random 0.5',
      { random: 0.5 },
      TypeError,
      'Expected `vegas.random` to be a function, got `0.5` (number)',
    ],
    ...[1, -0.1, Number.NaN].map((v): [string, unknown, typeof RangeError, string] => [
      `random returning ${v}`,
      { random: () => v },
      RangeError,
      `Expected \`vegas.random\` to return a number in [0, 1), got \`${v}\` (number)`,
    ]),
  ];

  it.each(rows)('%s', (_, options, errorClass, message) => {
    const error = caught(() => vegas(options as VegasOptions));
    expect(error).toBeInstanceOf(errorClass);
    expect(error.message).toBe(message);
  });

  it('rejects a bad sample, naming the field, and changes nothing', () => {
    const v = create();
    const error = caught(() => v.update({ rttMs: Number.NaN, inflight: 1, dropped: false }, 0));
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toBe(
      'Expected `sample.rttMs` given to `vegas.update` to be a finite number from 0 up, got `NaN` (number)',
    );
    run(v, [
      { rttMs: 10, inflight: 10, limit: 10 },
      { rttMs: 10, inflight: 10, limit: 16 },
    ]);
  });
});

const sampleArb: fc.Arbitrary<Sample> = fc.record({
  rttMs: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1e5, noNaN: true })),
  inflight: fc.nat({ max: 3000 }),
  dropped: fc.boolean(),
});

/** Valid options, with `random` cycling through a list of numbers in [0, 1). */
const optionsArb: fc.Arbitrary<VegasOptions> = fc.integer({ min: 1, max: 50 }).chain((minLimit) =>
  fc.integer({ min: minLimit, max: 1200 }).chain((maxLimit) =>
    fc.record({
      minLimit: fc.constant(minLimit),
      maxLimit: fc.constant(maxLimit),
      initialLimit: fc.integer({ min: minLimit, max: maxLimit }),
      smoothing: fc.double({ min: 0.01, max: 1, noNaN: true }),
      probeMultiplier: fc.integer({ min: 1, max: 40 }),
      random: fc
        .array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1 })
        .map((numbers) => {
          let i = 0;
          return () => numbers[i++ % numbers.length] as number;
        }),
    }),
  ),
);

describe('vegas(): properties', () => {
  it('the limit is always an integer in [minLimit, maxLimit]', () => {
    fc.assert(
      fc.property(optionsArb, fc.array(sampleArb, { maxLength: 300 }), (options, samples) => {
        const v = vegas(options);
        samples.forEach((sample, i) => {
          const answer = v.update(sample, i);
          expect(Number.isInteger(answer)).toBe(true);
          expect(answer).toBe(v.limit);
          expect(answer).toBeGreaterThanOrEqual(options.minLimit as number);
          expect(answer).toBeLessThanOrEqual(options.maxLimit as number);
        });
      }),
      { numRuns: propRuns(200) },
    );
  });

  it('is deterministic: the same samples and random numbers give the same limits', () => {
    fc.assert(
      fc.property(
        optionsArb,
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1 }),
        fc.array(sampleArb, { maxLength: 300 }),
        (options, numbers, samples) => {
          const make = (): LimitAlgorithm => {
            let i = 0;
            return vegas({ ...options, random: () => numbers[i++ % numbers.length] as number });
          };
          const first = make();
          const second = make();
          const a = samples.map((s, i) => first.update(s, i));
          const b = samples.map((s, i) => second.update(s, i * 7 + 3));
          expect(b).toEqual(a);
        },
      ),
      { numRuns: propRuns(100) },
    );
  });
});
