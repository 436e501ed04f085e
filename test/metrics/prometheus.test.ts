/**
 * sluice/metrics/prometheus: every primitive's stats() read by prom-client at scrape time.
 */
import { Gauge, type OpenMetricsContentType, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Channel, TokenBucket } from '../../src/index.js';
import { registerSluiceMetrics } from '../../src/metrics/prometheus/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { caught } from '../support/errors.js';
import { fixture } from './fixtures.js';

/** The samples of a scrape, keyed `metric{label="value",…}` as in the text format. */
async function scrape(registry: Registry): Promise<Map<string, number>> {
  const samples = new Map<string, number>();
  for (const line of (await registry.metrics()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

/** The samples of `metric` only, keyed by their labels. */
function of(samples: Map<string, number>, metric: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of samples) {
    const brace = key.indexOf('{');
    if ((brace === -1 ? key : key.slice(0, brace)) === metric) out[key.slice(brace)] = value;
  }
  return out;
}

describe('registerSluiceMetrics', () => {
  it('exports every kind under the documented names (the list is the contract)', async () => {
    const { sources } = await fixture();
    const registry = new Registry();
    registerSluiceMetrics(registry, sources);
    const metrics = await registry.getMetricsAsJSON();
    expect(metrics.map((m) => `${m.type} ${m.name}`)).toEqual([
      'gauge sluice_channel_size',
      'gauge sluice_channel_capacity',
      'gauge sluice_channel_high_water',
      'gauge sluice_channel_waiting_senders',
      'gauge sluice_channel_waiting_receivers',
      'gauge sluice_channel_state',
      'counter sluice_channel_sent_total',
      'counter sluice_channel_received_total',
      'counter sluice_channel_refused_total',
      'counter sluice_channel_dropped_total',
      'gauge sluice_limiter_waiting',
      'counter sluice_limiter_granted_total',
      'counter sluice_limiter_tokens_granted_total',
      'counter sluice_limiter_refused_total',
      'counter sluice_limiter_cancelled_total',
      'counter sluice_limiter_timed_out_total',
      'gauge sluice_limiter_rate',
      'gauge sluice_limiter_burst',
      'gauge sluice_limiter_available',
      'gauge sluice_limiter_limit',
      'gauge sluice_limiter_window_seconds',
      'gauge sluice_limiter_measured_rate',
      'gauge sluice_limiter_paused_seconds',
      'counter sluice_limiter_throttles_total',
      'counter sluice_limiter_successes_total',
      'gauge sluice_semaphore_capacity',
      'gauge sluice_semaphore_in_use',
      'gauge sluice_semaphore_waiting',
      'counter sluice_semaphore_acquired_total',
      'counter sluice_semaphore_cancelled_total',
      'gauge sluice_adaptive_limit',
      'gauge sluice_adaptive_inflight',
      'gauge sluice_adaptive_waiting',
      'counter sluice_adaptive_acquired_total',
      'counter sluice_adaptive_settled_total',
      'counter sluice_adaptive_rejected_total',
      'counter sluice_adaptive_timed_out_total',
      'counter sluice_adaptive_cancelled_total',
      'gauge sluice_adaptive_partition_limit',
      'gauge sluice_adaptive_partition_inflight',
      'gauge sluice_adaptive_partition_waiting',
      'gauge sluice_keyed_keys',
      'gauge sluice_throttle_window_requests',
      'gauge sluice_throttle_window_accepts',
      'gauge sluice_throttle_reject_probability',
      'counter sluice_throttle_requests_total',
      'counter sluice_throttle_rejected_total',
      'counter sluice_throttle_outcomes_total',
      'gauge sluice_pool_in_flight',
      'gauge sluice_pool_running',
      'counter sluice_pool_received_total',
      'counter sluice_pool_completed_total',
      'counter sluice_pool_retried_total',
      'counter sluice_pipeline_pulled_total',
      'counter sluice_pipeline_delivered_total',
      'counter sluice_pipeline_failed_total',
      'counter sluice_pipeline_dropped_total',
      'gauge sluice_pipeline_stage_running',
      'gauge sluice_pipeline_stage_buffered',
      'counter sluice_pipeline_stage_started_total',
      'counter sluice_pipeline_stage_finished_total',
      'gauge sluice_broadcast_subscribers',
      'counter sluice_broadcast_published_total',
      'counter sluice_broadcast_unheard_total',
      'counter sluice_broadcast_deliveries_total',
    ]);
    for (const metric of metrics) {
      expect(metric.name).toMatch(/^sluice_[a-z_]+$/);
      expect(metric.name.endsWith('_total')).toBe(String(metric.type) === 'counter');
      expect(metric.help).not.toBe('');
      expect(metric.values.length).toBeGreaterThan(0);
      for (const value of metric.values) expect(value.labels).toHaveProperty('name');
    }
  });

  it("reads each primitive's stats() at scrape time", async () => {
    const { sources } = await fixture();
    const registry = new Registry();
    registerSluiceMetrics(registry, sources);
    const s = await scrape(registry);
    // channel jobs: capacity 2, drop-newest, 3 offered
    expect(of(s, 'sluice_channel_size')).toEqual({ '{name="jobs"}': 2 });
    expect(of(s, 'sluice_channel_capacity')).toEqual({ '{name="jobs"}': 2 });
    expect(of(s, 'sluice_channel_high_water')).toEqual({ '{name="jobs"}': 2 });
    expect(of(s, 'sluice_channel_sent_total')).toEqual({ '{name="jobs"}': 2 });
    expect(of(s, 'sluice_channel_dropped_total')).toEqual({
      '{name="jobs",reason="overflow"}': 1,
      '{name="jobs",reason="evicted"}': 0,
      '{name="jobs",reason="discarded"}': 0,
      '{name="jobs",reason="expired"}': 0,
      '{name="jobs",reason="shed"}': 0,
    });
    expect(of(s, 'sluice_channel_state')).toEqual({
      '{name="jobs",state="open"}': 1,
      '{name="jobs",state="closed"}': 0,
      '{name="jobs",state="destroyed"}': 0,
    });
    // limiters: the fields a kind lacks give no series
    expect(of(s, 'sluice_limiter_granted_total')).toEqual({
      '{name="api"}': 1,
      '{name="quota"}': 1,
      '{name="feedback"}': 0,
    });
    expect(of(s, 'sluice_limiter_tokens_granted_total')['{name="api"}']).toBe(5);
    expect(of(s, 'sluice_limiter_refused_total')['{name="api"}']).toBe(1);
    expect(of(s, 'sluice_limiter_rate')).toEqual({ '{name="api"}': 10, '{name="feedback"}': 4 });
    expect(of(s, 'sluice_limiter_available')['{name="api"}']).toBe(0);
    expect(of(s, 'sluice_limiter_limit')).toEqual({ '{name="quota"}': 3 });
    expect(of(s, 'sluice_limiter_window_seconds')).toEqual({ '{name="quota"}': 1 });
    expect(of(s, 'sluice_limiter_paused_seconds')).toEqual({ '{name="feedback"}': 0 });
    // semaphore, adaptive limiter and its partitions
    expect(of(s, 'sluice_semaphore_in_use')).toEqual({ '{name="db"}': 1 });
    expect(of(s, 'sluice_adaptive_limit')).toEqual({ '{name="backend"}': 4 });
    expect(of(s, 'sluice_adaptive_inflight')).toEqual({ '{name="backend"}': 1 });
    expect(of(s, 'sluice_adaptive_partition_inflight')).toEqual({
      '{name="backend",partition="a"}': 1,
      '{name="backend",partition="b"}': 0,
    });
    expect(of(s, 'sluice_adaptive_settled_total')).toEqual({
      '{name="backend",outcome="success"}': 0,
      '{name="backend",outcome="dropped"}': 0,
      '{name="backend",outcome="ignored"}': 0,
    });
    // keyed, throttle
    expect(of(s, 'sluice_keyed_keys')).toEqual({ '{name="perUser"}': 2 });
    expect(of(s, 'sluice_throttle_requests_total')).toEqual({ '{name="upstream"}': 2 });
    expect(of(s, 'sluice_throttle_outcomes_total')).toEqual({
      '{name="upstream",outcome="accepted"}': 1,
      '{name="upstream",outcome="not_accepted"}': 1,
    });
    // pool, pipeline, broadcast
    expect(of(s, 'sluice_pool_received_total')).toEqual({ '{name="workers"}': 3 });
    expect(of(s, 'sluice_pool_completed_total')['{name="workers",outcome="handled"}']).toBe(3);
    expect(of(s, 'sluice_pipeline_delivered_total')).toEqual({ '{name="doubler"}': 3 });
    expect(of(s, 'sluice_pipeline_stage_finished_total')).toEqual({
      '{name="doubler",stage="0"}': 3,
      '{name="doubler",stage="1"}': 3,
    });
    expect(of(s, 'sluice_broadcast_published_total')).toEqual({ '{name="prices"}': 2 });
    expect(of(s, 'sluice_broadcast_deliveries_total')['{name="prices",outcome="delivered"}']).toBe(
      2,
    );
  });

  it('follows the primitives from scrape to scrape, with no timers of its own', async () => {
    const { clock, jobs, bucket, sources } = await fixture();
    const registry = new Registry();
    registerSluiceMetrics(registry, sources);
    expect(clock.pendingTimers).toBe(0);
    jobs.tryReceive();
    jobs.destroy();
    clock.advance(300); // 3 tokens back
    const s = await scrape(registry);
    expect(of(s, 'sluice_channel_size')).toEqual({ '{name="jobs"}': 0 });
    expect(of(s, 'sluice_channel_received_total')).toEqual({ '{name="jobs"}': 1 });
    expect(of(s, 'sluice_channel_dropped_total')['{name="jobs",reason="discarded"}']).toBe(1);
    expect(of(s, 'sluice_channel_state')['{name="jobs",state="destroyed"}']).toBe(1);
    expect(of(s, 'sluice_limiter_available')['{name="api"}']).toBeCloseTo(3);
    // the conservation sum holds across the metrics of one scrape
    const at = (metric: string, labels = '') => s.get(`${metric}{name="jobs"${labels}}`) ?? NaN;
    const dropped = (reason: string) => at('sluice_channel_dropped_total', `,reason="${reason}"`);
    expect(at('sluice_channel_sent_total')).toBe(
      at('sluice_channel_received_total') +
        dropped('evicted') +
        dropped('discarded') +
        dropped('expired') +
        dropped('shed') +
        at('sluice_channel_size'),
    );
    expect(bucket.stats().waiting).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('registers only the kinds in use; add and remove change the series', async () => {
    const registry = new Registry();
    const a = new Channel<number>({ capacity: 4 });
    const metrics = registerSluiceMetrics(registry, { channels: { a } });
    expect(
      (await registry.getMetricsAsJSON()).every((m) => m.name.startsWith('sluice_channel_')),
    ).toBe(true);
    const b = new Channel<number>({ capacity: 8 });
    metrics.add('channels', 'b', b);
    metrics.add(
      'limiters',
      'api',
      new TokenBucket({ rate: 1, burst: 1, clock: new ManualClock() }),
    );
    let s = await scrape(registry);
    expect(of(s, 'sluice_channel_capacity')).toEqual({ '{name="a"}': 4, '{name="b"}': 8 });
    expect(of(s, 'sluice_limiter_rate')).toEqual({ '{name="api"}': 1 });
    expect(metrics.remove('channels', 'a')).toBe(true);
    expect(metrics.remove('channels', 'a')).toBe(false);
    s = await scrape(registry);
    expect(of(s, 'sluice_channel_capacity')).toEqual({ '{name="b"}': 8 });
  });

  it('unregister removes every metric it registered, and only those', async () => {
    const registry = new Registry();
    new Gauge({ name: 'app_up', help: 'up', registers: [registry] });
    const metrics = registerSluiceMetrics(registry, (await fixture()).sources);
    metrics.unregister();
    metrics.unregister(); // idempotent
    expect((await registry.getMetricsAsJSON()).map((m) => m.name)).toEqual(['app_up']);
    expect(caught(() => metrics.add('channels', 'x', new Channel())).message).toMatch(
      /unregistered/,
    );
  });

  it('a name taken in the registry fails the registration and leaves nothing behind', async () => {
    const registry = new Registry();
    const ch = new Channel<number>({ capacity: 1 });
    registerSluiceMetrics(registry, { channels: { ch } });
    const before = (await registry.getMetricsAsJSON()).length;
    expect(() =>
      registerSluiceMetrics(registry, {
        limiters: { x: new TokenBucket({ rate: 1, burst: 1 }) },
        channels: { ch },
      }),
    ).toThrow(/already been registered/);
    expect((await registry.getMetricsAsJSON()).length).toBe(before);
    // with another prefix, a second set fits
    registerSluiceMetrics(registry, { channels: { ch } }, { prefix: 'edge_' });
    const s = await scrape(registry);
    expect(of(s, 'edge_channel_capacity')).toEqual({ '{name="ch"}': 1 });
  });

  it('works in an OpenMetrics registry', async () => {
    const registry = new Registry<OpenMetricsContentType>();
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    registerSluiceMetrics(registry, { channels: { ch: new Channel<number>({ capacity: 1 }) } });
    const text = await registry.metrics();
    expect(text).toContain('# TYPE sluice_channel_sent counter');
    expect(text).toContain('sluice_channel_sent_total{name="ch"} 0');
    expect(text.endsWith('# EOF\n')).toBe(true);
  });

  it('throws at once for bad arguments, naming what it got', () => {
    const registry = new Registry();
    const message = (fn: () => unknown) => caught(fn).message;
    expect(message(() => registerSluiceMetrics({} as never))).toMatch(
      /Expected `registry` to be a prom-client Registry, got `\{\}` \(object\)/,
    );
    expect(message(() => registerSluiceMetrics(registry, { queues: {} } as never))).toMatch(
      /one of 'channels', .*got `"queues"` \(string\)/,
    );
    expect(message(() => registerSluiceMetrics(registry, { channels: { a: 5 } } as never))).toMatch(
      /Expected `channels.a` to be a Channel, got `5` \(number\)/,
    );
    expect(message(() => registerSluiceMetrics(registry, { keyed: { k: {} } } as never))).toMatch(
      /Expected `keyed.k` to be a KeyedLimiter/,
    );
    expect(message(() => registerSluiceMetrics(registry, {}, { prefix: '1x' }))).toMatch(
      /Expected `prefix`.*got `"1x"` \(string\)/,
    );
    expect(message(() => registerSluiceMetrics(registry, 5 as never))).toMatch(/`sources`/);
    expect(message(() => registerSluiceMetrics(registry, { channels: 5 } as never))).toMatch(
      /Expected `channels` to be an options object, got `5` \(number\)/,
    );
    // nothing was registered by the failed calls
    expect(registry.getMetricsAsArray()).toEqual([]);
    const metrics = registerSluiceMetrics(registry, {
      channels: { a: new Channel() },
      limiters: undefined,
    });
    expect(registry.getMetricsAsArray().map((m) => m.name)).toContain('sluice_channel_size');
    expect(registry.getMetricsAsArray().map((m) => m.name)).not.toContain('sluice_limiter_rate');
    expect(message(() => metrics.add('channels', 'a', new Channel()))).toMatch(
      /`channels.a` is already exported/,
    );
    expect(caught(() => metrics.add('channels', 'a', new Channel()))).toBeInstanceOf(RangeError);
    expect(message(() => metrics.add('channels', '', new Channel()))).toMatch(/non-empty string/);
    expect(message(() => metrics.add('nope' as never, 'a', new Channel() as never))).toMatch(
      /got `"nope"`/,
    );
    expect(message(() => metrics.remove('nope' as never, 'a'))).toMatch(/got `"nope"`/);
  });
});
