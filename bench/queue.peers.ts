/**
 * Contenders of queue.bench.ts's priority-queue, worker-pool and pipeline sections, each driven
 * through its own idiomatic API. Every contender returns a checksum (the sum of what it handled)
 * and, for priority queues, can record the order it served items in, so the bench checks both
 * before it measures anything.
 */
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline as streamPipeline } from 'node:stream/promises';
import { priorityQueue as asyncPriorityQueue, queue as asyncQueue } from 'async';
import { promise as fastqPromise } from 'fastq';
import pLimit from 'p-limit';
import PQueue from 'p-queue';
import { Channel, consume } from '../dist/index.js';

// ---- 1. priority queue -----------------------------------------------------------------------

/** One prioritized item: `id` is its position in the sending order. Higher `priority` first. */
export interface Job {
  readonly id: number;
  readonly priority: number;
}

/** Distinct priority levels: integers 0 … LEVELS − 1, so there are many ties (FIFO among them). */
export const LEVELS = 100;

/** mulberry32: a seeded generator, so every run and every contender sees the same jobs. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function makeJobs(n: number, seed = 0x5eed): Job[] {
  const random = seeded(seed);
  return Array.from({ length: n }, (_, id) => ({ id, priority: Math.floor(random() * LEVELS) }));
}

/** The order every contender must serve `jobs` in: highest priority first, FIFO among equals. */
export function expectedOrder(jobs: readonly Job[]): number[] {
  return [...jobs].sort((a, b) => b.priority - a.priority || a.id - b.id).map((j) => j.id);
}

/**
 * A priority-queue contender: enqueue every job, then serve them all, highest priority first.
 * Returns the sum of the ids served; pushes each id to `order` if given (verification only).
 */
export type PriorityContender = (jobs: readonly Job[], order?: number[]) => Promise<number>;

/** Large enough to hold every job, so no send waits or fails. */
export const PRIORITY_CAPACITY = 16_384;
const byPriority = (job: Job) => job.priority;

/** sluice: `trySend` every job into a priority channel, then `tryReceive` until it is empty. */
export const sluicePriorityTry: PriorityContender = async (jobs, order) => {
  const ch = new Channel<Job>({ capacity: PRIORITY_CAPACITY, priority: byPriority });
  for (const job of jobs) {
    if (!ch.trySend(job).ok) throw new Error('sluice priority: trySend refused');
  }
  let sum = 0;
  for (;;) {
    const r = ch.tryReceive();
    if (!r.ok) break;
    sum += r.value.id;
    order?.push(r.value.id);
  }
  return sum;
};

/** sluice: `trySend` every job, then `await receiveMany(64)` until every job is served. */
export const sluicePriorityMany: PriorityContender = async (jobs, order) => {
  const ch = new Channel<Job>({ capacity: PRIORITY_CAPACITY, priority: byPriority });
  for (const job of jobs) {
    if (!ch.trySend(job).ok) throw new Error('sluice priority: trySend refused');
  }
  let sum = 0;
  for (let served = 0; served < jobs.length; ) {
    const batch = await ch.receiveMany(64);
    served += batch.length;
    for (const job of batch) {
      sum += job.id;
      order?.push(job.id);
    }
  }
  return sum;
};

/**
 * p-queue: concurrency 1, `autoStart: false`, `add(task, { priority })` for every job, then
 * `start()` and `await onIdle()`. Each task only records its job. (With `autoStart` the first
 * task added would start at once, ahead of higher priorities added after it.)
 */
export const pQueuePriority: PriorityContender = async (jobs, order) => {
  const queue = new PQueue({ concurrency: 1, autoStart: false });
  let sum = 0;
  for (const job of jobs) {
    void queue.add(
      () => {
        sum += job.id;
        order?.push(job.id);
      },
      { priority: job.priority },
    );
  }
  queue.start();
  await queue.onIdle();
  return sum;
};

/**
 * async `priorityQueue(worker, 1)`: `push(job, priority)` for every job (async serves the
 * LOWEST number first, so it is given −priority), then `await drain()`. The worker records the
 * job and calls back synchronously. Processing starts on the next `setImmediate`.
 */
export const asyncPriority: PriorityContender = async (jobs, order) => {
  let sum = 0;
  const queue = asyncPriorityQueue<Job>((job, callback) => {
    sum += job.id;
    order?.push(job.id);
    callback();
  }, 1);
  for (const job of jobs) queue.push(job, -job.priority);
  await queue.drain();
  return sum;
};

// ---- 2. worker pool --------------------------------------------------------------------------

export const POOL_CONCURRENCY = 8;
/** sluice's channel capacity, and the queue size p-queue's producer waits below. */
export const POOL_BOUND = 64;

/**
 * A worker-pool contender: run `handler` over 0 … n−1, at most 8 at once, and return when all
 * are done. The handler is `async (i) => { sum += i }`: one resolved promise per item.
 */
export type PoolContender = (n: number) => Promise<number>;

/** sluice: `consume(channel, handler, { concurrency: 8 })`; the producer `await`s each `send`. */
export const sluicePool: PoolContender = async (n) => {
  let sum = 0;
  const ch = new Channel<number>({ capacity: POOL_BOUND });
  const pool = consume(
    ch,
    async (i: number) => {
      sum += i;
    },
    { concurrency: POOL_CONCURRENCY },
  );
  for (let i = 0; i < n; i++) await ch.send(i);
  ch.close();
  await pool.done;
  return sum;
};

/** p-queue, concurrency 8; the producer `await`s `onSizeLessThan(64)` when 64 are queued. */
export const pQueuePoolBounded: PoolContender = async (n) => {
  let sum = 0;
  const queue = new PQueue({ concurrency: POOL_CONCURRENCY });
  for (let i = 0; i < n; i++) {
    if (queue.size >= POOL_BOUND) await queue.onSizeLessThan(POOL_BOUND);
    void queue.add(async () => {
      sum += i;
    });
  }
  await queue.onIdle();
  return sum;
};

/** p-queue, concurrency 8, every task added at once (no backpressure), then `onIdle()`. */
export const pQueuePoolPlain: PoolContender = async (n) => {
  let sum = 0;
  const queue = new PQueue({ concurrency: POOL_CONCURRENCY });
  for (let i = 0; i < n; i++) {
    void queue.add(async () => {
      sum += i;
    });
  }
  await queue.onIdle();
  return sum;
};

/** p-limit(8): `limit(handler, i)` for every item at once, then `Promise.all` (no bound). */
export const pLimitPool: PoolContender = async (n) => {
  let sum = 0;
  const limit = pLimit(POOL_CONCURRENCY);
  const handler = async (i: number) => {
    sum += i;
  };
  const all = new Array<Promise<void>>(n);
  for (let i = 0; i < n; i++) all[i] = limit(handler, i);
  await Promise.all(all);
  return sum;
};

/** fastq.promise(worker, 8): `push(i)` for every item at once, then `await drained()`. */
export const fastqPool: PoolContender = async (n) => {
  let sum = 0;
  const queue = fastqPromise(async (i: number) => {
    sum += i;
  }, POOL_CONCURRENCY);
  for (let i = 0; i < n; i++) void queue.push(i);
  await queue.drained();
  return sum;
};

/** async `queue(asyncWorker, 8)`: `push(i)` for every item at once, then `await drain()`. */
export const asyncQueuePool: PoolContender = async (n) => {
  let sum = 0;
  const queue = asyncQueue<number>(async (i: number) => {
    sum += i;
  }, POOL_CONCURRENCY);
  for (let i = 0; i < n; i++) void queue.push(i);
  await queue.drain();
  return sum;
};

// ---- 3. pipeline -----------------------------------------------------------------------------

/** The part of sluice's pipeline API the bench uses (it may not be exported yet). */
export interface PipelineModule {
  pipeline(source: Iterable<number>): PipelineLike;
  stage(fn: (x: number) => number): unknown;
}
interface PipelineLike {
  through(stage: unknown): PipelineLike;
  run(sink: (x: number) => void): Promise<void>;
}

export type PipelineContender = (items: readonly number[]) => Promise<number>;

const plusOne = (x: number) => x + 1;
const double = (x: number) => x * 2;
const identity = (x: number) => x;

/** sluice: three default stages (concurrency 1, capacity 1): x+1, x·2, identity; `run(sink)`. */
export function sluicePipeline(mod: PipelineModule): PipelineContender {
  const { pipeline, stage } = mod;
  const stages = [stage(plusOne), stage(double), stage(identity)];
  return async (items) => {
    let sum = 0;
    let p = pipeline(items);
    for (const s of stages) p = p.through(s);
    await p.run((x) => {
      sum += x;
    });
    return sum;
  };
}

function mapTransform(fn: (x: number) => number): Transform {
  return new Transform({
    objectMode: true,
    transform(chunk: number, _encoding, callback) {
      callback(null, fn(chunk));
    },
  });
}

/** node `stream/promises` `pipeline`: `Readable.from`, three objectMode Transforms, a Writable. */
export const nodeStreamPipeline: PipelineContender = async (items) => {
  let sum = 0;
  await streamPipeline(
    Readable.from(items),
    mapTransform(plusOne),
    mapTransform(double),
    mapTransform(identity),
    new Writable({
      objectMode: true,
      write(chunk: number, _encoding, callback) {
        sum += chunk;
        callback();
      },
    }),
  );
  return sum;
};
