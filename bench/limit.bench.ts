/**
 * Rate-limiter benchmarks: sluice's `TokenBucket` against a hand-written lazy-refill bucket
 * (bench/baselines/lazy-bucket.ts) and four peers (limiter, bottleneck, rate-limiter-flexible,
 * p-throttle), all in ONE run, followed by a summary of RATIOS from that run and the targets'
 * verdicts (absolute timings drift on a shared machine; ratios between neighbours do not).
 *
 * Measures:
 * 1. the cost of one decision with ample tokens (rate and burst 1e9, so every call succeeds):
 *    sluice `tryTake()` against the hand-written bucket and each peer's cheapest check-and-take
 *    (a mitata run; rate-limiter-flexible's `consume` is async and is measured as such,
 *    awaited one call after another). Target: sluice ≤ 2× the hand-written bucket.
 * 2. achieved against configured rate on the REAL clock: burst 1 at 100/s, 1,000/s and
 *    10,000/s, one library and one rate at a time, 3 s each, 50 callers looping on the library's
 *    way to wait for a token (`await take()` in sluice). Grants released by the end of the window
 *    are counted and compared with burst + rate·T (as test/limit/token-bucket.realtime.test.ts
 *    does); every grant is also checked against burst + rate·(time since the limiter was made).
 *    Target: sluice ≥ 99.5 % of the configured rate at every rate, and never above the bound.
 *
 * Run: `npm --prefix bench run bench:limit` (needs `dist/` built; ~65 s), or `npm run bench` at
 * the repository root, which builds and runs the channel benchmarks, then this.
 * Filter: a regexp argument runs only the contenders whose name matches (e.g. `sluice|hand`).
 */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { bench, do_not_optimize, group, run, summary } from 'mitata';
import {
  AMPLE,
  type DecisionContender,
  decisionContenders,
  lazyDecision,
  type Paced,
  type PacedContender,
  pacedContenders,
  sluiceDecision,
} from './limit.peers.js';

/** Decisions per iteration of a decision benchmark. */
const CALLS = 10_000;
/** Configured rates of the real-clock runs, tokens per second (burst 1). */
const RATES = [100, 1_000, 10_000] as const;
const BURST = 1;
const CALLERS = 50;
const RUN_MS = 3_000;
/** A run whose callers have not all stopped this long after its window is reported as failed. */
const GRACE_MS = 5_000;
/** Quiet time between real-clock runs, so one run's stragglers do not land in the next. */
const SETTLE_MS = 200;
/**
 * sluice and the hand-written bucket are measured twice, first and last in the group, seconds
 * apart; the better window counts. On a shared machine a burst of load can cover one window of
 * about a second, rarely both.
 */
const SECOND = '(2nd window)';

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---- 1. decision cost ------------------------------------------------------------------------

interface Entry {
  readonly name: string;
  /** What the summary looks it up by: a contender's name, or a clock's. */
  readonly key: string;
}

const entries: Entry[] = [];

function register(
  name: string,
  key: string,
  fn: Parameters<typeof bench>[1],
  isBaseline = false,
): void {
  entries.push({ name, key });
  const b = bench(name, fn);
  if (isBaseline) b.baseline(true);
}

function registerDecision(name: string, contender: DecisionContender, isBaseline = false): void {
  const loop = contender.make!();
  register(
    name,
    contender.name,
    contender.async
      ? async () => do_not_optimize(await loop(CALLS))
      : () => do_not_optimize(loop(CALLS)),
    isBaseline,
  );
}

/**
 * Context, not contenders: the clock reads alone, in the same loop shape. sluice, the
 * hand-written bucket and limiter read `performance.now()` once per decision;
 * rate-limiter-flexible reads `Date.now()`. What a decision costs beyond its clock is its own.
 */
const CLOCKS = {
  'performance.now()': () => {
    let sum = 0;
    for (let i = 0; i < CALLS; i++) sum += performance.now();
    return sum;
  },
  'Date.now()': () => {
    let sum = 0;
    for (let i = 0; i < CALLS; i++) sum += Date.now();
    return sum;
  },
} as const;

group(`one decision with ample tokens (rate = burst = ${AMPLE}) · ${CALLS} calls`, () => {
  summary(() => {
    for (const c of decisionContenders) {
      if (c.make !== undefined) registerDecision(c.name, c, c === sluiceDecision);
    }
    for (const [clock, read] of Object.entries(CLOCKS)) {
      register(`${clock} alone (context)`, clock, () => do_not_optimize(read()));
    }
    for (const c of [lazyDecision, sluiceDecision]) registerDecision(`${c.name} ${SECOND}`, c);
  });
});

async function verifyDecisions(filter: RegExp | undefined): Promise<void> {
  for (const c of decisionContenders) {
    if (c.make === undefined || (filter !== undefined && !filter.test(c.name))) continue;
    const granted = await c.make()(CALLS);
    if (granted !== CALLS) throw new Error(`${c.name}: ${granted} of ${CALLS} calls granted`);
  }
}

// ---- 2. achieved vs configured rate ----------------------------------------------------------

interface PaceOutcome {
  readonly contender: PacedContender;
  readonly rate: number;
  /** Why the run failed (threw, or did not finish), or undefined. */
  readonly failed?: string;
  /** Grants released by the end of the window. */
  readonly grantedInRun: number;
  /** burst + rate·T. */
  readonly possible: number;
  /** Time from the window's start to the last grant released within it. */
  readonly lastMs: number;
  /** The time the whole process was paused for longer than the queue of waiting callers. */
  readonly pausedMs: number;
  /** The most, over every grant, by which grants so far passed burst + rate·(now − made). */
  readonly worstExcess: number;
}

/**
 * One library at one rate: 50 callers loop on `take()` until the window ends; returns what was
 * granted. Demand exceeds supply from `start` (every caller has called once) and only while the
 * event loop runs: a pause of the whole process longer than the queue ((50 − burst)/rate) idles
 * any limiter, and the tokens it would have accrued past the burst are rightly lost. A 1 ms
 * interval measures such pauses, reported beside the ratio (a limiter's timers cannot delay it,
 * but a limiter that holds the event loop with its own work can: that shows as a pause too).
 */
async function runPaced(contender: PacedContender, rate: number): Promise<PaceOutcome> {
  const queueMs = ((CALLERS - BURST) * 1000) / rate;
  const made = performance.now();
  let stopAt = Number.POSITIVE_INFINITY;
  let granted = 0;
  let grantedInRun = 0;
  let lastInRun = made;
  let worstExcess = Number.NEGATIVE_INFINITY;
  const outcome = (start: number, pausedMs: number, failed?: string): PaceOutcome => ({
    contender,
    rate,
    grantedInRun,
    possible: BURST + (rate * RUN_MS) / 1000,
    lastMs: lastInRun - start,
    pausedMs,
    worstExcess,
    ...(failed === undefined ? {} : { failed }),
  });

  let paced: Paced;
  try {
    paced = contender.make(rate);
  } catch (error) {
    return outcome(made, 0, `failed: construction threw ${String(error)}`);
  }
  const caller = async (): Promise<void> => {
    while (performance.now() < stopAt) {
      await paced.take();
      granted++;
      const now = performance.now();
      if (now <= stopAt) {
        grantedInRun++;
        lastInRun = now;
      }
      const excess = granted - (BURST + (rate * (now - made)) / 1000);
      if (excess > worstExcess) worstExcess = excess;
    }
  };
  const callers = Array.from({ length: CALLERS }, caller); // each has called take() once
  const start = performance.now();
  stopAt = start + RUN_MS;

  let pausedMs = 0;
  let tick = start;
  const monitor = setInterval(() => {
    const now = performance.now();
    if (tick < stopAt) pausedMs += Math.max(0, Math.min(now, stopAt) - tick - queueMs);
    tick = now;
  }, 1);
  let timeBox: ReturnType<typeof setTimeout> | undefined;
  let failed: string | undefined;
  try {
    const finished = await Promise.race([
      Promise.all(callers).then(() => true),
      new Promise<false>((resolve) => {
        timeBox = setTimeout(() => resolve(false), RUN_MS + GRACE_MS);
      }),
    ]);
    if (!finished) failed = `failed: callers still waiting ${GRACE_MS / 1000} s after the window`;
  } catch (error) {
    failed = `failed: take() rejected with ${String(error)}`;
  } finally {
    clearInterval(monitor);
    clearTimeout(timeBox);
  }
  try {
    await paced.close();
  } catch {}
  return outcome(start, pausedMs, failed);
}

async function runRates(filter: RegExp | undefined): Promise<PaceOutcome[]> {
  const outcomes: PaceOutcome[] = [];
  for (const rate of RATES) {
    for (const contender of pacedContenders) {
      if (filter !== undefined && !filter.test(contender.name)) continue;
      gc();
      await sleep(SETTLE_MS);
      const o = await runPaced(contender, rate);
      outcomes.push(o);
      console.log(
        `  ${rate}/s ${contender.name}: ${o.failed ?? `${o.grantedInRun} of ${o.possible} (${pct(o.grantedInRun / o.possible)}), paused ${o.pausedMs.toFixed(0)} ms`}`,
      );
    }
  }
  return outcomes;
}

// ---- run, then the ratios -------------------------------------------------------------------

/** One decision benchmark's result: mitata's trimmed minimum (`fast`) and median, in ns. */
interface Measured {
  readonly name: string;
  readonly fast: number;
  readonly median: number;
}

function fmtRatio(r: number): string {
  return `${r.toFixed(2)}×`;
}

function pct(r: number): string {
  return `${(r * 100).toFixed(2)} %`;
}

async function main(): Promise<void> {
  const filterArg = process.argv[2];
  const filter = filterArg === undefined ? undefined : new RegExp(filterArg);
  const started = Date.now();
  const loadAtStart = loadavg()[0] ?? 0;
  process.stdout.write('checking every decision contender grants every call… ');
  await verifyDecisions(filter);
  console.log('ok\n');

  const result = await run(filter === undefined ? {} : { filter });
  const measured: Measured[] = [];
  let index = 0;
  for (const entry of entries) {
    if (filter !== undefined && !filter.test(entry.name)) continue;
    const trial = result.benchmarks[index++];
    const stats = trial?.runs[0]?.stats;
    if (trial === undefined || trial.alias !== entry.name || stats === undefined) {
      throw new Error(`result ${index - 1} is not ${entry.name}: ${trial?.alias}`);
    }
    measured.push({ name: entry.key, fast: stats.min, median: stats.p50 });
  }

  console.log(
    `\nachieved vs configured rate: burst ${BURST}, ${CALLERS} callers, ${RUN_MS / 1000} s per library and rate, real clock`,
  );
  const outcomes = await runRates(filter);

  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {}
  const context = `Whole run ${seconds} s on ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}, sluice at ${commit}; 1-min load average ${loadAtStart.toFixed(1)} at the start, ${(loadavg()[0] ?? 0).toFixed(1)} at the end.`;
  console.log(summarise(measured, outcomes, context));
}

/** The better of the windows in which `name` ran. */
function find(measured: Measured[], name: string): Measured | undefined {
  const windows = measured.filter((m) => m.name === name);
  if (windows.length === 0) return undefined;
  return {
    name,
    fast: Math.min(...windows.map((m) => m.fast)),
    median: Math.min(...windows.map((m) => m.median)),
  };
}

interface Target {
  readonly what: string;
  readonly value: string;
  readonly second: string;
  readonly verdict: string;
}

function verdict(value: number, threshold: number, higherIsBetter: boolean, unit: string): string {
  const met = higherIsBetter ? value >= threshold : value <= threshold;
  const margin =
    unit === '%'
      ? `${(Math.abs(value - threshold) * 100).toFixed(2)} points`
      : `${(Math.abs(value / threshold - 1) * 100).toFixed(0)}%`;
  return met ? `met (${margin} to spare)` : `**MISSED** by ${margin}`;
}

function summarise(measured: Measured[], outcomes: PaceOutcome[], context: string): string {
  const out: string[] = [];
  const targets: Target[] = [];
  out.push('', '## Rate limiters: ratios from this run', '', context);

  // 1. Decision cost.
  const sluice = find(measured, sluiceDecision.name);
  if (sluice !== undefined) {
    out.push(
      '',
      `### One decision with ample tokens (${CALLS} calls per iteration)`,
      '',
      "Each cell is the contender's cost per decision ÷ sluice `tryTake`'s, from the trimmed",
      'minimum (and the median) iteration time; > 1 means sluice decides faster. sluice and the',
      'hand-written bucket run in two windows (first and last); the better one counts.',
      '',
      "| contender | its cost ÷ sluice's (fast) | (median) |",
      '|---|---:|---:|',
    );
    for (const c of decisionContenders) {
      if (c === sluiceDecision) continue;
      const m = find(measured, c.name);
      const label = c === lazyDecision ? `${c.name} (baseline)` : c.name;
      if (m !== undefined) {
        out.push(
          `| ${label} | ${fmtRatio(m.fast / sluice.fast)} | ${fmtRatio(m.median / sluice.median)} |`,
        );
      } else if (c.unsupported !== undefined) {
        out.push(`| ${label} | n/a: ${c.unsupported} | |`);
      }
    }
    for (const clock of Object.keys(CLOCKS)) {
      const m = find(measured, clock);
      if (m === undefined) continue;
      out.push(
        `| *${clock} alone (context)* | ${fmtRatio(m.fast / sluice.fast)} | ${fmtRatio(m.median / sluice.median)} |`,
      );
    }
    out.push(
      `| *sluice ns per decision (drifts)* | ${(sluice.fast / CALLS).toFixed(1)} ns | ${(sluice.median / CALLS).toFixed(1)} ns |`,
    );
    const lazy = find(measured, lazyDecision.name);
    const clock = find(measured, 'performance.now()');
    if (lazy !== undefined && clock !== undefined) {
      const beyond = (m: Measured) => (m.fast - clock.fast) / CALLS;
      out.push(
        '',
        `Beyond the clock read (its cost subtracted; drifts, and the subtraction magnifies noise):`,
        `sluice ${beyond(sluice).toFixed(1)} ns, hand-written ${beyond(lazy).toFixed(1)} ns per decision;`,
        `the clock is ${((100 * clock.fast) / sluice.fast).toFixed(0)} % of sluice's decision and ${((100 * clock.fast) / lazy.fast).toFixed(0)} % of the hand-written one's.`,
      );
    }
    if (lazy !== undefined) {
      const fast = sluice.fast / lazy.fast;
      targets.push({
        what: 'decision cost: sluice `tryTake` ÷ hand-written bucket ≤ 2 (fast; median)',
        value: fmtRatio(fast),
        second: fmtRatio(sluice.median / lazy.median),
        verdict: verdict(fast, 2, false, '×'),
      });
    }
  }

  // 2. Achieved rate.
  if (outcomes.length > 0) {
    out.push(
      '',
      `### Achieved ÷ configured rate (burst ${BURST}, ${CALLERS} callers, ${RUN_MS / 1000} s each, real clock)`,
      '',
      `Grants released by the end of the ${RUN_MS / 1000} s window ÷ (burst + rate·${RUN_MS / 1000} s).`,
      '',
      `| contender | ${RATES.map((r) => `${r}/s`).join(' | ')} |`,
      `|---|${RATES.map(() => '---:').join('|')}|`,
    );
    for (const contender of pacedContenders) {
      const cells = RATES.map((rate) => {
        const o = outcomes.find((x) => x.contender === contender && x.rate === rate);
        if (o === undefined) return '–';
        return o.failed ?? pct(o.grantedInRun / o.possible);
      });
      if (cells.every((c) => c === '–')) continue;
      out.push(`| ${contender.name} | ${cells.join(' | ')} |`);
    }
    out.push(
      '',
      'Detail: *to last grant* counts the same grants against burst + rate·(time of the last grant',
      'in the window), so it leaves out the window edge (the lateness of the last timer); *gap* is',
      'the time from that grant to the end of the window; *paused* is the time the whole process',
      'stood still longer than the queue of waiting callers (tokens lost to any limiter); *max',
      'excess* is the most by which the grants so far passed burst + rate·(time since the limiter',
      'was made), at any grant (> 0: faster than configured).',
      '',
      '| rate | contender | achieved | to last grant | gap | paused | max excess | configured as |',
      '|---:|---|---:|---:|---:|---:|---:|---|',
    );
    for (const o of outcomes) {
      const config = o.contender.config(o.rate);
      if (o.failed !== undefined) {
        out.push(`| ${o.rate}/s | ${o.contender.name} | ${o.failed} | | | | | ${config} |`);
        continue;
      }
      const toLast = o.grantedInRun / (BURST + (o.rate * o.lastMs) / 1000);
      out.push(
        `| ${o.rate}/s | ${o.contender.name} | ${pct(o.grantedInRun / o.possible)} | ${pct(toLast)} | ${(RUN_MS - o.lastMs).toFixed(1)} ms | ${o.pausedMs.toFixed(1)} ms | ${o.worstExcess.toFixed(2)} | ${config} |`,
      );
    }
    for (const o of outcomes) {
      if (o.contender !== pacedContenders[0]) continue;
      if (o.failed !== undefined) {
        targets.push({
          what: `${o.rate}/s: sluice achieved ÷ configured ≥ 99.5 %`,
          value: o.failed,
          second: '',
          verdict: '**MISSED**',
        });
        continue;
      }
      const achieved = o.grantedInRun / o.possible;
      const toLast = o.grantedInRun / (BURST + (o.rate * o.lastMs) / 1000);
      targets.push({
        what: `${o.rate}/s: sluice achieved ÷ configured ≥ 99.5 % (window; to last grant)`,
        value: pct(achieved),
        second: pct(toLast),
        verdict: verdict(achieved, 0.995, true, '%'),
      });
      targets.push({
        what: `${o.rate}/s: sluice never above burst + rate·t (max excess ≤ 0)`,
        value: o.worstExcess.toFixed(3),
        second: '',
        verdict: o.worstExcess <= 1e-6 ? 'met' : `**MISSED** by ${o.worstExcess.toFixed(3)} grants`,
      });
    }
  }

  if (targets.length > 0) {
    out.push('', '### Targets', '');
    out.push('| target | this run | second measure | verdict |', '|---|---:|---:|---|');
    for (const t of targets) out.push(`| ${t.what} | ${t.value} | ${t.second} | ${t.verdict} |`);
  }
  return out.join('\n');
}

await main();
