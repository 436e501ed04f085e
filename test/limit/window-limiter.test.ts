/**
 * WindowLimiter on a manual clock, in golang.org/x/time/rate's rate_test.go style: tables of
 * `{ at, n, ok }` / `{ at, n, grantedAt }` rows run in order (move the clock to `at`, then
 * call), with `assertInvariants()` after every row. Every expected time is worked out by hand
 * from the algorithm definitions in src/limit/window-ledgers.ts; the comments show the sums.
 *
 * - `sliding-log`: n may act at t if the requests in (t − windowMs, t] plus n ≤ limit.
 * - `fixed`: per window [origin + k·windowMs, origin + (k+1)·windowMs), count + n ≤ limit.
 * - `sliding-counter`: previous·(1 − elapsed/windowMs) + current + n ≤ limit, and current + n
 *   ≤ limit, where previous/current are the counts of the previous/current aligned window.
 *
 * The property tests at the end run random traffic (take with aborts and timeouts, tryTake,
 * reserve with cancels) and check each algorithm's documented bound on what was granted.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Clock,
  type Reservation,
  TimeoutError,
  type WindowAlgorithm,
  WindowLimiter,
} from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { advanceTo, checkedClock, flush, snap } from '../support/clock.js';
import { caught } from '../support/errors.js';
import { eachTryRow, type TakeRow, type TryRow, takeEachRow } from '../support/limiter-rows.js';
import { expectSettledInOrder, type Outcome, watch } from '../support/outcome.js';
import { EPS, propRuns } from '../support/prop.js';
import { NO_REQUESTS } from '../support/schedule.js';
import { listeners } from '../support/signals.js';
import { Actions, expectTakesSettled, type TakeRecord, worstSliding } from '../support/traffic.js';

const ALGORITHMS: readonly WindowAlgorithm[] = ['sliding-log', 'sliding-counter', 'fixed'];

// ---- helpers ----------------------------------------------------------------------------------

function make(
  algorithm: WindowAlgorithm,
  limit: number,
  windowMs: number,
  start = 0,
): { clock: ManualClock; limiter: WindowLimiter } {
  const clock = new ManualClock({ start });
  return { clock, limiter: new WindowLimiter({ limit, windowMs, algorithm, clock }) };
}

/** The one shared timer: armed exactly while someone waits. */
function expectOneTimer(clock: ManualClock, limiter: WindowLimiter): void {
  expect(clock.pendingTimers).toBe(limiter.waiting > 0 ? 1 : 0);
}

/** A tryTake table: both tryTake and peek exactly as given; invariants after every row. */
function runTryRows(clock: ManualClock, limiter: WindowLimiter, rows: readonly TryRow[]): void {
  eachTryRow(clock, limiter, rows, (row, i, result, peeked) => {
    const expected = row.ok ? { ok: true } : { ok: false, retryAfterMs: row.retryAfterMs };
    expect({ row: i, result }).toEqual({ row: i, result: expected });
    expect({ row: i, peeked }).toEqual({ row: i, peeked: expected });
    limiter.assertInvariants();
  });
}

/** A take table: every take resolves exactly at its grantedAt, in call order (FIFO). */
async function runTakeRows(
  clock: ManualClock,
  limiter: WindowLimiter,
  rows: readonly TakeRow[],
): Promise<void> {
  const outcomes = await takeEachRow(clock, limiter, rows, () => limiter.assertInvariants());
  expect(outcomes.map((o) => [o.state, o.at])).toEqual(rows.map((r) => ['resolved', r.grantedAt]));
  expectSettledInOrder(outcomes);
}

interface ReserveRow {
  readonly at: number;
  readonly n: number;
  readonly timeToAct: number;
}

function runReserveRows(
  clock: ManualClock,
  limiter: WindowLimiter,
  rows: readonly ReserveRow[],
): Reservation[] {
  const reservations: Reservation[] = [];
  for (const [i, row] of rows.entries()) {
    clock.advanceTo(row.at);
    const r = limiter.reserve(row.n);
    expect({ row: i, ok: r.ok, timeToAct: r.timeToAct, delayMs: r.delayMs }).toEqual({
      row: i,
      ok: true,
      timeToAct: row.timeToAct,
      delayMs: row.timeToAct - row.at,
    });
    limiter.assertInvariants();
    expect(clock.pendingTimers).toBe(0); // reservations arm no timer: the caller sleeps
    reservations.push(r);
  }
  return reservations;
}

// ---- tables -----------------------------------------------------------------------------------

describe('WindowLimiter: defaults and accessors', () => {
  it("uses 'sliding-log' by default and reports its settings", () => {
    const clock = new ManualClock();
    const limiter = new WindowLimiter({ limit: 3, windowMs: 1000, clock });
    expect([limiter.algorithm, limiter.limit, limiter.windowMs, limiter.waiting]).toEqual([
      'sliding-log',
      3,
      1000,
      0,
    ]);
    expect(limiter.stats()).toMatchObject({
      ...NO_REQUESTS,
      limit: 3,
      windowMs: 1000,
      algorithm: 'sliding-log',
    });
  });
});

describe('sliding-log (limit 3, windowMs 1000)', () => {
  it('tryTake: exact sliding window (t − 1000, t]', () => {
    const { clock, limiter } = make('sliding-log', 3, 1000);
    runTryRows(clock, limiter, [
      { at: 0, n: 1, ok: true },
      { at: 50, n: 1, ok: true },
      { at: 100, n: 1, ok: true },
      { at: 100, n: 1, ok: false, retryAfterMs: 900 }, // 0 leaves the window at 1000
      { at: 999, n: 1, ok: false, retryAfterMs: 1 },
      { at: 1000, n: 1, ok: true }, // log 50, 100, 1000
      { at: 1000, n: 1, ok: false, retryAfterMs: 50 }, // 50 leaves at 1050
      { at: 1050, n: 2, ok: false, retryAfterMs: 50 }, // log 100, 1000: 100 must leave too
      { at: 1100, n: 2, ok: true }, // log 1000, 1100×2
      { at: 1999, n: 1, ok: false, retryAfterMs: 1 },
      { at: 2000, n: 3, ok: false, retryAfterMs: 100 }, // log 1100×2: both must leave
      { at: 2100, n: 3, ok: true },
    ]);
    expect(limiter.stats()).toMatchObject({ granted: 6, tokensGranted: 9, refused: 6 });
  });

  it('take: waits exactly until the oldest request leaves the window', async () => {
    const { clock, limiter } = make('sliding-log', 3, 1000);
    await runTakeRows(clock, limiter, [
      { at: 0, n: 1, grantedAt: 0 },
      { at: 0, n: 1, grantedAt: 0 },
      { at: 0, n: 1, grantedAt: 0 },
      { at: 0, n: 1, grantedAt: 1000 }, // log 0×3
      { at: 10, n: 2, grantedAt: 1000 }, // log 0×3, 1000: once 0×3 leave, 1 + 2 = 3
      { at: 20, n: 1, grantedAt: 2000 }, // log 0×3, 1000×3
      { at: 500, n: 3, grantedAt: 3000 }, // log …, 1000×3, 2000: all must leave
    ]);
  });

  it('take: requests spread over the window wait for their own predecessor', async () => {
    const { clock, limiter } = make('sliding-log', 3, 1000);
    await runTakeRows(clock, limiter, [
      { at: 0, n: 1, grantedAt: 0 },
      { at: 50, n: 1, grantedAt: 50 },
      { at: 100, n: 1, grantedAt: 100 },
      { at: 100, n: 1, grantedAt: 1000 },
      { at: 100, n: 1, grantedAt: 1050 },
      { at: 100, n: 1, grantedAt: 1100 },
      { at: 1200, n: 1, grantedAt: 2000 }, // log 1000, 1050, 1100
    ]);
  });

  it('reserve: times fixed at the call, no timer', () => {
    const { clock, limiter } = make('sliding-log', 3, 1000);
    runReserveRows(clock, limiter, [
      { at: 0, n: 3, timeToAct: 0 },
      { at: 100, n: 1, timeToAct: 1000 },
      { at: 200, n: 2, timeToAct: 1000 }, // 0×3 gone at 1000: 1 + 2 = 3
      { at: 300, n: 1, timeToAct: 2000 },
    ]);
    // tryTake does not go ahead of the reservations.
    clock.advanceTo(1500);
    expect(limiter.tryTake()).toEqual({ ok: false, retryAfterMs: 500 });
  });
});

describe('fixed (limit 3, windowMs 1000)', () => {
  it('tryTake: counts per aligned window [k·1000, (k+1)·1000)', () => {
    const { clock, limiter } = make('fixed', 3, 1000);
    runTryRows(clock, limiter, [
      { at: 0, n: 1, ok: true },
      { at: 50, n: 1, ok: true },
      { at: 100, n: 1, ok: true },
      { at: 100, n: 1, ok: false, retryAfterMs: 900 },
      { at: 999, n: 1, ok: false, retryAfterMs: 1 },
      { at: 999, n: 3, ok: false, retryAfterMs: 1 },
      { at: 1000, n: 3, ok: true }, // a new window: all 3 at once
      { at: 1000, n: 1, ok: false, retryAfterMs: 1000 },
      { at: 1999, n: 1, ok: false, retryAfterMs: 1 },
      { at: 2000, n: 2, ok: true },
      { at: 2500, n: 1, ok: true },
      { at: 2600, n: 1, ok: false, retryAfterMs: 400 },
    ]);
  });

  it('documents the boundary burst: up to 2·limit within one windowMs', () => {
    const { clock, limiter } = make('fixed', 3, 1000);
    runTryRows(clock, limiter, [
      { at: 999, n: 3, ok: true },
      { at: 1000, n: 3, ok: true }, // 6 in (0, 1000]
      { at: 1000, n: 1, ok: false, retryAfterMs: 1000 },
    ]);
  });

  it('windows are aligned to the clock reading at construction', () => {
    const { clock, limiter } = make('fixed', 1, 1000, 250);
    runTryRows(clock, limiter, [
      { at: 250, n: 1, ok: true },
      { at: 1249, n: 1, ok: false, retryAfterMs: 1 },
      { at: 1250, n: 1, ok: true },
      { at: 2000, n: 1, ok: false, retryAfterMs: 250 },
    ]);
  });

  it('take: waits for the next window with room', async () => {
    const { clock, limiter } = make('fixed', 3, 1000);
    await runTakeRows(clock, limiter, [
      { at: 600, n: 2, grantedAt: 600 },
      { at: 700, n: 1, grantedAt: 700 }, // window 0: 3
      { at: 800, n: 1, grantedAt: 1000 }, // window 1: 1 (sliding-log would say 1600)
      { at: 900, n: 2, grantedAt: 1000 }, // window 1: 3
      { at: 900, n: 1, grantedAt: 2000 }, // window 2: 1
      { at: 1500, n: 2, grantedAt: 2000 }, // window 2: 3
      { at: 1500, n: 3, grantedAt: 3000 }, // window 3: 3
    ]);
  });

  it('reserve: times fixed at the call', () => {
    const { clock, limiter } = make('fixed', 3, 1000);
    runReserveRows(clock, limiter, [
      { at: 0, n: 2, timeToAct: 0 },
      { at: 100, n: 2, timeToAct: 1000 }, // window 0: 2 + 2 > 3
      { at: 200, n: 2, timeToAct: 2000 }, // window 1: 2 + 2 > 3
      { at: 300, n: 3, timeToAct: 3000 },
    ]);
  });
});

describe('sliding-counter (limit 4, windowMs 1000)', () => {
  it('tryTake: the previous window weighted by its overlap', () => {
    const { clock, limiter } = make('sliding-counter', 4, 1000);
    runTryRows(clock, limiter, [
      { at: 0, n: 1, ok: true },
      { at: 100, n: 1, ok: true },
      { at: 200, n: 1, ok: true },
      { at: 300, n: 1, ok: true }, // window 0: 4
      { at: 300, n: 1, ok: false, retryAfterMs: 950 }, // 4·(1 − e) + 1 ≤ 4 ⇔ e ≥ 1/4: 1250
      { at: 1000, n: 1, ok: false, retryAfterMs: 250 }, // estimate 4·1 + 0 = 4
      { at: 1250, n: 1, ok: true }, // 4·0.75 + 0 + 1 = 4; window 1: 1
      { at: 1250, n: 1, ok: false, retryAfterMs: 250 }, // 4·(1 − e) + 2 ≤ 4 ⇔ e ≥ 1/2
      { at: 1500, n: 2, ok: false, retryAfterMs: 250 }, // 4·(1 − e) + 3 ≤ 4 ⇔ e ≥ 3/4
      { at: 1750, n: 2, ok: true }, // window 1: 3
      { at: 1750, n: 1, ok: false, retryAfterMs: 250 }, // 3 + 1 = 4 only at e = 1: next window
      { at: 2000, n: 4, ok: false, retryAfterMs: 1000 }, // 3·(1 − e) + 4 ≤ 4 only at e = 1
      { at: 2000, n: 1, ok: true }, // 3·1 + 0 + 1 = 4; window 2: 1
      { at: 3000, n: 4, ok: false, retryAfterMs: 1000 }, // 1·(1 − e) + 4 ≤ 4 only at e = 1
      { at: 3999, n: 4, ok: false, retryAfterMs: 1 },
      { at: 4000, n: 4, ok: true }, // previous window (3) empty
    ]);
  });

  it('take: waits for the weighted estimate to make room', async () => {
    const { clock, limiter } = make('sliding-counter', 4, 1000);
    await runTakeRows(clock, limiter, [
      { at: 0, n: 4, grantedAt: 0 }, // window 0: 4
      { at: 0, n: 1, grantedAt: 1250 }, // 4·(1 − e) + 1 ≤ 4: e ≥ 1/4
      { at: 0, n: 1, grantedAt: 1500 }, // 4·(1 − e) + 2 ≤ 4: e ≥ 1/2
      { at: 0, n: 2, grantedAt: 2000 }, // 2 + 2 = 4 only at e = 1; window 2: 2·(1 − e) + 2 ≤ 4
      { at: 100, n: 3, grantedAt: 3500 }, // window 2 full for 3; window 3: 2·(1 − e) + 3 ≤ 4
    ]);
  });

  it('documents the estimate error: more than limit in one sliding window', () => {
    // A burst at the end of window 0 is weighted as if spread over it.
    const { clock, limiter } = make('sliding-counter', 4, 1000);
    runTryRows(clock, limiter, [
      { at: 999, n: 4, ok: true },
      { at: 1250, n: 1, ok: true },
      { at: 1500, n: 1, ok: true },
      { at: 1750, n: 1, ok: true }, // 7 in (750, 1750]: between limit and 2·limit
      { at: 1750, n: 1, ok: false, retryAfterMs: 250 },
    ]);
  });

  it('reserve: times fixed at the call', () => {
    const { clock, limiter } = make('sliding-counter', 4, 1000);
    runReserveRows(clock, limiter, [
      { at: 0, n: 4, timeToAct: 0 },
      { at: 100, n: 2, timeToAct: 1500 }, // 4·(1 − e) + 2 ≤ 4
      { at: 200, n: 1, timeToAct: 1750 }, // 4·(1 − e) + 3 ≤ 4
    ]);
  });
});

// ---- behaviour shared by the three algorithms ------------------------------------------------

/**
 * Per algorithm: a limiter filled at 0, then waiters A, B, C, D made at 0 (n = 1) and the times
 * they are granted; then the times after A aborts at 100, and the time of a waiter E made after.
 */
interface AbortCase {
  readonly algorithm: WindowAlgorithm;
  readonly limit: number;
  /** Times of the filling tryTake(1) calls. */
  readonly fill: readonly number[];
  /** A, B, C, D as placed. */
  readonly before: readonly [number, number, number, number];
  /** B, C, D after A left at 100. */
  readonly after: readonly [number, number, number];
  /** E, made at 200 after the abort. */
  readonly next: number;
  /** The wait of one more request right after filling (at the last fill time). */
  readonly firstWait: number;
  /** The time a fifth request would get, behind A, B, C, D. */
  readonly fifth: number;
}

const ABORT_CASES: readonly AbortCase[] = [
  {
    algorithm: 'sliding-log',
    limit: 3,
    fill: [0, 50, 100],
    before: [1000, 1050, 1100, 2000],
    after: [1000, 1050, 1100],
    next: 2000,
    firstWait: 900,
    fifth: 2050, // once 1050 has left (t − 1000, t]
  },
  {
    algorithm: 'fixed',
    limit: 3,
    fill: [0, 50, 100],
    before: [1000, 1000, 1000, 2000],
    after: [1000, 1000, 1000],
    next: 2000,
    firstWait: 900,
    fifth: 2000, // window 2 holds D only
  },
  {
    algorithm: 'sliding-counter',
    limit: 4,
    fill: [0, 0, 0, 0],
    // 4·(1 − e) + k ≤ 4 for k = 1, 2, 3; the 4th fills window 1 only at e = 1, and in
    // window 2, 3·(1 − e) + 1 ≤ 4 at once.
    before: [1250, 1500, 1750, 2000],
    after: [1250, 1500, 1750],
    next: 2000,
    firstWait: 1250,
    fifth: 2000 + 1000 / 3, // window 2: 3·(1 − e) + 1 + 1 ≤ 4
  },
];

function fill(clock: ManualClock, limiter: WindowLimiter, times: readonly number[]): void {
  for (const at of times) {
    clock.advanceTo(at);
    expect(limiter.tryTake()).toEqual({ ok: true });
  }
}

describe.each(ABORT_CASES)('$algorithm: waiting, FIFO, abort, timeout', (c) => {
  const setup = (): { clock: ManualClock; limiter: WindowLimiter } => {
    const made = make(c.algorithm, c.limit, 1000);
    fill(made.clock, made.limiter, c.fill);
    return made;
  };

  it('FIFO: waiters are granted in call order at their times, one shared timer', async () => {
    const { clock, limiter } = setup();
    const outcomes: Outcome[] = [];
    for (let i = 0; i < 4; i++) {
      outcomes.push(watch(clock, limiter.take()));
      limiter.assertInvariants();
      expect(clock.pendingTimers).toBe(1);
    }
    expect(limiter.waiting).toBe(4);
    expect(clock.nextTimerAt).toBe(c.before[0]);
    // tryTake never goes ahead of them, even once the head's time has almost come.
    clock.advanceTo(c.before[0] - 1);
    const refused = limiter.tryTake();
    expect(refused.ok).toBe(false);
    expect(refused.ok ? 0 : refused.retryAfterMs).toBeCloseTo(c.fifth - clock.now(), 6);
    expect(limiter.waiting).toBe(4);
    await clock.runAllAsync();
    expect(outcomes.map((o) => o.at)).toEqual([...c.before]);
    expectSettledInOrder(outcomes);
    expect(limiter.waiting).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    limiter.assertInvariants();
  });

  it('abort: rejects with signal.reason untouched, gives the place back, later waiters move up', async () => {
    const { clock, limiter } = setup();
    const controllers = [0, 1, 2, 3].map(() => new AbortController());
    const outcomes = controllers.map((ac) => watch(clock, limiter.take(1, { signal: ac.signal })));
    expect(controllers.map((ac) => listeners(ac.signal))).toEqual([1, 1, 1, 1]);
    await advanceTo(clock, 100);
    const reason = { why: 'user left' };
    controllers[0]?.abort(reason);
    limiter.assertInvariants();
    expect(listeners(controllers[0]!.signal)).toBe(0);
    expect(limiter.waiting).toBe(3);
    expect(clock.pendingTimers).toBe(1);
    expect(limiter.stats().cancelled).toBe(1);
    await flush();
    expect(outcomes[0]?.state).toBe('rejected');
    expect(outcomes[0]?.error).toBe(reason);
    await advanceTo(clock, 200);
    const late = watch(clock, limiter.take());
    await clock.runAllAsync();
    expect(outcomes.slice(1).map((o) => [o.state, o.at])).toEqual(
      c.after.map((at) => ['resolved', at]),
    );
    expect([late.state, late.at]).toEqual(['resolved', c.next]);
    expect(controllers.map((ac) => listeners(ac.signal))).toEqual([0, 0, 0, 0]);
    expect(clock.pendingTimers).toBe(0);
    limiter.assertInvariants();
  });

  it('abort of the only waiter clears the timer; an already-aborted signal takes nothing', async () => {
    const { clock, limiter } = setup();
    const ac = new AbortController();
    const p = limiter.take(1, { signal: ac.signal });
    expect(clock.pendingTimers).toBe(1);
    const reason = new Error('stop');
    ac.abort(reason);
    await expect(p).rejects.toBe(reason);
    expect(clock.pendingTimers).toBe(0);
    expect(limiter.waiting).toBe(0);
    expect(listeners(ac.signal)).toBe(0);
    limiter.assertInvariants();
    // The place was given back: the next request waits as long as the first would have.
    const aborted = AbortSignal.abort('already');
    await expect(limiter.take(1, { signal: aborted })).rejects.toBe('already');
    expect(listeners(aborted)).toBe(0);
    expect(limiter.peek()).toEqual({ ok: false, retryAfterMs: c.firstWait });
    const r = limiter.reserve();
    expect(r.delayMs).toBe(c.firstWait);
  });

  it('timeoutMs: refused at once with a TimeoutError stating the wait; takes nothing', async () => {
    const { clock, limiter } = setup();
    const p = limiter.take(1, { timeoutMs: c.firstWait - 1 });
    expect(clock.pendingTimers).toBe(0);
    expect(limiter.waiting).toBe(0);
    const error = await p.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({
      code: 'ERR_SLUICE_TIMEOUT',
      timeoutMs: c.firstWait - 1,
      message: `The wait would take ${c.firstWait} ms, more than the timeout of ${c.firstWait - 1} ms`,
    });
    expect(limiter.stats().timedOut).toBe(1);
    limiter.assertInvariants();
    // Nothing was taken: a wait of exactly timeoutMs is accepted, at the same time.
    const ok = watch(clock, limiter.take(1, { timeoutMs: c.firstWait }));
    expect(limiter.waiting).toBe(1);
    await clock.runAllAsync();
    expect([ok.state, ok.at]).toEqual(['resolved', c.fill.at(-1)! + c.firstWait]);
  });

  it('reserve + cancel: the last reservation comes back; an earlier one cannot (CancelAt)', () => {
    const { clock, limiter } = setup();
    const r1 = limiter.reserve();
    const r2 = limiter.reserve();
    expect([r1.timeToAct, r2.timeToAct]).toEqual(c.before.slice(0, 2));
    r2.cancel();
    r2.cancel(); // twice: harmless
    limiter.assertInvariants();
    expect(limiter.reserve().timeToAct).toBe(c.before[1]); // r2's place again (r3)
    r1.cancel(); // r3 was promised after it: nothing comes back
    expect(limiter.reserve().timeToAct).toBe(c.before[2]);
    expect(limiter.stats().cancelled).toBe(2);
    expect(clock.pendingTimers).toBe(0);
    limiter.assertInvariants();
  });

  it('reserve + cancel after the time to act gives nothing back', () => {
    const { clock, limiter } = setup();
    const r = limiter.reserve();
    clock.advanceTo(r.timeToAct + 1);
    r.cancel();
    expect(limiter.stats().cancelled).toBe(0);
    // r still counts: the next one goes where it would have gone behind r (or now, if later).
    expect(limiter.reserve().timeToAct).toBe(Math.max(c.before[1], clock.now()));
    if (c.algorithm === 'fixed') {
      // window 1: r, the one above, and room for one more.
      expect([limiter.reserve().timeToAct, limiter.reserve().timeToAct]).toEqual([1001, 2000]);
    }
  });

  it('waiters keep their times while a reservation is outstanding', async () => {
    const { clock, limiter } = setup();
    const ac = new AbortController();
    const a = watch(clock, limiter.take(1, { signal: ac.signal }));
    const r = limiter.reserve();
    const b = watch(clock, limiter.take());
    expect(r.timeToAct).toBe(c.before[1]);
    await advanceTo(clock, 100);
    ac.abort('gone');
    limiter.assertInvariants();
    await clock.runAllAsync();
    expect([a.state, a.error]).toEqual(['rejected', 'gone']);
    expect([b.state, b.at]).toEqual(['resolved', c.before[2]]); // not moved past r
  });

  it('peek takes nothing', () => {
    const { clock, limiter } = make(c.algorithm, c.limit, 1000);
    for (let i = 0; i < 5; i++) expect(limiter.peek(c.limit)).toEqual({ ok: true });
    expect(limiter.idle).toBe(true);
    expect(limiter.stats()).toMatchObject({ granted: 0, refused: 0 });
    fill(clock, limiter, c.fill);
    for (let i = 0; i < 3; i++) {
      expect(limiter.peek()).toEqual({ ok: false, retryAfterMs: c.firstWait });
    }
    expect(limiter.stats().refused).toBe(0);
    void limiter.take();
    expect(limiter.peek()).toEqual({ ok: false, retryAfterMs: c.before[1] - clock.now() });
    expect(limiter.waiting).toBe(1);
  });
});

describe('idle and timers', () => {
  // Last request at 100; when the limiter holds nothing a new one would not.
  it.each([
    { algorithm: 'sliding-log' as const, idleAt: 1100 }, // 100 leaves (t − 1000, t] at 1100
    { algorithm: 'fixed' as const, idleAt: 1000 }, // window 0 is over
    { algorithm: 'sliding-counter' as const, idleAt: 2000 }, // window 0 no longer the previous
  ])('$algorithm: idle when new and from $idleAt on', ({ algorithm, idleAt }) => {
    const { clock, limiter } = make(algorithm, 3, 1000);
    expect(limiter.idle).toBe(true);
    clock.advanceTo(100);
    expect(limiter.tryTake()).toEqual({ ok: true });
    expect(limiter.idle).toBe(false);
    clock.advanceTo(idleAt - 1);
    expect(limiter.idle).toBe(false);
    clock.advanceTo(idleAt);
    expect(limiter.idle).toBe(true);
    limiter.assertInvariants();
  });

  it.each(ALGORITHMS)('%s: one timer for many waiters, none once idle', async (algorithm) => {
    const { clock, limiter } = make(algorithm, 2, 1000);
    const outcomes: Outcome[] = [];
    for (let i = 0; i < 20; i++) {
      outcomes.push(watch(clock, limiter.take()));
      expectOneTimer(clock, limiter);
    }
    expect(limiter.waiting).toBe(18);
    expect(clock.pendingTimers).toBe(1);
    expect(limiter.idle).toBe(false);
    await clock.runAllAsync();
    expect(outcomes.every((o) => o.state === 'resolved')).toBe(true);
    expect(clock.pendingTimers).toBe(0);
    expect(limiter.waiting).toBe(0);
    clock.advance(3000);
    expect(limiter.idle).toBe(true);
    expect(clock.pendingTimers).toBe(0);
    limiter.assertInvariants();
  });

  it('an outstanding reservation keeps the limiter from being idle', () => {
    const { clock, limiter } = make('sliding-log', 1, 1000);
    limiter.tryTake();
    const r = limiter.reserve();
    expect(r.timeToAct).toBe(1000);
    clock.advanceTo(1000);
    expect(limiter.idle).toBe(false); // r acts at 1000: it is in the window
    clock.advanceTo(2000);
    expect(limiter.idle).toBe(true);
  });
});

describe('a smaller request behind a larger one never overfills a window', () => {
  // limit 2 and windowMs 1000: take(2) at 0, then take(1), take(2), take(1), all at 0. FIFO: the
  // last take may not go before the take(2), so it goes at the earliest time from there on
  // that has room for it.
  it.each([
    // log 0×2: 1000. 0×2 gone, 1 + 2 > 2 until 1000 leaves: 2000. 2000×2 must leave: 3000.
    { algorithm: 'sliding-log' as const, times: [0, 1000, 2000, 3000] },
    // window 1: 1. window 1 has 1 left, so window 2: 2, full. So window 3.
    { algorithm: 'fixed' as const, times: [0, 1000, 2000, 3000] },
    // n = 1: 2·(1 − e) + 1 ≤ 2 at e = 1/2 of window 1: 1500. n = 2: window 1 has 1 + 2 > 2;
    // window 2 needs 1·(1 − e) + 2 ≤ 2 (e = 1: no); window 3 at 3000 (previous empty), which
    // it fills. n = 1: window 4, 2·(1 − e) + 1 ≤ 2 at e = 1/2: 4500.
    { algorithm: 'sliding-counter' as const, times: [0, 1500, 3000, 4500] },
  ])('take, $algorithm', async ({ algorithm, times }) => {
    const { clock, limiter } = make(algorithm, 2, 1000);
    await runTakeRows(
      clock,
      limiter,
      [2, 1, 2, 1].map((n, i) => ({ at: 0, n, grantedAt: times[i]! })),
    );
  });

  // Reservations are placed behind waiting takes but not necessarily behind one another;
  // wherever they go, each algorithm's bound must hold at their times to act.
  it.each(ALGORITHMS)('reserve, %s: the bound holds at the times to act', (algorithm) => {
    const config: Config = { limit: 2, windowMs: 1000, start: 0 };
    const { clock, limiter } = make(algorithm, 2, 1000);
    expect(limiter.tryTake(2)).toEqual({ ok: true });
    const acts: Act[] = [{ index: 0, t: 0, n: 2, cancelled: false }];
    for (const [i, n] of [1, 2, 1, 2, 1].entries()) {
      acts.push({ index: i + 1, t: limiter.reserve(n).timeToAct, n, cancelled: false });
      limiter.assertInvariants();
    }
    expect(clock.pendingTimers).toBe(0);
    BOUNDS[algorithm](acts, config);
  });
});

// ---- bad input --------------------------------------------------------------------------------

describe('bad input throws synchronously, naming the value', () => {
  const clock = new ManualClock();

  it.each([
    [0, '`0` (number)'],
    [1.5, '`1.5` (number)'],
    [Number.NaN, '`NaN` (number)'],
    [-1, '`-1` (number)'],
    ['3', '`"3"` (string)'],
  ])('limit %s', (limit, shown) => {
    const error = caught(
      () => new WindowLimiter({ limit: limit as number, windowMs: 1000, clock }),
    );
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toBe(`Expected \`limit\` to be an integer from 1 up, got ${shown}`);
  });

  it.each([
    [0, '`0` (number)'],
    [-1, '`-1` (number)'],
    [Number.POSITIVE_INFINITY, '`Infinity` (number)'],
    [Number.NaN, '`NaN` (number)'],
  ])('windowMs %s', (windowMs, shown) => {
    const error = caught(() => new WindowLimiter({ limit: 3, windowMs, clock }));
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toBe(
      `Expected \`windowMs\` to be a finite number of milliseconds above 0, got ${shown}`,
    );
  });

  it("unknown algorithm 'token'", () => {
    const error = caught(
      () =>
        new WindowLimiter({
          limit: 3,
          windowMs: 1000,
          algorithm: 'token' as WindowAlgorithm,
          clock,
        }),
    );
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toContain('`algorithm`');
    expect(error.message).toContain('`"token"` (string)');
  });

  it('missing options, a bad clock', () => {
    expect(() => new WindowLimiter(undefined as never)).toThrow(TypeError);
    expect(
      caught(() => new WindowLimiter({ limit: 3, windowMs: 1000, clock: {} as Clock })).message,
    ).toContain('`clock`');
  });

  describe.each(ALGORITHMS)('%s: n', (algorithm) => {
    const limiter = new WindowLimiter({ limit: 3, windowMs: 1000, algorithm, clock });
    const calls = {
      tryTake: (n: number) => limiter.tryTake(n),
      take: (n: number) => limiter.take(n),
      reserve: (n: number) => limiter.reserve(n),
      peek: (n: number) => limiter.peek(n),
    };

    it.each([
      [0, '`0` (number)'],
      [1.5, '`1.5` (number)'],
      [-1, '`-1` (number)'],
      [Number.NaN, '`NaN` (number)'],
    ])('n = %s', (n, shown) => {
      for (const [name, call] of Object.entries(calls)) {
        const error = caught(() => call(n));
        expect({ name, error }).toEqual({ name, error: expect.any(RangeError) });
        expect(error.message).toBe(`Expected \`n\` to be an integer from 1 up, got ${shown}`);
      }
    });

    it('n > limit could never fit', () => {
      for (const call of Object.values(calls)) {
        const error = caught(() => call(4));
        expect(error).toBeInstanceOf(RangeError);
        expect(error.message).toBe('Cannot take 4 from a window of limit 3: it could never fit');
      }
      expect(limiter.stats()).toMatchObject({ granted: 0, refused: 0, waiting: 0 });
      expect(limiter.idle).toBe(true);
    });

    it('bad take options', () => {
      expect(() => limiter.take(1, { timeoutMs: -1 })).toThrow(RangeError);
      expect(() => limiter.take(1, { signal: 'x' as never })).toThrow(TypeError);
      expect(() => limiter.take(1, 5 as never)).toThrow(TypeError);
      expect(limiter.idle).toBe(true);
    });
  });
});

// ---- properties -------------------------------------------------------------------------------

const RUNS = propRuns(100);

interface Step {
  /** Time since the previous step. */
  readonly gap: number;
  readonly kind: 'take' | 'tryTake' | 'reserve';
  /** Mapped into 1..limit (or 1 when `n` is fixed). */
  readonly n: number;
  /** Abort (take) or cancel (reserve) this long after the call. */
  readonly cancelAfter: number | undefined;
  /** take only. */
  readonly timeoutMs: number | undefined;
}

interface Config {
  readonly limit: number;
  readonly windowMs: number;
  readonly start: number;
}

/** What was granted: `t` is when the caller may act. */
interface Act {
  readonly index: number;
  readonly t: number;
  readonly n: number;
  cancelled: boolean;
}

const configArb = fc.record({
  limit: fc.integer({ min: 1, max: 5 }),
  windowMs: fc.constantFrom(100, 600, 1000, 1200),
  start: fc.integer({ min: 0, max: 5000 }),
});

const stepArb = fc.record({
  gap: fc.oneof(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 2500 })),
  kind: fc.constantFrom<Step['kind']>('take', 'take', 'take', 'tryTake', 'reserve'),
  n: fc.integer({ min: 1, max: 5 }),
  cancelAfter: fc.option(fc.integer({ min: 0, max: 3000 }), { nil: undefined, freq: 3 }),
  timeoutMs: fc.option(fc.integer({ min: 0, max: 3000 }), { nil: undefined, freq: 4 }),
});

/**
 * Runs `steps` against a limiter and returns what was granted, after checking what holds for
 * every algorithm: invariants after each step and timer, one timer while waiting, FIFO, every
 * take settled (aborted ones with their reason), no listener or timer left, idle at the end.
 */
async function runTraffic(
  algorithm: WindowAlgorithm,
  config: Config,
  steps: readonly Step[],
  fixedN: boolean,
): Promise<Act[]> {
  const { limit, windowMs, start } = config;
  const clock = new ManualClock({ start });
  const holder: { limiter?: WindowLimiter } = {};
  const limiter = new WindowLimiter({
    limit,
    windowMs,
    algorithm,
    clock: checkedClock(clock, () => holder.limiter?.assertInvariants()),
  });
  holder.limiter = limiter;

  const acts: Act[] = [];
  const actions = new Actions(clock, () => {
    limiter.assertInvariants();
    expectOneTimer(clock, limiter);
  });
  const takes: (TakeRecord & { index: number })[] = [];

  let time = start;
  for (const [index, step] of steps.entries()) {
    time += step.gap;
    await actions.runUntil(time);
    await advanceTo(clock, time);
    const n = fixedN ? 1 : 1 + ((step.n - 1) % limit);
    if (step.kind === 'tryTake') {
      const peeked = limiter.peek(n);
      const result = limiter.tryTake(n);
      expect(result).toEqual(peeked);
      if (result.ok) acts.push({ index, t: clock.now(), n, cancelled: false });
    } else if (step.kind === 'reserve') {
      const r = limiter.reserve(n);
      expect(r.ok).toBe(true);
      const act: Act = { index, t: snap(r.timeToAct), n, cancelled: false };
      acts.push(act);
      if (step.cancelAfter !== undefined) {
        actions.at(time + step.cancelAfter, () => {
          if (clock.now() <= r.timeToAct) act.cancelled = true; // gives back at its time too
          r.cancel();
        });
      }
    } else {
      const controller = step.cancelAfter !== undefined ? new AbortController() : undefined;
      const reason = { aborted: index };
      const promise = limiter.take(n, {
        signal: controller?.signal,
        timeoutMs: step.timeoutMs,
      });
      const outcome = watch(clock, promise);
      promise.then(
        () => acts.push({ index, t: snap(clock.now()), n, cancelled: false }),
        () => {},
      );
      takes.push({
        index,
        outcome,
        reason,
        signal: controller?.signal,
        hasTimeout: step.timeoutMs !== undefined,
      });
      if (controller !== undefined && step.cancelAfter !== undefined) {
        actions.at(time + step.cancelAfter, () => controller.abort(reason));
      }
    }
    limiter.assertInvariants();
    expectOneTimer(clock, limiter);
  }
  await actions.runUntil(Number.POSITIVE_INFINITY);
  await clock.runAllAsync();
  limiter.assertInvariants();

  // Every take settled: granted, aborted with its own reason, or refused at once for its
  // timeout; no listener left. FIFO: takes resolve in call order.
  expectTakesSettled(takes);
  // Nothing made after a take is placed before it (tryTake and reserve never go ahead of a
  // waiting take); sliding-log's log also keeps every grant in call order.
  const granted = acts.filter((a) => !a.cancelled).sort((a, b) => a.index - b.index);
  const takeIndexes = new Set(takes.map((t) => t.index));
  let latestTake = Number.NEGATIVE_INFINITY;
  let latest = Number.NEGATIVE_INFINITY;
  for (const a of granted) {
    expect(a.t).toBeGreaterThanOrEqual(latestTake - EPS);
    if (algorithm === 'sliding-log') expect(a.t).toBeGreaterThanOrEqual(latest - EPS);
    if (takeIndexes.has(a.index)) latestTake = Math.max(latestTake, a.t);
    latest = Math.max(latest, a.t);
  }
  // No timer, no waiter; idle once two windows have passed since the last time to act.
  expect(limiter.waiting).toBe(0);
  expect(clock.pendingTimers).toBe(0);
  // (An aborted take whose share could not be given back, CancelAt-style, may hold a place
  // after every act; no request is placed more than two windows after its predecessor.)
  const last = Math.max(clock.now(), ...acts.map((a) => a.t));
  clock.advanceTo(last + (2 * steps.length + 3) * windowMs);
  expect(limiter.idle).toBe(true);
  expect(clock.pendingTimers).toBe(0);
  return granted;
}

/** Total per aligned window [start + k·windowMs, start + (k+1)·windowMs). */
function perFixedWindow(acts: readonly Act[], config: Config): Map<number, number> {
  const counts = new Map<number, number>();
  for (const a of acts) {
    const k = Math.floor((a.t - config.start) / config.windowMs);
    counts.set(k, (counts.get(k) ?? 0) + a.n);
  }
  return counts;
}

function worstFixed(acts: readonly Act[], config: Config): number {
  return Math.max(0, ...perFixedWindow(acts, config).values());
}

/** sliding-counter's own estimate at each grant time (grants so far in the current window). */
function worstEstimate(acts: readonly Act[], config: Config): number {
  const { start, windowMs } = config;
  let worst = 0;
  for (const g of acts) {
    const k = Math.floor((g.t - start) / windowMs);
    const elapsed = (g.t - start - k * windowMs) / windowMs;
    let previous = 0;
    let current = 0;
    for (const a of acts) {
      const j = Math.floor((a.t - start) / windowMs);
      if (j === k - 1) previous += a.n;
      if (j === k && a.t <= g.t + EPS) current += a.n;
    }
    worst = Math.max(worst, previous * (1 - elapsed) + current);
  }
  return worst;
}

const BOUNDS: Record<WindowAlgorithm, (acts: readonly Act[], config: Config) => void> = {
  // Exact: at most limit in every window (t − windowMs, t].
  'sliding-log': (acts, config) => {
    expect(worstSliding(acts, config.windowMs)).toBeLessThanOrEqual(config.limit);
  },
  // At most limit per aligned window (so up to 2·limit across a boundary).
  fixed: (acts, config) => {
    expect(worstFixed(acts, config)).toBeLessThanOrEqual(config.limit);
    expect(worstSliding(acts, config.windowMs)).toBeLessThanOrEqual(2 * config.limit);
  },
  // At most limit per aligned window; its estimate ≤ limit at every grant; so at most
  // 2·limit in any sliding window (a sliding window meets two aligned ones).
  'sliding-counter': (acts, config) => {
    expect(worstFixed(acts, config)).toBeLessThanOrEqual(config.limit);
    expect(worstEstimate(acts, config)).toBeLessThanOrEqual(config.limit + EPS);
    expect(worstSliding(acts, config.windowMs)).toBeLessThanOrEqual(2 * config.limit);
  },
};

describe.each(ALGORITHMS)('%s: properties under random traffic', (algorithm) => {
  it.each([
    { label: 'n = 1', fixedN: true },
    { label: 'random n', fixedN: false },
  ])('$label: bound holds, FIFO, no timers when idle', async ({ fixedN }) => {
    await fc.assert(
      fc.asyncProperty(
        configArb,
        fc.array(stepArb, { minLength: 1, maxLength: 30 }),
        async (config, steps) => {
          const acts = await runTraffic(algorithm, config, steps, fixedN);
          BOUNDS[algorithm](acts, config);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

// The bounds checkers themselves must be able to fail.
describe('property checkers', () => {
  const config: Config = { limit: 2, windowMs: 1000, start: 0 };
  const act = (t: number, n: number): Act => ({ index: 0, t, n, cancelled: false });

  it('worstSliding sees (t − W, t], open on the left', () => {
    expect(worstSliding([act(0, 2), act(1000, 2)], 1000)).toBe(2);
    expect(worstSliding([act(0, 2), act(999, 1)], 1000)).toBe(3);
  });

  it('worstFixed and worstEstimate', () => {
    expect(worstFixed([act(999, 2), act(1000, 2)], config)).toBe(2);
    expect(worstFixed([act(1000, 2), act(1999, 1)], config)).toBe(3);
    expect(worstEstimate([act(0, 2), act(1500, 1)], config)).toBe(2);
    expect(worstEstimate([act(0, 2), act(1250, 1)], config)).toBe(2.5);
  });
});
