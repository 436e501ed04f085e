/**
 * Stress: 4 producers and 4 consumers move 1,000,000 items through one capacity-16 `block`
 * channel, with seeded random aborts of some sends and some receives (sometimes before the
 * call, sometimes right after it, sometimes a few microtasks later, racing the other side).
 * Both sides now and then yield to the event loop, so the buffer swings between full and empty
 * and both senders and receivers really wait.
 *
 * An aborted send did not enqueue its item (DESIGN.md, channel semantics 7), so its producer
 * either sends the same item again or records it as not sent. An aborted receive consumed
 * nothing. At the end:
 * - every item is either received exactly once or recorded as not sent (count, sum and a
 *   bitmap of seen values);
 * - each consumer saw each producer's items in the order that producer sent them;
 * - `stats()` balances (sent = received, nothing dropped or refused) and `assertInvariants()`
 *   holds; no waiter and no abort listener is left;
 * - the heap is back within a few MB of where it started.
 *
 * Seeded (mulberry32) so a failure can be replayed; set SLUICE_STRESS_SEED to try others.
 */
import { getEventListeners } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect, it } from 'vitest';
import { Channel, ChannelClosedError } from '../../src/index.js';
import { flush } from '../support/clock.js';
import { seeded } from '../support/random.js';

const ITEMS = 1_000_000;
const PRODUCERS = 4;
const CONSUMERS = 4;
const PER_PRODUCER = ITEMS / PRODUCERS;
const CAPACITY = 16;
const { SLUICE_STRESS_SEED } = process.env;
const SEED = Number(SLUICE_STRESS_SEED ?? 0x5eed);

/** Probability that a send or receive is given its own AbortController that will abort. */
const ABORT_RATE = 0.03;
/** Probability that a send or receive carries the shared, never-aborted signal. */
const SHARED_SIGNAL_RATE = 0.1;
/** Probability that a producer gives up on an item whose send was aborted. */
const GIVE_UP_RATE = 0.5;
/**
 * Probability that a producer or consumer yields to the event loop before its next item, so
 * the buffer swings between full (senders wait) and empty (receivers wait).
 */
const PAUSE_RATE = 1 / 256;
/** How much the heap may grow over the run (after GC), in bytes. */
const HEAP_TOLERANCE = 4 * 1024 * 1024;

/** `global.gc` when node runs with --expose-gc; otherwise enable it for this process. */
function getGc(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return exposed;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

async function settledHeap(gc: () => void): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await flush();
  }
  return process.memoryUsage().heapUsed;
}

/**
 * Arms an abort: before the call (`-1`: the signal is already aborted), right after it (`0`),
 * or after `hops` microtasks, racing the other side of the channel.
 */
function abortAfter(controller: AbortController, hops: number, reason: unknown): void {
  if (hops <= 0) controller.abort(reason);
  else queueMicrotask(() => abortAfter(controller, hops - 1, reason));
}

interface Counters {
  abortedSendsWaiting: number;
  abortedSendsBefore: number;
  sendsDoneDespiteAbort: number;
  resent: number;
  givenUp: number;
  abortedReceivesWaiting: number;
  abortedReceivesBefore: number;
  receivesDoneDespiteAbort: number;
}

it('moves 1,000,000 items through capacity 16 with 4 producers, 4 consumers and random aborts', {
  timeout: 60_000,
}, async () => {
  const gc = getGc();
  const seen = new Uint8Array(ITEMS);
  const notSent = new Uint8Array(ITEMS);
  const perConsumer = new Float64Array(CONSUMERS);
  const sumPerConsumer = new Float64Array(CONSUMERS);
  const orderViolations: string[] = [];
  const duplicates: number[] = [];
  const c: Counters = {
    abortedSendsWaiting: 0,
    abortedSendsBefore: 0,
    sendsDoneDespiteAbort: 0,
    resent: 0,
    givenUp: 0,
    abortedReceivesWaiting: 0,
    abortedReceivesBefore: 0,
    receivesDoneDespiteAbort: 0,
  };
  const shared = new AbortController(); // never aborted: its listeners must all go away
  const heapBefore = await settledHeap(gc);
  const started = performance.now();

  const ch = new Channel<number>({ capacity: CAPACITY });

  async function producer(p: number): Promise<void> {
    const rand = seeded(SEED * 31 + p);
    const sendReason = { producer: p, kind: 'send-abort' };
    for (let i = 0; i < PER_PRODUCER; i++) {
      const value = p * PER_PRODUCER + i;
      if (rand() < PAUSE_RATE) await flush();
      for (;;) {
        const r = rand();
        if (r >= ABORT_RATE) {
          await (r < ABORT_RATE + SHARED_SIGNAL_RATE
            ? ch.send(value, { signal: shared.signal })
            : ch.send(value));
          break;
        }
        const controller = new AbortController();
        const hops = Math.floor(rand() * 5) - 1; // -1 … 3
        if (hops < 0) controller.abort(sendReason);
        const sending = ch.send(value, { signal: controller.signal });
        if (hops >= 0) abortAfter(controller, hops, sendReason);
        try {
          await sending;
          c.sendsDoneDespiteAbort++;
          break;
        } catch (error) {
          if (error !== sendReason) throw error;
          if (hops < 0) c.abortedSendsBefore++;
          else c.abortedSendsWaiting++;
        }
        // The item was not enqueued: send it again, or record it as not sent.
        if (rand() < GIVE_UP_RATE) {
          notSent[value] = 1;
          c.givenUp++;
          break;
        }
        c.resent++;
      }
    }
  }

  async function consumer(k: number): Promise<void> {
    const rand = seeded(SEED * 131 + 1000 + k);
    const receiveReason = { consumer: k, kind: 'receive-abort' };
    const last = new Float64Array(PRODUCERS).fill(-1);
    let count = 0;
    let sum = 0;
    for (;;) {
      if (rand() < PAUSE_RATE) await flush();
      let value: number;
      const r = rand();
      try {
        if (r >= ABORT_RATE) {
          value = await (r < ABORT_RATE + SHARED_SIGNAL_RATE
            ? ch.receive({ signal: shared.signal })
            : ch.receive());
        } else {
          const controller = new AbortController();
          const hops = Math.floor(rand() * 5) - 1;
          if (hops < 0) controller.abort(receiveReason);
          const receiving = ch.receive({ signal: controller.signal });
          if (hops >= 0) abortAfter(controller, hops, receiveReason);
          try {
            value = await receiving;
            c.receivesDoneDespiteAbort++;
          } catch (error) {
            if (error !== receiveReason) throw error;
            if (hops < 0) c.abortedReceivesBefore++;
            else c.abortedReceivesWaiting++;
            continue; // nothing was consumed
          }
        }
      } catch (error) {
        if (error instanceof ChannelClosedError && !error.hasValue) break;
        throw error;
      }
      if (!Number.isInteger(value) || value < 0 || value >= ITEMS) {
        throw new Error(`consumer ${k} received a value that was never sent: ${value}`);
      }
      if (seen[value] !== 0) duplicates.push(value);
      seen[value] = 1;
      const p = Math.floor(value / PER_PRODUCER);
      if (value <= (last[p] as number) && orderViolations.length < 10) {
        orderViolations.push(`consumer ${k}: producer ${p}'s ${value} after ${last[p]}`);
      }
      last[p] = value;
      count++;
      sum += value;
      if (k === 0 && count % 50_000 === 0) ch.assertInvariants();
    }
    perConsumer[k] = count;
    sumPerConsumer[k] = sum;
  }

  const consumers = Array.from({ length: CONSUMERS }, (_, k) => consumer(k));
  await Promise.all(Array.from({ length: PRODUCERS }, (_, p) => producer(p)));
  ch.close();
  await Promise.all(consumers);
  const elapsedMs = performance.now() - started;

  // -- exactly once ------------------------------------------------------------------------
  expect(duplicates.slice(0, 10)).toEqual([]);
  expect(orderViolations).toEqual([]);
  let received = 0;
  let receivedSum = 0;
  for (let k = 0; k < CONSUMERS; k++) {
    received += perConsumer[k] as number;
    receivedSum += sumPerConsumer[k] as number;
  }
  let missing = 0;
  let both = 0;
  let notSentCount = 0;
  let notSentSum = 0;
  for (let v = 0; v < ITEMS; v++) {
    if (notSent[v] === 1) {
      notSentCount++;
      notSentSum += v;
      if (seen[v] === 1) both++;
    } else if (seen[v] !== 1) missing++;
  }
  expect({ missing, both }).toEqual({ missing: 0, both: 0 });
  expect(notSentCount).toBe(c.givenUp);
  expect(received + notSentCount).toBe(ITEMS);
  expect(receivedSum + notSentSum).toBe((ITEMS * (ITEMS - 1)) / 2);
  for (let k = 0; k < CONSUMERS; k++) expect(perConsumer[k]).toBeGreaterThan(0);

  // -- the aborts really happened, on both sides, while waiting too ------------------------
  expect(c.abortedSendsBefore).toBeGreaterThan(0);
  expect(c.abortedSendsWaiting).toBeGreaterThan(0);
  expect(c.abortedReceivesBefore).toBeGreaterThan(0);
  expect(c.abortedReceivesWaiting).toBeGreaterThan(0);

  // -- the channel's own accounting --------------------------------------------------------
  expect(ch.stats()).toEqual({
    sent: received,
    received,
    refused: 0,
    dropped: { overflow: 0, evicted: 0, discarded: 0, expired: 0, shed: 0 },
    size: 0,
    highWater: CAPACITY,
    capacity: CAPACITY,
    waitingSenders: 0,
    waitingReceivers: 0,
    state: 'closed',
  });
  ch.assertInvariants();
  expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0);

  // -- memory ------------------------------------------------------------------------------
  const heapAfter = await settledHeap(gc);
  const heapGrowth = heapAfter - heapBefore;

  console.log(
    `stress: ${ITEMS} items in ${elapsedMs.toFixed(0)} ms (seed ${SEED}); ` +
      `sends aborted before/waiting ${c.abortedSendsBefore}/${c.abortedSendsWaiting}, ` +
      `done despite abort ${c.sendsDoneDespiteAbort}, resent ${c.resent}, given up ${c.givenUp}; ` +
      `receives aborted before/waiting ${c.abortedReceivesBefore}/${c.abortedReceivesWaiting}, ` +
      `done despite abort ${c.receivesDoneDespiteAbort}; per consumer ${Array.from(perConsumer).join('/')}; ` +
      `heap growth ${(heapGrowth / 1024).toFixed(0)} KiB`,
  );
  expect(heapGrowth).toBeLessThan(HEAP_TOLERANCE);
});
