/**
 * Channel benchmarks: sluice's `Channel` against the hand-written baselines (bench/baselines/)
 * and its peers, all in ONE mitata run, followed by a summary of RATIOS taken from that run
 * (absolute timings drift on a shared machine; ratios between neighbours in one run do not).
 *
 * Measures, each as throughput of a fixed number of messages per iteration:
 * 1. `await send` + `for await`, 1 producer/1 consumer and 4/4, capacity 0, 1, 16, 1024;
 * 2. `trySend`/`tryReceive` loops (no awaits) for contenders with a synchronous API;
 * 3. `trySend` on a full drop-oldest / drop-newest channel against a plain successful `trySend`;
 * 4. creating a channel of capacity 1,000,000 against capacity 16 (time, and retained heap).
 *
 * Run: `npm run bench` at the repository root (builds `dist/`, installs these deps, runs this).
 * Filter: `npm run bench -- <regexp>` runs only the benchmarks whose name (the contender, e.g.
 * `sluice|minimal`) matches; the summary then covers what ran.
 */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { bench, do_not_optimize, group, run, summary } from 'mitata';
import { Chan } from 'ts-chan';
import { Channel } from '../dist/index.js';
import {
  type Contender,
  contenders,
  expectedSum,
  itPushable,
  minimal,
  rawRing,
  sluice,
  tsChan,
} from './channel.peers.js';

/** Messages per iteration of an async (`await send` + `for await`) benchmark. */
const MESSAGES = 10_000;
/** Messages per iteration of a `trySend`/`tryReceive` loop. */
const SYNC_MESSAGES = 100_000;
/** `trySend` calls per iteration of the drop-policy benchmarks. */
const DROP_OPS = 8_000;
const CAPACITIES = [0, 1, 16, 1024] as const;
const TOPOLOGIES = [
  [1, 1],
  [4, 4],
] as const;
const BIG = 1_000_000;
/**
 * sluice and the baselines its targets compare against are measured twice in each group, first
 * and last, seconds apart; the better window counts. On a shared machine a burst of load can
 * cover one window of about a second, rarely both.
 */
const SECOND = '(2nd window)';

const gc: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    throw new Error('run with --expose-gc (npm run bench does)');
  });

// ---- registry: every benchmark registered, with what it measures -----------------------------

type Scenario =
  | { kind: 'pipe'; producers: number; consumers: number; capacity: number }
  | { kind: 'sync'; capacity: number }
  | { kind: 'drop'; variant: string }
  | { kind: 'create'; variant: string };

interface Entry {
  readonly name: string;
  readonly contender: string;
  readonly scenario: Scenario;
  /** Operations (messages or calls) per iteration, to turn time into a rate. */
  readonly ops: number;
}

const entries: Entry[] = [];
/** Scenarios a contender cannot express: key → reason. */
const unsupported = new Map<string, string>();

function key(contender: string, scenario: Scenario): string {
  return `${contender}|${JSON.stringify(scenario)}`;
}

/** Registers a mitata benchmark and records what it measures (mitata keeps only the name). */
function register(
  name: string,
  contender: string,
  scenario: Scenario,
  ops: number,
  fn: Parameters<typeof bench>[1],
  isBaseline = false,
): void {
  entries.push({ name, contender, scenario, ops });
  const b = bench(name, fn);
  if (isBaseline) b.baseline(true);
}

// ---- correctness check before measuring ------------------------------------------------------

async function verify(): Promise<void> {
  for (const c of contenders) {
    for (const [producers, consumers] of TOPOLOGIES) {
      for (const capacity of CAPACITIES) {
        if (c.pipeSupport(capacity, producers, consumers) !== undefined) continue;
        const sum = await c.pipe(capacity, producers, consumers, MESSAGES);
        const want = expectedSum(producers, MESSAGES);
        if (sum !== want) {
          throw new Error(`${c.name} ${producers}/${consumers} c${capacity}: ${sum} ≠ ${want}`);
        }
      }
    }
    for (const capacity of CAPACITIES) {
      if (c.syncSupport(capacity) !== undefined) continue;
      const sum = await c.sync(capacity, SYNC_MESSAGES);
      if (sum !== expectedSum(1, SYNC_MESSAGES)) {
        throw new Error(`${c.name} sync c${capacity}: ${sum} ≠ ${expectedSum(1, SYNC_MESSAGES)}`);
      }
    }
  }
}

// ---- 1. await send + for await ---------------------------------------------------------------

for (const [producers, consumers] of TOPOLOGIES) {
  for (const capacity of CAPACITIES) {
    const scenario: Scenario = { kind: 'pipe', producers, consumers, capacity };
    group(
      `await send + for await · ${producers}P/${consumers}C · capacity ${capacity} · ${MESSAGES} msgs`,
      () => {
        summary(() => {
          for (const c of contenders) {
            const why = c.pipeSupport(capacity, producers, consumers);
            if (why !== undefined) {
              unsupported.set(key(c.name, scenario), why);
              continue;
            }
            register(
              c.name,
              c.name,
              scenario,
              MESSAGES,
              () => c.pipe(capacity, producers, consumers, MESSAGES),
              c === sluice,
            );
          }
          for (const c of [minimal, sluice]) {
            register(`${c.name} ${SECOND}`, c.name, scenario, MESSAGES, () =>
              c.pipe(capacity, producers, consumers, MESSAGES),
            );
          }
        });
      },
    );
  }
}

// ---- 2. trySend / tryReceive loops -----------------------------------------------------------

for (const capacity of CAPACITIES) {
  const scenario: Scenario = { kind: 'sync', capacity };
  const title =
    capacity === 0
      ? `trySend into a parked receive() · capacity 0 · ${SYNC_MESSAGES} msgs`
      : `trySend ×capacity then tryReceive ×capacity · capacity ${capacity} · ${SYNC_MESSAGES} msgs`;
  group(title, () => {
    summary(() => {
      for (const c of contenders) {
        const why = c.syncSupport(capacity);
        if (why !== undefined) {
          unsupported.set(key(c.name, scenario), why);
          continue;
        }
        register(
          c.name,
          c.name,
          scenario,
          SYNC_MESSAGES,
          () => c.sync(capacity, SYNC_MESSAGES),
          c === sluice,
        );
      }
      for (const c of [rawRing, minimal, sluice]) {
        if (c.syncSupport(capacity) !== undefined) continue;
        register(`${c.name} ${SECOND}`, c.name, scenario, SYNC_MESSAGES, () =>
          c.sync(capacity, SYNC_MESSAGES),
        );
      }
    });
  });
}

// ---- 3. drop policies on a full channel vs a plain trySend -----------------------------------

/**
 * How the caller uses each result: `read` checks `ok` like a typical caller (the JIT may then
 * avoid allocating results that do not escape); `kept` hands every result to mitata's
 * `do_not_optimize`, so each result object escapes and must be allocated (a pessimistic bound).
 */
const CALLERS = {
  read(ch: Channel<number>): void {
    let ok = 0;
    for (let i = 0; i < DROP_OPS; i++) if (ch.trySend(i).ok) ok++;
    do_not_optimize(ok);
  },
  kept(ch: Channel<number>): void {
    for (let i = 0; i < DROP_OPS; i++) do_not_optimize(ch.trySend(i));
  },
} as const;

group(
  `sluice trySend: drop policies on a full channel vs a plain trySend · ${DROP_OPS} calls`,
  () => {
    summary(() => {
      for (const [caller, suffix] of [
        ['read', ''],
        ['kept', ''],
        ['read', ` ${SECOND}`],
      ] as const) {
        const call = CALLERS[caller];
        // A plain successful trySend in steady state: the setup (not timed) pre-fills a channel
        // so that its ring buffer has already grown to 16384 slots and the timed calls never
        // resize.
        register(
          `plain trySend (room) · result ${caller}${suffix}`,
          sluice.name,
          { kind: 'drop', variant: `plain/${caller}` },
          DROP_OPS,
          function* () {
            yield {
              0() {
                const ch = new Channel<number>({ capacity: 16_384 });
                for (let i = 0; i <= 8192; i++) ch.trySend(i);
                return ch;
              },
              bench(ch: Channel<number>) {
                call(ch);
              },
            };
          },
          caller === 'read' && suffix === '',
        );
        for (const overflow of ['drop-oldest', 'drop-newest', 'block'] as const) {
          const ch = new Channel<number>(
            overflow === 'block' ? { capacity: 1024 } : { capacity: 1024, overflow },
          );
          for (let i = 0; i < 1024; i++) ch.trySend(i);
          register(
            `${overflow} trySend (full) · result ${caller}${suffix}`,
            sluice.name,
            { kind: 'drop', variant: `${overflow}/${caller}` },
            DROP_OPS,
            () => call(ch),
          );
        }
      }
    });
  },
);

// ---- 4. creating a channel of capacity 1,000,000 ---------------------------------------------

group('creating a channel', () => {
  summary(() => {
    register(
      'new Channel({ capacity: 16 })',
      sluice.name,
      { kind: 'create', variant: '16' },
      1,
      () => new Channel<number>({ capacity: 16 }),
      true,
    );
    register(
      'new Channel({ capacity: 1e6 })',
      sluice.name,
      { kind: 'create', variant: '1e6' },
      1,
      () => new Channel<number>({ capacity: BIG }),
    );
    register(
      'ts-chan new Chan(1e6) (context)',
      tsChan.name,
      { kind: 'create', variant: 'ts-chan-1e6' },
      1,
      () => new Chan<number>(BIG),
    );
  });
});

/** Retained heap per channel (bytes), measured by holding `count` of them across a full GC. */
function heapPerChannel(count: number, make: () => unknown): number {
  const held: unknown[] = new Array(count);
  gc();
  gc();
  const before = getHeapStatistics().used_heap_size;
  for (let i = 0; i < count; i++) held[i] = make();
  gc();
  gc();
  const after = getHeapStatistics().used_heap_size;
  do_not_optimize(held);
  return (after - before) / count;
}

// ---- run, then the ratios -------------------------------------------------------------------

/**
 * One benchmark's result. Ratios use `fast`, mitata's minimum after it trims the two fastest and
 * two slowest samples: on a shared, overloaded machine it is the sample least inflated by other
 * processes (every sample still includes its own GC work: each allocates MBs). `median` is shown
 * beside it for the targets, so a reader can see when the two disagree.
 */
interface Measured {
  readonly entry: Entry;
  readonly fast: number;
  readonly median: number;
}

type Stat = 'fast' | 'median';

function fmtRatio(r: number): string {
  return `${r.toFixed(2)}×`;
}

function fmtRate(opsPerSecond: number): string {
  if (opsPerSecond >= 1e6) return `${(opsPerSecond / 1e6).toFixed(1)} M/s`;
  return `${(opsPerSecond / 1e3).toFixed(0)} k/s`;
}

function sameScenario(a: Scenario, b: Scenario): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

async function main(): Promise<void> {
  const filterArg = process.argv[2];
  const filter = filterArg === undefined ? undefined : new RegExp(filterArg);
  const started = Date.now();
  const loadAtStart = loadavg()[0] ?? 0;
  process.stdout.write('checking every contender delivers every message… ');
  await verify();
  console.log('ok\n');

  const heap = {
    sluice16: heapPerChannel(20_000, () => new Channel<number>({ capacity: 16 })),
    sluiceBig: heapPerChannel(20_000, () => new Channel<number>({ capacity: BIG })),
    tsChanBig: heapPerChannel(4, () => new Chan<number>(BIG)),
  };

  const result = await run(filter === undefined ? {} : { filter });
  const trials = result.benchmarks;
  const measured: Measured[] = [];
  let index = 0;
  for (const entry of entries) {
    if (filter !== undefined && !filter.test(entry.name)) continue;
    const trial = trials[index++];
    const stats = trial?.runs[0]?.stats;
    if (trial === undefined || trial.alias !== entry.name || stats === undefined) {
      throw new Error(`result ${index - 1} is not ${entry.name}: ${trial?.alias}`);
    }
    measured.push({ entry, fast: stats.min, median: stats.p50 });
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {}
  const context = `Whole run ${seconds} s on ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}, sluice at ${commit}; 1-min load average ${loadAtStart.toFixed(1)} at the start, ${(loadavg()[0] ?? 0).toFixed(1)} at the end.`;
  console.log(summarise(measured, heap, context));
}

/** The best of the windows in which `contender` ran `scenario`. */
function find(measured: Measured[], contender: Contender, scenario: Scenario) {
  return best(
    measured.filter(
      (m) => m.entry.contender === contender.name && sameScenario(m.entry.scenario, scenario),
    ),
  );
}

function best(windows: Measured[]): Measured | undefined {
  const first = windows[0];
  if (first === undefined) return undefined;
  return {
    entry: first.entry,
    fast: Math.min(...windows.map((m) => m.fast)),
    median: Math.min(...windows.map((m) => m.median)),
  };
}

function findVariant(measured: Measured[], kind: 'drop' | 'create', variant: string) {
  return best(
    measured.filter((m) => m.entry.scenario.kind === kind && m.entry.scenario.variant === variant),
  );
}

/** The fastest of `among` in `scenario` (by `stat`), or undefined if none ran. */
function fastest(
  measured: Measured[],
  among: readonly Contender[],
  scenario: Scenario,
  stat: Stat,
) {
  let best: Measured | undefined;
  for (const c of among) {
    const m = find(measured, c, scenario);
    if (m !== undefined && (best === undefined || m[stat] < best[stat])) best = m;
  }
  return best;
}

/** Peers only: not sluice, not the baselines. */
const peers = contenders.filter((c) => c !== sluice && c !== minimal && c !== rawRing);
/** Peers that bound their buffer (it-pushable is an unbounded reference). */
const boundedPeers = peers.filter((c) => c !== itPushable);

interface Target {
  readonly what: string;
  /** Ratio by each statistic; `higherIsBetter` tells which way the threshold goes. */
  readonly fast: number;
  readonly median: number;
  readonly threshold: number;
  readonly higherIsBetter: boolean;
}

function summarise(
  measured: Measured[],
  heap: { sluice16: number; sluiceBig: number; tsChanBig: number },
  context: string,
): string {
  const out: string[] = [];
  const targets: Target[] = [];
  const cell = (contender: Contender, scenario: Scenario, supported: string | undefined) => {
    const s = find(measured, sluice, scenario);
    const o = find(measured, contender, scenario);
    if (s !== undefined && o !== undefined) return fmtRatio(o.fast / s.fast);
    return supported === undefined ? '–' : `n/a: ${supported}`;
  };

  out.push(
    '',
    '## Ratios from this run',
    '',
    context,
    '',
    "Each cell is sluice's throughput ÷ the contender's, from the trimmed minimum iteration time",
    'of each benchmark; > 1 means sluice moved the messages faster. sluice, the minimal channel',
    'and the raw ring buffer run in two windows per group (first and last); the better one counts.',
  );

  // 1. await send + for await.
  const pipeCols = TOPOLOGIES.flatMap(([p, c]) => CAPACITIES.map((cap) => ({ p, c, cap })));
  const pipeScenario = (x: { p: number; c: number; cap: number }): Scenario => ({
    kind: 'pipe',
    producers: x.p,
    consumers: x.c,
    capacity: x.cap,
  });
  out.push('', `### \`await send\` + \`for await\` (${MESSAGES} messages per iteration)`, '');
  out.push(`| sluice ÷ | ${pipeCols.map((x) => `${x.p}/${x.c} c${x.cap}`).join(' | ')} |`);
  out.push(`|---|${pipeCols.map(() => '---:').join('|')}|`);
  for (const contender of contenders) {
    if (contender === rawRing || contender === sluice) continue;
    const cells = pipeCols.map((x) =>
      cell(contender, pipeScenario(x), unsupported.get(key(contender.name, pipeScenario(x)))),
    );
    out.push(`| ${contender.name} | ${cells.join(' | ')} |`);
  }
  const bestPipe = pipeCols.map((x) => {
    const s = find(measured, sluice, pipeScenario(x));
    const f = fastest(measured, boundedPeers, pipeScenario(x), 'fast');
    return s === undefined || f === undefined ? '–' : `**${fmtRatio(f.fast / s.fast)}**`;
  });
  out.push(`| **fastest bounded peer** | ${bestPipe.join(' | ')} |`);
  const rates = pipeCols.map((x) => {
    const s = find(measured, sluice, pipeScenario(x));
    return s === undefined ? '–' : fmtRate((s.entry.ops / s.fast) * 1e9);
  });
  out.push(`| *sluice msgs/s (drifts)* | ${rates.join(' | ')} |`);
  for (const x of pipeCols) {
    const s = find(measured, sluice, pipeScenario(x));
    const m = find(measured, minimal, pipeScenario(x));
    if (s === undefined || m === undefined) continue;
    targets.push({
      what: `await send + for await ${x.p}/${x.c} c${x.cap}: sluice ÷ minimal channel ≥ 0.9`,
      fast: m.fast / s.fast,
      median: m.median / s.median,
      threshold: 0.9,
      higherIsBetter: true,
    });
  }

  // 2. trySend / tryReceive.
  const syncScenario = (capacity: number): Scenario => ({ kind: 'sync', capacity });
  out.push(
    '',
    `### \`trySend\`/\`tryReceive\` loops (${SYNC_MESSAGES} messages per iteration)`,
    '',
  );
  out.push(`| sluice ÷ | ${CAPACITIES.map((cap) => `c${cap}`).join(' | ')} |`);
  out.push(`|---|${CAPACITIES.map(() => '---:').join('|')}|`);
  for (const contender of contenders) {
    if (contender === sluice) continue;
    const cells = CAPACITIES.map((cap) =>
      cell(contender, syncScenario(cap), unsupported.get(key(contender.name, syncScenario(cap)))),
    );
    out.push(`| ${contender.name} | ${cells.join(' | ')} |`);
  }
  const bestSync = CAPACITIES.map((cap) => {
    const s = find(measured, sluice, syncScenario(cap));
    const f = fastest(measured, peers, syncScenario(cap), 'fast');
    return s === undefined || f === undefined ? '–' : `**${fmtRatio(f.fast / s.fast)}**`;
  });
  out.push(`| **fastest peer** | ${bestSync.join(' | ')} |`);
  const syncRates = CAPACITIES.map((cap) => {
    const s = find(measured, sluice, syncScenario(cap));
    return s === undefined ? '–' : fmtRate((s.entry.ops / s.fast) * 1e9);
  });
  out.push(`| *sluice msgs/s (drifts)* | ${syncRates.join(' | ')} |`);
  for (const cap of CAPACITIES) {
    const s = find(measured, sluice, syncScenario(cap));
    if (s === undefined) continue;
    const raw = find(measured, rawRing, syncScenario(cap));
    if (cap === 1024 && raw !== undefined) {
      targets.push({
        what: 'trySend/tryReceive c1024: sluice ÷ raw ring buffer ≥ 0.5',
        fast: raw.fast / s.fast,
        median: raw.median / s.median,
        threshold: 0.5,
        higherIsBetter: true,
      });
    }
    const f = fastest(measured, peers, syncScenario(cap), 'fast');
    const fm = fastest(measured, peers, syncScenario(cap), 'median');
    if (f !== undefined && fm !== undefined) {
      const want = cap >= 16 ? 2 : 1.5;
      targets.push({
        what: `trySend/tryReceive c${cap}: sluice ÷ fastest peer (${f.entry.contender}) ≥ ${want}`,
        fast: f.fast / s.fast,
        median: fm.median / s.median,
        threshold: want,
        higherIsBetter: true,
      });
    }
  }

  // 3. Drop policies.
  const plainRead = findVariant(measured, 'drop', 'plain/read');
  const plainKept = findVariant(measured, 'drop', 'plain/kept');
  if (plainRead !== undefined && plainKept !== undefined) {
    out.push('', `### Drop policies: one \`trySend\` ÷ a plain successful \`trySend\``, '');
    out.push('| call | result read by the caller | result kept (escapes) |', '|---|---:|---:|');
    for (const [variant, label] of [
      ['drop-oldest', 'drop-oldest, full channel: evicts the oldest'],
      ['drop-newest', 'drop-newest, full channel: drops the item'],
      ['block', "block, full channel: returns 'full' (context)"],
    ] as const) {
      const read = findVariant(measured, 'drop', `${variant}/read`);
      const kept = findVariant(measured, 'drop', `${variant}/kept`);
      if (read === undefined || kept === undefined) continue;
      out.push(
        `| ${label} | ${fmtRatio(read.fast / plainRead.fast)} | ${fmtRatio(kept.fast / plainKept.fast)} |`,
      );
      if (variant !== 'block') {
        targets.push({
          what: `${variant} trySend on a full channel ≤ 2× a plain trySend (result read)`,
          fast: read.fast / plainRead.fast,
          median: read.median / plainRead.median,
          threshold: 2,
          higherIsBetter: false,
        });
      }
    }
    out.push(
      `| *plain trySend, ns per call (drifts)* | ${(plainRead.fast / plainRead.entry.ops).toFixed(1)} ns | ${(plainKept.fast / plainKept.entry.ops).toFixed(1)} ns |`,
    );
  }

  // 4. Creation.
  out.push('', '### Creating a channel of capacity 1,000,000 vs capacity 16', '');
  out.push('| measure | capacity 16 | capacity 1e6 | 1e6 ÷ 16 |', '|---|---:|---:|---:|');
  const c16 = findVariant(measured, 'create', '16');
  const cBig = findVariant(measured, 'create', '1e6');
  const tsBig = findVariant(measured, 'create', 'ts-chan-1e6');
  const heapRatio = heap.sluiceBig / heap.sluice16;
  out.push(
    `| sluice retained heap per channel | ${heap.sluice16.toFixed(0)} B | ${heap.sluiceBig.toFixed(0)} B | ${fmtRatio(heapRatio)} |`,
  );
  if (c16 !== undefined && cBig !== undefined) {
    out.push(
      `| sluice construction time (drifts) | ${c16.fast.toFixed(0)} ns | ${cBig.fast.toFixed(0)} ns | ${fmtRatio(cBig.fast / c16.fast)} |`,
    );
  }
  out.push(
    `| *ts-chan \`new Chan(1e6)\` (context: preallocates)* | | ${(heap.tsChanBig / 2 ** 20).toFixed(1)} MB${tsBig === undefined ? '' : `, ${(tsBig.fast / 1e6).toFixed(1)} ms`} | |`,
  );
  targets.push({
    what: 'capacity 1e6 creation allocates nothing up front: retained heap 1e6 ÷ 16 ≤ 1.1',
    fast: heapRatio,
    median: heapRatio,
    threshold: 1.1,
    higherIsBetter: false,
  });
  if (c16 !== undefined && cBig !== undefined) {
    targets.push({
      what: 'capacity 1e6 creation time ÷ capacity 16 ≤ 1.5 (no work proportional to capacity)',
      fast: cBig.fast / c16.fast,
      median: cBig.median / c16.median,
      threshold: 1.5,
      higherIsBetter: false,
    });
  }

  out.push('', '### Targets', '');
  out.push('| target | ratio (fast) | ratio (median) | verdict |', '|---|---:|---:|---|');
  for (const t of targets) {
    const met = t.higherIsBetter ? t.fast >= t.threshold : t.fast <= t.threshold;
    const metMedian = t.higherIsBetter ? t.median >= t.threshold : t.median <= t.threshold;
    const margin = Math.abs(t.fast / t.threshold - 1) * 100;
    const verdict = met
      ? `met (${margin.toFixed(0)}% to spare)`
      : `**MISSED** by ${margin.toFixed(0)}%`;
    const note = met === metMedian ? '' : ' (median disagrees)';
    out.push(`| ${t.what} | ${fmtRatio(t.fast)} | ${fmtRatio(t.median)} | ${verdict}${note} |`);
  }
  return out.join('\n');
}

await main();
