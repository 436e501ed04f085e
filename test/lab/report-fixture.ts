/**
 * Hand-built lab reports for the HTML report's tests: the design note's scenario (a producer
 * every 100 ms, a consumer taking 300 ms, capacity 5) under block, drop-newest and drop-oldest,
 * with the figures worked out on paper rather than by the simulator, so these tests do not depend
 * on it.
 *
 * - block: the producer waits, so it makes one item per 300 ms after the buffer fills; every item
 *   waits for the five ahead of it (about 1.8 s from production to the end of service).
 * - drop-newest: the producer never waits; two arrivals in three find the buffer full and are
 *   dropped ('full'); the ones kept wait as long as under block.
 * - drop-oldest: the newest five are kept, so an item survives only if taken within about 500 ms
 *   ('evicted' for the others); those delivered are fresh (about 0.8 s).
 */
import type { ConfigReport, LabReport, PipeConfig, Scenario } from '../../src/lab/types.js';

type Sample = readonly [number, number, number, number];

const DURATION_MS = 60_000;
const SAMPLE_MS = 300;
const SERVICE_MS = 300;

/** A deterministic wobble in [-1, 1], so series and histograms do not look machine-flat. */
function wobble(i: number, phase = 0): number {
  return Math.sin(i * 12.9898 + phase) * 0.5 + Math.sin(i * 4.1414 + phase) * 0.5;
}

/** [upper bound, count] buckets of 100 ms up to 2 s, from a list of latencies. */
function histogramOf(latencies: readonly number[]): [number, number][] {
  const buckets: [number, number][] = [];
  for (let upper = 100; upper <= 2_000; upper += 100) buckets.push([upper, 0]);
  for (const latency of latencies) {
    const index = Math.min(buckets.length - 1, Math.max(0, Math.ceil(latency / 100) - 1));
    buckets[index]![1]++;
  }
  return buckets;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function summary(latencies: readonly number[]) {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1]!,
    mean: Math.round((sorted.reduce((sum, value) => sum + value, 0) / sorted.length) * 10) / 10,
  };
}

interface Shape {
  readonly config: PipeConfig;
  readonly produced: number;
  readonly dropReason?: string;
  /** Latency of the i-th delivered item, ms. */
  readonly latency: (i: number) => number;
  readonly blockedMs: number;
  /** Samples run on after the producers stop, while the consumer drains the buffer. */
  readonly drainMs: number;
  /** How often a sample finds the buffer one short of full (the consumer just took an item), from 0 to 1. */
  readonly dips: number;
  readonly phase: number;
}

function configReport(shape: Shape): ConfigReport {
  const delivered = Math.floor((DURATION_MS + shape.drainMs) / SERVICE_MS);
  const dropped = shape.produced - delivered;
  const latencies = Array.from({ length: delivered }, (_, i) => shape.latency(i));
  const series: Sample[] = [];
  for (let t = 0; t <= DURATION_MS + shape.drainMs; t += SAMPLE_MS) {
    const filling = Math.min(5, Math.floor(t / 150));
    const draining =
      t > DURATION_MS ? Math.max(0, 5 - Math.floor((t - DURATION_MS) / SERVICE_MS)) : 5;
    const dip = (wobble(t / SAMPLE_MS, shape.phase) + 1) / 2 < shape.dips ? 1 : 0;
    const depth = Math.max(0, Math.min(filling, draining) - dip);
    const deliveredSoFar = Math.min(delivered, Math.floor(t / SERVICE_MS));
    const droppedSoFar = Math.min(
      dropped,
      Math.max(0, Math.floor((Math.min(t, DURATION_MS) / DURATION_MS) * dropped - 4)),
    );
    series.push([t, depth, deliveredSoFar, droppedSoFar]);
  }
  const wait = latencies.map((latency) => Math.max(0, latency - SERVICE_MS));
  return {
    label: shape.config.label,
    config: shape.config,
    produced: shape.produced,
    delivered,
    dropped: shape.dropReason === undefined ? {} : { [shape.dropReason]: dropped },
    throughputPerSec: Math.round((delivered / (DURATION_MS / 1000)) * 100) / 100,
    latency: summary(latencies),
    wait: summary(wait),
    maxDepth: 5,
    producerBlockedMs: shape.blockedMs,
    series,
    histogram: histogramOf(latencies),
  };
}

const scenario = (
  configurations: readonly PipeConfig[],
  name: string,
  description: string,
): Scenario => ({
  name,
  description,
  durationMs: DURATION_MS,
  seed: 7,
  producers: [{ arrivals: { kind: 'constant', intervalMs: 100 } }],
  consumers: { count: 1, service: { kind: 'constant', ms: SERVICE_MS } },
  configurations,
  sampleEveryMs: SAMPLE_MS,
});

/**
 * The design note's scenario under three policies. `labels` replaces the configurations'
 * labels (to test escaping), in order.
 */
export function designNoteReport(
  options: {
    readonly labels?: readonly string[];
    readonly name?: string;
    readonly description?: string;
  } = {},
): LabReport {
  const labels = options.labels ?? ['block', 'drop-newest', 'drop-oldest'];
  const configs: PipeConfig[] = [
    { label: labels[0]!, capacity: 5, overflow: 'block' },
    { label: labels[1]!, capacity: 5, overflow: 'drop-newest' },
    { label: labels[2]!, capacity: 5, overflow: 'drop-oldest' },
  ];
  const ramp = (i: number) => Math.min(6, i + 1) * SERVICE_MS;
  const reports = [
    configReport({
      config: configs[0]!,
      produced: 205,
      latency: (i) => ramp(i) + Math.round(wobble(i) * 40),
      blockedMs: 39_400,
      drainMs: 1_500,
      dips: 0.02,
      phase: 0,
    }),
    configReport({
      config: configs[1]!,
      produced: 600,
      dropReason: 'full',
      latency: (i) => ramp(i) + Math.round(wobble(i) * 60),
      blockedMs: 0,
      drainMs: 1_500,
      dips: 0.2,
      phase: 2,
    }),
    configReport({
      config: configs[2]!,
      produced: 600,
      dropReason: 'evicted',
      latency: (i) => Math.min(ramp(i), 650 + Math.round(wobble(i) * 150)),
      blockedMs: 0,
      drainMs: 1_500,
      dips: 0.1,
      phase: 4,
    }),
  ];
  return {
    scenario: scenario(
      configs,
      options.name ?? 'The design note: a fast producer, a slow consumer',
      options.description ??
        'A producer every 100 ms, a consumer taking 300 ms per item, a channel of 5: what each overflow policy does.',
    ),
    seed: 7,
    configurations: reports,
    version: '0.1.0',
  };
}

/** A label, name and description that would inject markup if they were not escaped. */
export const HOSTILE = `<script>alert("pwned")</script><img src=x onerror=alert(1)> & 'quotes'`;
