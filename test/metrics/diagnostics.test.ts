/**
 * The `node:diagnostics_channel` events of a Channel: every drop (as `onDrop` sees it) and the
 * start and end of every plain wait, on a ManualClock; nothing once unsubscribed.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { channelDiagnostics } from '../../src/channel/diagnostics.js';
import {
  Channel,
  type ChannelOptions,
  type DropReason,
  onReceive,
  select,
  TimeoutError,
  TokenBucket,
  WindowLimiter,
} from '../../src/index.js';
import { limiterDiagnostics } from '../../src/limit/diagnostics.js';
import { ManualClock } from '../../src/testing/index.js';
import { flush } from '../support/clock.js';
import { rejection } from '../support/errors.js';

type Listener = (message: unknown, name: string | symbol) => void;

/** Subscribes to `name` for one test, recording every message; unsubscribed after the test. */
const subscribed: [string, Listener][] = [];
function record(name: string): unknown[] {
  const messages: unknown[] = [];
  const listener: Listener = (message) => void messages.push({ ...(message as object) });
  subscribe(name, listener);
  subscribed.push([name, listener]);
  return messages;
}
afterEach(() => {
  for (const [name, listener] of subscribed.splice(0)) unsubscribe(name, listener);
});

function channel<T>(options: Partial<ChannelOptions<T>> = {}) {
  const clock = new ManualClock();
  const drops: [T, DropReason][] = [];
  const ch = new Channel<T>({
    clock,
    onDrop: (item: T, reason: DropReason) => void drops.push([item, reason]),
    ...options,
  } as ChannelOptions<T>);
  return { ch, clock, drops };
}

describe('sluice:channel:drop', () => {
  it('publishes every drop, with the reason onDrop gets, in the same order', async () => {
    const messages = record(channelDiagnostics.drop);
    const newest = channel<number>({ capacity: 1, overflow: 'drop-newest' });
    newest.ch.trySend(1);
    newest.ch.trySend(2); // overflow
    await newest.ch.send(3); // overflow
    const oldest = channel<number>({ capacity: 1, overflow: 'drop-oldest' });
    oldest.ch.trySend(1);
    oldest.ch.trySend(2); // evicts 1
    oldest.ch.destroy(); // discards 2
    const timed = channel<{ id: string; d: number }>({ capacity: 4, deadline: (m) => m.d });
    timed.ch.trySend({ id: 'late', d: 10 });
    timed.clock.advance(20);
    timed.ch.tryReceive(); // expires 'late' at the head
    expect(messages).toEqual([
      { channel: newest.ch, item: 2, reason: 'overflow' },
      { channel: newest.ch, item: 3, reason: 'overflow' },
      { channel: oldest.ch, item: 1, reason: 'evicted' },
      { channel: oldest.ch, item: 2, reason: 'discarded' },
      { channel: timed.ch, item: { id: 'late', d: 10 }, reason: 'expired' },
    ]);
    const hooked = [...newest.drops, ...oldest.drops, ...timed.drops];
    expect(
      messages.map((m) => [(m as { item: unknown }).item, (m as { reason: string }).reason]),
    ).toEqual(hooked);
  });

  it('publishes drops of a channel without onDrop too', () => {
    const messages = record(channelDiagnostics.drop);
    const ch = new Channel<number>({ capacity: 1, overflow: 'drop-newest' });
    ch.trySend(1);
    ch.trySend(2);
    expect(messages).toEqual([{ channel: ch, item: 2, reason: 'overflow' }]);
  });
});

describe('sluice:channel:wait', () => {
  it('a send that waits: start, then end with how long it waited on the clock', async () => {
    const messages = record(channelDiagnostics.wait);
    const { ch, clock } = channel<number>({ capacity: 0 });
    const sent = ch.send(1);
    expect(messages).toEqual([{ phase: 'start', channel: ch, op: 'send' }]);
    clock.advance(50);
    expect(ch.tryReceive()).toEqual({ ok: true, value: 1 });
    await sent;
    expect(messages[1]).toEqual({
      phase: 'end',
      channel: ch,
      op: 'send',
      outcome: 'ok',
      waitedMs: 50,
    });
  });

  it.each([
    ['ok', (ch: Channel<number>) => ch.trySend(7)],
    ['closed', (ch: Channel<number>) => ch.close()],
    ['timeout', (_ch: Channel<number>, clock: ManualClock) => clock.advance(30)],
  ] as const)('a receive that waits and ends %s', async (outcome, end) => {
    const messages = record(channelDiagnostics.wait);
    const { ch, clock } = channel<number>({ capacity: 1 });
    const got = ch.receive({ timeoutMs: 30 });
    got.catch(() => {});
    clock.advance(outcome === 'timeout' ? 0 : 12);
    end(ch, clock);
    await got.catch(() => {});
    expect(messages).toEqual([
      { phase: 'start', channel: ch, op: 'receive' },
      {
        phase: 'end',
        channel: ch,
        op: 'receive',
        outcome,
        waitedMs: outcome === 'timeout' ? 30 : 12,
      },
    ]);
  });

  it('aborted, closed, expired and cancelled waits, iterator steps and receiveMany', async () => {
    const messages = record(channelDiagnostics.wait);
    const ends = () =>
      messages
        .filter((m) => (m as { phase: string }).phase === 'end')
        .map((m) => `${(m as { op: string }).op} ${(m as { outcome: string }).outcome}`);

    const a = channel<number>({ capacity: 0 });
    const controller = new AbortController();
    const aborted = a.ch.send(1, { signal: controller.signal });
    controller.abort(new Error('stop'));
    await rejection(aborted);

    const b = channel<number>({ capacity: 0 });
    const closing = b.ch.send(1);
    b.ch.close();
    await rejection(closing);

    const c = channel<{ d: number }>({ capacity: 1, deadline: (m) => m.d });
    c.ch.trySend({ d: 1000 });
    const expiring = c.ch.send({ d: 5 }); // waits for room; its deadline passes meanwhile
    c.clock.advance(10);
    c.ch.tryReceive();
    expect(await expiring).toMatchObject({ ok: false, reason: 'expired' });

    const d = channel<number>({ capacity: 1 });
    const iterator = d.ch[Symbol.asyncIterator]();
    const step = iterator.next(); // a for-await step that waits
    await iterator.return?.();
    expect(await step).toEqual({ done: true, value: undefined });

    const e = channel<number>({ capacity: 4 });
    const batch = e.ch.receiveMany(2);
    e.ch.trySend(1);
    expect(await batch).toEqual([1]);

    expect(ends()).toEqual([
      'send aborted',
      'send closed',
      'send expired',
      'receive cancelled',
      'receive ok',
    ]);
  });

  it('select cases are not reported', async () => {
    const messages = record(channelDiagnostics.wait);
    const { ch } = channel<number>({ capacity: 1 });
    const chosen = select([onReceive(ch)]);
    ch.trySend(1);
    await chosen;
    expect(messages).toEqual([]);
  });

  it('reports a wait only if its start was published', async () => {
    const { ch, clock } = channel<number>({ capacity: 0 });
    const before = ch.send(1); // nobody listens yet
    const messages = record(channelDiagnostics.wait);
    clock.advance(5);
    ch.tryReceive();
    await before;
    expect(messages).toEqual([]);
  });
});

describe('sluice:limiter:wait', () => {
  it('a take that waits: start with its planned delay, end when granted', async () => {
    const messages = record(limiterDiagnostics.wait);
    const clock = new ManualClock();
    const bucket = new TokenBucket({ rate: 10, burst: 1, clock });
    bucket.tryTake();
    const taken = bucket.take(); // the bucket is empty: waits 100 ms
    clock.advance(100);
    await taken;
    expect(messages).toEqual([
      { phase: 'start', limiter: bucket, n: 1, delayMs: 100 },
      { phase: 'end', limiter: bucket, n: 1, outcome: 'ok', waitedMs: 100 },
    ]);
  });

  it('aborted and timed-out waits; immediate grants and reservations are not waits', async () => {
    const messages = record(limiterDiagnostics.wait);
    const clock = new ManualClock();
    const bucket = new TokenBucket({ rate: 10, burst: 1, clock });
    bucket.reserve(); // takes the token: not a wait
    const controller = new AbortController();
    const aborted = bucket.take(1, { signal: controller.signal });
    const late = bucket.take(1, { timeoutMs: 300 }); // planned at 200 ms
    clock.advance(30);
    controller.abort(new Error('stop'));
    await rejection(aborted);
    bucket.setRate(1); // `late` would now wait 1 s: past its timeoutMs
    expect(await rejection(late)).toBeInstanceOf(TimeoutError);
    const window = new WindowLimiter({ limit: 1, windowMs: 1000, clock });
    await window.take(); // granted at once
    expect(messages).toEqual([
      { phase: 'start', limiter: bucket, n: 1, delayMs: 100 },
      { phase: 'start', limiter: bucket, n: 1, delayMs: 200 },
      { phase: 'end', limiter: bucket, n: 1, outcome: 'aborted', waitedMs: 30 },
      { phase: 'end', limiter: bucket, n: 1, outcome: 'timeout', waitedMs: 30 },
    ]);
  });

  it('subscribers see a consistent limiter; nothing once unsubscribed', async () => {
    const seen: unknown[] = [];
    const check: Listener = (message) => {
      (message as { limiter: TokenBucket }).limiter.assertInvariants();
      seen.push(message);
    };
    subscribe(limiterDiagnostics.wait, check);
    const clock = new ManualClock();
    const bucket = new TokenBucket({ rate: 10, burst: 1, clock });
    bucket.tryTake();
    const takes = [bucket.take(), bucket.take(), bucket.take()];
    await clock.advanceAsync(300);
    await Promise.all(takes);
    expect(seen).toHaveLength(6);
    unsubscribe(limiterDiagnostics.wait, check);
    await Promise.all([bucket.take(), clock.advanceAsync(100)]);
    expect(seen).toHaveLength(6);
  });
});

describe('subscribers', () => {
  it('always see a consistent channel, even mid-take while senders are admitted', async () => {
    const checked: string[] = [];
    const check = (message: unknown) => {
      const m = message as { channel: Channel<unknown>; phase?: string; reason?: string };
      m.channel.assertInvariants();
      checked.push(m.phase ?? m.reason ?? '?');
    };
    subscribe(channelDiagnostics.wait, check);
    subscribe(channelDiagnostics.drop, check);
    subscribed.push([channelDiagnostics.wait, check], [channelDiagnostics.drop, check]);
    const { ch, clock } = channel<number>({ capacity: 2, maxWaitMs: 10 });
    ch.trySend(1);
    ch.trySend(2);
    const senders = [ch.send(3), ch.send(4), ch.send(5)];
    clock.advance(20); // 1 and 2 expire; the take admits 3 and 4 one by one, then takes 3
    expect(ch.tryReceive()).toEqual({ ok: true, value: 3 });
    ch.close();
    await Promise.allSettled(senders);
    expect(checked).toEqual(['start', 'start', 'start', 'expired', 'expired', 'end', 'end', 'end']);
  });

  it('may act on the channel: a start subscriber that sends to the waiting receiver', async () => {
    const feed: Listener = (message) => {
      const m = message as { channel: Channel<number>; phase: string };
      if (m.phase === 'start') m.channel.trySend(42);
    };
    subscribe(channelDiagnostics.wait, feed);
    subscribed.push([channelDiagnostics.wait, feed]);
    const { ch, clock } = channel<number>({ capacity: 1 });
    const controller = new AbortController();
    expect(await ch.receive({ signal: controller.signal, timeoutMs: 100 })).toBe(42);
    expect(clock.pendingTimers).toBe(0); // the waiter's timer went with it
    ch.assertInvariants();
  });
});

describe('unsubscribed', () => {
  it('publishes nothing, and a wait that started observed ends unobserved', async () => {
    const seen: unknown[] = [];
    const listener: Listener = (message) => void seen.push(message);
    subscribe(channelDiagnostics.wait, listener);
    subscribe(channelDiagnostics.drop, listener);
    const { ch, clock } = channel<number>({ capacity: 1, overflow: 'drop-oldest' });
    const waiting = ch.receive({ timeoutMs: 10 });
    expect(seen).toHaveLength(1); // its start
    unsubscribe(channelDiagnostics.wait, listener);
    unsubscribe(channelDiagnostics.drop, listener);
    clock.advance(10);
    expect(await rejection(waiting)).toBeInstanceOf(TimeoutError);
    ch.trySend(1);
    ch.trySend(2); // evicts 1
    const next = ch.receive();
    ch.destroy();
    await next;
    await flush();
    expect(seen).toHaveLength(1);
  });
});

describe('where node:diagnostics_channel is missing', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.resetModules();
  });

  it.each([
    ['no process', undefined],
    ['no getBuiltinModule', {}],
    [
      'a getBuiltinModule that throws',
      {
        getBuiltinModule() {
          throw new Error('denied');
        },
      },
    ],
    ['a module without channel()', { getBuiltinModule: () => ({}) }],
  ])('%s: every channel is off', async (_, process) => {
    vi.stubGlobal('process', process);
    vi.resetModules();
    const { diagnosticsChannel, OFF } = await import('../../src/internal/diagnostics.js');
    vi.unstubAllGlobals();
    const ch = diagnosticsChannel('sluice:test');
    expect(ch).toBe(OFF);
    expect(ch.hasSubscribers).toBe(false);
    ch.publish({});
  });

  it('with a channel() that throws, that channel is off', async () => {
    vi.stubGlobal('process', {
      getBuiltinModule: () => ({
        channel() {
          throw new Error('no');
        },
      }),
    });
    vi.resetModules();
    const { diagnosticsChannel, OFF } = await import('../../src/internal/diagnostics.js');
    vi.unstubAllGlobals();
    expect(diagnosticsChannel('sluice:test')).toBe(OFF);
  });
});
