/**
 * sluice/node: a Channel as an objectMode Readable and Writable. No timers: a slow consumer is
 * one that waits a macrotask turn (`flush`) between items.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { Channel, ChannelClosedError, ChannelFullError } from '../../src/index.js';
import { toReadable, toWritable } from '../../src/node/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { withCapturedMicrotasks } from '../channel/channel.helpers.js';
import { flush, microtasks } from '../support/clock.js';
import { caught } from '../support/errors.js';

/** The errors a write callback got, in order of writes (`null` for success). */
function writeAll(
  w: Writable,
  items: readonly unknown[],
): { returns: boolean[]; errors: unknown[] } {
  const errors: unknown[] = [];
  const returns = items.map((item, i) =>
    w.write(item, (error) => {
      errors[i] = error ?? null;
    }),
  );
  return { returns, errors };
}

function ignoreErrors(stream: Readable | Writable): void {
  stream.on('error', () => {});
}

describe('toWritable: write() and drain', () => {
  for (const capacity of [0, 1, 16]) {
    it(`capacity ${capacity}: write() returns false exactly for the item a send would wait with`, async () => {
      const ch = new Channel<number>({ capacity });
      const w = toWritable(ch);
      let drains = 0;
      w.on('drain', () => drains++);

      // Items that fit are in the channel when write() returns.
      for (let i = 0; i < capacity; i++) {
        expect(w.write(i)).toBe(true);
        expect(ch.size).toBe(i + 1);
      }
      // The next one has no room: a plain send would wait, so write() says false and the
      // item waits as the channel's one sender. Nothing sits inside the Writable.
      expect(w.write(capacity)).toBe(false);
      expect(ch.waitingSenders).toBe(1);
      expect(w.writableNeedDrain).toBe(true);
      await flush();
      expect(drains).toBe(0);

      // Room appears: the waiting item moves in, and 'drain' follows.
      expect(await ch.receive()).toBe(0);
      await microtasks();
      expect(drains).toBe(1);
      expect(w.writableNeedDrain).toBe(false);
      expect(ch.waitingSenders).toBe(0);
      expect(ch.size).toBe(capacity);

      // No 'drain' after writes that returned true.
      const r = ch.receive(); // frees a place (cap > 0) or waits (cap 0): either way, room
      expect(w.write(100)).toBe(true);
      await r;
      await flush();
      expect(drains).toBe(1);
    });
  }

  it('a waiting receiver counts as room, even with capacity 0', async () => {
    const ch = new Channel<string>();
    const w = toWritable(ch);
    const got = ch.receive();
    expect(w.write('a')).toBe(true);
    expect(await got).toBe('a');
  });

  it('matches a twin channel driven by trySend/send, step for step (random interleaving)', async () => {
    for (const capacity of [0, 1, 3, 16]) {
      let seed = 7 + capacity;
      const random = (): number => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed / 2147483648;
      };
      const ch = new Channel<number>({ capacity });
      const twin = new Channel<number>({ capacity });
      const w = toWritable(ch);
      let drains = 0;
      let falses = 0;
      w.on('drain', () => drains++);
      let next = 0;
      for (let step = 0; step < 400; step++) {
        if (!w.writableNeedDrain && random() < 0.6) {
          const item = next++;
          const expected = twin.trySend(item).ok;
          if (!expected) void twin.send(item);
          const actual = w.write(item);
          expect(actual, `capacity ${capacity}, step ${step}`).toBe(expected);
          if (!actual) falses++;
        } else if (ch.size > 0 || ch.waitingSenders > 0) {
          expect(ch.tryReceive()).toStrictEqual(twin.tryReceive());
        }
        await microtasks();
        expect(ch.size).toBe(twin.size);
        expect(ch.waitingSenders).toBe(twin.waitingSenders);
      }
      await flush();
      expect(drains).toBe(falses - (w.writableNeedDrain ? 1 : 0));
    }
  });

  it('under drop-newest write() never returns false; drops go to onDrop', () => {
    const dropped: number[] = [];
    const ch = new Channel<number>({
      capacity: 1,
      overflow: 'drop-newest',
      onDrop: (item) => dropped.push(item),
    });
    const w = toWritable(ch);
    expect(writeAll(w, [1, 2, 3]).returns).toEqual([true, true, true]);
    expect(dropped).toEqual([2, 3]);
    expect(ch.tryReceive()).toStrictEqual({ ok: true, value: 1 });
  });

  it('end(chunk) goes through the same path: false while it waits, finish once accepted', async () => {
    const ch = new Channel<number>();
    const w = toWritable(ch);
    let finished = false;
    w.on('finish', () => {
      finished = true;
    });
    w.end(1);
    await flush();
    expect(ch.waitingSenders).toBe(1);
    expect(finished).toBe(false);
    expect(await ch.receive()).toBe(1);
    await flush();
    expect(finished).toBe(true);
    expect(ch.state).toBe('closed');
  });

  it('cork()ed writes say false and drain once the channel has them all', async () => {
    const ch = new Channel<number>({ capacity: 4 });
    const w = toWritable(ch);
    let drains = 0;
    w.on('drain', () => drains++);
    w.cork();
    expect(w.write(1)).toBe(false); // held by Node, not in the channel yet
    expect(w.write(2)).toBe(false);
    w.uncork();
    await flush();
    expect(ch.size).toBe(2);
    expect(drains).toBe(1);
  });

  it('items expired on arrival count as taken (the channel reports them to onDrop)', () => {
    const clock = new ManualClock();
    clock.advanceTo(100);
    const drops: string[] = [];
    const ch = new Channel<number>({
      capacity: 4,
      clock,
      deadline: () => 50,
      onDrop: (item, reason) => drops.push(`${item}:${reason}`),
    });
    const w = toWritable(ch);
    expect(w.write(1)).toBe(true);
    expect(drops).toEqual(['1:expired']);
  });

  it('a timed channel that makes room by expiring its head: false, then drain at once', async () => {
    const clock = new ManualClock();
    const ch = new Channel<number>({ capacity: 1, clock, maxWaitMs: 10 });
    const w = toWritable(ch);
    let drains = 0;
    w.on('drain', () => drains++);
    expect(w.write(1)).toBe(true);
    clock.advanceTo(20);
    expect(w.write(2)).toBe(false); // conservative: the channel expired 1 and took 2
    await microtasks();
    expect(drains).toBe(1);
    expect(ch.waitingSenders).toBe(0);
    expect(ch.tryReceive()).toStrictEqual({ ok: true, value: 2 });
  });

  it('under reject, a full channel fails the write with ChannelFullError carrying the item', async () => {
    const undelivered: number[] = [];
    const ch = new Channel<number>({ capacity: 1, overflow: 'reject' });
    const w = toWritable(ch, { onUndelivered: (item) => undelivered.push(item) });
    let error: unknown;
    w.on('error', (e) => {
      error = e;
    });
    const { returns, errors } = writeAll(w, [1, 2]);
    expect(returns).toEqual([true, false]);
    await flush();
    expect(errors[1]).toBeInstanceOf(ChannelFullError);
    expect((errors[1] as ChannelFullError<number>).value).toBe(2);
    expect(error).toBe(errors[1]);
    expect(undelivered).toEqual([2]);
    // The stream ended early, so onAbort (default 'close') applied; item 1 is still there.
    expect(ch.state).toBe('closed');
    expect(ch.tryReceive()).toStrictEqual({ ok: true, value: 1 });
  });
});

describe('toWritable: ending and aborting', () => {
  it('end() closes the channel once every item is accepted; buffered items stay receivable', async () => {
    const ch = new Channel<number>({ capacity: 1 });
    const w = toWritable(ch);
    let finished = false;
    w.on('finish', () => {
      finished = true;
    });
    w.write(1);
    w.write(2); // waits for room
    w.end();
    await flush();
    expect(finished).toBe(false);
    expect(ch.isClosed).toBe(false);
    expect(await ch.receive()).toBe(1);
    await flush();
    expect(finished).toBe(true);
    expect(ch.state).toBe('closed');
    expect(await ch.receive()).toBe(2);
    await ch.drained;
  });

  it('close: false leaves the channel open at the end and on destroy', async () => {
    const ch = new Channel<number>({ capacity: 4 });
    const w = toWritable(ch, { close: false });
    w.end(1);
    await flush();
    expect(ch.isClosed).toBe(false);
    const v = toWritable(ch, { close: false });
    v.destroy();
    await flush();
    expect(ch.isClosed).toBe(false);
  });

  it('destroy(err) withdraws the waiting item and reports every held item; the channel closes', async () => {
    const undelivered: number[] = [];
    const ch = new Channel<number>({ capacity: 1 });
    const w = toWritable(ch, { onUndelivered: (item) => undelivered.push(item) });
    ignoreErrors(w);
    // 2 waits for room; 3 and 4 were written although write() said false (Node queues them).
    const { returns, errors } = writeAll(w, [1, 2, 3, 4]);
    expect(returns).toEqual([true, false, false, false]);
    expect(ch.waitingSenders).toBe(1);
    const boom = new Error('boom');
    w.destroy(boom);
    await flush();
    expect(ch.waitingSenders).toBe(0);
    expect(undelivered).toEqual([2, 3, 4]);
    expect(errors[0]).toBeNull();
    expect(errors[1]).toBe(boom); // the withdrawn send rejected with the abort reason
    expect(errors.slice(2)).toEqual([boom, boom]); // Node fails its queue with the error
    expect(ch.state).toBe('closed');
    // Nothing lost: 1 is in the channel, 2..4 were handed back.
    expect(ch.tryReceive()).toStrictEqual({ ok: true, value: 1 });
  });

  it("onAbort: 'destroy' hands back the items the channel discards", async () => {
    const undelivered: number[] = [];
    const discarded: number[] = [];
    const ch = new Channel<number>({ capacity: 2, onDrop: (item) => discarded.push(item) });
    const w = toWritable(ch, { onAbort: 'destroy', onUndelivered: (i) => undelivered.push(i) });
    ignoreErrors(w);
    writeAll(w, [1, 2, 3]);
    w.destroy(new Error('stop'));
    await flush();
    expect(ch.state).toBe('destroyed');
    expect(undelivered.sort()).toEqual([1, 2, 3]);
    expect(discarded).toEqual([1, 2]);
  });

  it("onAbort: 'none' leaves the channel open", async () => {
    const ch = new Channel<number>({ capacity: 2 });
    const w = toWritable(ch, { onAbort: 'none' });
    w.write(1);
    w.destroy();
    await flush();
    expect(ch.state).toBe('open');
    expect(ch.size).toBe(1);
  });

  it('destroy after finish leaves the channel alone', async () => {
    const ch = new Channel<number>({ capacity: 2 });
    const w = toWritable(ch, { close: false, onAbort: 'destroy' });
    w.end(1);
    await flush();
    w.destroy();
    await flush();
    expect(ch.state).toBe('open');
    expect(ch.size).toBe(1);
  });

  it('a channel closed under the Writable fails the write with the item; nothing is lost', async () => {
    const undelivered: number[] = [];
    const ch = new Channel<number>({ capacity: 0 });
    const w = toWritable(ch, { onUndelivered: (item) => undelivered.push(item) });
    let error: unknown;
    w.on('error', (e) => {
      error = e;
    });
    const { errors } = writeAll(w, [1]);
    ch.close();
    await flush();
    expect(errors[0]).toBeInstanceOf(ChannelClosedError);
    expect((errors[0] as ChannelClosedError<number>).value).toBe(1);
    expect(error).toBe(errors[0]);
    expect(undelivered).toEqual([1]);
  });

  it('a write to a closed channel fails synchronously-handed-back; write after end is reported', async () => {
    const undelivered: number[] = [];
    const ch = new Channel<number>({ capacity: 4 });
    ch.close();
    const w = toWritable(ch, { onUndelivered: (item) => undelivered.push(item) });
    ignoreErrors(w);
    const { returns, errors } = writeAll(w, [1]);
    expect(returns).toEqual([false]);
    await flush();
    expect(errors[0]).toBeInstanceOf(ChannelClosedError);
    expect(w.write(2)).toBe(false); // after destroy
    const open = new Channel<number>({ capacity: 4 });
    const v = toWritable(open, { onUndelivered: (item) => undelivered.push(item) });
    ignoreErrors(v);
    v.end();
    expect(v.write(3)).toBe(false); // after end
    await flush();
    expect(undelivered).toEqual([1, 2, 3]);
  });

  it('an onUndelivered that throws is reported on a microtask; the stream carries on', async () => {
    const ch = new Channel<number>({ capacity: 4 });
    ch.close();
    const w = toWritable(ch, {
      onUndelivered: () => {
        throw new Error('hook');
      },
    });
    ignoreErrors(w);
    const { tasks } = withCapturedMicrotasks(() => w.write(1));
    expect(tasks).toHaveLength(1);
    expect(() => tasks[0]!()).toThrow('hook');
    await flush();
  });
});

describe('toReadable', () => {
  it('reads items in order and ends when the channel is closed and drained', async () => {
    const ch = new Channel<number>({ capacity: 4 });
    for (const i of [1, 2, 3]) ch.trySend(i);
    const r = toReadable(ch);
    setImmediate(() => {
      ch.trySend(4);
      ch.close();
    });
    expect(await r.toArray()).toEqual([1, 2, 3, 4]);
    await ch.drained;
  });

  it('takes nothing from the channel until asked (highWaterMark 0)', async () => {
    const ch = new Channel<number>({ capacity: 4 });
    for (const i of [1, 2, 3]) ch.trySend(i);
    const r = toReadable(ch);
    await flush();
    expect(ch.size).toBe(3);
    expect(r.readableHighWaterMark).toBe(0);
    expect(r.read()).toBe(1);
    await flush();
    expect(ch.size).toBe(2);
  });

  it('an empty channel: a paused Readable holds at most one item', async () => {
    const ch = new Channel<number>({ capacity: 4 });
    const r = toReadable(ch);
    expect(r.read()).toBeNull(); // starts a receive
    expect(ch.waitingReceivers).toBe(1);
    ch.trySend(1);
    ch.trySend(2);
    ch.trySend(3);
    await flush();
    expect(r.readableLength).toBe(1);
    expect(ch.size).toBe(2);
  });

  it('destroy() aborts the pending receive, keeps the channel open, and hands back held items', async () => {
    const undelivered: number[] = [];
    const ch = new Channel<number>({ capacity: 4 });
    const r = toReadable(ch, { onUndelivered: (item) => undelivered.push(item) });
    r.read();
    expect(ch.waitingReceivers).toBe(1);
    r.destroy();
    await flush();
    expect(ch.waitingReceivers).toBe(0);
    expect(ch.state).toBe('open');
    expect(undelivered).toEqual([]);

    // An item pushed but not yet read.
    const s = toReadable(ch, { onUndelivered: (item) => undelivered.push(item) });
    s.read();
    ch.trySend(7);
    await flush();
    expect(s.readableLength).toBe(1);
    s.destroy();
    await flush();
    expect(undelivered).toEqual([7]);

    // The race: the channel hands an item to the pending receive, and the Readable is
    // destroyed before that receive's continuation runs.
    const t = toReadable(ch, { onUndelivered: (item) => undelivered.push(item) });
    t.read();
    ch.trySend(8); // handed straight to the waiting receive
    t.destroy();
    await flush();
    expect(undelivered).toEqual([7, 8]);
  });

  it('closeChannelOnCancel closes the channel when destroyed early (not after the end)', async () => {
    const ch = new Channel<number>({ capacity: 4 });
    const r = toReadable(ch, { closeChannelOnCancel: true });
    r.destroy();
    await flush();
    expect(ch.state).toBe('closed');

    const done = new Channel<number>({ capacity: 4 });
    done.close();
    const s = toReadable(done, { closeChannelOnCancel: true });
    expect(await s.toArray()).toEqual([]);
  });

  it('a destroyed channel ends the Readable', async () => {
    const ch = new Channel<number>({ capacity: 4 });
    const r = toReadable(ch);
    const all = r.toArray();
    await flush();
    ch.destroy();
    expect(await all).toEqual([]);
  });
});

describe('pipeline()', () => {
  for (const capacity of [0, 1, 4, 16]) {
    it(`Readable → toWritable(capacity ${capacity}) → slow consumer: never more than capacity + 2 alive`, async () => {
      const ch = new Channel<number>({ capacity });
      let produced = 0;
      let consumed = 0;
      let maxAlive = 0;
      const source = new Readable({
        objectMode: true,
        highWaterMark: 1,
        read() {
          this.push(produced < 300 ? produced++ : null);
        },
      });
      const consumer = (async () => {
        for await (const item of ch) {
          expect(item).toBe(consumed);
          consumed++;
          maxAlive = Math.max(maxAlive, produced - consumed);
          await flush();
        }
      })();
      await pipeline(source, toWritable(ch));
      await consumer;
      expect(consumed).toBe(300);
      // Alive = produced, not yet taken by the consumer: the channel's buffer, the one item
      // waiting for room (sluice's only extra), and the source Readable's own buffer (hwm 1).
      expect(maxAlive).toBeLessThanOrEqual(capacity + 2);
      expect(maxAlive).toBeGreaterThanOrEqual(capacity);
    });
  }

  it('toReadable → slow Writable: the producer runs only as fast as the sink', async () => {
    const ch = new Channel<number>({ capacity: 4 });
    let sent = 0;
    let processed = 0;
    let maxAlive = 0;
    const producer = (async () => {
      for (let i = 0; i < 200; i++) {
        await ch.send(i);
        sent++;
      }
      ch.close();
    })();
    const seen: number[] = [];
    const sink = new Writable({
      objectMode: true,
      highWaterMark: 1,
      write(item: number, _encoding, callback) {
        seen.push(item);
        maxAlive = Math.max(maxAlive, sent - processed);
        setImmediate(() => {
          processed++;
          callback();
        });
      },
    });
    await pipeline(toReadable(ch), sink);
    await producer;
    expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => i));
    // channel (4) + the item the Readable holds (1) + the sink's queue (hwm 1) + in process (1)
    expect(maxAlive).toBeLessThanOrEqual(4 + 3);
  });

  it('channel → channel: closing the first ends the pipeline and closes the second', async () => {
    const a = new Channel<number>({ capacity: 2 });
    const b = new Channel<number>({ capacity: 2 });
    const done = pipeline(toReadable(a), toWritable(b));
    const received = (async () => {
      const out: number[] = [];
      for await (const item of b) out.push(item);
      return out;
    })();
    for (let i = 0; i < 10; i++) await a.send(i);
    a.close();
    await done;
    expect(await received).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(b.state).toBe('closed');
  });

  it('a failing sink: every item is processed, handed back, or still in the channel', async () => {
    const ch = new Channel<number>({ capacity: 4 });
    const undelivered: number[] = [];
    const processed: number[] = [];
    for (let i = 0; i < 4; i++) ch.trySend(i); // fills the channel
    const sink = new Writable({
      objectMode: true,
      highWaterMark: 1,
      write(item: number, _encoding, callback) {
        if (item === 2) callback(new Error('sink failed'));
        else {
          processed.push(item);
          setImmediate(callback);
        }
      },
    });
    const fed = (async () => {
      for (let i = 4; i < 12; i++) await ch.send(i);
    })();
    const readable = toReadable(ch, { onUndelivered: (item) => undelivered.push(item) });
    await expect(pipeline(readable, sink)).rejects.toThrow('sink failed');
    await flush();
    const left: number[] = [];
    for (let r = ch.tryReceive(); r.ok; r = ch.tryReceive()) left.push(r.value);
    await fed;
    for (let r = ch.tryReceive(); r.ok; r = ch.tryReceive()) left.push(r.value);
    // Item 2 reached the sink, which failed it: the sink's business. Everything else is
    // accounted for by sluice.
    const all = [...processed, 2, ...undelivered, ...left].sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(ch.state).toBe('open');
  });

  it('a failing source: toWritable hands back the item in flight and closes the channel', async () => {
    const ch = new Channel<number>({ capacity: 1 });
    const undelivered: number[] = [];
    let next = 1;
    const source = new Readable({
      objectMode: true,
      highWaterMark: 1,
      read() {
        this.push(next++);
      },
    });
    const done = pipeline(
      source,
      toWritable(ch, { onUndelivered: (item) => undelivered.push(item) }),
    );
    await flush();
    expect(ch.waitingSenders).toBe(1); // item 2 waits for room
    source.destroy(new Error('source failed'));
    await expect(done).rejects.toThrow('source failed');
    expect(ch.state).toBe('closed');
    expect(undelivered).toEqual([2]);
    expect(ch.tryReceive()).toStrictEqual({ ok: true, value: 1 });
  });
});

describe('bad input throws synchronously, naming the value', () => {
  const ch = new Channel<number>();
  it.each([
    [
      'toReadable',
      () => toReadable({} as Channel<number>),
      TypeError,
      'Expected `channel` to be a Channel, got `{}` (object)',
    ],
    [
      'toWritable',
      () => toWritable(null as unknown as Channel<number>),
      TypeError,
      'got `null` (null)',
    ],
    ['options', () => toReadable(ch, 5 as never), TypeError, '`options`'],
    [
      'closeChannelOnCancel',
      () => toReadable(ch, { closeChannelOnCancel: 'yes' as never }),
      TypeError,
      '`closeChannelOnCancel` to be a boolean, got `"yes"` (string)',
    ],
    [
      'onUndelivered',
      () => toReadable(ch, { onUndelivered: 3 as never }),
      TypeError,
      '`onUndelivered` to be a function, got `3` (number)',
    ],
    [
      'close',
      () => toWritable(ch, { close: 1 as never }),
      TypeError,
      '`close` to be a boolean, got `1` (number)',
    ],
    [
      'onAbort',
      () => toWritable(ch, { onAbort: 'explode' as never }),
      RangeError,
      "`onAbort` to be one of 'close', 'destroy', 'none', got `\"explode\"` (string)",
    ],
  ] as const)('%s', (_name, fn, kind, message) => {
    const error = caught(fn);
    expect(error).toBeInstanceOf(kind);
    expect(error.message).toContain(message);
  });
});
