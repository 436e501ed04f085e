/**
 * `select` over send and receive cases (DESIGN.md, channel semantics point 8): immediate
 * completion, atomicity, the default case, cancellation, close/destroy while waiting, the
 * `reject` policy, input checks, result typing and statistical fairness.
 *
 * Every test checks `assertInvariants()` on every channel it touches after its steps.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  Channel,
  ChannelClosedError,
  ChannelFullError,
  onReceive,
  onSend,
  type SelectDefault,
  type SendResult,
  select,
  TimeoutError,
} from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { flush } from '../support/clock.js';
import { listeners } from '../support/signals.js';
import { drainNow } from './channel.helpers.js';

// ---- helpers ------------------------------------------------------------------------------

type Tracked<T> =
  | { state: 'pending' }
  | { state: 'fulfilled'; value: T }
  | { state: 'rejected'; error: unknown };

/** Records how a promise settles, so a test can look without awaiting. */
function track<T>(promise: Promise<T>): { readonly current: Tracked<T> } {
  const box: { current: Tracked<T> } = { current: { state: 'pending' } };
  promise.then(
    (value) => {
      box.current = { state: 'fulfilled', value };
    },
    (error: unknown) => {
      box.current = { state: 'rejected', error };
    },
  );
  return box;
}

// biome-ignore lint/suspicious/noExplicitAny: channels of any item type.
type AnyChannel = Channel<any>;

function checkAll(...channels: AnyChannel[]): void {
  for (const ch of channels) ch.assertInvariants();
}

function expectNoWaiters(...channels: AnyChannel[]): void {
  for (const ch of channels) {
    expect(ch.waitingSenders).toBe(0);
    expect(ch.waitingReceivers).toBe(0);
  }
  checkAll(...channels);
}

/** Fills the buffer of a block channel to capacity with `prefix0`, `prefix1`, … */
function fill(ch: Channel<string>, prefix: string): string[] {
  const items: string[] = [];
  for (let i = 0; i < ch.capacity; i++) {
    const item = `${prefix}${i}`;
    expect(ch.trySend(item)).toEqual({ ok: true });
    items.push(item);
  }
  return items;
}

const CAPACITIES = [0, 1, 16] as const;

// ---- immediate completion -------------------------------------------------------------------

describe.each(CAPACITIES)('select at capacity %i: a ready case completes at once', (capacity) => {
  it('receives a buffered item, or a waiting sender’s item at capacity 0', async () => {
    const a = new Channel<string>({ capacity });
    const b = new Channel<string>({ capacity });
    const sending = capacity === 0 ? track(a.send('x')) : undefined;
    if (capacity > 0) a.trySend('x');

    const r = await select([onReceive(b), onReceive(a)]);

    expect(r).toStrictEqual({ index: 1, kind: 'receive', ok: true, value: 'x' });
    expect(a.size).toBe(0);
    if (sending !== undefined) {
      await flush();
      expect(sending.current).toEqual({ state: 'fulfilled', value: { ok: true } });
    }
    expectNoWaiters(a, b);
    expect(a.stats()).toMatchObject({ sent: 1, received: 1 });
  });

  it('sends into room, or to a waiting receiver at capacity 0', async () => {
    const a = new Channel<string>({ capacity });
    const b = new Channel<string>({ capacity });
    const receiving = capacity === 0 ? track(a.receive()) : undefined;

    const r = await select([onReceive(b), onSend(a, 'y')]);

    expect(r).toStrictEqual({ index: 1, kind: 'send', result: { ok: true } });
    if (receiving !== undefined) {
      await flush();
      expect(receiving.current).toEqual({ state: 'fulfilled', value: 'y' });
      expect(a.size).toBe(0);
    } else {
      expect(drainNow(a)).toEqual(['y']);
    }
    expectNoWaiters(a, b);
  });

  it('treats a receive case on a closed, drained channel as ready with ok: false', async () => {
    const a = new Channel<string>({ capacity });
    const b = new Channel<string>({ capacity });
    a.close();

    const r = await select([onReceive(b), onReceive(a)]);

    expect(r).toStrictEqual({ index: 1, kind: 'receive', ok: false });
    expectNoWaiters(a, b);
  });

  it('still delivers the buffered items of a closed channel before ok: false', async () => {
    if (capacity === 0) return;
    const a = new Channel<string>({ capacity });
    a.trySend('left');
    a.close();
    const b = new Channel<string>({ capacity });

    expect(await select([onReceive(a), onReceive(b)])).toStrictEqual({
      index: 0,
      kind: 'receive',
      ok: true,
      value: 'left',
    });
    expect(await select([onReceive(a), onReceive(b)])).toStrictEqual({
      index: 0,
      kind: 'receive',
      ok: false,
    });
    expectNoWaiters(a, b);
  });

  it('rejects a send case on a closed channel with ChannelClosedError carrying the value', async () => {
    const a = new Channel<string>({ capacity });
    const b = new Channel<string>({ capacity });
    a.close();
    const value = 'not-sent';

    const error = await select([onReceive(b), onSend(a, value)]).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(ChannelClosedError);
    expect(error).toMatchObject({ hasValue: true, value, code: 'ERR_SLUICE_CHANNEL_CLOSED' });
    expect(a.stats().sent).toBe(0);
    expectNoWaiters(a, b);
  });
});

describe('select with drop-policy send cases', () => {
  it('drop-newest: always ready, reports the drop in result and to onDrop', async () => {
    const drops: [string, string][] = [];
    const d = new Channel<string>({
      capacity: 1,
      overflow: 'drop-newest',
      onDrop: (item, reason) => drops.push([item, reason]),
    });
    d.trySend('kept');
    const idle = new Channel<string>();

    const r = await select([onReceive(idle), onSend(d, 'new')]);

    expect(r).toStrictEqual({
      index: 1,
      kind: 'send',
      result: { ok: false, reason: 'dropped', value: 'new' },
    });
    expect(drops).toEqual([['new', 'overflow']]);
    expect(drainNow(d)).toEqual(['kept']);
    expect(d.stats().dropped.overflow).toBe(1);
    expectNoWaiters(d, idle);
  });

  it('drop-oldest: always ready, reports the eviction in result and to onDrop', async () => {
    const drops: [string, string][] = [];
    const d = new Channel<string>({
      capacity: 2,
      overflow: 'drop-oldest',
      onDrop: (item, reason) => drops.push([item, reason]),
    });
    d.trySend('old');
    d.trySend('mid');
    const idle = new Channel<string>();

    const r = await select([onSend(d, 'new'), onReceive(idle)]);

    expect(r).toStrictEqual({ index: 0, kind: 'send', result: { ok: true, evicted: 'old' } });
    expect(drops).toEqual([['old', 'evicted']]);
    expect(drainNow(d)).toEqual(['mid', 'new']);
    expectNoWaiters(d, idle);
  });

  it('a drop-policy send case never waits and wins over an idle case without default', async () => {
    const d = new Channel<number>({ capacity: 1, overflow: 'drop-newest' });
    d.trySend(1);
    const idle = new Channel<number>();
    const r = track(select([onReceive(idle), onSend(d, 2)]));
    await flush();
    expect(r.current).toEqual({
      state: 'fulfilled',
      value: { index: 1, kind: 'send', result: { ok: false, reason: 'dropped', value: 2 } },
    });
    expectNoWaiters(d, idle);
  });
});

// ---- atomicity ------------------------------------------------------------------------------

describe.each(CAPACITIES)('select at capacity %i: atomicity', (capacity) => {
  it('among several ready cases, the losers consume and send nothing', async () => {
    const wins = [0, 0, 0];
    for (let round = 0; round < 300; round++) {
      const a = new Channel<string>({ capacity }); // receive case: ready
      const b = new Channel<string>({ capacity }); // send case: ready
      const c = new Channel<string>({ capacity }); // receive case: never ready
      const aSender = capacity === 0 ? track(a.send('a-item')) : undefined;
      if (capacity > 0) a.trySend('a-item');
      const bReceiver = capacity === 0 ? track(b.receive()) : undefined;

      const r = await select([onReceive(a), onSend(b, 'b-item'), onReceive(c)]);
      wins[r.index] = (wins[r.index] ?? 0) + 1;
      await flush();

      if (r.index === 0) {
        expect(r).toStrictEqual({ index: 0, kind: 'receive', ok: true, value: 'a-item' });
        expect(aSender?.current.state ?? 'fulfilled').toBe('fulfilled');
        // b: nothing sent. A waiting receiver still waits, or the buffer is still empty.
        if (bReceiver !== undefined) {
          expect(bReceiver.current.state).toBe('pending');
          expect(b.waitingReceivers).toBe(1);
          b.trySend('later');
          await flush();
          expect(bReceiver.current).toEqual({ state: 'fulfilled', value: 'later' });
        } else {
          expect(b.size).toBe(0);
        }
        expect(b.stats().sent).toBe(capacity === 0 ? 1 : 0);
      } else {
        expect(r).toStrictEqual({ index: 1, kind: 'send', result: { ok: true } });
        if (bReceiver !== undefined) {
          expect(bReceiver.current).toEqual({ state: 'fulfilled', value: 'b-item' });
        } else {
          expect(drainNow(b)).toEqual(['b-item']);
        }
        // a: nothing consumed. The waiting sender still waits, or the item is still buffered.
        if (aSender !== undefined) {
          expect(aSender.current.state).toBe('pending');
          expect(a.waitingSenders).toBe(1);
        } else {
          expect(a.size).toBe(1);
        }
        expect(a.tryReceive()).toEqual({ ok: true, value: 'a-item' });
        expect(a.stats().received).toBe(1);
      }
      expect(c.stats()).toMatchObject({ sent: 0, received: 0, waitingReceivers: 0 });
      expectNoWaiters(a, b, c);
    }
    expect(wins[0]).toBeGreaterThan(0);
    expect(wins[1]).toBeGreaterThan(0);
    expect(wins[2]).toBe(0);
  });

  it('a waiting select completes on the first event; its other waiters are gone', async () => {
    const a = new Channel<string>({ capacity }); // receive case
    const b = new Channel<string>({ capacity }); // receive case
    const c = new Channel<string>({ capacity }); // send case on a full channel
    const cItems = fill(c, 'c');

    const r = track(select([onReceive(a), onReceive(b), onSend(c, 'from-select')]));
    await flush();
    expect(r.current.state).toBe('pending');
    expect([a.waitingReceivers, b.waitingReceivers, c.waitingSenders]).toEqual([1, 1, 1]);
    checkAll(a, b, c);

    // Two events in the same synchronous step: only the first one may match the select.
    expect(b.trySend('first')).toEqual({ ok: true });
    const second = a.trySend('second');

    expect([a.waitingReceivers, b.waitingReceivers, c.waitingSenders]).toEqual([0, 0, 0]);
    await flush();
    expect(r.current).toEqual({
      state: 'fulfilled',
      value: { index: 1, kind: 'receive', ok: true, value: 'first' },
    });
    // a: the select's receiver was unlinked, so 'second' was buffered (or refused at capacity 0).
    if (capacity === 0) {
      expect(second).toEqual({ ok: false, reason: 'full', value: 'second' });
    } else {
      expect(second).toEqual({ ok: true });
      expect(drainNow(a)).toEqual(['second']);
    }
    // c: the select's item never got in, and c's own items are intact.
    expect(drainNow(c)).toEqual(cItems);
    expect(c.stats().sent).toBe(capacity);
    expectNoWaiters(a, b, c);
  });

  it('a waiting select whose send case wins leaves its receive cases untouched', async () => {
    const a = new Channel<string>({ capacity });
    const c = new Channel<string>({ capacity });
    const cItems = fill(c, 'c');

    const r = track(select([onReceive(a), onSend(c, 'v')]));
    await flush();
    // Make room in c: a plain receive takes the head, and the select's item moves in.
    const head = await c.receive();
    await flush();
    expect(r.current).toEqual({
      state: 'fulfilled',
      value: { index: 1, kind: 'send', result: { ok: true } },
    });
    if (capacity === 0) expect(head).toBe('v');
    else {
      expect(head).toBe(cItems[0]);
      expect(drainNow(c)).toEqual([...cItems.slice(1), 'v']);
    }
    expectNoWaiters(a, c);
    // a later send on a is not taken by the settled select
    const later = a.trySend('later');
    if (capacity === 0) expect(later.ok).toBe(false);
    else expect(drainNow(a)).toEqual(['later']);
    expectNoWaiters(a, c);
  });

  it('two selects waiting to receive on the same channel are served FIFO', async () => {
    const shared = new Channel<string>({ capacity });
    const x = new Channel<string>({ capacity });
    const y = new Channel<string>({ capacity });
    const first = track(select([onReceive(x), onReceive(shared)]));
    const second = track(select([onReceive(shared), onReceive(y)]));
    await flush();
    expect(shared.waitingReceivers).toBe(2);

    shared.trySend('one');
    expect(shared.waitingReceivers).toBe(1);
    expect(x.waitingReceivers).toBe(0);
    shared.trySend('two');
    await flush();

    expect(first.current).toEqual({
      state: 'fulfilled',
      value: { index: 1, kind: 'receive', ok: true, value: 'one' },
    });
    expect(second.current).toEqual({
      state: 'fulfilled',
      value: { index: 0, kind: 'receive', ok: true, value: 'two' },
    });
    expectNoWaiters(shared, x, y);
  });

  it('two selects waiting to send on the same channel are served FIFO', async () => {
    const shared = new Channel<string>({ capacity });
    const filled = fill(shared, 's');
    const x = new Channel<string>({ capacity });
    const first = track(select([onReceive(x), onSend(shared, 'one')]));
    const second = track(select([onSend(shared, 'two'), onReceive(x)]));
    await flush();
    expect(shared.waitingSenders).toBe(2);

    const got: string[] = [];
    for (let i = 0; i < capacity + 2; i++) got.push(await shared.receive());
    await flush();

    expect(got).toEqual([...filled, 'one', 'two']);
    expect(first.current).toEqual({
      state: 'fulfilled',
      value: { index: 1, kind: 'send', result: { ok: true } },
    });
    expect(second.current).toEqual({
      state: 'fulfilled',
      value: { index: 0, kind: 'send', result: { ok: true } },
    });
    expectNoWaiters(shared, x);
  });

  it('a select waiting on a channel queues behind a plain receiver (FIFO with plain waiters)', async () => {
    const shared = new Channel<string>({ capacity });
    const other = new Channel<string>({ capacity });
    const plain = track(shared.receive());
    const sel = track(select([onReceive(shared), onReceive(other)]));
    await flush();
    shared.trySend('one');
    await flush();
    expect(plain.current).toEqual({ state: 'fulfilled', value: 'one' });
    expect(sel.current.state).toBe('pending');
    shared.trySend('two');
    await flush();
    expect(sel.current).toEqual({
      state: 'fulfilled',
      value: { index: 0, kind: 'receive', ok: true, value: 'two' },
    });
    expectNoWaiters(shared, other);
  });
});

describe('select and plain operations meet at capacity 0', () => {
  it('a select waiting to send completes when a plain receive comes', async () => {
    const a = new Channel<string>();
    const b = new Channel<string>();
    const sel = track(select([onSend(a, 'v'), onReceive(b)]));
    await flush();
    expect(sel.current.state).toBe('pending');
    expect(a.waitingSenders).toBe(1);

    expect(await a.receive()).toBe('v');
    await flush();
    expect(sel.current).toEqual({
      state: 'fulfilled',
      value: { index: 0, kind: 'send', result: { ok: true } },
    });
    expectNoWaiters(a, b);
    expect(a.stats()).toMatchObject({ sent: 1, received: 1 });
  });

  it('a select waiting to receive completes when a plain send comes', async () => {
    const a = new Channel<string>();
    const b = new Channel<number>();
    const sel = track(select([onReceive(a), onSend(b, 1)]));
    await flush();
    expect(a.waitingReceivers).toBe(1);
    expect(b.waitingSenders).toBe(1);

    expect(await a.send('w')).toEqual({ ok: true });
    await flush();
    expect(sel.current).toEqual({
      state: 'fulfilled',
      value: { index: 0, kind: 'receive', ok: true, value: 'w' },
    });
    expectNoWaiters(a, b);
    expect(b.tryReceive()).toEqual({ ok: false, reason: 'empty' });
  });

  it('a plain receive meets a waiting select (tryReceive sees its sender)', async () => {
    const a = new Channel<string>();
    const sel = track(select([onSend(a, 'v')]));
    await flush();
    expect(a.tryReceive()).toEqual({ ok: true, value: 'v' });
    await flush();
    expect(sel.current.state).toBe('fulfilled');
    expectNoWaiters(a);
  });

  describe('a select with a send and a receive case on the same channel', () => {
    async function waitingSelf(a: Channel<string>) {
      const sel = track(select([onSend(a, 'mine'), onReceive(a)]));
      await flush();
      // It does not match itself: both cases wait.
      expect(sel.current.state).toBe('pending');
      expect(a.waitingSenders).toBe(1);
      expect(a.waitingReceivers).toBe(1);
      expect(a.stats()).toMatchObject({ sent: 0, received: 0 });
      a.assertInvariants();
      return sel;
    }

    it('does not match itself, even with a timeout passing', async () => {
      const clock = new ManualClock();
      const a = new Channel<string>();
      const sel = track(select([onSend(a, 'mine'), onReceive(a)], { timeoutMs: 10, clock }));
      await flush();
      expect(sel.current.state).toBe('pending');
      a.assertInvariants();
      clock.advance(10);
      await flush();
      expect(sel.current.state).toBe('rejected');
      expect(a.stats()).toMatchObject({ sent: 0, received: 0 });
      expectNoWaiters(a);
    });

    it('a plain receive takes its send case', async () => {
      const a = new Channel<string>();
      const sel = await waitingSelf(a);
      expect(await a.receive()).toBe('mine');
      await flush();
      expect(sel.current).toEqual({
        state: 'fulfilled',
        value: { index: 0, kind: 'send', result: { ok: true } },
      });
      expectNoWaiters(a);
    });

    it('a plain send feeds its receive case', async () => {
      const a = new Channel<string>();
      const sel = await waitingSelf(a);
      expect(await a.send('theirs')).toEqual({ ok: true });
      await flush();
      expect(sel.current).toEqual({
        state: 'fulfilled',
        value: { index: 1, kind: 'receive', ok: true, value: 'theirs' },
      });
      expectNoWaiters(a);
      expect(a.stats()).toMatchObject({ sent: 1, received: 1 });
    });

    it('another select receiving takes its send case', async () => {
      const a = new Channel<string>();
      const sel = await waitingSelf(a);
      expect(await select([onReceive(a)])).toStrictEqual({
        index: 0,
        kind: 'receive',
        ok: true,
        value: 'mine',
      });
      await flush();
      expect(sel.current).toEqual({
        state: 'fulfilled',
        value: { index: 0, kind: 'send', result: { ok: true } },
      });
      expectNoWaiters(a);
    });

    it('another select sending feeds its receive case', async () => {
      const a = new Channel<string>();
      const sel = await waitingSelf(a);
      expect(await select([onSend(a, 'theirs')])).toStrictEqual({
        index: 0,
        kind: 'send',
        result: { ok: true },
      });
      await flush();
      expect(sel.current).toEqual({
        state: 'fulfilled',
        value: { index: 1, kind: 'receive', ok: true, value: 'theirs' },
      });
      expectNoWaiters(a);
    });

    it('a second such select pairs with the first through exactly one case', async () => {
      const seen = new Set<number>();
      for (let round = 0; round < 100; round++) {
        const a = new Channel<string>();
        const first = await waitingSelf(a);
        const second = await select([onSend(a, 'two'), onReceive(a)]);
        await flush();
        expect(first.current.state).toBe('fulfilled');
        const firstValue = first.current.state === 'fulfilled' ? first.current.value : undefined;
        seen.add(second.index);
        if (second.index === 0) {
          expect(second).toStrictEqual({ index: 0, kind: 'send', result: { ok: true } });
          expect(firstValue).toEqual({ index: 1, kind: 'receive', ok: true, value: 'two' });
        } else {
          expect(second).toStrictEqual({ index: 1, kind: 'receive', ok: true, value: 'mine' });
          expect(firstValue).toEqual({ index: 0, kind: 'send', result: { ok: true } });
        }
        expect(a.stats()).toMatchObject({ sent: 1, received: 1 });
        expectNoWaiters(a);
      }
      expect(seen).toEqual(new Set([0, 1]));
    });
  });
});

// ---- default ------------------------------------------------------------------------------

describe.each(CAPACITIES)('select at capacity %i: default', (capacity) => {
  it('returns { index: -1, kind: "default" } when nothing is ready, leaving no waiter', async () => {
    const a = new Channel<string>({ capacity });
    const b = new Channel<string>({ capacity });
    fill(b, 'b');
    const r = await select([onReceive(a), onSend(b, 'x')], { default: true });
    expect(r).toStrictEqual({ index: -1, kind: 'default' });
    expectNoWaiters(a, b);
    // Nothing of the select lingers: a later send to a is not consumed by it.
    if (capacity > 0) {
      a.trySend('later');
      expect(drainNow(a)).toEqual(['later']);
    } else {
      expect(a.trySend('later')).toEqual({ ok: false, reason: 'full', value: 'later' });
    }
    expect(b.stats().sent).toBe(capacity);
  });

  it('is not used when a case is ready', async () => {
    const a = new Channel<string>({ capacity });
    const b = new Channel<string>({ capacity });
    const sender = capacity === 0 ? a.send('x') : undefined;
    if (capacity > 0) a.trySend('x');
    const r = await select([onReceive(b), onReceive(a)], { default: true });
    expect(r).toStrictEqual({ index: 1, kind: 'receive', ok: true, value: 'x' });
    await sender;
    expectNoWaiters(a, b);
  });

  it('default: false waits as without it', async () => {
    const a = new Channel<string>({ capacity });
    const r = track(select([onReceive(a)], { default: false }));
    await flush();
    expect(r.current.state).toBe('pending');
    a.trySend('x');
    await flush();
    expect(r.current.state).toBe('fulfilled');
    expectNoWaiters(a);
  });
});

// ---- cancellation -------------------------------------------------------------------------

describe.each(CAPACITIES)('select at capacity %i: cancellation', (capacity) => {
  it('abort while waiting rejects with signal.reason untouched and leaves nothing behind', async () => {
    const a = new Channel<string>({ capacity });
    const b = new Channel<string>({ capacity });
    const bItems = fill(b, 'b');
    const controller = new AbortController();
    const reason = { why: 'custom reason, not an Error' };

    const r = select([onReceive(a), onSend(b, 'x')], { signal: controller.signal });
    const settled = track(r);
    await flush();
    expect(settled.current.state).toBe('pending');
    expect(listeners(controller.signal)).toBe(1);
    expect([a.waitingReceivers, b.waitingSenders]).toEqual([1, 1]);

    controller.abort(reason);
    await expect(r).rejects.toBe(reason);
    expect(listeners(controller.signal)).toBe(0);
    expectNoWaiters(a, b);
    expect(drainNow(b)).toEqual(bItems);
    expect(b.stats().sent).toBe(capacity);
  });

  it('abort with the default reason rejects with that exact DOMException', async () => {
    const a = new Channel<string>({ capacity });
    const controller = new AbortController();
    const r = select([onReceive(a)], { signal: controller.signal });
    controller.abort();
    const error = await r.catch((e: unknown) => e);
    expect(error).toBe(controller.signal.reason);
    expect((error as Error).name).toBe('AbortError');
    expect(listeners(controller.signal)).toBe(0);
    expectNoWaiters(a);
  });

  it('an already-aborted signal rejects at once, even with a ready case, consuming nothing', async () => {
    const a = new Channel<string>({ capacity });
    const sender = capacity === 0 ? track(a.send('x')) : undefined;
    if (capacity > 0) a.trySend('x');
    const reason = new Error('stopped before');
    const signal = AbortSignal.abort(reason);

    await expect(select([onReceive(a)], { signal })).rejects.toBe(reason);
    await expect(select([onReceive(a)], { signal, default: true })).rejects.toBe(reason);
    expect(listeners(signal)).toBe(0);
    await flush();
    if (sender !== undefined) expect(sender.current.state).toBe('pending');
    expect(await a.receive()).toBe('x');
    expectNoWaiters(a);
  });

  it('settling normally removes the abort listener', async () => {
    const a = new Channel<string>({ capacity });
    const controller = new AbortController();
    const r = track(select([onReceive(a)], { signal: controller.signal }));
    await flush();
    expect(listeners(controller.signal)).toBe(1);
    a.trySend('x');
    expect(listeners(controller.signal)).toBe(0);
    controller.abort(new Error('too late'));
    await flush();
    expect(r.current).toEqual({
      state: 'fulfilled',
      value: { index: 0, kind: 'receive', ok: true, value: 'x' },
    });
    expectNoWaiters(a);
  });

  it('timeoutMs on a ManualClock rejects with a TimeoutError exactly at the deadline', async () => {
    const clock = new ManualClock({ start: 1000 });
    const a = new Channel<string>({ capacity });
    const b = new Channel<string>({ capacity });
    fill(b, 'b');
    const r = track(select([onReceive(a), onSend(b, 'x')], { timeoutMs: 250, clock }));
    await flush();
    expect(clock.pendingTimers).toBe(1);
    expect(clock.nextTimerAt).toBe(1250);

    clock.advance(249);
    await flush();
    expect(r.current.state).toBe('pending');
    expect([a.waitingReceivers, b.waitingSenders]).toEqual([1, 1]);

    clock.advance(1);
    await flush();
    expect(clock.now()).toBe(1250);
    expect(r.current.state).toBe('rejected');
    const error = r.current.state === 'rejected' ? r.current.error : undefined;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ code: 'ERR_SLUICE_TIMEOUT', timeoutMs: 250 });
    expect(clock.pendingTimers).toBe(0);
    expectNoWaiters(a, b);
    expect(b.stats().sent).toBe(capacity);
  });

  it('settling before the deadline clears the timer', async () => {
    const clock = new ManualClock();
    const a = new Channel<string>({ capacity });
    const r = track(select([onReceive(a)], { timeoutMs: 100, clock }));
    await flush();
    expect(clock.pendingTimers).toBe(1);
    a.trySend('x');
    expect(clock.pendingTimers).toBe(0);
    clock.advance(1000);
    await flush();
    expect(r.current.state).toBe('fulfilled');
    expectNoWaiters(a);
  });

  it('abort clears the timer and timeout removes the abort listener', async () => {
    const clock = new ManualClock();
    const a = new Channel<string>({ capacity });
    const c1 = new AbortController();
    const r1 = select([onReceive(a)], { timeoutMs: 100, clock, signal: c1.signal });
    c1.abort('reason-1');
    await expect(r1).rejects.toBe('reason-1');
    expect(clock.pendingTimers).toBe(0);

    const c2 = new AbortController();
    const r2 = select([onReceive(a)], { timeoutMs: 100, clock, signal: c2.signal });
    clock.advance(100);
    await expect(r2).rejects.toBeInstanceOf(TimeoutError);
    expect(listeners(c2.signal)).toBe(0);
    expectNoWaiters(a);
  });

  it('timeoutMs 0 with nothing ready rejects at once, arming nothing', async () => {
    const clock = new ManualClock();
    const a = new Channel<string>({ capacity });
    const r = select([onReceive(a)], { timeoutMs: 0, clock });
    expect(a.waitingReceivers).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    const error = await r.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ timeoutMs: 0 });
    expectNoWaiters(a);
  });

  it('timeoutMs 0 with a ready case completes it', async () => {
    const clock = new ManualClock();
    const a = new Channel<string>({ capacity });
    const sender = capacity === 0 ? a.send('x') : undefined;
    if (capacity > 0) a.trySend('x');
    expect(await select([onReceive(a)], { timeoutMs: 0, clock })).toStrictEqual({
      index: 0,
      kind: 'receive',
      ok: true,
      value: 'x',
    });
    await sender;
    expectNoWaiters(a);
  });

  it('timeoutMs Infinity arms no timer', async () => {
    const clock = new ManualClock();
    const a = new Channel<string>({ capacity });
    const r = track(select([onReceive(a)], { timeoutMs: Infinity, clock }));
    expect(clock.pendingTimers).toBe(0);
    a.trySend('x');
    await flush();
    expect(r.current.state).toBe('fulfilled');
    expectNoWaiters(a);
  });
});

// ---- close / destroy while waiting ----------------------------------------------------------

describe.each(CAPACITIES)('select at capacity %i: close and destroy while waiting', (capacity) => {
  for (const how of ['close', 'destroy'] as const) {
    it(`${how} of a receive case's channel: that case wins with ok: false`, async () => {
      const a = new Channel<string>({ capacity });
      const b = new Channel<string>({ capacity });
      const bItems = fill(b, 'b');
      const r = track(select([onSend(b, 'x'), onReceive(a)]));
      await flush();
      a[how]();
      await flush();
      expect(r.current).toEqual({
        state: 'fulfilled',
        value: { index: 1, kind: 'receive', ok: false },
      });
      expectNoWaiters(a, b);
      expect(drainNow(b)).toEqual(bItems);
    });

    it(`${how} of a send case's channel: rejects ChannelClosedError with its value`, async () => {
      const a = new Channel<string>({ capacity });
      const b = new Channel<string>({ capacity });
      const bItems = fill(b, 'b');
      const r = select([onReceive(a), onSend(b, 'x')]);
      const settled = track(r);
      await flush();
      let discarded: string[] = [];
      if (how === 'destroy') discarded = b.destroy();
      else b.close();
      const error = await r.catch((e: unknown) => e);
      expect(settled.current.state).toBe('rejected');
      expect(error).toBeInstanceOf(ChannelClosedError);
      expect(error).toMatchObject({ hasValue: true, value: 'x' });
      if (how === 'destroy') expect(discarded).toEqual(bItems);
      else expect(drainNow(b)).toEqual(bItems);
      expectNoWaiters(a, b);
      // a's waiter is gone: a later send is buffered (or refused at capacity 0)
      const later = a.trySend('later');
      expect(later.ok).toBe(capacity > 0);
    });
  }

  it('closing one channel settles every select waiting on it, each once', async () => {
    const a = new Channel<string>({ capacity });
    const others = [0, 1, 2].map(() => new Channel<string>({ capacity }));
    const rs = others.map((o) => track(select([onReceive(o), onReceive(a)])));
    await flush();
    a.close();
    await flush();
    for (const r of rs) {
      expect(r.current).toEqual({
        state: 'fulfilled',
        value: { index: 1, kind: 'receive', ok: false },
      });
    }
    expectNoWaiters(a, ...others);
  });
});

// ---- the reject policy ----------------------------------------------------------------------

describe('select on a reject-policy channel', () => {
  it('a send case on a full channel waits for room (documented), then completes', async () => {
    const ch = new Channel<number>({ capacity: 1, overflow: 'reject' });
    ch.trySend(1);
    const other = new Channel<number>();
    const r = track(select([onSend(ch, 2), onReceive(other)]));
    await flush();
    expect(r.current.state).toBe('pending');
    expect(ch.waitingSenders).toBe(1);
    ch.assertInvariants();

    // A plain send still rejects at once; it does not jump over the select.
    await expect(ch.send(3)).rejects.toBeInstanceOf(ChannelFullError);
    expect(ch.stats().refused).toBe(1);

    expect(await ch.receive()).toBe(1);
    await flush();
    expect(r.current).toEqual({
      state: 'fulfilled',
      value: { index: 0, kind: 'send', result: { ok: true } },
    });
    expect(drainNow(ch)).toEqual([2]);
    expectNoWaiters(ch, other);
  });

  it('with default: true it does not wait', async () => {
    const ch = new Channel<number>({ capacity: 1, overflow: 'reject' });
    ch.trySend(1);
    expect(await select([onSend(ch, 2)], { default: true })).toStrictEqual({
      index: -1,
      kind: 'default',
    });
    expect(ch.stats()).toMatchObject({ sent: 1, refused: 0 });
    expectNoWaiters(ch);
  });
});

// ---- bad input ------------------------------------------------------------------------------

describe('select input checks (synchronous, messages show the received value)', () => {
  const a = new Channel<number>({ capacity: 1 });

  it('rejects an empty case list with a RangeError', () => {
    expect(() => select([])).toThrow(RangeError);
    expect(() => select([])).toThrow(/`\[\]`/);
  });

  it('rejects a non-array with a TypeError', () => {
    // biome-ignore lint/suspicious/noExplicitAny: deliberately wrong input.
    const bad = (v: unknown) => () => select(v as any);
    expect(bad('cases')).toThrow(TypeError);
    expect(bad('cases')).toThrow(/"cases".*\(string\)/);
    expect(bad(undefined)).toThrow(/`undefined` \(undefined\)/);
    expect(bad(onReceive(a))).toThrow(TypeError);
    expect(bad(null)).toThrow(/`null` \(null\)/);
  });

  it('rejects a case not made by onReceive/onSend with a TypeError naming its index', () => {
    // biome-ignore lint/suspicious/noExplicitAny: deliberately wrong input.
    const bad = (v: unknown[]) => () => select(v as any);
    expect(bad([onReceive(a), 42])).toThrow(TypeError);
    expect(bad([onReceive(a), 42])).toThrow(/cases\[1\].*`42` \(number\)/);
    expect(bad([null])).toThrow(/cases\[0\].*`null`/);
    expect(bad([undefined])).toThrow(/cases\[0\].*`undefined`/);
    expect(bad([{ kind: 'receive', channel: {} }])).toThrow(/cases\[0\].*"receive"/);
    expect(bad([{ kind: 'peek', channel: a }])).toThrow(/cases\[0\].*"peek"/);
    expect(bad([{ channel: a }])).toThrow(TypeError);
    expect(bad([a])).toThrow(TypeError);
  });

  it('rejects a sparse case list (a hole is not a case) with a TypeError naming its index', () => {
    const holes: unknown[] = [];
    holes.length = 2;
    holes[1] = onReceive(a);
    // biome-ignore lint/suspicious/noExplicitAny: deliberately wrong input.
    expect(() => select(holes as any)).toThrow(/cases\[0\]/);
  });

  it('rejects bad options with messages naming the received value', () => {
    // biome-ignore lint/suspicious/noExplicitAny: deliberately wrong input.
    const bad = (options: unknown) => () => select([onReceive(a)], options as any);
    expect(bad({ timeoutMs: -1 })).toThrow(RangeError);
    expect(bad({ timeoutMs: -1 })).toThrow(/timeoutMs.*`-1` \(number\)/);
    expect(bad({ timeoutMs: Number.NaN })).toThrow(/`NaN` \(number\)/);
    expect(bad({ timeoutMs: '5' })).toThrow(/`"5"` \(string\)/);
    expect(bad({ signal: 'abort' })).toThrow(TypeError);
    expect(bad({ signal: 'abort' })).toThrow(/signal.*`"abort"` \(string\)/);
    expect(bad({ signal: {} })).toThrow(/signal/);
    expect(bad({ clock: {} })).toThrow(/clock/);
    expect(bad(5)).toThrow(TypeError);
    expect(bad(5)).toThrow(/`5` \(number\)/);
    expect(bad(null)).toThrow(/`null`/);
    expect(bad({ default: 'yes' })).toThrow(TypeError);
    expect(bad({ default: 'yes' })).toThrow(/default.*`"yes"` \(string\)/);
  });

  it('bad input waits on and consumes nothing', () => {
    const ch = new Channel<number>({ capacity: 1 });
    ch.trySend(7);
    // biome-ignore lint/suspicious/noExplicitAny: deliberately wrong input.
    expect(() => select([onReceive(ch), 1 as any])).toThrow(TypeError);
    expect(() => select([onReceive(ch)], { timeoutMs: -5 })).toThrow(RangeError);
    expect(ch.size).toBe(1);
    expectNoWaiters(ch);
  });
});

// ---- typing -------------------------------------------------------------------------------

describe('select result typing', () => {
  it('narrows by index and kind', async () => {
    const a = new Channel<string>({ capacity: 1 });
    const b = new Channel<number>();
    a.trySend('hello');

    const r = await select([
      onReceive(a as Channel<string>),
      onSend(b as Channel<number>, 1),
    ] as const);

    expectTypeOf(r.index).toEqualTypeOf<0 | 1>();
    if (r.index === 0) {
      expectTypeOf(r.kind).toEqualTypeOf<'receive'>();
      if (r.kind === 'receive' && r.ok) {
        expectTypeOf(r.value).toEqualTypeOf<string>();
        expect(r.value.toUpperCase()).toBe('HELLO');
      } else {
        expectTypeOf(r.value).toEqualTypeOf<undefined>();
      }
    } else {
      expectTypeOf(r.kind).toEqualTypeOf<'send'>();
      expectTypeOf(r.result).toEqualTypeOf<SendResult<number>>();
    }
    // @ts-expect-error `value` does not exist until the union is narrowed to a receive case.
    void r.value;
    expect(r).toStrictEqual({ index: 0, kind: 'receive', ok: true, value: 'hello' });
    expectNoWaiters(a, b);
  });

  it('adds SelectDefault only with default: true', async () => {
    const a = new Channel<string>();
    const withDefault = await select([onReceive(a)], { default: true });
    expectTypeOf(withDefault).extract<SelectDefault>().toEqualTypeOf<SelectDefault>();
    expect(withDefault.kind).toBe('default');

    a.close();
    const without = await select([onReceive(a)]);
    expectTypeOf(without).extract<SelectDefault>().toBeNever();
    expectTypeOf(without.index).toEqualTypeOf<0>();
  });
});

// ---- fairness -----------------------------------------------------------------------------

/** |count - n·p| within 10 standard deviations of a binomial(n, p). */
function expectFair(count: number, n: number, p: number): void {
  const sigma = Math.sqrt(n * p * (1 - p));
  expect(Math.abs(count - n * p)).toBeLessThanOrEqual(10 * sigma);
}

describe('select fairness (statistical)', () => {
  const N = 10_000;

  it('two always-ready receive cases each win about half the time', async () => {
    const a = new Channel<number>({ capacity: 16 });
    const b = new Channel<number>({ capacity: 16 });
    for (let i = 0; i < 16; i++) {
      a.trySend(i);
      b.trySend(i);
    }
    const wins = [0, 0];
    for (let i = 0; i < N; i++) {
      const r = await select([onReceive(a), onReceive(b)]);
      wins[r.index] = (wins[r.index] ?? 0) + 1;
      // Keep both buffers full: put one back where one was taken.
      (r.index === 0 ? a : b).trySend(i);
      expect(a.size + b.size).toBe(32);
    }
    expect(wins[0]! + wins[1]!).toBe(N);
    expectFair(wins[0]!, N, 1 / 2);
    expectFair(wins[1]!, N, 1 / 2);
    expect(a.stats().received + b.stats().received).toBe(N);
    expectNoWaiters(a, b);
  });

  it('three ready cases of both kinds each win about a third of the time', async () => {
    const a = new Channel<number>({ capacity: 16 }); // receive, buffered
    const b = new Channel<number>({ capacity: 16 }); // send, room
    const c = new Channel<number>(); // receive from a waiting sender (capacity 0)
    for (let i = 0; i < 8; i++) a.trySend(i);
    let cSender = c.send(-1);
    const wins = [0, 0, 0];
    for (let i = 0; i < N; i++) {
      const r = await select([onReceive(a), onSend(b, i), onReceive(c)]);
      wins[r.index] = (wins[r.index] ?? 0) + 1;
      if (r.index === 0) a.trySend(i);
      else if (r.index === 1) expect(b.tryReceive()).toEqual({ ok: true, value: i });
      else {
        expect(await cSender).toEqual({ ok: true });
        cSender = c.send(i);
      }
      if (i % 1000 === 0) checkAll(a, b, c);
    }
    for (let k = 0; k < 3; k++) expectFair(wins[k]!, N, 1 / 3);
    expect(a.size).toBe(8);
    expect(b.size).toBe(0);
    expect(c.waitingSenders).toBe(1);
    expect(c.tryReceive().ok).toBe(true);
    await cSender;
    expectNoWaiters(a, b, c);
  });

  it('not-ready cases never win and do not skew the choice among ready ones', async () => {
    const idle1 = new Channel<number>();
    const idle2 = new Channel<number>({ capacity: 1 });
    idle2.trySend(0); // full: a send case to it is not ready
    const a = new Channel<number>({ capacity: 16 });
    const b = new Channel<number>({ capacity: 16 });
    for (let i = 0; i < 4; i++) {
      a.trySend(i);
      b.trySend(i);
    }
    const wins = [0, 0, 0, 0, 0];
    for (let i = 0; i < N; i++) {
      const r = await select([
        onReceive(idle1),
        onReceive(a),
        onSend(idle2, 1),
        onReceive(b),
        onSend(idle1, 2),
      ]);
      wins[r.index] = (wins[r.index] ?? 0) + 1;
      (r.index === 1 ? a : b).trySend(i);
    }
    expect([wins[0], wins[2], wins[4]]).toEqual([0, 0, 0]);
    expectFair(wins[1]!, N, 1 / 2);
    expectFair(wins[3]!, N, 1 / 2);
    expect(idle2.size).toBe(1);
    expectNoWaiters(idle1, idle2, a, b);
  });
});
