/**
 * Channel behaviour outside the capacity × policy matrix of channel.test.ts: defaults, capacity
 * Infinity, and iterator edge cases.
 */
import { describe, expect, it } from 'vitest';
import { Channel } from '../../src/index.js';
import { flush } from '../support/clock.js';
import { probe } from '../support/outcome.js';
import { check, drainNow } from './channel.helpers.js';

describe('Channel defaults', () => {
  it('new Channel() is a rendezvous channel under block', async () => {
    const ch = new Channel<string>();
    expect(ch.capacity).toBe(0);
    expect(ch.overflow).toBe('block');
    const s = probe(ch.send('x'));
    await flush();
    expect(s.status).toBe('pending');
    expect(ch.tryReceive()).toStrictEqual({ ok: true, value: 'x' });
    await flush();
    expect(s.value).toStrictEqual({ ok: true });
    check(ch);
  });

  it('a capacity without an overflow policy blocks', async () => {
    const ch = new Channel<string>({ capacity: 1 });
    expect(ch.overflow).toBe('block');
    ch.trySend('a');
    const s = probe(ch.send('b'));
    await flush();
    expect(s.status).toBe('pending');
    expect(ch.waitingSenders).toBe(1);
  });
});

describe('Channel with capacity Infinity', () => {
  it('under block, never waits and keeps every item in order', async () => {
    const ch = new Channel<string>({ capacity: Number.POSITIVE_INFINITY });
    expect(ch.capacity).toBe(Number.POSITIVE_INFINITY);
    const n = 10_000;
    const items = Array.from({ length: n }, (_, i) => `u${i}`);
    for (const item of items.slice(0, n / 2)) expect(ch.trySend(item)).toStrictEqual({ ok: true });
    const sends = items.slice(n / 2).map((item) => probe(ch.send(item)));
    await flush();
    expect(sends.every((s) => s.status === 'fulfilled')).toBe(true);
    expect(ch.size).toBe(n);
    expect(ch.waitingSenders).toBe(0);
    expect(ch.stats()).toMatchObject({
      sent: n,
      refused: 0,
      highWater: n,
      capacity: Number.POSITIVE_INFINITY,
    });
    check(ch);
    ch.close();
    const got: string[] = [];
    for await (const item of ch) got.push(item);
    expect(got).toEqual(items);
    await expect(ch.drained).resolves.toBeUndefined();
    check(ch);
  });

  it('under block, still hands items straight to waiting receivers', async () => {
    const ch = new Channel<string>({ capacity: Number.POSITIVE_INFINITY });
    const r = probe(ch.receive());
    expect(ch.trySend('direct')).toStrictEqual({ ok: true });
    await flush();
    expect(r.value).toBe('direct');
    expect(ch.stats().highWater).toBe(0);
    check(ch);
  });

  it('under reject, is never full', async () => {
    const ch = new Channel<number>({ capacity: Number.POSITIVE_INFINITY, overflow: 'reject' });
    for (let i = 0; i < 1000; i++) await expect(ch.send(i)).resolves.toStrictEqual({ ok: true });
    expect(ch.trySend(1000)).toStrictEqual({ ok: true });
    expect(ch.stats().refused).toBe(0);
    expect(ch.destroy()).toHaveLength(1001);
    check(ch);
  });
});

describe('Channel iterators driven by hand', () => {
  // Async generators queue next() calls; after return(), every queued call ends with done.
  it('return() with two pending next() calls ends both and consumes nothing', async () => {
    const ch = new Channel<string>({ capacity: 1 });
    const iterator = ch[Symbol.asyncIterator]();
    const first = probe(iterator.next());
    const second = probe(iterator.next());
    await flush();
    expect(ch.waitingReceivers).toBe(2);
    await iterator.return?.();
    await flush();
    expect(first.value).toEqual({ done: true, value: undefined });
    expect(second.value).toEqual({ done: true, value: undefined });
    expect(ch.waitingReceivers).toBe(0);
    // The next item must go to a live consumer, not to the returned iterator.
    const other = probe(ch.receive());
    expect(ch.trySend('x')).toStrictEqual({ ok: true });
    await flush();
    expect(other.value).toBe('x');
    check(ch);
  });

  it('return() after a step already settled changes nothing and the channel stays usable', async () => {
    const ch = new Channel<string>({ capacity: 2 });
    const iterator = ch[Symbol.asyncIterator]();
    const step = probe(iterator.next());
    ch.trySend('a');
    ch.trySend('b');
    await flush();
    expect(step.value).toEqual({ done: false, value: 'a' });
    await expect(iterator.return?.()).resolves.toEqual({ done: true, value: undefined });
    await expect(iterator.next()).resolves.toEqual({ done: true, value: undefined });
    expect(drainNow(ch)).toEqual(['b']);
    expect(ch.isClosed).toBe(false);
    check(ch);
  });

  it('an iterator is its own async iterable', () => {
    const ch = new Channel<string>();
    const iterator = ch[Symbol.asyncIterator]();
    expect(iterator[Symbol.asyncIterator]()).toBe(iterator);
    const withSignal = ch.iterate();
    expect(withSignal[Symbol.asyncIterator]()).toBe(withSignal);
  });
});
