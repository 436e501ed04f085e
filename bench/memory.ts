/**
 * Memory under a flood: a producer offers items as fast as it can for 3 s while a consumer takes
 * one item per millisecond. Through a sluice drop-oldest channel of capacity 1000 the live heap
 * stays flat (the channel holds at most 1000 items, evicting the oldest); through an unbounded
 * array (a plain push/read-index queue, what code without backpressure does) it grows by hundreds
 * of MB. Prints both heap curves: live heap after a full GC, sampled every 500 ms.
 *
 * Run: `npm run bench:memory` in bench/ (after `npm run build` at the root). About 10 s.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { getHeapStatistics } from 'node:v8';
import { Channel } from '../dist/index.js';

const FLOOD_MS = 3000;
const SAMPLE_MS = 500;
const BATCH = 5000;
const CAPACITY = 1000;

const gc: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    throw new Error('run with --expose-gc (npm run bench:memory does)');
  });

interface Item {
  readonly seq: number;
  readonly at: number;
  readonly name: string;
}

interface Queue {
  offer(item: Item): void;
  take(): void;
  readonly held: number;
}

interface Curve {
  readonly samples: { atMs: number; heapMB: number }[];
  offered: number;
  taken: number;
  held: number;
}

function liveHeapMB(): number {
  gc();
  return getHeapStatistics().used_heap_size / 2 ** 20;
}

async function flood(queue: Queue): Promise<Curve> {
  const curve: Curve = { samples: [], offered: 0, taken: 0, held: 0 };
  const start = performance.now();
  curve.samples.push({ atMs: 0, heapMB: liveHeapMB() });
  const consumer = setInterval(() => {
    queue.take();
    curve.taken++;
  }, 1);
  let nextSample = SAMPLE_MS;
  let seq = 0;
  for (;;) {
    const elapsed = performance.now() - start;
    if (elapsed >= nextSample) {
      curve.samples.push({ atMs: nextSample, heapMB: liveHeapMB() });
      nextSample += SAMPLE_MS;
    }
    if (elapsed >= FLOOD_MS) break;
    for (let i = 0; i < BATCH; i++) queue.offer({ seq, at: elapsed, name: `event ${seq++}` });
    await yieldToLoop();
  }
  clearInterval(consumer);
  curve.offered = seq;
  curve.held = queue.held;
  return curve;
}

function sluiceQueue(): Queue {
  const ch = new Channel<Item>({ capacity: CAPACITY, overflow: 'drop-oldest' });
  return {
    offer: (item) => void ch.trySend(item),
    take: () => void ch.tryReceive(),
    get held() {
      return ch.size;
    },
  };
}

function unboundedArray(): Queue {
  const items: (Item | undefined)[] = [];
  let head = 0;
  return {
    offer: (item) => void items.push(item),
    take: () => {
      if (head < items.length) items[head++] = undefined;
    },
    get held() {
      return items.length - head;
    },
  };
}

const sluice = await flood(sluiceQueue());
await yieldToLoop();
gc();
const array = await flood(unboundedArray());

const rows = sluice.samples.map((s, i) => {
  const a = array.samples[i];
  return `| ${(s.atMs / 1000).toFixed(1)} s | ${s.heapMB.toFixed(1)} MB | ${a === undefined ? '–' : `${a.heapMB.toFixed(1)} MB`} |`;
});
const growth = (c: Curve) =>
  (c.samples[c.samples.length - 1]?.heapMB ?? 0) - (c.samples[0]?.heapMB ?? 0);
console.log(
  [
    `## Memory under a flood (${FLOOD_MS / 1000} s, consumer 1 item/ms, live heap after full GC)`,
    '',
    `| time | sluice drop-oldest, capacity ${CAPACITY} | unbounded array |`,
    '|---|---:|---:|',
    ...rows,
    `| **growth** | **${growth(sluice).toFixed(1)} MB** | **${growth(array).toFixed(1)} MB** |`,
    `| items offered | ${sluice.offered.toLocaleString('en')} | ${array.offered.toLocaleString('en')} |`,
    `| items taken by the consumer | ${sluice.taken.toLocaleString('en')} | ${array.taken.toLocaleString('en')} |`,
    `| items held at the end | ${sluice.held.toLocaleString('en')} | ${array.held.toLocaleString('en')} |`,
  ].join('\n'),
);
