import { describe, expect, it } from 'vitest';
import { renderHtml } from '../../src/lab/report-html.js';
import type {
  Arrivals,
  ConfigReport,
  ConsumerSpec,
  Duration,
  LabReport,
  PipeConfig,
  ProducerSpec,
} from '../../src/lab/types.js';
import { designNoteReport, HOSTILE } from './report-fixture.js';

const report = designNoteReport();
const html = renderHtml(report);

function svgsOf(text: string): string[] {
  return text.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
}

/** The section of each configuration, in order. */
function configSections(text: string): string[] {
  return text
    .split('<section class="config"')
    .slice(1)
    .map((part) => part.split('</section>')[0]!);
}

/** The opening tag of an element. */
function openingTag(svg: string): string {
  return svg.slice(0, svg.indexOf('>') + 1);
}

/** Checks that every tag in `markup` is closed, in order (SVG is XML). */
function expectBalanced(markup: string): void {
  const stack: string[] = [];
  for (const [tag, closing, name, selfClosing] of markup.matchAll(
    /<(\/?)([a-zA-Z][\w-]*)[^>]*?(\/?)>/g,
  )) {
    if (selfClosing === '/') continue;
    if (closing === '/') expect(stack.pop(), `closing ${tag}`).toBe(name);
    else stack.push(name!);
  }
  expect(stack).toEqual([]);
}

/** A report with one configuration changed. */
function withConfig(index: number, change: (config: ConfigReport) => ConfigReport): LabReport {
  return {
    ...report,
    configurations: report.configurations.map((config, i) =>
      i === index ? change(config) : config,
    ),
  };
}

describe('renderHtml', () => {
  it('is one self-contained page: no scripts, no links, nothing fetched', () => {
    expect(html.startsWith('<!doctype html>\n<html lang="en">')).toBe(true);
    expect(html).toContain('<meta charset="utf-8">');
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link/i);
    expect(html).not.toMatch(/<(iframe|object|embed|img|image|use|foreignObject)\b/i);
    expect(html).not.toMatch(/@import|url\(/i);
    // The only absolute URL is the SVG namespace, which is a name, not a fetch.
    expect(html.replaceAll('xmlns="http://www.w3.org/2000/svg"', '')).not.toMatch(
      /https?:|\/\/[a-z]/i,
    );
    const targets = [...html.matchAll(/\b(?:src|href|xlink:href|action)\s*=\s*"([^"]*)"/gi)].map(
      (match) => match[1]!,
    );
    expect(targets.length).toBeGreaterThan(0);
    for (const target of targets) expect(target).toMatch(/^#[\w-]+$/);
    // A browser would refuse any fetch the page tried.
    expect(html).toContain(`http-equiv="Content-Security-Policy" content="default-src 'none';`);
  });

  it('has styles for phones and print', () => {
    expect(html).toMatch(/@media \(max-width: 600px\)/);
    expect(html).toMatch(/@media print/);
    expect(html).toMatch(/grid-template-columns: repeat\(auto-fit/);
  });

  it('draws three comparison charts and three charts per configuration', () => {
    expect(svgsOf(html)).toHaveLength(3 + 3 * report.configurations.length);
    const comparison = html.slice(
      html.indexOf('id="comparison"'),
      html.indexOf('<section class="config"'),
    );
    expect(
      svgsOf(comparison).map((svg) => openingTag(svg).match(/class="chart ([\w-]+)"/)![1]),
    ).toEqual(['chart-bars-stacked', 'chart-strips', 'chart-bars-grouped']);
    const sections = configSections(html);
    expect(sections).toHaveLength(3);
    for (const section of sections) {
      expect(
        svgsOf(section).map((svg) => openingTag(svg).match(/class="chart ([\w-]+)"/)![1]),
      ).toEqual(['chart-line', 'chart-line', 'chart-histogram']);
    }
  });

  it('gives every chart a viewBox to scale with, an accessible name and a description', () => {
    for (const svg of svgsOf(html)) {
      const tag = openingTag(svg);
      expect(tag).toMatch(/viewBox="0 0 440 \d+(\.\d)?"/);
      expect(tag).not.toMatch(/\s(width|height)=/);
      expect(tag).toContain('role="img"');
      const [, id] = tag.match(/aria-labelledby="([\w-]+)-title \1-desc"/)!;
      expect(svg).toMatch(new RegExp(`<title id="${id}-title">[^<]{5,}</title>`));
      expect(svg).toMatch(new RegExp(`<desc id="${id}-desc">[^<]{20,}</desc>`));
      expectBalanced(svg);
    }
  });

  it('gives each id once', () => {
    const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((match) => match[1]);
    expect(ids.length).toBeGreaterThan(30);
    expect(new Set(ids).size).toBe(ids.length);
    for (const [, target] of html.matchAll(/href="#([^"]+)"/g)) expect(ids).toContain(target);
  });

  it('draws axes with ticks and units, and legends', () => {
    const [depth, cumulative, latency] = svgsOf(configSections(html)[0]!);
    for (const chart of [depth!, cumulative!]) {
      expect(chart).toContain('time (s)');
      expect(
        chart.match(/<g class="axis axis-x">[\s\S]*?<\/g>/)![0].match(/<text/g)!.length,
      ).toBeGreaterThanOrEqual(4);
      expect(
        chart.match(/<g class="axis axis-y">[\s\S]*?<\/g>/)![0].match(/<text/g)!.length,
      ).toBeGreaterThanOrEqual(4);
    }
    expect(depth).toContain('queue depth (items)');
    expect(depth).toContain('capacity 5');
    expect(cumulative).toContain('items (cumulative)');
    expect(cumulative).toMatch(/<g class="legend">[\s\S]*delivered[\s\S]*dropped/);
    expect(latency).toContain('latency (s, bucket edges)');
    expect(latency).toContain('delivered items');
    expect(latency).toMatch(/p50 1,800 ms/);
    // The producers stop at 60 s and the consumer drains the buffer until 61.5 s.
    expect(depth).toContain('producers stop');
  });

  it('draws the queue depth of every configuration in a strip of its own, on one scale', () => {
    const strips = svgsOf(html)[1]!;
    expect(strips).toContain('class="chart chart-strips"');
    expect(strips.match(/<path class="series"/g)).toHaveLength(3);
    for (const label of ['block', 'drop-newest', 'drop-oldest'])
      expect(strips).toContain(`>${label}</text>`);
    expect(strips.match(/text-anchor="end" font-size="10" fill="#475569">5<\/text>/g)).toHaveLength(
      3,
    );
    expect(strips).toContain('time (s)');
    expect(strips).toContain('producers stop');
  });

  it('draws the series and the histogram inside the chart', () => {
    const sections = configSections(html);
    sections.forEach((section, i) => {
      const config = report.configurations[i]!;
      const [depth, , latency] = svgsOf(section);
      const [, width, height] = openingTag(depth!).match(/viewBox="0 0 (\d+) ([\d.]+)"/)!;
      const path = depth!.match(/<path class="series" d="M([^"]+)"/)![1]!;
      const points = path.split('L').map((pair) => pair.split(',').map(Number));
      expect(points).toHaveLength(config.series.length);
      for (const [x, y] of points) {
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThanOrEqual(Number(width));
        expect(y).toBeGreaterThanOrEqual(0);
        expect(y).toBeLessThanOrEqual(Number(height));
      }
      const bars = latency!.match(/<rect class="bar"/g) ?? [];
      expect(bars).toHaveLength(config.histogram.filter(([, count]) => count > 0).length);
    });
  });

  it('shows the numbers of every configuration', () => {
    const [block, dropNewest, dropOldest] = configSections(html);
    expect(block).toMatch(/Produced<\/th><td>205</);
    expect(block).toMatch(/Delivered<\/th><td>205 <span class="small">100%/);
    expect(block).toMatch(
      /Producers blocked<\/th><td>39.4 s <span class="small">65.7% of their time/,
    );
    expect(block).toContain('<td>1,800 ms</td><td>1,500 ms</td>');
    expect(dropNewest).toMatch(/Produced<\/th><td>600</);
    expect(dropNewest).toMatch(/dropped: full<\/th><td>395 <span class="small">65.8%/);
    expect(dropNewest).toMatch(/Throughput<\/th><td>3.42\/s/);
    expect(dropOldest).toMatch(/dropped: evicted<\/th><td>395/);
    expect(dropOldest).toMatch(/p50<\/th><td>650 ms<\/td>/);
    expect(dropOldest).toMatch(/Max depth<\/th><td>5 <span class="small">of 5/);
    // The comparison table: the lowest latency and drops are in bold.
    const table = html.slice(html.indexOf('<table class="compare"'), html.indexOf('</table>'));
    expect(table.match(/<tr><th scope="row">/g)).toHaveLength(3);
    expect(table).toContain('<td class="best">650 ms</td>');
    expect(table).toContain('<td class="best">0</td>');
    expect(table).toContain('395<br><span class="small">395 evicted</span>');
  });

  it('summarizes the scenario', () => {
    const scenario = html.slice(html.indexOf('id="scenario"'), html.indexOf('id="comparison"'));
    expect(scenario).toContain('one item every 100 ms (10/s)');
    expect(scenario).toContain('1 consumer in parallel, 300 ms per item');
    expect(scenario).toContain('60 s of simulated time');
    expect(scenario).toMatch(/Seed<\/dt><dd>7</);
    expect(scenario).toContain('every 300 ms');
    expect(html).toContain('<h1>The design note: a fast producer, a slow consumer</h1>');
    expect(html).toContain('sluice 0.1.0');
  });

  it('escapes every string from the report', () => {
    const hostile = designNoteReport({
      labels: [HOSTILE, 'b', 'c'],
      name: HOSTILE,
      description: HOSTILE,
    });
    const page = renderHtml({
      ...hostile,
      version: HOSTILE,
      configurations: hostile.configurations.map((config, i) =>
        i === 1 ? { ...config, dropped: { [HOSTILE]: 3, full: 392 } } : config,
      ),
    });
    expect(page).not.toMatch(/<script|<img/i);
    const escaped =
      '&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; &amp; &#39;quotes&#39;';
    // The name in <title>, <h1>, the lead and the footer; the label in the nav, the tables, the section and its charts.
    expect(page.split(escaped).length - 1).toBeGreaterThanOrEqual(12);
    // Labels cut to fit a chart are cut before they are escaped, so no entity is broken.
    expect(page).toContain('&lt;script&gt;alert…');
    expect(page).toContain(`<meta name="generator" content="sluice ${escaped}">`);
    for (const svg of svgsOf(page)) expectBalanced(svg);
  });

  it('prints — for what is not a number, never NaN, undefined or Infinity', () => {
    const broken = JSON.parse(
      JSON.stringify(
        withConfig(1, (config) => ({
          ...config,
          latency: {
            p50: Number.NaN,
            p95: Number.NaN,
            p99: Number.NaN,
            max: Number.NaN,
            mean: Number.NaN,
          },
          throughputPerSec: Number.NaN,
          series: [],
          histogram: [],
        })),
      ),
    ) as LabReport;
    const page = renderHtml(broken);
    expect(page).not.toMatch(/NaN|undefined|Infinity|\[object/);
    expect(page).toContain('<td>—</td>');
    expect(page).toContain('no samples');
    expect(page).toContain('nothing delivered');
    expect(svgsOf(page)).toHaveLength(12);
  });

  it('names a capacity that is off the scale instead of flattening the chart', () => {
    const page = renderHtml(
      withConfig(0, (config) => ({ ...config, config: { ...config.config, capacity: 10_000 } })),
    );
    const [depth] = svgsOf(configSections(page)[0]!);
    expect(depth).toContain('capacity 10,000 (off the scale)');
    expect(depth).toMatch(/<text x="[\d.]+" y="[\d.]+" text-anchor="end">5<\/text>/);
  });

  it('draws a last bucket without an upper bound as +∞', () => {
    const page = renderHtml(
      withConfig(0, (config) => ({
        ...config,
        histogram: [...config.histogram.slice(0, -1), [Number.POSITIVE_INFINITY, 4]],
      })),
    );
    expect(svgsOf(configSections(page)[0]!)[2]).toContain('>+∞</text>');
  });

  it('marks the consumers slowing down on the time charts', () => {
    const slow = renderHtml({
      ...report,
      scenario: {
        ...report.scenario,
        consumers: { ...report.scenario.consumers, slowdown: { atMs: 30_000, factor: 3 } },
      },
    });
    expect(slow).toContain('3× slower from 30 s on');
    for (const section of configSections(slow)) {
      const [depth, cumulative] = svgsOf(section);
      expect(depth).toContain('3× slower</text>');
      expect(cumulative).toContain('3× slower</text>');
    }
  });

  it('shows a kind it does not know (from a newer scenario file) as its JSON, escaped', () => {
    const unknown = { kind: '<sine>', periodMs: 100 } as unknown;
    const page = renderHtml({
      ...withConfig(0, (config) => ({
        ...config,
        config: { ...config.config, limiter: unknown as PipeConfig['limiter'] },
      })),
      scenario: {
        ...report.scenario,
        producers: [{ arrivals: unknown as Arrivals }],
        consumers: { count: 1, service: unknown as Duration },
      },
    });
    const json = '{&quot;kind&quot;:&quot;&lt;sine&gt;&quot;,&quot;periodMs&quot;:100}';
    expect(page.split(json).length - 1).toBeGreaterThanOrEqual(4);
  });

  it('draws a series of one sample as a dot, and a percentile past the last bucket at the end', () => {
    const page = renderHtml(
      withConfig(0, (config) => ({
        ...config,
        series: [[0, 3, 0, 0]],
        latency: { ...config.latency, p99: 99_999 },
      })),
    );
    const [depth, , latency] = svgsOf(configSections(page)[0]!);
    expect(depth).toMatch(/<circle cx="[\d.]+" cy="[\d.]+" r="3"/);
    expect(latency).toMatch(
      /<line class="ref" x1="424" y1="[\d.]+" x2="424"[^>]*><title>p99 100 s<\/title>/,
    );
  });

  it('is the same page for the same report', () => {
    expect(renderHtml(designNoteReport())).toBe(html);
  });

  it('works with one configuration, and with none', () => {
    const one = renderHtml({ ...report, configurations: report.configurations.slice(0, 1) });
    expect(svgsOf(one)).toHaveLength(6);
    expect(one).not.toContain('the best in its column');
    expect(one).not.toContain('class="best"');
    const none = renderHtml({ ...report, configurations: [] });
    expect(svgsOf(none)).toHaveLength(3);
    expect(none).toContain('no configurations');
  });

  const arrivals: [Arrivals, string][] = [
    [{ kind: 'constant', intervalMs: 250 }, 'one item every 250 ms (4/s)'],
    [{ kind: 'poisson', ratePerSec: 12.5 }, 'Poisson arrivals, 12.5/s on average'],
    [
      { kind: 'bursts', ratePerSec: 50, onMs: 1_000, offMs: 4_000 },
      'bursts of 50/s for 1,000 ms, then 4,000 ms off',
    ],
    [{ kind: 'trace', timesMs: [0, 10, 12_500] }, 'a recorded trace of 3 arrivals over 12.5 s'],
  ];
  it.each(arrivals)('describes the arrivals %j', (spec, text) => {
    const page = renderHtml({
      ...report,
      scenario: { ...report.scenario, producers: [{ arrivals: spec }] },
    });
    expect(page).toContain(text);
  });

  const producers: [ProducerSpec[], string][] = [
    [
      [
        {
          arrivals: { kind: 'constant', intervalMs: 100 },
          count: 50,
          urgentShare: 0.25,
          mode: 'try',
        },
      ],
      'one item every 100 ms (10/s); at most 50 items; 25% urgent; drops an item when the pipe is full (trySend)',
    ],
    [
      [
        { arrivals: { kind: 'constant', intervalMs: 100 } },
        { arrivals: { kind: 'poisson', ratePerSec: 5 } },
      ],
      'Producers (2)</dt><dd><ul><li>one item every 100 ms (10/s)</li><li>Poisson arrivals, 5/s on average</li></ul>',
    ],
  ];
  it.each(producers)('describes the producers %j', (spec, text) => {
    const page = renderHtml({ ...report, scenario: { ...report.scenario, producers: spec } });
    expect(page).toContain(text);
  });

  const services: [Duration, string][] = [
    [{ kind: 'constant', ms: 2_500 }, '2,500 ms per item'],
    [{ kind: 'constant', ms: 90_000 }, '90 s per item'],
    [{ kind: 'constant', ms: 900_000 }, '15 min per item'],
    [{ kind: 'uniform', minMs: 100, maxMs: 300 }, 'uniform between 100 ms and 300 ms per item'],
    [{ kind: 'exponential', meanMs: 200 }, 'exponential, mean 200 ms per item'],
    [{ kind: 'lognormal', medianMs: 120, sigma: 0.5 }, 'log-normal, median 120 ms, σ 0.5 per item'],
  ];
  it.each(services)('describes the service time %j', (service, text) => {
    const consumers: ConsumerSpec = { count: 4, service };
    const page = renderHtml({ ...report, scenario: { ...report.scenario, consumers } });
    expect(page).toContain(`4 consumers in parallel, ${text}`);
  });

  const pipes: [Partial<PipeConfig>, string][] = [
    [{ capacity: 0 }, 'capacity 0 (rendezvous), block'],
    [{ overflow: 'drop-lowest', priorities: true }, 'capacity 5, drop-lowest, priorities'],
    [{ maxWaitMs: 2_000 }, 'capacity 5, block, max wait 2,000 ms'],
    [{ codel: true }, 'capacity 5, block, CoDel'],
    [
      { codel: { targetMs: 5, intervalMs: 100, mode: 'requests' } },
      'CoDel (target 5 ms, interval 100 ms, requests mode)',
    ],
    [{ order: 'adaptive-lifo' }, 'capacity 5, block, adaptive LIFO'],
    [
      { limiter: { kind: 'token-bucket', rate: 5, burst: 5, at: 'producers' } },
      'token bucket 5/s, burst 5, on the producers&#39; sends<',
    ],
    [
      { limiter: { kind: 'token-bucket', rate: 5, burst: 5, at: 'producers', mode: 'try' } },
      'on the producers&#39; sends (an item without a token is skipped)',
    ],
    [
      { limiter: { kind: 'token-bucket', rate: 5, burst: 5, at: 'producers', mode: 'wait' } },
      'on the producers&#39; sends (the producer waits for a token)',
    ],
    [
      { limiter: { kind: 'token-bucket', rate: 5, burst: 1 } },
      'token bucket 5/s, burst 1, on the consumers&#39; takes',
    ],
    [
      { limiter: { kind: 'adaptive', algorithm: 'gradient2', initialLimit: 20 } },
      'adaptive limit (gradient2, from 20)',
    ],
    [{ limiter: { kind: 'adaptive', algorithm: 'vegas' } }, 'adaptive limit (vegas)'],
  ];
  it.each(pipes)('describes the pipe %j', (change, text) => {
    const page = renderHtml(
      withConfig(0, (config) => ({ ...config, config: { ...config.config, ...change } })),
    );
    expect(configSections(page)[0]).toContain(text);
  });
});
