/**
 * sluice/metrics/otel: the same readings as OpenTelemetry observable instruments, collected by
 * the SDK's MeterProvider through a reader that collects on demand (no export interval).
 */
import { metrics } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  type MetricData,
  MetricReader,
} from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { Channel } from '../../src/index.js';
import { observeSluiceMetrics } from '../../src/metrics/otel/index.js';
import { caught } from '../support/errors.js';
import { fixture } from './fixtures.js';

/** A reader that collects only when asked. */
class OnDemandReader extends MetricReader {
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * With `delta`, a collection holds only what the callbacks observed in it: the way to see a
 * removed primitive go (under the default, cumulative, the SDK keeps reporting a series'
 * last value after it stops being observed).
 */
function setUp(temporality: 'cumulative' | 'delta' = 'cumulative'): {
  provider: MeterProvider;
  reader: OnDemandReader;
} {
  const reader = new OnDemandReader(
    temporality === 'delta'
      ? { aggregationTemporalitySelector: () => AggregationTemporality.DELTA }
      : {},
  );
  const provider = new MeterProvider({ readers: [reader] });
  return { provider, reader };
}

/** Every metric of one collection, by name. */
async function collect(reader: MetricReader): Promise<Map<string, MetricData>> {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  const out = new Map<string, MetricData>();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) out.set(metric.descriptor.name, metric);
  }
  return out;
}

/** The data points of `name`, keyed by their attributes (`name=jobs,reason=overflow`). */
function points(all: Map<string, MetricData>, name: string): Record<string, number> {
  const metric = all.get(name);
  const out: Record<string, number> = {};
  for (const point of metric?.dataPoints ?? []) {
    const key = Object.entries(point.attributes)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(',');
    out[key] = point.value as number;
  }
  return out;
}

describe('observeSluiceMetrics', () => {
  it('observes every kind, with names, types and units as documented', async () => {
    const { sources } = await fixture();
    const { provider, reader } = setUp();
    observeSluiceMetrics(provider.getMeter('test'), sources);
    const all = await collect(reader);
    expect(all.size).toBe(65); // as many as the Prometheus exporter registers
    for (const [name, metric] of all) {
      expect(name).toMatch(/^sluice\.[a-z_.]+$/);
      expect(metric.dataPoints.length).toBeGreaterThan(0);
      for (const point of metric.dataPoints) expect(point.attributes).toHaveProperty('name');
    }
    const size = all.get('sluice.channel.size');
    expect(size?.dataPointType).toBe(DataPointType.GAUGE);
    expect(size?.descriptor.unit).toBe('{item}');
    const dropped = all.get('sluice.channel.dropped');
    expect(dropped?.dataPointType).toBe(DataPointType.SUM);
    expect(dropped?.dataPointType === DataPointType.SUM && dropped.isMonotonic).toBe(true);
    expect(all.get('sluice.limiter.window')?.descriptor.unit).toBe('s');
  });

  it("reads each primitive's stats() at collection time", async () => {
    const { sources, jobs, clock } = await fixture();
    const { provider, reader } = setUp();
    observeSluiceMetrics(provider.getMeter('test'), sources);
    let all = await collect(reader);
    expect(points(all, 'sluice.channel.size')).toEqual({ 'name=jobs': 2 });
    expect(points(all, 'sluice.channel.dropped')).toEqual({
      'name=jobs,reason=overflow': 1,
      'name=jobs,reason=evicted': 0,
      'name=jobs,reason=discarded': 0,
      'name=jobs,reason=expired': 0,
      'name=jobs,reason=shed': 0,
    });
    expect(points(all, 'sluice.limiter.rate')).toEqual({ 'name=api': 10, 'name=feedback': 4 });
    expect(points(all, 'sluice.limiter.window')).toEqual({ 'name=quota': 1 });
    expect(points(all, 'sluice.adaptive.partition.limit')).toEqual({
      'name=backend,partition=a': 2,
      'name=backend,partition=b': 2,
    });
    expect(points(all, 'sluice.pipeline.stage.started')).toEqual({
      'name=doubler,stage=0': 3,
      'name=doubler,stage=1': 3,
    });
    expect(points(all, 'sluice.keyed.keys')).toEqual({ 'name=perUser': 2 });

    jobs.tryReceive();
    jobs.destroy();
    clock.advance(1000);
    all = await collect(reader);
    expect(points(all, 'sluice.channel.size')).toEqual({ 'name=jobs': 0 });
    expect(points(all, 'sluice.channel.received')).toEqual({ 'name=jobs': 1 });
    expect(points(all, 'sluice.channel.dropped')['name=jobs,reason=discarded']).toBe(1);
    expect(points(all, 'sluice.channel.state')).toEqual({
      'name=jobs,state=open': 0,
      'name=jobs,state=closed': 0,
      'name=jobs,state=destroyed': 1,
    });
    expect(points(all, 'sluice.limiter.available')['name=api']).toBeCloseTo(5);
    expect(clock.pendingTimers).toBe(0);
  });

  it('add, remove and unregister', async () => {
    const { provider, reader } = setUp('delta');
    const a = new Channel<number>({ capacity: 1 });
    const observed = observeSluiceMetrics(provider.getMeter('test'), { channels: { a } });
    expect([...(await collect(reader)).keys()].every((n) => n.startsWith('sluice.channel.'))).toBe(
      true,
    );
    observed.add('channels', 'b', new Channel<number>({ capacity: 2 }));
    expect(points(await collect(reader), 'sluice.channel.capacity')).toEqual({
      'name=a': 1,
      'name=b': 2,
    });
    expect(observed.remove('channels', 'a')).toBe(true);
    expect(points(await collect(reader), 'sluice.channel.capacity')).toEqual({ 'name=b': 2 });
    observed.unregister();
    observed.unregister();
    expect(points(await collect(reader), 'sluice.channel.capacity')).toEqual({});
    expect(caught(() => observed.add('channels', 'c', new Channel())).message).toMatch(
      /unregistered/,
    );
  });

  it('runs against the API without an SDK (no-op meter)', () => {
    const observed = observeSluiceMetrics(metrics.getMeter('none'), {
      channels: { a: new Channel() },
    });
    observed.unregister();
  });

  it('throws at once for bad arguments', () => {
    expect(caught(() => observeSluiceMetrics({} as never)).message).toMatch(
      /Expected `meter` to be an OpenTelemetry Meter.*got `\{\}` \(object\)/,
    );
    const { provider } = setUp();
    expect(
      caught(() => observeSluiceMetrics(provider.getMeter('t'), { pools: { p: {} } } as never))
        .message,
    ).toMatch(/Expected `pools.p` to be a worker pool/);
  });
});
