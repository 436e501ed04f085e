/**
 * `receiveMany` and `sendAll`: batches with defined results, cancellation and no lost items.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Channel, ChannelClosedError, ChannelFullError, TimeoutError } from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { advanceTo, flush } from '../support/clock.js';
import { observe } from '../support/outcome.js';
import { listeners } from '../support/signals.js';

describe('receiveMany', () => {
  it('takes everything already there, up to max, in order, without waiting', async () => {
    const ch = new Channel<number>({ capacity: 16 });
    for (let i = 0; i < 10; i++) ch.trySend(i);
    expect(await ch.receiveMany(4)).toEqual([0, 1, 2, 3]);
    expect(await ch.receiveMany(100)).toEqual([4, 5, 6, 7, 8, 9]);
    expect(ch.size).toBe(0);
    ch.assertInvariants();
  });

  it('lets waiting senders into the freed places as it takes (capacity 1)', async () => {
    const ch = new Channel<number>({ capacity: 1 });
    ch.trySend(0);
    const sends = [1, 2, 3].map((i) => observe(ch.send(i)));
    expect(await ch.receiveMany(10)).toEqual([0, 1, 2, 3]);
    await flush();
    expect(sends.map((s) => s.state)).toEqual(['resolved', 'resolved', 'resolved']);
    ch.assertInvariants();
  });

  it('takes straight from waiting senders at capacity 0', async () => {
    const ch = new Channel<string>();
    const sends = ['a', 'b'].map((x) => observe(ch.send(x)));
    expect(await ch.receiveMany(5)).toEqual(['a', 'b']);
    await flush();
    expect(sends.every((s) => s.state === 'resolved')).toBe(true);
  });

  it('waits for the first item, then returns what is there (waitMs 0)', async () => {
    const ch = new Channel<number>({ capacity: 8 });
    const batch = observe(ch.receiveMany(5));
    await flush();
    expect(batch.state).toBe('pending');
    ch.trySend(1); // handed to the waiting receive
    ch.trySend(2);
    ch.trySend(3);
    await flush();
    expect(batch.state).toBe('resolved');
    // The first item wakes it; the two sent in the same turn are there when it collects.
    expect(batch.value).toEqual([1, 2, 3]);
    expect(ch.size).toBe(0);
  });

  it('with waitMs, keeps collecting until the batch is full or the time is up', async () => {
    const clock = new ManualClock();
    const ch = new Channel<number>({ capacity: 8, clock });
    const batch = observe(ch.receiveMany(3, { waitMs: 100 }), clock);
    ch.trySend(1);
    await advanceTo(clock, 40);
    ch.trySend(2);
    await advanceTo(clock, 99);
    expect(batch.state).toBe('pending');
    await advanceTo(clock, 100);
    expect(batch).toMatchObject({ state: 'resolved', value: [1, 2], at: 100 });
    expect(clock.pendingTimers).toBe(0);

    const full = observe(ch.receiveMany(2, { waitMs: 100 }), clock);
    ch.trySend(3);
    ch.trySend(4);
    await flush();
    expect(full).toMatchObject({ state: 'resolved', value: [3, 4] });
    expect(clock.pendingTimers).toBe(0);
  });

  it('before any item: abort and timeout reject and consume nothing; no listener or timer left', async () => {
    const clock = new ManualClock();
    const ch = new Channel<number>({ capacity: 4, clock });
    const controller = new AbortController();
    const reason = { why: 'stop' };
    const aborted = observe(ch.receiveMany(3, { signal: controller.signal }));
    controller.abort(reason);
    await flush();
    expect(aborted.state).toBe('rejected');
    expect(aborted.error).toBe(reason);
    expect(listeners(controller.signal)).toBe(0);

    const timedOut = observe(ch.receiveMany(3, { timeoutMs: 50 }), clock);
    await advanceTo(clock, 50);
    expect(timedOut.state).toBe('rejected');
    expect(timedOut.error).toBeInstanceOf(TimeoutError);
    expect(clock.pendingTimers).toBe(0);
    ch.trySend(7);
    expect(ch.tryReceive()).toEqual({ ok: true, value: 7 });
    ch.assertInvariants();
  });

  it('once it holds items, an abort or a close ends the batch with them: nothing is lost', async () => {
    const clock = new ManualClock();
    const ch = new Channel<number>({ capacity: 4, clock });
    const controller = new AbortController();
    const batch = observe(ch.receiveMany(5, { waitMs: 1000, signal: controller.signal }), clock);
    ch.trySend(1);
    await flush();
    ch.trySend(2);
    await flush();
    controller.abort('enough');
    await flush();
    expect(batch).toMatchObject({ state: 'resolved', value: [1, 2] });
    expect(listeners(controller.signal)).toBe(0);
    expect(clock.pendingTimers).toBe(0);

    const closing = observe(ch.receiveMany(5, { waitMs: 1000 }), clock);
    ch.trySend(3);
    await flush();
    ch.close();
    await flush();
    expect(closing).toMatchObject({ state: 'resolved', value: [3] });
    expect(clock.pendingTimers).toBe(0);
  });

  it('rejects with ChannelClosedError when closed and drained; drains what is left first', async () => {
    const ch = new Channel<number>({ capacity: 4 });
    ch.trySend(1);
    ch.trySend(2);
    ch.close();
    expect(await ch.receiveMany(10)).toEqual([1, 2]);
    await expect(ch.receiveMany(10)).rejects.toBeInstanceOf(ChannelClosedError);
  });

  it('an already-aborted signal rejects at once, even with items ready', async () => {
    const ch = new Channel<number>({ capacity: 4 });
    ch.trySend(1);
    await expect(ch.receiveMany(2, { signal: AbortSignal.abort('no') })).rejects.toBe('no');
    expect(ch.size).toBe(1);
  });

  it('bad input throws synchronously, naming the value', () => {
    const ch = new Channel<number>({ capacity: 4 });
    expect(() => ch.receiveMany(0)).toThrow(/`max`.*`0` \(number\)/);
    expect(() => ch.receiveMany(1.5)).toThrow(RangeError);
    expect(() => ch.receiveMany(2, { waitMs: -1 })).toThrow(/`waitMs`.*`-1` \(number\)/);
    expect(() => ch.receiveMany(2, { timeoutMs: Number.NaN })).toThrow(/timeoutMs/);
    expect(() => ch.receiveMany(2, 5 as never)).toThrow(TypeError);
  });
});

describe('sendAll', () => {
  it('sends every item in order, waiting for room (block)', async () => {
    const ch = new Channel<number>({ capacity: 2 });
    const all = observe(ch.sendAll([1, 2, 3, 4, 5]));
    const received: number[] = [];
    for (let i = 0; i < 5; i++) received.push(await ch.receive());
    await flush();
    expect(received).toEqual([1, 2, 3, 4, 5]);
    expect(all.value).toEqual({ sent: 5, evicted: [], dropped: [], unsent: [] });
    ch.assertInvariants();
  });

  it('reports evictions and drops under the drop policies (and to onDrop)', async () => {
    const drops: [number, string][] = [];
    const oldest = new Channel<number>({
      capacity: 2,
      overflow: 'drop-oldest',
      onDrop: (item, reason) => drops.push([item, reason]),
    });
    expect(await oldest.sendAll([1, 2, 3, 4])).toEqual({
      sent: 4,
      evicted: [1, 2],
      dropped: [],
      unsent: [],
    });
    const newest = new Channel<number>({
      capacity: 2,
      overflow: 'drop-newest',
      onDrop: (item, reason) => drops.push([item, reason]),
    });
    expect(await newest.sendAll([1, 2, 3, 4])).toEqual({
      sent: 2,
      evicted: [],
      dropped: [3, 4],
      unsent: [],
    });
    expect(drops).toEqual([
      [1, 'evicted'],
      [2, 'evicted'],
      [3, 'overflow'],
      [4, 'overflow'],
    ]);
  });

  it('stops at the first refusal under reject and hands the rest back', async () => {
    const ch = new Channel<number>({ capacity: 2, overflow: 'reject' });
    const result = await ch.sendAll([1, 2, 3, 4]);
    expect(result).toMatchObject({ sent: 2, unsent: [3, 4], stoppedBy: 'full' });
    expect(result.error).toBeInstanceOf(ChannelFullError);
    expect(ch.stats().refused).toBe(1);
  });

  it('abort, timeout and close stop it and hand back every unsent item; nothing lost', async () => {
    const clock = new ManualClock();
    const ch = new Channel<number>({ capacity: 1, clock });
    const controller = new AbortController();
    const aborted = observe(ch.sendAll([1, 2, 3], { signal: controller.signal }), clock);
    await flush();
    controller.abort('stop');
    await flush();
    expect(aborted.value).toEqual({
      sent: 1,
      evicted: [],
      dropped: [],
      unsent: [2, 3],
      stoppedBy: 'aborted',
      error: 'stop',
    });
    expect(listeners(controller.signal)).toBe(0);

    const timed = observe(ch.sendAll([4, 5], { timeoutMs: 30 }), clock);
    await advanceTo(clock, 30);
    expect(timed.value).toMatchObject({ sent: 0, unsent: [4, 5], stoppedBy: 'timeout' });
    expect((timed.value as { error: unknown }).error).toBeInstanceOf(TimeoutError);
    expect(clock.pendingTimers).toBe(0);

    const closing = observe(ch.sendAll([6, 7]), clock);
    await flush();
    ch.close();
    await flush();
    expect(closing.value).toMatchObject({ sent: 0, unsent: [6, 7], stoppedBy: 'closed' });
    expect(ch.tryReceive()).toEqual({ ok: true, value: 1 });
    ch.assertInvariants();
  });

  it('bad input throws synchronously', () => {
    const ch = new Channel<number>({ capacity: 1 });
    expect(() => ch.sendAll(5 as never)).toThrow(/`items`.*`5` \(number\)/);
    expect(() => ch.sendAll(null as never)).toThrow(TypeError);
    expect(() => ch.sendAll([1], { timeoutMs: -1 })).toThrow(RangeError);
  });
});

describe('batches conserve items (property)', () => {
  it('every item sent by sendAll is received exactly once by receiveMany, in order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 8 }),
        fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 1, maxLength: 20 }),
        async (capacity, batches, takes) => {
          const ch = new Channel<number>({ capacity });
          let next = 0;
          const producer = (async () => {
            for (const size of batches) {
              const items = Array.from({ length: size }, () => next++);
              const result = await ch.sendAll(items);
              expect(result.sent).toBe(size);
            }
            ch.close();
          })();
          const received: number[] = [];
          for (let i = 0; ; i++) {
            try {
              received.push(...(await ch.receiveMany(takes[i % takes.length] as number)));
            } catch (error) {
              expect(error).toBeInstanceOf(ChannelClosedError);
              break;
            }
            ch.assertInvariants();
          }
          await producer;
          expect(received).toEqual(Array.from({ length: next }, (_, i) => i));
        },
      ),
      { numRuns: 100 },
    );
  });
});
