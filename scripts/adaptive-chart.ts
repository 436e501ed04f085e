/**
 * Draws docs/algorithms/adaptive.svg and prints the results table of docs/algorithms/adaptive.md,
 * from the same simulations as test/adaptive/convergence.test.ts (test/support/convergence.ts):
 * every algorithm in its one configuration, N ∈ {4, 16, 64} workers, S ∈ {2, 50} ms, the workers
 * halved at 2000·S. The chart shows the limit over time at N = 16 (S = 50 ms; every figure is in
 * units of S, so S = 2 ms draws the same), one row per algorithm, in three windows: the start,
 * the whole run, and the halving.
 *
 * Run: `npx tsx scripts/adaptive-chart.ts` (a few seconds; no dependencies).
 */
import { writeFileSync } from 'node:fs';
import {
  CONTENDERS,
  type Convergence,
  converge,
  DURATION,
  HALVE_AT,
  SERVICE_MS,
  WORKERS,
} from '../test/support/convergence.js';

const CHART_WORKERS = 16;
const CHART_SERVICE_MS = 50;
const OUT = new URL('../docs/algorithms/adaptive.svg', import.meta.url);

// ---- the table --------------------------------------------------------------------------------

const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;
const times = (x: number | undefined): string => (x === undefined ? 'never' : `${x.toFixed(1)}`);

console.log(
  '| algorithm | N | S | settled after (samples) | in band | limit range | p99 / S | throughput | back-off (× S) | in band after | p99 / S after |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
const charted = new Map<string, Convergence>();
for (const contender of CONTENDERS) {
  for (const workers of WORKERS) {
    for (const serviceMs of SERVICE_MS) {
      const r = converge(contender, workers, serviceMs);
      if (workers === CHART_WORKERS && serviceMs === CHART_SERVICE_MS) {
        charted.set(contender.name, r);
      }
      console.log(
        `| ${contender.name} | ${workers} | ${serviceMs} ms | ${r.settleSamples ?? 'never'} | ${pct(r.inBand)} | ${r.low}–${r.high} | ${r.p99.toFixed(2)} | ${pct(r.throughput)} | ${times(r.backoff)} | ${pct(r.inBandAfter)} | ${r.p99After.toFixed(2)} |`,
      );
    }
  }
}

// ---- the chart --------------------------------------------------------------------------------

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'] as const;
/** The three windows of each row: [from, to] in units of S, and a title. */
const WINDOWS: readonly { from: number; to: number; width: number; title: string }[] = [
  { from: 0, to: 300, width: 250, title: 'start (0–300·S)' },
  { from: 0, to: DURATION, width: 400, title: `whole run (halving at ${HALVE_AT}·S)` },
  { from: HALVE_AT - 50, to: HALVE_AT + 250, width: 250, title: 'the halving (1950–2250·S)' },
];
const Y_MAX = 24;
const PANEL_H = 130;
const ROW_GAP = 58;
const LEFT = 46;
const GAP = 34;
const TOP = 70;
const WIDTH = LEFT + WINDOWS.reduce((sum, w) => sum + w.width, 0) + GAP * 2 + 20;
const HEIGHT = TOP + CONTENDERS.length * (PANEL_H + ROW_GAP) + 30;

const esc = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const f = (x: number): string => x.toFixed(1);

const out: string[] = [];
out.push(
  `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="Helvetica, Arial, sans-serif" font-size="12" role="img" aria-labelledby="chart-title">`,
  '<title id="chart-title">The limit of each adaptive algorithm over time against a simulated backend of 16 workers, halved to 8 mid-run</title>',
  `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
  `<text x="${LEFT}" y="24" font-size="16" font-weight="bold">Adaptive limit over time: ${CHART_WORKERS} workers, halved to ${CHART_WORKERS / 2} at ${HALVE_AT}·S</text>`,
  `<text x="${LEFT}" y="44" fill="#444">Service time S with ±10 % jitter, unlimited demand. Shaded: within 25 % of the workers. Solid grey: N = ${CHART_WORKERS}; dashed: N/2 = ${CHART_WORKERS / 2}. Time in units of S (S = ${CHART_SERVICE_MS} ms: the run is ${(DURATION * CHART_SERVICE_MS) / 1000} s).</text>`,
  `<text x="${LEFT}" y="60" fill="#444">Band = min and max of the limit per pixel column; line = its mean. Dips to 1 are Vegas's pinned probe and Envoy's minRTT measurement.</text>`,
);

CONTENDERS.forEach((contender, row) => {
  const r = charted.get(contender.name)!;
  const color = COLORS[row % COLORS.length]!;
  const top = TOP + row * (PANEL_H + ROW_GAP) + 20;
  out.push(
    `<text x="${LEFT}" y="${top - 8}" font-size="13" font-weight="bold" fill="${color}">${esc(contender.name)}</text>`,
    `<text x="${LEFT + 8 + contender.name.length * 8}" y="${top - 8}" font-size="10.5" fill="#555">${esc(contender.config)}</text>`,
  );
  let left = LEFT;
  for (const w of WINDOWS) {
    drawPanel(r, w, left, top, color);
    left += w.width + GAP;
  }
});
out.push('</svg>');
writeFileSync(OUT, `${out.join('\n')}\n`);
console.log(`\nwrote ${OUT.pathname}`);

/** One panel: axes, the band and the lines of N and N/2, then the limit. */
function drawPanel(
  r: Convergence,
  w: { from: number; to: number; width: number; title: string },
  left: number,
  top: number,
  color: string,
): void {
  const x = (t: number): number => left + ((t - w.from) / (w.to - w.from)) * w.width;
  const y = (limit: number): number => top + PANEL_H - (Math.min(limit, Y_MAX) / Y_MAX) * PANEL_H;
  const right = left + w.width;
  const halve = Math.max(w.from, Math.min(HALVE_AT, w.to));
  // Bands within 25 % of the workers, before and after the halving.
  const band = (from: number, to: number, n: number): void => {
    if (to <= from) return;
    out.push(
      `<rect x="${f(x(from))}" y="${f(y(n * 1.25))}" width="${f(x(to) - x(from))}" height="${f(y(n * 0.75) - y(n * 1.25))}" fill="#000" fill-opacity="0.06"/>`,
    );
  };
  band(w.from, halve, CHART_WORKERS);
  band(halve, w.to, CHART_WORKERS / 2);
  // Axes and grid.
  for (let v = 0; v <= Y_MAX; v += 4) {
    out.push(
      `<line x1="${left}" x2="${right}" y1="${f(y(v))}" y2="${f(y(v))}" stroke="#e4e4e4"/>`,
      `<text x="${left - 5}" y="${f(y(v) + 4)}" text-anchor="end" font-size="10" fill="#666">${v}</text>`,
    );
  }
  const step = niceStep((w.to - w.from) / 4);
  for (let t = Math.ceil(w.from / step) * step; t <= w.to; t += step) {
    out.push(
      `<line x1="${f(x(t))}" x2="${f(x(t))}" y1="${top + PANEL_H}" y2="${top + PANEL_H + 4}" stroke="#666"/>`,
      `<text x="${f(x(t))}" y="${top + PANEL_H + 15}" text-anchor="middle" font-size="10" fill="#666">${t}</text>`,
    );
  }
  out.push(
    `<rect x="${left}" y="${top}" width="${w.width}" height="${PANEL_H}" fill="none" stroke="#999"/>`,
    `<text x="${left + w.width / 2}" y="${top + PANEL_H + 28}" text-anchor="middle" font-size="10" fill="#666">${esc(w.title)} · time / S</text>`,
    `<line x1="${left}" x2="${right}" y1="${f(y(CHART_WORKERS))}" y2="${f(y(CHART_WORKERS))}" stroke="#777" stroke-width="1.2"/>`,
    `<line x1="${left}" x2="${right}" y1="${f(y(CHART_WORKERS / 2))}" y2="${f(y(CHART_WORKERS / 2))}" stroke="#777" stroke-width="1.2" stroke-dasharray="5 4"/>`,
    `<text x="${right - 3}" y="${f(y(CHART_WORKERS) - 3)}" text-anchor="end" font-size="9.5" fill="#555" stroke="#fff" stroke-width="3" paint-order="stroke">N = ${CHART_WORKERS}</text>`,
    `<text x="${right - 3}" y="${f(y(CHART_WORKERS / 2) - 3)}" text-anchor="end" font-size="9.5" fill="#555" stroke="#fff" stroke-width="3" paint-order="stroke">N/2 = ${CHART_WORKERS / 2}</text>`,
  );
  if (HALVE_AT > w.from && HALVE_AT < w.to) {
    out.push(
      `<line x1="${f(x(HALVE_AT))}" x2="${f(x(HALVE_AT))}" y1="${top}" y2="${top + PANEL_H}" stroke="#333" stroke-dasharray="2 3"/>`,
    );
  }
  // The limit: per pixel column, its min–max band and its mean.
  const columns = new Map<number, { min: number; max: number; sum: number; n: number }>();
  for (const [t, limit] of r.limits) {
    if (t < w.from || t > w.to) continue;
    const c = Math.floor(x(t) - left);
    const col = columns.get(c);
    if (col === undefined) columns.set(c, { min: limit, max: limit, sum: limit, n: 1 });
    else {
      col.min = Math.min(col.min, limit);
      col.max = Math.max(col.max, limit);
      col.sum += limit;
      col.n++;
    }
  }
  const cols = [...columns.entries()].sort((a, b) => a[0] - b[0]);
  const upper = cols.map(([c, v]) => `${f(left + c + 0.5)},${f(y(v.max))}`);
  const lower = cols.map(([c, v]) => `${f(left + c + 0.5)},${f(y(v.min))}`).reverse();
  out.push(
    `<polygon points="${[...upper, ...lower].join(' ')}" fill="${color}" fill-opacity="0.25" stroke="none"/>`,
    `<polyline points="${cols.map(([c, v]) => `${f(left + c + 0.5)},${f(y(v.sum / v.n))}`).join(' ')}" fill="none" stroke="${color}" stroke-width="1.5"/>`,
  );
}

/** 1, 2 or 5 times a power of ten, at least `raw`. */
function niceStep(raw: number): number {
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}
