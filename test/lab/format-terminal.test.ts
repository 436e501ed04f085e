import { describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO } from '../../src/lab/default-scenario.js';
import {
  describeConfig,
  describeWorkload,
  formatReport,
  ms,
} from '../../src/lab/format-terminal.js';
import { simulate } from '../../src/lab/simulate.js';
import type { LabReport, Scenario } from '../../src/lab/types.js';

const report: LabReport = await simulate(DEFAULT_SCENARIO);

/** The table's row named `name`, as its cells. */
function row(text: string, name: string): string[] {
  const line = text.split('\n').find((l) => l.trimStart().startsWith(name));
  if (line === undefined) throw new Error(`no row ${name}`);
  return line
    .trim()
    .slice(name.length)
    .trim()
    .split(/\s{2,}/);
}

describe('formatReport', () => {
  const text = formatReport(report);

  it("shows the design note's comparison, one column per configuration", () => {
    expect(text.startsWith('sluice lab: design note\n')).toBe(true);
    expect(text).toContain(
      '60 s simulated, seed 1 · 1 producer: one item every 100 ms · 1 consumer: 300 ms per item',
    );
    expect(text).toMatch(/^\s+block\s+drop-newest\s+drop-oldest\s+token bucket$/m);
    expect(row(text, 'produced')).toEqual(['206', '600', '600', '600']);
    expect(row(text, 'delivered')).toEqual(['206', '205 (34 %)', '205 (34 %)', '205 (34 %)']);
    expect(row(text, 'overflow')).toEqual(['·', '395', '·', '99']);
    expect(row(text, 'evicted')).toEqual(['·', '·', '395', '·']);
    expect(row(text, 'skipped')).toEqual(['·', '·', '·', '296']);
    expect(row(text, 'throughput')).toEqual(['3.33/s', '3.33/s', '3.33/s', '3.33/s']);
    expect(row(text, 'latency p50')).toEqual(['2 s', '1.8 s', '800 ms', '1.7 s']);
    expect(row(text, 'max depth')).toEqual(['5', '5', '5', '5']);
    expect(row(text, 'producers blocked')).toEqual(['39.5 s', '0', '0', '0']);
  });

  it('lists the drop reasons in a fixed order', () => {
    const reasons = ['overflow', 'evicted', 'skipped'].map((r) => text.indexOf(`\n    ${r} `));
    expect(reasons.every((at, i) => at > 0 && (i === 0 || at > (reasons[i - 1] as number)))).toBe(
      true,
    );
  });

  it('describes each configuration, and draws queue depth over time', () => {
    expect(text).toContain(
      '  token bucket: capacity 5, drop-newest; token bucket 5/s, burst 5, in front of the producers',
    );
    const chart = text.split('\n').filter((l) => /^ {2}\S.*[▁▂▃▄▅▆▇█].* peak \d/.test(l));
    expect(chart).toHaveLength(4);
    expect(chart[0]).toMatch(/^ {2}block\s+▆█+▃ peak 5$/);
    expect(text).toMatch(/0 s\s+61\.8 s\n/);
  });

  it('keeps every line within the width, splitting a wide table', () => {
    for (const width of [60, 80, 100]) {
      const lines = formatReport(report, { width }).split('\n');
      expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(width);
    }
    const narrow = formatReport(report, { width: 60 });
    expect(narrow.split('\n').filter((l) => l.trimStart().startsWith('produced'))).toHaveLength(2);
  });

  it('shows a dash for the latency of a configuration that delivered nothing', async () => {
    const empty = await simulate({
      ...DEFAULT_SCENARIO,
      producers: [{ arrivals: { kind: 'constant', intervalMs: 100 }, count: 0 }],
      configurations: [{ label: 'idle', capacity: 1, overflow: 'block' }],
    });
    const out = formatReport(empty);
    expect(row(out, 'latency p50')).toEqual(['–']);
    expect(row(out, 'delivered')).toEqual(['0']);
  });
});

describe('describeWorkload and describeConfig', () => {
  it('say what every kind of producer, consumer and pipe does', () => {
    const scenario: Scenario = {
      name: 'all',
      durationMs: 90_000,
      producers: [
        { arrivals: { kind: 'poisson', ratePerSec: 2000 }, urgentShare: 0.1 },
        {
          arrivals: { kind: 'bursts', ratePerSec: 50, onMs: 2000, offMs: 8000 },
          count: 10,
          mode: 'try',
        },
        { arrivals: { kind: 'trace', timesMs: [0, 500, 1000] } },
      ],
      consumers: {
        count: 3,
        service: { kind: 'lognormal', medianMs: 20, sigma: 0.5 },
        slowdown: { atMs: 30_000, factor: 2 },
      },
      configurations: [],
    };
    expect(describeWorkload(scenario, 4)).toBe(
      '90 s simulated, seed 4 · 1 producer: Poisson, 2,000/s (10 % urgent); 1 producer: bursts of ' +
        '50/s for 2 s, then 8 s off (at most 10 items, never waits); 1 producer: a trace of 3 ' +
        'arrivals (2/s) · 3 consumers: log-normal, median 20 ms, σ 0.5 (mean 22.7 ms), 2× slower from 30 s',
    );
    expect(
      describeWorkload(
        {
          ...scenario,
          producers: [scenario.producers[0]!, scenario.producers[0]!],
          consumers: { count: 1, service: { kind: 'uniform', minMs: 1, maxMs: 3 } },
        },
        1,
      ),
    ).toBe(
      '90 s simulated, seed 1 · 2 producers: Poisson, 2,000/s (10 % urgent) · 1 consumer: 1 ms to 3 ms per item (uniform)',
    );
    expect(
      describeWorkload(
        { ...scenario, consumers: { count: 1, service: { kind: 'exponential', meanMs: 0.5 } } },
        1,
      ),
    ).toMatch(/1 consumer: exponential, mean 0\.5 ms$/);
    expect(
      describeConfig({
        label: 'x',
        capacity: 1000,
        overflow: 'drop-lowest',
        priorities: true,
        maxWaitMs: 250,
        codel: { mode: 'requests', targetMs: 10 },
        limiter: { kind: 'adaptive', algorithm: 'gradient2', initialLimit: 4 },
      }),
    ).toBe(
      'capacity 1,000, drop-lowest; urgent first; items expire after 250 ms; CoDel (requests) target ' +
        '10 ms, interval 100 ms; adaptive limit (gradient2, from 4) in front of the consumers',
    );
    expect(
      describeConfig({
        label: 'y',
        capacity: 0,
        overflow: 'block',
        codel: true,
        order: 'adaptive-lifo',
        limiter: { kind: 'token-bucket', rate: 100, burst: 10 },
      }),
    ).toBe(
      'capacity 0, block; CoDel target 5 ms, interval 100 ms; adaptive LIFO; token bucket 100/s, burst 10, pacing the consumers',
    );
    expect(
      describeConfig({
        label: 'z',
        capacity: 1,
        overflow: 'block',
        limiter: { kind: 'token-bucket', rate: 1, burst: 1, at: 'producers', mode: 'wait' },
      }),
    ).toBe(
      'capacity 1, block; token bucket 1/s, burst 1, in front of the producers (wait for a token)',
    );
  });

  it('formats times', () => {
    expect([0, 0.4213, 4.2, 42.37, 300, 1800, 61_800, 1_800_000].map(ms)).toEqual([
      '0 s',
      '0.421 ms',
      '4.2 ms',
      '42.4 ms',
      '300 ms',
      '1.8 s',
      '61.8 s',
      '1,800 s',
    ]);
  });
});
