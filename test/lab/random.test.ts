import { describe, expect, it } from 'vitest';
import {
  arrivalSchedule,
  createRandom,
  durationSampler,
  meanOf,
  rateOf,
} from '../../src/lab/random.js';

function draws(random: () => number, n: number): number[] {
  return Array.from({ length: n }, () => random());
}

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

describe('createRandom', () => {
  it('gives the same numbers for the same seed and stream', () => {
    expect(draws(createRandom(42, 3), 100)).toEqual(draws(createRandom(42, 3), 100));
  });

  it('gives unrelated numbers for other seeds and streams', () => {
    const a = draws(createRandom(42, 3), 20);
    expect(draws(createRandom(43, 3), 20)).not.toEqual(a);
    expect(draws(createRandom(42, 4), 20)).not.toEqual(a);
    expect(draws(createRandom(42 + 2 ** 32, 3), 20)).not.toEqual(a); // the high bits count
    expect(draws(createRandom(-42, 3), 20)).not.toEqual(a);
  });

  it('draws in [0, 1), evenly', () => {
    const values = draws(createRandom(7), 100_000);
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
    expect(mean(values)).toBeCloseTo(0.5, 2);
    const deciles = new Array<number>(10).fill(0);
    for (const v of values) deciles[Math.floor(v * 10)] = (deciles[Math.floor(v * 10)] ?? 0) + 1;
    for (const count of deciles) expect(Math.abs(count - 10_000)).toBeLessThan(500);
  });

  it('rejects a seed that is not a safe integer', () => {
    expect(() => createRandom(1.5)).toThrow(RangeError);
    expect(() => createRandom(2 ** 60)).toThrow(RangeError);
  });
});

describe('durationSampler', () => {
  const n = 200_000;

  it.each([
    [{ kind: 'constant', ms: 300 } as const, 300],
    [{ kind: 'uniform', minMs: 10, maxMs: 30 } as const, 20],
    [{ kind: 'exponential', meanMs: 50 } as const, 50],
    [{ kind: 'lognormal', medianMs: 20, sigma: 0.5 } as const, 20 * Math.exp(0.125)],
  ])('draws %j with mean %d', (duration, expectedMean) => {
    const sample = durationSampler(duration, createRandom(1));
    const values = Array.from({ length: n }, sample);
    expect(meanOf(duration)).toBeCloseTo(expectedMean, 9);
    expect(Math.abs(mean(values) / expectedMean - 1)).toBeLessThan(0.01);
    expect(values.every((v) => v >= 0)).toBe(true);
  });

  it('keeps uniform draws within their bounds and log-normal draws around their median', () => {
    const uniform = Array.from(
      { length: 10_000 },
      durationSampler({ kind: 'uniform', minMs: 10, maxMs: 30 }, createRandom(2)),
    );
    expect(Math.min(...uniform)).toBeGreaterThanOrEqual(10);
    expect(Math.max(...uniform)).toBeLessThan(30);
    const lognormal = Array.from(
      { length: 10_001 },
      durationSampler({ kind: 'lognormal', medianMs: 20, sigma: 0.5 }, createRandom(3)),
    ).sort((a, b) => a - b);
    expect(Math.abs((lognormal[5000] as number) / 20 - 1)).toBeLessThan(0.03);
  });
});

describe('arrivalSchedule', () => {
  function times(schedule: { next(): number }, n: number): number[] {
    return Array.from({ length: n }, () => schedule.next());
  }

  it('constant: one every intervalMs from 0', () => {
    const s = arrivalSchedule({ kind: 'constant', intervalMs: 100 }, createRandom(1));
    expect(times(s, 4)).toEqual([0, 100, 200, 300]);
  });

  it('bursts: evenly spaced within each on-period, nothing in the off-period', () => {
    const s = arrivalSchedule(
      { kind: 'bursts', ratePerSec: 10, onMs: 300, offMs: 700 },
      createRandom(1),
    );
    expect(times(s, 7)).toEqual([0, 100, 200, 1000, 1100, 1200, 2000]);
  });

  it('bursts shorter than one gap still send one item per burst', () => {
    const s = arrivalSchedule(
      { kind: 'bursts', ratePerSec: 1, onMs: 10, offMs: 90 },
      createRandom(1),
    );
    expect(times(s, 3)).toEqual([0, 100, 200]);
  });

  it('poisson: exponential gaps at the given rate, first one gap in', () => {
    const s = arrivalSchedule({ kind: 'poisson', ratePerSec: 200 }, createRandom(5));
    const t = times(s, 100_000);
    expect(t[0]).toBeGreaterThan(0);
    expect(t.every((x, i) => i === 0 || x >= (t[i - 1] as number))).toBe(true);
    expect(Math.abs((t.length * 1000) / (t.at(-1) as number) / 200 - 1)).toBeLessThan(0.01);
  });

  it('trace: its own times, then Infinity', () => {
    const s = arrivalSchedule({ kind: 'trace', timesMs: [0, 5, 5, 40] }, createRandom(1));
    expect(times(s, 6)).toEqual([0, 5, 5, 40, Infinity, Infinity]);
  });

  it('rateOf gives the mean rate of each kind', () => {
    expect(rateOf({ kind: 'constant', intervalMs: 100 })).toBe(10);
    expect(rateOf({ kind: 'poisson', ratePerSec: 7 })).toBe(7);
    expect(rateOf({ kind: 'bursts', ratePerSec: 10, onMs: 1000, offMs: 3000 })).toBe(2.5);
    expect(rateOf({ kind: 'trace', timesMs: [0, 500, 1000] })).toBe(2);
    expect(rateOf({ kind: 'trace', timesMs: [0] })).toBe(0);
  });
});
