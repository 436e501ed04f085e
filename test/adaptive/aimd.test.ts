/**
 * aimd() in Netflix AIMDLimitTest's style: one line per sample, each with the limit it must
 * give. Then bad options and bad samples (the message names the option and shows the value),
 * determinism, and a property: the limit is an integer in [minLimit, maxLimit] whatever comes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AimdOptions, aimd } from '../../src/adaptive/aimd.js';
import type { Sample } from '../../src/adaptive/types.js';
import {
  badBoundsRows,
  type ErrorRow,
  limitAlwaysInBounds,
  runRows,
} from '../support/algorithm.js';
import { caught } from '../support/errors.js';
import { propRuns } from '../support/prop.js';

describe('aimd(): Netflix AIMDLimitTest', () => {
  it('starts at initialLimit', () => {
    expect(aimd({ initialLimit: 10 }).limit).toBe(10);
  });

  it('increases on success', () => {
    runRows(aimd({ initialLimit: 10 }), [{ rttMs: 1, inflight: 10, limit: 11 }]);
  });

  it('decreases on drops', () => {
    runRows(aimd({ initialLimit: 10 }), [{ rttMs: 1, inflight: 1, dropped: true, limit: 9 }]);
  });
});

describe('aimd(): one line per sample', () => {
  it('has the documented defaults: 20 in [1, 1000], name aimd', () => {
    const a = aimd();
    expect(a.name).toBe('aimd');
    expect(a.limit).toBe(20);
    // Drops reach 1 only because minLimit defaults to 1 (Netflix's 20 would stop them at 20).
    for (let i = 0; i < 40; i++) a.update({ rttMs: 1, inflight: 1, dropped: true }, i);
    expect(a.limit).toBe(1);
    for (let i = 0; i < 2000; i++) a.update({ rttMs: 1, inflight: 5000, dropped: false }, i);
    expect(a.limit).toBe(1000);
  });

  it('adds 1 while inflight · 2 ≥ limit, holds when app-limited, stops at maxLimit', () => {
    runRows(aimd({ initialLimit: 10, maxLimit: 12 }), [
      { rttMs: 5, inflight: 5, limit: 11 }, // 10 ≥ 10
      { rttMs: 5, inflight: 5, limit: 11 }, // 10 < 11: app-limited
      { rttMs: 5, inflight: 6, limit: 12 }, // 12 ≥ 11
      { rttMs: 5, inflight: 12, limit: 12 }, // maxLimit
      { rttMs: 5, inflight: 0, limit: 12 },
    ]);
  });

  it('multiplies by backoffRatio on a drop and floors the result', () => {
    runRows(aimd({ initialLimit: 12 }), [
      { rttMs: 5, inflight: 12, dropped: true, limit: 10 }, // 10.8
      { rttMs: 5, inflight: 10, dropped: true, limit: 9 }, // 9
      { rttMs: 5, inflight: 9, dropped: true, limit: 8 }, // 8.1
      { rttMs: 5, inflight: 1, dropped: true, limit: 7 }, // a drop counts even when app-limited
      { rttMs: 5, inflight: 4, limit: 8 },
    ]);
  });

  it('takes a custom backoffRatio', () => {
    runRows(aimd({ initialLimit: 16, backoffRatio: 0.5 }), [
      { rttMs: 5, inflight: 16, dropped: true, limit: 8 },
      { rttMs: 5, inflight: 8, dropped: true, limit: 4 },
      { rttMs: 5, inflight: 4, dropped: true, limit: 2 },
      { rttMs: 5, inflight: 2, dropped: true, limit: 1 },
      { rttMs: 5, inflight: 1, dropped: true, limit: 1 }, // floor(0.5) = 0, clamped to 1
    ]);
  });

  it('never goes below minLimit: a backend with 4 workers', () => {
    runRows(aimd({ initialLimit: 5, minLimit: 4 }), [
      { rttMs: 5, inflight: 5, dropped: true, limit: 4 }, // 4.5
      { rttMs: 5, inflight: 4, dropped: true, limit: 4 }, // 3.6, clamped
      { rttMs: 5, inflight: 2, limit: 5 },
    ]);
  });

  it('counts a sample slower than timeoutMs as a drop (strictly slower)', () => {
    runRows(aimd({ initialLimit: 10, timeoutMs: 100 }), [
      { rttMs: 100, inflight: 10, limit: 11 },
      { rttMs: 100.5, inflight: 11, limit: 9 }, // 9.9
      { rttMs: 99, inflight: 9, limit: 10 },
    ]);
  });

  it('has no timeout by default: only `dropped` lowers the limit', () => {
    runRows(aimd({ initialLimit: 10 }), [
      { rttMs: 3_600_000, inflight: 10, limit: 11 },
      { rttMs: Number.MAX_VALUE, inflight: 11, limit: 12 },
    ]);
  });

  it('ignores `now`', () => {
    const a = aimd({ initialLimit: 10 });
    a.update({ rttMs: 1, inflight: 10, dropped: false }, 1e12);
    a.update({ rttMs: 1, inflight: 11, dropped: false }, -5);
    expect(a.limit).toBe(12);
  });
});

describe('aimd(): bad options', () => {
  const rows: ErrorRow[] = [
    ['options 5', 5, TypeError, 'Expected `aimd` to be an options object, got `5` (number)'],
    ...badBoundsRows('aimd'),
    [
      'minLimit 0',
      { minLimit: 0 },
      RangeError,
      'Expected `aimd.minLimit` to be an integer from 1 up, got `0` (number)',
    ],
    [
      'maxLimit NaN',
      { maxLimit: Number.NaN },
      RangeError,
      'Expected `aimd.maxLimit` to be an integer from 1 up, got `NaN` (number)',
    ],
    [
      'initialLimit "10"',
      { initialLimit: '10' },
      RangeError,
      'Expected `aimd.initialLimit` to be an integer from 1 up, got `"10"` (string)',
    ],
    ...[0, 1, 1.5, -0.5, Number.NaN].map(
      (v): ErrorRow => [
        `backoffRatio ${v}`,
        { backoffRatio: v },
        RangeError,
        `Expected \`aimd.backoffRatio\` to be a number in (0, 1), got \`${v}\` (number)`,
      ],
    ),
    [
      'backoffRatio "0.5"',
      { backoffRatio: '0.5' },
      RangeError,
      'Expected `aimd.backoffRatio` to be a number in (0, 1), got `"0.5"` (string)',
    ],
    ...[0, -1, Number.NaN].map(
      (v): ErrorRow => [
        `timeoutMs ${v}`,
        { timeoutMs: v },
        RangeError,
        `Expected \`aimd.timeoutMs\` to be a number of milliseconds above 0 (or Infinity), got \`${v}\` (number)`,
      ],
    ),
  ];

  it.each(rows)('%s', (_, options, errorClass, message) => {
    const error = caught(() => aimd(options as AimdOptions));
    expect(error).toBeInstanceOf(errorClass);
    expect(error.message).toBe(message);
  });

  it('accepts the edges: backoffRatio just under 1, timeoutMs Infinity, min = max', () => {
    expect(aimd({ backoffRatio: 0.999, timeoutMs: Number.POSITIVE_INFINITY }).limit).toBe(20);
    expect(aimd({ minLimit: 7, maxLimit: 7 }).limit).toBe(7); // the default 20 moved inside
  });
});

describe('aimd(): bad samples', () => {
  const rows: ErrorRow[] = [
    [
      'null',
      null,
      TypeError,
      'Expected the sample given to `aimd.update` to be an object { rttMs, inflight, dropped }, got `null` (null)',
    ],
    ...[-1, Number.NaN, Number.POSITIVE_INFINITY].map(
      (v): ErrorRow => [
        `rttMs ${v}`,
        { rttMs: v, inflight: 1, dropped: false },
        RangeError,
        `Expected \`sample.rttMs\` given to \`aimd.update\` to be a finite number from 0 up, got \`${v}\` (number)`,
      ],
    ),
    [
      'inflight -1',
      { rttMs: 1, inflight: -1, dropped: false },
      RangeError,
      'Expected `sample.inflight` given to `aimd.update` to be a finite number from 0 up, got `-1` (number)',
    ],
    [
      'inflight "3"',
      { rttMs: 1, inflight: '3', dropped: false },
      RangeError,
      'Expected `sample.inflight` given to `aimd.update` to be a finite number from 0 up, got `"3"` (string)',
    ],
    [
      'dropped "yes"',
      { rttMs: 1, inflight: 1, dropped: 'yes' },
      TypeError,
      'Expected `sample.dropped` given to `aimd.update` to be a boolean, got `"yes"` (string)',
    ],
  ];

  it.each(rows)('%s', (_, sample, errorClass, message) => {
    const a = aimd({ initialLimit: 10 });
    const error = caught(() => a.update(sample as Sample, 0));
    expect(error).toBeInstanceOf(errorClass);
    expect(error.message).toBe(message);
    expect(a.limit).toBe(10); // a bad sample changes nothing
  });
});

const sampleArb: fc.Arbitrary<Sample> = fc.record({
  rttMs: fc.double({ min: 0, max: 1e5, noNaN: true }),
  inflight: fc.nat({ max: 3000 }),
  dropped: fc.boolean(),
});

const optionsArb: fc.Arbitrary<AimdOptions> = fc.integer({ min: 1, max: 50 }).chain((minLimit) =>
  fc.integer({ min: minLimit, max: 1200 }).chain((maxLimit) =>
    fc.record({
      minLimit: fc.constant(minLimit),
      maxLimit: fc.constant(maxLimit),
      initialLimit: fc.integer({ min: minLimit, max: maxLimit }),
      backoffRatio: fc.double({ min: 0.01, max: 0.99, noNaN: true }),
      timeoutMs: fc.oneof(fc.constant(Number.POSITIVE_INFINITY), fc.integer({ min: 1, max: 1e5 })),
    }),
  ),
);

describe('aimd(): properties', () => {
  it('the limit is always an integer in [minLimit, maxLimit]', () => {
    fc.assert(limitAlwaysInBounds(aimd, optionsArb, sampleArb), { numRuns: propRuns(200) });
  });

  it('is deterministic: the same samples give the same limits', () => {
    fc.assert(
      fc.property(optionsArb, fc.array(sampleArb, { maxLength: 200 }), (options, samples) => {
        const first = aimd(options);
        const second = aimd(options);
        const a = samples.map((s, i) => first.update(s, i));
        const b = samples.map((s, i) => second.update(s, i * 7 + 3));
        expect(b).toEqual(a);
      }),
      { numRuns: propRuns(100) },
    );
  });
});
