/**
 * merge: fan-in from channels and async iterables. Fairness is checked statistically (each of
 * two always-ready sources gets half the items, within 10 sigma); nothing sleeps.
 */
import { describe, expect, it } from 'vitest';
import { merge } from '../../src/flow/merge.js';
import { Channel, ChannelClosedError } from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { flush } from '../support/clock.js';
import { caught, rejection } from '../support/errors.js';
import { probe } from '../support/outcome.js';
import { listeners } from '../support/signals.js';

interface Tracked {
  pulled: number;
  returned: boolean;
}

/** `tag`-0 … `tag`-(n-1) (Infinity: endless), then `fail` if given; records pulls and return(). */
function source(
  tag: string,
  n: number,
  fail?: Error,
): { iterable: AsyncIterable<string> } & Tracked {
  const tracked = { pulled: 0, returned: false };
  async function* gen(): AsyncGenerator<string> {
    let ended = false;
    try {
      for (let i = 0; i < n; i++) {
        tracked.pulled++;
        yield `${tag}${i}`;
      }
      ended = true;
      if (fail !== undefined) throw fail;
    } finally {
      if (!ended) tracked.returned = true;
    }
  }
  return Object.assign(tracked, { iterable: gen() });
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

const ofTag = (items: readonly string[], tag: string) => items.filter((i) => i.startsWith(tag));

describe('merge', () => {
  it.each([0, 1, 4])(
    'yields every item, each source in its own order, and ends when all end (capacity %i)',
    async (capacity) => {
      const a = source('a', 20);
      const b = source('b', 5);
      const c = new Channel<string>({ capacity: 10 });
      for (let i = 0; i < 7; i++) c.trySend(`c${i}`);
      c.close();
      const merged = merge([a.iterable, b.iterable, c], { capacity });
      const items = await collect(merged);
      expect(items).toHaveLength(32);
      expect(ofTag(items, 'a')).toEqual(Array.from({ length: 20 }, (_, i) => `a${i}`));
      expect(ofTag(items, 'b')).toEqual(Array.from({ length: 5 }, (_, i) => `b${i}`));
      expect(ofTag(items, 'c')).toEqual(Array.from({ length: 7 }, (_, i) => `c${i}`));
      expect(merged.activeSources).toBe(0);
      expect(merged.failure).toBeUndefined();
      await merged.settled;
      merged.assertInvariants();
      expect(await rejection(merged.receive())).toBeInstanceOf(ChannelClosedError);
      expect(merged.tryReceive()).toEqual({ ok: false, reason: 'closed' });
    },
  );

  it.each([0, 1, 8])(
    'is fair: two always-ready sources each get half the items, within 10 sigma (capacity %i)',
    async (capacity) => {
      const n = 4000;
      const a = source('a', Infinity);
      const b = source('b', Infinity);
      const merged = merge([a.iterable, b.iterable], { capacity });
      let fromA = 0;
      let taken = 0;
      for await (const item of merged) {
        if (item.startsWith('a')) fromA++;
        if (++taken === n) break;
      }
      const sigma = Math.sqrt(n * 0.25);
      expect(Math.abs(fromA - n / 2)).toBeLessThan(10 * sigma);
      await merged.settled;
      expect(a.returned && b.returned).toBe(true);
    },
  );

  it('is fair between a channel and a generator, and serves a sparse source promptly', async () => {
    const busy = new Channel<string>({ capacity: Infinity });
    for (let i = 0; i < 1000; i++) busy.trySend(`a${i}`);
    const sparse = new Channel<string>({ capacity: 1 });
    const merged = merge([busy, sparse], { capacity: 2 });
    const got: string[] = [];
    for (let i = 0; i < 10; i++) got.push(await merged.receive());
    sparse.trySend('b0');
    await flush();
    // at most capacity + one held per source ahead of it
    for (let i = 0; i < 5; i++) got.push(await merged.receive());
    expect(got.slice(10)).toContain('b0');
    merged.close();
    expect(busy.isClosed).toBe(false); // sources are not closed
  });

  it('reads ahead at most capacity + one item per source', async () => {
    for (const capacity of [0, 1, 5]) {
      const a = source('a', 100);
      const b = source('b', 100);
      const merged = merge([a.iterable, b.iterable], { capacity });
      await flush();
      expect(a.pulled + b.pulled).toBe(capacity + 2);
      expect(merged.size).toBe(capacity);
      await merged.receive();
      await flush();
      expect(a.pulled + b.pulled).toBe(capacity + 3);
      merged.close();
      await merged.settled;
    }
  });

  it('an empty list ends at once', async () => {
    expect(await collect(merge([]))).toEqual([]);
  });
});

describe('merge: errors', () => {
  it("delivers what was merged, then rejects with the source's error; the others are stopped", async () => {
    const boom = new Error('boom');
    const failing = source('x', 2, boom);
    const other = source('y', Infinity);
    const undelivered: string[] = [];
    const merged = merge([failing.iterable, other.iterable], {
      capacity: 8,
      onUndelivered: (item) => undelivered.push(item),
    });
    await merged.settled;
    expect(other.returned).toBe(true);
    const got: string[] = [];
    const error = await rejection(
      (async () => {
        for await (const item of merged) got.push(item);
      })(),
    );
    expect(error).toBe(boom);
    expect(ofTag(got, 'x')).toEqual(['x0', 'x1']);
    // every item pulled from y was received or reported undelivered
    expect(ofTag(got, 'y').length + undelivered.length).toBe(other.pulled);
    expect(merged.failure).toEqual({ error: boom });
    expect(await rejection(merged.receive())).toBe(boom); // and again
    merged.assertInvariants();
  });

  it('a source whose [Symbol.asyncIterator]() throws fails the merge', async () => {
    const boom = new Error('cannot open');
    const bad = {
      [Symbol.asyncIterator]: () => {
        throw boom;
      },
    } as AsyncIterable<string>;
    const merged = merge([bad, source('a', 3).iterable]);
    expect(await rejection(collect(merged))).toBe(boom);
  });
});

describe('merge: cancellation', () => {
  it('abort: stops pulling, returns every iterator, reports held items, rejects the consumer', async () => {
    const a = source('a', Infinity);
    const b = source('b', Infinity);
    const c = new Channel<string>({ capacity: 4 });
    c.trySend('c0');
    const controller = new AbortController();
    const undelivered: string[] = [];
    const merged = merge([a.iterable, b.iterable, c], {
      capacity: 2,
      signal: controller.signal,
      onUndelivered: (item) => undelivered.push(item),
    });
    const first = await merged.receive();
    await flush();
    expect(listeners(controller.signal)).toBe(1);
    const reason = new Error('stop');
    controller.abort(reason);
    expect(await rejection(merged.receive())).toBe(reason);
    await merged.settled;
    expect(a.returned && b.returned).toBe(true);
    expect(listeners(controller.signal)).toBe(0);
    expect(c.isClosed).toBe(false);
    expect(c.waitingReceivers).toBe(0); // its pending step was withdrawn
    // conservation: every item pulled was received or reported
    expect(1 + undelivered.length).toBe(a.pulled + b.pulled + 1);
    expect([first, ...undelivered]).toContain('c0');
    merged.assertInvariants();
  });

  it('an already-aborted signal opens nothing and rejects the consumer', async () => {
    const a = source('a', 3);
    const reason = new Error('no');
    const merged = merge([a.iterable], { signal: AbortSignal.abort(reason) });
    expect(await rejection(collect(merged))).toBe(reason);
    expect(a.pulled).toBe(0);
  });

  it('a normal end leaves no abort listener behind', async () => {
    const controller = new AbortController();
    const merged = merge([source('a', 3).iterable], { signal: controller.signal });
    expect(listeners(controller.signal)).toBe(1);
    expect(await collect(merged)).toEqual(['a0', 'a1', 'a2']);
    await merged.settled;
    expect(listeners(controller.signal)).toBe(0);
  });

  it('breaking out of for await stops the merge and returns the iterators', async () => {
    const a = source('a', Infinity);
    const b = source('b', Infinity);
    const undelivered: string[] = [];
    const merged = merge([a.iterable, b.iterable], {
      capacity: 3,
      onUndelivered: (item) => undelivered.push(item),
    });
    let taken = 0;
    for await (const _ of merged) if (++taken === 5) break;
    await merged.settled;
    expect(a.returned && b.returned).toBe(true);
    expect(taken + undelivered.length).toBe(a.pulled + b.pulled);
    expect(merged.failure).toBeUndefined();
    expect(await collect(merged)).toEqual([]);
  });

  it('a source stuck in next() is abandoned on close; its late item goes to onUndelivered', async () => {
    let release: (r: IteratorResult<string>) => void = () => {};
    let returned = 0;
    const stuck: AsyncIterable<string> = {
      [Symbol.asyncIterator]: () => ({
        next: () => new Promise<IteratorResult<string>>((resolve) => (release = resolve)),
        return: async () => {
          returned++;
          return { done: true, value: undefined };
        },
      }),
    };
    const undelivered: string[] = [];
    const merged = merge([stuck], { onUndelivered: (item) => undelivered.push(item) });
    const pending = probe(merged.receive());
    await flush();
    merged.close();
    await merged.settled;
    expect(returned).toBe(1);
    expect(pending.reason).toBeInstanceOf(ChannelClosedError);
    release({ done: false, value: 'late' });
    await flush();
    expect(undelivered).toEqual(['late']);
  });

  it("receive's own signal or timeout consumes nothing and leaves the merge running", async () => {
    const clock = new ManualClock();
    const c = new Channel<string>({ capacity: 1, clock });
    const merged = merge([c]);
    const controller = new AbortController();
    const waiting = probe(merged.receive({ signal: controller.signal }));
    controller.abort('mine');
    await flush();
    expect(waiting.reason).toBe('mine');
    c.trySend('x');
    expect(await merged.receive()).toBe('x');
    c.close();
    expect(await collect(merged)).toEqual([]);
  });
});

describe('merge: misuse', () => {
  it('names the bad value', () => {
    expect(caught(() => merge('ab' as never)).message).toBe(
      'Expected `sources` to be an array, got `"ab"` (string)',
    );
    expect(caught(() => merge([new Channel<number>(), 5 as never])).message).toBe(
      'Expected `sources[1]` to be a Channel or an async iterable, got `5` (number)',
    );
    expect(caught(() => merge([[1, 2] as never])).message).toBe(
      'Expected `sources[0]` to be a Channel or an async iterable, got `[1,2]` (array)',
    );
    const e = caught(() => merge([], { capacity: Infinity }));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toBe(
      'Expected `capacity` to be an integer from 0 up, got `Infinity` (number)',
    );
    expect(caught(() => merge([], { signal: {} as never })).message).toContain('`signal`');
    expect(caught(() => merge([], { onUndelivered: 1 as never })).message).toBe(
      'Expected `onUndelivered` to be a function, got `1` (number)',
    );
    expect(caught(() => merge([], 3 as never))).toBeInstanceOf(TypeError);
  });
});
