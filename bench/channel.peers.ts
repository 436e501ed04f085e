/**
 * The contenders of the channel benchmarks: sluice, the two hand-written baselines and each peer,
 * driven through the same two workloads, each written with the peer's own idiomatic API.
 *
 * - `pipe(capacity, producers, consumers, messages)`: every producer `await`s its sends, every
 *   consumer iterates (`for await` where the peer offers it), then the producers' side closes the
 *   channel; resolves with the sum of every item received (the caller checks it).
 * - `sync(capacity, messages)`: `trySend`/`tryReceive` loops with no awaits: fill the buffer to
 *   capacity, drain it, repeat. At capacity 0 a `trySend` can only succeed into a parked
 *   receiver, so that case parks a `receive()` and hands one item to it per message.
 *
 * A contender that cannot express a scenario returns the reason (a string) from `pipeSupport` /
 * `syncSupport` instead of faking it. Each contender has its own loops (no shared driver) so
 * that no call site is shared, and made megamorphic, across implementations.
 */
import { Readable } from 'node:stream';
import { CountQueuingStrategy, ReadableStream } from 'node:stream/web';
import { FixedBuffer, Repeater } from '@repeaterjs/repeater';
import { Channel as AsyncChannel } from 'async-channel';
import type { Cause, Exit } from 'effect';
import { Effect, Pull, Queue } from 'effect';
import { pushable } from 'it-pushable';
import { Channel as QueueableChannel } from 'queueable';
import { Chan } from 'ts-chan';
import { Channel } from '../dist/index.js';
import { MinimalChannel } from './baselines/minimal-channel.js';
import { RawRing } from './baselines/ring-buffer.js';

export interface Contender {
  readonly name: string;
  /** Why `pipe` cannot run this scenario, or `undefined` when it can. */
  pipeSupport(capacity: number, producers: number, consumers: number): string | undefined;
  pipe(capacity: number, producers: number, consumers: number, messages: number): Promise<number>;
  /** Why `sync` cannot run at this capacity, or `undefined` when it can. */
  syncSupport(capacity: number): string | undefined;
  /** Moves `messages` items through; returns the sum received (a promise at capacity 0). */
  sync(capacity: number, messages: number): number | Promise<number>;
}

/** The sum every workload must produce: each producer sends 0 … messages/producers − 1. */
export function expectedSum(producers: number, messages: number): number {
  const per = messages / producers;
  return (producers * per * (per - 1)) / 2;
}

const NO_SYNC_RECEIVE = 'no sync receive';

function sumAll(values: number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

// ---- sluice ---------------------------------------------------------------------------------

export const sluice: Contender = {
  name: 'sluice Channel',
  pipeSupport: () => undefined,
  async pipe(capacity, producers, consumers, messages) {
    const ch = new Channel<number>({ capacity });
    const per = messages / producers;
    const produce = async () => {
      for (let i = 0; i < per; i++) await ch.send(i);
    };
    const consume = async () => {
      let sum = 0;
      for await (const item of ch) sum += item;
      return sum;
    };
    const taking: Promise<number>[] = [];
    for (let c = 0; c < consumers; c++) taking.push(consume());
    const sending: Promise<void>[] = [];
    for (let p = 0; p < producers; p++) sending.push(produce());
    await Promise.all(sending);
    ch.close();
    return sumAll(await Promise.all(taking));
  },
  syncSupport: () => undefined,
  sync(capacity, messages) {
    const ch = new Channel<number>({ capacity });
    if (capacity === 0) {
      return (async () => {
        let sum = 0;
        for (let i = 0; i < messages; i++) {
          const received = ch.receive();
          if (!ch.trySend(i).ok) throw new Error('trySend to a parked receiver failed');
          sum += await received;
        }
        return sum;
      })();
    }
    let sum = 0;
    for (let i = 0; i < messages; ) {
      const end = Math.min(messages, i + capacity);
      for (let j = i; j < end; j++) ch.trySend(j);
      for (let j = i; j < end; j++) {
        const r = ch.tryReceive();
        if (r.ok) sum += r.value;
      }
      i = end;
    }
    return sum;
  },
};

// ---- baselines ------------------------------------------------------------------------------

export const minimal: Contender = {
  name: 'minimal channel (baseline)',
  pipeSupport: () => undefined,
  async pipe(capacity, producers, consumers, messages) {
    const ch = new MinimalChannel<number>(capacity);
    const per = messages / producers;
    const produce = async () => {
      for (let i = 0; i < per; i++) await ch.send(i);
    };
    const consume = async () => {
      let sum = 0;
      for await (const item of ch) sum += item;
      return sum;
    };
    const taking: Promise<number>[] = [];
    for (let c = 0; c < consumers; c++) taking.push(consume());
    const sending: Promise<void>[] = [];
    for (let p = 0; p < producers; p++) sending.push(produce());
    await Promise.all(sending);
    ch.close();
    return sumAll(await Promise.all(taking));
  },
  syncSupport: () => undefined,
  sync(capacity, messages) {
    const ch = new MinimalChannel<number>(capacity);
    if (capacity === 0) {
      return (async () => {
        let sum = 0;
        for (let i = 0; i < messages; i++) {
          const received = ch.receive();
          if (!ch.trySend(i)) throw new Error('trySend to a parked receiver failed');
          sum += await received;
        }
        return sum;
      })();
    }
    let sum = 0;
    for (let i = 0; i < messages; ) {
      const end = Math.min(messages, i + capacity);
      for (let j = i; j < end; j++) ch.trySend(j);
      for (let j = i; j < end; j++) {
        const v = ch.tryReceive();
        if (v !== undefined) sum += v;
      }
      i = end;
    }
    return sum;
  },
};

export const rawRing: Contender = {
  name: 'raw ring buffer (baseline)',
  pipeSupport: () => 'cannot wait',
  pipe: () => Promise.reject(new Error('unsupported')),
  syncSupport: (capacity) => (capacity === 0 ? 'no waiters' : undefined),
  sync(capacity, messages) {
    const ring = new RawRing<number>(capacity);
    let sum = 0;
    for (let i = 0; i < messages; ) {
      const end = Math.min(messages, i + capacity);
      for (let j = i; j < end; j++) ring.push(j);
      for (let j = i; j < end; j++) {
        const v = ring.shift();
        if (v !== undefined) sum += v;
      }
      i = end;
    }
    return sum;
  },
};

// ---- peers ----------------------------------------------------------------------------------

/**
 * ts-chan, in its fastest mode: `setUnsafe(true)` skips the per-call yield to the macrotask
 * queue that the default mode adds to every `send`/`recv` (see its README).
 */
export const tsChan: Contender = {
  name: 'ts-chan Chan (unsafe mode)',
  pipeSupport: () => undefined,
  async pipe(capacity, producers, consumers, messages) {
    const ch = new Chan<number>(capacity).setUnsafe(true);
    const per = messages / producers;
    const produce = async () => {
      for (let i = 0; i < per; i++) await ch.send(i);
    };
    const consume = async () => {
      let sum = 0;
      for await (const item of ch) sum += item;
      return sum;
    };
    const taking: Promise<number>[] = [];
    for (let c = 0; c < consumers; c++) taking.push(consume());
    const sending: Promise<void>[] = [];
    for (let p = 0; p < producers; p++) sending.push(produce());
    await Promise.all(sending);
    ch.close();
    return sumAll(await Promise.all(taking));
  },
  syncSupport: () => undefined,
  sync(capacity, messages) {
    const ch = new Chan<number>(capacity).setUnsafe(true);
    if (capacity === 0) {
      return (async () => {
        let sum = 0;
        for (let i = 0; i < messages; i++) {
          const received = ch.recv();
          if (!ch.trySend(i)) throw new Error('trySend to a parked receiver failed');
          sum += (await received).value ?? 0;
        }
        return sum;
      })();
    }
    let sum = 0;
    for (let i = 0; i < messages; ) {
      const end = Math.min(messages, i + capacity);
      for (let j = i; j < end; j++) ch.trySend(j);
      for (let j = i; j < end; j++) {
        const r = ch.tryRecv();
        if (r !== undefined && !r.done) sum += r.value;
      }
      i = end;
    }
    return sum;
  },
};

/**
 * queueable's `Channel`: `push` resolves when the item is pulled, so `await push` is a
 * rendezvous (capacity 0). Its `limit` makes the buffer drop the oldest item, not wait, so it
 * has no bounded buffer that makes producers wait.
 */
export const queueable: Contender = {
  name: 'queueable Channel',
  pipeSupport: (capacity) => (capacity === 0 ? undefined : 'no blocking bound'),
  async pipe(_capacity, producers, consumers, messages) {
    const ch = new QueueableChannel<number>();
    const per = messages / producers;
    const produce = async () => {
      for (let i = 0; i < per; i++) await ch.push(i);
    };
    const consume = async () => {
      let sum = 0;
      for await (const item of ch) sum += item;
      return sum;
    };
    const taking: Promise<number>[] = [];
    for (let c = 0; c < consumers; c++) taking.push(consume());
    const sending: Promise<void>[] = [];
    for (let p = 0; p < producers; p++) sending.push(produce());
    await Promise.all(sending);
    // Every push has been pulled (that is when it resolves), so closing loses nothing.
    ch.close();
    return sumAll(await Promise.all(taking));
  },
  syncSupport: () => NO_SYNC_RECEIVE,
  sync: () => 0,
};

/**
 * Effect's `Queue.bounded` (suspend strategy), offered and taken from fibers, run with
 * `Effect.runPromise`; consumers take until the queue is ended (`Cause.Done`). The synchronous
 * API is `offerUnsafe`/`takeUnsafe`.
 */
export const effectQueue: Contender = {
  name: 'effect Queue.bounded',
  pipeSupport: () => undefined,
  pipe(capacity, producers, consumers, messages) {
    const per = messages / producers;
    const program = Effect.gen(function* () {
      const queue = yield* Queue.bounded<number, Cause.Done>(capacity);
      const produce = Effect.gen(function* () {
        for (let i = 0; i < per; i++) yield* Queue.offer(queue, i);
      });
      const consume = Effect.suspend(() => {
        let sum = 0;
        return Effect.gen(function* () {
          for (;;) sum += yield* Queue.take(queue);
        }).pipe(Pull.catchDone(() => Effect.sync(() => sum)));
      });
      const sending = Effect.all(
        Array.from({ length: producers }, () => produce),
        {
          concurrency: 'unbounded',
          discard: true,
        },
      ).pipe(Effect.andThen(Queue.end(queue)));
      const taking = Effect.all(
        Array.from({ length: consumers }, () => consume),
        { concurrency: 'unbounded' },
      );
      const [, sums] = yield* Effect.all([sending, taking], { concurrency: 'unbounded' });
      return sumAll(sums);
    });
    return Effect.runPromise(program);
  },
  syncSupport: (capacity) => (capacity === 0 ? 'needs a taker fiber' : undefined),
  sync(capacity, messages) {
    const queue = Effect.runSync(Queue.bounded<number>(capacity));
    let sum = 0;
    for (let i = 0; i < messages; ) {
      const end = Math.min(messages, i + capacity);
      for (let j = i; j < end; j++) Queue.offerUnsafe(queue, j);
      for (let j = i; j < end; j++) {
        const exit: Exit.Exit<number> | undefined = Queue.takeUnsafe(queue);
        if (exit !== undefined && exit._tag === 'Success') sum += exit.value;
      }
      i = end;
    }
    return sum;
  },
};

/** async-channel's `Channel`: `await push`, `for await`, `close()` drains gracefully. */
export const asyncChannel: Contender = {
  name: 'async-channel Channel',
  pipeSupport: () => undefined,
  async pipe(capacity, producers, consumers, messages) {
    // Note: the channel is a thenable (it has `then`), so it is never returned from an async fn.
    const ch = new AsyncChannel<number>(capacity);
    const per = messages / producers;
    const produce = async () => {
      for (let i = 0; i < per; i++) await ch.push(i);
    };
    const consume = async () => {
      let sum = 0;
      for await (const item of ch) sum += item;
      return sum;
    };
    const taking: Promise<number>[] = [];
    for (let c = 0; c < consumers; c++) taking.push(consume());
    const sending: Promise<void>[] = [];
    for (let p = 0; p < producers; p++) sending.push(produce());
    await Promise.all(sending);
    ch.close();
    return sumAll(await Promise.all(taking));
  },
  syncSupport: () => NO_SYNC_RECEIVE,
  sync: () => 0,
};

/**
 * @repeaterjs/repeater with a `FixedBuffer(capacity)` (no buffer at capacity 0, where `push`
 * resolves once the item is taken). Producers run inside the executor; consumers share the
 * repeater with `for await`.
 */
export const repeater: Contender = {
  name: 'repeater (FixedBuffer)',
  pipeSupport: () => undefined,
  async pipe(capacity, producers, consumers, messages) {
    const per = messages / producers;
    const source = new Repeater<number>(
      async (push, stop) => {
        const produce = async () => {
          for (let i = 0; i < per; i++) await push(i);
        };
        const sending: Promise<void>[] = [];
        for (let p = 0; p < producers; p++) sending.push(produce());
        await Promise.all(sending);
        stop();
      },
      capacity === 0 ? undefined : new FixedBuffer(capacity),
    );
    const consume = async () => {
      let sum = 0;
      for await (const item of source) sum += item;
      return sum;
    };
    const taking: Promise<number>[] = [];
    for (let c = 0; c < consumers; c++) taking.push(consume());
    return sumAll(await Promise.all(taking));
  },
  syncSupport: () => NO_SYNC_RECEIVE,
  sync: () => 0,
};

/**
 * it-pushable: an unbounded queue with a synchronous `push` (nothing to await), read with
 * `for await`. A reference point with no backpressure; capacity does not apply.
 */
export const itPushable: Contender = {
  name: 'it-pushable (unbounded)',
  pipeSupport: (_capacity, _producers, consumers) =>
    consumers === 1 ? undefined : 'single consumer',
  async pipe(_capacity, producers, _consumers, messages) {
    const source = pushable<number>({ objectMode: true });
    const per = messages / producers;
    const produce = async () => {
      for (let i = 0; i < per; i++) source.push(i);
    };
    const consume = async () => {
      let sum = 0;
      for await (const item of source) sum += item;
      return sum;
    };
    const taking = consume();
    const sending: Promise<void>[] = [];
    for (let p = 0; p < producers; p++) sending.push(produce());
    await Promise.all(sending);
    source.end();
    return taking;
  },
  syncSupport: () => NO_SYNC_RECEIVE,
  sync: () => 0,
};

/**
 * Node `Readable` in object mode with `highWaterMark = capacity`: a producer pushes, and when
 * `push` returns false waits for the stream's `read()` call; the consumer uses `for await`.
 * A Readable has one consumer. Its synchronous API is `push`/`read()` (paused mode); `push`
 * never refuses an item (the high-water mark is advisory), so the loop stays within capacity
 * itself.
 */
export const nodeReadable: Contender = {
  name: 'node Readable (objectMode)',
  pipeSupport: (_capacity, _producers, consumers) =>
    consumers === 1 ? undefined : 'single consumer',
  async pipe(capacity, producers, _consumers, messages) {
    let waiting: (() => void)[] = [];
    const stream = new Readable({
      objectMode: true,
      highWaterMark: capacity,
      read() {
        const wake = waiting;
        waiting = [];
        for (const resume of wake) resume();
      },
    });
    const per = messages / producers;
    const produce = async () => {
      for (let i = 0; i < per; i++) {
        if (!stream.push(i)) await new Promise<void>((resolve) => waiting.push(resolve));
      }
    };
    const consume = async () => {
      let sum = 0;
      for await (const item of stream) sum += item as number;
      return sum;
    };
    const taking = consume();
    const sending: Promise<void>[] = [];
    for (let p = 0; p < producers; p++) sending.push(produce());
    await Promise.all(sending);
    stream.push(null);
    return taking;
  },
  syncSupport: (capacity) => (capacity === 0 ? 'push always buffers' : undefined),
  sync(capacity, messages) {
    const stream = new Readable({ objectMode: true, highWaterMark: capacity, read() {} });
    let sum = 0;
    for (let i = 0; i < messages; ) {
      const end = Math.min(messages, i + capacity);
      for (let j = i; j < end; j++) stream.push(j);
      for (let j = i; j < end; j++) {
        const v = stream.read() as number | null;
        if (v !== null) sum += v;
      }
      i = end;
    }
    stream.destroy();
    return sum;
  },
};

/**
 * Web `ReadableStream` with `CountQueuingStrategy({ highWaterMark: capacity })`: a producer
 * enqueues, and while `desiredSize <= 0` waits for the stream's `pull()`. One consumer uses
 * `for await`; four consumers share one reader and each loops on `reader.read()` (a stream
 * has one reader; pending reads queue on it).
 */
export const webStream: Contender = {
  name: 'web ReadableStream (CountQueuing)',
  pipeSupport: () => undefined,
  async pipe(capacity, producers, consumers, messages) {
    let waiting: (() => void)[] = [];
    let controller!: ReadableStreamDefaultController<number>;
    const stream = new ReadableStream<number>(
      {
        start(c) {
          controller = c;
        },
        pull() {
          const wake = waiting;
          waiting = [];
          for (const resume of wake) resume();
        },
      },
      new CountQueuingStrategy({ highWaterMark: capacity }),
    );
    const per = messages / producers;
    const produce = async () => {
      for (let i = 0; i < per; i++) {
        controller.enqueue(i);
        if ((controller.desiredSize ?? 0) <= 0) {
          await new Promise<void>((resolve) => waiting.push(resolve));
        }
      }
    };
    let taking: Promise<number>;
    if (consumers === 1) {
      taking = (async () => {
        let sum = 0;
        for await (const item of stream) sum += item;
        return sum;
      })();
    } else {
      const reader = stream.getReader();
      const consume = async () => {
        let sum = 0;
        for (;;) {
          const r = await reader.read();
          if (r.done) return sum;
          sum += r.value;
        }
      };
      const all: Promise<number>[] = [];
      for (let c = 0; c < consumers; c++) all.push(consume());
      taking = Promise.all(all).then(sumAll);
    }
    const sending: Promise<void>[] = [];
    for (let p = 0; p < producers; p++) sending.push(produce());
    await Promise.all(sending);
    controller.close();
    return taking;
  },
  syncSupport: () => NO_SYNC_RECEIVE,
  sync: () => 0,
};

/** Every contender, in table order. */
export const contenders: readonly Contender[] = [
  sluice,
  minimal,
  rawRing,
  tsChan,
  queueable,
  effectQueue,
  asyncChannel,
  repeater,
  itPushable,
  nodeReadable,
  webStream,
];
