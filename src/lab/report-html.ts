/**
 * The lab's HTML report (`sluice lab --report report.html`): one self-contained page that shows
 * what each configuration did to the scenario's workload.
 *
 * What the page promises:
 * 1. It is one file that needs nothing else: no network, no scripts, no fonts to fetch; CSS and
 *    SVG are inline, and a Content-Security-Policy forbids every fetch, so a browser would refuse
 *    (and report) anything that tried.
 * 2. The charts are SVG drawn here, in TypeScript: they render without JavaScript, scale with
 *    their `viewBox` (a phone shows them one under another) and print (`@media print`).
 * 3. Every string that comes from the report (labels, names, drop reasons: they come from user
 *    scenario files) is escaped, and every number goes through a formatter that prints `—` for a
 *    value that is not a finite number, so a malformed report cannot inject markup.
 * 4. The same report gives the same page, byte for byte (no dates, no random ids).
 *
 * Layout: the scenario, then a comparison of every configuration (outcome of every item, queue
 * depth, latency percentiles, one table), then a section per configuration (its tables, and its
 * queue depth, cumulative delivered and dropped, and latency distribution). Time charts share one
 * scale across configurations so they can be compared by eye.
 */

import {
  barChart,
  escapeXml as esc,
  formatNumber,
  histogram,
  lineChart,
  PALETTE,
  stripsChart,
} from './svg.js';
import type {
  Arrivals,
  ConfigReport,
  Duration,
  LabReport,
  LimiterSpec,
  PipeConfig,
  ProducerSpec,
} from './types.js';

/** Colours with a meaning: delivered items, each drop reason in turn, and items in neither. */
const DELIVERED_COLOR = '#15803d';
const DROPPED_COLORS: readonly string[] = [
  '#c2410c',
  '#be123c',
  '#7e22ce',
  '#a16207',
  '#0e7490',
  '#475569',
];
const OTHER_COLOR = '#64748b';
const PERCENTILE_COLORS = { p50: '#0f766e', p95: '#b45309', p99: '#be123c' } as const;
const MARKER_COLORS = { p50: '#1e293b', p99: '#be123c' } as const;

/** Renders `report` as one self-contained HTML page. */
export function renderHtml(report: LabReport): string {
  const view = prepare(report);
  const title = `sluice lab: ${report.scenario.name}`;
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<meta http-equiv="Content-Security-Policy" content="${CSP}">`,
    '<meta name="color-scheme" content="light">',
    `<meta name="generator" content="sluice ${esc(report.version)}">`,
    `<title>${esc(title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    '<main>',
    header(report),
    nav(view),
    scenarioSection(report),
    comparisonSection(view),
    ...view.configs.map((config) => configSection(view, config)),
    footer(report),
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

const CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

const CSS = `
:root { color-scheme: light; --fg: #1e293b; --muted: #475569; --line: #cbd5e1; --soft: #f1f5f9; --link: #1d4ed8; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body { margin: 0; background: #fff; color: var(--fg); font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Liberation Sans", sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 1rem 1.25rem 2rem; }
h1, h2, h3 { line-height: 1.25; overflow-wrap: anywhere; }
h1 { font-size: 1.7rem; margin: 0.2rem 0 0.4rem; }
h2 { font-size: 1.3rem; margin: 2rem 0 0.6rem; padding-top: 0.6rem; border-top: 2px solid var(--line); }
h3 { font-size: 1rem; margin: 1rem 0 0.3rem; }
p { margin: 0.3rem 0; overflow-wrap: anywhere; }
a { color: var(--link); }
.eyebrow { color: var(--muted); font-size: 0.85rem; letter-spacing: 0.02em; margin: 0; }
.lead { color: var(--muted); max-width: 70ch; }
nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: 0.3rem 1rem; padding: 0; margin: 0.6rem 0 0; font-size: 0.9rem; }
nav li { overflow-wrap: anywhere; }
.facts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 11rem), 1fr)); gap: 0.5rem; margin: 0; font-size: 0.95rem; }
.facts > div { background: var(--soft); border-radius: 6px; padding: 0.4rem 0.7rem; }
.facts dt { color: var(--muted); font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.04em; }
.facts dd { margin: 0; overflow-wrap: anywhere; }
.facts ul { margin: 0; padding-left: 1.1rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 330px), 1fr)); gap: 1rem; margin: 0.8rem 0; }
figure { margin: 0; padding: 0.6rem 0.6rem 0.4rem; border: 1px solid var(--line); border-radius: 6px; min-width: 0; break-inside: avoid; page-break-inside: avoid; }
figure svg { display: block; width: 100%; height: auto; }
figure svg text { font-family: inherit; }
figcaption { color: var(--muted); font-size: 0.85rem; margin-top: 0.3rem; }
.table-wrap { overflow-x: auto; margin: 0.6rem 0; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 0.92rem; }
caption { text-align: left; font-weight: 600; padding: 0 0 0.3rem; }
th, td { padding: 0.35rem 0.6rem; border-bottom: 1px solid var(--line); text-align: right; vertical-align: top; white-space: nowrap; }
th { font-weight: 600; }
thead th { border-bottom: 2px solid var(--fg); vertical-align: bottom; white-space: normal; }
thead th.group { text-align: center; border-bottom: 1px solid var(--line); }
th[scope="row"], td.text, th.text { text-align: left; }
td.text { white-space: normal; min-width: 10rem; }
.compare th[scope="row"] { position: sticky; left: 0; background: #fff; white-space: normal; min-width: 10rem; max-width: 18rem; overflow-wrap: anywhere; }
@media (min-width: 900px) { .compare th[scope="row"] { min-width: 14rem; } }
.compare th[scope="row"] .small { font-weight: 400; }
.best { font-weight: 700; }
.small { color: var(--muted); font-size: 0.82rem; }
.swatch { display: inline-block; width: 0.8em; height: 0.8em; border-radius: 2px; margin-right: 0.35em; vertical-align: -0.05em; print-color-adjust: exact; -webkit-print-color-adjust: exact; }
.tables { display: flex; flex-wrap: wrap; gap: 0 2rem; }
.tables > .table-wrap { max-width: 100%; }
footer { margin-top: 2.5rem; color: var(--muted); font-size: 0.85rem; border-top: 1px solid var(--line); padding-top: 0.6rem; }
@media (max-width: 600px) {
  main { padding: 0.75rem; }
  h1 { font-size: 1.35rem; }
  th, td { padding: 0.3rem 0.45rem; }
}
@media print {
  @page { margin: 12mm; }
  html { font-size: 10pt; }
  body { font-size: 1rem; }
  main { max-width: none; padding: 0; }
  nav { display: none; }
  a { color: inherit; text-decoration: none; }
  h2 { break-after: avoid; page-break-after: avoid; }
  .config { break-before: page; page-break-before: always; }
  .charts { grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 4mm; }
  figure { border-color: #94a3b8; }
  .table-wrap { overflow: visible; }
  .compare th[scope="row"] { position: static; min-width: 7rem; }
  table { font-size: 0.85rem; }
  th, td { padding: 0.2rem 0.35rem; white-space: normal; }
}
`
  .trim()
  .replace(/\n\s*/g, '\n');

// ---------------------------------------------------------------------------------------------
// What every part of the page shares: scales, colours, units.

interface TimeUnit {
  readonly name: 'ms' | 's' | 'min';
  readonly ms: number;
}

interface ConfigView {
  readonly index: number;
  readonly id: string;
  readonly color: string;
  readonly report: ConfigReport;
  readonly droppedTotal: number;
  /** Produced items that were neither delivered nor dropped (still queued or in service when the run ended). */
  readonly other: number;
}

interface View {
  readonly report: LabReport;
  readonly configs: readonly ConfigView[];
  /** Drop reasons in the order they first appear, across configurations. */
  readonly reasons: readonly string[];
  /** The time axis of every time chart, ms. */
  readonly timeMaxMs: number;
  readonly timeUnit: TimeUnit;
  readonly depthMax: number;
  readonly countMax: number;
  /** Whether any configuration has produced items that are neither delivered nor dropped. */
  readonly anyOther: boolean;
}

function prepare(report: LabReport): View {
  const reasons: string[] = [];
  const configs = report.configurations.map((config, index): ConfigView => {
    let droppedTotal = 0;
    for (const [reason, value] of Object.entries(config.dropped ?? {})) {
      if (!reasons.includes(reason)) reasons.push(reason);
      droppedTotal += finite(value);
    }
    const other = Math.max(0, finite(config.produced) - finite(config.delivered) - droppedTotal);
    return {
      index,
      id: `config-${index + 1}`,
      color: PALETTE[index % PALETTE.length]!,
      report: config,
      droppedTotal,
      other,
    };
  });
  let timeMaxMs = finite(report.scenario.durationMs);
  let depthMax = 0;
  let countMax = 0;
  for (const { report: config } of configs) {
    depthMax = Math.max(depthMax, finite(config.maxDepth));
    for (const [t, depth, delivered, dropped] of config.series ?? []) {
      timeMaxMs = Math.max(timeMaxMs, finite(t));
      depthMax = Math.max(depthMax, finite(depth));
      countMax = Math.max(countMax, finite(delivered), finite(dropped));
    }
  }
  // A capacity a little above the deepest queue is worth showing; a huge one would flatten the chart.
  for (const { report: config } of configs) {
    const capacity = finite(config.config?.capacity);
    if (capacity <= Math.max(1, depthMax) * 1.5) depthMax = Math.max(depthMax, capacity);
  }
  return {
    report,
    configs,
    reasons,
    timeMaxMs,
    timeUnit: timeUnit(timeMaxMs),
    depthMax: Math.max(1, depthMax),
    countMax: Math.max(1, countMax),
    anyOther: configs.some((config) => config.other > 0),
  };
}

function finite(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** The unit to show times up to `maxMs` in: ms below 2 s, s below 10 min, then min. */
function timeUnit(maxMs: number): TimeUnit {
  if (maxMs < 2_000) return { name: 'ms', ms: 1 };
  if (maxMs < 600_000) return { name: 's', ms: 1_000 };
  return { name: 'min', ms: 60_000 };
}

/**
 * A duration in the unit that suits it: `950 ms`, `1,800 ms`, `39.5 s`, `2.5 min` (ms up to 10 s,
 * so that latencies side by side share a unit); `—` if it is not a number.
 */
function ms(value: unknown): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  const unit: TimeUnit = abs < 10_000 ? { name: 'ms', ms: 1 } : timeUnit(abs);
  return `${formatNumber(value / unit.ms)} ${unit.name}`;
}

/** A count: `12,345`; `—` if it is not a number. */
function count(value: unknown): string {
  return typeof value === 'number' && Number.isFinite(value)
    ? formatNumber(Math.round(value))
    : '—';
}

function percent(part: number, whole: number): string {
  if (!(whole > 0) || !Number.isFinite(part)) return '—';
  const share = (part / whole) * 100;
  return `${share > 0 && share < 0.1 ? '<0.1' : formatNumber(Math.round(share * 10) / 10)}%`;
}

function plural(value: number, one: string, many = `${one}s`): string {
  return `${count(value)} ${value === 1 ? one : many}`;
}

function swatch(color: string): string {
  return `<span class="swatch" style="background:${color}" aria-hidden="true"></span>`;
}

/** The colour of a configuration's dropped items: its reason's, if it has only one. */
function droppedColor(view: View, config: ConfigReport): string {
  const reasons = Object.entries(config.dropped ?? {}).filter(([, value]) => finite(value) > 0);
  return reasons.length === 1 ? reasonColor(view, reasons[0]![0]) : DROPPED_COLORS[0]!;
}

function reasonColor(view: View, reason: string): string {
  return DROPPED_COLORS[view.reasons.indexOf(reason) % DROPPED_COLORS.length]!;
}

// ---------------------------------------------------------------------------------------------
// Words for the scenario's parts.

function describeArrivals(arrivals: Arrivals): string {
  switch (arrivals.kind) {
    case 'constant':
      return `one item every ${ms(arrivals.intervalMs)} (${formatNumber(1000 / arrivals.intervalMs)}/s)`;
    case 'poisson':
      return `Poisson arrivals, ${formatNumber(arrivals.ratePerSec)}/s on average`;
    case 'bursts':
      return `bursts of ${formatNumber(arrivals.ratePerSec)}/s for ${ms(arrivals.onMs)}, then ${ms(arrivals.offMs)} off`;
    case 'trace': {
      const times = arrivals.timesMs ?? [];
      const span = times.length > 0 ? Math.max(...times.map(finite)) : 0;
      return `a recorded trace of ${plural(times.length, 'arrival')} over ${ms(span)}`;
    }
    default:
      return JSON.stringify(arrivals) ?? 'unknown arrivals';
  }
}

function describeDuration(duration: Duration): string {
  switch (duration.kind) {
    case 'constant':
      return ms(duration.ms);
    case 'uniform':
      return `uniform between ${ms(duration.minMs)} and ${ms(duration.maxMs)}`;
    case 'exponential':
      return `exponential, mean ${ms(duration.meanMs)}`;
    case 'lognormal':
      return `log-normal, median ${ms(duration.medianMs)}, σ ${formatNumber(duration.sigma)}`;
    default:
      return JSON.stringify(duration) ?? 'unknown';
  }
}

function describeProducer(producer: ProducerSpec): string {
  const parts = [describeArrivals(producer.arrivals)];
  if (producer.count !== undefined) parts.push(`at most ${plural(producer.count, 'item')}`);
  if (producer.urgentShare !== undefined && producer.urgentShare > 0)
    parts.push(`${percent(producer.urgentShare, 1)} urgent`);
  if (producer.mode === 'try') parts.push('drops an item when the pipe is full (trySend)');
  return parts.join('; ');
}

function describeLimiter(limiter: LimiterSpec): string {
  switch (limiter.kind) {
    case 'token-bucket': {
      const bucket = `token bucket ${formatNumber(limiter.rate)}/s, burst ${count(limiter.burst)}`;
      if (limiter.at !== 'producers') return `${bucket}, on the consumers' takes`;
      const mode =
        limiter.mode === 'try'
          ? ' (an item without a token is skipped)'
          : limiter.mode === 'wait'
            ? ' (the producer waits for a token)'
            : '';
      return `${bucket}, on the producers' sends${mode}`;
    }
    case 'adaptive':
      return `adaptive limit (${limiter.algorithm}${limiter.initialLimit === undefined ? '' : `, from ${count(limiter.initialLimit)}`})`;
    default:
      return JSON.stringify(limiter) ?? 'unknown limiter';
  }
}

/** The pipe in one line: `capacity 5, drop-oldest, priorities, max wait 2 s`. */
function describePipe(config: PipeConfig): string {
  const capacity = finite(config.capacity);
  const parts = [
    capacity === 0 ? 'capacity 0 (rendezvous)' : `capacity ${count(config.capacity)}`,
    String(config.overflow),
  ];
  if (config.priorities === true) parts.push('priorities');
  if (config.maxWaitMs !== undefined) parts.push(`max wait ${ms(config.maxWaitMs)}`);
  if (config.codel !== undefined && config.codel !== false) {
    const codel = config.codel === true ? {} : config.codel;
    const settings = [
      codel.targetMs === undefined ? '' : `target ${ms(codel.targetMs)}`,
      codel.intervalMs === undefined ? '' : `interval ${ms(codel.intervalMs)}`,
      codel.mode === undefined ? '' : `${codel.mode} mode`,
    ].filter((part) => part !== '');
    parts.push(settings.length === 0 ? 'CoDel' : `CoDel (${settings.join(', ')})`);
  }
  if (config.order === 'adaptive-lifo') parts.push('adaptive LIFO');
  if (config.limiter !== undefined) parts.push(describeLimiter(config.limiter));
  return parts.join(', ');
}

function droppedBreakdown(config: ConfigReport): string {
  const parts = Object.entries(config.dropped ?? {})
    .filter(([, value]) => finite(value) > 0)
    .map(([reason, value]) => `${count(value)} ${reason}`);
  return parts.length === 0 ? 'none' : parts.join(', ');
}

// ---------------------------------------------------------------------------------------------
// The page's parts.

function header(report: LabReport): string {
  const description = report.scenario.description;
  return [
    '<header>',
    `<p class="eyebrow">sluice lab report · sluice ${esc(report.version)}</p>`,
    `<h1>${esc(report.scenario.name)}</h1>`,
    description === undefined || description === ''
      ? ''
      : `<p class="lead">${esc(description)}</p>`,
    '</header>',
  ].join('\n');
}

function nav(view: View): string {
  const links = [
    '<li><a href="#scenario">Scenario</a></li>',
    '<li><a href="#comparison">Comparison</a></li>',
    ...view.configs.map(
      (config) =>
        `<li><a href="#${config.id}">${swatch(config.color)}${esc(config.report.label)}</a></li>`,
    ),
  ];
  return `<nav aria-label="Contents"><ul>${links.join('')}</ul></nav>`;
}

function scenarioSection(report: LabReport): string {
  const scenario = report.scenario;
  const consumers = scenario.consumers;
  const producers = scenario.producers ?? [];
  const slowdown = consumers.slowdown;
  const sampleMs = scenario.sampleEveryMs ?? finite(scenario.durationMs) / 200;
  const fact = (term: string, definition: string) =>
    `<div><dt>${term}</dt><dd>${definition}</dd></div>`;
  return [
    '<section id="scenario" aria-labelledby="scenario-h">',
    '<h2 id="scenario-h">Scenario</h2>',
    '<dl class="facts">',
    fact(
      producers.length === 1 ? 'Producer' : `Producers (${count(producers.length)})`,
      producers.length === 1
        ? esc(describeProducer(producers[0]!))
        : `<ul>${producers.map((producer) => `<li>${esc(describeProducer(producer))}</li>`).join('')}</ul>`,
    ),
    fact(
      'Consumers',
      esc(
        `${plural(finite(consumers.count), 'consumer')} in parallel, ${describeDuration(consumers.service)} per item` +
          (slowdown === undefined
            ? ''
            : `; ${formatNumber(slowdown.factor)}× slower from ${ms(slowdown.atMs)} on`),
      ),
    ),
    fact('Duration', esc(`${ms(scenario.durationMs)} of simulated time`)),
    fact('Seed', esc(count(report.seed))),
    fact('Samples', esc(`every ${ms(sampleMs)}`)),
    fact(
      'Configurations',
      esc(`${count(report.configurations.length)}, on the same arrivals and service times`),
    ),
    '</dl>',
    '</section>',
  ].join('\n');
}

function comparisonSection(view: View): string {
  return [
    '<section id="comparison" aria-labelledby="comparison-h">',
    '<h2 id="comparison-h">Comparison</h2>',
    '<div class="charts">',
    figure(outcomesChart(view), 'What became of every item produced, per configuration.'),
    figure(
      depthStripsChart(view),
      'Items waiting in the channel, sampled over the run: one strip per configuration, on one scale.',
    ),
    figure(
      percentilesChart(view),
      'Time from production to the end of service, of delivered items.',
    ),
    '</div>',
    comparisonTable(view),
    '</section>',
  ].join('\n');
}

function figure(svg: string, caption: string): string {
  return `<figure>${svg}<figcaption>${esc(caption)}</figcaption></figure>`;
}

function outcomesChart(view: View): string {
  const keys = [
    { label: 'delivered', color: DELIVERED_COLOR },
    ...view.reasons.map((reason) => ({
      label: `dropped: ${reason}`,
      color: reasonColor(view, reason),
    })),
    ...(view.anyOther ? [{ label: 'neither (left at the end)', color: OTHER_COLOR }] : []),
  ];
  const rows = view.configs.map((config) => {
    const r = config.report;
    const values = [
      finite(r.delivered),
      ...view.reasons.map((reason) => finite(r.dropped?.[reason])),
      ...(view.anyOther ? [config.other] : []),
    ];
    const produced = finite(r.produced);
    return {
      label: r.label,
      values,
      tips: values.map(
        (value, k) =>
          `${r.label}: ${count(value)} ${keys[k]!.label} (${percent(value, produced)} of ${count(produced)} produced)`,
      ),
      notes: [`${percent(finite(r.delivered), produced)} delivered`],
    };
  });
  const desc = view.configs
    .map(
      (config) =>
        `${config.report.label}: ${count(config.report.delivered)} delivered, ${count(config.droppedTotal)} dropped (${droppedBreakdown(config.report)}) of ${count(config.report.produced)} produced.`,
    )
    .join(' ');
  return barChart({
    id: 'compare-outcomes',
    title: 'Outcome of every item',
    desc,
    xTitle: 'items',
    mode: 'stacked',
    keys,
    rows,
    xInteger: true,
  });
}

function timeSeries(
  view: View,
  config: ConfigReport,
  column: 1 | 2 | 3,
): (readonly [number, number])[] {
  return (config.series ?? []).map(
    (sample) => [finite(sample[0]) / view.timeUnit.ms, finite(sample[column])] as const,
  );
}

/** The x axis of every chart over time: its title, its end, and the scenario's moments marked on it. */
function timeAxis(view: View): {
  xTitle: string;
  xMax: number;
  xRefs: { at: number; label: string }[];
} {
  return {
    xTitle: `time (${view.timeUnit.name})`,
    xMax: view.timeMaxMs / view.timeUnit.ms,
    xRefs: timeRefs(view),
  };
}

function timeRefs(view: View): { at: number; label: string }[] {
  const scenario = view.report.scenario;
  const refs: { at: number; label: string }[] = [];
  const slowdown = scenario.consumers.slowdown;
  if (slowdown !== undefined)
    refs.push({
      at: finite(slowdown.atMs) / view.timeUnit.ms,
      label: `${formatNumber(slowdown.factor)}× slower`,
    });
  if (view.timeMaxMs > finite(scenario.durationMs) * 1.01)
    refs.push({ at: finite(scenario.durationMs) / view.timeUnit.ms, label: 'producers stop' });
  return refs;
}

function depthSummary(config: ConfigReport): string {
  const series = config.series ?? [];
  if (series.length === 0) return `${config.label}: no samples.`;
  let peak = series[0]!;
  let sum = 0;
  for (const sample of series) {
    if (finite(sample[1]) > finite(peak[1])) peak = sample;
    sum += finite(sample[1]);
  }
  return `${config.label}: deepest sampled queue ${count(peak[1])} items at ${ms(peak[0])} (max depth ${count(config.maxDepth)}, capacity ${count(config.config?.capacity)}); ${formatNumber(sum / series.length)} items on average over ${plural(series.length, 'sample')}.`;
}

function depthStripsChart(view: View): string {
  return stripsChart({
    id: 'compare-depth',
    title: 'Queue depth over time, every configuration',
    desc: view.configs.map((config) => depthSummary(config.report)).join(' '),
    ...timeAxis(view),
    yTitle: 'queue depth (items)',
    yMax: view.depthMax,
    yInteger: true,
    rows: view.configs.map((config) => ({
      label: config.report.label,
      color: config.color,
      points: timeSeries(view, config.report, 1),
      ref: {
        at: finite(config.report.config?.capacity),
        label: `capacity ${count(config.report.config?.capacity)}`,
      },
    })),
  });
}

function percentilesChart(view: View): string {
  const names = ['p50', 'p95', 'p99'] as const;
  const maxMs = Math.max(0, ...view.configs.map((config) => finite(config.report.latency?.p99)));
  const unit = timeUnit(maxMs);
  return barChart({
    id: 'compare-latency',
    title: 'Latency percentiles',
    desc: view.configs
      .map((config) => {
        const latency = config.report.latency;
        return `${config.report.label}: p50 ${ms(latency?.p50)}, p95 ${ms(latency?.p95)}, p99 ${ms(latency?.p99)}, max ${ms(latency?.max)}.`;
      })
      .join(' '),
    xTitle: `latency (${unit.name})`,
    mode: 'grouped',
    keys: names.map((name) => ({ label: name, color: PERCENTILE_COLORS[name] })),
    rows: view.configs.map((config) => {
      const latency = config.report.latency;
      return {
        label: config.report.label,
        values: names.map((name) => finite(latency?.[name]) / unit.ms),
        tips: names.map((name) => `${config.report.label}: ${name} ${ms(latency?.[name])}`),
        notes: names.map((name) => ms(latency?.[name])),
      };
    }),
  });
}

/** Marks the best value of a column in bold, when the values differ. */
function bestOf(values: readonly number[], better: 'low' | 'high'): (value: number) => boolean {
  const usable = values.filter(Number.isFinite);
  if (usable.length < 2 || usable.every((value) => value === usable[0])) return () => false;
  const best = better === 'low' ? Math.min(...usable) : Math.max(...usable);
  return (value) => value === best;
}

function comparisonTable(view: View): string {
  const reports = view.configs.map((config) => config.report);
  const num = (value: unknown) =>
    typeof value === 'number' && Number.isFinite(value) ? value : Number.NaN;
  const columns: {
    readonly head: string;
    /** A heading over this and the next columns that share it. */
    readonly group?: string;
    readonly value: (config: ConfigView) => number;
    readonly show: (config: ConfigView) => string;
    readonly better: 'low' | 'high';
  }[] = [
    {
      head: 'Delivered',
      value: (c) => num(c.report.delivered),
      show: (c) => count(c.report.delivered),
      better: 'high',
    },
    {
      head: 'Dropped',
      value: (c) => c.droppedTotal,
      show: (c) =>
        `${count(c.droppedTotal)}${c.droppedTotal > 0 ? `<br><span class="small">${esc(droppedBreakdown(c.report))}</span>` : ''}`,
      better: 'low',
    },
    {
      head: 'Throughput',
      value: (c) => num(c.report.throughputPerSec),
      show: (c) => `${esc(formatNumber(num(c.report.throughputPerSec)))}/s`,
      better: 'high',
    },
    ...(['p50', 'p95', 'p99', 'max'] as const).map((name) => ({
      head: name,
      group: 'Latency',
      value: (c: ConfigView) => num(c.report.latency?.[name]),
      show: (c: ConfigView) => esc(ms(c.report.latency?.[name])),
      better: 'low' as const,
    })),
    {
      head: 'Max depth',
      value: (c) => num(c.report.maxDepth),
      show: (c) => count(c.report.maxDepth),
      better: 'low',
    },
    {
      head: 'Producers blocked',
      value: (c) => num(c.report.producerBlockedMs),
      show: (c) => esc(ms(c.report.producerBlockedMs)),
      better: 'low',
    },
  ];
  const best = columns.map((column) => bestOf(view.configs.map(column.value), column.better));
  const rows = view.configs.map((config) => {
    const cells = columns.map((column, i) => {
      const isBest = best[i]!(column.value(config));
      return `<td${isBest ? ' class="best"' : ''}>${column.show(config)}</td>`;
    });
    return `<tr><th scope="row"><a href="#${config.id}">${swatch(config.color)}${esc(config.report.label)}</a><br><span class="small">${esc(describePipe(config.report.config))}</span></th>${cells.join('')}</tr>`;
  });
  return [
    `<h3 id="compare-table-h">Every configuration on the same workload${reports.length > 1 ? ' <span class="small">(bold: the best in its column)</span>' : ''}</h3>`,
    '<div class="table-wrap">',
    '<table class="compare" aria-labelledby="compare-table-h">',
    `<thead>${headerRows(columns)}</thead>`,
    `<tbody>${rows.join('')}</tbody>`,
    '</table>',
    '</div>',
  ].join('\n');
}

/** One header row, or two when some columns share a group heading (which spans them). */
function headerRows(
  columns: readonly { readonly head: string; readonly group?: string }[],
): string {
  const grouped = columns.some((column) => column.group !== undefined);
  const span = grouped ? ' rowspan="2"' : '';
  const top: string[] = [`<th scope="col" class="text"${span}>Configuration</th>`];
  const bottom: string[] = [];
  columns.forEach((column, i) => {
    if (column.group === undefined) {
      top.push(`<th scope="col"${span}>${column.head}</th>`);
      return;
    }
    bottom.push(`<th scope="col">${column.head}</th>`);
    if (columns[i - 1]?.group === column.group) return;
    let width = 0;
    while (columns[i + width]?.group === column.group) width++;
    top.push(`<th scope="colgroup" colspan="${width}" class="group">${column.group}</th>`);
  });
  return `<tr>${top.join('')}</tr>${grouped ? `<tr>${bottom.join('')}</tr>` : ''}`;
}

function configSection(view: View, config: ConfigView): string {
  const r = config.report;
  return [
    `<section class="config" id="${config.id}" aria-labelledby="${config.id}-h">`,
    `<h2 id="${config.id}-h">${swatch(config.color)}${esc(r.label)}</h2>`,
    `<p>${esc(describePipe(r.config))}</p>`,
    '<div class="tables">',
    `<div class="table-wrap">${outcomeTable(view, config)}</div>`,
    `<div class="table-wrap">${latencyTable(r)}</div>`,
    '</div>',
    '<div class="charts">',
    figure(depthChart(view, config), 'Items waiting in the channel (same scale in every section).'),
    figure(
      cumulativeChart(view, config),
      'Items delivered and dropped so far (same scale in every section).',
    ),
    figure(
      latencyChart(config),
      'How many delivered items took how long, from production to the end of service.',
    ),
    '</div>',
    '</section>',
  ].join('\n');
}

function outcomeTable(view: View, config: ConfigView): string {
  const r = config.report;
  const produced = finite(r.produced);
  const producers = Math.max(1, (view.report.scenario.producers ?? []).length);
  const producerTime = finite(view.report.scenario.durationMs) * producers;
  const row = (head: string, value: string) =>
    `<tr><th scope="row">${head}</th><td>${value}</td></tr>`;
  const reasons = Object.entries(r.dropped ?? {}).filter(([, value]) => finite(value) > 0);
  return [
    '<table class="outcome">',
    '<caption>Outcome</caption>',
    '<tbody>',
    row('Produced', count(r.produced)),
    row(
      'Delivered',
      `${count(r.delivered)} <span class="small">${esc(percent(finite(r.delivered), produced))}</span>`,
    ),
    row(
      'Dropped',
      `${count(config.droppedTotal)} <span class="small">${esc(percent(config.droppedTotal, produced))}</span>`,
    ),
    ...reasons.map(([reason, value]) =>
      row(
        `${swatch(reasonColor(view, reason))}dropped: ${esc(reason)}`,
        `${count(value)} <span class="small">${esc(percent(finite(value), produced))}</span>`,
      ),
    ),
    ...(config.other > 0 ? [row('Neither (left at the end)', count(config.other))] : []),
    row('Throughput', `${esc(formatNumber(finite(r.throughputPerSec)))}/s`),
    row(
      'Max depth',
      `${count(r.maxDepth)} <span class="small">of ${count(r.config?.capacity)}</span>`,
    ),
    row(
      'Producers blocked',
      `${esc(ms(r.producerBlockedMs))}${producerTime > 0 ? ` <span class="small">${esc(percent(finite(r.producerBlockedMs), producerTime))} of their time</span>` : ''}`,
    ),
    '</tbody>',
    '</table>',
  ].join('\n');
}

function latencyTable(r: ConfigReport): string {
  const names = ['p50', 'p95', 'p99', 'max', 'mean'] as const;
  return [
    '<table class="latency">',
    '<caption>Latency of delivered items</caption>',
    '<thead><tr><th scope="col" class="text"></th><th scope="col">production → served</th><th scope="col">waiting in the channel</th></tr></thead>',
    '<tbody>',
    ...names.map(
      (name) =>
        `<tr><th scope="row">${name}</th><td>${esc(ms(r.latency?.[name]))}</td><td>${esc(ms(r.wait?.[name]))}</td></tr>`,
    ),
    '</tbody>',
    '</table>',
  ].join('\n');
}

function depthChart(view: View, config: ConfigView): string {
  const r = config.report;
  return lineChart({
    id: `${config.id}-depth`,
    title: `Queue depth over time: ${r.label}`,
    desc: depthSummary(r),
    ...timeAxis(view),
    yTitle: 'queue depth (items)',
    yMax: view.depthMax,
    yInteger: true,
    series: [
      { label: 'queue depth', color: config.color, points: timeSeries(view, r, 1), area: true },
    ],
    yRefs: [{ at: finite(r.config?.capacity), label: `capacity ${count(r.config?.capacity)}` }],
  });
}

function cumulativeChart(view: View, config: ConfigView): string {
  const r = config.report;
  const last = (r.series ?? [])[(r.series ?? []).length - 1];
  return lineChart({
    id: `${config.id}-cumulative`,
    title: `Delivered and dropped so far: ${r.label}`,
    desc:
      last === undefined
        ? `${r.label}: no samples.`
        : `${r.label}: by ${ms(last[0])}, ${count(last[2])} delivered and ${count(last[3])} dropped; in all ${count(r.delivered)} delivered and ${count(config.droppedTotal)} dropped of ${count(r.produced)} produced.`,
    ...timeAxis(view),
    yTitle: 'items (cumulative)',
    yMax: view.countMax,
    yInteger: true,
    series: [
      { label: 'delivered', color: DELIVERED_COLOR, points: timeSeries(view, r, 2) },
      { label: 'dropped', color: droppedColor(view, r), points: timeSeries(view, r, 3) },
    ],
  });
}

/**
 * Where a latency falls on the histogram's bucket axis: bucket i spans [i, i + 1], so a value a
 * third of the way through the third bucket is at 2.33.
 */
function bucketPosition(uppers: readonly number[], value: number): number {
  for (let i = 0; i < uppers.length; i++) {
    const upper = uppers[i]!;
    if (value <= upper) {
      const lower = i === 0 ? 0 : uppers[i - 1]!;
      const fraction = upper > lower ? (value - lower) / (upper - lower) : 1;
      return i + Math.min(1, Math.max(0, fraction));
    }
  }
  return uppers.length;
}

function latencyChart(config: ConfigView): string {
  const r = config.report;
  const latencyMax = finite(r.latency?.max);
  const buckets = [...(r.histogram ?? [])]
    .map(
      ([upper, value]) =>
        [
          typeof upper === 'number' && !Number.isNaN(upper) ? upper : Number.POSITIVE_INFINITY,
          finite(value),
        ] as const,
    )
    .sort((a, b) => a[0] - b[0]);
  const uppers = buckets.map(([upper], i) =>
    Number.isFinite(upper) ? upper : Math.max(latencyMax, i > 0 ? finite(buckets[i - 1]![0]) : 0),
  );
  const unit = timeUnit(Math.max(0, ...uppers));
  const edges = [
    '0',
    ...uppers.map((upper, i) =>
      Number.isFinite(buckets[i]![0]) ? formatNumber(upper / unit.ms) : '+∞',
    ),
  ];
  const total = buckets.reduce((sum, [, value]) => sum + value, 0);
  const tips = buckets.map(([upper, value], i) => {
    const lower = i === 0 ? 0 : uppers[i - 1]!;
    const range = Number.isFinite(upper) ? `${ms(lower)} to ${ms(upper)}` : `over ${ms(lower)}`;
    return `${range}: ${plural(value, 'item')} (${percent(value, total)})`;
  });
  let mode = -1;
  buckets.forEach(([, value], i) => {
    if (mode < 0 || value > buckets[mode]![1]) mode = i;
  });
  const markers = (['p50', 'p99'] as const)
    .filter(() => buckets.length > 0)
    .map((name) => ({
      at: bucketPosition(uppers, finite(r.latency?.[name])),
      label: `${name} ${ms(r.latency?.[name])}`,
      color: MARKER_COLORS[name],
    }));
  const desc =
    total === 0
      ? `${r.label}: no delivered items to show.`
      : `${r.label}: latency of ${plural(total, 'delivered item')} in ${plural(buckets.length, 'bucket')} up to ${ms(uppers[uppers.length - 1])}; the most common is ${tips[mode]}; p50 ${ms(r.latency?.p50)}, p95 ${ms(r.latency?.p95)}, p99 ${ms(r.latency?.p99)}, max ${ms(r.latency?.max)}.`;
  return histogram({
    id: `${config.id}-latency`,
    title: `Latency distribution: ${r.label}`,
    desc,
    xTitle: `latency (${unit.name}, bucket edges)`,
    yTitle: 'delivered items',
    edges,
    counts: buckets.map(([, value]) => value),
    tips,
    color: config.color,
    label: 'delivered items',
    markers,
  });
}

function footer(report: LabReport): string {
  return [
    '<footer>',
    `<p>Made by sluice ${esc(report.version)} from the scenario “${esc(report.scenario.name)}” with seed ${esc(count(report.seed))}: the same scenario and seed give the same report. Every time is simulated time, from the start of the run; the producers stop at the scenario's duration and the consumers finish what they hold. Latency runs from an item's production to the end of its service.</p>`,
    '</footer>',
  ].join('\n');
}
