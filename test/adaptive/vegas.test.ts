/**
 * vegas() in Netflix VegasLimitTest's style: one line per sample, each with the limit it must
 * give. `random` is injected everywhere, so probes come when the table says. Both probes
 * (Netflix's, and the pinned default), alpha and beta as constants and as functions, and the
 * probe measured before and after on the simulated backend. Then bad options and samples,
 * determinism, and a property: the limit is an integer in [minLimit, maxLimit].
 *
 * Reading a row: rttNoLoad is the lowest RTT so far, queue = ceil(L · (1 − rttNoLoad / rttMs)),
 * log = max(1, floor(log10(floor(L)))); queue ≤ log → L + beta; queue < alpha → L + log;
 * queue > beta → L − log; a drop → L − log; alpha = 3·log and beta = 6·log unless given.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LimitAlgorithm } from '../../src/adaptive/types.js';
import { type VegasOptions, vegas } from '../../src/adaptive/vegas.js';
import { windowed } from '../../src/adaptive/windowed.js';
import {
  badBoundsRows,
  type ErrorRow,
  limitAlwaysInBounds,
  runRows,
  sampleArb,
} from '../support/algorithm.js';
import { quantile, seeded, simulate } from '../support/backend.js';
import { caught } from '../support/errors.js';
import { propRuns } from '../support/prop.js';

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
    runRows(vegas({ initialLimit: 10_000, maxLimit: 20_000, random: zero }), [
      { rttMs: 10_000, inflight: 5000, limit: 10_000 }, // sets rttNoLoad
      { rttMs: 10_000, inflight: 6000, limit: 10_024 },
    ]);
  });

  it('increaseLimit', () => {
    runRows(create(), [
      { rttMs: 10, inflight: 10, limit: 10 },
      { rttMs: 10, inflight: 11, limit: 16 }, // queue 0
    ]);
  });

  it('decreaseLimit', () => {
    runRows(create(), [
      { rttMs: 10, inflight: 10, limit: 10 },
      { rttMs: 50, inflight: 11, limit: 9 }, // queue ceil(10 · 0.8) = 8 > 6
    ]);
  });

  it('noChangeIfWithinThresholds', () => {
    runRows(create(), [
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
    runRows(create(), [
      { rttMs: 10, inflight: 10, limit: 10 },
      { rttMs: 12, inflight: 10, limit: 11 }, // queue ceil(1.67) = 2 < 3
      { rttMs: 13, inflight: 11, limit: 11 }, // queue ceil(2.54) = 3
      { rttMs: 10, inflight: 11, limit: 17 },
      { rttMs: 10, inflight: 17, limit: 20 }, // 23, clamped
    ]);
  });

  it('makes no change while app-limited (inflight · 2 < limit)', () => {
    runRows(create(), [
      { rttMs: 10, inflight: 4, limit: 10 },
      { rttMs: 10, inflight: 4, limit: 10 }, // 8 < 10
      { rttMs: 100, inflight: 4, limit: 10 }, // even with a long queue
      { rttMs: 10, inflight: 5, limit: 16 }, // 10 ≥ 10
    ]);
  });

  it('lowers the limit by log on a drop, before any RTT is known and whatever the load', () => {
    runRows(create(), [
      { rttMs: 10, inflight: 10, dropped: true, limit: 9 },
      { rttMs: 10, inflight: 1, dropped: true, limit: 8 },
    ]);
  });

  it("never takes a dropped sample's RTT as rttNoLoad", () => {
    runRows(create(), [
      { rttMs: 10, inflight: 10, limit: 10 },
      { rttMs: 1, inflight: 10, dropped: true, limit: 9 }, // a fast rejection
      // rttNoLoad is still 10, so no queue; had it become 1, queue 9 > 6 would lower the limit.
      { rttMs: 10, inflight: 9, limit: 15 },
    ]);
  });

  it('ignores a sample with rttMs 0 unless it is dropped', () => {
    runRows(create(), [
      { rttMs: 0, inflight: 10, limit: 10 },
      { rttMs: 10, inflight: 10, limit: 10 }, // sets rttNoLoad: the 0 did not
      { rttMs: 10, inflight: 10, limit: 16 },
      { rttMs: 0, inflight: 16, dropped: true, limit: 15 },
    ]);
  });

  it('steps by log = floor(log10(limit)) above 1000, and by 2 just under it', () => {
    runRows(vegas({ initialLimit: 1000, maxLimit: 2000, random: zero }), [
      { rttMs: 10, inflight: 1000, limit: 1000 },
      { rttMs: 10, inflight: 1000, dropped: true, limit: 997 }, // log10(1000) = 3
      { rttMs: 10, inflight: 1000, limit: 1009 }, // + 6·2
    ]);
  });

  it('keeps minLimit', () => {
    runRows(create({ initialLimit: 5, minLimit: 5 }), [
      { rttMs: 10, inflight: 5, dropped: true, limit: 5 }, // 4, clamped
      { rttMs: 10, inflight: 5, dropped: true, limit: 5 },
      { rttMs: 10, inflight: 5, limit: 5 }, // sets rttNoLoad
      { rttMs: 10, inflight: 5, limit: 11 },
    ]);
  });
});

describe('vegas(): smoothing keeps a fractional estimate; the limit is its floor', () => {
  it('moves half way with smoothing 0.5', () => {
    runRows(vegas({ initialLimit: 100, maxLimit: 200, smoothing: 0.5, random: zero }), [
      { rttMs: 10, inflight: 100, limit: 100 },
      { rttMs: 20, inflight: 100, limit: 99 }, // queue 50 > 12: toward 98, L = 99
      { rttMs: 20, inflight: 100, limit: 98 }, // log is 1 at 99: toward 98, L = 98.5
      { rttMs: 10, inflight: 100, limit: 101 }, // toward 104.5, L = 101.5
    ]);
  });

  it('compares inflight with the fractional estimate, as Netflix does', () => {
    runRows(create({ smoothing: 0.5 }), [
      { rttMs: 10, inflight: 10, limit: 10 },
      { rttMs: 12, inflight: 10, limit: 10 }, // toward 11: L = 10.5
      { rttMs: 10, inflight: 5, limit: 10 }, // 10 < 10.5: app-limited (not if L were 10)
      { rttMs: 10, inflight: 6, limit: 13 }, // toward 16.5: L = 13.5
    ]);
  });
});

describe("vegas(): Netflix's probe (probe: 'netflix')", () => {
  // These rows were the default's before the pinned probe; they now pin Netflix's behaviour,
  // which `probe: 'netflix'` keeps exactly.
  /** Probes every probeMultiplier · L · jitter samples; with multiplier 1 and L = 4, soon. */
  const probing = (random: () => number): LimitAlgorithm =>
    vegas({ initialLimit: 4, maxLimit: 20, probeMultiplier: 1, random, probe: 'netflix' });

  it('a probe sample becomes rttNoLoad even when slower, and moves nothing', () => {
    runRows(probing(zero), [
      { rttMs: 10, inflight: 4, limit: 4 }, // 1 sample < 0.5 · 4: sets rttNoLoad 10
      { rttMs: 20, inflight: 4, limit: 4 }, // 2 ≥ 2: probe, rttNoLoad 20
      { rttMs: 20, inflight: 4, limit: 10 }, // no queue against 20 (against 10: queue 2, → 5)
      { rttMs: 20, inflight: 10, limit: 16 }, // 2 < 5
      { rttMs: 20, inflight: 16, limit: 20 }, // 3 < 8; 22 clamped
    ]);
  });

  it('the jitter comes from `random`: near 1 it puts the probe later', () => {
    runRows(
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
    runRows(probing(zero), [
      { rttMs: 10, inflight: 4, limit: 4 },
      { rttMs: 20, inflight: 4, dropped: true, limit: 3 }, // 2 ≥ 2, but dropped
      { rttMs: 30, inflight: 3, limit: 3 }, // 3 ≥ 1.5: probe, rttNoLoad 30
      { rttMs: 30, inflight: 3, limit: 9 },
    ]);
  });
});

describe("vegas(): the pinned probe (the default, probe: 'pinned')", () => {
  /** As above, with the default probe: due after 2 samples at L = 4. */
  const probing = (random: () => number, options: VegasOptions = {}): LimitAlgorithm =>
    vegas({ initialLimit: 4, maxLimit: 20, probeMultiplier: 1, random, ...options });

  it('pins the limit at minLimit until a request that started alone ends; its RTT is rttNoLoad', () => {
    runRows(probing(zero), [
      { rttMs: 10, inflight: 4, limit: 4 }, // 1 < 2: sets rttNoLoad 10
      { rttMs: 20, inflight: 4, limit: 1 }, // 2 ≥ 2: due; 4 in flight may have queued: pin
      { rttMs: 30, inflight: 3, limit: 1 }, // started before the pin: moves nothing
      { rttMs: 5, inflight: 2, limit: 1 }, // faster, but not alone: not a new minimum either
      { rttMs: 15, inflight: 1, limit: 4 }, // started alone: rttNoLoad 15, the limit returns
      { rttMs: 15, inflight: 4, limit: 10 }, // no queue against 15: + 6
    ]);
  });

  it('a drop while pinned lowers the limit that comes back', () => {
    runRows(probing(zero), [
      { rttMs: 10, inflight: 4, limit: 4 },
      { rttMs: 20, inflight: 4, limit: 1 }, // pinned
      { rttMs: 20, inflight: 3, dropped: true, limit: 1 }, // the estimate 4 → 3
      { rttMs: 12, inflight: 1, limit: 3 }, // rttNoLoad 12; back to 3
    ]);
  });

  it('takes a qualifying sample at once, without pinning (a quiet period)', () => {
    runRows(probing(zero), [
      { rttMs: 10, inflight: 1, limit: 4 }, // sets rttNoLoad 10
      { rttMs: 20, inflight: 1, limit: 4 }, // due and started alone: rttNoLoad 20 (slower)
      { rttMs: 20, inflight: 4, limit: 10 }, // no queue against 20: + 6
    ]);
  });

  it('pins at minLimit, whatever it is', () => {
    runRows(probing(zero, { minLimit: 2 }), [
      { rttMs: 10, inflight: 4, limit: 4 },
      { rttMs: 20, inflight: 3, limit: 2 }, // due; 3 > minLimit 2: pin at 2
      { rttMs: 14, inflight: 2, limit: 4 }, // 2 ≤ 2: rttNoLoad 14
    ]);
  });

  it('calls `random` once per completed probe, not when it pins', () => {
    let calls = 0;
    const v = probing(() => {
      calls++;
      return 0;
    });
    expect(calls).toBe(1);
    v.update({ rttMs: 10, inflight: 4, dropped: false }, 0);
    v.update({ rttMs: 20, inflight: 4, dropped: false }, 10); // pins
    expect(v.limit).toBe(1);
    expect(calls).toBe(1);
    v.update({ rttMs: 12, inflight: 1, dropped: false }, 20); // the probe's sample
    expect(calls).toBe(2);
    expect(v.limit).toBe(4);
  });
});

describe('vegas(): alpha and beta', () => {
  it("constants, as Netflix's alpha(int) and beta(int): grow by beta at no queue, hold up to beta", () => {
    runRows(create({ alpha: 1, beta: 2 }), [
      { rttMs: 10, inflight: 10, limit: 10 }, // sets rttNoLoad
      { rttMs: 12, inflight: 10, limit: 10 }, // queue ceil(1.67) = 2: not > beta 2, hold
      { rttMs: 14, inflight: 10, limit: 9 }, // queue ceil(2.86) = 3 > 2: − log
      { rttMs: 10, inflight: 9, limit: 11 }, // queue 0 ≤ log 1: + beta 2
    ]);
  });

  it("functions of the limit, as Netflix's alpha(Function): a queue of 10–20 % of it", () => {
    const asked: number[] = [];
    const alpha = (limit: number): number => {
      asked.push(limit);
      return limit / 10;
    };
    const beta = (limit: number): number => limit / 5;
    runRows(vegas({ initialLimit: 100, maxLimit: 200, alpha, beta, random: zero }), [
      { rttMs: 10, inflight: 100, limit: 100 }, // sets rttNoLoad
      { rttMs: 11, inflight: 100, limit: 100 }, // queue 10: not < alpha 10, not > beta 20
      { rttMs: 10.5, inflight: 100, limit: 102 }, // queue 5 < 10: + log 2
      { rttMs: 14, inflight: 102, limit: 100 }, // queue ceil(29.1) = 30 > 20.4: − 2
      { rttMs: 10, inflight: 100, limit: 120 }, // queue 0 ≤ 2: + beta(100) = 20
    ]);
    expect(asked).toEqual([100, 100, 102, 100]);
  });

  it('a function that answers something other than a finite number from 0 up throws', () => {
    for (const answer of [Number.NaN, -1, Number.POSITIVE_INFINITY]) {
      const v = create({ beta: () => answer });
      v.update({ rttMs: 10, inflight: 10, dropped: false }, 0);
      const error = caught(() => v.update({ rttMs: 20, inflight: 10, dropped: false }, 10));
      expect(error).toBeInstanceOf(RangeError);
      expect(error.message).toBe(
        `Expected \`vegas.beta\` to return a finite number from 0 up, got \`${answer}\` (number)`,
      );
      expect(v.limit).toBe(10);
    }
  });
});

describe('vegas(): the probe, measured on the simulated backend (test/support/backend.ts)', () => {
  // The figures of vegas.ts's doc comment: N workers, ±10 % jitter, unlimited demand, workers
  // halved at 2000·S; the mean limit over [1000·S, 2000·S) and over [3000·S, 4000·S).
  const S = 2;
  const measure = (algorithm: LimitAlgorithm, workers: number) => {
    const { limits, latencies } = simulate({
      algorithm,
      workers,
      serviceMs: S,
      durationMs: 4000 * S,
      halveAtMs: 2000 * S,
      seed: 1,
    });
    const mean = (from: number, to: number): number => {
      const xs = limits.filter(([t]) => t >= from * S && t < to * S).map(([, l]) => l);
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    };
    const p99 = quantile(
      latencies.filter(([t]) => t >= 1000 * S && t < 2000 * S).map(([, l]) => l / S),
      0.99,
    );
    return { before: mean(1000, 2000), after: mean(3000, 4000), p99 };
  };
  const tenth = (limit: number): number => Math.max(1, Math.floor(limit / 10));
  const fifth = (limit: number): number => Math.max(1, Math.floor(limit / 5));
  const tuned = (probe: 'pinned' | 'netflix'): LimitAlgorithm =>
    windowed(
      vegas({
        initialLimit: 2,
        alpha: tenth,
        beta: fifth,
        smoothing: 0.5,
        random: seeded(7),
        probe,
      }),
      { windowMs: 2 * S, minSamples: 1 },
    );

  it("with Netflix's probe the limit misses the halving; pinned, it follows (16 workers → 8)", () => {
    const netflix = measure(tuned('netflix'), 16);
    const pinned = measure(tuned('pinned'), 16);
    expect(netflix.after).toBeGreaterThan(16); // 17.8: the probe adopted queued RTTs
    expect(pinned.before).toBeGreaterThan(16); // 18.7
    expect(pinned.before).toBeLessThan(20);
    expect(pinned.after).toBeGreaterThan(8); // 8.8
    expect(pinned.after).toBeLessThan(10);
  });

  it('defaults, one update per sample, 4 workers: the pinned probe halves the queue kept', () => {
    const netflix = measure(vegas({ random: seeded(7), probe: 'netflix' }), 4);
    const pinned = measure(vegas({ random: seeded(7) }), 4);
    expect(netflix.before).toBeGreaterThan(12); // 14.3: ratcheted up by probes
    expect(netflix.p99).toBeGreaterThan(6); // 7.5·S
    expect(pinned.before).toBeLessThan(9); // 7.8 = N + 3..6, alpha..beta
    expect(pinned.p99).toBeLessThan(3.5); // 3.3·S
  });
});

describe('vegas(): bad options', () => {
  const rows: ErrorRow[] = [
    [
      'options "fast"',
      'fast',
      TypeError,
      'Expected `vegas` to be an options object, got `"fast"` (string)',
    ],
    ...badBoundsRows('vegas'),
    [
      'initialLimit 2.5',
      { initialLimit: 2.5 },
      RangeError,
      'Expected `vegas.initialLimit` to be an integer from 1 up, got `2.5` (number)',
    ],
    ...[0, 1.5, -1, Number.NaN, Number.POSITIVE_INFINITY].map(
      (v): ErrorRow => [
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
    ...[0, 1.5, Number.NaN].map(
      (v): ErrorRow => [
        `probeMultiplier ${v}`,
        { probeMultiplier: v },
        RangeError,
        `Expected \`vegas.probeMultiplier\` to be an integer from 1 up, got \`${v}\` (number)`,
      ],
    ),
    [
      'random 0.5',
      { random: 0.5 },
      TypeError,
      'Expected `vegas.random` to be a function, got `0.5` (number)',
    ],
    ...[-1, 1.5, Number.NaN, '3'].map(
      (v): ErrorRow => [
        `alpha ${String(v)}`,
        { alpha: v },
        RangeError,
        `Expected \`vegas.alpha\` to be an integer from 0 up or a function of the limit, got ${typeof v === 'string' ? `\`"${v}"\` (string)` : `\`${v}\` (number)`}`,
      ],
    ),
    [
      'beta 0.5',
      { beta: 0.5 },
      RangeError,
      'Expected `vegas.beta` to be an integer from 0 up or a function of the limit, got `0.5` (number)',
    ],
    [
      'beta below alpha',
      { alpha: 2, beta: 1 },
      RangeError,
      'Expected `vegas.beta` (1) to be at least `vegas.alpha` (2)',
    ],
    [
      "probe 'bbr'",
      { probe: 'bbr' },
      RangeError,
      "Expected `vegas.probe` to be one of 'pinned', 'netflix', got `\"bbr\"` (string)",
    ],
    ...[1, -0.1, Number.NaN].map(
      (v): ErrorRow => [
        `random returning ${v}`,
        { random: () => v },
        RangeError,
        `Expected \`vegas.random\` to return a number in [0, 1), got \`${v}\` (number)`,
      ],
    ),
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
    runRows(v, [
      { rttMs: 10, inflight: 10, limit: 10 },
      { rttMs: 10, inflight: 10, limit: 16 },
    ]);
  });
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
      probe: fc.constantFrom('pinned' as const, 'netflix' as const),
      alpha: fc.option(fc.integer({ min: 0, max: 10 }), { nil: undefined }),
      beta: fc.option(fc.integer({ min: 10, max: 30 }), { nil: undefined }),
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
    fc.assert(limitAlwaysInBounds(vegas, optionsArb), { numRuns: propRuns(200) });
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
