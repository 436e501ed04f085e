/**
 * `order: 'adaptive-lifo'` on a ManualClock: oldest first while the oldest item has waited less
 * than the standing threshold (`codel.targetMs`, else 5 ms), newest first once it has waited at
 * least that long; with `maxWaitMs` the old ones expire instead of being served late.
 */
import { describe, expect, it } from 'vitest';
import { Channel, type ChannelOptions, type DropReason } from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { caught } from '../support/errors.js';

/** A channel of strings on a ManualClock whose onDrop records (item, reason, time). */
function lifo(options: Partial<ChannelOptions<string>> = {}): {
  ch: Channel<string>;
  clock: ManualClock;
  drops: [string, DropReason, number][];
} {
  const clock = new ManualClock();
  const drops: [string, DropReason, number][] = [];
  const ch = new Channel<string>({
    capacity: 16,
    order: 'adaptive-lifo',
    clock,
    onDrop: (item: string, reason: DropReason) => void drops.push([item, reason, clock.now()]),
    ...options,
  } as ChannelOptions<string>);
  return { ch, clock, drops };
}

function check(ch: Channel<unknown>): void {
  ch.assertInvariants();
  const s = ch.stats();
  const { evicted, discarded, expired, shed } = s.dropped;
  expect(s.sent).toBe(s.received + evicted + discarded + expired + shed + s.size);
}

function take(ch: Channel<string>): string {
  const r = ch.tryReceive();
  check(ch);
  return r.ok ? r.value : `<${r.reason}>`;
}

/** Sends each item at its time (clock moved first). */
function sendAt(ch: Channel<string>, clock: ManualClock, rows: readonly [number, string][]): void {
  for (const [at, item] of rows) {
    clock.advanceTo(at);
    expect(ch.trySend(item)).toStrictEqual({ ok: true });
    check(ch);
  }
}

describe('adaptive LIFO', () => {
  // a at 0, b at 1, c at 2; one take at `at`. Default threshold 5: the oldest (a) has waited
  // `at`, so FIFO while at < 5, LIFO from 5 on.
  const rows = [
    { at: 2, first: 'a' },
    { at: 4.999, first: 'a' },
    { at: 5, first: 'c' },
    { at: 6, first: 'c' },
  ];
  for (const row of rows) {
    it(`default threshold 5 ms: a take at ${row.at} serves ${row.first}`, () => {
      const { ch, clock } = lifo();
      sendAt(ch, clock, [
        [0, 'a'],
        [1, 'b'],
        [2, 'c'],
      ]);
      clock.advanceTo(row.at);
      expect(take(ch)).toBe(row.first);
    });
  }

  it('decides again at every take, by the oldest item left', () => {
    const { ch, clock } = lifo();
    sendAt(ch, clock, [
      [0, 'a'],
      [3, 'b'],
      [4, 'c'],
      [4, 'd'],
    ]);
    clock.advanceTo(4);
    expect(take(ch)).toBe('a'); // a waited 4 < 5: oldest first
    clock.advanceTo(7.5);
    expect(take(ch)).toBe('b'); // b waited 4.5
    clock.advanceTo(9);
    expect(take(ch)).toBe('d'); // c waited 5: newest first
    sendAt(ch, clock, [[9, 'e']]);
    expect(take(ch)).toBe('e'); // c (the oldest) still waited ≥ 5
    expect(take(ch)).toBe('c');
    expect(take(ch)).toBe('<empty>');
    // an empty queue starts over in FIFO
    sendAt(ch, clock, [
      [20, 'f'],
      [21, 'g'],
    ]);
    expect(take(ch)).toBe('f');
  });

  it('serves newest first throughout a standing queue, then FIFO once it is gone', () => {
    const { ch, clock } = lifo();
    sendAt(
      ch,
      clock,
      ['a', 'b', 'c', 'd', 'e'].map((item, i): [number, string] => [i, item]),
    );
    clock.advanceTo(10);
    const served = [take(ch), take(ch), take(ch), take(ch), take(ch)];
    expect(served).toEqual(['e', 'd', 'c', 'b', 'a']);
  });

  it('uses codel.targetMs as the threshold when codel is given', () => {
    const { ch, clock } = lifo({ codel: { targetMs: 20, intervalMs: 10_000 } });
    sendAt(ch, clock, [
      [0, 'a'],
      [1, 'b'],
      [2, 'c'],
    ]);
    clock.advanceTo(19.5);
    expect(take(ch)).toBe('a'); // 19.5 < 20: still FIFO (5 ms would have said LIFO)
    clock.advanceTo(21);
    expect(take(ch)).toBe('c'); // b waited 20
    expect(take(ch)).toBe('b');
  });

  it('with maxWaitMs, old items expire instead of being served late', () => {
    const { ch, clock, drops } = lifo({ maxWaitMs: 10 });
    sendAt(ch, clock, [
      [0, 'a'],
      [1, 'b'],
      [8, 'c'],
      [9, 'd'],
    ]);
    clock.advanceTo(12);
    // a and b waited 12 and 11 > 10: never delivered. They are purged from the old end first,
    // so they hold no places; what is left (c waited 4 ms < 5) is no standing queue: FIFO.
    expect(take(ch)).toBe('c');
    expect(drops).toEqual([
      ['a', 'expired', 12],
      ['b', 'expired', 12],
    ]);
    expect(take(ch)).toBe('d');
    expect(take(ch)).toBe('<empty>');
    expect(ch.stats().dropped.expired).toBe(2);
  });

  it('under overload with maxWaitMs, every delivered item is fresh', () => {
    const { ch, clock } = lifo({ capacity: Number.POSITIVE_INFINITY, maxWaitMs: 50 });
    const waits: number[] = [];
    for (let t = 0; t < 2000; t++) {
      clock.advanceTo(t);
      ch.trySend(String(t));
      if (t % 2 === 0) {
        const r = ch.tryReceive();
        if (r.ok) waits.push(t - Number(r.value));
      }
      if (t % 97 === 0) check(ch);
    }
    check(ch);
    expect(Math.max(...waits)).toBeLessThanOrEqual(50);
    // after the queue stands, the newest is served at once
    expect(waits.slice(-100).every((w) => w === 0)).toBe(true);
  });

  it('drop-oldest still evicts the earliest arrival', () => {
    const { ch, clock, drops } = lifo({ capacity: 2, overflow: 'drop-oldest' });
    sendAt(ch, clock, [
      [0, 'a'],
      [1, 'b'],
    ]);
    clock.advanceTo(10);
    expect(ch.trySend('c')).toStrictEqual({ ok: true, evicted: 'a' });
    expect(drops).toEqual([['a', 'evicted', 10]]);
    expect(take(ch)).toBe('c'); // b waited 9: standing, newest first
  });

  it('destroy returns items oldest first', () => {
    const { ch, clock } = lifo();
    sendAt(ch, clock, [
      [0, 'a'],
      [1, 'b'],
      [2, 'c'],
    ]);
    clock.advanceTo(50);
    expect(ch.destroy()).toEqual(['a', 'b', 'c']);
    check(ch);
  });

  it('keeps conservation and invariants under a random mix of sends, takes and waits', async () => {
    for (const options of [
      {},
      { maxWaitMs: 7 },
      { codel: { targetMs: 3, intervalMs: 20 } },
      { maxWaitMs: 15, codel: true, overflow: 'drop-oldest' as const, capacity: 6 },
    ]) {
      const { ch, clock, drops } = lifo({ capacity: 6, ...options });
      let seed = 99;
      const rand = (n: number): number => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % n;
      };
      const pending: Promise<unknown>[] = [];
      for (let i = 0; i < 500; i++) {
        const op = rand(5);
        if (op === 0) clock.advance(rand(4));
        else if (op <= 2) ch.trySend(`t${i}`);
        else if (op === 3 && ch.waitingSenders < 2 && ch.overflow === 'block') {
          pending.push(ch.send(`s${i}`));
        } else ch.tryReceive();
        check(ch);
        await Promise.resolve();
      }
      const s = ch.stats();
      expect(s.dropped.expired + s.dropped.shed + s.dropped.evicted).toBe(drops.length);
      ch.destroy();
      await Promise.allSettled(pending);
      check(ch);
      expect(clock.pendingTimers).toBe(0);
    }
  });

  it('bad options: an unknown order, or adaptive-lifo with priorities', () => {
    const make = (options: unknown): unknown =>
      new Channel<string>(options as ChannelOptions<string>);
    const error = caught(() => make({ capacity: 1, order: 'lifo' }));
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toMatch(/order/);
    expect(() => make({ capacity: 1, order: 'adaptive-lifo', priority: () => 0 })).toThrow(
      TypeError,
    );
    expect(() => make({ capacity: 1, order: 'fifo' })).not.toThrow();
  });
});
