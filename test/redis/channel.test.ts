/**
 * RedisChannel against a real redis-server started for this file: capacity counting ready and
 * in-flight items, each overflow policy's results, idempotent sends, FIFO and priorities,
 * ack/nack/extend, fencing of stale leases, lease expiry and redelivery, dead letters,
 * consume() and its concurrency bound, abort/timeout/close of waiting calls, and bad input.
 *
 * Time here is real (Redis's clock decides leases), so waits are short and bounded.
 */
import { describe, expect, it, vi } from 'vitest';
import { ChannelClosedError, ChannelFullError, TimeoutError } from '../../src/errors.js';
import { type Delivery, RedisChannel, type RedisChannelOptions } from '../../src/redis/index.js';
import { caught, rejection } from '../support/errors.js';
import { settledWithin, sleep } from '../support/real-time.js';
import { useRedis } from '../support/redis-fixture.js';
import { listeners } from '../support/signals.js';

const redis = useRedis();
let counter = 0;

type Options<T> = Omit<RedisChannelOptions<T>, 'connection' | 'name'> & { name?: string };

/** A channel with a name of its own, so tests never share state. */
function channel<T = number>(options: Options<T>): RedisChannel<T> {
  return new RedisChannel<T>({ connection: redis.connection, name: `t${++counter}`, ...options });
}

/** Receives and acks everything ready now, returning the items in order. */
async function drain<T>(ch: RedisChannel<T>): Promise<T[]> {
  const items: T[] = [];
  for (;;) {
    const result = await ch.tryReceive();
    if (!result.ok) return items;
    items.push(result.value.item);
    expect(await result.value.ack()).toBe(true);
  }
}

describe('capacity counts ready and in-flight items', () => {
  it('a received item keeps its place until it is acked', async () => {
    const ch = channel({ capacity: 2 });
    expect(await ch.trySend(1)).toMatchObject({ ok: true, duplicate: false });
    expect(await ch.trySend(2)).toMatchObject({ ok: true });
    const first = await ch.receive();
    expect(first).toMatchObject({ item: 1, deliveries: 1 });
    expect(await ch.trySend(3)).toEqual({ ok: false, reason: 'full', value: 3 });
    expect(await ch.stats()).toMatchObject({ ready: 1, inflight: 1, leased: 1, size: 2 });
    expect(await first.ack()).toBe(true);
    expect(await ch.trySend(3)).toMatchObject({ ok: true });
    expect(await drain(ch)).toEqual([2, 3]);
    expect(await ch.stats()).toMatchObject({ ready: 0, inflight: 0, size: 0, capacity: 2 });
  });
});

describe('overflow policies', () => {
  it("'block': trySend reports full; send waits until an ack frees a place", async () => {
    const ch = channel({ capacity: 1 });
    await ch.send(1);
    expect(await ch.trySend(2)).toEqual({ ok: false, reason: 'full', value: 2 });
    const waiting = ch.send(2);
    expect(await settledWithin(waiting, 100)).toBe(false);
    expect((await ch.stats()).waitingSenders).toBe(1);
    const delivery = await ch.receive();
    expect(await settledWithin(waiting, 100)).toBe(false); // in flight still counts
    await delivery.ack();
    expect(await waiting).toMatchObject({ ok: true, duplicate: false });
    expect(await drain(ch)).toEqual([2]);
  });

  it("'block' with timeoutMs 0 refuses at once with a TimeoutError carrying the item", async () => {
    const ch = channel({ capacity: 1 });
    await ch.send(1);
    const error = (await rejection(ch.send(2, { timeoutMs: 0 }))) as TimeoutError;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.value).toBe(2);
    expect(await drain(ch)).toEqual([1]);
  });

  it("'drop-newest': the incoming item is dropped and reported", async () => {
    const drops: [number, string][] = [];
    const ch = channel({
      capacity: 2,
      overflow: 'drop-newest',
      onDrop: (item, reason) => drops.push([item, reason]),
    });
    await ch.send(1);
    await ch.send(2);
    expect(await ch.send(3)).toEqual({ ok: false, reason: 'dropped', value: 3 });
    expect(await ch.trySend(4)).toEqual({ ok: false, reason: 'dropped', value: 4 });
    expect(drops).toEqual([
      [3, 'overflow'],
      [4, 'overflow'],
    ]);
    expect(await drain(ch)).toEqual([1, 2]);
  });

  it("'drop-oldest': evicts the oldest ready item, never one in flight", async () => {
    const drops: [number, string][] = [];
    const ch = channel({
      capacity: 3,
      overflow: 'drop-oldest',
      onDrop: (item, reason) => drops.push([item, reason]),
    });
    for (const i of [1, 2, 3]) await ch.send(i);
    const held = await ch.receive(); // 1 is in flight
    const evicting = await ch.send(4);
    expect(evicting).toMatchObject({ ok: true, evicted: 2, duplicate: false });
    expect(await ch.trySend(5)).toMatchObject({ ok: true, evicted: 3 });
    expect(drops).toEqual([
      [2, 'evicted'],
      [3, 'evicted'],
    ]);
    expect(await held.ack()).toBe(true);
    expect(await drain(ch)).toEqual([4, 5]);
  });

  it("'drop-oldest' with every item in flight drops the new item, as 'drop-newest'", async () => {
    const drops: [number, string][] = [];
    const ch = channel({
      capacity: 2,
      overflow: 'drop-oldest',
      onDrop: (item, reason) => drops.push([item, reason]),
    });
    await ch.send(1);
    await ch.send(2);
    const a = await ch.receive();
    const b = await ch.receive();
    expect(await ch.send(3)).toEqual({ ok: false, reason: 'dropped', value: 3 });
    expect(drops).toEqual([[3, 'overflow']]);
    await a.ack();
    await b.ack();
    expect(await drain(ch)).toEqual([]);
  });

  it("'reject': send rejects with ChannelFullError carrying the item; nothing is enqueued", async () => {
    const ch = channel({ capacity: 1, overflow: 'reject' });
    await ch.send(1);
    const error = (await rejection(ch.send(2))) as ChannelFullError<number>;
    expect(error).toBeInstanceOf(ChannelFullError);
    expect(error.value).toBe(2);
    expect(await ch.trySend(3)).toEqual({ ok: false, reason: 'full', value: 3 });
    expect(await drain(ch)).toEqual([1]);
  });
});

describe('idempotent send', () => {
  it('a send with an id already in the channel is a no-op reporting duplicate', async () => {
    const ch = channel<string>({ capacity: 2 });
    expect(await ch.send('a', { id: 'job-1' })).toEqual({
      ok: true,
      id: 'job-1',
      duplicate: false,
    });
    expect(await ch.send('a again', { id: 'job-1' })).toEqual({
      ok: true,
      id: 'job-1',
      duplicate: true,
    });
    // Even when full: the item is in, so the retry succeeds without waiting.
    await ch.send('b');
    expect(await ch.send('a', { id: 'job-1', timeoutMs: 0 })).toMatchObject({ duplicate: true });
    const delivery = await ch.receive();
    expect(delivery).toMatchObject({ id: 'job-1', item: 'a' });
    // Still a duplicate while in flight; once acked, the id is free again.
    expect(await ch.trySend('a', { id: 'job-1' })).toMatchObject({ duplicate: true });
    await delivery.ack();
    expect(await ch.trySend('a2', { id: 'job-1' })).toMatchObject({ duplicate: false });
    expect(await drain(ch)).toEqual(['b', 'a2']);
  });
});

describe('ordering', () => {
  it('FIFO: items come out in the order they went in', async () => {
    const ch = channel({ capacity: 50 });
    for (let i = 0; i < 30; i++) await ch.send(i);
    expect(await drain(ch)).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('priorities: higher first, FIFO among equals; a nacked item goes back to its place', async () => {
    const ch = channel<{ n: number; p: number }>({ capacity: 20, priority: (item) => item.p });
    const items = [
      { n: 0, p: 1 },
      { n: 1, p: 5 },
      { n: 2, p: 1 },
      { n: 3, p: -2 },
      { n: 4, p: 5 },
      { n: 5, p: 2.5 },
      { n: 6, p: 1 },
    ];
    for (const item of items) await ch.send(item);
    const first = await ch.receive();
    expect(first.item.n).toBe(1);
    expect(await first.nack()).toBe(true);
    expect((await drain(ch)).map((item) => item.n)).toEqual([1, 4, 5, 0, 2, 6, 3]);
  });

  it('FIFO: a nacked item goes to the front', async () => {
    const ch = channel({ capacity: 5 });
    for (const i of [1, 2, 3]) await ch.send(i);
    const one = await ch.receive();
    await one.nack();
    expect(await drain(ch)).toEqual([1, 2, 3]);
  });

  it('local waiting receivers are served in the order they started', async () => {
    const ch = channel({ capacity: 5 });
    const order: number[] = [];
    const receivers = [0, 1, 2].map((k) =>
      ch.receive().then(async (d) => {
        order.push(k);
        await d.ack();
        return d.item;
      }),
    );
    await sleep(50);
    for (const i of [10, 11, 12]) await ch.send(i);
    expect(await Promise.all(receivers)).toEqual([10, 11, 12]);
    expect(order).toEqual([0, 1, 2]);
  });
});

describe('ack, nack, extend', () => {
  it('nack redelivers with a higher count and a new token; a stale settle is false', async () => {
    const ch = channel({ capacity: 2 });
    await ch.send(7);
    const first = await ch.receive();
    expect(await first.nack()).toBe(true);
    expect(await first.nack()).toBe(false);
    expect(await first.ack()).toBe(false);
    const second = await ch.receive();
    expect(second).toMatchObject({ item: 7, id: first.id, deliveries: 2 });
    expect(second.token).toBeGreaterThan(first.token);
    expect(await second.ack()).toBe(true);
  });

  it('nack with a delay keeps the item out of the queue, still counted', async () => {
    const ch = channel({ capacity: 1 });
    await ch.send(7);
    const first = await ch.receive();
    expect(await first.nack({ delayMs: 300 })).toBe(true);
    expect(await ch.stats()).toMatchObject({ ready: 0, inflight: 1, delayed: 1, leased: 0 });
    expect(await ch.trySend(8)).toMatchObject({ ok: false, reason: 'full' });
    expect((await ch.tryReceive()).ok).toBe(false);
    const started = Date.now();
    const again = await ch.receive({ timeoutMs: 2000 }); // woken when the delay ends
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(again).toMatchObject({ item: 7, deliveries: 2 });
    await again.ack();
  });

  it('extend keeps a lease past its first end; an item is not redelivered meanwhile', async () => {
    const ch = channel({ capacity: 1, leaseMs: 200 });
    await ch.send(1);
    const delivery = await ch.receive();
    await sleep(120);
    expect(await delivery.extend(400)).toBe(true);
    await sleep(150); // past the first lease
    expect((await ch.tryReceive()).ok).toBe(false);
    expect(await delivery.ack()).toBe(true);
  });

  it('a stale token is fenced: the late holder frees nothing', async () => {
    const ch = channel({ capacity: 1, leaseMs: 100 });
    await ch.send(1);
    const late = await ch.receive();
    await sleep(150);
    const current = await ch.receive({ timeoutMs: 1000 });
    expect(current).toMatchObject({ id: late.id, deliveries: 2 });
    expect(current.token).toBeGreaterThan(late.token);
    expect(await late.ack()).toBe(false);
    expect(await late.nack()).toBe(false);
    expect(await late.extend()).toBe(false);
    expect(await ch.stats()).toMatchObject({ inflight: 1, leased: 1 });
    expect(await ch.trySend(2)).toMatchObject({ ok: false, reason: 'full' });
    expect(await current.ack()).toBe(true);
    expect(await ch.trySend(2)).toMatchObject({ ok: true });
  });

  it('an expired lease is redelivered to a consumer that was waiting, with no ack anywhere', async () => {
    const ch = channel({ capacity: 1, leaseMs: 200 });
    await ch.send(1);
    const abandoned = await ch.receive();
    const started = Date.now();
    const redelivered = await ch.receive({ timeoutMs: 3000 });
    const waited = Date.now() - started;
    expect(redelivered).toMatchObject({ item: 1, deliveries: 2 });
    expect(waited).toBeGreaterThanOrEqual(150);
    expect(waited).toBeLessThan(1500);
    expect(await abandoned.ack()).toBe(false);
    await redelivered.ack();
  });
});

describe('dead letters', () => {
  it('after maxDeliveries an item goes to the dead letters, freeing its place', async () => {
    const ch = channel<string>({ capacity: 1, maxDeliveries: 2, leaseMs: 100 });
    await ch.send('poison', { id: 'p' });
    await (await ch.receive()).nack();
    await sleep(0);
    await ch.receive(); // second delivery: its lease runs out
    await sleep(150);
    expect((await ch.tryReceive()).ok).toBe(false); // reclaims it: into the dead letters
    expect(await ch.stats()).toMatchObject({ size: 0, deadLetters: 1 });
    expect(await ch.deadLetters()).toEqual([
      { id: 'p', deliveries: 2, decoded: true, item: 'poison' },
    ]);
    // The id is still known: a resend is a duplicate.
    expect(await ch.trySend('poison', { id: 'p' })).toMatchObject({ duplicate: true });
    await ch.send('other');
    expect(await ch.requeueDeadLetter('p')).toBe('full');
    await drain(ch);
    expect(await ch.requeueDeadLetter('p')).toBe('requeued');
    expect(await ch.requeueDeadLetter('p')).toBe('missing');
    const back = await ch.receive();
    expect(back).toMatchObject({ id: 'p', deliveries: 1 });
    await back.nack();
    await (await ch.receive()).nack(); // second delivery nacked: dead again
    expect(await ch.deleteDeadLetter('p')).toBe(true);
    expect(await ch.deleteDeadLetter('p')).toBe(false);
    expect(await ch.stats()).toMatchObject({ size: 0, deadLetters: 0 });
    expect(await ch.trySend('poison', { id: 'p' })).toMatchObject({ duplicate: false });
  });

  it('an item that does not decode goes straight to the dead letters', async () => {
    const ch = channel<string>({
      capacity: 2,
      serializer: {
        encode: (item) => item,
        decode: (payload) => {
          if (payload === 'bad') throw new SyntaxError('cannot read bad');
          return payload;
        },
      },
    });
    await ch.send('bad');
    await ch.send('good');
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const delivery = await ch.receive();
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/item '.*' could not be decoded/));
    warn.mockRestore();
    expect(delivery.item).toBe('good');
    const [dead] = await ch.deadLetters();
    expect(dead).toMatchObject({ decoded: false, payload: 'bad', deliveries: 1 });
    await delivery.ack();
  });
});

describe('consume()', () => {
  it('handles every item with at most `concurrency` handlers at once, acking each', async () => {
    const ch = channel({ capacity: 10 });
    let running = 0;
    let max = 0;
    const seen: number[] = [];
    const pool = ch.consume(
      async (item) => {
        running++;
        max = Math.max(max, running);
        await sleep(5);
        seen.push(item);
        running--;
      },
      { concurrency: 3 },
    );
    for (let i = 0; i < 40; i++) await ch.send(i);
    while (seen.length < 40) await sleep(10);
    const result = await pool.stop();
    expect(result.ended).toBe('stopped');
    expect(max).toBeLessThanOrEqual(3);
    expect(max).toBe(3);
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(result.stats).toMatchObject({ received: 40, handled: 40, inFlight: 0 });
    expect(await ch.stats()).toMatchObject({ size: 0 });
    pool.assertInvariants();
  });

  it("nacks a failing item; Redis redelivers it up to maxDeliveries ('skip')", async () => {
    const ch = channel<string>({ capacity: 5, maxDeliveries: 2 });
    const attempts: string[] = [];
    const errors: unknown[] = [];
    const pool = ch.consume(
      (item, context) => {
        attempts.push(`${item}#${context.deliveries}`);
        if (item === 'bad') throw new Error('boom');
      },
      { concurrency: 2, onError: 'skip', onHandlerError: (error) => errors.push(error) },
    );
    await ch.send('bad', { id: 'bad' });
    await ch.send('good');
    while ((await ch.stats()).deadLetters < 1 || attempts.length < 3) await sleep(10);
    await pool.stop();
    expect(attempts.sort()).toEqual(['bad#1', 'bad#2', 'good#1']);
    expect(errors).toHaveLength(2);
    expect(await ch.stats()).toMatchObject({ size: 0, deadLetters: 1 });
  });

  it('retries in-process, keeping the lease alive with heartbeats', async () => {
    const ch = channel<string>({ capacity: 2, leaseMs: 150 });
    let calls = 0;
    const pool = ch.consume(
      async (_item, context) => {
        calls++;
        await sleep(200); // longer than the lease: heartbeats keep it
        if (context.attempt === 1) throw new Error('first try fails');
        expect(context.deliveries).toBe(1);
      },
      { concurrency: 1, onError: { retry: { attempts: 2, backoffMs: 20 } } },
    );
    await ch.send('slow');
    while ((await ch.stats()).size > 0) await sleep(20);
    const result = await pool.stop();
    expect(calls).toBe(2);
    expect(result.stats).toMatchObject({ handled: 1, retried: 1 });
  });

  it("'stop': the failing item is nacked and done rejects with the error", async () => {
    const ch = channel<string>({ capacity: 2 });
    const boom = new Error('boom');
    const pool = ch.consume(
      () => {
        throw boom;
      },
      { concurrency: 1 },
    );
    await ch.send('x');
    expect(await rejection(pool.done)).toBe(boom);
    expect(pool.result).toMatchObject({ ended: 'failed', error: boom });
    expect(await ch.stats()).toMatchObject({ ready: 1, inflight: 0 });
    const again = await ch.receive();
    expect(again).toMatchObject({ item: 'x', deliveries: 2 });
    await again.ack();
  });

  it('abort gives back what it held: unstarted uncounted, interrupted nacked', async () => {
    const ch = channel<string>({ capacity: 5 });
    const started: string[] = [];
    const pool = ch.consume(
      (item, { signal }) => {
        started.push(item);
        return new Promise((_, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason)),
        );
      },
      { concurrency: 1 },
    );
    await ch.send('a');
    await ch.send('b');
    while (started.length < 1) await sleep(5);
    const result = await pool.abort(new Error('shutdown'));
    expect(result).toMatchObject({ ended: 'aborted', interrupted: ['a'] });
    expect(await ch.stats()).toMatchObject({ ready: 2, inflight: 0 });
    const a = await ch.receive();
    expect(a).toMatchObject({ item: 'a', deliveries: 2 });
    const b = await ch.receive();
    expect(b).toMatchObject({ item: 'b', deliveries: 1 });
    await a.ack();
    await b.ack();
  });

  it('closing the channel ends the pool like a drained source', async () => {
    const ch = channel({ capacity: 2 });
    const pool = ch.consume(() => {}, { concurrency: 2 });
    await sleep(30);
    await ch.close();
    expect(await pool.done).toMatchObject({ ended: 'drained' });
  });
});

describe('cancellation', () => {
  it('an aborted send rejects with the reason; nothing was enqueued; no listener left', async () => {
    const ch = channel({ capacity: 1 });
    await ch.send(1);
    const controller = new AbortController();
    const waiting = ch.send(2, { signal: controller.signal });
    await sleep(50);
    expect(listeners(controller.signal)).toBe(1);
    const reason = new Error('stop');
    controller.abort(reason);
    expect(await rejection(waiting)).toBe(reason);
    expect(listeners(controller.signal)).toBe(0);
    expect(await drain(ch)).toEqual([1]);
    expect((await ch.stats()).waitingSenders).toBe(0);
  });

  it('a send that times out rejects with a TimeoutError carrying the item', async () => {
    const ch = channel({ capacity: 1 });
    await ch.send(1);
    const started = Date.now();
    const error = (await rejection(ch.send(2, { timeoutMs: 100 }))) as TimeoutError<number>;
    expect(Date.now() - started).toBeGreaterThanOrEqual(95);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.value).toBe(2);
    expect(await drain(ch)).toEqual([1]);
  });

  it('an aborted or timed-out receive consumed nothing', async () => {
    const ch = channel({ capacity: 2 });
    const controller = new AbortController();
    const waiting = ch.receive({ signal: controller.signal });
    await sleep(30);
    controller.abort('bye');
    expect(await rejection(waiting)).toBe('bye');
    expect(await rejection(ch.receive({ timeoutMs: 50 }))).toBeInstanceOf(TimeoutError);
    expect(await rejection(ch.receive({ timeoutMs: 0 }))).toBeInstanceOf(TimeoutError);
    await ch.send(5);
    const delivery = await ch.receive();
    expect(delivery).toMatchObject({ item: 5, deliveries: 1 });
    await delivery.ack();
  });

  it('an already-aborted signal rejects before anything is tried', async () => {
    const ch = channel({ capacity: 1 });
    const signal = AbortSignal.abort('early');
    expect(await rejection(ch.send(1, { signal }))).toBe('early');
    expect(await rejection(ch.receive({ signal }))).toBe('early');
    expect(await ch.stats()).toMatchObject({ size: 0 });
  });

  it('close settles every waiting call, refuses new ones, and leaves deliveries settleable', async () => {
    const ch = channel({ capacity: 1 });
    await ch.send(1);
    const delivery = await ch.receive();
    const sending = ch.send(2);
    const other = channel({ capacity: 1 }); // a receive on another channel of the connection
    const receiving = other.receive();
    await sleep(30);
    await ch.close();
    const error = (await rejection(sending)) as ChannelClosedError<number>;
    expect(error).toBeInstanceOf(ChannelClosedError);
    expect(error.value).toBe(2);
    expect(await ch.trySend(3)).toEqual({ ok: false, reason: 'closed', value: 3 });
    expect(await ch.tryReceive()).toEqual({ ok: false, reason: 'closed' });
    expect(await rejection(ch.receive())).toBeInstanceOf(ChannelClosedError);
    expect(await delivery.ack()).toBe(true);
    await other.close();
    expect(await rejection(receiving)).toBeInstanceOf(ChannelClosedError);
    await ch.close();
  });
});

describe('bad input', () => {
  it('the constructor names the option and the value', () => {
    const base = { connection: redis.connection, name: 'x', capacity: 1 };
    const cases: [Partial<RedisChannelOptions<number>>, RegExp][] = [
      [{ capacity: 0 }, /`capacity`.*`0` \(number\)/],
      [{ capacity: 1.5 }, /`capacity`.*`1.5`/],
      [{ capacity: Number.POSITIVE_INFINITY }, /`capacity`.*Infinity/],
      [{ overflow: 'drop-lowest' as never }, /`overflow`.*"drop-lowest"/],
      [{ name: '' }, /`name`.*`""`/],
      [{ name: 'a{b}' }, /`name`.*"a\{b\}"/],
      [{ leaseMs: 0 }, /`leaseMs`.*`0`/],
      [{ leaseMs: Number.NaN }, /`leaseMs`.*NaN/],
      [{ maxDeliveries: 0 }, /`maxDeliveries`.*`0`/],
      [{ priority: 3 as never }, /`priority`.*`3`/],
      [{ onDrop: 'x' as never }, /`onDrop`.*"x"/],
      [{ serializer: {} as never }, /`serializer`/],
      [{ connection: {} as never }, /`connection`.*RedisConnection/],
      [{ clock: {} as never }, /`clock`/],
      [{ overflow: 'drop-oldest', priority: () => 1 }, /drop-oldest.*priority/],
    ];
    for (const [override, message] of cases) {
      const error = caught(() => new RedisChannel<number>({ ...base, ...override }));
      expect(error.message).toMatch(message);
      expect(error).toSatisfy((e) => e instanceof RangeError || e instanceof TypeError);
    }
    expect(caught(() => new RedisChannel(undefined as never))).toBeInstanceOf(TypeError);
  });

  it('calls throw at once for bad arguments, before any round trip', async () => {
    const ch = channel<unknown>({ capacity: 1 });
    expect(caught(() => ch.send(1, { id: '' })).message).toMatch(/`id`.*`""`/);
    expect(caught(() => ch.trySend(1, { id: 5 as never })).message).toMatch(/`id`.*`5`/);
    expect(caught(() => ch.send(1, { timeoutMs: -1 })).message).toMatch(/`timeoutMs`.*`-1`/);
    expect(caught(() => ch.send(1, { signal: 'x' as never })).message).toMatch(/`signal`/);
    expect(caught(() => ch.send(1, 5 as never))).toBeInstanceOf(TypeError);
    expect(caught(() => ch.send(undefined)).message).toMatch(/encode.*string.*undefined/);
    expect(caught(() => ch.receive({ timeoutMs: Number.NaN })).message).toMatch(/`timeoutMs`/);
    expect(caught(() => ch.consume('x' as never, { concurrency: 1 }))).toBeInstanceOf(TypeError);
    expect(caught(() => ch.consume(() => {}, { concurrency: 0 })).message).toMatch(
      /`concurrency`.*`0`/,
    );
    expect(caught(() => ch.consume(() => {}, { concurrency: 1, heartbeatMs: 0 })).message).toMatch(
      /`heartbeatMs`/,
    );
    const prioritized = channel<number>({ capacity: 1, priority: (n) => n });
    expect(caught(() => prioritized.send(Number.NaN)).message).toMatch(/`priority`.*finite.*NaN/);
    await ch.send(1);
    const delivery: Delivery<unknown> = await ch.receive();
    expect(caught(() => delivery.nack({ delayMs: -1 })).message).toMatch(/`delayMs`.*`-1`/);
    expect(caught(() => delivery.extend(0)).message).toMatch(/`ms`.*`0`/);
    expect(caught(() => ch.deadLetters({ limit: 0 })).message).toMatch(/`limit`.*`0`/);
    expect(caught(() => ch.requeueDeadLetter(7 as never)).message).toMatch(/`id`.*`7`/);
    await delivery.ack();
  });

  it('instances that disagree about priorities are told so', async () => {
    const name = `t${++counter}`;
    const plain = new RedisChannel<number>({ connection: redis.connection, name, capacity: 2 });
    const prioritized = new RedisChannel<number>({
      connection: redis.connection,
      name,
      capacity: 2,
      priority: (n) => n,
    });
    await plain.send(1);
    const error = (await rejection(prioritized.send(2))) as Error;
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toMatch(/stored without priorities.*with `priority`/);
    expect(await drain(plain)).toEqual([1]);
  });
});
