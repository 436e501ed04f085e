/**
 * The creep of Netflix's Gradient2 under sustained overload, measured, and the default baseline
 * that stops it. A ManualClock drives a backend of N workers with a fixed service time and a
 * FIFO queue (RTT = queueing + service once more than N are in flight) and a client that keeps
 * `limit` requests in flight: every completion feeds one sample, then the client tops up to the
 * new limit. Nothing is random, so every figure below is exact and reproducible.
 *
 * Figures (service 10 ms; "2nd half" is over the last half of the samples):
 *
 *   4 workers, defaults, initialLimit 4, one update per sample, 20 000 samples
 *     baseline 'netflix'      2nd half mean 47.8, swinging 16..88
 *     baseline 'uncongested'  10 from sample ~200 on (= 1.5 · 4 + 4)
 *   4 workers, defaults, initialLimit 4, windowed 100 ms, 100 000 samples
 *     'netflix'      53, 160, 463, 963 at each quarter: no end but maxLimit
 *     'uncongested'  10 throughout
 *   8 workers, rttTolerance 1, queueSize 1, initialLimit 8, windowed 100 ms, 200 000 samples
 *     'netflix'      11, 13, 15, 18 at each quarter, still rising
 *     'uncongested'  9 throughout (N + queueSize: within 25 % of N)
 *   4 workers, defaults (initialLimit 20), windowed 100 ms, 100 000 samples
 *     'netflix'      114, 334, 808, 1000
 *     'uncongested'  34: bounded, but the baseline was learned with 20 in flight (5 × the
 *                    no-load RTT), so the limit settles at 1.5 · 4 · 5 + 4
 */
import { describe, expect, it } from 'vitest';
import { type Gradient2Options, gradient2 } from '../../src/adaptive/gradient2.js';
import type { LimitAlgorithm } from '../../src/adaptive/types.js';
import { windowed } from '../../src/adaptive/windowed.js';
import { ManualClock } from '../../src/testing/index.js';

const SERVICE_MS = 10;

interface Request {
  readonly startedAt: number;
  /** In flight when it started, itself included. */
  readonly inflight: number;
}

/**
 * Runs the closed loop until `samples` requests have completed; returns the limit after each.
 * The backend serves `workers` requests at a time, in arrival order, each for SERVICE_MS.
 */
function simulate(algorithm: LimitAlgorithm, workers: number, samples: number): number[] {
  const clock = new ManualClock();
  const queue: Request[] = [];
  let head = 0; // queue[head..] wait for a worker
  let busy = 0;
  let inflight = 0;
  const limits: number[] = [];

  const serve = (): void => {
    while (busy < workers && head < queue.length) {
      const request = queue[head++]!;
      busy++;
      clock.setTimer(() => complete(request), SERVICE_MS);
    }
  };
  const topUp = (): void => {
    while (inflight < algorithm.limit) {
      inflight++;
      queue.push({ startedAt: clock.now(), inflight });
    }
    serve();
  };
  const complete = (request: Request): void => {
    busy--;
    inflight--;
    const sample = { rttMs: clock.now() - request.startedAt, inflight: request.inflight };
    limits.push(algorithm.update({ ...sample, dropped: false }, clock.now()));
    topUp();
  };

  topUp();
  while (limits.length < samples) clock.advanceTo(clock.nextTimerAt!);
  return limits.slice(0, samples);
}

/** Gradient2 with `options`, fed once per sample or once per 100 ms window. */
function run(
  baseline: 'netflix' | 'uncongested',
  { workers, samples, window, options }: Scenario,
): number[] {
  const algorithm = gradient2({ ...options, baseline });
  const fed = window ? windowed(algorithm, { windowMs: 100, minSamples: 10 }) : algorithm;
  return simulate(fed, workers, samples);
}

interface Scenario {
  readonly workers: number;
  readonly samples: number;
  readonly window: boolean;
  readonly options: Gradient2Options;
}

const secondHalf = (limits: number[]): number[] => limits.slice(limits.length / 2);
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const max = (xs: number[]): number => xs.reduce((a, b) => Math.max(a, b), -Infinity);
const min = (xs: number[]): number => xs.reduce((a, b) => Math.min(a, b), Infinity);
/** The limit at the end of each quarter of the run. */
const quarters = (xs: number[]): number[] => [1, 2, 3, 4].map((k) => xs[(xs.length * k) / 4 - 1]!);

describe('gradient2 against N workers under sustained overload', () => {
  it('4 workers, one update per sample: Netflix creeps to 12 × N; the default holds 1.5 · N + 4', () => {
    const scenario: Scenario = {
      workers: 4,
      samples: 20_000,
      window: false,
      options: { initialLimit: 4 },
    };
    const netflix = secondHalf(run('netflix', scenario));
    expect(mean(netflix)).toBeGreaterThan(10 * 4); // 47.8
    expect(max(netflix)).toBeGreaterThan(20 * 4); // 88

    const fixed = run('uncongested', scenario);
    expect(max(fixed)).toBeLessThanOrEqual(12);
    expect(new Set(secondHalf(fixed))).toEqual(new Set([10]));
  });

  it('4 workers, windowed: Netflix grows without end (to maxLimit); the default holds 10', () => {
    const scenario: Scenario = {
      workers: 4,
      samples: 100_000,
      window: true,
      options: { initialLimit: 4 },
    };
    const netflix = quarters(run('netflix', scenario));
    expect(netflix).toEqual([...netflix].sort((a, b) => a - b)); // 53, 160, 463, 963
    expect(netflix[3]).toBeGreaterThan(100 * 4);

    expect(new Set(secondHalf(run('uncongested', scenario)))).toEqual(new Set([10]));
  });

  it('8 workers, rttTolerance 1 and queueSize 1: the default stays within 25 % of N', () => {
    const scenario: Scenario = {
      workers: 8,
      samples: 200_000,
      window: true,
      options: { initialLimit: 8, rttTolerance: 1, queueSize: 1 },
    };
    const netflix = quarters(run('netflix', scenario)); // 11, 13, 15, 18
    for (let i = 1; i < 4; i++) expect(netflix[i]!).toBeGreaterThan(netflix[i - 1]!);
    expect(netflix[3]!).toBeGreaterThanOrEqual(2 * 8);

    const fixed = secondHalf(run('uncongested', scenario));
    expect(min(fixed)).toBeGreaterThanOrEqual(8);
    expect(max(fixed)).toBeLessThanOrEqual(1.25 * 8); // 9 throughout
  });

  it('the limit the default settles at is rttTolerance · N + queueSize, give or take one', () => {
    const settled = (workers: number, options: Gradient2Options): number[] =>
      secondHalf(run('uncongested', { workers, samples: 60_000, window: true, options }));
    const check = (limits: number[], target: number): void => {
      expect(min(limits)).toBeGreaterThanOrEqual(Math.floor(target) - 1);
      expect(max(limits)).toBeLessThanOrEqual(Math.floor(target) + 1);
    };
    check(settled(32, {}), 1.5 * 32 + 4); // 52..53
    check(settled(16, { rttTolerance: 1.2, queueSize: 2, initialLimit: 16 }), 1.2 * 16 + 2); // 21..22
  });

  it('a start far above capacity: the baseline is inflated and the limit settles high, bounded', () => {
    const scenario: Scenario = { workers: 4, samples: 100_000, window: true, options: {} };
    expect(quarters(run('netflix', scenario))[3]).toBe(1000); // maxLimit
    // Warm-up with 20 in flight sees 5 × the no-load RTT: 1.5 · 4 · 5 + 4 = 34.
    const fixed = secondHalf(run('uncongested', scenario));
    expect(min(fixed)).toBeGreaterThanOrEqual(33);
    expect(max(fixed)).toBeLessThanOrEqual(34);
  });
});
