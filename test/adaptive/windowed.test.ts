/**
 * windowed(): one line per sample, each saying at what time it comes and which aggregated sample
 * (if any) the inner algorithm gets then. The inner algorithm is a recorder, so the rows show
 * exactly what windowed() feeds it. Then windowed(aimd()) end to end, bad options, and
 * properties: with windowMs 0 the windows are consecutive runs of minSamples samples, and the
 * limit stays an integer in [minLimit, maxLimit].
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aimd } from '../../src/adaptive/aimd.js';
import type { LimitAlgorithm, Sample } from '../../src/adaptive/types.js';
import { vegas } from '../../src/adaptive/vegas.js';
import { type WindowedOptions, windowed } from '../../src/adaptive/windowed.js';
import { caught } from '../support/errors.js';
import { propRuns } from '../support/prop.js';

/** An inner algorithm that records what it is fed; its limit is 1 + the number of samples. */
interface Recorder extends LimitAlgorithm {
  readonly fed: { readonly sample: Sample; readonly now: number }[];
}

function recorder(): Recorder {
  const fed: { sample: Sample; now: number }[] = [];
  return {
    name: 'recorder',
    fed,
    get limit(): number {
      return fed.length + 1;
    },
    update(sample, now): number {
      fed.push({ sample, now });
      return fed.length + 1;
    },
  };
}

/** A sample at `at`, and what the inner algorithm gets then (nothing if `fed` is absent). */
interface Row {
  readonly at: number;
  readonly rttMs: number;
  readonly inflight?: number;
  readonly dropped?: boolean;
  readonly fed?: Sample;
}

/** Feeds the rows in order; checks what reached the inner algorithm after each. */
function run(options: WindowedOptions, rows: readonly Row[]): void {
  const inner = recorder();
  const w = windowed(inner, options);
  rows.forEach((row, i) => {
    const before = inner.fed.length;
    const sample = { rttMs: row.rttMs, inflight: row.inflight ?? 1, dropped: row.dropped ?? false };
    const answer = w.update(sample, row.at);
    const label = `row ${i}: ${JSON.stringify(row)}`;
    if (row.fed === undefined) {
      expect(inner.fed.length, label).toBe(before);
    } else {
      expect(inner.fed.slice(before), label).toEqual([{ sample: row.fed, now: row.at }]);
    }
    expect(answer, label).toBe(inner.limit);
    expect(w.limit, label).toBe(inner.limit);
  });
}

describe('windowed(): one line per sample', () => {
  it('feeds the mean RTT, the largest inflight and any drop once minSamples and windowMs are in', () => {
    run({ windowMs: 100, minSamples: 3 }, [
      { at: 0, rttMs: 10, inflight: 1 }, // the window starts at 0
      { at: 50, rttMs: 20, inflight: 3 },
      { at: 99, rttMs: 30, inflight: 2 }, // 3 samples, but only 99 ms
      { at: 100, rttMs: 40, dropped: true, fed: { rttMs: 25, inflight: 3, dropped: true } },
      { at: 150, rttMs: 5 }, // a new window starts at 150
      { at: 300, rttMs: 5, inflight: 7 }, // 150 ms, but 2 samples
      { at: 301, rttMs: 8, fed: { rttMs: 6, inflight: 7, dropped: false } },
    ]);
  });

  it('has the documented defaults: 10 samples over 1000 ms, the mean', () => {
    const rows: Row[] = [];
    for (let i = 0; i < 10; i++) rows.push({ at: i * 10, rttMs: i + 1 }); // 10 samples in 90 ms
    rows.push({ at: 999, rttMs: 11 });
    rows.push({ at: 1000, rttMs: 12, fed: { rttMs: 6.5, inflight: 1, dropped: false } });
    rows.push({ at: 1100, rttMs: 1 }); // the next window starts at 1100
    for (let i = 0; i < 8; i++) rows.push({ at: 2200 + i * 100, rttMs: 1 }); // 9 samples, 1.8 s
    rows.push({ at: 3000, rttMs: 1, fed: { rttMs: 1, inflight: 1, dropped: false } });
    run({}, rows);
  });

  it('with windowMs 0, closes every minSamples samples, whatever the clock says', () => {
    run({ windowMs: 0, minSamples: 2 }, [
      { at: 5, rttMs: 10 },
      { at: 5, rttMs: 20, fed: { rttMs: 15, inflight: 1, dropped: false } },
      { at: 4, rttMs: 1 },
      { at: 4, rttMs: 3, fed: { rttMs: 2, inflight: 1, dropped: false } },
    ]);
  });

  it('waits, however long, for a window short of samples', () => {
    run({ windowMs: 10, minSamples: 2 }, [
      { at: 0, rttMs: 10 },
      { at: 1_000_000, rttMs: 30, fed: { rttMs: 20, inflight: 1, dropped: false } },
    ]);
  });

  it.each([
    [0.5, 20], // the 2nd of 4
    [0.51, 30], // ceil(2.04) = 3rd
    [0.9, 40],
    [1, 40],
    [0.01, 10], // Netflix's round(0.04) − 1 would be −1
  ])(
    'feeds percentile %d of [40, 10, 30, 20] as %d: the ceil(n·p)-th smallest',
    (percentile, rtt) => {
      run({ windowMs: 0, minSamples: 4, aggregate: { percentile } }, [
        { at: 0, rttMs: 40 },
        { at: 1, rttMs: 10 },
        { at: 2, rttMs: 30 },
        { at: 3, rttMs: 20, fed: { rttMs: rtt, inflight: 1, dropped: false } },
      ]);
    },
  );

  it('starts each percentile window afresh', () => {
    run({ windowMs: 0, minSamples: 2, aggregate: { percentile: 1 } }, [
      { at: 0, rttMs: 100 },
      { at: 1, rttMs: 50, fed: { rttMs: 100, inflight: 1, dropped: false } },
      { at: 2, rttMs: 7 },
      { at: 3, rttMs: 9, fed: { rttMs: 9, inflight: 1, dropped: false } },
    ]);
  });

  it('is named after the inner algorithm and answers its limit', () => {
    const inner = aimd({ initialLimit: 7 });
    const w = windowed(inner);
    expect(w.name).toBe('windowed(aimd)');
    expect(w.limit).toBe(7);
    expect(windowed(vegas()).name).toBe('windowed(vegas)');
  });

  it('empties the window before calling the inner algorithm, even when it throws', () => {
    const failing: LimitAlgorithm = {
      name: 'failing',
      limit: 3,
      update: () => {
        throw new Error('inner failed');
      },
    };
    const w = windowed(failing, { windowMs: 0, minSamples: 2 });
    const sample: Sample = { rttMs: 1, inflight: 1, dropped: false };
    w.update(sample, 0);
    expect(caught(() => w.update(sample, 1)).message).toBe('inner failed');
    expect(w.update(sample, 2)).toBe(3); // one sample in a fresh window: not fed
  });
});

describe('windowed(aimd()) end to end', () => {
  it('moves AIMD once per window: +1 for a busy window, × 0.9 for one with a drop', () => {
    const w = windowed(aimd({ initialLimit: 10 }), { windowMs: 100, minSamples: 3 });
    const ok: Sample = { rttMs: 5, inflight: 6, dropped: false };
    const rows: [at: number, sample: Sample, limit: number][] = [
      [0, ok, 10],
      [40, ok, 10],
      [80, ok, 10],
      [100, ok, 11], // 4 samples, max inflight 6: 12 ≥ 10
      [150, { ...ok, dropped: true }, 11],
      [200, ok, 11],
      [250, ok, 9], // a drop in the window: floor(9.9)
    ];
    for (const [at, sample, limit] of rows) expect(w.update(sample, at), `at ${at}`).toBe(limit);
  });
});

describe('windowed(): bad arguments', () => {
  const rows: [string, unknown, unknown, typeof RangeError | typeof TypeError, string][] = [
    ...[5, null, undefined, { name: 'x' }, { update: () => 1 }].map(
      (algorithm): [string, unknown, unknown, typeof TypeError, string] => [
        `algorithm ${JSON.stringify(algorithm) ?? 'undefined'}`,
        algorithm,
        undefined,
        TypeError,
        'Expected `windowed.algorithm` to be a limit algorithm (an object with `name`, `limit` and `update`, like aimd()), got',
      ],
    ),
    [
      'options 1000',
      aimd(),
      1000,
      TypeError,
      'Expected `windowed` to be an options object, got `1000` (number)',
    ],
    ...[-1, Number.NaN, Number.POSITIVE_INFINITY, '1000'].map(
      (v): [string, unknown, unknown, typeof RangeError, string] => [
        `windowMs ${String(v)}`,
        aimd(),
        { windowMs: v },
        RangeError,
        'Expected `windowed.windowMs` to be a finite number of milliseconds from 0 up, got',
      ],
    ),
    [
      'minSamples 0',
      aimd(),
      { minSamples: 0 },
      RangeError,
      'Expected `windowed.minSamples` to be an integer from 1 up, got `0` (number)',
    ],
    [
      'minSamples 2.5',
      aimd(),
      { minSamples: 2.5 },
      RangeError,
      'Expected `windowed.minSamples` to be an integer from 1 up, got `2.5` (number)',
    ],
    [
      "aggregate 'median'",
      aimd(),
      { aggregate: 'median' },
      RangeError,
      'Expected `windowed.aggregate` to be one of \'mean\', got `"median"` (string)',
    ],
    ...[0, 95, -0.5, Number.NaN, '0.9', undefined].map(
      (v): [string, unknown, unknown, typeof RangeError, string] => [
        `percentile ${String(v)}`,
        aimd(),
        { aggregate: { percentile: v } },
        RangeError,
        'Expected `windowed.aggregate.percentile` to be a number in (0, 1], got',
      ],
    ),
    [
      'aggregate 0.9',
      aimd(),
      { aggregate: 0.9 },
      TypeError,
      "Expected `windowed.aggregate` to be 'mean' or { percentile } with percentile in (0, 1], got `0.9` (number)",
    ],
  ];

  it.each(rows)('%s', (_, algorithm, options, errorClass, message) => {
    const error = caught(() => windowed(algorithm as LimitAlgorithm, options as WindowedOptions));
    expect(error).toBeInstanceOf(errorClass);
    expect(error.message.startsWith(message), error.message).toBe(true);
  });

  it('shows the value received', () => {
    expect(caught(() => windowed(aimd(), { windowMs: -1 })).message).toMatch(
      /got `-1` \(number\)$/,
    );
    expect(caught(() => windowed(aimd(), { aggregate: { percentile: 95 } })).message).toMatch(
      /got `95` \(number\)$/,
    );
    expect(caught(() => windowed(5 as unknown as LimitAlgorithm)).message).toMatch(
      /got `5` \(number\)$/,
    );
  });

  it('rejects a bad sample or a bad `now`, naming it, and keeps the window as it was', () => {
    const inner = recorder();
    const w = windowed(inner, { windowMs: 0, minSamples: 2 });
    const ok: Sample = { rttMs: 10, inflight: 1, dropped: false };
    w.update(ok, 0);
    const badSample = caught(() => w.update({ rttMs: 1, inflight: -1, dropped: false }, 1));
    expect(badSample).toBeInstanceOf(RangeError);
    expect(badSample.message).toBe(
      'Expected `sample.inflight` given to `windowed(recorder).update` to be a finite number from 0 up, got `-1` (number)',
    );
    const badNow = caught(() => w.update(ok, Number.NaN));
    expect(badNow).toBeInstanceOf(RangeError);
    expect(badNow.message).toBe(
      'Expected `now` given to `windowed(recorder).update` to be a finite number, got `NaN` (number)',
    );
    w.update({ rttMs: 20, inflight: 1, dropped: false }, 2);
    expect(inner.fed).toEqual([{ sample: { rttMs: 15, inflight: 1, dropped: false }, now: 2 }]);
  });
});

const sampleArb: fc.Arbitrary<Sample> = fc.record({
  rttMs: fc.double({ min: 0, max: 1e4, noNaN: true }),
  inflight: fc.nat({ max: 3000 }),
  dropped: fc.boolean(),
});

describe('windowed(): properties', () => {
  it('with windowMs 0, feeds each run of minSamples samples, aggregated', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.option(fc.double({ min: 0.01, max: 1, noNaN: true }), { nil: undefined }),
        fc.array(sampleArb, { maxLength: 100 }),
        (minSamples, percentile, samples) => {
          const inner = recorder();
          const aggregate = percentile === undefined ? 'mean' : { percentile };
          const w = windowed(inner, { windowMs: 0, minSamples, aggregate });
          samples.forEach((s, i) => {
            w.update(s, i);
          });

          const runs = Math.floor(samples.length / minSamples);
          expect(inner.fed).toHaveLength(runs);
          inner.fed.forEach(({ sample }, k) => {
            const chunk = samples.slice(k * minSamples, (k + 1) * minSamples);
            const rtts = chunk.map((s) => s.rttMs).sort((a, b) => a - b);
            const expectedRtt =
              percentile === undefined
                ? rtts.reduce((sum, r) => sum + r, 0) / rtts.length
                : rtts[Math.ceil(rtts.length * percentile) - 1];
            expect(sample.rttMs).toBeCloseTo(expectedRtt as number, 6);
            expect(sample.inflight).toBe(Math.max(...chunk.map((s) => s.inflight)));
            expect(sample.dropped).toBe(chunk.some((s) => s.dropped));
          });
        },
      ),
      { numRuns: propRuns(200) },
    );
  });

  it('windowed(aimd) and windowed(vegas) keep the limit an integer in [minLimit, maxLimit], deterministically', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 200 }),
        fc.array(fc.tuple(sampleArb, fc.integer({ min: 0, max: 100 })), { maxLength: 300 }),
        (minLimit, spread, steps) => {
          const maxLimit = minLimit + spread;
          const make = (): LimitAlgorithm[] => [
            windowed(aimd({ minLimit, maxLimit }), { windowMs: 50, minSamples: 3 }),
            windowed(vegas({ minLimit, maxLimit, random: () => 0.25 }), {
              windowMs: 50,
              minSamples: 3,
              aggregate: { percentile: 0.9 },
            }),
          ];
          const first = make();
          const second = make();
          let now = 0;
          for (const [sample, gap] of steps) {
            now += gap;
            first.forEach((w, j) => {
              const answer = w.update(sample, now);
              expect(Number.isInteger(answer)).toBe(true);
              expect(answer).toBeGreaterThanOrEqual(minLimit);
              expect(answer).toBeLessThanOrEqual(maxLimit);
              expect(second[j]?.update(sample, now)).toBe(answer);
            });
          }
        },
      ),
      { numRuns: propRuns(150) },
    );
  });
});
