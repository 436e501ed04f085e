/**
 * Redis queue benchmark: sluice's `RedisChannel` (a bounded queue: capacity 100, producers wait
 * when it is full) against BullMQ (`Queue.add` + `Worker`, unbounded), in ONE run against the
 * same Redis, followed by RATIOS from that run.
 *
 * Workload per round: ITEMS items, 2 producers and 2 consumers, each on its own connection(s),
 * as if in four processes. Each producer awaits every send before the next (ITEMS / 2 each);
 * each consumer runs handlers with concurrency CONCURRENCY (a trivial async handler that counts).
 * A round ends when every item has been handled (and, for sluice, acked; for BullMQ, completed
 * with `removeOnComplete`, so neither keeps finished items). Items per second = ITEMS / time.
 * - sluice: `channel.send(i)` under `overflow: 'block'`; `channel.consume(handler,
 *   { concurrency })` (receive under a lease, handler, ack).
 * - BullMQ: `queue.add('job', i, { removeOnComplete: true, removeOnFail: true })`; `new
 *   Worker(name, handler, { concurrency })`.
 * The consumers of both are started once and stay up for the whole run (idle ones wait in
 * BLPOP / BZPOPMIN), so a round measures the steady state, not start-up.
 *
 * Bounding: while producing, the backlog (items sent but not yet handled) is sampled after
 * every send; its maximum is reported. sluice's cannot pass the capacity (ready + in flight);
 * BullMQ's grows as far as the producers outrun the workers.
 *
 * Method: every round runs both contenders, in an order alternating from round to round; the
 * ratio is the median over rounds of the ratio within a round (paired), beside the median
 * throughput of each. Target: sluice ≥ BullMQ while also bounding the queue.
 *
 * Run: `npm --prefix bench run bench:redis-queue` (needs `dist/` built, at least `npx tsc -p
 * tsconfig.build.redis.json` at the root; ~30 s). Redis: `REDIS_URL`, default
 * `redis://127.0.0.1:6379`; keys under `sluice:{sluice-bench-queue}:*` and `bull:sluice-bench*`,
 * deleted at the end.
 */
import { cpus, loadavg } from 'node:os';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { RedisChannel, RedisConnection } from '../dist/redis/index.js';

const { REDIS_URL: redisUrl } = process.env;
const REDIS_URL = redisUrl ?? 'redis://127.0.0.1:6379';
const ROUNDS = 9;
const ITEMS = 4000;
const CAPACITY = 100;
const CONCURRENCY = 8;
const QUEUE = 'sluice-bench-queue';
const BULL = 'sluice-bench-bull';

const url = new URL(REDIS_URL);
const bullConnection = {
  host: url.hostname,
  port: Number(url.port || 6379),
  maxRetriesPerRequest: null,
};
const admin = new Redis(REDIS_URL);
const serverVersion = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1] ?? '?';
await cleanUp();

// ---- contenders ------------------------------------------------------------------------------

interface Contender {
  readonly name: string;
  /** Sends ITEMS items from 2 producers and resolves when all were handled. */
  round(): Promise<{ ms: number; maxBacklog: number }>;
  close(): Promise<void>;
}

/** Counts handled items and resolves rounds. */
class Tally {
  handled = 0;
  sent = 0;
  maxBacklog = 0;
  #target = 0;
  #done: (() => void) | undefined;

  start(target: number): Promise<void> {
    this.handled = 0;
    this.sent = 0;
    this.maxBacklog = 0;
    this.#target = target;
    return new Promise((resolve) => {
      this.#done = resolve;
    });
  }

  onSent(): void {
    this.sent++;
    const backlog = this.sent - this.handled;
    if (backlog > this.maxBacklog) this.maxBacklog = backlog;
  }

  onHandled(): void {
    if (++this.handled === this.#target) this.#done?.();
  }
}

async function sluiceContender(): Promise<Contender> {
  const tally = new Tally();
  const connections = await Promise.all(
    [0, 1, 2, 3].map(() => RedisConnection.connect({ redis: REDIS_URL, onWarning: () => {} })),
  );
  const channels = connections.map(
    (connection) => new RedisChannel<number>({ connection, name: QUEUE, capacity: CAPACITY }),
  );
  const [p1, p2, c1, c2] = channels as [
    RedisChannel<number>,
    RedisChannel<number>,
    RedisChannel<number>,
    RedisChannel<number>,
  ];
  const pools = [c1, c2].map((c) =>
    c.consume(
      async () => {
        tally.onHandled();
      },
      { concurrency: CONCURRENCY },
    ),
  );
  const produce = async (channel: RedisChannel<number>, from: number, to: number) => {
    for (let i = from; i < to; i++) {
      await channel.send(i);
      tally.onSent();
    }
  };
  return {
    name: `sluice RedisChannel (capacity ${CAPACITY})`,
    async round() {
      const done = tally.start(ITEMS);
      const started = performance.now();
      await Promise.all([produce(p1, 0, ITEMS / 2), produce(p2, ITEMS / 2, ITEMS), done]);
      return { ms: performance.now() - started, maxBacklog: tally.maxBacklog };
    },
    async close() {
      await Promise.all(pools.map((pool) => pool.stop()));
      for (const channel of channels) await channel.close();
      for (const connection of connections) await connection.close();
    },
  };
}

async function bullContender(): Promise<Contender> {
  const tally = new Tally();
  const queues = [0, 1].map(() => new Queue(BULL, { connection: bullConnection }));
  const workers = [0, 1].map(
    () =>
      new Worker(
        BULL,
        async () => {
          tally.onHandled();
        },
        { connection: bullConnection, concurrency: CONCURRENCY },
      ),
  );
  await Promise.all([...queues, ...workers].map((q) => q.waitUntilReady()));
  const options = { removeOnComplete: true, removeOnFail: true };
  const produce = async (queue: Queue, from: number, to: number) => {
    for (let i = from; i < to; i++) {
      await queue.add('job', i, options);
      tally.onSent();
    }
  };
  const [q1, q2] = queues as [Queue, Queue];
  return {
    name: 'BullMQ Queue.add + Worker (unbounded)',
    async round() {
      const done = tally.start(ITEMS);
      const started = performance.now();
      await Promise.all([produce(q1, 0, ITEMS / 2), produce(q2, ITEMS / 2, ITEMS), done]);
      return { ms: performance.now() - started, maxBacklog: tally.maxBacklog };
    },
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await Promise.all(queues.map((q) => q.close()));
    },
  };
}

// ---- run -------------------------------------------------------------------------------------

const contenders = [await sluiceContender(), await bullContender()];
const rates = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
const backlogs = new Map<string, number>(contenders.map((c) => [c.name, 0]));
const ratios: number[] = [];

for (const c of contenders) await c.round(); // warm-up: scripts loaded, JIT warm
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? contenders : [...contenders].reverse();
  const perSecond = new Map<string, number>();
  for (const c of order) {
    const { ms, maxBacklog } = await c.round();
    perSecond.set(c.name, (ITEMS / ms) * 1000);
    rates.get(c.name)?.push((ITEMS / ms) * 1000);
    backlogs.set(c.name, Math.max(backlogs.get(c.name) ?? 0, maxBacklog));
  }
  const [sluice, bull] = contenders.map((c) => perSecond.get(c.name) ?? 0) as [number, number];
  ratios.push(sluice / bull);
}
for (const c of contenders) await c.close();
await cleanUp();
admin.disconnect();

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

async function cleanUp(): Promise<void> {
  for (const pattern of [`sluice:{${QUEUE}}:*`, `bull:${BULL}:*`]) {
    const keys = await admin.keys(pattern);
    if (keys.length > 0) await admin.del(...keys);
  }
}

const ratio = median(ratios);
console.log(
  `\n## Redis queue (Redis ${serverVersion}, ${cpus().length} CPUs, load ${(loadavg()[0] ?? 0).toFixed(1)}; ${ROUNDS} rounds of ${ITEMS} items, 2 producers, 2 consumers × concurrency ${CONCURRENCY})\n`,
);
console.log('| contender | items/s (median) | min–max | largest backlog |');
console.log('|---|---:|---:|---:|');
for (const c of contenders) {
  const values = rates.get(c.name) ?? [];
  console.log(
    `| ${c.name} | ${Math.round(median(values)).toLocaleString('en')} | ${Math.round(Math.min(...values)).toLocaleString('en')}–${Math.round(Math.max(...values)).toLocaleString('en')} | ${backlogs.get(c.name)} |`,
  );
}
console.log(
  `\nsluice ÷ BullMQ (median of paired rounds): **${ratio.toFixed(2)}×** (rounds: ${ratios.map((r) => r.toFixed(2)).join(', ')})`,
);
const bounded = (backlogs.get(contenders[0]?.name ?? '') ?? 0) <= CAPACITY;
console.log(
  `\nTarget ≥ BullMQ while bounding the queue: ${ratio >= 1 && bounded ? 'met' : '**missed**'} (sluice's backlog ${bounded ? 'stayed within' : 'passed'} its capacity of ${CAPACITY})`,
);
console.log(`\nload average at the end: ${(loadavg()[0] ?? 0).toFixed(1)}`);
