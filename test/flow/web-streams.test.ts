/**
 * WHATWG stream adapters and fromAsyncIterable. No timers: a slow consumer is one that waits a
 * macrotask turn (`flush`) between items.
 */
import { describe, expect, it } from 'vitest';
import {
  fromAsyncIterable,
  toReadableStream,
  toWritableStream,
} from '../../src/flow/web-streams.js';
import { Channel, ChannelClosedError, ChannelFullError } from '../../src/index.js';
import { withCapturedMicrotasks } from '../channel/channel.helpers.js';
import { flush, microtasks } from '../support/clock.js';
import { caught, rejection } from '../support/errors.js';
import { probe } from '../support/outcome.js';
import { listeners } from '../support/signals.js';

/** Everything an async iterable yields (Array.fromAsync arrived in Node 22). */
async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** A pull source of 0 … n-1 that counts what it produced (highWaterMark 0: no read-ahead). */
function counting(n: number): { stream: ReadableStream<number>; produced: () => number } {
  let produced = 0;
  const stream = new ReadableStream<number>(
    {
      pull(controller) {
        if (produced < n) controller.enqueue(produced++);
        else controller.close();
      },
    },
    new CountQueuingStrategy({ highWaterMark: 0 }),
  );
  return { stream, produced: () => produced };
}

describe('toReadableStream', () => {
  it('reads in order and closes when the channel is closed and drained', async () => {
    const ch = new Channel<number>({ capacity: 4 });
    ch.trySend(1);
    ch.trySend(2);
    const stream = toReadableStream(ch);
    const all = collect(stream);
    await flush();
    ch.trySend(3); // handed to the pending pull
    ch.close();
    expect(await all).toEqual([1, 2, 3]);
  });

  it('takes nothing from the channel until a reader asks (highWaterMark 0)', async () => {
    const ch = new Channel<number>({ capacity: 4 });
    for (const i of [1, 2, 3]) ch.trySend(i);
    const stream = toReadableStream(ch);
    await flush();
    expect(ch.size).toBe(3);
    const reader = stream.getReader();
    expect(await reader.read()).toEqual({ done: false, value: 1 });
    await flush();
    expect(ch.size).toBe(2);
  });

  it('a destroyed channel closes the stream', async () => {
    const ch = new Channel<number>({ capacity: 4 });
    const reader = toReadableStream(ch).getReader();
    const read = reader.read();
    await flush();
    ch.destroy();
    expect(await read).toEqual({ done: true, value: undefined });
  });

  it('cancel() aborts the pending receive and leaves a shared channel open', async () => {
    const ch = new Channel<number>({ capacity: 4 });
    const reader = toReadableStream(ch).getReader();
    const read = reader.read();
    await flush();
    expect(ch.waitingReceivers).toBe(1);
    await reader.cancel('done');
    expect(await read).toEqual({ done: true, value: undefined });
    expect(ch.waitingReceivers).toBe(0);
    expect(ch.state).toBe('open');
    ch.trySend(1);
    expect(ch.size).toBe(1); // nothing consumed it
  });

  it('closeChannelOnCancel: true closes the channel on cancel', async () => {
    const ch = new Channel<number>({ capacity: 4 });
    ch.trySend(1);
    await toReadableStream(ch, { closeChannelOnCancel: true }).cancel();
    expect(ch.state).toBe('closed');
    expect(ch.tryReceive()).toStrictEqual({ ok: true, value: 1 }); // still receivable
  });

  it('an item the channel hands over as the stream is cancelled goes to onUndelivered', async () => {
    const undelivered: number[] = [];
    const ch = new Channel<number>();
    const reader = toReadableStream(ch, {
      onUndelivered: (item) => undelivered.push(item),
    }).getReader();
    const read = reader.read();
    await flush();
    expect(ch.trySend(7)).toStrictEqual({ ok: true }); // taken by the pending receive
    const cancelled = reader.cancel(); // before the receive's continuation runs
    await cancelled;
    await read;
    await flush();
    expect(undelivered).toEqual([7]);
    // Without the option the item is dropped (documented); the stream still ends cleanly.
    const other = toReadableStream(ch).getReader();
    const r2 = other.read();
    await flush();
    ch.trySend(8);
    await other.cancel();
    expect(await r2).toEqual({ done: true, value: undefined });
  });

  it('pipeTo a slow sink: the producer never runs ahead of capacity + 3', async () => {
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
    const sink = new WritableStream<number>(
      {
        async write(item) {
          seen.push(item);
          maxAlive = Math.max(maxAlive, sent - processed);
          await flush();
          processed++;
        },
      },
      new CountQueuingStrategy({ highWaterMark: 1 }),
    );
    await toReadableStream(ch).pipeTo(sink);
    await producer;
    expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => i));
    // channel (4) + the sink's queue (1) + the item being written (1) + the waiting sender (1)
    expect(maxAlive).toBeLessThanOrEqual(4 + 3);
  });
});

describe('toWritableStream: desiredSize and ready', () => {
  for (const capacity of [0, 1, 16]) {
    it(`capacity ${capacity}: ready waits exactly when a plain send would`, async () => {
      const ch = new Channel<number>({ capacity });
      const writer = toWritableStream(ch).getWriter();
      expect(writer.desiredSize).toBe(1);
      for (let i = 0; i < capacity; i++) {
        await writer.ready;
        const written = writer.write(i);
        expect(writer.desiredSize).toBe(0); // the item in flight
        await written;
        expect(ch.size).toBe(i + 1);
        expect(writer.desiredSize).toBe(1); // accepted: room for the next write
      }
      await writer.ready;
      const blocked = probe(writer.write(capacity));
      const ready = probe(writer.ready);
      await flush();
      expect(ch.waitingSenders).toBe(1);
      expect(blocked.status).toBe('pending');
      expect(ready.status).toBe('pending');
      expect(writer.desiredSize).toBe(0);

      expect(await ch.receive()).toBe(0);
      await microtasks(8);
      expect(blocked.status).toBe('fulfilled');
      expect(ready.status).toBe('fulfilled');
      expect(writer.desiredSize).toBe(1);
      expect(ch.size).toBe(capacity);
    });
  }

  it('a waiting receiver counts as room', async () => {
    const ch = new Channel<string>();
    const writer = toWritableStream(ch).getWriter();
    const got = ch.receive();
    await writer.write('a');
    expect(await got).toBe('a');
    expect(writer.desiredSize).toBe(1);
  });

  it('under drop-newest writes never wait; drops go to onDrop', async () => {
    const dropped: number[] = [];
    const ch = new Channel<number>({
      capacity: 1,
      overflow: 'drop-newest',
      onDrop: (item) => dropped.push(item),
    });
    const writer = toWritableStream(ch).getWriter();
    for (const i of [1, 2, 3]) await writer.write(i);
    expect(dropped).toEqual([2, 3]);
  });
});

describe('toWritableStream: closing, aborting, errors', () => {
  it('close() closes the channel; close: false does not', async () => {
    const ch = new Channel<number>({ capacity: 2 });
    const writer = toWritableStream(ch).getWriter();
    await writer.write(1);
    await writer.close();
    expect(ch.state).toBe('closed');
    expect(ch.tryReceive()).toStrictEqual({ ok: true, value: 1 });

    const shared = new Channel<number>({ capacity: 2 });
    await toWritableStream(shared, { close: false }).getWriter().close();
    expect(shared.state).toBe('open');
    await toWritableStream(shared, { close: false }).abort();
    expect(shared.state).toBe('open'); // onAbort follows close: 'none'
  });

  it('abort() withdraws the waiting item (to onUndelivered) and closes the channel', async () => {
    const undelivered: number[] = [];
    const ch = new Channel<number>({ capacity: 1 });
    const writer = toWritableStream(ch, {
      onUndelivered: (item) => undelivered.push(item),
    }).getWriter();
    await writer.write(1);
    const blocked = rejection(writer.write(2));
    await flush();
    expect(ch.waitingSenders).toBe(1);
    await writer.abort('stop');
    expect(await blocked).toBe('stop');
    expect(ch.waitingSenders).toBe(0);
    expect(undelivered).toEqual([2]);
    expect(ch.state).toBe('closed');
    expect(ch.tryReceive()).toStrictEqual({ ok: true, value: 1 });
  });

  it("onAbort: 'destroy' hands back what the channel discards; 'none' leaves it", async () => {
    const undelivered: number[] = [];
    const discarded: number[] = [];
    const ch = new Channel<number>({ capacity: 2, onDrop: (item) => discarded.push(item) });
    const writer = toWritableStream(ch, {
      onAbort: 'destroy',
      onUndelivered: (item) => undelivered.push(item),
    }).getWriter();
    await writer.write(1);
    await writer.write(2);
    await writer.abort();
    expect(ch.state).toBe('destroyed');
    expect(undelivered).toEqual([1, 2]);
    expect(discarded).toEqual([1, 2]);

    const kept = new Channel<number>({ capacity: 2 });
    const w2 = toWritableStream(kept, { onAbort: 'none' }).getWriter();
    await w2.write(1);
    await w2.abort();
    expect(kept.state).toBe('open');
    expect(kept.size).toBe(1);
  });

  it('a channel closed under the stream errors it; the item is handed back', async () => {
    const undelivered: number[] = [];
    const ch = new Channel<number>();
    const writer = toWritableStream(ch, {
      onUndelivered: (item) => undelivered.push(item),
    }).getWriter();
    const blocked = rejection(writer.write(1));
    await flush();
    ch.close();
    const error = await blocked;
    expect(error).toBeInstanceOf(ChannelClosedError);
    expect((error as ChannelClosedError<number>).value).toBe(1);
    expect(undelivered).toEqual([1]);
    expect(await rejection(writer.closed)).toBe(error);
  });

  it('reject policy: a full channel errors the stream with ChannelFullError and closes it', async () => {
    const undelivered: number[] = [];
    const ch = new Channel<number>({ capacity: 1, overflow: 'reject' });
    const writer = toWritableStream(ch, {
      onUndelivered: (item) => undelivered.push(item),
    }).getWriter();
    await writer.write(1);
    const error = await rejection(writer.write(2));
    expect(error).toBeInstanceOf(ChannelFullError);
    expect(undelivered).toEqual([2]);
    expect(ch.state).toBe('closed'); // the stream ended early: onAbort 'close'
    expect(ch.tryReceive()).toStrictEqual({ ok: true, value: 1 });
  });

  it('the signal option errors an idle stream at once and leaves no listener behind', async () => {
    const ch = new Channel<number>({ capacity: 2 });
    const controller = new AbortController();
    const writer = toWritableStream(ch, { signal: controller.signal }).getWriter();
    await writer.write(1);
    expect(listeners(controller.signal)).toBe(1);
    controller.abort('stop');
    expect(await rejection(writer.closed)).toBe('stop');
    expect(ch.state).toBe('closed');
    expect(listeners(controller.signal)).toBe(0);

    const early = toWritableStream(ch, { signal: AbortSignal.abort('x'), onAbort: 'none' });
    expect(await rejection(early.getWriter().closed)).toBe('x');

    const other = new Channel<number>({ capacity: 2 });
    const kept = new AbortController();
    const w2 = toWritableStream(other, { signal: kept.signal }).getWriter();
    await w2.close();
    expect(listeners(kept.signal)).toBe(0);
    kept.abort();
    expect(other.state).toBe('closed');
  });

  it('an onUndelivered that throws is reported on a microtask', async () => {
    const ch = new Channel<number>({ capacity: 2 });
    const writer = toWritableStream(ch, {
      onAbort: 'destroy',
      onUndelivered: () => {
        throw new Error('hook');
      },
    }).getWriter();
    await writer.write(1);
    const { result, tasks } = withCapturedMicrotasks(() => writer.abort());
    const thrown = tasks.filter((task) => {
      try {
        task();
        return false;
      } catch (error) {
        return (error as Error).message === 'hook';
      }
    });
    expect(thrown).toHaveLength(1);
    await result;
    expect(ch.state).toBe('destroyed');
  });
});

describe('pipeTo', () => {
  for (const capacity of [0, 1, 4, 16]) {
    it(`source → toWritableStream(capacity ${capacity}) → slow consumer: never more than capacity + 2 alive`, async () => {
      const ch = new Channel<number>({ capacity });
      const { stream, produced } = counting(300);
      let consumed = 0;
      let maxAlive = 0;
      const consumer = (async () => {
        for await (const item of ch) {
          expect(item).toBe(consumed);
          consumed++;
          maxAlive = Math.max(maxAlive, produced() - consumed);
          await flush();
        }
      })();
      await stream.pipeTo(toWritableStream(ch));
      await consumer;
      expect(consumed).toBe(300);
      // Alive: the channel's buffer, the stream's one item in flight (a waiting sender), and
      // at most one chunk pipeTo has read and not yet written.
      expect(maxAlive).toBeLessThanOrEqual(capacity + 2);
    });
  }

  it('aborting pipeTo (signal shared): every item is received, handed back, or in the channel', async () => {
    const ch = new Channel<number>({ capacity: 2 });
    const { stream, produced } = counting(1000);
    const undelivered: number[] = [];
    const received: number[] = [];
    const controller = new AbortController();
    const { signal } = controller;
    const piped = rejection(
      stream.pipeTo(
        toWritableStream(ch, { signal, onUndelivered: (item) => undelivered.push(item) }),
        { signal },
      ),
    );
    for (let i = 0; i < 5; i++) {
      received.push(await ch.receive());
      await flush();
    }
    expect(ch.waitingSenders).toBe(1);
    controller.abort(new Error('enough'));
    expect(((await piped) as Error).message).toBe('enough');
    expect(ch.state).toBe('closed');
    expect(ch.waitingSenders).toBe(0);
    const left = await collect(ch);
    const all = [...received, ...left, ...undelivered].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: produced() }, (_, i) => i));
    expect(undelivered).toHaveLength(1);
  });

  it('pipeTo alone waits for the write in flight before aborting (Streams spec)', async () => {
    const ch = new Channel<number>({ capacity: 1 });
    const { stream } = counting(10);
    const controller = new AbortController();
    const piped = probe(stream.pipeTo(toWritableStream(ch), { signal: controller.signal }));
    await flush();
    expect(ch.waitingSenders).toBe(1);
    controller.abort(new Error('enough'));
    await flush();
    expect(piped.status).toBe('pending'); // the blocked send holds pipeTo's shutdown
    expect(await ch.receive()).toBe(0); // room: the write finishes, then pipeTo aborts
    await flush();
    expect(piped.status).toBe('rejected');
    expect(ch.state).toBe('closed');
    expect(ch.tryReceive()).toStrictEqual({ ok: true, value: 1 });
  });

  it('channel → channel through both adapters', async () => {
    const a = new Channel<number>({ capacity: 2 });
    const b = new Channel<number>({ capacity: 2 });
    const piped = toReadableStream(a).pipeTo(toWritableStream(b));
    const out = collect(b);
    for (let i = 0; i < 10; i++) await a.send(i);
    a.close();
    await piped;
    expect(await out).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('a failing destination cancels the readable: the channel stays open, nothing consumed', async () => {
    const ch = new Channel<number>({ capacity: 4 });
    for (const i of [1, 2, 3]) ch.trySend(i);
    const got: number[] = [];
    const sink = new WritableStream<number>({
      write(item) {
        got.push(item);
        if (item === 2) throw new Error('sink failed');
      },
    });
    const error = await rejection(toReadableStream(ch).pipeTo(sink));
    expect((error as Error).message).toBe('sink failed');
    expect(ch.state).toBe('open');
    expect(got).toEqual([1, 2]);
    expect(ch.tryReceive()).toStrictEqual({ ok: true, value: 3 });
  });
});

describe('fromAsyncIterable', () => {
  it('never has more than one value pulled and not yet accepted', async () => {
    const ch = new Channel<number>({ capacity: 2 });
    let pulled = 0;
    let worst = 0;
    async function* source(): AsyncGenerator<number> {
      for (let i = 0; i < 50; i++) {
        // Resumed = next() called: every value pulled so far was accepted.
        worst = Math.max(worst, pulled - ch.stats().sent);
        pulled++;
        yield i;
      }
    }
    const fed = fromAsyncIterable(source(), ch);
    const out: number[] = [];
    for await (const item of ch) {
      out.push(item);
      expect(pulled - ch.stats().sent).toBeLessThanOrEqual(1);
      await flush();
    }
    expect(await fed).toEqual({ pulled: 50, sent: 50, dropped: 0 });
    expect(out).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(worst).toBe(0);
    expect(ch.state).toBe('closed');
  });

  it('accepts sync iterables; close: false leaves the channel open; counts drops', async () => {
    const ch = new Channel<number>({ capacity: 2, overflow: 'drop-newest' });
    expect(await fromAsyncIterable([1, 2, 3, 4], ch, { close: false })).toEqual({
      pulled: 4,
      sent: 2,
      dropped: 2,
    });
    expect(ch.state).toBe('open');
  });

  it('abort while a send waits: withdraws the value, calls return(), rejects, closes', async () => {
    const ch = new Channel<number>();
    const undelivered: number[] = [];
    let returned = false;
    async function* source(): AsyncGenerator<number> {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        returned = true;
      }
    }
    const controller = new AbortController();
    const fed = rejection(
      fromAsyncIterable(source(), ch, {
        signal: controller.signal,
        onUndelivered: (item) => undelivered.push(item),
      }),
    );
    expect(await ch.receive()).toBe(0);
    await flush();
    expect(ch.waitingSenders).toBe(1);
    controller.abort('stop');
    expect(await fed).toBe('stop');
    expect(returned).toBe(true);
    expect(undelivered).toEqual([1]);
    expect(ch.waitingSenders).toBe(0);
    expect(ch.state).toBe('closed');
    expect(listeners(controller.signal)).toBe(0);
  });

  it('abort while next() is pending: rejects at once; the late value is handed back', async () => {
    const ch = new Channel<number>({ capacity: 4 });
    const undelivered: number[] = [];
    let release: (() => void) | undefined;
    let returnCalls = 0;
    const iterator: AsyncIterableIterator<number> = {
      next: () =>
        new Promise((resolve) => {
          release = () => resolve({ done: false, value: 42 });
        }),
      return: async () => {
        returnCalls++;
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
    const controller = new AbortController();
    const fed = probe(
      fromAsyncIterable(iterator, ch, {
        signal: controller.signal,
        onUndelivered: (item) => undelivered.push(item),
      }),
    );
    await flush();
    controller.abort('stop');
    await flush();
    expect(fed.status).toBe('rejected');
    expect(fed.reason).toBe('stop');
    expect(returnCalls).toBe(1);
    release?.();
    await flush();
    expect(undelivered).toEqual([42]);
    expect(ch.size).toBe(0);
    expect(listeners(controller.signal)).toBe(0);
  });

  it('an already-aborted signal pulls nothing', async () => {
    const ch = new Channel<number>({ capacity: 4 });
    let pulled = 0;
    const iterable = {
      *[Symbol.iterator]() {
        pulled++;
        yield 1;
      },
    };
    expect(
      await rejection(fromAsyncIterable(iterable, ch, { signal: AbortSignal.abort('x') })),
    ).toBe('x');
    expect(pulled).toBe(0);
    expect(ch.state).toBe('closed');
  });

  it('the iterable throws: rejects with its error and closes the channel', async () => {
    const ch = new Channel<number>({ capacity: 4 });
    async function* source(): AsyncGenerator<number> {
      yield 1;
      throw new Error('source failed');
    }
    const error = await rejection(fromAsyncIterable(source(), ch));
    expect((error as Error).message).toBe('source failed');
    expect(ch.state).toBe('closed');
    expect(ch.tryReceive()).toStrictEqual({ ok: true, value: 1 });
  });

  it('the channel closes under it: rejects with ChannelClosedError carrying the value', async () => {
    const ch = new Channel<number>();
    const undelivered: number[] = [];
    let returned = false;
    const iterable = {
      [Symbol.iterator]() {
        let i = 0;
        return {
          next: () => ({ done: false, value: i++ }),
          return: () => {
            returned = true;
            throw new Error('ignored: the channel error wins');
          },
        };
      },
    } as Iterable<number>;
    const fed = rejection(
      fromAsyncIterable(iterable, ch, { onUndelivered: (item) => undelivered.push(item) }),
    );
    await flush();
    ch.close();
    const error = await fed;
    expect(error).toBeInstanceOf(ChannelClosedError);
    expect((error as ChannelClosedError<number>).value).toBe(0);
    expect(undelivered).toEqual([0]);
    expect(returned).toBe(true);
  });
});

describe('bad input throws synchronously, naming the value', () => {
  const ch = new Channel<number>();
  it.each([
    [
      'toReadableStream channel',
      () => toReadableStream([] as never),
      TypeError,
      'Expected `channel` to be a Channel, got `[]` (array)',
    ],
    [
      'toWritableStream channel',
      () => toWritableStream(undefined as never),
      TypeError,
      'got `undefined` (undefined)',
    ],
    ['options', () => toWritableStream(ch, 'x' as never), TypeError, '`options`'],
    [
      'closeChannelOnCancel',
      () => toReadableStream(ch, { closeChannelOnCancel: 0 as never }),
      TypeError,
      '`closeChannelOnCancel` to be a boolean, got `0` (number)',
    ],
    [
      'onUndelivered',
      () => toWritableStream(ch, { onUndelivered: {} as never }),
      TypeError,
      '`onUndelivered` to be a function',
    ],
    [
      'onAbort',
      () => toWritableStream(ch, { onAbort: 'drop' as never }),
      RangeError,
      "`onAbort` to be one of 'close', 'destroy', 'none', got `\"drop\"` (string)",
    ],
    [
      'iterable',
      () => fromAsyncIterable(5 as never, ch),
      TypeError,
      'Expected `iterable` to be an iterable or async iterable, got `5` (number)',
    ],
    ['iterable null', () => fromAsyncIterable(null as never, ch), TypeError, 'got `null` (null)'],
    ['fromAsyncIterable channel', () => fromAsyncIterable([], {} as never), TypeError, '`channel`'],
    [
      'signal',
      () => fromAsyncIterable([], ch, { signal: 'x' as never }),
      TypeError,
      '`signal` to be an AbortSignal',
    ],
    [
      'close',
      () => fromAsyncIterable([], ch, { close: 'no' as never }),
      TypeError,
      '`close` to be a boolean',
    ],
  ] as const)('%s', (_name, fn, kind, message) => {
    const error = caught(fn);
    expect(error).toBeInstanceOf(kind);
    expect(error.message).toContain(message);
  });
});
