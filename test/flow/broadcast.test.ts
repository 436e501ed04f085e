/**
 * broadcast: fan-out to subscribers with their own bounds and policies. Slow consumers run on a
 * ManualClock (a timer between items); nothing sleeps.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Broadcast, broadcast } from '../../src/flow/broadcast.js';
import {
  Channel,
  ChannelClosedError,
  type ChannelOptions,
  type DropReason,
} from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { flush, microtasks } from '../support/clock.js';
import { caught, rejection } from '../support/errors.js';
import { probe } from '../support/outcome.js';
import { propRuns } from '../support/prop.js';
import { listeners } from '../support/signals.js';

function sleep(clock: ManualClock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimer(resolve, ms));
}

/** Consumes `channel` one item per `everyMs` on `clock`; resolves with what it got. */
async function slowConsumer<T>(clock: ManualClock, channel: Channel<T>, everyMs: number) {
  const got: T[] = [];
  for await (const item of channel) {
    got.push(item);
    await sleep(clock, everyMs);
  }
  return got;
}

async function collect<T>(channel: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of channel) out.push(item);
  return out;
}

/** An async generator of 0 … n-1 (then `fail`, if given) that counts what it yielded. */
function counted(n: number, fail?: Error) {
  const state = { pulled: 0 };
  async function* gen(): AsyncGenerator<number> {
    for (let i = 0; i < n; i++) {
      state.pulled++;
      yield i;
    }
    if (fail !== undefined) throw fail;
  }
  return { iterable: gen(), state };
}

describe('broadcast: publishing', () => {
  it('gives every subscriber every item, in order, and says so per subscriber', async () => {
    const hub = broadcast<number>();
    const a = hub.subscribe({ capacity: 10 });
    const b = hub.subscribe({ capacity: 10, overflow: 'drop-newest' });
    expect(hub.subscribers).toBe(2);
    for (let i = 0; i < 5; i++) {
      const r = await hub.send(i);
      expect(r).toMatchObject({ delivered: 2, dropped: 0, refused: 0, closed: 0, withdrawn: 0 });
      expect(r.unheard).toBe(false);
      expect(r.outcomes.map((o) => o.channel)).toEqual([a, b]);
    }
    hub.close();
    expect(await collect(a)).toEqual([0, 1, 2, 3, 4]);
    expect(await collect(b)).toEqual([0, 1, 2, 3, 4]);
    expect(hub.stats()).toMatchObject({ published: 5, delivered: 10, unheard: 0, subscribers: 0 });
  });

  it('a slow `block` subscriber paces the publisher', async () => {
    const clock = new ManualClock();
    const hub = broadcast<number>();
    const slow = hub.subscribe({ capacity: 1 });
    const consumed = slowConsumer(clock, slow, 10);
    const doneAt: number[] = [];
    const publisher = (async () => {
      for (let i = 0; i < 10; i++) {
        await hub.send(i);
        doneAt.push(clock.now());
      }
      hub.close();
    })();
    await clock.runAllAsync();
    await publisher;
    expect(await consumed).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // One item in the consumer's hands, one buffered: the publisher runs ~2 items ahead.
    expect(doneAt[9]).toBeGreaterThanOrEqual(70);
  });

  it('a slow `drop-oldest` subscriber never delays the publisher or a fast one: it drops, reported', async () => {
    const clock = new ManualClock();
    const hub = broadcast<number>();
    const evicted: number[] = [];
    const slow = hub.subscribe({
      capacity: 2,
      overflow: 'drop-oldest',
      onDrop: (item, reason) => {
        expect(reason).toBe('evicted');
        evicted.push(item);
      },
    });
    const fast = hub.subscribe({ capacity: 100 });
    const slowGot = slowConsumer(clock, slow, 10);
    await microtasks();
    const reported: number[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await hub.send(i);
      expect(clock.now()).toBe(0); // never waited
      const outcome = r.outcomes[0]?.result;
      if (outcome?.ok && 'evicted' in outcome) {
        reported.push(outcome.evicted);
      }
    }
    hub.close();
    await clock.runAllAsync();
    const got = await slowGot;
    expect(reported).toEqual(evicted);
    expect(got).toEqual([0, 8, 9]); // 0 taken at once; then only the newest two survive
    expect([...got, ...evicted].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await collect(fast)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('a full `reject` subscriber is skipped for that item, reported as refused', async () => {
    const hub = broadcast<string>();
    const r = hub.subscribe({ capacity: 1, overflow: 'reject' });
    expect((await hub.send('a')).delivered).toBe(1);
    const second = await hub.send('b');
    expect(second).toMatchObject({ delivered: 0, refused: 1 });
    expect(second.outcomes[0]?.result).toEqual({ ok: false, reason: 'full', value: 'b' });
    expect(r.stats().refused).toBe(1);
    expect(hub.stats().refused).toBe(1);
  });

  it('`drop-newest` reports the item as dropped', async () => {
    const hub = broadcast<string>();
    hub.subscribe({ capacity: 1, overflow: 'drop-newest' });
    await hub.send('a');
    const r = await hub.send('b');
    expect(r).toMatchObject({ delivered: 0, dropped: 1 });
    expect(r.outcomes[0]?.result).toEqual({ ok: false, reason: 'dropped', value: 'b' });
  });

  it('an item with no subscriber is unheard: counted and passed to onUnheard', async () => {
    const unheard: number[] = [];
    const hub = broadcast<number>(undefined, { onUnheard: (item) => unheard.push(item) });
    const r = await hub.send(7);
    expect(r).toMatchObject({ delivered: 0, unheard: true, outcomes: [] });
    expect(unheard).toEqual([7]);
    expect(hub.stats()).toMatchObject({ published: 1, unheard: 1 });
    expect(await broadcast<number>().send(1)).toMatchObject({ unheard: true }); // no hook: counted
  });

  it('overlapping publishes reach each `block` subscriber in call order', async () => {
    const hub = broadcast<number>();
    const ch = hub.subscribe(); // rendezvous
    const sends = [1, 2, 3].map((i) => hub.send(i));
    expect(await collectN(ch, 3)).toEqual([1, 2, 3]);
    for (const r of await Promise.all(sends)) expect(r.delivered).toBe(1);
  });
});

async function collectN<T>(ch: Channel<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(await ch.receive());
  return out;
}

describe('broadcast: cancellation', () => {
  it('an already-aborted signal rejects with its reason and publishes nothing', async () => {
    const hub = broadcast<number>();
    const ch = hub.subscribe({ capacity: 1 });
    const reason = new Error('stop');
    expect(await rejection(hub.send(1, { signal: AbortSignal.abort(reason) }))).toBe(reason);
    expect(ch.size).toBe(0);
    expect(hub.stats().published).toBe(0);
  });

  it('an abort while a `block` subscriber is full withdraws the item from it only', async () => {
    const hub = broadcast<number>();
    const full = hub.subscribe({ capacity: 1 });
    const other = hub.subscribe({ capacity: 4 });
    await hub.send(0);
    const controller = new AbortController();
    const pending = probe(hub.send(1, { signal: controller.signal }));
    await flush();
    expect(pending.status).toBe('pending');
    expect(listeners(controller.signal)).toBe(1);
    controller.abort(new Error('enough'));
    await flush();
    expect(pending.value).toMatchObject({ delivered: 1, withdrawn: 1 });
    expect(pending.value?.outcomes[0]?.result).toEqual({ ok: false, reason: 'aborted', value: 1 });
    expect(listeners(controller.signal)).toBe(0);
    expect(full.waitingSenders).toBe(0);
    expect(other.size).toBe(2);
    expect(hub.stats().withdrawn).toBe(1);
  });

  it('no abort listener is left once a publish settles', async () => {
    const hub = broadcast<number>();
    const ch = hub.subscribe();
    const controller = new AbortController();
    const sent = hub.send(1, { signal: controller.signal });
    expect(listeners(controller.signal)).toBe(1);
    await ch.receive();
    await sent;
    expect(listeners(controller.signal)).toBe(0);
  });
});

describe('broadcast: unsubscribe and close', () => {
  it('unsubscribe closes the channel gracefully and frees a publish waiting for it', async () => {
    const hub = broadcast<number>();
    const ch = hub.subscribe({ capacity: 1 });
    await hub.send(1);
    const waiting = probe(hub.send(2));
    await flush();
    expect(waiting.status).toBe('pending');
    expect(hub.unsubscribe(ch)).toBe(true);
    await flush();
    expect(waiting.value).toMatchObject({ closed: 1 });
    expect(waiting.value?.outcomes[0]?.result).toEqual({ ok: false, reason: 'closed', value: 2 });
    expect(await collect(ch)).toEqual([1]); // what it buffered is still received
    expect(hub.unsubscribe(ch)).toBe(false);
    expect(hub.subscribers).toBe(0);
  });

  it('a consumer may close its own channel: it is dropped from the subscribers', async () => {
    const hub = broadcast<number>();
    const a = hub.subscribe({ capacity: 1 });
    const b = hub.subscribe({ capacity: 1 });
    a.close();
    expect(hub.subscribers).toBe(1);
    const r = await hub.send(1);
    expect(r.outcomes.map((o) => o.channel)).toEqual([b]);
    // closed while a publish waits for it
    const waiting = hub.send(2);
    b.close();
    expect(await waiting).toMatchObject({ closed: 1 });
    expect(hub.subscribers).toBe(0);
    hub.assertInvariants();
  });

  it('close ends every subscriber, frees waiting publishes, refuses later sends', async () => {
    const hub = broadcast<number>();
    const a = hub.subscribe({ capacity: 1 });
    const b = hub.subscribe({ capacity: 1, overflow: 'drop-oldest' });
    await hub.send(1);
    const waiting = hub.send(2);
    hub.close();
    hub.close(); // idempotent
    expect(await waiting).toMatchObject({ delivered: 1, closed: 1 });
    expect(hub.isClosed).toBe(true);
    expect(a.isClosed && b.isClosed).toBe(true);
    expect(await collect(a)).toEqual([1]);
    expect(await collect(b)).toEqual([2]);
    const error = await rejection(hub.send(3));
    expect(error).toBeInstanceOf(ChannelClosedError);
    expect((error as ChannelClosedError).value).toBe(3);
    const late = hub.subscribe({ capacity: 1 });
    expect(late.isClosed).toBe(true);
    expect(hub.subscribers).toBe(0);
    hub.assertInvariants();
  });
});

describe('broadcast: feeding from a source', () => {
  it('publishes every item, then closes the subscribers', async () => {
    const { iterable } = counted(5);
    const hub = broadcast(iterable);
    const a = hub.subscribe({ capacity: 8 });
    const b = hub.subscribe({ capacity: 8 });
    expect(await hub.fed).toEqual({ pulled: 5, published: 5 });
    expect(hub.isClosed).toBe(true);
    expect(await collect(a)).toEqual([0, 1, 2, 3, 4]);
    expect(await collect(b)).toEqual([0, 1, 2, 3, 4]);
  });

  it('a full `block` subscriber stops the source from being read', async () => {
    const { iterable, state } = counted(100);
    const hub = broadcast(iterable);
    const ch = hub.subscribe({ capacity: 1 });
    hub.subscribe({ capacity: 1, overflow: 'drop-oldest' });
    await flush();
    // one buffered, one waiting as the publish in progress; nothing more is pulled
    expect(state.pulled).toBe(2);
    await ch.receive();
    await flush();
    expect(state.pulled).toBe(3);
    hub.close();
    expect(await hub.fed).toEqual({ pulled: 3, published: 3 });
  });

  it('reads a Channel source and leaves it open', async () => {
    const source = new Channel<number>({ capacity: 4 });
    for (const i of [1, 2, 3]) source.trySend(i);
    const hub = broadcast(source, { close: false });
    const ch = hub.subscribe({ capacity: 4 });
    await flush();
    expect(ch.size).toBe(3);
    source.close();
    expect(await hub.fed).toEqual({ pulled: 3, published: 3 });
    expect(hub.isClosed).toBe(false);
    hub.close();
    expect(await collect(ch)).toEqual([1, 2, 3]);
  });

  it("a source's error rejects `fed` and still closes the subscribers", async () => {
    const boom = new Error('boom');
    const { iterable } = counted(2, boom);
    const hub = broadcast(iterable);
    const ch = hub.subscribe({ capacity: 4 });
    expect(await rejection(hub.fed)).toBe(boom);
    expect(await collect(ch)).toEqual([0, 1]);
  });

  it('an abort withdraws the publish in progress, returns the iterator, rejects `fed`', async () => {
    let returned = false;
    async function* endless(): AsyncGenerator<number> {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        returned = true;
      }
    }
    const controller = new AbortController();
    const hub = broadcast(endless(), { signal: controller.signal });
    const ch = hub.subscribe({ capacity: 1 });
    await flush();
    const reason = new Error('stop');
    controller.abort(reason);
    expect(await rejection(hub.fed)).toBe(reason);
    expect(returned).toBe(true);
    expect(listeners(controller.signal)).toBe(0);
    expect(hub.stats()).toMatchObject({ withdrawn: 1 });
    expect(await collect(ch)).toEqual([0]);
  });

  it('close while the source is pulling stops it and hands a late item to onUnheard', async () => {
    let release: (value: IteratorResult<number>) => void = () => {};
    let returned = 0;
    const source: AsyncIterable<number> = {
      [Symbol.asyncIterator]: () => ({
        next: () => new Promise<IteratorResult<number>>((resolve) => (release = resolve)),
        return: async () => {
          returned++;
          return { done: true, value: undefined };
        },
      }),
    };
    const unheard: number[] = [];
    const hub = broadcast(source, { onUnheard: (item) => unheard.push(item) });
    hub.subscribe({ capacity: 1 });
    await flush();
    hub.close();
    expect(await hub.fed).toEqual({ pulled: 0, published: 0 });
    expect(returned).toBe(1);
    release({ done: false, value: 42 });
    await flush();
    expect(unheard).toEqual([42]);
  });

  it('an already-aborted signal never opens the source', async () => {
    let opened = false;
    const source: AsyncIterable<number> = {
      [Symbol.asyncIterator]: () => {
        opened = true;
        return { next: async () => ({ done: true, value: undefined }) };
      },
    };
    const reason = new Error('no');
    const hub = broadcast(source, { signal: AbortSignal.abort(reason) });
    expect(await rejection(hub.fed)).toBe(reason);
    expect(opened).toBe(false);
    expect(hub.isClosed).toBe(true);
  });

  it('without a source, `fed` is already resolved', async () => {
    expect(await broadcast().fed).toEqual({ pulled: 0, published: 0 });
  });
});

describe('broadcast: conservation (property)', () => {
  type Policy = 'block' | 'drop-newest' | 'drop-oldest' | 'reject';
  const subscriberArb = fc.record({
    policy: fc.constantFrom<Policy>('block', 'drop-newest', 'drop-oldest', 'reject'),
    capacity: fc.integer({ min: 1, max: 3 }),
  });
  const stepArb = fc.oneof(
    fc.constant({ kind: 'send' as const }),
    fc.record({ kind: fc.constant('receive' as const), sub: fc.nat(4) }),
    fc.record({ kind: fc.constant('unsubscribe' as const), sub: fc.nat(4) }),
  );

  it('each subscriber gets each item exactly once, or it is reported dropped/refused/closed for it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(subscriberArb, { minLength: 1, maxLength: 4 }),
        fc.array(stepArb, { maxLength: 60 }),
        async (configs, steps) => {
          const hub = new Broadcast<number>(undefined);
          const subs = configs.map(({ policy, capacity }) => {
            const lost: number[] = [];
            const onDrop = (item: number, _reason: DropReason): void => {
              lost.push(item);
            };
            const options = (
              policy === 'block' || policy === 'reject'
                ? { capacity, overflow: policy, onDrop }
                : { capacity, overflow: policy, onDrop }
            ) as ChannelOptions<number>;
            return { channel: hub.subscribe(options), received: [] as number[], lost };
          });
          const results: Promise<unknown>[] = [];
          const notDelivered = new Map<Channel<number>, number[]>();
          let next = 0;
          let outcomes = 0;
          for (const step of steps) {
            if (step.kind === 'send') {
              const item = next++;
              results.push(
                hub.send(item).then((r) => {
                  outcomes += r.outcomes.length;
                  for (const { channel, result } of r.outcomes) {
                    if (!result.ok && result.reason !== 'dropped') {
                      notDelivered.set(channel, [...(notDelivered.get(channel) ?? []), item]);
                    }
                  }
                }),
              );
            } else {
              const sub = subs[step.sub % subs.length]!;
              if (step.kind === 'receive') {
                const r = sub.channel.tryReceive();
                if (r.ok) sub.received.push(r.value);
              } else hub.unsubscribe(sub.channel);
            }
            await microtasks(2);
            hub.assertInvariants();
            for (const s of subs) s.channel.assertInvariants();
          }
          hub.close();
          await Promise.all(results);
          for (const s of subs) {
            for (;;) {
              const r = s.channel.tryReceive();
              if (!r.ok) break;
              s.received.push(r.value);
            }
          }
          for (const s of subs) {
            const seen = [...s.received, ...s.lost, ...(notDelivered.get(s.channel) ?? [])];
            // every item published while it was subscribed, exactly once
            expect([...seen].sort((a, b) => a - b)).toEqual(
              Array.from({ length: seen.length }, (_, i) => i),
            );
            // and received in publish order
            expect(s.received).toEqual([...s.received].sort((a, b) => a - b));
          }
          const stats = hub.stats();
          expect(
            stats.delivered + stats.dropped + stats.refused + stats.closed + stats.withdrawn,
          ).toBe(outcomes);
        },
      ),
      { numRuns: propRuns(200) },
    );
  });
});

describe('broadcast: misuse', () => {
  it('names the bad value', () => {
    expect(caught(() => broadcast(5 as never)).message).toBe(
      'Expected `source` to be a Channel or an async iterable, got `5` (number)',
    );
    expect(caught(() => broadcast(undefined, { onUnheard: 3 as never })).message).toBe(
      'Expected `onUnheard` to be a function, got `3` (number)',
    );
    expect(caught(() => broadcast(undefined, { close: 'yes' as never })).message).toBe(
      'Expected `close` to be a boolean, got `"yes"` (string)',
    );
    expect(caught(() => broadcast(undefined, 1 as never))).toBeInstanceOf(TypeError);
    const hub = broadcast<number>();
    expect(caught(() => hub.send(1, 5 as never)).message).toBe(
      'Expected `options` to be an options object, got `5` (number)',
    );
    expect(caught(() => hub.send(1, { signal: 'x' as never })).message).toBe(
      'Expected `signal` to be an AbortSignal, got `"x"` (string)',
    );
    expect(caught(() => hub.unsubscribe({} as never)).message).toBe(
      'Expected `channel` to be a Channel, got `{}` (object)',
    );
    const e = caught(() => hub.subscribe({ capacity: -1 }));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toContain('`capacity`');
    expect(e.message).toContain('`-1`');
  });
});
