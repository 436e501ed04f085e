/**
 * TokenBucket on a manual clock, in golang.org/x/time/rate's rate_test.go style: tables of
 * `{ at, n, ok }` / `{ at, n, delayMs }` rows run in order (move the clock to `at`, then call),
 * with `assertInvariants()` after every row. Times use Go's points: with 10 tokens per second a
 * token takes 100 ms, so `t(k)` is k tokens' worth of time.
 */
import { describe, expect, it } from 'vitest';
import type { Clock, TimerHandle } from '../../src/clock.js';
import { SluiceError, TimeoutError } from '../../src/errors.js';
import { perInterval, TokenBucket } from '../../src/limit/token-bucket.js';
import type { Reservation } from '../../src/limit/types.js';
import { ManualClock } from '../../src/testing/index.js';
import { advanceTo, flush } from '../support/clock.js';
import { caught, rejection } from '../support/errors.js';
import { expectSettledInOrder, type Outcome, watch } from '../support/outcome.js';
import { NO_REQUESTS } from '../support/schedule.js';
import { listeners } from '../support/signals.js';

/** Go's time points: at 10 tokens/s, `t(k)` is when k tokens have accrued. */
const t = (k: number): number => k * 100;

function make(rate: number, burst: number, start = 0): { clock: ManualClock; bucket: TokenBucket } {
  const clock = new ManualClock({ start });
  return { clock, bucket: new TokenBucket({ rate, burst, clock }) };
}

interface TryRow {
  readonly at: number;
  readonly n: number;
  readonly ok: boolean;
}

/** x/time/rate's `run`: each row moves the clock to `at` and calls `tryTake(n)`. */
function runTry(setTime: (at: number) => void, bucket: TokenBucket, rows: readonly TryRow[]): void {
  rows.forEach((row, i) => {
    setTime(row.at);
    const result = bucket.tryTake(row.n);
    expect(result.ok, `row ${i}: ${JSON.stringify(row)}`).toBe(row.ok);
    bucket.assertInvariants();
  });
}

interface ReserveRow {
  readonly at: number;
  readonly n: number;
  /** Expected wait from `at` (the time to act is `at + delayMs`). */
  readonly delayMs: number;
  readonly ok?: boolean;
}

/** x/time/rate's `runReserve`. */
function runReserve(clock: ManualClock, bucket: TokenBucket, row: ReserveRow): Reservation {
  clock.advanceTo(row.at);
  const r = bucket.reserve(row.n);
  const label = JSON.stringify(row);
  expect(r.ok, label).toBe(row.ok ?? true);
  expect(r.delayMs, label).toBe(row.delayMs);
  expect(r.timeToAct, label).toBe(row.at + row.delayMs);
  bucket.assertInvariants();
  return r;
}

interface TakeRow {
  readonly at: number;
  readonly n: number;
  /** Expected wait from `at` until the promise resolves. */
  readonly delayMs: number;
}

/**
 * Calls `take(n)` at each row's `at`, then lets the clock run until every take has resolved,
 * and checks each resolved at `at + delayMs` and in call order.
 */
async function runTakes(clock: ManualClock, bucket: TokenBucket, rows: readonly TakeRow[]) {
  const outcomes: Outcome[] = [];
  for (const row of rows) {
    await advanceTo(clock, row.at);
    outcomes.push(watch(clock, bucket.take(row.n)));
    bucket.assertInvariants();
    expect(clock.pendingTimers).toBeLessThanOrEqual(1);
  }
  const last = Math.max(...rows.map((r) => r.at + r.delayMs));
  await advanceTo(clock, last);
  bucket.assertInvariants();
  rows.forEach((row, i) => {
    const o = outcomes[i]!;
    expect(o.state, `row ${i}: ${JSON.stringify(row)}`).toBe('resolved');
    expect(o.at, `row ${i}: ${JSON.stringify(row)}`).toBe(row.at + row.delayMs);
    if (i > 0)
      expect(o.seq, `row ${i} resolved out of order`).toBeGreaterThan(outcomes[i - 1]!.seq);
  });
  expect(clock.pendingTimers).toBe(0);
  return outcomes;
}

/** A clock whose time is set by hand, may go backwards, and whose timers fire only on `fire()`. */
class StubClock implements Clock {
  time: number;
  readonly timers = new Set<{ callback: () => void; dueAt: number }>();
  constructor(start = 0) {
    this.time = start;
  }
  now(): number {
    return this.time;
  }
  setTimer(callback: () => void, delayMs: number): TimerHandle {
    const timer = { callback, dueAt: this.time + delayMs };
    this.timers.add(timer);
    return timer;
  }
  clearTimer(handle: TimerHandle): void {
    this.timers.delete(handle as { callback: () => void; dueAt: number });
  }
  /** Fires every timer due by now (late, like an event loop that was busy). */
  fire(): void {
    for (const timer of [...this.timers]) {
      if (timer.dueAt <= this.time && this.timers.delete(timer)) timer.callback();
    }
  }
}

// ---- construction ----------------------------------------------------------------------------

describe('TokenBucket: construction', () => {
  it('starts full and reports its configuration', () => {
    const { bucket } = make(10, 3);
    expect(bucket.rate).toBe(10);
    expect(bucket.burst).toBe(3);
    expect(bucket.available).toBe(3);
    expect(bucket.waiting).toBe(0);
    expect(bucket.stats()).toEqual({ ...NO_REQUESTS, rate: 10, burst: 3, available: 3 });
    bucket.assertInvariants();
  });

  it('accepts rate 0, fractional rates, Infinity, and the system clock by default', () => {
    for (const rate of [0, 0.001, 2.5, Number.POSITIVE_INFINITY]) {
      const bucket = new TokenBucket({ rate, burst: 1, clock: new ManualClock() });
      expect(bucket.rate).toBe(rate);
      bucket.assertInvariants();
    }
    const real = new TokenBucket({ rate: 1, burst: 2 });
    expect(real.tryTake(2).ok).toBe(true);
    expect(real.tryTake().ok).toBe(false);
  });

  const badRates: [unknown, string][] = [
    [-1, '`-1` (number)'],
    [Number.NaN, '`NaN` (number)'],
    [Number.NEGATIVE_INFINITY, '`-Infinity` (number)'],
    ['5', '`"5"` (string)'],
    [undefined, '`undefined` (undefined)'],
    [null, '`null` (null)'],
  ];
  it.each(badRates)('rejects rate %s, naming the value', (rate, shown) => {
    const error = caught(() => new TokenBucket({ rate, burst: 1 } as never));
    expect(error instanceof RangeError || error instanceof TypeError).toBe(true);
    expect(error.message).toContain('`rate`');
    expect(error.message).toContain(shown);
  });

  it('rejects a negative or NaN rate with a RangeError', () => {
    expect(() => new TokenBucket({ rate: -1, burst: 1 })).toThrow(RangeError);
    expect(() => new TokenBucket({ rate: Number.NaN, burst: 1 })).toThrow(RangeError);
  });

  const badBursts: [unknown, string][] = [
    [0, '`0` (number)'],
    [-1, '`-1` (number)'],
    [1.5, '`1.5` (number)'],
    [Number.NaN, '`NaN` (number)'],
    [Number.POSITIVE_INFINITY, '`Infinity` (number)'],
    ['3', '`"3"` (string)'],
    [undefined, '`undefined` (undefined)'],
  ];
  it.each(badBursts)('rejects burst %s, naming the value', (burst, shown) => {
    const error = caught(() => new TokenBucket({ rate: 1, burst } as never));
    expect(error instanceof RangeError || error instanceof TypeError).toBe(true);
    expect(error.message).toContain('`burst`');
    expect(error.message).toContain(shown);
  });

  it('`initial` sets the starting count (default: full)', () => {
    const clock = new ManualClock();
    const empty = new TokenBucket({ rate: 10, burst: 3, initial: 0, clock });
    expect(empty.available).toBe(0);
    expect(empty.tryTake().ok).toBe(false);
    const half = new TokenBucket({ rate: 10, burst: 3, initial: 1.5, clock });
    runTry((at) => clock.advanceTo(at), half, [
      { at: 0, n: 2, ok: false },
      { at: 0, n: 1, ok: true },
      { at: 49, n: 1, ok: false },
      { at: 50, n: 1, ok: true },
    ]);
  });

  it.each([
    [-1, '`-1` (number)'],
    [4, '`4` (number)'],
    [Number.NaN, '`NaN` (number)'],
    ['1', '`"1"` (string)'],
  ])('rejects initial %s, naming the value', (initial, shown) => {
    const error = caught(() => new TokenBucket({ rate: 1, burst: 3, initial } as never));
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toContain('`initial`');
    expect(error.message).toContain(shown);
  });

  it('rejects missing or non-object options with a TypeError', () => {
    expect(() => new TokenBucket(undefined as never)).toThrow(TypeError);
    expect(() => new TokenBucket(5 as never)).toThrowError(/`5` \(number\)/);
    expect(() => new TokenBucket(5 as never)).toThrow(TypeError);
    expect(() => new TokenBucket(null as never)).toThrow(TypeError);
    expect(() => new TokenBucket({} as never)).toThrowError(/rate.*`undefined`/);
  });

  const badClocks: [unknown, string][] = [
    [{}, '`{}` (object)'],
    [null, '`null` (null)'],
    ['clock', '`"clock"` (string)'],
    [{ now: () => 0, setTimer: () => 0 }, '(object)'],
  ];
  it.each(badClocks)('rejects clock %s with a TypeError naming it', (clock, shown) => {
    const error = caught(() => new TokenBucket({ rate: 1, burst: 1, clock } as never));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toContain('`clock`');
    expect(error.message).toContain(shown);
  });
});

describe('perInterval', () => {
  it('converts n per interval to tokens per second', () => {
    expect(perInterval(100, 60_000)).toBeCloseTo(100 / 60, 12);
    expect(perInterval(5, 1000)).toBe(5);
    expect(perInterval(1, 3_600_000)).toBeCloseTo(1 / 3600, 15);
    expect(perInterval(0, 1000)).toBe(0);
    expect(perInterval(10, 1)).toBe(10_000);
  });

  const bad: [string, unknown, unknown, RegExp][] = [
    ['negative count', -1, 1000, /`count`.*`-1` \(number\)/],
    ['NaN count', Number.NaN, 1000, /`count`.*`NaN`/],
    ['infinite count', Number.POSITIVE_INFINITY, 1000, /`count`.*`Infinity`/],
    ['string count', '1', 1000, /`count`.*`"1"` \(string\)/],
    ['zero interval', 1, 0, /`intervalMs`.*`0` \(number\)/],
    ['negative interval', 1, -5, /`intervalMs`.*`-5`/],
    ['NaN interval', 1, Number.NaN, /`intervalMs`.*`NaN`/],
    ['string interval', 1, '1000', /`intervalMs`.*`"1000"` \(string\)/],
  ];
  it.each(bad)('throws a RangeError for a %s', (_name, count, intervalMs, message) => {
    expect(() => perInterval(count as number, intervalMs as number)).toThrow(RangeError);
    expect(() => perInterval(count as number, intervalMs as number)).toThrowError(message);
  });
});

// ---- tryTake tables --------------------------------------------------------------------------

describe('TokenBucket.tryTake (x/time/rate tables)', () => {
  it('burst 1 (TestLimiterBurst1)', () => {
    const { clock, bucket } = make(10, 1);
    runTry((at) => clock.advanceTo(at), bucket, [
      { at: t(0), n: 1, ok: true },
      { at: t(0), n: 1, ok: false },
      { at: t(1), n: 1, ok: true },
      { at: t(1), n: 1, ok: false },
      { at: t(1), n: 1, ok: false },
      { at: t(2), n: 1, ok: true },
      { at: t(2), n: 1, ok: false },
    ]);
  });

  it('burst 3: starts full, refills lazily, caps at the burst (TestLimiterBurst3)', () => {
    const { clock, bucket } = make(10, 3);
    runTry((at) => clock.advanceTo(at), bucket, [
      { at: t(0), n: 2, ok: true },
      { at: t(0), n: 2, ok: false },
      { at: t(0), n: 1, ok: true },
      { at: t(0), n: 1, ok: false },
      { at: t(1), n: 2, ok: false },
      { at: t(2), n: 1, ok: true },
      { at: t(3), n: 1, ok: true },
      { at: t(4), n: 1, ok: true },
      { at: t(4), n: 1, ok: true },
      { at: t(4), n: 1, ok: false },
      { at: t(4), n: 1, ok: false },
      { at: t(9), n: 3, ok: true }, // 5 tokens' worth of time, but the bucket holds 3
      { at: t(9), n: 1, ok: false },
    ]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('refills fractionally and reports the exact retry time', () => {
    const { clock, bucket } = make(1, 1);
    expect(bucket.tryTake()).toEqual({ ok: true });
    clock.advanceTo(250);
    expect(bucket.available).toBeCloseTo(0.25, 12);
    const refused = bucket.tryTake();
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.retryAfterMs).toBeCloseTo(750, 9);
    clock.advanceTo(500);
    expect(bucket.available).toBeCloseTo(0.5, 12);
    runTry((at) => clock.advanceTo(at), bucket, [
      { at: 999, n: 1, ok: false },
      { at: 1000, n: 1, ok: true },
      { at: 1000, n: 1, ok: false },
      { at: 1999, n: 1, ok: false },
      { at: 2000, n: 1, ok: true },
    ]);
  });

  it('caps at the burst however long it idles', () => {
    const { clock, bucket } = make(10, 3);
    expect(bucket.tryTake(3).ok).toBe(true);
    clock.advanceTo(1e9);
    expect(bucket.available).toBe(3);
    runTry((at) => clock.advanceTo(at), bucket, [
      { at: 1e9, n: 3, ok: true },
      { at: 1e9, n: 1, ok: false },
    ]);
  });

  it('above one token per millisecond (10,000/s)', () => {
    const { clock, bucket } = make(10_000, 5);
    runTry((at) => clock.advanceTo(at), bucket, [
      { at: 0, n: 5, ok: true },
      { at: 0, n: 1, ok: false },
      { at: 0.25, n: 3, ok: false }, // 2.5 tokens
      { at: 0.25, n: 2, ok: true },
      { at: 0.5, n: 4, ok: false }, // 0.5 + 2.5 = 3
      { at: 0.5, n: 3, ok: true },
      { at: 0.5, n: 1, ok: false },
      { at: 10, n: 5, ok: true },
    ]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('refuses without side effects: tokens and counters other than `refused` stay put', () => {
    const { clock, bucket } = make(1, 2);
    bucket.tryTake(2);
    clock.advanceTo(500);
    expect(bucket.tryTake().ok).toBe(false);
    expect(bucket.tryTake().ok).toBe(false);
    expect(bucket.available).toBeCloseTo(0.5, 12);
    expect(bucket.stats()).toMatchObject({ granted: 1, tokensGranted: 2, refused: 2 });
  });
});

// ---- n validation ----------------------------------------------------------------------------

describe('TokenBucket: n validation', () => {
  const bad: [unknown, string][] = [
    [0, '`0` (number)'],
    [-1, '`-1` (number)'],
    [1.5, '`1.5` (number)'],
    [Number.NaN, '`NaN` (number)'],
    [Number.POSITIVE_INFINITY, '`Infinity` (number)'],
    ['1', '`"1"` (string)'],
  ];
  const methods = ['tryTake', 'take', 'reserve'] as const;

  it.each(bad)('n = %s throws a RangeError from every method, synchronously', (n, shown) => {
    const { clock, bucket } = make(10, 5);
    for (const method of methods) {
      const error = caught(() => bucket[method](n as number));
      expect(error, method).toBeInstanceOf(RangeError);
      expect(error.message, method).toContain('`n`');
      expect(error.message, method).toContain(shown);
    }
    expect(bucket.available).toBe(5);
    expect(bucket.stats()).toMatchObject({ granted: 0, refused: 0, timedOut: 0 });
    expect(clock.pendingTimers).toBe(0);
    bucket.assertInvariants();
  });

  it('n above the burst throws a RangeError naming both, and changes nothing', () => {
    const { clock, bucket } = make(10, 5);
    for (const method of methods) {
      expect(() => bucket[method](6)).toThrow(RangeError);
      expect(() => bucket[method](6)).toThrowError(/\b6\b.*burst 5|burst 5.*\b6\b/);
    }
    // TestCancelInvalid's second half: the refused request took nothing.
    expect(bucket.available).toBe(5);
    expect(bucket.tryTake(5).ok).toBe(true);
    expect(clock.pendingTimers).toBe(0);
    bucket.assertInvariants();
  });

  it('n equal to the burst is fine, and n defaults to 1', () => {
    const { bucket } = make(10, 5);
    expect(bucket.tryTake(5).ok).toBe(true);
    const { bucket: b2 } = make(10, 2);
    expect(b2.tryTake().ok).toBe(true);
    expect(b2.available).toBe(1);
    expect(b2.reserve().delayMs).toBe(0);
    expect(b2.available).toBe(0);
  });
});

// ---- rate 0 and rate Infinity ----------------------------------------------------------------

describe('TokenBucket: rate 0', () => {
  it('allows only the initial burst; tryTake says it could never succeed', () => {
    const { clock, bucket } = make(0, 3);
    runTry((at) => clock.advanceTo(at), bucket, [
      { at: 0, n: 2, ok: true },
      { at: 1e6, n: 2, ok: false },
      { at: 1e6, n: 1, ok: true },
      { at: 1e12, n: 1, ok: false },
    ]);
    expect(bucket.tryTake()).toEqual({ ok: false, retryAfterMs: Number.POSITIVE_INFINITY });
    expect(bucket.available).toBe(0);
  });

  it('take rejects at once with a TimeoutError saying the wait could never end', async () => {
    const { clock, bucket } = make(0, 1);
    await bucket.take();
    const o = watch(clock, bucket.take());
    await flush();
    expect(o.state).toBe('rejected');
    expect(o.error).toBeInstanceOf(TimeoutError);
    expect(o.error).toBeInstanceOf(SluiceError);
    expect((o.error as TimeoutError).code).toBe('ERR_SLUICE_TIMEOUT');
    expect((o.error as Error).message).toMatch(/could never end/);
    expect(bucket.waiting).toBe(0);
    expect(bucket.available).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    expect(bucket.stats()).toMatchObject({ granted: 1, timedOut: 1 });
    bucket.assertInvariants();
  });

  it('reserve returns ok: false with an infinite delay and takes nothing; cancel is harmless', () => {
    const { clock, bucket } = make(0, 2);
    runReserve(clock, bucket, { at: 0, n: 1, delayMs: 0 });
    const r = bucket.reserve(2);
    expect(r.ok).toBe(false);
    expect(r.delayMs).toBe(Number.POSITIVE_INFINITY);
    expect(bucket.available).toBe(1);
    r.cancel();
    r.cancel();
    expect(bucket.available).toBe(1);
    expect(bucket.stats()).toMatchObject({ granted: 1, tokensGranted: 1, cancelled: 0 });
    runReserve(clock, bucket, { at: 5, n: 1, delayMs: 0 });
    expect(bucket.reserve().ok).toBe(false);
    expect(clock.pendingTimers).toBe(0);
    bucket.assertInvariants();
  });
});

describe('TokenBucket: rate Infinity', () => {
  it('grants everything at once and never arms a timer', async () => {
    const { clock, bucket } = make(Number.POSITIVE_INFINITY, 2);
    for (let i = 0; i < 1000; i++) expect(bucket.tryTake(2).ok).toBe(true);
    const takes = Array.from({ length: 100 }, () => watch(clock, bucket.take(2)));
    expect(clock.pendingTimers).toBe(0);
    await flush();
    expect(takes.every((o) => o.state === 'resolved' && o.at === 0)).toBe(true);
    const r = bucket.reserve(2);
    expect(r).toMatchObject({ ok: true, delayMs: 0, timeToAct: 0 });
    r.cancel();
    expect(bucket.available).toBe(2);
    expect(bucket.waiting).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    expect(bucket.stats()).toMatchObject({ granted: 1101, tokensGranted: 2202, refused: 0 });
    bucket.assertInvariants();
  });
});

// ---- rates far below 1/s ---------------------------------------------------------------------

describe('TokenBucket: one token per hour (perInterval(1, 3_600_000))', () => {
  const HOUR = 3_600_000;

  it('tryTake: refused a millisecond before the hour, granted at the hour', () => {
    const { clock, bucket } = make(perInterval(1, HOUR), 1);
    runTry((at) => clock.advanceTo(at), bucket, [
      { at: 0, n: 1, ok: true },
      { at: HOUR - 1, n: 1, ok: false },
      { at: HOUR, n: 1, ok: true },
      { at: 2 * HOUR - 1, n: 1, ok: false },
      { at: 2 * HOUR, n: 1, ok: true },
    ]);
  });

  it('take waits exactly an hour: its one timer is due at the hour and fires then', async () => {
    const { clock, bucket } = make(perInterval(1, HOUR), 1);
    await bucket.take();
    const o = watch(clock, bucket.take());
    expect(clock.pendingTimers).toBe(1);
    expect(clock.nextTimerAt).toBe(HOUR);
    await advanceTo(clock, HOUR - 1);
    expect(o.state).toBe('pending');
    await advanceTo(clock, HOUR);
    expect(o.state).toBe('resolved');
    expect(o.at).toBe(HOUR);
    expect(clock.pendingTimers).toBe(0);
    bucket.assertInvariants();
  });

  it('reserve: a wait of an hour, then two hours behind it', () => {
    const { clock, bucket } = make(perInterval(1, HOUR), 1);
    const r0 = bucket.reserve();
    expect(r0.delayMs).toBe(0);
    const r1 = bucket.reserve();
    expect(r1.delayMs).toBeCloseTo(HOUR, 6);
    const r2 = bucket.reserve();
    expect(r2.delayMs).toBeCloseTo(2 * HOUR, 6);
    expect(clock.pendingTimers).toBe(0); // reservations arm nothing
    bucket.assertInvariants();
  });
});

describe('TokenBucket: n per interval is exact at the interval (float-error cases)', () => {
  // For these, interval / (1000 / rate) is a hair below n in floating point.
  const cases: [number, number][] = [
    [15, 1000],
    [49, 60_000],
    [7, 3_600_000],
  ];

  it.each(cases)(
    '%i per %i ms: tryTake of all of them at exactly the interval',
    (count, interval) => {
      const { clock, bucket } = make(perInterval(count, interval), count);
      runTry((at) => clock.advanceTo(at), bucket, [
        { at: 0, n: count, ok: true },
        { at: interval - 1, n: count, ok: false },
        { at: interval, n: count, ok: true },
      ]);
    },
  );

  it.each(cases)(
    '%i per %i ms: take of all of them resolves at exactly the interval',
    async (count, interval) => {
      const { clock, bucket } = make(perInterval(count, interval), count);
      bucket.tryTake(count);
      await runTakes(clock, bucket, [{ at: 0, n: count, delayMs: interval }]);
    },
  );
});

// ---- take ------------------------------------------------------------------------------------

describe('TokenBucket.take', () => {
  it('resolves at once (and arms nothing) while tokens are there', async () => {
    const { clock, bucket } = make(10, 3);
    const o = watch(clock, bucket.take(3));
    await flush();
    expect(o).toMatchObject({ state: 'resolved', at: 0 });
    expect(bucket.available).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('waits in FIFO order with exact grant times, for waiters of different n', async () => {
    const { clock, bucket } = make(10, 5);
    expect(bucket.tryTake(5).ok).toBe(true);
    await runTakes(clock, bucket, [
      { at: t(0), n: 3, delayMs: t(3) },
      { at: t(0), n: 1, delayMs: t(4) },
      { at: t(1), n: 5, delayMs: t(8) }, // behind 4 tokens: 5 more accrue by t(9)
      { at: t(2), n: 2, delayMs: t(9) }, // t(11)
      { at: t(11), n: 2, delayMs: t(2) }, // the queue has just emptied, the count is 0
      { at: t(30), n: 5, delayMs: 0 }, // idle long enough: full
    ]);
    expect(bucket.stats()).toMatchObject({ granted: 7, tokensGranted: 23, waiting: 0 });
  });

  it('a small request is not served before a larger one ahead of it', async () => {
    const { clock, bucket } = make(10, 4);
    bucket.tryTake(4);
    const big = watch(clock, bucket.take(4)); // t(4)
    const small = watch(clock, bucket.take(1)); // t(5), though 1 token is there at t(1)
    await advanceTo(clock, t(1));
    expect(small.state).toBe('pending');
    await advanceTo(clock, t(4));
    expect(big).toMatchObject({ state: 'resolved', at: t(4) });
    expect(small.state).toBe('pending');
    await advanceTo(clock, t(5));
    expect(small).toMatchObject({ state: 'resolved', at: t(5) });
    expect(small.seq).toBeGreaterThan(big.seq);
  });

  it('reaches the configured rate with burst 1 and 50 waiters, on one shared timer', async () => {
    const { clock, bucket } = make(10, 1);
    const outcomes = Array.from({ length: 50 }, () => watch(clock, bucket.take()));
    bucket.assertInvariants();
    expect(bucket.waiting).toBe(49);
    expect(clock.pendingTimers).toBe(1);
    for (let k = 1; k < 50; k++) {
      await advanceTo(clock, t(k) - 1);
      expect(outcomes[k]!.state).toBe('pending');
      await advanceTo(clock, t(k));
      expect(outcomes[k]).toMatchObject({ state: 'resolved', at: t(k) });
      bucket.assertInvariants();
      expect(clock.pendingTimers).toBe(k < 49 ? 1 : 0);
    }
    expectSettledInOrder(outcomes);
  });

  it('a synchronous jump of the clock releases exactly the waiters whose time has come', async () => {
    const { clock, bucket } = make(10, 1);
    bucket.tryTake();
    const outcomes = Array.from({ length: 5 }, () => watch(clock, bucket.take()));
    clock.advanceTo(t(3)); // synchronous: one jump
    await flush();
    expect(outcomes.map((o) => o.state)).toEqual([
      'resolved',
      'resolved',
      'resolved',
      'pending',
      'pending',
    ]);
    expect(clock.pendingTimers).toBe(1);
    expect(clock.nextTimerAt).toBe(t(4));
  });

  it('a late timer releases, in one firing and in order, every waiter whose time has passed', async () => {
    const clock = new StubClock();
    const bucket = new TokenBucket({ rate: 10, burst: 1, clock });
    bucket.tryTake();
    const order: number[] = [];
    for (let i = 0; i < 5; i++) void bucket.take().then(() => order.push(i));
    expect(clock.timers.size).toBe(1);
    clock.time = t(3) + 50; // the timer due at t(1) fires this late
    clock.fire();
    bucket.assertInvariants();
    expect(bucket.waiting).toBe(2);
    expect(clock.timers.size).toBe(1); // re-armed for the new head
    expect([...clock.timers][0]!.dueAt).toBe(t(4));
    await flush();
    expect(order).toEqual([0, 1, 2]);
  });

  it('above one token per millisecond (10,000/s): waits of fractions of a millisecond', async () => {
    const { clock, bucket } = make(10_000, 5);
    bucket.tryTake(5);
    await runTakes(clock, bucket, [
      { at: 0, n: 5, delayMs: 0.5 },
      { at: 0, n: 1, delayMs: 0.6 },
      { at: 0.25, n: 4, delayMs: 0.75 }, // -6 + 2.5 at 0.25: 7.5 tokens to go
    ]);
  });

  describe('timeoutMs', () => {
    it('fails at once, with no state change and no timer, when the wait would exceed it', async () => {
      const { clock, bucket } = make(1, 1);
      bucket.tryTake();
      clock.advanceTo(250);
      const before = bucket.available;
      const o = watch(clock, bucket.take(1, { timeoutMs: 749 }));
      expect(clock.pendingTimers).toBe(0);
      expect(bucket.waiting).toBe(0);
      await flush();
      expect(o.state).toBe('rejected');
      expect(o.at).toBe(250);
      const error = o.error as TimeoutError;
      expect(error).toBeInstanceOf(TimeoutError);
      expect(error.code).toBe('ERR_SLUICE_TIMEOUT');
      expect(error.timeoutMs).toBe(749);
      expect(error.hasValue).toBe(false);
      expect(error.message).toBe('The wait would take 750 ms, more than the timeout of 749 ms');
      expect(bucket.available).toBe(before);
      expect(bucket.stats()).toMatchObject({ granted: 1, timedOut: 1, cancelled: 0, waiting: 0 });
      bucket.assertInvariants();
      // Nothing was taken: the next caller gets the token at 1000.
      await runTakes(clock, bucket, [{ at: 250, n: 1, delayMs: 750 }]);
    });

    it('a wait equal to the timeout is accepted', async () => {
      const { clock, bucket } = make(10, 1);
      bucket.tryTake();
      const o = watch(clock, bucket.take(1, { timeoutMs: t(1) }));
      await advanceTo(clock, t(1));
      expect(o).toMatchObject({ state: 'resolved', at: t(1) });
    });

    it('counts the queue ahead in the wait', async () => {
      const { clock, bucket } = make(10, 1);
      bucket.tryTake();
      const first = watch(clock, bucket.take()); // t(1)
      const second = watch(clock, bucket.take(1, { timeoutMs: t(2) - 1 })); // would be t(2)
      await flush();
      expect(second.state).toBe('rejected');
      expect((second.error as Error).message).toBe(
        'The wait would take 200 ms, more than the timeout of 199 ms',
      );
      await advanceTo(clock, t(1));
      expect(first).toMatchObject({ state: 'resolved', at: t(1) });
      expect(clock.pendingTimers).toBe(0);
    });

    it('timeoutMs 0 succeeds when no wait is needed', async () => {
      const { clock, bucket } = make(10, 1);
      const o = watch(clock, bucket.take(1, { timeoutMs: 0 }));
      await flush();
      expect(o.state).toBe('resolved');
    });

    it('bad timeoutMs and signal are misuse: thrown synchronously, nothing taken', () => {
      const { bucket } = make(10, 1);
      expect(() => bucket.take(1, { timeoutMs: -1 })).toThrow(RangeError);
      expect(() => bucket.take(1, { timeoutMs: Number.NaN })).toThrow(RangeError);
      expect(() => bucket.take(1, { signal: {} as AbortSignal })).toThrow(TypeError);
      expect(() => bucket.take(1, 5 as never)).toThrow(TypeError);
      expect(bucket.available).toBe(1);
    });
  });

  describe('signal', () => {
    it('abort while waiting: rejects with signal.reason untouched, gives tokens back, later waiters move up', async () => {
      const { clock, bucket } = make(10, 2);
      bucket.tryTake(2);
      const controller = new AbortController();
      const a = watch(clock, bucket.take(2, { signal: controller.signal })); // t(2)
      const b = watch(clock, bucket.take(1)); // t(3)
      const c = watch(clock, bucket.take(2)); // t(5)
      expect(listeners(controller.signal)).toBe(1);
      await advanceTo(clock, 50);
      const reason = { why: 'user left' };
      controller.abort(reason);
      bucket.assertInvariants();
      expect(listeners(controller.signal)).toBe(0);
      expect(bucket.waiting).toBe(2);
      expect(clock.pendingTimers).toBe(1);
      await flush();
      expect(a.state).toBe('rejected');
      expect(a.error).toBe(reason);
      expect(a.at).toBe(50);
      // A's two tokens went back: at 50 the count (without A) is -0.5 after B, so B acts at
      // t(1) and C (two more) at t(3).
      expect(clock.nextTimerAt).toBe(t(1));
      await advanceTo(clock, t(5));
      expect(b).toMatchObject({ state: 'resolved', at: t(1) });
      expect(c).toMatchObject({ state: 'resolved', at: t(3) });
      expect(bucket.stats()).toMatchObject({ cancelled: 1, granted: 3, tokensGranted: 5 });
      expect(clock.pendingTimers).toBe(0);
      bucket.assertInvariants();
    });

    it('abort of the only waiter clears the timer and restores the count', async () => {
      const { clock, bucket } = make(10, 1);
      bucket.tryTake();
      const controller = new AbortController();
      const o = watch(clock, bucket.take(1, { signal: controller.signal }));
      expect(clock.pendingTimers).toBe(1);
      await advanceTo(clock, 40);
      controller.abort();
      expect(clock.pendingTimers).toBe(0);
      expect(bucket.available).toBeCloseTo(0.4, 12);
      await flush();
      expect(o.state).toBe('rejected');
      expect((o.error as Error).name).toBe('AbortError');
      bucket.assertInvariants();
      runTry((at) => clock.advanceTo(at), bucket, [
        { at: 99, n: 1, ok: false },
        { at: 100, n: 1, ok: true },
      ]);
    });

    it('an already-aborted signal rejects at once with its reason and takes nothing', async () => {
      const { clock, bucket } = make(10, 1);
      const reason = new Error('already gone');
      const signal = AbortSignal.abort(reason);
      const o = watch(clock, bucket.take(1, { signal }));
      await flush();
      expect(o.state).toBe('rejected');
      expect(o.error).toBe(reason);
      expect(bucket.available).toBe(1);
      expect(bucket.stats()).toMatchObject({ granted: 0, cancelled: 0, timedOut: 0 });
      expect(listeners(signal)).toBe(0);
      expect(clock.pendingTimers).toBe(0);
      // Also when it would have had to wait.
      bucket.tryTake();
      const w = watch(clock, bucket.take(1, { signal }));
      await flush();
      expect(w.error).toBe(reason);
      expect(bucket.waiting).toBe(0);
      expect(clock.pendingTimers).toBe(0);
      bucket.assertInvariants();
    });

    it('the listener is removed when the take is granted, and a later abort changes nothing', async () => {
      const { clock, bucket } = make(10, 1);
      bucket.tryTake();
      const controller = new AbortController();
      const o = watch(clock, bucket.take(1, { signal: controller.signal }));
      await advanceTo(clock, t(1));
      expect(o.state).toBe('resolved');
      expect(listeners(controller.signal)).toBe(0);
      controller.abort();
      expect(bucket.available).toBe(0);
      expect(bucket.stats().cancelled).toBe(0);
      // The immediate path adds no listener at all.
      const fresh = new AbortController();
      await advanceTo(clock, t(2));
      const now = watch(clock, bucket.take(1, { signal: fresh.signal }));
      expect(listeners(fresh.signal)).toBe(0);
      await flush();
      expect(now.state).toBe('resolved');
    });

    it('one signal shared by many waiters: all reject, all listeners go, all tokens return', async () => {
      const { clock, bucket } = make(10, 1);
      bucket.tryTake();
      const controller = new AbortController();
      const outcomes = Array.from({ length: 10 }, () =>
        watch(clock, bucket.take(1, { signal: controller.signal })),
      );
      expect(listeners(controller.signal)).toBe(10);
      controller.abort();
      await flush();
      expect(outcomes.every((o) => o.state === 'rejected')).toBe(true);
      expect(listeners(controller.signal)).toBe(0);
      expect(bucket.available).toBe(0);
      expect(clock.pendingTimers).toBe(0);
      expect(bucket.stats().cancelled).toBe(10);
      bucket.assertInvariants();
    });
  });
});

// ---- tryTake and waiters ---------------------------------------------------------------------

describe('TokenBucket: tryTake never jumps ahead of a waiting take', () => {
  it('refuses while a take waits, even once tokens have accrued', async () => {
    const { clock, bucket } = make(1, 5);
    bucket.tryTake(5);
    const o = watch(clock, bucket.take(3)); // acts at 3000
    runTry((at) => clock.advanceTo(at), bucket, [
      { at: 1500, n: 1, ok: false }, // 1.5 tokens accrued, all promised to the waiter
      { at: 2500, n: 1, ok: false },
    ]);
    const refused = bucket.tryTake();
    expect(!refused.ok && refused.retryAfterMs).toBeCloseTo(1500, 9); // after the waiter
    await advanceTo(clock, 3000);
    expect(o).toMatchObject({ state: 'resolved', at: 3000 });
    runTry((at) => clock.advanceTo(at), bucket, [
      { at: 3999, n: 1, ok: false },
      { at: 4000, n: 1, ok: true },
    ]);
  });

  it('refuses while a waiter is due but its timer has not fired yet (late timer)', () => {
    const clock = new StubClock();
    const bucket = new TokenBucket({ rate: 10, burst: 1, clock });
    bucket.tryTake();
    let granted = false;
    void bucket.take().then(() => {
      granted = true;
    });
    clock.time = t(5); // the timer (due at t(1)) is late: 4 tokens accrued, capped to the burst
    expect(bucket.tryTake().ok).toBe(false);
    bucket.assertInvariants();
    clock.fire();
    expect(bucket.waiting).toBe(0);
    expect(clock.timers.size).toBe(0);
    bucket.assertInvariants();
    return Promise.resolve().then(() => expect(granted).toBe(true));
  });
});

// ---- reserve and cancel (x/time/rate's TestCancel*) ------------------------------------------

describe('TokenBucket.reserve and cancel (x/time/rate TestReserve*/TestCancel*)', () => {
  it('reserves in order (TestSimpleReserve)', () => {
    const { clock, bucket } = make(10, 2);
    runReserve(clock, bucket, { at: t(0), n: 2, delayMs: 0 });
    runReserve(clock, bucket, { at: t(0), n: 2, delayMs: t(2) });
    runReserve(clock, bucket, { at: t(3), n: 2, delayMs: t(1) });
    expect(clock.pendingTimers).toBe(0);
  });

  it('TestCancelInvalid: an impossible reservation cancels to no effect (rate 0)', () => {
    const { clock, bucket } = make(0, 2);
    runReserve(clock, bucket, { at: t(0), n: 2, delayMs: 0 });
    const r = bucket.reserve(1);
    expect(r.ok).toBe(false);
    r.cancel();
    expect(bucket.available).toBe(0);
    expect(bucket.tryTake().ok).toBe(false);
  });

  it('TestCancelLast: cancel gives all tokens back', () => {
    const { clock, bucket } = make(10, 2);
    runReserve(clock, bucket, { at: t(0), n: 2, delayMs: 0 });
    const r = runReserve(clock, bucket, { at: t(0), n: 2, delayMs: t(2) });
    clock.advanceTo(t(1));
    r.cancel(); // got 2 tokens back
    bucket.assertInvariants();
    runReserve(clock, bucket, { at: t(1), n: 2, delayMs: t(1) });
    expect(bucket.stats().cancelled).toBe(1);
  });

  it('cancel twice is harmless', () => {
    const { clock, bucket } = make(10, 2);
    runReserve(clock, bucket, { at: t(0), n: 2, delayMs: 0 });
    const r = runReserve(clock, bucket, { at: t(0), n: 2, delayMs: t(2) });
    clock.advanceTo(t(1));
    r.cancel();
    r.cancel();
    bucket.assertInvariants();
    expect(bucket.available).toBeCloseTo(1, 12);
    runReserve(clock, bucket, { at: t(1), n: 2, delayMs: t(1) });
    expect(bucket.stats().cancelled).toBe(1);
  });

  it('TestCancelTooLate: cancel after the time to act is a no-op', () => {
    const { clock, bucket } = make(10, 2);
    runReserve(clock, bucket, { at: t(0), n: 2, delayMs: 0 });
    const r = runReserve(clock, bucket, { at: t(0), n: 2, delayMs: t(2) });
    clock.advanceTo(t(3));
    r.cancel(); // too late
    bucket.assertInvariants();
    runReserve(clock, bucket, { at: t(3), n: 2, delayMs: t(1) });
  });

  it('TestCancel0Tokens: nothing comes back when a later reservation was promised it all', () => {
    const { clock, bucket } = make(10, 2);
    runReserve(clock, bucket, { at: t(0), n: 2, delayMs: 0 });
    const r = runReserve(clock, bucket, { at: t(0), n: 1, delayMs: t(1) });
    runReserve(clock, bucket, { at: t(0), n: 1, delayMs: t(2) });
    r.cancel(); // got 0 tokens back
    bucket.assertInvariants();
    runReserve(clock, bucket, { at: t(0), n: 1, delayMs: t(3) });
  });

  it('TestCancel1Token: cancel at exactly the time to act gives back what no later reservation holds', () => {
    // x/time/rate's CancelAt is a no-op only when timeToAct is strictly before the cancel.
    const { clock, bucket } = make(10, 2);
    runReserve(clock, bucket, { at: t(0), n: 2, delayMs: 0 });
    const r = runReserve(clock, bucket, { at: t(0), n: 2, delayMs: t(2) });
    runReserve(clock, bucket, { at: t(0), n: 1, delayMs: t(3) });
    clock.advanceTo(t(2));
    r.cancel(); // got 1 token back
    bucket.assertInvariants();
    runReserve(clock, bucket, { at: t(2), n: 2, delayMs: t(2) });
  });

  it('TestCancel1Token, cancelled just before the time to act', () => {
    const { clock, bucket } = make(10, 2);
    runReserve(clock, bucket, { at: t(0), n: 2, delayMs: 0 });
    const r = runReserve(clock, bucket, { at: t(0), n: 2, delayMs: t(2) });
    runReserve(clock, bucket, { at: t(0), n: 1, delayMs: t(3) });
    clock.advanceTo(t(2) - 50);
    r.cancel(); // 1 token back (the other is the later reservation's)
    bucket.assertInvariants();
    // At t(2)-50 the count is -3 + 1.5 + 1 = -0.5: two more tokens need 250 ms.
    runReserve(clock, bucket, { at: t(2) - 50, n: 2, delayMs: 250 });
  });

  it('TestCancelMulti: cancelling the later one first lets the earlier one give more back', () => {
    const { clock, bucket } = make(10, 4);
    runReserve(clock, bucket, { at: t(0), n: 4, delayMs: 0 });
    const rA = runReserve(clock, bucket, { at: t(0), n: 3, delayMs: t(3) });
    runReserve(clock, bucket, { at: t(0), n: 1, delayMs: t(4) });
    const rC = runReserve(clock, bucket, { at: t(0), n: 1, delayMs: t(5) });
    clock.advanceTo(t(1));
    rC.cancel(); // 1 token back
    bucket.assertInvariants();
    rA.cancel(); // 2 tokens back, as if C was never reserved
    bucket.assertInvariants();
    runReserve(clock, bucket, { at: t(1), n: 3, delayMs: t(4) });
    expect(bucket.stats().cancelled).toBe(2);
  });

  it('cancelling both of two reservations in reverse order restores them all', () => {
    const { clock, bucket } = make(10, 3);
    runReserve(clock, bucket, { at: t(0), n: 3, delayMs: 0 });
    const r1 = runReserve(clock, bucket, { at: t(0), n: 2, delayMs: t(2) });
    const r2 = runReserve(clock, bucket, { at: t(0), n: 1, delayMs: t(3) });
    r2.cancel();
    r1.cancel();
    bucket.assertInvariants();
    expect(bucket.available).toBe(0);
    runReserve(clock, bucket, { at: t(0), n: 3, delayMs: t(3) });
  });

  it('a reservation holds its tokens: tryTake and take queue behind it', async () => {
    const { clock, bucket } = make(10, 1);
    runReserve(clock, bucket, { at: t(0), n: 1, delayMs: 0 });
    runReserve(clock, bucket, { at: t(0), n: 1, delayMs: t(1) });
    runTry((at) => clock.advanceTo(at), bucket, [{ at: t(1) - 1, n: 1, ok: false }]);
    await runTakes(clock, bucket, [{ at: t(1) - 1, n: 1, delayMs: t(1) + 1 }]);
    expect(clock.pendingTimers).toBe(0); // reservations never arm a timer
  });

  it('cancelling a reservation with takes queued behind it gives nothing back; they keep their times', async () => {
    // Those takes were promised its tokens (CancelAt): nothing can come back without moving them.
    const { clock, bucket } = make(10, 1);
    bucket.tryTake();
    const r = runReserve(clock, bucket, { at: t(0), n: 1, delayMs: t(1) });
    const w1 = watch(clock, bucket.take()); // t(2)
    const w2 = watch(clock, bucket.take()); // t(3)
    expect(clock.nextTimerAt).toBe(t(2));
    await advanceTo(clock, 50);
    r.cancel();
    bucket.assertInvariants();
    expect(bucket.stats().cancelled).toBe(1);
    expect(clock.nextTimerAt).toBe(t(2));
    await advanceTo(clock, t(3));
    expect(w1).toMatchObject({ state: 'resolved', at: t(2) });
    expect(w2).toMatchObject({ state: 'resolved', at: t(3) });
    expect(clock.pendingTimers).toBe(0);
    // No tokens were created either.
    runTry((at) => clock.advanceTo(at), bucket, [
      { at: t(4) - 1, n: 1, ok: false },
      { at: t(4), n: 1, ok: true },
    ]);
  });

  it('cancelling a reservation made after the waiting takes gives all its tokens back', async () => {
    const { clock, bucket } = make(10, 1);
    bucket.tryTake();
    const w1 = watch(clock, bucket.take()); // t(1)
    const w2 = watch(clock, bucket.take()); // t(2)
    const r = runReserve(clock, bucket, { at: t(0), n: 1, delayMs: t(3) });
    await advanceTo(clock, 50);
    r.cancel();
    bucket.assertInvariants();
    const w3 = watch(clock, bucket.take()); // takes r's place: t(3)
    await advanceTo(clock, t(4));
    expect(w1).toMatchObject({ state: 'resolved', at: t(1) });
    expect(w2).toMatchObject({ state: 'resolved', at: t(2) });
    expect(w3).toMatchObject({ state: 'resolved', at: t(3) });
    expect(bucket.available).toBeCloseTo(1, 12);
  });

  it('tokens given back by cancelling the latest reservation can be taken at once (TestCancelLast + tryTake)', async () => {
    const { clock, bucket } = make(10, 2);
    runReserve(clock, bucket, { at: t(0), n: 2, delayMs: 0 });
    const r = runReserve(clock, bucket, { at: t(0), n: 2, delayMs: t(2) });
    clock.advanceTo(t(1));
    r.cancel(); // got 2 tokens back: 1 token now, nobody waiting, nothing outstanding
    bucket.assertInvariants();
    expect(bucket.available).toBeCloseTo(1, 12);
    runTry((at) => clock.advanceTo(at), bucket, [{ at: t(1), n: 1, ok: true }]);
    clock.advanceTo(t(2));
    const o = watch(clock, bucket.take());
    await flush();
    expect(o).toMatchObject({ state: 'resolved', at: t(2) });
  });

  it('reservations cancelled in full leave no trace: a full bucket with nothing outstanding grants at once', () => {
    const { clock, bucket } = make(10, 2);
    bucket.tryTake(1);
    const r1 = runReserve(clock, bucket, { at: t(0), n: 2, delayMs: t(1) });
    const r2 = runReserve(clock, bucket, { at: t(0), n: 2, delayMs: t(3) });
    r2.cancel(); // 2 back
    r1.cancel(); // 2 back: nothing is promised any more
    bucket.assertInvariants();
    expect(bucket.available).toBe(1);
    clock.advanceTo(t(1));
    expect(bucket.available).toBe(2);
    expect(bucket.idle).toBe(true);
    expect(bucket.peek(2)).toEqual({ ok: true });
    expect(bucket.tryTake(2)).toEqual({ ok: true });
  });

  it('after a reservation is cancelled in full, aborting a waiter moves the next one up', async () => {
    const { clock, bucket } = make(10, 1);
    bucket.tryTake();
    runReserve(clock, bucket, { at: t(0), n: 1, delayMs: t(1) }).cancel(); // count back to 0
    const controller = new AbortController();
    const w1 = watch(clock, bucket.take(1, { signal: controller.signal })); // t(1)
    const w2 = watch(clock, bucket.take()); // t(2)
    await advanceTo(clock, 50);
    controller.abort();
    bucket.assertInvariants();
    await advanceTo(clock, t(2));
    expect(w1.state).toBe('rejected');
    expect(w2).toMatchObject({ state: 'resolved', at: t(1) }); // as if no reservation was ever made
  });

  it('a take made after cancelling the latest reservation is not held back to its time', async () => {
    const { clock, bucket } = make(10, 2);
    runReserve(clock, bucket, { at: t(0), n: 2, delayMs: 0 });
    const r = runReserve(clock, bucket, { at: t(0), n: 2, delayMs: t(2) });
    clock.advanceTo(t(1));
    r.cancel(); // 1 token now
    const o = watch(clock, bucket.take());
    await flush();
    expect(o).toMatchObject({ state: 'resolved', at: t(1) });
    expect(clock.pendingTimers).toBe(0);
    bucket.assertInvariants();
  });

  it('aborting a waiting take never delays the takes behind it, even with a reserve() in between', async () => {
    const { clock, bucket } = make(10, 1);
    bucket.tryTake();
    const controller = new AbortController();
    const w1 = watch(clock, bucket.take(1, { signal: controller.signal })); // t(1)
    const w2 = watch(clock, bucket.take()); // t(2)
    runReserve(clock, bucket, { at: t(0), n: 1, delayMs: t(3) });
    controller.abort();
    bucket.assertInvariants();
    await advanceTo(clock, t(2));
    expect(w1.state).toBe('rejected');
    expect(w2.state).toBe('resolved'); // no later than its promised t(2)
    expect(w2.at).toBeLessThanOrEqual(t(2));
  });

  it('a reserve() made after a waiting take does not push that take back when rescheduling', async () => {
    const { clock, bucket } = make(10, 1);
    bucket.tryTake();
    const w = watch(clock, bucket.take()); // t(1)
    runReserve(clock, bucket, { at: t(0), n: 1, delayMs: t(2) });
    bucket.setRate(10); // the same rate: nothing should change
    bucket.assertInvariants();
    expect(clock.nextTimerAt).toBe(t(1));
    await advanceTo(clock, t(2));
    expect(w).toMatchObject({ state: 'resolved', at: t(1) });
  });
});

// ---- setRate / setBurst ----------------------------------------------------------------------

describe('TokenBucket.setRate and setBurst', () => {
  it('tokens accrued so far count at the old rate, then the new one applies', () => {
    const { clock, bucket } = make(10, 4);
    runTry((at) => clock.advanceTo(at), bucket, [{ at: t(0), n: 4, ok: true }]);
    clock.advanceTo(t(2)); // 2 tokens at 10/s
    bucket.setRate(20);
    expect(bucket.rate).toBe(20);
    bucket.assertInvariants();
    runTry((at) => clock.advanceTo(at), bucket, [
      { at: t(2), n: 3, ok: false },
      { at: t(2) + 50, n: 4, ok: false }, // 3 tokens
      { at: t(2) + 50, n: 3, ok: true },
      { at: t(2) + 150, n: 2, ok: true }, // 2 more in 100 ms at 20/s
    ]);
    bucket.setRate(perInterval(1, 1000));
    runTry((at) => clock.advanceTo(at), bucket, [
      { at: t(2) + 1149, n: 1, ok: false },
      { at: t(2) + 1150, n: 1, ok: true },
    ]);
  });

  it('waiting takes are rescheduled to the new rate, keeping their order', async () => {
    const { clock, bucket } = make(10, 1);
    bucket.tryTake();
    const a = watch(clock, bucket.take()); // t(1) at 10/s
    const b = watch(clock, bucket.take()); // t(2)
    await advanceTo(clock, 50); // -1.5 tokens
    bucket.setRate(20); // 0.5 more for a: 25 ms; b 50 ms later
    bucket.assertInvariants();
    expect(clock.pendingTimers).toBe(1);
    expect(clock.nextTimerAt).toBe(75);
    await advanceTo(clock, 200);
    expect(a).toMatchObject({ state: 'resolved', at: 75 });
    expect(b).toMatchObject({ state: 'resolved', at: 125 });
    expect(clock.pendingTimers).toBe(0);
  });

  it('a slower rate delays waiters; one whose new time passes its timeout rejects and its tokens go back', async () => {
    const { clock, bucket } = make(1, 1);
    bucket.tryTake();
    const a = watch(clock, bucket.take(1, { timeoutMs: 1500 })); // 1000
    const b = watch(clock, bucket.take()); // 2000
    const c = watch(clock, bucket.take(1, { timeoutMs: 10_000 })); // 3000
    bucket.setRate(0.4); // a would act at 2500 > 1500
    bucket.assertInvariants();
    await flush();
    expect(a.state).toBe('rejected');
    const error = a.error as TimeoutError;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.timeoutMs).toBe(1500);
    expect(error.message).toBe('The wait would take 2500 ms, more than the timeout of 1500 ms');
    expect(bucket.stats()).toMatchObject({ timedOut: 1, waiting: 2 });
    // a's token went back: b needs 1 token at 0.4/s (2500), c one more (5000).
    await advanceTo(clock, 6000);
    expect(b).toMatchObject({ state: 'resolved', at: 2500 });
    expect(c).toMatchObject({ state: 'resolved', at: 5000 });
    expect(clock.pendingTimers).toBe(0);
  });

  it('the rejection message of a waiter rescheduled past its timeout states a wait longer than it', async () => {
    const { clock, bucket } = make(10, 1);
    bucket.tryTake();
    const a = watch(clock, bucket.take(1, { timeoutMs: 150 })); // t(1), deadline 150
    await advanceTo(clock, 90); // 0.9 tokens accrued
    bucket.setRate(1); // 0.1 token at 1/s: 100 ms more, a would act at 190 > 150
    bucket.assertInvariants();
    await flush();
    expect(a.state).toBe('rejected');
    const error = a.error as TimeoutError;
    expect(error.timeoutMs).toBe(150);
    const stated = Number(/would take ([\d.]+) ms/.exec(error.message)?.[1]);
    expect(stated, error.message).toBeGreaterThan(150); // 190 from the call
  });

  it('setRate(0): new takes could never be served; waiters without a timeout wait, others reject', async () => {
    const { clock, bucket } = make(10, 1);
    bucket.tryTake();
    const patient = watch(clock, bucket.take()); // t(1)
    const hasty = watch(clock, bucket.take(1, { timeoutMs: 1e9 })); // t(2)
    await advanceTo(clock, 50);
    bucket.setRate(0);
    bucket.assertInvariants();
    await flush();
    expect(hasty.state).toBe('rejected');
    expect((hasty.error as Error).message).toMatch(/could never end/);
    expect(patient.state).toBe('pending');
    expect(clock.pendingTimers).toBe(0); // nothing can be served: no timer
    expect(bucket.tryTake()).toEqual({ ok: false, retryAfterMs: Number.POSITIVE_INFINITY });
    const late = watch(clock, bucket.take());
    await advanceTo(clock, 1e6);
    expect(late.state).toBe('rejected');
    expect(patient.state).toBe('pending');
    bucket.setRate(10); // -0.5 tokens after patient: 50 ms more
    bucket.assertInvariants();
    await advanceTo(clock, 1e6 + 50);
    expect(patient).toMatchObject({ state: 'resolved', at: 1e6 + 50 });
    expect(clock.pendingTimers).toBe(0);
  });

  it('setRate(Infinity) releases every waiter at once, and later callers stay behind them', async () => {
    const { clock, bucket } = make(10, 1);
    bucket.tryTake();
    const waiters = Array.from({ length: 3 }, () => watch(clock, bucket.take()));
    await advanceTo(clock, 50);
    bucket.setRate(Number.POSITIVE_INFINITY);
    bucket.assertInvariants();
    const later = watch(clock, bucket.take());
    await clock.advanceAsync(0);
    expect(waiters.every((o) => o.state === 'resolved' && o.at === 50)).toBe(true);
    expect(later).toMatchObject({ state: 'resolved', at: 50 });
    expect(later.seq).toBeGreaterThan(Math.max(...waiters.map((o) => o.seq)));
    expect(clock.pendingTimers).toBe(0);
  });

  it('setBurst: smaller drops tokens above it and limits n; larger adds nothing at once', () => {
    const { clock, bucket } = make(10, 5);
    bucket.setBurst(2);
    expect(bucket.burst).toBe(2);
    expect(bucket.available).toBe(2);
    expect(() => bucket.tryTake(3)).toThrowError(/burst 2/);
    bucket.setBurst(6);
    expect(bucket.available).toBe(2);
    bucket.assertInvariants();
    runTry((at) => clock.advanceTo(at), bucket, [
      { at: t(0), n: 3, ok: false },
      { at: t(4), n: 6, ok: true }, // 2 + 4
      { at: t(20), n: 6, ok: true },
    ]);
  });

  it('setBurst with waiters keeps them, in order, at their times', async () => {
    const { clock, bucket } = make(10, 3);
    bucket.tryTake(3);
    const a = watch(clock, bucket.take(3)); // t(3)
    const b = watch(clock, bucket.take(1)); // t(4)
    bucket.setBurst(5);
    bucket.assertInvariants();
    expect(clock.pendingTimers).toBe(1);
    await advanceTo(clock, t(4));
    expect(a).toMatchObject({ state: 'resolved', at: t(3) });
    expect(b).toMatchObject({ state: 'resolved', at: t(4) });
    expect(clock.pendingTimers).toBe(0);
  });

  it('bad values throw and change nothing', () => {
    const { bucket } = make(10, 3);
    for (const rate of [-1, Number.NaN, '5']) {
      expect(() => bucket.setRate(rate as number)).toThrow(RangeError);
    }
    for (const burst of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '2']) {
      expect(() => bucket.setBurst(burst as number)).toThrow(RangeError);
    }
    expect(bucket.rate).toBe(10);
    expect(bucket.burst).toBe(3);
    expect(bucket.available).toBe(3);
  });
});

describe('TokenBucket.pauseUntil and pause', () => {
  it('nothing is granted before the pause ends, not even from a full bucket; then burst, then the rate', () => {
    const { clock, bucket } = make(10, 3);
    bucket.tryTake(3);
    bucket.pauseUntil(1000);
    bucket.assertInvariants();
    clock.advanceTo(999);
    expect(bucket.available).toBe(3); // tokens accrue during the pause, up to the burst
    expect(bucket.peek()).toEqual({ ok: false, retryAfterMs: 1 });
    expect(bucket.tryTake()).toEqual({ ok: false, retryAfterMs: 1 });
    expect(bucket.reserve().timeToAct).toBe(1000);
    bucket.assertInvariants();
    clock.advanceTo(1000);
    // The reservation took one of the three at 1000; two are left, then one per 100 ms.
    runTry((at) => clock.advanceTo(at), bucket, [
      { at: 1000, n: 2, ok: true },
      { at: 1099, n: 1, ok: false },
      { at: 1100, n: 1, ok: true },
    ]);
  });

  it('waiting takes move behind the pause in order; one pushed past its timeout rejects and its token goes back', async () => {
    const { clock, bucket } = make(10, 1);
    bucket.tryTake();
    const a = watch(clock, bucket.take()); // t(1)
    const b = watch(clock, bucket.take(1, { timeoutMs: 500 })); // t(2)
    const c = watch(clock, bucket.take()); // t(3)
    bucket.pauseUntil(1000); // a at 1000; b would act at 1100 > 500; c at 1100
    bucket.assertInvariants();
    expect(clock.pendingTimers).toBe(1);
    expect(clock.nextTimerAt).toBe(1000);
    await flush();
    expect(b.state).toBe('rejected');
    expect(b.error).toBeInstanceOf(TimeoutError);
    expect((b.error as Error).message).toBe(
      'The wait would take 1100 ms, more than the timeout of 500 ms',
    );
    await advanceTo(clock, 2000);
    expect(a).toMatchObject({ state: 'resolved', at: 1000 });
    expect(c).toMatchObject({ state: 'resolved', at: 1100 });
    expectSettledInOrder([a, c]);
    expect(bucket.stats()).toMatchObject({ granted: 3, timedOut: 1, waiting: 0 });
    expect(clock.pendingTimers).toBe(0);
  });

  it('a new take whose wait, pause included, passes its timeout is refused at once', async () => {
    const { clock, bucket } = make(10, 1);
    bucket.pauseUntil(1000);
    const error = await rejection(bucket.take(1, { timeoutMs: 999 }));
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as Error).message).toBe(
      'The wait would take 1000 ms, more than the timeout of 999 ms',
    );
    const ok = watch(clock, bucket.take(1, { timeoutMs: 1000 }));
    await advanceTo(clock, 1000);
    expect(ok).toMatchObject({ state: 'resolved', at: 1000 });
  });

  it('aborting a waiter moves the ones behind it up, but never into the pause', async () => {
    const { clock, bucket } = make(10, 1);
    bucket.pauseUntil(1000);
    const controller = new AbortController();
    const a = watch(clock, bucket.take(1, { signal: controller.signal })); // 1000
    const b = watch(clock, bucket.take()); // 1100
    await advanceTo(clock, 500);
    controller.abort();
    bucket.assertInvariants();
    await advanceTo(clock, 2000);
    expect(a.state).toBe('rejected');
    expect(b).toMatchObject({ state: 'resolved', at: 1000 });
    expect(listeners(controller.signal)).toBe(0);
  });

  it('while a reserve() reservation is outstanding, waiters keep their times; later requests see the pause', async () => {
    const { clock, bucket } = make(10, 1);
    bucket.tryTake();
    const r = bucket.reserve(); // t(1)
    const w = watch(clock, bucket.take()); // t(2)
    bucket.pauseUntil(1000);
    bucket.assertInvariants();
    expect(r.timeToAct).toBe(t(1));
    expect(bucket.peek()).toEqual({ ok: false, retryAfterMs: 1000 });
    const later = watch(clock, bucket.take()); // behind the pause
    await advanceTo(clock, 2000);
    expect(w).toMatchObject({ state: 'resolved', at: t(2) });
    expect(later).toMatchObject({ state: 'resolved', at: 1000 });
  });

  it('the pause never moves earlier; pause(ms) is pauseUntil(now + ms); idle only once it has passed', () => {
    const { clock, bucket } = make(10, 1);
    bucket.pauseUntil(1000);
    expect(bucket.idle).toBe(false); // full, but a new bucket would grant now
    bucket.pauseUntil(500);
    bucket.pause(200);
    expect(bucket.peek()).toEqual({ ok: false, retryAfterMs: 1000 });
    clock.advanceTo(300);
    bucket.pause(2000); // until 2300
    bucket.pauseUntil(100); // in the past: nothing
    bucket.assertInvariants();
    expect(bucket.peek()).toEqual({ ok: false, retryAfterMs: 2000 });
    clock.advanceTo(2299);
    expect(bucket.idle).toBe(false);
    clock.advanceTo(2300);
    expect(bucket.idle).toBe(true);
    expect(bucket.tryTake()).toEqual({ ok: true });
    bucket.pause(0); // nothing
    expect(bucket.peek()).toEqual({ ok: false, retryAfterMs: t(1) });
    expect(clock.pendingTimers).toBe(0);
  });

  it.each([
    [Number.NaN, '`NaN` (number)'],
    [Number.POSITIVE_INFINITY, '`Infinity` (number)'],
    [Number.NEGATIVE_INFINITY, '`-Infinity` (number)'],
    ['5', '`"5"` (string)'],
  ])('pauseUntil(%s) throws a RangeError naming the value, and changes nothing', (time, shown) => {
    const { bucket } = make(10, 1);
    const error = caught(() => bucket.pauseUntil(time as number));
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toBe(
      `Expected \`time\` to be a finite clock reading in milliseconds, got ${shown}`,
    );
    expect(bucket.peek()).toEqual({ ok: true });
  });

  it.each([
    [-1, '`-1` (number)'],
    [Number.NaN, '`NaN` (number)'],
    [Number.POSITIVE_INFINITY, '`Infinity` (number)'],
  ])('pause(%s) throws a RangeError naming the value, and changes nothing', (ms, shown) => {
    const { bucket } = make(10, 1);
    const error = caught(() => bucket.pause(ms));
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toBe(
      `Expected \`ms\` to be a finite number of milliseconds from 0 up, got ${shown}`,
    );
    expect(bucket.peek()).toEqual({ ok: true });
  });
});

// ---- available and stats ---------------------------------------------------------------------

describe('TokenBucket.peek and idle', () => {
  it('peek says what tryTake would, and takes nothing', async () => {
    const { clock, bucket } = make(10, 2);
    expect(bucket.peek()).toEqual({ ok: true });
    expect(bucket.peek(2)).toEqual({ ok: true });
    expect(bucket.available).toBe(2);
    bucket.tryTake(2);
    const refused = bucket.peek();
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.retryAfterMs).toBeCloseTo(t(1), 9);
    clock.advanceTo(t(1));
    expect(bucket.peek()).toEqual({ ok: true });
    expect(bucket.peek(2).ok).toBe(false);
    // It respects the queue, like tryTake.
    const w = watch(clock, bucket.take(2)); // t(2)
    clock.advanceTo(t(2) - 1);
    expect(bucket.peek().ok).toBe(false);
    expect(bucket.stats()).toMatchObject({ refused: 0, granted: 1 });
    expect(() => bucket.peek(0)).toThrow(RangeError);
    expect(() => bucket.peek(3)).toThrowError(/burst 2/);
    await advanceTo(clock, t(2));
    expect(w).toMatchObject({ state: 'resolved', at: t(2) });
  });

  it('idle: only when full, with nobody waiting and nothing reserved', async () => {
    const { clock, bucket } = make(10, 2);
    expect(bucket.idle).toBe(true);
    bucket.tryTake();
    expect(bucket.idle).toBe(false);
    clock.advanceTo(t(1));
    expect(bucket.idle).toBe(true);
    bucket.tryTake(2);
    const w = watch(clock, bucket.take(2)); // t(3)
    expect(bucket.idle).toBe(false);
    await advanceTo(clock, t(3));
    expect(w.state).toBe('resolved');
    expect(bucket.idle).toBe(false); // empty again
    const r = bucket.reserve(2); // t(5)
    expect(r.timeToAct).toBe(t(5));
    clock.advanceTo(t(5) + t(2) - 1);
    expect(bucket.idle).toBe(false);
    clock.advanceTo(t(7));
    expect(bucket.idle).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it('idle at rate 0 never returns once a token is taken; at rate Infinity it always is', () => {
    const { bucket: zero } = make(0, 1);
    zero.tryTake();
    expect(zero.idle).toBe(false);
    const { bucket: inf } = make(Number.POSITIVE_INFINITY, 1);
    inf.tryTake();
    inf.reserve();
    expect(inf.idle).toBe(true);
  });
});

describe('TokenBucket: available and stats()', () => {
  it('available goes negative while reservations are outstanding, and refills lazily', () => {
    const { clock, bucket } = make(10, 2);
    expect(bucket.available).toBe(2);
    bucket.reserve(2);
    bucket.reserve(2);
    expect(bucket.available).toBe(-2);
    clock.advanceTo(t(1));
    expect(bucket.available).toBeCloseTo(-1, 12);
    clock.advanceTo(t(4));
    expect(bucket.available).toBeCloseTo(2, 12);
    clock.advanceTo(t(100));
    expect(bucket.available).toBe(2);
  });

  it('counts grants, refusals, cancellations and timeouts', async () => {
    const { clock, bucket } = make(10, 2);
    bucket.tryTake(2); // granted 1 (2 tokens)
    bucket.tryTake(); // refused 1
    const r = bucket.reserve(1); // granted 2 (3)
    r.cancel(); // cancelled 1
    const controller = new AbortController();
    const aborted = watch(clock, bucket.take(1, { signal: controller.signal }));
    controller.abort(); // cancelled 2
    const timedOut = watch(clock, bucket.take(2, { timeoutMs: 1 })); // timedOut 1
    const ok = watch(clock, bucket.take(2)); // granted 3 (5) at t(2)
    expect(bucket.stats()).toEqual({
      rate: 10,
      burst: 2,
      available: -2,
      waiting: 1,
      granted: 2,
      tokensGranted: 3,
      refused: 1,
      cancelled: 2,
      timedOut: 1,
    });
    await advanceTo(clock, t(2));
    expect(aborted.state).toBe('rejected');
    expect(timedOut.state).toBe('rejected');
    expect(ok).toMatchObject({ state: 'resolved', at: t(2) });
    expect(bucket.stats()).toMatchObject({
      waiting: 0,
      granted: 3,
      tokensGranted: 5,
      refused: 1,
      cancelled: 2,
      timedOut: 1,
    });
    expect(bucket.stats().available).toBeCloseTo(0, 12);
  });
});

// ---- time never runs backwards ---------------------------------------------------------------

describe('TokenBucket: time never runs backwards', () => {
  it('a clock reading that goes back creates no tokens (TestLimiterJumpBackwards, fixed)', () => {
    const clock = new StubClock(t(1));
    const bucket = new TokenBucket({ rate: 10, burst: 3, clock });
    runTry((at) => (clock.time = at), bucket, [
      { at: t(1), n: 1, ok: true }, // start at t1
      { at: t(0), n: 1, ok: true }, // back to t0: counts as t1, 1 token left
      { at: t(0), n: 1, ok: true },
      { at: t(0), n: 1, ok: false },
      { at: t(1), n: 1, ok: false }, // x/time/rate found a token here; none has accrued
      { at: t(2), n: 1, ok: true },
      { at: t(2), n: 1, ok: false },
    ]);
  });

  it('`last` does not move back: going back and forth again creates nothing', () => {
    const clock = new StubClock(1000);
    const bucket = new TokenBucket({ rate: 1, burst: 1, clock });
    bucket.tryTake();
    clock.time = 1500;
    expect(bucket.available).toBeCloseTo(0.5, 12);
    clock.time = 0;
    expect(bucket.available).toBeCloseTo(0.5, 12);
    clock.time = 1500;
    expect(bucket.available).toBeCloseTo(0.5, 12); // would be 1 if `last` had moved to 0
    clock.time = 1999;
    expect(bucket.tryTake().ok).toBe(false);
    clock.time = 2000;
    expect(bucket.tryTake().ok).toBe(true);
    bucket.assertInvariants();
  });

  it('a reserve made on a clock that went back is scheduled from the latest reading (TestReserveJumpBack)', () => {
    const clock = new StubClock(t(1));
    const bucket = new TokenBucket({ rate: 10, burst: 2, clock });
    expect(bucket.reserve(2)).toMatchObject({ ok: true, delayMs: 0, timeToAct: t(1) });
    clock.time = t(0);
    expect(bucket.reserve(1)).toMatchObject({ ok: true, timeToAct: t(2) });
    clock.time = t(2);
    expect(bucket.reserve(2)).toMatchObject({ ok: true, timeToAct: t(4) });
    bucket.assertInvariants();
  });

  it('a take on a clock that went back waits from the latest reading', () => {
    const clock = new StubClock(1000);
    const bucket = new TokenBucket({ rate: 10, burst: 1, clock });
    bucket.tryTake();
    clock.time = 500;
    void bucket.take(); // counts as made at 1000: acts at 1100
    bucket.assertInvariants();
    expect(clock.timers.size).toBe(1);
    clock.time = 1050;
    clock.fire(); // the bucket's time to act (1100) has not come: nothing released
    expect(bucket.waiting).toBe(1);
    bucket.assertInvariants();
    expect(clock.timers.size).toBe(1);
    clock.time = 1100;
    clock.fire();
    expect(bucket.waiting).toBe(0);
    expect(clock.timers.size).toBe(0);
    bucket.assertInvariants();
  });
});

// ---- leaks -----------------------------------------------------------------------------------

describe('TokenBucket: leaks', () => {
  it('an idle bucket holds no timer after a busy spell settles', async () => {
    const { clock, bucket } = make(10, 2);
    const controller = new AbortController();
    const outcomes: Outcome[] = [];
    for (let i = 0; i < 20; i++) {
      outcomes.push(
        watch(clock, bucket.take(1 + (i % 2), i % 3 === 0 ? { signal: controller.signal } : {})),
      );
      bucket.tryTake();
      bucket.reserve();
    }
    expect(clock.pendingTimers).toBe(1);
    await advanceTo(clock, 500);
    controller.abort();
    expect(clock.pendingTimers).toBeLessThanOrEqual(1);
    await clock.runAllAsync();
    bucket.assertInvariants();
    expect(outcomes.every((o) => o.state !== 'pending')).toBe(true);
    expect(bucket.waiting).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    expect(listeners(controller.signal)).toBe(0);
    await advanceTo(clock, clock.now() + 10_000);
    expect(bucket.available).toBe(2);
    expect(clock.pendingTimers).toBe(0);
  });

  it('ONE shared timer: 50 pending waiters of different n arm exactly one timer', async () => {
    const { clock, bucket } = make(10, 3);
    bucket.tryTake(3);
    const outcomes = Array.from({ length: 50 }, (_, i) => watch(clock, bucket.take(1 + (i % 3))));
    expect(bucket.waiting).toBe(50);
    expect(clock.pendingTimers).toBe(1);
    expect(clock.nextTimerAt).toBe(t(1));
    bucket.assertInvariants();
    await advanceTo(clock, t(50));
    expect(clock.pendingTimers).toBe(1);
    await clock.runAllAsync();
    expect(outcomes.every((o) => o.state === 'resolved')).toBe(true);
    expect(clock.now()).toBe(t(99)); // 1+2+3 repeated: 99 tokens in all
    expect(clock.pendingTimers).toBe(0);
  });
});
