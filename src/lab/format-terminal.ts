/**
 * The lab's report as text for a terminal: a header naming the workload, one table with a
 * column per configuration (delivered, dropped by reason, throughput, latency percentiles, max
 * depth, time producers spent blocked), a legend of the configurations, and a one-line chart of
 * queue depth over time per configuration, all on the same scale.
 *
 * Pure: the same report gives the same text. No colours, so it reads the same in a log file.
 */
import { meanOf, rateOf } from './random.js';
import { DROP_REASONS } from './simulate.js';
import type { ConfigReport, LabReport, PipeConfig, Scenario } from './types.js';

/** Options for {@link formatReport}. */
export interface FormatOptions {
  /** The widest a line may be, in characters (default 100); wider tables are split. */
  readonly width?: number | undefined;
}

const LEVELS = ' ▁▂▃▄▅▆▇█';

/** Renders `report` as lines of text, ending with a newline. */
export function formatReport(report: LabReport, options: FormatOptions = {}): string {
  const width = Math.max(60, options.width ?? 100);
  const { scenario } = report;
  const out: string[] = [];
  out.push(`sluice lab: ${scenario.name}`);
  if (scenario.description !== undefined) out.push(...wrap(scenario.description, width));
  out.push('');
  out.push(...wrap(describeWorkload(scenario, report.seed), width, '  '));
  out.push('');
  out.push(...table(report.configurations, width));
  out.push('');
  for (const c of report.configurations) {
    out.push(...wrap(`${c.label}: ${describeConfig(c.config)}`, width, '  ', '    '));
  }
  out.push('');
  out.push(...depthChart(report.configurations, width));
  out.push('');
  out.push(
    ...wrap(
      'latency: from an item being made to the end of its service; throughput: delivered per ' +
        'second of the run, drain included; producers blocked: time spent waiting for room or a token.',
      width,
      '  ',
    ),
  );
  return `${out.join('\n')}\n`;
}

/** One line saying what the scenario simulates. */
export function describeWorkload(scenario: Scenario, seed: number): string {
  const producers = scenario.producers.map((p) => {
    const a = p.arrivals;
    let what: string;
    switch (a.kind) {
      case 'constant':
        what = `one item every ${ms(a.intervalMs)}`;
        break;
      case 'poisson':
        what = `Poisson, ${num(a.ratePerSec)}/s`;
        break;
      case 'bursts':
        what = `bursts of ${num(a.ratePerSec)}/s for ${ms(a.onMs)}, then ${ms(a.offMs)} off`;
        break;
      case 'trace':
        what = `a trace of ${count(a.timesMs.length)} arrivals (${num(rateOf(a))}/s)`;
        break;
    }
    const extras: string[] = [];
    if (p.count !== undefined) extras.push(`at most ${count(p.count)} items`);
    if (p.urgentShare !== undefined && p.urgentShare > 0) {
      extras.push(`${num(p.urgentShare * 100)} % urgent`);
    }
    if (p.mode === 'try') extras.push('never waits');
    return extras.length === 0 ? what : `${what} (${extras.join(', ')})`;
  });
  const groups = new Map<string, number>();
  for (const p of producers) groups.set(p, (groups.get(p) ?? 0) + 1);
  const producerText = [...groups]
    .map(([what, n]) => `${n} producer${n === 1 ? '' : 's'}: ${what}`)
    .join('; ');
  const c = scenario.consumers;
  const s = c.service;
  let service: string;
  switch (s.kind) {
    case 'constant':
      service = `${ms(s.ms)} per item`;
      break;
    case 'uniform':
      service = `${ms(s.minMs)} to ${ms(s.maxMs)} per item (uniform)`;
      break;
    case 'exponential':
      service = `exponential, mean ${ms(s.meanMs)}`;
      break;
    case 'lognormal':
      service = `log-normal, median ${ms(s.medianMs)}, σ ${num(s.sigma)} (mean ${ms(meanOf(s))})`;
      break;
  }
  const slowdown =
    c.slowdown === undefined
      ? ''
      : `, ${num(c.slowdown.factor)}× slower from ${ms(c.slowdown.atMs)}`;
  const consumerText = `${c.count} consumer${c.count === 1 ? '' : 's'}: ${service}${slowdown}`;
  return `${ms(scenario.durationMs)} simulated, seed ${seed} · ${producerText} · ${consumerText}`;
}

/** One line describing a configuration's pipe. */
export function describeConfig(config: PipeConfig): string {
  const parts = [`capacity ${count(config.capacity)}, ${config.overflow}`];
  if (config.priorities === true) parts.push('urgent first');
  if (config.maxWaitMs !== undefined) parts.push(`items expire after ${ms(config.maxWaitMs)}`);
  if (config.codel !== undefined && config.codel !== false) {
    const o = config.codel === true ? {} : config.codel;
    parts.push(
      `CoDel${o.mode === 'requests' ? ' (requests)' : ''} target ${ms(o.targetMs ?? 5)}, interval ${ms(o.intervalMs ?? 100)}`,
    );
  }
  if (config.order === 'adaptive-lifo') parts.push('adaptive LIFO');
  const limiter = config.limiter;
  if (limiter?.kind === 'token-bucket') {
    const where =
      limiter.at === 'producers'
        ? `in front of the producers (${limiter.mode === 'try' ? 'tryTake: skip without a token' : limiter.mode === 'wait' ? 'wait for a token' : "the producers' mode"})`
        : 'pacing the consumers';
    parts.push(`token bucket ${num(limiter.rate)}/s, burst ${limiter.burst}, ${where}`);
  } else if (limiter?.kind === 'adaptive') {
    const initial = limiter.initialLimit === undefined ? '' : `, from ${limiter.initialLimit}`;
    parts.push(`adaptive limit (${limiter.algorithm}${initial}) in front of the consumers`);
  }
  return parts.join('; ');
}

// ---- the table ------------------------------------------------------------------------------

type Row = readonly [string, readonly string[]];

function rows(configs: readonly ConfigReport[]): Row[] {
  const seen = new Set(configs.flatMap((c) => Object.keys(c.dropped)));
  const reasons = [
    ...DROP_REASONS.filter((r) => seen.has(r)),
    ...[...seen].filter((r) => !DROP_REASONS.includes(r)),
  ];
  const none = (c: ConfigReport) => c.delivered === 0;
  const latency = (pick: (c: ConfigReport) => number) => (c: ConfigReport) =>
    none(c) ? '–' : ms(pick(c));
  const dropped = (c: ConfigReport) => Object.values(c.dropped).reduce((a, b) => a + b, 0);
  const line = (name: string, f: (c: ConfigReport) => string): Row => [name, configs.map(f)];
  return [
    line('produced', (c) => count(c.produced)),
    line('delivered', (c) => `${count(c.delivered)}${percentOf(c.delivered, c.produced)}`),
    line('dropped', (c) => `${count(dropped(c))}${percentOf(dropped(c), c.produced)}`),
    ...reasons.map((reason) =>
      line(`  ${reason}`, (c) =>
        c.dropped[reason] === undefined ? '·' : count(c.dropped[reason]),
      ),
    ),
    line('throughput', (c) => `${num(c.throughputPerSec)}/s`),
    line(
      'latency p50',
      latency((c) => c.latency.p50),
    ),
    line(
      '        p95',
      latency((c) => c.latency.p95),
    ),
    line(
      '        p99',
      latency((c) => c.latency.p99),
    ),
    line(
      '        max',
      latency((c) => c.latency.max),
    ),
    line('max depth', (c) => count(c.maxDepth)),
    line('producers blocked', (c) => (c.producerBlockedMs === 0 ? '0' : ms(c.producerBlockedMs))),
  ];
}

function table(configs: readonly ConfigReport[], width: number): string[] {
  const all = rows(configs);
  const nameWidth = Math.max(...all.map(([name]) => name.length)) + 2;
  const columnWidth = configs.map(
    (c, i) =>
      Math.max(c.label.length, ...all.map(([, values]) => (values[i] as string).length)) + 3,
  );
  const out: string[] = [];
  let start = 0;
  while (start < configs.length) {
    let end = start + 1;
    let used = 2 + nameWidth + (columnWidth[start] as number);
    while (end < configs.length && used + (columnWidth[end] as number) <= width) {
      used += columnWidth[end] as number;
      end++;
    }
    if (out.length > 0) out.push('');
    const cell = (text: string, i: number) => text.padStart(columnWidth[i] as number);
    let header = `  ${''.padEnd(nameWidth)}`;
    for (let i = start; i < end; i++) header += cell((configs[i] as ConfigReport).label, i);
    out.push(header.trimEnd());
    for (const [name, values] of all) {
      let text = `  ${name.padEnd(nameWidth)}`;
      for (let i = start; i < end; i++) text += cell(values[i] as string, i);
      out.push(text);
    }
    start = end;
  }
  return out;
}

// ---- the depth chart ------------------------------------------------------------------------

function depthChart(configs: readonly ConfigReport[], width: number): string[] {
  const labelWidth = Math.max(...configs.map((c) => c.label.length)) + 2;
  const columns = Math.max(10, Math.min(72, width - labelWidth - 14));
  const endMs = Math.max(...configs.map((c) => c.series.at(-1)?.[0] ?? 0));
  const out = wrap(
    'queue depth over time (each row on its own scale: a full block is its peak)',
    width,
    '  ',
  );
  for (const c of configs) {
    const peaks = new Array<number>(columns).fill(-1);
    let top = 0;
    for (const [t, depth] of c.series) {
      const k = endMs === 0 ? 0 : Math.min(columns - 1, Math.floor((t / endMs) * columns));
      if (depth > (peaks[k] as number)) peaks[k] = depth;
      if (depth > top) top = depth;
    }
    // A column without a sample shows the depth of the one before it.
    let last = 0;
    const bar = peaks
      .map((p) => {
        if (p >= 0) last = p;
        return LEVELS[last === 0 ? 0 : Math.max(1, Math.round((last / top) * 8))];
      })
      .join('');
    out.push(`  ${c.label.padEnd(labelWidth)}${bar} peak ${count(top)}`);
  }
  const axisStart = ms(0);
  const axisEnd = ms(endMs);
  out.push(`  ${''.padEnd(labelWidth)}${axisStart}${axisEnd.padStart(columns - axisStart.length)}`);
  return out;
}

// ---- numbers --------------------------------------------------------------------------------

/** A count with thousands separators. */
function count(n: number): string {
  return n.toLocaleString('en-US');
}

function percentOf(part: number, whole: number): string {
  if (whole === 0 || part === 0 || part === whole) return '';
  const p = (part / whole) * 100;
  return ` (${p < 1 ? '<1' : Math.round(p)} %)`;
}

/** Three significant digits, without trailing zeros: 3.33, 12.5, 800, 1,234. */
function num(x: number): string {
  if (x === 0) return '0';
  const abs = Math.abs(x);
  if (abs >= 1000) return Math.round(x).toLocaleString('en-US');
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return String(Number(x.toFixed(digits)));
}

/** A time: `0`, `0.42 ms`, `300 ms`, `1.8 s`, `61.8 s`, `1,800 s`. */
export function ms(x: number): string {
  if (x === 0) return '0 s';
  if (Math.abs(x) < 1000) return `${num(x)} ms`;
  return `${num(x / 1000)} s`;
}

function wrap(text: string, width: number, indent = '', next = indent): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (word === '') continue;
    if (line === '') line = (lines.length === 0 ? indent : next) + word;
    else if (line.length + 1 + word.length > width) {
      lines.push(line);
      line = next + word;
    } else line += ` ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines;
}
