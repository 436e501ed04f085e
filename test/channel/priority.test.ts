/**
 * Priority channels (`priority`: a number per item, higher first; `compare`: a comparator):
 * serving order, FIFO among equals, every overflow policy (including `drop-lowest`), waiting
 * senders, every way of receiving, destroy, counters and invariants, and bad options.
 */
import { describe, expect, it } from 'vitest';
import {
  Channel,
  ChannelClosedError,
  ChannelFullError,
  type ChannelOptions,
  type DropReason,
  onReceive,
  select,
} from '../../src/index.js';
import { flush } from '../support/clock.js';
import { caught, rejection } from '../support/errors.js';
import { observe } from '../support/outcome.js';

interface Job {
  readonly id: string;
  readonly p: number;
}

/** `job('a', 3)`: item `a` with priority 3. */
const job = (id: string, p: number): Job => ({ id, p });
const ids = (jobs: readonly Job[]): string[] => jobs.map((j) => j.id);
const byP = (j: Job): number => j.p;

/** A priority channel of jobs that records `onDrop` calls. */
function jobs(options: Partial<ChannelOptions<Job>> = {}): {
  ch: Channel<Job>;
  drops: [string, DropReason][];
} {
  const drops: [string, DropReason][] = [];
  const ch = new Channel<Job>({
    priority: byP,
    onDrop: (item: Job, reason: DropReason) => void drops.push([item.id, reason]),
    ...options,
  } as ChannelOptions<Job>);
  return { ch, drops };
}

/** `assertInvariants()` and conservation with every drop reason, from the public stats. */
function check(ch: Channel<unknown>): void {
  ch.assertInvariants();
  const s = ch.stats();
  const { evicted, discarded, expired, shed } = s.dropped;
  expect(s.sent).toBe(s.received + evicted + discarded + expired + shed + s.size);
  expect(s.size).toBe(ch.size);
  expect(s.size).toBeLessThanOrEqual(s.capacity);
}

/** trySend each job, checking the channel after every step; returns the results. */
function sendEach(ch: Channel<Job>, list: readonly Job[]): ReturnType<Channel<Job>['trySend']>[] {
  return list.map((j) => {
    const r = ch.trySend(j);
    check(ch);
    return r;
  });
}

/** tryReceive until empty, checking after every step; returns the ids in the order served. */
function drainIds(ch: Channel<Job>): string[] {
  const out: string[] = [];
  for (;;) {
    const r = ch.tryReceive();
    check(ch);
    if (!r.ok) return out;
    out.push(r.value.id);
  }
}

describe('priority channel: serving order', () => {
  it('serves the highest priority first, FIFO among equals', () => {
    const { ch } = jobs({ capacity: 10 });
    sendEach(ch, [job('c', 1), job('a', 5), job('b', 3), job('d', 5), job('e', 1), job('f', 3)]);
    expect(drainIds(ch)).toEqual(['a', 'd', 'b', 'f', 'c', 'e']);
  });

  it('orders negative and fractional priorities numerically', () => {
    const { ch } = jobs({ capacity: 10 });
    sendEach(ch, [job('z', 0), job('m', -1.5), job('y', 0.25), job('n', -1), job('x', 0.5)]);
    expect(drainIds(ch)).toEqual(['x', 'y', 'z', 'n', 'm']);
  });

  it('an item that arrives later with a higher priority overtakes those buffered', () => {
    const { ch } = jobs({ capacity: 10 });
    sendEach(ch, [job('a', 1), job('b', 1)]);
    expect(ch.tryReceive()).toStrictEqual({ ok: true, value: job('a', 1) });
    sendEach(ch, [job('c', 2)]);
    expect(drainIds(ch)).toEqual(['c', 'b']);
  });

  it('keeps FIFO among equal priorities of ±Infinity too', () => {
    // priority(b) − priority(a) is NaN for two infinities of the same sign.
    const { ch } = jobs({ capacity: 10 });
    const list = ['a', 'b', 'c', 'd', 'e'].map((id) => job(id, Number.POSITIVE_INFINITY));
    sendEach(ch, [job('low', 0), ...list, job('neg1', Number.NEGATIVE_INFINITY)]);
    sendEach(ch, [job('neg2', Number.NEGATIVE_INFINITY), job('neg3', Number.NEGATIVE_INFINITY)]);
    expect(drainIds(ch)).toEqual(['a', 'b', 'c', 'd', 'e', 'low', 'neg1', 'neg2', 'neg3']);
  });

  it('with compare: serves compare(a, b) < 0 first, FIFO among equals', () => {
    const served: string[] = [];
    const ch = new Channel<string>({ capacity: 10, compare: (a, b) => a.length - b.length });
    for (const s of ['ccc', 'a', 'bb', 'b', 'dddd', 'aa', 'c']) expect(ch.trySend(s).ok).toBe(true);
    check(ch);
    for (let r = ch.tryReceive(); r.ok; r = ch.tryReceive()) served.push(r.value);
    expect(served).toEqual(['a', 'b', 'c', 'bb', 'aa', 'ccc', 'dddd']);
    check(ch);
  });

  it('handles 10,000 items in order (random priorities, many ties)', () => {
    const n = 10_000;
    const { ch } = jobs({ capacity: Number.POSITIVE_INFINITY });
    let seed = 12345;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const list = Array.from({ length: n }, (_, i) => job(String(i), Math.floor(rand() * 50)));
    for (const j of list) ch.trySend(j);
    check(ch);
    expect(ch.size).toBe(n);
    // interleave: take half, add more, then take the rest
    const expected = [...list].sort((a, b) => b.p - a.p || Number(a.id) - Number(b.id));
    const firstHalf: string[] = [];
    for (let i = 0; i < n / 2; i++) {
      const r = ch.tryReceive();
      if (r.ok) firstHalf.push(r.value.id);
    }
    expect(firstHalf).toEqual(ids(expected.slice(0, n / 2)));
    check(ch);
    const rest = expected.slice(n / 2);
    const late = Array.from({ length: 1000 }, (_, i) => job(`late${i}`, Math.floor(rand() * 50)));
    for (const j of late) ch.trySend(j);
    const all = [...rest, ...late];
    const order = new Map(all.map((j, i) => [j, i]));
    all.sort((a, b) => b.p - a.p || (order.get(a) as number) - (order.get(b) as number));
    const served: string[] = [];
    for (let r = ch.tryReceive(); r.ok; r = ch.tryReceive()) served.push(r.value.id);
    expect(served).toEqual(ids(all));
    check(ch);
    expect(ch.stats().highWater).toBe(n);
  });

  it('a waiting receiver takes an item straight away, whatever its priority', async () => {
    const { ch } = jobs({ capacity: 2 });
    const r = observe(ch.receive());
    expect(ch.trySend(job('low', -5))).toStrictEqual({ ok: true });
    check(ch);
    await flush();
    expect(r.value).toEqual(job('low', -5));
    expect(ch.size).toBe(0);
  });
});

describe('priority channel: overflow policies', () => {
  it('block: trySend reports full; send waits; a receive admits the first waiting sender', async () => {
    const { ch, drops } = jobs({ capacity: 2 });
    sendEach(ch, [job('a', 1), job('b', 2)]);
    const full = ch.trySend(job('x', 9));
    expect(full).toStrictEqual({ ok: false, reason: 'full', value: job('x', 9) });
    const s1 = observe(ch.send(job('s1', 0)));
    const s2 = observe(ch.send(job('s2', 9))); // waits behind s1 despite its priority
    check(ch);
    expect(ch.waitingSenders).toBe(2);
    expect(ch.tryReceive()).toStrictEqual({ ok: true, value: job('b', 2) });
    check(ch);
    await flush();
    expect(s1.state).toBe('resolved');
    expect(s1.value).toStrictEqual({ ok: true });
    expect(s2.state).toBe('pending');
    // buffered now: a(1), s1(0); s2 admitted after the next take
    expect(ch.tryReceive()).toStrictEqual({ ok: true, value: job('a', 1) });
    await flush();
    expect(s2.value).toStrictEqual({ ok: true });
    expect(drainIds(ch)).toEqual(['s2', 's1']);
    expect(drops).toEqual([]);
    expect(ch.stats().refused).toBe(1);
  });

  it('reject: trySend reports full, send rejects with ChannelFullError carrying the item', async () => {
    const { ch, drops } = jobs({ capacity: 1, overflow: 'reject' });
    sendEach(ch, [job('a', 1)]);
    expect(ch.trySend(job('b', 5))).toStrictEqual({
      ok: false,
      reason: 'full',
      value: job('b', 5),
    });
    const error = await rejection(ch.send(job('c', 7)));
    expect(error).toBeInstanceOf(ChannelFullError);
    expect((error as ChannelFullError<Job>).value).toEqual(job('c', 7));
    check(ch);
    expect(ch.stats().refused).toBe(2);
    expect(drops).toEqual([]);
    expect(drainIds(ch)).toEqual(['a']);
  });

  it('drop-newest: the incoming item is dropped, even when it ranks highest', async () => {
    const { ch, drops } = jobs({ capacity: 2, overflow: 'drop-newest' });
    sendEach(ch, [job('a', 1), job('b', 2)]);
    expect(ch.trySend(job('top', 99))).toStrictEqual({
      ok: false,
      reason: 'dropped',
      value: job('top', 99),
    });
    expect(await ch.send(job('top2', 99))).toStrictEqual({
      ok: false,
      reason: 'dropped',
      value: job('top2', 99),
    });
    check(ch);
    expect(drops).toEqual([
      ['top', 'overflow'],
      ['top2', 'overflow'],
    ]);
    expect(ch.stats().dropped.overflow).toBe(2);
    expect(ch.stats().sent).toBe(2);
    expect(drainIds(ch)).toEqual(['b', 'a']);
  });

  it('drop-oldest: evicts the earliest arrival regardless of priority', async () => {
    const { ch, drops } = jobs({ capacity: 3, overflow: 'drop-oldest' });
    sendEach(ch, [job('old-high', 9), job('mid', 5), job('low', 1)]);
    expect(ch.trySend(job('new-low', 0))).toStrictEqual({
      ok: true,
      evicted: job('old-high', 9),
    });
    check(ch);
    expect(await ch.send(job('new2', 3))).toStrictEqual({ ok: true, evicted: job('mid', 5) });
    check(ch);
    expect(drops).toEqual([
      ['old-high', 'evicted'],
      ['mid', 'evicted'],
    ]);
    // the oldest is now `low`, although it is not the lowest
    expect(ch.trySend(job('n3', -1))).toStrictEqual({ ok: true, evicted: job('low', 1) });
    expect(ch.stats().dropped.evicted).toBe(3);
    expect(drainIds(ch)).toEqual(['new2', 'new-low', 'n3']);
  });

  it('drop-lowest: evicts the lowest priority, the oldest among equals', async () => {
    const { ch, drops } = jobs({ capacity: 4, overflow: 'drop-lowest' });
    sendEach(ch, [job('a', 5), job('l1', 1), job('b', 3), job('l2', 1)]);
    expect(ch.trySend(job('c', 4))).toStrictEqual({ ok: true, evicted: job('l1', 1) });
    check(ch);
    expect(await ch.send(job('d', 2))).toStrictEqual({ ok: true, evicted: job('l2', 1) });
    check(ch);
    expect(drops).toEqual([
      ['l1', 'evicted'],
      ['l2', 'evicted'],
    ]);
    expect(drainIds(ch)).toEqual(['a', 'c', 'b', 'd']);
    expect(ch.stats().dropped.evicted).toBe(2);
  });

  it('drop-lowest: an incoming item that ranks strictly lowest is the one discarded', async () => {
    const { ch, drops } = jobs({ capacity: 2, overflow: 'drop-lowest' });
    sendEach(ch, [job('a', 5), job('b', 3)]);
    expect(ch.trySend(job('x', 2))).toStrictEqual({
      ok: false,
      reason: 'dropped',
      value: job('x', 2),
    });
    check(ch);
    expect(await ch.send(job('y', -1))).toStrictEqual({
      ok: false,
      reason: 'dropped',
      value: job('y', -1),
    });
    check(ch);
    expect(drops).toEqual([
      ['x', 'overflow'],
      ['y', 'overflow'],
    ]);
    const s = ch.stats();
    expect(s.dropped.overflow).toBe(2);
    expect(s.dropped.evicted).toBe(0);
    expect(s.sent).toBe(2); // a dropped incoming item was never accepted
    expect(drainIds(ch)).toEqual(['a', 'b']);
  });

  it('drop-lowest: an incoming item equal to the lowest evicts the buffered, older one', () => {
    const { ch, drops } = jobs({ capacity: 2, overflow: 'drop-lowest' });
    sendEach(ch, [job('a', 5), job('b', 3)]);
    expect(ch.trySend(job('c', 3))).toStrictEqual({ ok: true, evicted: job('b', 3) });
    check(ch);
    expect(drops).toEqual([['b', 'evicted']]);
    expect(drainIds(ch)).toEqual(['a', 'c']);
  });

  it('drop-lowest with compare: the last in serving order goes', () => {
    const drops: [string, DropReason][] = [];
    const ch = new Channel<string>({
      capacity: 3,
      overflow: 'drop-lowest',
      compare: (a, b) => a.length - b.length, // shorter first: the longest is "lowest"
      onDrop: (item, reason) => void drops.push([item, reason]),
    });
    for (const s of ['aaa', 'b', 'ccc']) ch.trySend(s);
    expect(ch.trySend('dd')).toStrictEqual({ ok: true, evicted: 'aaa' });
    expect(ch.trySend('eeee')).toStrictEqual({ ok: false, reason: 'dropped', value: 'eeee' });
    expect(ch.trySend('fff')).toStrictEqual({ ok: true, evicted: 'ccc' });
    check(ch);
    expect(drops).toEqual([
      ['aaa', 'evicted'],
      ['eeee', 'overflow'],
      ['ccc', 'evicted'],
    ]);
    const out: string[] = [];
    for (let r = ch.tryReceive(); r.ok; r = ch.tryReceive()) out.push(r.value);
    expect(out).toEqual(['b', 'dd', 'fff']);
  });

  describe('capacity 1', () => {
    it('block', async () => {
      const { ch } = jobs({ capacity: 1 });
      sendEach(ch, [job('a', 1)]);
      expect(ch.trySend(job('b', 9)).ok).toBe(false);
      const s = observe(ch.send(job('c', 9)));
      expect(ch.tryReceive()).toStrictEqual({ ok: true, value: job('a', 1) });
      await flush();
      expect(s.value).toStrictEqual({ ok: true });
      expect(drainIds(ch)).toEqual(['c']);
    });

    it('reject', () => {
      const { ch } = jobs({ capacity: 1, overflow: 'reject' });
      sendEach(ch, [job('a', 1)]);
      expect(ch.trySend(job('b', 9))).toStrictEqual({
        ok: false,
        reason: 'full',
        value: job('b', 9),
      });
      expect(drainIds(ch)).toEqual(['a']);
    });

    it('drop-newest', () => {
      const { ch, drops } = jobs({ capacity: 1, overflow: 'drop-newest' });
      const results = sendEach(ch, [job('a', 1), job('b', 9)]);
      expect(results[1]).toStrictEqual({ ok: false, reason: 'dropped', value: job('b', 9) });
      expect(drops).toEqual([['b', 'overflow']]);
      expect(drainIds(ch)).toEqual(['a']);
    });

    it('drop-oldest', () => {
      const { ch, drops } = jobs({ capacity: 1, overflow: 'drop-oldest' });
      const results = sendEach(ch, [job('a', 9), job('b', 1)]);
      expect(results[1]).toStrictEqual({ ok: true, evicted: job('a', 9) });
      expect(drops).toEqual([['a', 'evicted']]);
      expect(drainIds(ch)).toEqual(['b']);
    });

    it('drop-lowest: higher and equal evict, lower is dropped', () => {
      const { ch, drops } = jobs({ capacity: 1, overflow: 'drop-lowest' });
      const results = sendEach(ch, [job('a', 1), job('b', 2), job('c', 2), job('d', 1)]);
      expect(results).toStrictEqual([
        { ok: true },
        { ok: true, evicted: job('a', 1) },
        { ok: true, evicted: job('b', 2) },
        { ok: false, reason: 'dropped', value: job('d', 1) },
      ]);
      expect(drops).toEqual([
        ['a', 'evicted'],
        ['b', 'evicted'],
        ['d', 'overflow'],
      ]);
      expect(drainIds(ch)).toEqual(['c']);
    });
  });

  it('waiting senders are admitted FIFO as room appears, then served by priority', async () => {
    const { ch } = jobs({ capacity: 2 });
    sendEach(ch, [job('a', 0), job('b', 0)]);
    const waiting = [job('w1', 1), job('w2', 7), job('w3', 3), job('w4', 5)].map((j) =>
      observe(ch.send(j)),
    );
    check(ch);
    expect(ch.tryReceive()).toStrictEqual({ ok: true, value: job('a', 0) });
    expect(ch.tryReceive()).toStrictEqual({ ok: true, value: job('w1', 1) }); // w1 was admitted
    check(ch);
    await flush();
    expect(waiting.map((w) => w.state)).toEqual(['resolved', 'resolved', 'pending', 'pending']);
    // buffered: b(0), w2(7)
    expect(ch.tryReceive()).toStrictEqual({ ok: true, value: job('w2', 7) });
    await flush();
    expect(waiting.map((w) => w.state)).toEqual(['resolved', 'resolved', 'resolved', 'pending']);
    // buffered: b(0), w3(3)
    expect(drainIds(ch)).toEqual(['w3', 'w4', 'b']);
    await flush();
    expect(waiting.every((w) => w.state === 'resolved')).toBe(true);
  });
});

describe('priority channel: every way to receive serves by priority', () => {
  const load = (): Channel<Job> => {
    const { ch } = jobs({ capacity: 8 });
    sendEach(ch, [job('c', 1), job('a', 3), job('d', 1), job('b', 2)]);
    return ch;
  };

  it('receive', async () => {
    const ch = load();
    const got: string[] = [];
    for (let i = 0; i < 4; i++) got.push((await ch.receive()).id);
    expect(got).toEqual(['a', 'b', 'c', 'd']);
    check(ch);
  });

  it('tryReceive', () => {
    expect(drainIds(load())).toEqual(['a', 'b', 'c', 'd']);
  });

  it('for await and iterate()', async () => {
    const ch = load();
    ch.close();
    const got: string[] = [];
    for await (const j of ch) got.push(j.id);
    expect(got).toEqual(['a', 'b', 'c', 'd']);
    const ch2 = load();
    ch2.close();
    const got2: string[] = [];
    for await (const j of ch2.iterate()) got2.push(j.id);
    expect(got2).toEqual(['a', 'b', 'c', 'd']);
    check(ch2);
  });

  it('receiveMany', async () => {
    const ch = load();
    expect(ids(await ch.receiveMany(3))).toEqual(['a', 'b', 'c']);
    ch.trySend(job('e', 0));
    ch.trySend(job('f', 5));
    expect(ids(await ch.receiveMany(10))).toEqual(['f', 'd', 'e']);
    check(ch);
  });

  it('select', async () => {
    const ch = load();
    const got: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await select([onReceive(ch)]);
      if (r.kind === 'receive' && r.ok) got.push(r.value.id);
    }
    expect(got).toEqual(['a', 'b', 'c', 'd']);
    check(ch);
  });

  it('destroy returns the items in serving order and reports them discarded', () => {
    const { ch, drops } = jobs({ capacity: 8 });
    sendEach(ch, [job('c', 1), job('a', 3), job('d', 1), job('b', 2)]);
    expect(ids(ch.destroy())).toEqual(['a', 'b', 'c', 'd']);
    expect(drops).toEqual([
      ['a', 'discarded'],
      ['b', 'discarded'],
      ['c', 'discarded'],
      ['d', 'discarded'],
    ]);
    check(ch);
    expect(ch.stats().dropped.discarded).toBe(4);
    expect(ch.destroy()).toEqual([]);
  });

  it('destroy rejects waiting senders with their items', async () => {
    const { ch } = jobs({ capacity: 1 });
    sendEach(ch, [job('a', 1)]);
    const s = ch.send(job('w', 5));
    expect(ids(ch.destroy())).toEqual(['a']);
    const error = await rejection(s);
    expect(error).toBeInstanceOf(ChannelClosedError);
    expect((error as ChannelClosedError<Job>).value).toEqual(job('w', 5));
    check(ch);
  });
});

describe('priority channel: counters under a random mix', () => {
  it('keeps conservation and invariants after every step, for every policy', async () => {
    const policies = ['block', 'reject', 'drop-newest', 'drop-oldest', 'drop-lowest'] as const;
    for (const overflow of policies) {
      const { ch, drops } = jobs({ capacity: 3, overflow });
      let seed = 7;
      const rand = (n: number): number => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % n;
      };
      const pending: Promise<unknown>[] = [];
      for (let i = 0; i < 300; i++) {
        const op = rand(4);
        if (op <= 1) ch.trySend(job(`t${i}`, rand(5)));
        else if (op === 2) {
          if (overflow === 'block' && ch.waitingSenders < 3) {
            pending.push(ch.send(job(`s${i}`, rand(5))));
          } else ch.tryReceive();
        } else ch.tryReceive();
        check(ch);
        await Promise.resolve();
      }
      const s = ch.stats();
      expect(s.dropped.evicted + s.dropped.overflow).toBe(drops.length);
      ch.destroy();
      await Promise.allSettled(pending);
      check(ch);
    }
  });
});

describe('priority channel: bad options', () => {
  const make = (options: unknown): Channel<Job> => new Channel<Job>(options as ChannelOptions<Job>);

  it('priority and compare together: TypeError', () => {
    const error = caught(() => make({ priority: byP, compare: () => 0 }));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toMatch(/priority.*compare/);
  });

  it('a priority or compare that is not a function: TypeError naming it', () => {
    const e1 = caught(() => make({ priority: 5 }));
    expect(e1).toBeInstanceOf(TypeError);
    expect(e1.message).toMatch(/`priority`.*5/);
    const e2 = caught(() => make({ compare: 'asc' }));
    expect(e2).toBeInstanceOf(TypeError);
    expect(e2.message).toMatch(/`compare`/);
    const e3 = caught(() => make({ priority: null }));
    expect(e3).toBeInstanceOf(TypeError);
  });

  it('drop-lowest without priority or compare: RangeError', () => {
    const error = caught(() => make({ capacity: 2, overflow: 'drop-lowest' }));
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toMatch(/drop-lowest/);
    // with only a deadline (a timed store, but no order) it is still refused
    expect(() => make({ capacity: 2, overflow: 'drop-lowest', maxWaitMs: 10 })).toThrow(RangeError);
  });

  it('drop-lowest needs a capacity of at least 1', () => {
    expect(() => make({ capacity: 0, overflow: 'drop-lowest', priority: byP })).toThrow(RangeError);
    expect(() => make({ overflow: 'drop-lowest', priority: byP })).toThrow(RangeError);
  });

  it('adaptive-lifo with priority or compare: TypeError', () => {
    const e1 = caught(() => make({ priority: byP, order: 'adaptive-lifo' }));
    expect(e1).toBeInstanceOf(TypeError);
    expect(e1.message).toMatch(/adaptive-lifo/);
    expect(() => make({ compare: () => 0, order: 'adaptive-lifo' })).toThrow(TypeError);
  });
});
