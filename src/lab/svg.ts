/**
 * SVG charts for the lab's HTML report, drawn as strings so that they render without JavaScript:
 * a line chart (values over time), strips (small multiples of values over time, one per
 * configuration), a histogram (counts in buckets) and horizontal bars (stacked or grouped, one
 * row per configuration).
 *
 * Every chart this file draws:
 * 1. is one `<svg>` with a `viewBox` and no width or height, so it scales to its container;
 * 2. has `role="img"`, a `<title>` and a `<desc>` that says in words what the chart shows, both
 *    named by `aria-labelledby`;
 * 3. escapes every string it is given (labels come from user scenario files), and writes only
 *    finite numbers into attributes: a point with a NaN or an infinite coordinate is left out;
 * 4. has axes with ticks at round values and axis titles (the caller puts the unit in them), and
 *    a legend whenever a colour stands for something.
 *
 * The functions take raw strings and numbers in display units (the caller converts ms to s):
 * this file knows nothing of the lab.
 */

/** Width of every chart's viewBox. Font sizes are in the same units. */
const WIDTH = 440;
const FONT = 12;
/** A rough width of one character at {@link FONT}, to lay out legends and margins. */
const CHAR = 6.8;
const LEGEND_ROW = 18;
const AXIS_COLOR = '#475569';
const GRID_COLOR = '#e2e8f0';
const TEXT_COLOR = '#1e293b';

/**
 * Colours for series and bars, in the order they are handed out: each has a contrast of at least
 * 4.5:1 against white, and neighbours differ in hue.
 */
export const PALETTE: readonly string[] = [
  '#1d5fa8',
  '#b3420e',
  '#0f766e',
  '#7c3aed',
  '#a21caf',
  '#4d7c0f',
  '#be123c',
  '#475569',
];

/** Escapes a string for HTML or XML text and for a double- or single-quoted attribute. */
export function escapeXml(text: string): string {
  return String(text)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Cuts `text` to at most `max` characters, ending with an ellipsis when it was cut. */
export function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, Math.max(1, max - 1)).join('')}…`;
}

/** Formats a number for a tick or a label: at most 3 significant digits after the point, thousands separated. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${trimZeros((value / 1e6).toFixed(abs >= 1e7 ? 0 : 1))}M`;
  const digits = abs >= 100 || abs === 0 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  const fixed = trimZeros(value.toFixed(digits));
  const [whole = '', fraction] = fixed.split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}

function trimZeros(fixed: string): string {
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}

/**
 * Round tick values from 0 (or `min`) up to at least `max`: steps of 1, 2 or 5 times a power of
 * ten, about `count` of them. The last tick is the first round value at or above `max`.
 * `integer` keeps steps whole (for counts).
 */
export function niceTicks(min: number, max: number, count = 5, integer = false): number[] {
  const lo = Number.isFinite(min) ? min : 0;
  let hi = Number.isFinite(max) ? max : lo + 1;
  if (hi <= lo) hi = lo + (integer ? 1 : Math.abs(lo) || 1);
  const raw = (hi - lo) / Math.max(1, count);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / magnitude;
  let step = (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * magnitude;
  if (integer) step = Math.max(1, Math.round(step));
  const first = Math.floor(lo / step) * step;
  const ticks: number[] = [];
  for (let i = 0; ; i++) {
    const tick = Number((first + i * step).toPrecision(12));
    ticks.push(tick);
    if (tick >= hi - step * 1e-9 || i > 1000) break;
  }
  return ticks;
}

/** A number for an SVG attribute: one decimal, no trailing zero. */
function n(value: number): string {
  return String(Math.round(value * 10) / 10);
}

function linear(d0: number, d1: number, r0: number, r1: number): (value: number) => number {
  const span = d1 - d0 || 1;
  return (value) => r0 + ((value - d0) / span) * (r1 - r0);
}

interface Frame {
  readonly left: number;
  readonly top: number;
  readonly right: number;
  readonly bottom: number;
}

interface LegendItem {
  readonly label: string;
  readonly color: string;
  readonly shape: 'line' | 'dashed' | 'box' | 'none';
}

/** The common head of every chart: accessible name and description. */
function open(id: string, height: number, title: string, desc: string, kind: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-${kind}" viewBox="0 0 ${WIDTH} ${n(height)}" ` +
    `role="img" aria-labelledby="${id}-title ${id}-desc" font-size="${FONT}" fill="${TEXT_COLOR}">` +
    `<title id="${id}-title">${escapeXml(title)}</title><desc id="${id}-desc">${escapeXml(desc)}</desc>`
  );
}

/** Lays legend items out in rows across the chart; returns the markup and the height it takes. */
function legend(
  items: readonly LegendItem[],
  x0: number,
  y0: number,
): { svg: string; height: number } {
  if (items.length === 0) return { svg: '', height: 0 };
  const parts: string[] = ['<g class="legend">'];
  let x = x0;
  let row = 0;
  for (const item of items) {
    const label = truncate(item.label, 32);
    const indent = item.shape === 'none' ? 0 : 20;
    const width = indent + label.length * CHAR + 16;
    if (x > x0 && x + width > WIDTH - 8) {
      x = x0;
      row++;
    }
    const y = y0 + row * LEGEND_ROW;
    const swatch =
      item.shape === 'none'
        ? ''
        : item.shape === 'box'
          ? `<rect x="${n(x)}" y="${n(y - 9)}" width="12" height="12" rx="2" fill="${item.color}"/>`
          : `<line x1="${n(x)}" y1="${n(y - 3)}" x2="${n(x + 16)}" y2="${n(y - 3)}" stroke="${item.color}" stroke-width="${item.shape === 'dashed' ? 1.5 : 2.5}"${item.shape === 'dashed' ? ' stroke-dasharray="4 3"' : ''}/>`;
    parts.push(
      `<g><title>${escapeXml(item.label)}</title>${swatch}<text x="${n(x + indent)}" y="${n(y)}">${escapeXml(label)}</text></g>`,
    );
    x += width;
  }
  parts.push('</g>');
  return { svg: parts.join(''), height: (row + 1) * LEGEND_ROW + 4 };
}

/** Horizontal grid lines and labels of a value axis on the left. */
function yAxis(
  frame: Frame,
  ticks: readonly number[],
  scale: (v: number) => number,
  title: string,
): string {
  const parts: string[] = ['<g class="axis axis-y">'];
  for (const tick of ticks) {
    const y = scale(tick);
    parts.push(
      `<line x1="${n(frame.left)}" y1="${n(y)}" x2="${n(frame.right)}" y2="${n(y)}" stroke="${GRID_COLOR}"/>`,
      `<line x1="${n(frame.left - 4)}" y1="${n(y)}" x2="${n(frame.left)}" y2="${n(y)}" stroke="${AXIS_COLOR}"/>`,
      `<text x="${n(frame.left - 7)}" y="${n(y + 4)}" text-anchor="end">${escapeXml(formatNumber(tick))}</text>`,
    );
  }
  const middle = (frame.top + frame.bottom) / 2;
  parts.push(
    `<line x1="${n(frame.left)}" y1="${n(frame.top)}" x2="${n(frame.left)}" y2="${n(frame.bottom)}" stroke="${AXIS_COLOR}"/>`,
    `<text class="axis-title" x="${n(12)}" y="${n(middle)}" text-anchor="middle" transform="rotate(-90 12 ${n(middle)})">${escapeXml(title)}</text>`,
    '</g>',
  );
  return parts.join('');
}

/** A horizontal axis at the bottom: ticks at `positions` (already scaled) with their labels. */
function xAxis(
  frame: Frame,
  ticks: readonly { x: number; label: string }[],
  title: string,
): string {
  const parts: string[] = ['<g class="axis axis-x">'];
  parts.push(
    `<line x1="${n(frame.left)}" y1="${n(frame.bottom)}" x2="${n(frame.right)}" y2="${n(frame.bottom)}" stroke="${AXIS_COLOR}"/>`,
  );
  for (const tick of ticks) {
    parts.push(
      `<line x1="${n(tick.x)}" y1="${n(frame.bottom)}" x2="${n(tick.x)}" y2="${n(frame.bottom + 4)}" stroke="${AXIS_COLOR}"/>`,
      `<text x="${n(tick.x)}" y="${n(frame.bottom + 17)}" text-anchor="middle">${escapeXml(tick.label)}</text>`,
    );
  }
  parts.push(
    `<text class="axis-title" x="${n((frame.left + frame.right) / 2)}" y="${n(frame.bottom + 34)}" text-anchor="middle">${escapeXml(title)}</text>`,
    '</g>',
  );
  return parts.join('');
}

/** Vertical grid lines across the frame at each of `ticks` (values, placed by `scale`). */
function xGrid(frame: Frame, ticks: readonly number[], scale: (v: number) => number): string {
  const parts: string[] = ['<g class="axis axis-x">'];
  for (const tick of ticks)
    parts.push(
      `<line x1="${n(scale(tick))}" y1="${n(frame.top)}" x2="${n(scale(tick))}" y2="${n(frame.bottom)}" stroke="${GRID_COLOR}"/>`,
    );
  parts.push('</g>');
  return parts.join('');
}

/** `xAxis` for a value scale: a tick at each of `ticks`, placed by `scale`, labelled with its number. */
function xValueAxis(
  frame: Frame,
  ticks: readonly number[],
  scale: (v: number) => number,
  title: string,
): string {
  return xAxis(
    frame,
    ticks.map((tick) => ({ x: scale(tick), label: formatNumber(tick) })),
    title,
  );
}

function leftMargin(labels: readonly string[]): number {
  return 26 + Math.max(2, ...labels.map((label) => label.length)) * CHAR + 8;
}

/** A line of a {@link lineChart}. */
export interface LineSeries {
  readonly label: string;
  readonly color: string;
  /** [x, y] in display units, x increasing. */
  readonly points: readonly (readonly [number, number])[];
  /** Fill the area under the line, lightly. */
  readonly area?: boolean | undefined;
}

/** A dashed reference line across a chart, with a label. */
export interface ReferenceLine {
  readonly at: number;
  readonly label: string;
}

/** What {@link lineChart} draws. */
export interface LineChartSpec {
  /** Unique in the page: the prefix of the title's and description's ids. */
  readonly id: string;
  readonly title: string;
  readonly desc: string;
  /** Axis titles, with units: "time (s)". */
  readonly xTitle: string;
  readonly yTitle: string;
  /** The x axis spans [0, xMax]; the y axis [0, a round value at or above yMax]. */
  readonly xMax: number;
  readonly yMax: number;
  /** Counts on the y axis: whole ticks only. */
  readonly yInteger?: boolean | undefined;
  readonly series: readonly LineSeries[];
  /** Vertical lines at x values (events such as a slowdown). */
  readonly xRefs?: readonly ReferenceLine[] | undefined;
  /** Horizontal lines at y values (a capacity); one above the scale is named in the legend only. */
  readonly yRefs?: readonly ReferenceLine[] | undefined;
}

/**
 * Keeps at most about `max` points of a long series, and its shape: in each run of points it
 * keeps the first, the lowest and the highest, so peaks survive.
 */
export function decimate(
  points: readonly (readonly [number, number])[],
  max: number,
): (readonly [number, number])[] {
  if (points.length <= max) return points.slice();
  const bucket = Math.ceil((points.length * 3) / max);
  const out: (readonly [number, number])[] = [];
  for (let start = 0; start < points.length; start += bucket) {
    const run = points.slice(start, start + bucket);
    let low = run[0]!;
    let high = run[0]!;
    for (const point of run) {
      if (point[1] < low[1]) low = point;
      if (point[1] > high[1]) high = point;
    }
    const keep = [run[0]!, low, high].sort((a, b) => a[0] - b[0]);
    for (const point of keep) if (out[out.length - 1] !== point) out.push(point);
  }
  const last = points[points.length - 1]!;
  if (out[out.length - 1] !== last) out.push(last);
  return out;
}

/** Values over an x axis that starts at 0: one path per series, reference lines, legend. */
export function lineChart(spec: LineChartSpec): string {
  const series = spec.series.map((s) => ({
    ...s,
    points: decimate(
      s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)),
      800,
    ),
  }));
  const yTicks = niceTicks(0, spec.yMax, 5, spec.yInteger === true);
  const yTop = yTicks[yTicks.length - 1]!;
  const xMax = Number.isFinite(spec.xMax) && spec.xMax > 0 ? spec.xMax : 1;
  const xTicks = niceTicks(0, xMax, 6).filter((tick) => tick <= xMax * (1 + 1e-9));
  const items: LegendItem[] = series.map((s) => ({
    label: s.label,
    color: s.color,
    shape: 'line',
  }));
  for (const ref of spec.yRefs ?? []) {
    const onScale = Number.isFinite(ref.at) && ref.at >= 0 && ref.at <= yTop;
    items.push(
      onScale
        ? { label: ref.label, color: AXIS_COLOR, shape: 'dashed' }
        : { label: `${ref.label} (off the scale)`, color: AXIS_COLOR, shape: 'none' },
    );
  }
  const left = leftMargin(yTicks.map(formatNumber));
  const top = 10;
  const { svg: legendSvg, height: legendHeight } = legend(items, left, top + 12);
  const plotHeight = 180;
  const frame: Frame = {
    left,
    top: top + legendHeight + 6,
    right: WIDTH - 16,
    bottom: top + legendHeight + 6 + plotHeight,
  };
  const height = frame.bottom + 44;
  const x = linear(0, xMax, frame.left, frame.right);
  const y = linear(0, yTop, frame.bottom, frame.top);
  const parts: string[] = [open(spec.id, height, spec.title, spec.desc, 'line'), legendSvg];
  parts.push(yAxis(frame, yTicks, y, spec.yTitle));
  parts.push(xValueAxis(frame, xTicks, x, spec.xTitle));
  for (const ref of spec.yRefs ?? []) {
    if (!(Number.isFinite(ref.at) && ref.at >= 0 && ref.at <= yTop)) continue;
    parts.push(
      `<line class="ref" x1="${n(frame.left)}" y1="${n(y(ref.at))}" x2="${n(frame.right)}" y2="${n(y(ref.at))}" stroke="${AXIS_COLOR}" stroke-width="1.5" stroke-dasharray="4 3"><title>${escapeXml(ref.label)}</title></line>`,
    );
  }
  for (const ref of spec.xRefs ?? []) {
    if (!(Number.isFinite(ref.at) && ref.at >= 0 && ref.at <= xMax)) continue;
    const at = x(ref.at);
    parts.push(
      `<g class="ref"><title>${escapeXml(ref.label)}</title><line x1="${n(at)}" y1="${n(frame.top)}" x2="${n(at)}" y2="${n(frame.bottom)}" stroke="${AXIS_COLOR}" stroke-width="1.5" stroke-dasharray="4 3"/>` +
        `<text x="${n(at - 4)}" y="${n(frame.top + 12)}" text-anchor="end" font-size="11" fill="${AXIS_COLOR}" stroke="#fff" stroke-width="3" paint-order="stroke">${escapeXml(truncate(ref.label, 24))}</text></g>`,
    );
  }
  for (const s of series) {
    if (s.points.length === 0) continue;
    const coords = s.points.map(([px, py]) => `${n(x(px))},${n(y(Math.min(py, yTop)))}`);
    const d = `M${coords.join('L')}`;
    parts.push(`<g class="series-group"><title>${escapeXml(s.label)}</title>`);
    if (s.area === true && s.points.length > 1) {
      const first = s.points[0]!;
      const last = s.points[s.points.length - 1]!;
      parts.push(
        `<path class="area" d="${d}L${n(x(last[0]))},${n(frame.bottom)}L${n(x(first[0]))},${n(frame.bottom)}Z" fill="${s.color}" fill-opacity="0.12" stroke="none"/>`,
      );
    }
    parts.push(
      `<path class="series" d="${d}" fill="none" stroke="${s.color}" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"/>`,
    );
    if (s.points.length === 1) {
      const [px, py] = s.points[0]!;
      parts.push(`<circle cx="${n(x(px))}" cy="${n(y(py))}" r="3" fill="${s.color}"/>`);
    }
    parts.push('</g>');
  }
  if (series.every((s) => s.points.length === 0)) parts.push(emptyNote(frame, 'no samples'));
  parts.push('</svg>');
  return parts.join('');
}

/** What {@link stripsChart} draws: one small chart per row, on one time axis and one value scale. */
export interface StripsChartSpec {
  readonly id: string;
  readonly title: string;
  readonly desc: string;
  readonly xTitle: string;
  /** What the rows show, with its unit: named in the legend. */
  readonly yTitle: string;
  readonly xMax: number;
  readonly yMax: number;
  readonly yInteger?: boolean | undefined;
  readonly rows: readonly {
    readonly label: string;
    readonly color: string;
    readonly points: readonly (readonly [number, number])[];
    /** A dashed line across the row (a capacity), drawn if it is on the scale. */
    readonly ref?: ReferenceLine | undefined;
  }[];
  readonly xRefs?: readonly ReferenceLine[] | undefined;
}

/**
 * Small multiples: a strip per row (a configuration), each an area chart from 0 to the same top,
 * over one shared time axis. Lines that would lie on top of each other in one chart stay apart.
 */
export function stripsChart(spec: StripsChartSpec): string {
  const yTicks = niceTicks(0, spec.yMax, 2, spec.yInteger === true);
  const yTop = yTicks[yTicks.length - 1]!;
  const xMax = Number.isFinite(spec.xMax) && spec.xMax > 0 ? spec.xMax : 1;
  const xTicks = niceTicks(0, xMax, 6).filter((tick) => tick <= xMax * (1 + 1e-9));
  const labels = spec.rows.map((row) => truncate(row.label, 14));
  const topLabel = formatNumber(yTop);
  const left =
    10 +
    Math.max(4, ...labels.map((label) => label.length)) * CHAR +
    8 +
    topLabel.length * CHAR +
    6;
  const items: LegendItem[] = [{ label: spec.yTitle, color: AXIS_COLOR, shape: 'none' }];
  const refLabels = [
    ...new Set(spec.rows.flatMap((row) => (row.ref === undefined ? [] : [row.ref.label]))),
  ];
  if (refLabels.length > 0)
    items.push({
      label: refLabels.length === 1 ? refLabels[0]! : 'capacity',
      color: AXIS_COLOR,
      shape: 'dashed',
    });
  const top = 10;
  const { svg: legendSvg, height: legendHeight } = legend(items, 10, top + 12);
  const stripHeight = 40;
  const gap = 12;
  const frame: Frame = {
    left,
    top: top + legendHeight + 8,
    right: WIDTH - 16,
    bottom: top + legendHeight + 8 + Math.max(1, spec.rows.length) * (stripHeight + gap) - gap,
  };
  const height = frame.bottom + 44;
  const x = linear(0, xMax, frame.left, frame.right);
  const parts: string[] = [open(spec.id, height, spec.title, spec.desc, 'strips'), legendSvg];
  parts.push(xGrid(frame, xTicks, x), xValueAxis(frame, xTicks, x, spec.xTitle));
  spec.rows.forEach((row, r) => {
    const stripTop = frame.top + r * (stripHeight + gap);
    const stripBottom = stripTop + stripHeight;
    const y = linear(0, yTop, stripBottom, stripTop);
    const points = decimate(
      row.points.filter(([px, py]) => Number.isFinite(px) && Number.isFinite(py)),
      600,
    );
    const labelX = frame.left - topLabel.length * CHAR - 12;
    parts.push(
      `<g class="strip"><title>${escapeXml(row.label)}</title>`,
      `<text x="${n(labelX)}" y="${n((stripTop + stripBottom) / 2 + 4)}" text-anchor="end">${escapeXml(labels[r]!)}</text>`,
      `<text x="${n(frame.left - 5)}" y="${n(stripTop + 4)}" text-anchor="end" font-size="10" fill="${AXIS_COLOR}">${escapeXml(topLabel)}</text>`,
      `<text x="${n(frame.left - 5)}" y="${n(stripBottom)}" text-anchor="end" font-size="10" fill="${AXIS_COLOR}">0</text>`,
      `<line x1="${n(frame.left)}" y1="${n(stripTop)}" x2="${n(frame.right)}" y2="${n(stripTop)}" stroke="${GRID_COLOR}"/>`,
      `<line x1="${n(frame.left)}" y1="${n(stripBottom)}" x2="${n(frame.right)}" y2="${n(stripBottom)}" stroke="${AXIS_COLOR}"/>`,
      `<line x1="${n(frame.left)}" y1="${n(stripTop)}" x2="${n(frame.left)}" y2="${n(stripBottom)}" stroke="${AXIS_COLOR}"/>`,
    );
    if (points.length > 0) {
      const d = `M${points.map(([px, py]) => `${n(x(px))},${n(y(Math.min(py, yTop)))}`).join('L')}`;
      const first = points[0]!;
      const last = points[points.length - 1]!;
      parts.push(
        `<path class="area" d="${d}L${n(x(last[0]))},${n(stripBottom)}L${n(x(first[0]))},${n(stripBottom)}Z" fill="${row.color}" fill-opacity="0.15" stroke="none"/>`,
        `<path class="series" d="${d}" fill="none" stroke="${row.color}" stroke-width="1.75" stroke-linejoin="round"/>`,
      );
    } else {
      parts.push(
        `<text x="${n((frame.left + frame.right) / 2)}" y="${n((stripTop + stripBottom) / 2 + 4)}" text-anchor="middle" fill="${AXIS_COLOR}">no samples</text>`,
      );
    }
    if (
      row.ref !== undefined &&
      Number.isFinite(row.ref.at) &&
      row.ref.at >= 0 &&
      row.ref.at <= yTop
    ) {
      parts.push(
        `<line class="ref" x1="${n(frame.left)}" y1="${n(y(row.ref.at))}" x2="${n(frame.right)}" y2="${n(y(row.ref.at))}" stroke="${AXIS_COLOR}" stroke-width="1.25" stroke-dasharray="4 3"><title>${escapeXml(row.ref.label)}</title></line>`,
      );
    }
    parts.push('</g>');
  });
  for (const ref of spec.xRefs ?? []) {
    if (!(Number.isFinite(ref.at) && ref.at >= 0 && ref.at <= xMax)) continue;
    const at = x(ref.at);
    parts.push(
      `<g class="ref"><title>${escapeXml(ref.label)}</title><line x1="${n(at)}" y1="${n(frame.top - 4)}" x2="${n(at)}" y2="${n(frame.bottom)}" stroke="${AXIS_COLOR}" stroke-width="1.5" stroke-dasharray="4 3"/>` +
        `<text x="${n(at - 4)}" y="${n(frame.top - 6)}" text-anchor="end" font-size="11" fill="${AXIS_COLOR}" stroke="#fff" stroke-width="3" paint-order="stroke">${escapeXml(truncate(ref.label, 24))}</text></g>`,
    );
  }
  if (spec.rows.length === 0) parts.push(emptyNote(frame, 'no configurations'));
  parts.push('</svg>');
  return parts.join('');
}

function emptyNote(frame: Frame, text: string): string {
  return `<text x="${n((frame.left + frame.right) / 2)}" y="${n((frame.top + frame.bottom) / 2)}" text-anchor="middle" fill="${AXIS_COLOR}">${escapeXml(text)}</text>`;
}

/** What {@link histogram} draws: buckets side by side, each as wide as the others. */
export interface HistogramSpec {
  readonly id: string;
  readonly title: string;
  readonly desc: string;
  readonly xTitle: string;
  readonly yTitle: string;
  /** The bucket edges' labels: one more than there are buckets (the lower edge of the first, then each upper edge). */
  readonly edges: readonly string[];
  readonly counts: readonly number[];
  /** Each bucket's tooltip. */
  readonly tips: readonly string[];
  readonly color: string;
  readonly label: string;
  /** Vertical markers at fractional bucket positions (0 = the first bucket's lower edge). */
  readonly markers?: readonly (ReferenceLine & { readonly color: string })[] | undefined;
}

/** Counts in buckets: one bar per bucket, equal widths (so uneven buckets keep readable bars). */
export function histogram(spec: HistogramSpec): string {
  const counts = spec.counts.map((count) => (Number.isFinite(count) && count > 0 ? count : 0));
  const buckets = counts.length;
  const yTicks = niceTicks(0, Math.max(1, ...counts), 5, true);
  const yTop = yTicks[yTicks.length - 1]!;
  const items: LegendItem[] = [{ label: spec.label, color: spec.color, shape: 'box' }];
  for (const marker of spec.markers ?? [])
    items.push({ label: marker.label, color: marker.color, shape: 'dashed' });
  const left = leftMargin(yTicks.map(formatNumber));
  const top = 10;
  const { svg: legendSvg, height: legendHeight } = legend(items, left, top + 12);
  const frame: Frame = {
    left,
    top: top + legendHeight + 6,
    right: WIDTH - 16,
    bottom: top + legendHeight + 6 + 180,
  };
  const height = frame.bottom + 44;
  const x = linear(0, Math.max(1, buckets), frame.left, frame.right);
  const y = linear(0, yTop, frame.bottom, frame.top);
  const parts: string[] = [open(spec.id, height, spec.title, spec.desc, 'histogram'), legendSvg];
  parts.push(yAxis(frame, yTicks, y, spec.yTitle));
  // About seven edge labels, always the first and the last.
  const every = Math.max(1, Math.ceil((buckets + 1) / 7));
  const indices: number[] = [];
  for (let i = 0; i <= buckets; i += every) indices.push(i);
  if (indices[indices.length - 1] !== buckets) {
    if (buckets - indices[indices.length - 1]! < every / 2) indices.pop();
    indices.push(buckets);
  }
  const ticks = indices.map((i) => ({ x: x(i), label: spec.edges[i] ?? '' }));
  parts.push(xAxis(frame, ticks, spec.xTitle));
  const gap = buckets > 40 ? 0 : 1;
  parts.push('<g class="bars">');
  counts.forEach((count, i) => {
    if (count === 0) return;
    const x0 = x(i) + gap / 2;
    const width = Math.max(0.5, x(i + 1) - x(i) - gap);
    const top = y(count);
    parts.push(
      `<rect class="bar" x="${n(x0)}" y="${n(top)}" width="${n(width)}" height="${n(Math.max(0.5, frame.bottom - top))}" fill="${spec.color}"><title>${escapeXml(spec.tips[i] ?? '')}</title></rect>`,
    );
  });
  parts.push('</g>');
  for (const marker of spec.markers ?? []) {
    if (!(Number.isFinite(marker.at) && marker.at >= 0 && marker.at <= buckets)) continue;
    const at = x(marker.at);
    parts.push(
      `<line class="ref" x1="${n(at)}" y1="${n(frame.top)}" x2="${n(at)}" y2="${n(frame.bottom)}" stroke="${marker.color}" stroke-width="1.5" stroke-dasharray="4 3"><title>${escapeXml(marker.label)}</title></line>`,
    );
  }
  if (counts.every((count) => count === 0)) parts.push(emptyNote(frame, 'nothing delivered'));
  parts.push('</svg>');
  return parts.join('');
}

/** What {@link barChart} draws: one row per item (a configuration), one bar per key. */
export interface BarChartSpec {
  readonly id: string;
  readonly title: string;
  readonly desc: string;
  readonly xTitle: string;
  /** Stacked: the keys' bars end to end in one row; grouped: one thin bar per key, under each other. */
  readonly mode: 'stacked' | 'grouped';
  readonly keys: readonly { readonly label: string; readonly color: string }[];
  readonly rows: readonly {
    readonly label: string;
    /** One value per key, in display units. */
    readonly values: readonly number[];
    /** Tooltips, one per key. */
    readonly tips: readonly string[];
    /** Text after the row's bars (stacked), or after each bar (grouped: one per key). */
    readonly notes: readonly string[];
  }[];
  readonly xInteger?: boolean | undefined;
}

/** Horizontal bars, a row per configuration: stacked (shares of a whole) or grouped (a few values each). */
export function barChart(spec: BarChartSpec): string {
  const clean = (value: number | undefined) =>
    value !== undefined && Number.isFinite(value) && value > 0 ? value : 0;
  const totals = spec.rows.map((row) =>
    spec.mode === 'stacked'
      ? row.values.reduce((sum: number, value) => sum + clean(value), 0)
      : Math.max(0, ...row.values.map(clean)),
  );
  const xTicks = niceTicks(
    0,
    Math.max(...totals, spec.xInteger === true ? 1 : 0),
    4,
    spec.xInteger === true,
  );
  const xTop = xTicks[xTicks.length - 1]!;
  const labels = spec.rows.map((row) => truncate(row.label, 14));
  const left = 10 + Math.max(4, ...labels.map((label) => label.length)) * CHAR + 8;
  const noteWidth = Math.max(
    0,
    ...spec.rows.flatMap((row) => row.notes.map((note) => note.length)),
  );
  const top = 10;
  const items: LegendItem[] = spec.keys.map((key) => ({
    label: key.label,
    color: key.color,
    shape: 'box',
  }));
  const { svg: legendSvg, height: legendHeight } = legend(items, 10, top + 12);
  const barHeight = spec.mode === 'stacked' ? 20 : 9;
  const rowHeight = spec.mode === 'stacked' ? 34 : spec.keys.length * (barHeight + 3) + 14;
  const frame: Frame = {
    left,
    top: top + legendHeight + 8,
    right: WIDTH - 14 - noteWidth * CHAR * 0.9,
    bottom: top + legendHeight + 8 + Math.max(1, spec.rows.length) * rowHeight,
  };
  const height = frame.bottom + 44;
  const x = linear(0, xTop, frame.left, frame.right);
  const parts: string[] = [
    open(spec.id, height, spec.title, spec.desc, `bars-${spec.mode}`),
    legendSvg,
  ];
  parts.push(xGrid(frame, xTicks, x), xValueAxis(frame, xTicks, x, spec.xTitle));
  spec.rows.forEach((row, r) => {
    const rowTop = frame.top + r * rowHeight + 7;
    const label = labels[r]!;
    parts.push(
      `<g class="row"><title>${escapeXml(row.label)}</title><text x="${n(left - 8)}" y="${n(rowTop + (spec.mode === 'stacked' ? barHeight : rowHeight - 14) / 2 + 4)}" text-anchor="end">${escapeXml(label)}</text>`,
    );
    let cursor = 0;
    spec.keys.forEach((key, k) => {
      const value = clean(row.values[k]);
      const tip = `<title>${escapeXml(row.tips[k] ?? '')}</title>`;
      if (spec.mode === 'stacked') {
        if (value > 0) {
          parts.push(
            `<rect class="bar" x="${n(x(cursor))}" y="${n(rowTop)}" width="${n(Math.max(0.5, x(cursor + value) - x(cursor)))}" height="${barHeight}" fill="${key.color}">${tip}</rect>`,
          );
        }
        cursor += value;
      } else {
        const barTop = rowTop + k * (barHeight + 3);
        if (value > 0) {
          parts.push(
            `<rect class="bar" x="${n(frame.left)}" y="${n(barTop)}" width="${n(Math.max(0.5, x(value) - frame.left))}" height="${barHeight}" fill="${key.color}">${tip}</rect>`,
          );
        }
        const note = row.notes[k];
        if (note !== undefined && note !== '')
          parts.push(
            `<text x="${n(x(value) + 4)}" y="${n(barTop + barHeight - 0.5)}" font-size="11">${escapeXml(note)}</text>`,
          );
      }
    });
    const note = row.notes[0];
    if (spec.mode === 'stacked' && note !== undefined && note !== '') {
      parts.push(
        `<text x="${n(x(cursor) + 5)}" y="${n(rowTop + barHeight / 2 + 4)}" font-size="11">${escapeXml(note)}</text>`,
      );
    }
    parts.push('</g>');
  });
  parts.push(
    `<line x1="${n(frame.left)}" y1="${n(frame.top)}" x2="${n(frame.left)}" y2="${n(frame.bottom)}" stroke="${AXIS_COLOR}"/>`,
  );
  if (spec.rows.length === 0) parts.push(emptyNote(frame, 'no configurations'));
  parts.push('</svg>');
  return parts.join('');
}
