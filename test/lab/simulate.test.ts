import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO } from '../../src/lab/default-scenario.js';
import { ScenarioError } from '../../src/lab/scenario.js';
import { type ItemEvent, MAX_ITEMS, simulate } from '../../src/lab/simulate.js';
import type { ConfigReport, PipeConfig, Scenario } from '../../src/lab/types.js';
import { VERSION } from '../../src/lab/version.js';

/** A scenario of one producer and one consumer, both constant, compared under `configurations`. */
function constant(
  intervalMs: number,
  serviceMs: number,
  configurations: readonly PipeConfig[],
  extra: Partial<Scenario> = {},
): Scenario {
  return {
    name: 'constant',
    durationMs: 60_000,
    producers: [{ arrivals: { kind: 'constant', intervalMs } }],
    consumers: { count: 1, service: { kind: 'constant', ms: serviceMs } },
    configurations,
    ...extra,
  };
}

async function run(scenario: Scenario): Promise<{ reports: ConfigReport[]; events: ItemEvent[] }> {
  const events: ItemEvent[] = [];
  const report = await simulate(scenario, { onItem: (e) => events.push(e) });
  return { reports: [...report.configurations], events };
}

function one(reports: readonly ConfigReport[], label: string): ConfigReport {
  const found = reports.find((r) => r.label === label);
  if (found === undefined) throw new Error(`no configuration ${label}`);
  return found;
}

/** How many `c` dropped for `reason`. */
function count(c: ConfigReport, reason: string): number {
  return c.dropped[reason] ?? 0;
}

function droppedTotal(c: ConfigReport): number {
  return Object.values(c.dropped).reduce((a, b) => a + b, 0);
}

/** Every random knob at once, to show that nothing but the seed decides the figures. */
const NOISY: Scenario = {
  name: 'noisy',
  durationMs: 20_000,
  seed: 11,
  producers: [
    { arrivals: { kind: 'poisson', ratePerSec: 300 }, urgentShare: 0.2 },
    { arrivals: { kind: 'bursts', ratePerSec: 400, onMs: 500, offMs: 1500 }, mode: 'try' },
  ],
  consumers: {
    count: 3,
    service: { kind: 'lognormal', medianMs: 7, sigma: 0.6 },
    slowdown: { atMs: 10_000, factor: 1.5 },
  },
  configurations: [
    { label: 'block', capacity: 50, overflow: 'block' },
    { label: 'lowest', capacity: 50, overflow: 'drop-lowest', priorities: true, maxWaitMs: 200 },
    { label: 'codel', capacity: 500, overflow: 'reject', codel: true },
    {
      label: 'vegas',
      capacity: 50,
      overflow: 'drop-oldest',
      limiter: { kind: 'adaptive', algorithm: 'vegas' },
    },
    {
      label: 'envoy',
      capacity: 50,
      overflow: 'drop-newest',
      limiter: { kind: 'adaptive', algorithm: 'envoy' },
    },
    {
      label: 'paced',
      capacity: 50,
      overflow: 'drop-newest',
      order: 'adaptive-lifo',
      limiter: { kind: 'token-bucket', rate: 400, burst: 20 },
    },
  ],
};

describe('simulate: determinism', () => {
  it('gives byte-identical JSON for the same scenario and seed', async () => {
    for (const scenario of [DEFAULT_SCENARIO, NOISY]) {
      const a = JSON.stringify(await simulate(scenario));
      const b = JSON.stringify(await simulate(scenario));
      expect(a).toBe(b);
    }
  });

  it('depends on the seed', async () => {
    const a = JSON.stringify((await simulate(NOISY)).configurations);
    const b = JSON.stringify((await simulate({ ...NOISY, seed: 12 })).configurations);
    expect(a).not.toBe(b);
  });

  it('gives every configuration the same items (common random numbers)', async () => {
    const scenario: Scenario = {
      ...NOISY,
      configurations: [
        { label: 'a', capacity: 100_000, overflow: 'block' },
        { label: 'b', capacity: 100_000, overflow: 'drop-newest' },
      ],
    };
    const { reports, events } = await run(scenario);
    // With room for everything, the policy never acts: both see the same items, the same times.
    expect(one(reports, 'a').latency).toEqual(one(reports, 'b').latency);
    const times = (label: string) =>
      events.filter((e) => e.configuration === label).map((e) => [e.id, e.producedAt, e.at]);
    expect(times('a')).toEqual(times('b'));
  });

  it('reports the scenario, the seed and the version, and nothing that reads the wall clock', async () => {
    const report = await simulate(DEFAULT_SCENARIO);
    expect(Object.keys(report)).toEqual(['scenario', 'seed', 'configurations', 'version']);
    expect(report.scenario).toEqual(DEFAULT_SCENARIO);
    expect(report.seed).toBe(1);
    expect(Object.keys(report.configurations[0] as ConfigReport)).toEqual([
      'label',
      'config',
      'produced',
      'delivered',
      'dropped',
      'throughputPerSec',
      'latency',
      'wait',
      'maxDepth',
      'producerBlockedMs',
      'series',
      'histogram',
    ]);
  });

  it('writes the version of package.json', () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8'));
    expect(VERSION).toBe(pkg.version);
  });
});

describe('simulate: the figures are right', () => {
  it('M/M/1 at ρ = 0.8: mean time in system within 5 % of 1/(μ − λ), mean wait of ρ/(μ − λ)', async () => {
    const lambda = 0.8; // items per ms
    const mu = 1; // per ms: exponential service with mean 1 ms
    const { reports } = await run({
      name: 'M/M/1',
      durationMs: 1_800_000, // half an hour: about 1.44 million items
      seed: 1,
      producers: [{ arrivals: { kind: 'poisson', ratePerSec: lambda * 1000 } }],
      consumers: { count: 1, service: { kind: 'exponential', meanMs: 1 / mu } },
      configurations: [{ label: 'mm1', capacity: 10_000_000, overflow: 'block' }],
    });
    const c = one(reports, 'mm1');
    expect(droppedTotal(c)).toBe(0);
    expect(c.producerBlockedMs).toBe(0);
    expect(Math.abs(c.latency.mean / (1 / (mu - lambda)) - 1)).toBeLessThan(0.05);
    expect(Math.abs(c.wait.mean / (lambda / mu / (mu - lambda)) - 1)).toBeLessThan(0.05);
    expect(Math.abs(c.throughputPerSec / (lambda * 1000) - 1)).toBeLessThan(0.01);
    // The time in system of M/M/1 is exponential with rate μ − λ: its median is ln 2 / (μ − λ).
    expect(Math.abs(c.latency.p50 / (Math.LN2 / (mu - lambda)) - 1)).toBeLessThan(0.05);
  });

  it("the design note's block: the producer slows to the consumer's rate, one item per 300 ms", async () => {
    const { reports } = await run(DEFAULT_SCENARIO);
    const block = one(reports, 'block');
    const durationSec = DEFAULT_SCENARIO.durationMs / 1000;
    const producerRate = block.produced / durationSec;
    expect(Math.abs(producerRate / (1000 / 300) - 1)).toBeLessThan(0.03);
    expect(Math.abs(block.throughputPerSec / (1000 / 300) - 1)).toBeLessThan(0.01);
    expect(block.delivered).toBe(block.produced); // nothing lost
    expect(block.dropped).toEqual({});
    // The producer's minute is its sleeps (100 ms per item) plus its waits for room.
    expect(Math.abs(block.produced * 100 + block.producerBlockedMs - 60_000)).toBeLessThanOrEqual(
      100,
    );
    expect(block.maxDepth).toBe(5);
    // In steady state each item waits for room 200 ms, then behind five others (1.5 s), then 300 ms.
    expect(block.latency.p50).toBe(2000);
  });

  it("the design note's first program: ten items, all received in order, 300 ms of waiting", async () => {
    const { reports, events } = await run(
      constant(100, 300, [{ label: 'block', capacity: 5, overflow: 'block' }], {
        producers: [{ arrivals: { kind: 'constant', intervalMs: 100 }, count: 10 }],
      }),
    );
    const block = one(reports, 'block');
    expect(block.delivered).toBe(10);
    expect(block.producerBlockedMs).toBe(300);
    expect(events.map((e) => e.id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(events.map((e) => e.at)).toEqual([
      300, 600, 900, 1200, 1500, 1800, 2100, 2400, 2700, 3000,
    ]);
  });

  /**
   * A reference model of one constant producer and one constant consumer around a buffer of
   * `capacity`, written independently of sluice: which items are delivered and which dropped.
   * At equal times the consumer's take comes before the arrival (its timer was armed earlier).
   */
  function reference(policy: 'drop-newest' | 'drop-oldest', items: number, capacity: number) {
    const interval = 100;
    const service = 300;
    const queue: number[] = [];
    const delivered: number[] = [];
    const dropped: number[] = [];
    let current = -1;
    let busyUntil = 0;
    const finishUpTo = (t: number) => {
      while (current !== -1 && busyUntil <= t) {
        delivered.push(current);
        const next = queue.shift();
        current = next ?? -1;
        if (next !== undefined) busyUntil += service;
      }
    };
    for (let i = 0; i < items; i++) {
      const t = i * interval;
      finishUpTo(t);
      if (current === -1) {
        current = i;
        busyUntil = t + service;
      } else if (queue.length < capacity) queue.push(i);
      else if (policy === 'drop-newest') dropped.push(i);
      else {
        dropped.push(queue.shift() as number);
        queue.push(i);
      }
    }
    finishUpTo(Infinity);
    return { delivered, dropped };
  }

  it.each(['drop-newest', 'drop-oldest'] as const)(
    '%s drops exactly the items it should (against a reference model)',
    async (policy) => {
      const items = 200;
      const { reports, events } = await run(
        constant(100, 300, [{ label: policy, capacity: 5, overflow: policy }], {
          producers: [{ arrivals: { kind: 'constant', intervalMs: 100 }, count: items }],
        }),
      );
      const expected = reference(policy, items, 5);
      const delivered = events.filter((e) => e.outcome === 'delivered').map((e) => e.id);
      const dropped = events.filter((e) => e.outcome !== 'delivered');
      expect(delivered).toEqual(expected.delivered);
      expect(dropped.map((e) => e.id)).toEqual(expected.dropped);
      const reason = policy === 'drop-newest' ? 'overflow' : 'evicted';
      expect(new Set(dropped.map((e) => e.outcome))).toEqual(new Set([reason]));
      expect(one(reports, policy).dropped).toEqual({ [reason]: expected.dropped.length });
      for (const e of dropped) {
        // drop-newest discards the arriving item at once; drop-oldest evicts one that waited.
        if (policy === 'drop-newest') expect(e.at).toBe(e.producedAt);
        else expect(e.at).toBeGreaterThan(e.producedAt);
      }
    },
  );

  it("the design note's scenario: drop-oldest delivers fresher items than drop-newest", async () => {
    const { reports } = await run(DEFAULT_SCENARIO);
    const newest = one(reports, 'drop-newest');
    const oldest = one(reports, 'drop-oldest');
    expect(newest.produced).toBe(600);
    expect(oldest.produced).toBe(600);
    expect(newest.delivered + droppedTotal(newest)).toBe(600);
    // drop-newest keeps what arrived first: each delivered item waited behind five (1.5 s);
    // drop-oldest keeps the newest five, each at most ~500 ms old when taken.
    expect(newest.wait.p50).toBe(1500);
    expect(oldest.wait.p50).toBe(500);
    expect(oldest.latency.p50).toBeLessThan(newest.latency.p50);
  });

  it("the design note's token bucket: tryTake skips, take waits (14 + 6 and 20 + 0 of 20)", async () => {
    const scenario = (mode: 'try' | 'wait') =>
      constant(
        100,
        0,
        [
          {
            label: mode,
            capacity: 5,
            overflow: 'block',
            limiter: { kind: 'token-bucket', rate: 5, burst: 5, at: 'producers', mode },
          },
        ],
        { producers: [{ arrivals: { kind: 'constant', intervalMs: 100 }, count: 20 }] },
      );
    const { reports: skipping, events } = await run(scenario('try'));
    expect(one(skipping, 'try').delivered).toBe(14);
    expect(one(skipping, 'try').dropped).toEqual({ skipped: 6 });
    expect(events.filter((e) => e.outcome === 'skipped').map((e) => e.id)).toEqual([
      9, 11, 13, 15, 17, 19,
    ]);
    const { reports: waiting } = await run(scenario('wait'));
    expect(one(waiting, 'wait').delivered).toBe(20);
    expect(one(waiting, 'wait').producerBlockedMs).toBe(1100); // the last item at 3000 ms, not 1900
  });

  it("the default scenario's token bucket skips about half, and the channel drops the excess", async () => {
    const { reports } = await run(DEFAULT_SCENARIO);
    const bucket = one(reports, 'token bucket');
    expect(bucket.produced).toBe(600);
    // 5 in the first burst, then one per 200 ms: about 300 pass in a minute.
    expect(Math.abs(count(bucket, 'skipped') - 296)).toBeLessThanOrEqual(2);
    // The bucket passes 5/s; the consumer takes 3⅓/s: the rest overflows.
    expect(Math.abs(count(bucket, 'overflow') - 100)).toBeLessThanOrEqual(5);
  });

  it('a token bucket at the consumers paces them to its rate', async () => {
    const { reports } = await run(
      constant(
        1,
        0.1,
        [
          {
            label: 'paced',
            capacity: 100,
            overflow: 'drop-newest',
            limiter: { kind: 'token-bucket', rate: 250, burst: 10 },
          },
        ],
        { consumers: { count: 4, service: { kind: 'constant', ms: 0.1 } } },
      ),
    );
    const paced = one(reports, 'paced');
    expect(Math.abs(paced.throughputPerSec / 250 - 1)).toBeLessThan(0.01);
    expect(paced.delivered + count(paced, 'overflow')).toBe(paced.produced);
  });

  it('capacity 0 is a rendezvous: each send waits for the consumer to take the item', async () => {
    const { reports } = await run(
      constant(
        100,
        300,
        [
          { label: 'rendezvous', capacity: 0, overflow: 'block' },
          { label: 'reject', capacity: 0, overflow: 'reject' },
        ],
        { producers: [{ arrivals: { kind: 'constant', intervalMs: 100 }, count: 10 }] },
      ),
    );
    const r = one(reports, 'rendezvous');
    expect(r.delivered).toBe(10);
    expect(r.maxDepth).toBe(0);
    expect(r.latency.p50).toBe(500); // 200 ms waiting for the consumer, 300 ms of service
    // Without waiting, an item is taken only when the consumer is idle at that moment.
    const reject = one(reports, 'reject');
    expect(reject.dropped).toEqual({ rejected: 6 });
  });

  it("a producer in 'try' mode drops what a full block channel refuses", async () => {
    const { reports } = await run(
      constant(100, 300, [{ label: 'block', capacity: 5, overflow: 'block' }], {
        producers: [{ arrivals: { kind: 'constant', intervalMs: 100 }, mode: 'try' }],
      }),
    );
    const c = one(reports, 'block');
    expect(c.produced).toBe(600);
    expect(c.producerBlockedMs).toBe(0);
    expect(c.delivered + count(c, 'rejected')).toBe(600);
  });

  it('maxWaitMs expires what waited too long; no delivered item waited longer', async () => {
    const { reports } = await run(
      constant(100, 300, [
        { label: 'deadline', capacity: 100, overflow: 'block', maxWaitMs: 1000 },
      ]),
    );
    const c = one(reports, 'deadline');
    expect(count(c, 'expired')).toBeGreaterThan(0);
    expect(c.wait.max).toBeLessThanOrEqual(1000);
  });

  it('CoDel sheds the standing queue a plain channel keeps full', async () => {
    const { reports } = await run({
      name: 'codel',
      durationMs: 30_000,
      producers: [{ arrivals: { kind: 'poisson', ratePerSec: 1200 } }], // 20 % over capacity
      consumers: { count: 1, service: { kind: 'exponential', meanMs: 1 } },
      configurations: [
        { label: 'plain', capacity: 1000, overflow: 'drop-newest' },
        { label: 'rfc', capacity: 1000, overflow: 'drop-newest', codel: true },
        { label: 'requests', capacity: 1000, overflow: 'drop-newest', codel: { mode: 'requests' } },
      ],
    });
    const plain = one(reports, 'plain');
    expect(plain.dropped).toEqual({ overflow: expect.any(Number) });
    expect(plain.wait.p50).toBeGreaterThan(900); // a full buffer of 1000 at 1000/s
    for (const label of ['rfc', 'requests']) {
      const c = one(reports, label);
      expect(Object.keys(c.dropped)).toEqual(['shed']); // the buffer never fills
      expect(c.wait.p50).toBeLessThan(plain.wait.p50 / 5);
    }
    // The request variant holds the delay near its 5 ms target against a producer that never
    // slows down; the RFC's control law, made for senders that back off, lets it stand higher.
    expect(one(reports, 'requests').wait.p50).toBeLessThan(20);
  });

  it('drop-lowest with priorities never drops an urgent item while a routine one is buffered', async () => {
    const { reports, events } = await run({
      name: 'priorities',
      durationMs: 20_000,
      producers: [{ arrivals: { kind: 'poisson', ratePerSec: 400 }, urgentShare: 0.1 }],
      consumers: { count: 1, service: { kind: 'exponential', meanMs: 5 } },
      configurations: [
        { label: 'lowest', capacity: 20, overflow: 'drop-lowest', priorities: true },
      ],
    });
    const dropped = events.filter((e) => e.outcome !== 'delivered');
    expect(dropped.length).toBeGreaterThan(1000);
    expect(dropped.filter((e) => e.urgent)).toEqual([]);
    const urgent = events.filter((e) => e.urgent && e.outcome === 'delivered');
    const routine = events.filter((e) => !e.urgent && e.outcome === 'delivered');
    const meanWait = (list: ItemEvent[]) =>
      list.reduce((sum, e) => sum + (e.at - e.producedAt), 0) / list.length;
    expect(meanWait(urgent)).toBeLessThan(meanWait(routine));
    expect(one(reports, 'lowest').dropped).toEqual({ evicted: dropped.length });
  });

  it('a slowdown from atMs on makes service slower (drops start only after it)', async () => {
    const { events } = await run(
      constant(20, 10, [{ label: 'd', capacity: 10, overflow: 'drop-newest' }], {
        durationMs: 10_000,
        consumers: {
          count: 1,
          service: { kind: 'constant', ms: 10 },
          slowdown: { atMs: 5000, factor: 3 },
        },
      }),
    );
    const firstDrop = events.find((e) => e.outcome !== 'delivered');
    expect(firstDrop?.at).toBeGreaterThanOrEqual(5000);
    const before = events.find((e) => e.outcome === 'delivered' && e.producedAt === 1000);
    expect(before && before.at - before.producedAt).toBe(10);
  });

  it.each(['aimd', 'vegas', 'gradient2', 'envoy'] as const)(
    'an adaptive limit (%s) in front of a slow backend keeps its queue in the channel',
    async (algorithm) => {
      const { reports } = await run({
        name: 'adaptive',
        durationMs: 30_000,
        producers: [{ arrivals: { kind: 'poisson', ratePerSec: 900 } }],
        consumers: { count: 4, service: { kind: 'exponential', meanMs: 5 } },
        configurations: [
          {
            label: algorithm,
            capacity: 200,
            overflow: 'drop-oldest',
            limiter: { kind: 'adaptive', algorithm, initialLimit: 4 },
          },
        ],
      });
      const c = one(reports, algorithm);
      // Four workers of 5 ms serve 800/s at most: about 100/s must go.
      expect(c.throughputPerSec).toBeGreaterThan(700);
      expect(c.throughputPerSec).toBeLessThanOrEqual(805);
      expect(count(c, 'evicted')).toBeGreaterThan(0);
      expect(c.delivered + droppedTotal(c)).toBe(c.produced);
    },
  );

  it('bursts and traces make the items they describe; several producers add up', async () => {
    const { reports } = await run({
      name: 'arrivals',
      durationMs: 10_000,
      producers: [
        { arrivals: { kind: 'bursts', ratePerSec: 100, onMs: 1000, offMs: 4000 } },
        { arrivals: { kind: 'trace', timesMs: [0, 1, 2, 9_999, 10_000, 20_000] } },
        { arrivals: { kind: 'constant', intervalMs: 10 }, count: 7 },
      ],
      consumers: { count: 2, service: { kind: 'constant', ms: 1 } },
      configurations: [{ label: 'x', capacity: 1000, overflow: 'block' }],
    });
    // Two bursts of 100 (at 0 s and 5 s), the four trace times before 10 s, seven counted.
    expect(one(reports, 'x').produced).toBe(200 + 4 + 7);
    expect(one(reports, 'x').delivered).toBe(211);
  });
});

describe('simulate: the report', () => {
  it('has a series from 0 to the end, with cumulative counts that only grow', async () => {
    const report = await simulate(NOISY);
    for (const c of report.configurations) {
      expect(c.series[0]?.[0]).toBe(0);
      const last = c.series.at(-1) as readonly [number, number, number, number];
      expect(last[0]).toBeGreaterThanOrEqual(NOISY.durationMs);
      expect(last[2]).toBe(c.delivered);
      expect(last[3]).toBe(droppedTotal(c));
      expect(c.series.length).toBeGreaterThanOrEqual(200);
      for (let i = 1; i < c.series.length; i++) {
        const [t, depth, delivered, dropped] = c.series[i] as readonly [
          number,
          number,
          number,
          number,
        ];
        const prev = c.series[i - 1] as readonly [number, number, number, number];
        expect(t).toBeGreaterThan(prev[0]);
        expect(depth).toBeLessThanOrEqual(c.config.capacity);
        expect(delivered).toBeGreaterThanOrEqual(prev[2]);
        expect(dropped).toBeGreaterThanOrEqual(prev[3]);
      }
    }
  });

  it('has histograms that count every delivered item, with one bucket width for all', async () => {
    const report = await simulate(NOISY);
    const widths = new Set<number>();
    for (const c of report.configurations) {
      expect(c.histogram.reduce((sum, [, n]) => sum + n, 0)).toBe(c.delivered);
      const first = c.histogram[0] as readonly [number, number];
      widths.add(first[0]);
      for (const [k, [upper]] of c.histogram.entries()) {
        expect(upper).toBeCloseTo(first[0] * (k + 1), 6);
      }
      expect(c.histogram.at(-1)?.[0]).toBeGreaterThanOrEqual(c.latency.max);
      expect(c.latency.p50).toBeLessThanOrEqual(c.latency.p95);
      expect(c.latency.p95).toBeLessThanOrEqual(c.latency.p99);
      expect(c.latency.p99).toBeLessThanOrEqual(c.latency.max);
      expect(c.wait.mean).toBeLessThanOrEqual(c.latency.mean);
    }
    expect(widths.size).toBe(1);
  });

  it('reports zeros, not NaN, when nothing is delivered', async () => {
    const report = await simulate(
      constant(100, 300, [{ label: 'none', capacity: 1, overflow: 'block' }], {
        producers: [{ arrivals: { kind: 'constant', intervalMs: 100 }, count: 0 }],
      }),
    );
    const c = report.configurations[0] as ConfigReport;
    expect(c.produced).toBe(0);
    expect(c.latency).toEqual({ p50: 0, p95: 0, p99: 0, max: 0, mean: 0 });
    expect(c.throughputPerSec).toBe(0);
    expect(c.histogram).toEqual([]);
    expect(JSON.stringify(report)).not.toMatch(/NaN|null/);
  });

  it('reports progress from 0 to 1 with the running configuration', async () => {
    const seen: [number, string][] = [];
    await simulate(DEFAULT_SCENARIO, { onProgress: (done, label) => seen.push([done, label]) });
    expect(seen.length).toBeGreaterThan(100);
    expect(seen.every(([done], i) => i === 0 || done >= (seen[i - 1] as [number, string])[0])).toBe(
      true,
    );
    expect(seen.at(-1)).toEqual([1, 'token bucket']);
    expect(new Set(seen.map(([, label]) => label))).toEqual(
      new Set(['block', 'drop-newest', 'drop-oldest', 'token bucket']),
    );
  });
});

describe('simulate: errors', () => {
  it('checks the scenario', async () => {
    await expect(
      simulate({
        ...DEFAULT_SCENARIO,
        configurations: [{ label: 'x', capacity: -3, overflow: 'block' }],
      }),
    ).rejects.toThrow('configurations[0].capacity: expected an integer from 0 up, got -3');
  });

  it('names the configuration a primitive refuses', async () => {
    // Envoy's gradient starts from its minimum concurrency, 3 by default.
    const error = await simulate({
      ...DEFAULT_SCENARIO,
      configurations: [
        DEFAULT_SCENARIO.configurations[0] as PipeConfig,
        {
          label: 'e',
          capacity: 5,
          overflow: 'block',
          limiter: { kind: 'adaptive', algorithm: 'envoy', initialLimit: 1 },
        },
      ],
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScenarioError);
    expect((error as ScenarioError).message).toMatch(/^configurations\[1\]: .*initialLimit/);
  });

  it('refuses a time series of more than 100,000 samples', async () => {
    await expect(simulate({ ...DEFAULT_SCENARIO, sampleEveryMs: 0.5 })).rejects.toThrow(
      'sampleEveryMs: expected a step of at least 0.6 ms (at most 100,000 samples in durationMs), got 0.5',
    );
  });

  it(`refuses a run of more than ${MAX_ITEMS.toLocaleString('en-US')} items, before running it`, async () => {
    await expect(
      simulate(
        constant(0.001, 1, [{ label: 'x', capacity: 1, overflow: 'block' }], {
          durationMs: 3_600_000,
        }),
      ),
    ).rejects.toThrow(
      /about 3,600,000,001 items per configuration; the lab simulates at most 10,000,000/,
    );
  });
});

describe('simulate: speed', () => {
  it('simulates a minute at 2,000 items per second (the time is printed, not asserted)', async () => {
    const scenario: Scenario = {
      name: 'speed',
      durationMs: 60_000,
      producers: [{ arrivals: { kind: 'poisson', ratePerSec: 2000 } }],
      consumers: { count: 4, service: { kind: 'exponential', meanMs: 1.8 } },
      configurations: [
        { label: 'block', capacity: 100, overflow: 'block' },
        { label: 'drop-oldest', capacity: 100, overflow: 'drop-oldest' },
        { label: 'codel', capacity: 1000, overflow: 'drop-newest', codel: true },
      ],
    };
    await simulate({ ...scenario, durationMs: 2000 }); // warm the JIT
    const started = performance.now();
    const report = await simulate(scenario);
    const ms = performance.now() - started;
    const items = report.configurations.reduce((sum, c) => sum + c.produced, 0);
    console.log(
      `lab speed: ${report.configurations.length} configurations × 60 s simulated at 2,000 items/s ` +
        `(${items.toLocaleString('en-US')} items) in ${ms.toFixed(0)} ms ` +
        `(${(ms / report.configurations.length).toFixed(0)} ms per simulated minute)`,
    );
    expect(report.configurations.every((c) => c.produced > 110_000)).toBe(true);
  });
});
