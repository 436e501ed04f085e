/**
 * Queue benchmarks: how many items per second a consumer moves with `receiveMany(64)` against
 * the channel's own `for await` path, in ONE mitata run, reported as ratios. `for await` costs
 * two microtask hops per item (the platform's floor); a batch pays them once per batch.
 * The producer is the same for both consumers: `sendAll` in batches of 64, so the consumer's
 * path is what differs. For context, the same with a producer that `await`s `send` per item:
 * then producer and consumer run in lockstep, each batch holds what one hop delivered, and
 * batching cannot help (the producer is the floor).
 * Target: receiveMany moves ≥ 2× the items per second of `for await`.
 *
 * Run: `npm --prefix bench run bench:queue` (needs `dist/` built), or `npm run bench` at the
 * repository root.
 */
import { loadavg } from 'node:os';
import { bench, group, run, summary } from 'mitata';
import { Channel } from '../dist/index.js';

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
