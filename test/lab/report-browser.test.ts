/**
 * The HTML report in a real browser: Debian's Chromium at /usr/bin/chromium, driven by
 * playwright-core (which never downloads a browser). The page must load without a console error
 * or a single request beyond itself, draw every chart, fit a phone's width, and print.
 *
 * Screenshots go to artifacts/ (ignored by git; CI keeps them). With SLUICE_UPDATE_SCREENSHOTS=1
 * the test also refreshes docs/images/lab-report.png, the README's picture (1200×900).
 *
 * Without /usr/bin/chromium this test fails: install Debian's `chromium` package (.ci/run does).
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderHtml } from '../../src/lab/report-html.js';
import { designNoteReport, HOSTILE } from './report-fixture.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const ARTIFACTS = join(import.meta.dirname, '../../artifacts');
const README_IMAGE = join(import.meta.dirname, '../../docs/images/lab-report.png');
const { SLUICE_UPDATE_SCREENSHOTS: UPDATE_SCREENSHOTS } = process.env;

let browser: Browser | undefined;
let folder = '';

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: the HTML report's browser test needs Debian's chromium package ` +
        '(apt-get update && apt-get install -y chromium; .ci/run installs it when it is missing). ' +
        'It never downloads a browser.',
    );
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  folder = await mkdtemp(join(tmpdir(), 'sluice-report-'));
  await mkdir(ARTIFACTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  if (folder !== '') await rm(folder, { recursive: true, force: true });
});

interface Opened {
  readonly page: Page;
  /** Console errors and warnings, uncaught exceptions, failed requests. */
  readonly problems: string[];
  /** Every URL the page asked for, the page included. */
  readonly requests: string[];
  readonly url: string;
}

async function open(
  html: string,
  name: string,
  viewport: { readonly width: number; readonly height: number },
): Promise<Opened> {
  const file = join(folder, `${name}.html`);
  await writeFile(file, html);
  const page = await browser!.newPage({ viewport, deviceScaleFactor: 1 });
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning')
      problems.push(`console ${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
  page.on('request', (request) => requests.push(request.url()));
  const url = pathToFileURL(file).href;
  await page.goto(url, { waitUntil: 'load' });
  return { page, problems, requests, url };
}

/** What the browser drew: every chart's box, and what is inside it. */
interface Drawn {
  readonly kind: string;
  readonly width: number;
  readonly height: number;
  /** Each data line: its length on screen and its number of points. */
  readonly paths: readonly { readonly length: number; readonly points: number }[];
  /** Bars taller and wider than nothing. */
  readonly bars: number;
  /** Texts that stick out of the chart. */
  readonly overflowing: readonly string[];
}

function drawnCharts(page: Page): Promise<Drawn[]> {
  return page.$$eval('svg.chart', (svgs) =>
    svgs.map((svg) => {
      const box = svg.getBoundingClientRect();
      const paths = Array.from(svg.querySelectorAll<SVGPathElement>('path.series')).map((path) => ({
        length: path.getTotalLength(),
        points: (path.getAttribute('d') ?? '').split(/[ML]/).filter((pair) => pair !== '').length,
      }));
      const bars = Array.from(svg.querySelectorAll<SVGRectElement>('rect.bar')).filter((bar) => {
        const { width, height } = bar.getBoundingClientRect();
        return width > 0 && height > 0;
      }).length;
      const overflowing = Array.from(svg.querySelectorAll<SVGTextElement>('text'))
        .filter((text) => {
          const b = text.getBoundingClientRect();
          return (
            b.left < box.left - 1 ||
            b.top < box.top - 1 ||
            b.right > box.right + 1 ||
            b.bottom > box.bottom + 1
          );
        })
        .map((text) => text.textContent ?? '');
      return {
        kind: svg.getAttribute('class') ?? '',
        width: box.width,
        height: box.height,
        paths,
        bars,
        overflowing,
      };
    }),
  );
}

describe('the HTML report in Chromium', () => {
  const report = designNoteReport();

  it('loads with no console error and no request, and draws every chart', async () => {
    const { page, problems, requests, url } = await open(renderHtml(report), 'report', {
      width: 1200,
      height: 900,
    });
    try {
      expect(problems).toEqual([]);
      expect(requests).toEqual([url]);
      expect(await page.title()).toBe(`sluice lab: ${report.scenario.name}`);
      const charts = await drawnCharts(page);
      expect(charts).toHaveLength(3 + 3 * report.configurations.length);
      for (const chart of charts) {
        expect(chart.width, chart.kind).toBeGreaterThan(250);
        expect(chart.height, chart.kind).toBeGreaterThan(100);
        expect(chart.overflowing, chart.kind).toEqual([]);
        if (/chart-(line|strips)/.test(chart.kind)) {
          expect(chart.paths.length, chart.kind).toBeGreaterThan(0);
          for (const path of chart.paths) {
            expect(path.points).toBeGreaterThan(100);
            expect(path.length).toBeGreaterThan(100);
          }
        } else {
          expect(chart.bars, chart.kind).toBeGreaterThanOrEqual(3);
        }
      }
      // The layout at this width: the comparison's three charts side by side.
      const tops = await page.$$eval('#comparison figure', (figures) =>
        figures.map((figure) => figure.getBoundingClientRect().top),
      );
      expect(new Set(tops).size).toBe(1);
      await page.screenshot({ path: join(ARTIFACTS, 'lab-report.png'), fullPage: true });
      const top = join(ARTIFACTS, 'lab-report-top.png');
      await page.screenshot({ path: top });
      if (UPDATE_SCREENSHOTS === '1') {
        await mkdir(join(README_IMAGE, '..'), { recursive: true });
        await copyFile(top, README_IMAGE);
      }
    } finally {
      await page.close();
    }
  });

  it('fits a phone: charts one under another, no sideways scrolling of the page', async () => {
    const { page, problems } = await open(renderHtml(report), 'phone', { width: 390, height: 844 });
    try {
      expect(problems).toEqual([]);
      const layout = await page.evaluate(() => ({
        scrollWidth: document.documentElement.scrollWidth,
        figures: Array.from(document.querySelectorAll('#comparison figure')).map((figure) => {
          const box = figure.getBoundingClientRect();
          return { left: box.left, right: box.right, top: box.top };
        }),
      }));
      expect(layout.scrollWidth).toBeLessThanOrEqual(390);
      expect(new Set(layout.figures.map((figure) => figure.top)).size).toBe(3);
      for (const figure of layout.figures) {
        expect(figure.left).toBeGreaterThanOrEqual(0);
        expect(figure.right).toBeLessThanOrEqual(390);
      }
      for (const chart of await drawnCharts(page)) {
        expect(chart.width).toBeGreaterThan(300);
        expect(chart.width).toBeLessThanOrEqual(390);
      }
      await page.screenshot({ path: join(ARTIFACTS, 'lab-report-phone.png'), fullPage: true });
    } finally {
      await page.close();
    }
  });

  it('prints: no navigation, one configuration per page, nothing wider than the page', async () => {
    // An A4 page less 12 mm margins is about 700 CSS pixels wide.
    const { page, problems } = await open(renderHtml(report), 'print', { width: 700, height: 990 });
    try {
      await page.emulateMedia({ media: 'print' });
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
        700,
      );
      const clipped = await page.$$eval(
        '.table-wrap',
        (wraps) => wraps.filter((wrap) => wrap.scrollWidth > wrap.clientWidth).length,
      );
      expect(clipped).toBe(0);
      expect(await page.$eval('nav', (nav) => getComputedStyle(nav).display)).toBe('none');
      expect(
        await page.$$eval('section.config', (sections) =>
          sections.map((section) => getComputedStyle(section).breakBefore),
        ),
      ).toEqual(['page', 'page', 'page']);
      const pdf = await page.pdf({ format: 'A4', printBackground: true });
      expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
      await writeFile(join(ARTIFACTS, 'lab-report.pdf'), pdf);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('shows hostile labels as text and runs nothing', async () => {
    const hostile = designNoteReport({
      labels: [HOSTILE, 'b', 'c'],
      name: HOSTILE,
      description: HOSTILE,
    });
    const { page, problems, requests, url } = await open(renderHtml(hostile), 'hostile', {
      width: 1200,
      height: 900,
    });
    try {
      expect(problems).toEqual([]);
      expect(requests).toEqual([url]);
      const seen = await page.evaluate(() => ({
        scripts: document.scripts.length,
        images: document.images.length,
        h1: document.querySelector('h1')?.textContent,
        section: document.querySelector('section.config h2')?.textContent,
      }));
      expect(seen).toEqual({ scripts: 0, images: 0, h1: HOSTILE, section: HOSTILE });
      expect(await page.title()).toBe(`sluice lab: ${HOSTILE}`);
    } finally {
      await page.close();
    }
  });
});
