/**
 * Deadlines on a ManualClock: `maxWaitMs` (the longest an item may wait in the buffer) and
 * `deadline(item)` (an absolute clock time). Expired items are never delivered; they are
 * reported to `onDrop(item, 'expired')` when they reach the head, with no timer per item.
 */
import { describe, expect, it } from 'vitest';
import {
  Channel,
  type ChannelOptions,
  type DropReason,
  onReceive,
  select,
} from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { flush } from '../support/clock.js';
import { caught } from '../support/errors.js';
import { observe } from '../support/outcome.js';

interface Msg {
  readonly id: string;
  /** Absolute deadline on the clock, if any. */
  readonly d?: number;
  /** Priority, for priority channels. */
  readonly p?: number;
}

const msg = (id: string, d?: number, p?: number): Msg => ({
  id,
  ...(d === undefined ? {} : { d }),
  ...(p === undefined ? {} : { p }),
});

interface Dropped {
  readonly id: string;
  readonly reason: DropReason;
  /** Clock time of the onDrop call. */
  readonly at: number;
}

/** A channel of messages on a ManualClock whose onDrop records (id, reason, time). */
function setup(
  options: Partial<ChannelOptions<Msg>> = {},
  hook?: (item: Msg, reason: DropReason) => void,
): { ch: Channel<Msg>; clock: ManualClock; drops: Dropped[] } {
  const clock = new ManualClock();
  const drops: Dropped[] = [];
  const ch = new Channel<Msg>({
    clock,
    onDrop: (item: Msg, reason: DropReason) => {
      drops.push({ id: item.id, reason, at: clock.now() });
      hook?.(item, reason);
    },
    ...options,
  } as ChannelOptions<Msg>);
  return { ch, clock, drops };
}

/** `assertInvariants()` and conservation with every drop reason, from the public stats. */
function check(ch: Channel<unknown>): void {
  ch.assertInvariants();
  const s = ch.stats();
  const { evicted, discarded, expired, shed } = s.dropped;
  expect(s.sent).toBe(s.received + evicted + discarded + expired + shed + s.size);
  expect(s.size).toBeLessThanOrEqual(s.capacity);
}

/** The id tryReceive returns, or the reason it returned none; checks the channel after. */
function take(ch: Channel<Msg>): string {
  const r = ch.tryReceive();
  check(ch);
  return r.ok ? r.value.id : `<${r.reason}>`;
}

const byDeadline = (m: Msg): number | undefined => m.d;

describe('maxWaitMs', () => {
  // One item sent at 0 with maxWaitMs 10, taken at `at`: delivered iff at <= 10.
  const rows = [
    { at: 0, delivered: true },
    { at: 9, delivered: true },
    { at: 10, delivered: true },
    { at: 10.5, delivered: false },
    { at: 11, delivered: false },
    { at: 1000, delivered: false },
  ];
  for (const row of rows) {
    it(`an item sent at 0 and taken at ${row.at} is ${row.delivered ? 'delivered' : 'expired'}`, () => {
      const { ch, clock, drops } = setup({ capacity: 4, maxWaitMs: 10 });
      expect(ch.trySend(msg('a'))).toStrictEqual({ ok: true });
      clock.advanceTo(row.at);
      expect(ch.size).toBe(1); // nothing happens until a take looks at it
      expect(take(ch)).toBe(row.delivered ? 'a' : '<empty>');
      expect(drops).toEqual(row.delivered ? [] : [{ id: 'a', reason: 'expired', at: row.at }]);
      expect(ch.stats().dropped.expired).toBe(row.delivered ? 0 : 1);
      expect(ch.stats().received).toBe(row.delivered ? 1 : 0);
    });
  }

  it('each item’s wait counts from its own arrival', () => {
    const { ch, clock, drops } = setup({ capacity: 8, maxWaitMs: 10 });
    ch.trySend(msg('a')); // 0: expires after 10
    clock.advanceTo(3);
    ch.trySend(msg('b')); // 3: after 13
    clock.advanceTo(6);
    ch.trySend(msg('c')); // 6: after 16
    clock.advanceTo(13);
    expect(take(ch)).toBe('b'); // a expired, b exactly at its limit
    expect(drops).toEqual([{ id: 'a', reason: 'expired', at: 13 }]);
    clock.advanceTo(16.001);
    expect(take(ch)).toBe('<empty>');
    expect(drops.map((d) => d.id)).toEqual(['a', 'c']);
    check(ch);
  });

  it('purges every expired head in one take, then delivers the next live item', async () => {
    const { ch, clock, drops } = setup({ capacity: 8, maxWaitMs: 5 });
    ch.trySend(msg('a'));
    ch.trySend(msg('b'));
    clock.advanceTo(4);
    ch.trySend(msg('c'));
    clock.advanceTo(6);
    const got = await ch.receive();
    expect(got.id).toBe('c');
    expect(drops).toEqual([
      { id: 'a', reason: 'expired', at: 6 },
      { id: 'b', reason: 'expired', at: 6 },
    ]);
    check(ch);
  });

  it('expired items are never delivered through receive, receiveMany, iteration or select', async () => {
    const { ch, clock, drops } = setup({ capacity: 8, maxWaitMs: 5 });
    for (const id of ['a', 'b', 'c', 'd']) ch.trySend(msg(id));
    clock.advanceTo(5);
    ch.trySend(msg('e'));
    clock.advanceTo(6);
    const sel = await select([onReceive(ch)]);
    expect(sel.kind === 'receive' && sel.ok && sel.value.id).toBe('e');
    for (const id of ['f', 'g']) ch.trySend(msg(id));
    clock.advanceTo(20);
    ch.trySend(msg('h'));
    expect((await ch.receiveMany(10)).map((m) => m.id)).toEqual(['h']);
    ch.trySend(msg('i'));
    clock.advanceTo(30);
    ch.trySend(msg('j'));
    ch.close();
    const rest: string[] = [];
    for await (const m of ch) rest.push(m.id);
    expect(rest).toEqual(['j']);
    expect(drops.map((d) => d.id)).toEqual(['a', 'b', 'c', 'd', 'f', 'g', 'i']);
    check(ch);
  });

  it('maxWaitMs 0: delivered only when taken at the time it was sent', () => {
    const { ch, clock } = setup({ capacity: 2, maxWaitMs: 0 });
    ch.trySend(msg('a'));
    expect(take(ch)).toBe('a');
    ch.trySend(msg('b'));
    clock.advance(0.001);
    expect(take(ch)).toBe('<empty>');
  });

  it('arms no timer, whatever is buffered', () => {
    const { ch, clock } = setup({ capacity: 8, maxWaitMs: 10, deadline: byDeadline });
    ch.trySend(msg('a'));
    ch.trySend(msg('b', 3));
    expect(clock.pendingTimers).toBe(0);
    clock.advanceTo(100);
    expect(ch.size).toBe(2);
    expect(clock.pendingTimers).toBe(0);
    expect(take(ch)).toBe('<empty>');
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('deadline(item)', () => {
  it('the earlier of the item’s deadline and maxWaitMs applies', () => {
    const rows = [
      // [deadline, taken at, delivered?] with maxWaitMs 10, sent at 0
      [5, 5, true],
      [5, 6, false],
      [100, 10, true],
      [100, 11, false],
      [undefined, 10, true],
      [undefined, 11, false],
    ] as const;
    for (const [d, at, delivered] of rows) {
      const { ch, clock, drops } = setup({ capacity: 2, maxWaitMs: 10, deadline: byDeadline });
      ch.trySend(msg('a', d));
      clock.advanceTo(at);
      expect({ d, at, got: take(ch) }).toEqual({ d, at, got: delivered ? 'a' : '<empty>' });
      expect(drops.length).toBe(delivered ? 0 : 1);
    }
  });

  it('without maxWaitMs: delivered up to and at the deadline, never after', () => {
    const { ch, clock, drops } = setup({ capacity: 4, deadline: byDeadline });
    ch.trySend(msg('a', 10));
    ch.trySend(msg('b', 10));
    ch.trySend(msg('c')); // no deadline: waits forever
    clock.advanceTo(10);
    expect(take(ch)).toBe('a');
    clock.advanceTo(10.25);
    expect(take(ch)).toBe('c');
    expect(drops).toEqual([{ id: 'b', reason: 'expired', at: 10.25 }]);
    clock.advanceTo(1e9);
    expect(take(ch)).toBe('<empty>');
  });

  it('an expired item behind a live head stays buffered until it reaches the head', () => {
    const { ch, clock, drops } = setup({ capacity: 4, deadline: byDeadline });
    ch.trySend(msg('a'));
    ch.trySend(msg('b', 5));
    ch.trySend(msg('c'));
    clock.advanceTo(10);
    expect(ch.size).toBe(3);
    expect(take(ch)).toBe('a');
    expect(ch.size).toBe(2); // b still there
    expect(drops).toEqual([]);
    clock.advanceTo(12);
    expect(take(ch)).toBe('c');
    expect(drops).toEqual([{ id: 'b', reason: 'expired', at: 12 }]);
  });

  describe('an item whose deadline already passed when sent', () => {
    it('trySend reports it expired at once, counted as sent and expired', () => {
      const { ch, clock, drops } = setup({ capacity: 4, deadline: byDeadline });
      clock.advanceTo(10);
      expect(ch.trySend(msg('late', 9))).toStrictEqual({
        ok: false,
        reason: 'expired',
        value: msg('late', 9),
      });
      expect(drops).toEqual([{ id: 'late', reason: 'expired', at: 10 }]);
      const s = ch.stats();
      expect(s.sent).toBe(1);
      expect(s.dropped.expired).toBe(1);
      expect(s.size).toBe(0);
      check(ch);
      // a deadline equal to now has not passed
      expect(ch.trySend(msg('now', 10))).toStrictEqual({ ok: true });
      expect(take(ch)).toBe('now');
    });

    it('send resolves with the same result, even on a full blocking channel', async () => {
      const { ch, clock, drops } = setup({ capacity: 1, deadline: byDeadline });
      ch.trySend(msg('a'));
      clock.advanceTo(10);
      const s = observe(ch.send(msg('late', 5)));
      await flush();
      expect(s.value).toStrictEqual({ ok: false, reason: 'expired', value: msg('late', 5) });
      expect(ch.waitingSenders).toBe(0);
      expect(drops.map((d) => d.id)).toEqual(['late']);
      check(ch);
    });

    it('is not handed to a waiting receiver', async () => {
      const { ch, clock } = setup({ capacity: 1, deadline: byDeadline });
      clock.advanceTo(10);
      const r = observe(ch.receive());
      expect(ch.trySend(msg('late', 5)).ok).toBe(false);
      ch.trySend(msg('fresh', 50));
      await flush();
      expect(r.value?.id).toBe('fresh');
      check(ch);
    });

    it('sendAll lists it as dropped', async () => {
      const { ch, clock } = setup({ capacity: 4, deadline: byDeadline });
      clock.advanceTo(10);
      const result = await ch.sendAll([msg('a', 20), msg('b', 1), msg('c')]);
      expect(result.sent).toBe(2);
      expect(result.dropped.map((m) => m.id)).toEqual(['b']);
      check(ch);
    });
  });
});

describe('waiting senders and expiry', () => {
  it('a waiting sender whose deadline passed is admitted and at once expired', async () => {
    const { ch, clock, drops } = setup({ capacity: 1, deadline: byDeadline });
    ch.trySend(msg('a'));
    const s = observe(ch.send(msg('w', 5)));
    clock.advanceTo(10);
    expect(take(ch)).toBe('a');
    await flush();
    expect(s.value).toStrictEqual({ ok: false, reason: 'expired', value: msg('w', 5) });
    expect(drops).toEqual([{ id: 'w', reason: 'expired', at: 10 }]);
    expect(ch.stats().dropped.expired).toBe(1);
    expect(take(ch)).toBe('<empty>');
  });

  it('when an admitted sender expires, the next waiting sender takes the place', async () => {
    const { ch, clock } = setup({ capacity: 1, deadline: byDeadline });
    ch.trySend(msg('a'));
    const w1 = observe(ch.send(msg('w1', 5)));
    const w2 = observe(ch.send(msg('w2')));
    clock.advanceTo(10);
    expect(ch.tryReceive().ok).toBe(true); // takes a; w1 is admitted and expires at once
    ch.assertInvariants(); // a sender must not wait while there is room
    await flush();
    expect(w1.value).toStrictEqual({ ok: false, reason: 'expired', value: msg('w1', 5) });
    expect(w2.value).toStrictEqual({ ok: true });
    expect(take(ch)).toBe('w2');
  });

  it('a purge of expired heads admits waiting senders, skipping those that expired', async () => {
    const { ch, clock, drops } = setup({ capacity: 2, maxWaitMs: 10, deadline: byDeadline });
    ch.trySend(msg('a'));
    ch.trySend(msg('b'));
    const w1 = observe(ch.send(msg('w1', 5)));
    const w2 = observe(ch.send(msg('w2')));
    const w3 = observe(ch.send(msg('w3')));
    clock.advanceTo(11);
    expect(take(ch)).toBe('w2'); // a, b expired; w1 admitted-and-expired; w2, w3 admitted
    await flush();
    expect(w1.value).toStrictEqual({ ok: false, reason: 'expired', value: msg('w1', 5) });
    expect(w2.value).toStrictEqual({ ok: true });
    expect(w3.value).toStrictEqual({ ok: true });
    expect(drops.map((d) => `${d.id}:${d.reason}`).sort()).toEqual([
      'a:expired',
      'b:expired',
      'w1:expired',
    ]);
    expect(take(ch)).toBe('w3');
  });

  it('rendezvous (capacity 0): a waiting sender’s item past its deadline is not delivered', async () => {
    const { ch, clock, drops } = setup({ capacity: 0, deadline: byDeadline });
    const s = observe(ch.send(msg('w', 5)));
    clock.advanceTo(10);
    const r = ch.tryReceive();
    await flush();
    expect(r.ok).toBe(false);
    expect(s.value).toStrictEqual({ ok: false, reason: 'expired', value: msg('w', 5) });
    expect(drops).toEqual([{ id: 'w', reason: 'expired', at: 10 }]);
    check(ch);
  });
});

describe('a full channel whose head expired', () => {
  it('makes room for a new send (purge before the overflow decision): reject', () => {
    const { ch, clock, drops } = setup({ capacity: 1, overflow: 'reject', maxWaitMs: 10 });
    ch.trySend(msg('a'));
    clock.advanceTo(10);
    expect(ch.trySend(msg('b'))).toStrictEqual({ ok: false, reason: 'full', value: msg('b') });
    clock.advanceTo(11);
    expect(ch.trySend(msg('c'))).toStrictEqual({ ok: true });
    expect(drops).toEqual([{ id: 'a', reason: 'expired', at: 11 }]);
    expect(ch.stats().refused).toBe(1);
    check(ch);
    expect(take(ch)).toBe('c');
  });

  it('drop-oldest and drop-newest: the new item goes in without evicting or dropping', () => {
    for (const overflow of ['drop-oldest', 'drop-newest'] as const) {
      const { ch, clock, drops } = setup({ capacity: 2, overflow, maxWaitMs: 10 });
      ch.trySend(msg('a'));
      clock.advanceTo(5);
      ch.trySend(msg('b'));
      clock.advanceTo(11);
      expect(ch.trySend(msg('c'))).toStrictEqual({ ok: true });
      expect(drops).toEqual([{ id: 'a', reason: 'expired', at: 11 }]);
      check(ch);
      expect([take(ch), take(ch)]).toEqual(['b', 'c']);
    }
  });

  it('drop-lowest: an expired head frees its place instead of an eviction', () => {
    const { ch, clock, drops } = setup({
      capacity: 2,
      overflow: 'drop-lowest',
      priority: (m: Msg) => m.p ?? 0,
      deadline: byDeadline,
    });
    ch.trySend(msg('hi', 5, 9));
    ch.trySend(msg('lo', undefined, 1));
    clock.advanceTo(6);
    expect(ch.trySend(msg('new', undefined, 0))).toStrictEqual({ ok: true });
    expect(drops).toEqual([{ id: 'hi', reason: 'expired', at: 6 }]);
    check(ch);
  });

  it('waiting senders go first: they fill the freed places before the new send', async () => {
    const { ch, clock, drops } = setup({ capacity: 1, maxWaitMs: 10 });
    ch.trySend(msg('a'));
    const w = observe(ch.send(msg('w')));
    clock.advanceTo(11);
    expect(ch.trySend(msg('c'))).toStrictEqual({ ok: false, reason: 'full', value: msg('c') });
    check(ch);
    await flush();
    expect(w.value).toStrictEqual({ ok: true });
    expect(drops).toEqual([{ id: 'a', reason: 'expired', at: 11 }]);
    expect(take(ch)).toBe('w'); // admitted at 11: its own wait starts then
  });
});

describe('priority channel with deadlines', () => {
  const prio = (m: Msg): number => m.p ?? 0;

  it('expired items deeper in the queue stay until they reach the head', () => {
    const { ch, clock, drops } = setup({ capacity: 8, priority: prio, deadline: byDeadline });
    ch.trySend(msg('low-expiring', 5, 1));
    ch.trySend(msg('high', undefined, 9));
    ch.trySend(msg('mid', undefined, 5));
    clock.advanceTo(10);
    expect(take(ch)).toBe('high');
    expect(ch.size).toBe(2);
    expect(drops).toEqual([]);
    expect(take(ch)).toBe('mid');
    expect(drops).toEqual([]);
    expect(take(ch)).toBe('<empty>');
    expect(drops).toEqual([{ id: 'low-expiring', reason: 'expired', at: 10 }]);
  });

  it('an expired head is dropped and the next in priority order delivered', () => {
    const { ch, clock, drops } = setup({ capacity: 8, priority: prio, maxWaitMs: 10 });
    ch.trySend(msg('a', undefined, 9));
    clock.advanceTo(5);
    ch.trySend(msg('b', undefined, 1));
    ch.trySend(msg('c', undefined, 3));
    clock.advanceTo(12);
    expect(take(ch)).toBe('c');
    expect(drops).toEqual([{ id: 'a', reason: 'expired', at: 12 }]);
    expect(take(ch)).toBe('b');
  });

  it('destroy discards expired-but-buffered items too', () => {
    const { ch, clock, drops } = setup({ capacity: 8, priority: prio, deadline: byDeadline });
    ch.trySend(msg('a', 1, 1));
    ch.trySend(msg('b', undefined, 2));
    clock.advanceTo(5);
    expect(ch.destroy().map((m) => m.id)).toEqual(['b', 'a']);
    expect(drops.map((d) => d.reason)).toEqual(['discarded', 'discarded']);
    check(ch);
  });
});

describe('hooks that re-enter the channel during an expiry purge', () => {
  it('onDrop calling tryReceive and trySend while a take purges', () => {
    let ch!: Channel<Msg>;
    const seen: string[] = [];
    const env = setup({ capacity: 3, maxWaitMs: 10 }, (item) => {
      if (item.id === 'a') {
        const r = ch.tryReceive();
        seen.push(r.ok ? r.value.id : r.reason);
        ch.assertInvariants();
      }
      if (item.id === 'b') {
        ch.trySend(msg('from-hook'));
        ch.assertInvariants();
      }
    });
    ch = env.ch;
    ch.trySend(msg('a'));
    ch.trySend(msg('b'));
    env.clock.advanceTo(5);
    ch.trySend(msg('c'));
    env.clock.advanceTo(11);
    expect(take(ch)).toBe('from-hook');
    expect(seen).toEqual(['c']);
    expect(env.drops.map((d) => d.id)).toEqual(['a', 'b']);
    check(ch);
  });

  it('onDrop calling trySend while a send purges: the send decides again', () => {
    let ch!: Channel<Msg>;
    const env = setup({ capacity: 1, overflow: 'reject', maxWaitMs: 10 }, () => {
      expect(ch.trySend(msg('from-hook'))).toStrictEqual({ ok: true });
    });
    ch = env.ch;
    ch.trySend(msg('a'));
    env.clock.advanceTo(11);
    expect(ch.trySend(msg('b'))).toStrictEqual({ ok: false, reason: 'full', value: msg('b') });
    check(ch);
    expect(take(ch)).toBe('from-hook');
  });

  it('onDrop calling close while a take purges', async () => {
    let ch!: Channel<Msg>;
    const env = setup({ capacity: 2, maxWaitMs: 10 }, () => ch.close());
    ch = env.ch;
    ch.trySend(msg('a'));
    env.clock.advanceTo(5);
    ch.trySend(msg('b'));
    const w = observe(ch.send(msg('w')));
    env.clock.advanceTo(11);
    expect(take(ch)).toBe('b'); // a expired; w admitted before the hook closed the channel
    await flush();
    expect(w.value).toStrictEqual({ ok: true });
    expect(take(ch)).toBe('w');
    expect(take(ch)).toBe('<closed>');
    check(ch);
  });

  it('onDrop calling close while a send purges: the send is refused as closed', async () => {
    let ch!: Channel<Msg>;
    const env = setup({ capacity: 1, overflow: 'reject', maxWaitMs: 10 }, () => ch.close());
    ch = env.ch;
    ch.trySend(msg('a'));
    const drained = observe(ch.drained);
    env.clock.advanceTo(11);
    const r = ch.trySend(msg('b'));
    check(ch);
    await flush();
    // `drained` must not have resolved while an item is buffered
    expect({ drained: drained.state, size: ch.size }).not.toEqual({ drained: 'resolved', size: 1 });
    // the channel was closed before `b` could be accepted
    expect(r).toStrictEqual({ ok: false, reason: 'closed', value: msg('b') });
  });

  it('onDrop calling destroy while a send purges leaves no item in the destroyed channel', () => {
    let ch!: Channel<Msg>;
    const env = setup({ capacity: 1, overflow: 'reject', maxWaitMs: 10 }, (_item, reason) => {
      if (reason === 'expired') ch.destroy();
    });
    ch = env.ch;
    ch.trySend(msg('a'));
    env.clock.advanceTo(11);
    ch.trySend(msg('b'));
    expect(ch.state).toBe('destroyed');
    check(ch); // a destroyed channel holds no items
  });
});

describe('bad options', () => {
  const make = (options: unknown): Channel<Msg> => new Channel<Msg>(options as ChannelOptions<Msg>);

  it('maxWaitMs must be a number from 0 up', () => {
    for (const bad of [-1, Number.NaN, '10', null]) {
      const error = caught(() => make({ capacity: 1, maxWaitMs: bad }));
      expect(error).toBeInstanceOf(RangeError);
      expect(error.message).toMatch(/maxWaitMs/);
    }
    expect(() => make({ capacity: 1, maxWaitMs: 0 })).not.toThrow();
    expect(() => make({ capacity: 1, maxWaitMs: Number.POSITIVE_INFINITY })).not.toThrow();
  });

  it('deadline must be a function', () => {
    for (const bad of [5, 'soon', null, {}]) {
      const error = caught(() => make({ capacity: 1, deadline: bad }));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(/deadline/);
    }
  });
});
