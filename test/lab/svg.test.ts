import { describe, expect, it } from 'vitest';
import {
  decimate,
  escapeXml,
  formatNumber,
  niceTicks,
  PALETTE,
  truncate,
} from '../../src/lab/svg.js';

describe('escapeXml', () => {
  it.each([
    ['plain', 'plain'],
    ['a & b', 'a &amp; b'],
    ['<script>', '&lt;script&gt;'],
    [`"double" 'single'`, '&quot;double&quot; &#39;single&#39;'],
    ['&lt; already escaped', '&amp;lt; already escaped'],
  ])('%j → %j', (text, escaped) => {
    expect(escapeXml(text)).toBe(escaped);
  });
});

describe('formatNumber', () => {
  it.each([
    [0, '0'],
    [5, '5'],
    [3.416, '3.42'],
    [12.34, '12.3'],
    [0.25, '0.25'],
    [0.0004, '0'],
    [1_234.5, '1,235'],
    [-1_500, '-1,500'],
    [39_400, '39,400'],
    [2_500_000, '2.5M'],
    [25_000_000, '25M'],
    [Number.NaN, '—'],
    [Number.POSITIVE_INFINITY, '—'],
  ])('%d → %s', (value, text) => {
    expect(formatNumber(value)).toBe(text);
  });
});

describe('niceTicks', () => {
  it.each([
    [0, 5, 5, true, [0, 1, 2, 3, 4, 5]],
    [0, 61.5, 6, false, [0, 20, 40, 60, 80]],
    [0, 61.5, 8, false, [0, 10, 20, 30, 40, 50, 60, 70]],
    [0, 395, 5, true, [0, 100, 200, 300, 400]],
    [0, 0.7, 5, false, [0, 0.2, 0.4, 0.6, 0.8]],
    [0, 1, 5, true, [0, 1]],
    [0, 0, 5, true, [0, 1]],
    [0, 1_858, 4, false, [0, 500, 1_000, 1_500, 2_000]],
    [0, Number.NaN, 5, false, [0, 0.2, 0.4, 0.6, 0.8, 1]],
  ])('(%d, %d, %d, integer %s) → %j', (min, max, count, integer, ticks) => {
    expect(niceTicks(min, max, count, integer)).toEqual(ticks);
  });
});

describe('truncate', () => {
  it.each([
    ['short', 10, 'short'],
    ['exactly10!', 10, 'exactly10!'],
    ['a longer label', 8, 'a longe…'],
    ['🚰🚰🚰🚰', 3, '🚰🚰…'],
  ])('(%j, %d) → %j', (text, max, cut) => {
    expect(truncate(text, max)).toBe(cut);
  });
});

describe('decimate', () => {
  it('keeps a short series as it is', () => {
    const points = [
      [0, 1],
      [1, 2],
    ] as const;
    expect(decimate(points, 10)).toEqual(points);
  });

  it('keeps a long series to about the limit, with its first and last points and its peaks', () => {
    const points = Array.from(
      { length: 10_000 },
      (_, i) => [i, i === 4_321 ? 99 : i === 7_000 ? -5 : 1] as const,
    );
    const kept = decimate(points, 600);
    expect(kept.length).toBeLessThanOrEqual(601);
    expect(kept[0]).toEqual([0, 1]);
    expect(kept[kept.length - 1]).toEqual([9_999, 1]);
    expect(kept).toContainEqual([4_321, 99]);
    expect(kept).toContainEqual([7_000, -5]);
    for (let i = 1; i < kept.length; i++) expect(kept[i]![0]).toBeGreaterThan(kept[i - 1]![0]);
  });
});

describe('PALETTE', () => {
  /** WCAG 2 contrast ratio of a #rrggbb colour against white. */
  function contrastOnWhite(hex: string): number {
    const channel = (i: number) => {
      const value = Number.parseInt(hex.slice(1 + 2 * i, 3 + 2 * i), 16) / 255;
      return value <= 0.03928 ? value / 12.92 : ((value + 0.055) / 1.055) ** 2.4;
    };
    const luminance = 0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2);
    return 1.05 / (luminance + 0.05);
  }

  it.each(PALETTE.map((color) => [color]))(
    '%s has a contrast of at least 4.5:1 on white',
    (color) => {
      expect(contrastOnWhite(color)).toBeGreaterThanOrEqual(4.5);
    },
  );
});
