/**
 * The convergence scenario of issue 5, shared by test/adaptive/convergence.test.ts and
 * scripts/adaptive-chart.ts (which draws docs/algorithms/adaptive.svg and prints the table of
 * docs/algorithms/adaptive.md): each algorithm's one configuration, the run, and the measures.
 *
 * The run (test/support/backend.ts): N workers, service time S with ±10 % seeded jitter, a FIFO
 * queue without bound, a client with unlimited demand through a real `AdaptiveLimiter`. It lasts
 * 4000·S; the workers halve (N → ceil(N/2)) at 2000·S. Everything is measured in samples (one
 * per finished request) or in units of S, so the figures do not depend on S: a run at S = 2 ms
 * and one at S = 50 ms give the same table.
 *
 * The measures, for a phase whose backend has n workers:
 *
 *     in band      |limit − n| ≤ max(1, n/4): within 25 % of n, or within 1 of it when 25 % is
 *                  less than one request (n = 2 after halving 4)
 *     settled at   the first sample that is in band and from which ≥ 95 % of the samples up to
 *                  the end of the phase are in band
 *     steady       the second half of the phase: [1000·S, 2000·S) before the halving,
 *                  [3000·S, 4000·S) after it
 *     in band %    share of the steady part's samples in band
 *     p99/S        99th percentile of the latency of requests finished in the steady part
 *                  (from permit to answer: the client-side wait for a permit is not in it)
 *     back-off     time from the halving to the settling sample of the second phase, in S
 *     throughput   requests served in the first phase's steady part, as a share of N per S
 */
import { aimd } from '../../src/adaptive/aimd.js';
import { envoyGradient } from '../../src/adaptive/envoy-gradient.js';
import { gradient2 } from '../../src/adaptive/gradient2.js';
import type { LimitAlgorithm } from '../../src/adaptive/types.js';
import { vegas } from '../../src/adaptive/vegas.js';
import { windowed } from '../../src/adaptive/windowed.js';
import { quantile, seeded, simulate } from './backend.js';

/** Workers and service times of the grid. */
export const WORKERS: readonly number[] = [4, 16, 64];
export const SERVICE_MS: readonly number[] = [2, 50];
/** The run lasts DURATION·S; the workers halve at HALVE_AT·S. */
export const DURATION = 4000;
export const HALVE_AT = 2000;
/** Share of a phase's remaining samples that must be in band for the limit to count as settled. */
export const STAY = 0.95;

/** An algorithm in the grid: its one configuration, as a function of the service time S. */
export interface Contender {
  readonly name: string;
  /** The configuration, as a reader would write it (S is the expected service time). */
  readonly config: string;
  readonly make: (serviceMs: number) => LimitAlgorithm;
}

/** Vegas's alpha and beta: a queue of 10 % and 20 % of the limit (at least one request). */
const tenth = (limit: number): number => Math.max(1, Math.floor(limit / 10));
const fifth = (limit: number): number => Math.max(1, Math.floor(limit / 5));

export const CONTENDERS: readonly Contender[] = [
  {
    name: 'AIMD',
    config:
      'windowed(aimd({ timeoutMs: 1.25·S }), { windowMs: 2·S, minSamples: 1, aggregate: { percentile: 0.9 } })',
    make: (s) =>
      windowed(aimd({ timeoutMs: 1.25 * s }), {
        windowMs: 2 * s,
        minSamples: 1,
        aggregate: { percentile: 0.9 },
      }),
  },
  {
    name: 'Vegas',
    config:
      'windowed(vegas({ initialLimit: 2, alpha: (L) => max(1, floor(L/10)), beta: (L) => max(1, floor(L/5)), smoothing: 0.5 }), { windowMs: 2·S, minSamples: 1 })',
    make: (s) =>
      windowed(
        vegas({ initialLimit: 2, alpha: tenth, beta: fifth, smoothing: 0.5, random: seeded(7) }),
        { windowMs: 2 * s, minSamples: 1 },
      ),
  },
  {
    name: 'Gradient2',
    config:
      'windowed(gradient2({ initialLimit: 2, rttTolerance: 1, queueSize: 1 }), { windowMs: 2·S, minSamples: 1 })',
    make: (s) =>
      windowed(gradient2({ initialLimit: 2, rttTolerance: 1, queueSize: 1 }), {
        windowMs: 2 * s,
        minSamples: 1,
      }),
  },
  {
    name: 'Envoy gradient',
    config:
      'envoyGradient({ minRttBuffer: 0, percentile: 0.9, minConcurrency: 1, sampleIntervalMs: 5·S, minRttCalcIntervalMs: 1000·S })',
    make: (s) =>
      envoyGradient({
        minRttBuffer: 0,
        percentile: 0.9,
        minConcurrency: 1,
        sampleIntervalMs: 5 * s,
        minRttCalcIntervalMs: 1000 * s,
        random: seeded(7),
      }),
  },
];

/** What one run measured. Times are in units of S; undefined means "never". */
export interface Convergence {
  readonly workers: number;
  readonly serviceMs: number;
  /** Samples taken until the limit settled within 25 % of N (the settling one included). */
  readonly settleSamples: number | undefined;
  /** Share of the first phase's steady samples in band. */
  readonly inBand: number;
  readonly p99: number;
  /** Requests served in the first phase's steady part, as a share of what N workers serve. */
  readonly throughput: number;
  /** Lowest and highest limit in the first phase's steady part. */
  readonly low: number;
  readonly high: number;
  /** Time from the halving until the limit settled near ceil(N/2). */
  readonly backoff: number | undefined;
  readonly inBandAfter: number;
  readonly p99After: number;
  /** The limit after every sample, as [time in S, limit]. */
  readonly limits: readonly (readonly [number, number])[];
}

/** True if `limit` is within 25 % of `n`, or within 1 of it. */
export function inBand(limit: number, n: number): boolean {
  return Math.abs(limit - n) <= Math.max(1, n / 4);
}

/** Runs `contender` against `workers` workers of service time `serviceMs` and measures it. */
export function converge(contender: Contender, workers: number, serviceMs: number): Convergence {
  const s = serviceMs;
  const run = simulate({
    algorithm: contender.make(s),
    workers,
    serviceMs: s,
    durationMs: DURATION * s,
    halveAtMs: HALVE_AT * s,
    seed: 1,
  });
  const limits = run.limits.map(([t, l]): [number, number] => [t / s, l]);
  const half = Math.ceil(workers / 2);
  const before = limits.filter(([t]) => t < HALVE_AT);
  const after = limits.filter(([t]) => t >= HALVE_AT);
  const settle = settledAt(before, workers);
  const back = settledAt(after, half);
  const steady = before.filter(([t]) => t >= HALVE_AT / 2);
  const steadyAfter = after.filter(([t]) => t >= (HALVE_AT + DURATION) / 2);
  const latencies = (from: number, to: number): number[] =>
    run.latencies.filter(([t]) => t >= from * s && t < to * s).map(([, l]) => l / s);
  return {
    workers,
    serviceMs,
    settleSamples: settle === undefined ? undefined : settle + 1,
    inBand: share(steady, workers),
    p99: quantile(latencies(HALVE_AT / 2, HALVE_AT), 0.99),
    throughput: latencies(HALVE_AT / 2, HALVE_AT).length / ((workers * HALVE_AT) / 2),
    low: Math.min(...steady.map(([, l]) => l)),
    high: Math.max(...steady.map(([, l]) => l)),
    backoff: back === undefined ? undefined : (after[back] as [number, number])[0] - HALVE_AT,
    inBandAfter: share(steadyAfter, half),
    p99After: quantile(latencies((HALVE_AT + DURATION) / 2, DURATION), 0.99),
    limits,
  };
}

/** Share of `samples` in band of `n`. */
function share(samples: readonly (readonly [number, number])[], n: number): number {
  return samples.filter(([, l]) => inBand(l, n)).length / samples.length;
}

/**
 * Index of the first sample in band of `n` from which at least STAY of the samples to the end
 * are in band; undefined if there is none.
 */
function settledAt(samples: readonly (readonly [number, number])[], n: number): number | undefined {
  let inside = 0;
  let found: number | undefined;
  // Walk backwards, counting the samples in band from i to the end.
  for (let i = samples.length - 1; i >= 0; i--) {
    const ok = inBand((samples[i] as readonly [number, number])[1], n);
    if (ok) inside++;
    if (ok && inside >= STAY * (samples.length - i)) found = i;
  }
  return found;
}
