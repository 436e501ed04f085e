/**
 * What CoDel's two modes achieve against the two kinds of producer, on a ManualClock, one
 * millisecond per step: `'rfc'` brings the standing queue delay under target when producers back
 * off on drops (as TCP senders do), and `'requests'` holds every delivered item's delay at or
 * under target even when producers never slow down. The RFC's exact decisions are checked
 * against its pseudo-code in codel.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Channel, type CoDelOptions } from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { caught } from '../support/errors.js';

interface Run {
  /** [time, sojourn] of every item delivered in the second half of the run. */
  readonly late: [number, number][];
  /** Items delivered per consumer slot offered in the second half (1: never idle). */
  readonly utilisation: number;
  readonly shed: number;
}

/**
 * Arrivals at `arrive` items per ms (the producer halves its rate when it sees a shed at most
 * once per 20 ms and adds 0.0005/ms otherwise, if `responsive`), a consumer taking `take` items
 * per ms. Checks the channel's invariants at the end.
 */
function simulate(
  codel: CoDelOptions,
  arrive: number,
  take: number,
  { ms = 30_000, responsive = false } = {},
): Run {
  const clock = new ManualClock();
  let shed = 0;
  const ch = new Channel<number>({
    capacity: Number.POSITIVE_INFINITY,
    clock,
    codel,
    onDrop: (_item, reason) => {
      expect(reason).toBe('shed');
      shed++;
    },
  });
  const late: [number, number][] = [];
  let rate = arrive;
  let arrivals = 0;
  let takes = 0;
  let slots = 0;
  let lastCut = Number.NEGATIVE_INFINITY;
  for (let t = 0; t < ms; t++) {
    clock.advanceTo(t);
    for (arrivals += rate; arrivals >= 1; arrivals--) ch.trySend(t);
    const shedBefore = shed;
    for (takes += take; takes >= 1; takes--) {
      const r = ch.tryReceive();
      if (t < ms / 2) continue;
      slots++;
      if (r.ok) late.push([t, t - r.value]);
    }
    if (responsive) {
      if (shed > shedBefore && t - lastCut > 20) {
        rate /= 2;
        lastCut = t;
      } else {
        rate += 0.0005;
      }
    }
  }
  ch.assertInvariants();
  return { late, utilisation: late.length / slots, shed };
}

/** The smallest sojourn in each 100 ms window: RFC 8289's "standing queue" delay. */
function standingDelays(late: readonly [number, number][]): number[] {
  const windows = new Map<number, number>();
  for (const [t, sojourn] of late) {
    const w = Math.floor(t / 100);
    windows.set(w, Math.min(windows.get(w) ?? Number.POSITIVE_INFINITY, sojourn));
  }
  return [...windows.values()];
}

const overloads: [string, number, number][] = [
  ['10 % over', 1, 10 / 11],
  ['2× over', 2, 1],
  ['10× over', 1, 0.1],
];

describe("codel mode 'requests' against producers that never slow down", () => {
  for (const [name, arrive, take] of overloads) {
    it(`${name}: every delivered item waited at most target, the consumer is never idle`, () => {
      const { late, utilisation, shed } = simulate({ mode: 'requests' }, arrive, take);
      expect(Math.max(...late.map(([, s]) => s))).toBeLessThanOrEqual(5);
      expect(utilisation).toBe(1);
      expect(shed).toBeGreaterThan(0);
    });
  }

  it('a custom target and interval', () => {
    const { late } = simulate({ mode: 'requests', targetMs: 20, intervalMs: 50 }, 2, 1);
    expect(Math.max(...late.map(([, s]) => s))).toBeLessThanOrEqual(20);
    expect(Math.min(...standingDelays(late))).toBeGreaterThan(5); // it keeps 20 ms, not less
  });

  it('hand-checked: nothing is shed before the queue stood a whole interval, then all that waited over target', () => {
    const clock = new ManualClock();
    const shed: [number, number][] = [];
    const ch = new Channel<number>({
      capacity: Number.POSITIVE_INFINITY,
      clock,
      codel: { mode: 'requests' },
      onDrop: (item) => shed.push([item, clock.now()]),
    });
    const delivered: [number, number][] = [];
    // one arrival per ms from 0 (the queue was empty at 0), a dequeue at every odd ms
    for (let t = 0; t <= 101; t++) {
      clock.advanceTo(t);
      ch.trySend(t);
      if (t % 2 === 1) {
        const r = ch.tryReceive();
        if (r.ok) delivered.push([r.value, t]);
      }
    }
    expect(shed.filter(([, at]) => at < 101)).toEqual([]);
    expect(delivered.at(-2)).toEqual([49, 99]); // waited 50 ms at 99: the queue has stood 99 ms
    // at 101 it has stood 101 ms: items 50..95 waited more than 5 ms, 96 waited exactly 5
    expect(shed).toEqual(Array.from({ length: 46 }, (_, i) => [50 + i, 101]));
    expect(delivered.at(-1)).toEqual([96, 101]);
    ch.assertInvariants();
  });

  it('a queue that empties is not overloaded: a burst within one interval passes untouched', () => {
    const clock = new ManualClock();
    const ch = new Channel<number>({ capacity: 100, clock, codel: { mode: 'requests' } });
    for (let burst = 0; burst < 5; burst++) {
      for (let i = 0; i < 50; i++) ch.trySend(i);
      for (let i = 0; i < 50; i++) {
        clock.advance(1.9); // 50 items take 95 ms: each waits up to 95 ms, none is shed
        expect(ch.tryReceive()).toEqual({ ok: true, value: i });
      }
      clock.advance(10);
    }
    expect(ch.stats().dropped.shed).toBe(0);
  });
});

describe("codel mode 'rfc' against producers that back off on drops", () => {
  for (const [name, arrive, take] of overloads.slice(0, 2)) {
    it(`${name} at the start: the standing delay settles under target`, () => {
      const { late, utilisation } = simulate({}, arrive, take, { responsive: true });
      const standing = standingDelays(late);
      const under = standing.filter((d) => d < 5).length;
      expect(under / standing.length).toBeGreaterThanOrEqual(0.95);
      const sorted = late.map(([, s]) => s).sort((a, b) => a - b);
      expect(sorted[sorted.length >> 1]).toBeLessThan(5); // median
      expect(utilisation).toBeGreaterThan(0.7); // still doing most of the work
    });
  }

  it('against producers that never slow down it only bounds the delay (use mode requests)', () => {
    const { late } = simulate({}, 2, 1);
    const sorted = late.map(([, s]) => s).sort((a, b) => a - b);
    expect(sorted[sorted.length >> 1]).toBeGreaterThan(100);
  });
});

it('a bad mode is named in the error', () => {
  const error = caught(
    () => new Channel<number>({ capacity: 4, codel: { mode: 'fast' as 'rfc' } }),
  );
  expect(error.message).toMatch(/codel\.mode/);
  expect(error.message).toMatch(/fast/);
});
