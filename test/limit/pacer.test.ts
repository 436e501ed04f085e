/**
 * Pacer on a manual clock, in golang.org/x/time/rate's rate_test.go style: tables of
 * `{ at, n, ok }` / `{ at, n, grantedAt }` rows run in order. The model (uber-go/ratelimit,
 * GCRA): the first event goes at once, then one every `intervalMs`; after an idle spell up to
 * `slack` extra events may go at once to catch up, never more. A property test checks that in
 * any window [t, t + W] at most `slack + 1 + W / intervalMs` events are admitted.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Pacer, type Reservation, TimeoutError } from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { advanceTo } from '../support/clock.js';
import { caught } from '../support/errors.js';
import { eachTryRow, type TakeRow, type TryRow, takeEachRow } from '../support/limiter-rows.js';
import { expectSettledInOrder, type Outcome, watch } from '../support/outcome.js';
import { EPS, propRuns } from '../support/prop.js';
import { listeners } from '../support/signals.js';
import { Actions, expectTakesSettled, type TakeRecord } from '../support/traffic.js';

// ---- helpers ----------------------------------------------------------------------------------

function make(intervalMs: number, slack = 0, start = 0): { clock: ManualClock; pacer: Pacer } {
  const clock = new ManualClock({ start });
  return { clock, pacer: new Pacer({ intervalMs, slack, clock }) };
}

/** A tryTake table: peek agrees, `ok` as given, a refusal's retryAfterMs to 6 digits. */
function runTryRows(clock: ManualClock, pacer: Pacer, rows: readonly TryRow[]): void {
  eachTryRow(clock, pacer, rows, (row, i, result, peeked) => {
    expect({ row: i, peeked }).toEqual({ row: i, peeked: result });
    expect({ row: i, ok: result.ok }).toEqual({ row: i, ok: row.ok });
    if (!result.ok) {
      expect({ row: i, retryAfterMs: result.retryAfterMs }).toEqual({
        row: i,
        retryAfterMs: expect.closeTo(row.retryAfterMs ?? Number.NaN, 6),
      });
    }
  });
}

/** A take table: every take resolves at its grantedAt (to 6 digits), in call order. */
async function runTakeRows(clock: ManualClock, pacer: Pacer, rows: readonly TakeRow[]) {
  const outcomes = await takeEachRow(clock, pacer, rows);
  expect(outcomes.map((o) => o.state)).toEqual(rows.map(() => 'resolved'));
  expect(outcomes.map((o) => o.at)).toEqual(rows.map((r) => expect.closeTo(r.grantedAt, 6)));
  expectSettledInOrder(outcomes);
}

// ---- tables -----------------------------------------------------------------------------------

describe('Pacer: spacing (intervalMs 100, slack 0)', () => {
  it('accessors', () => {
    const { pacer } = make(100);
    expect([pacer.intervalMs, pacer.slack, pacer.waiting]).toEqual([100, 0, 0]);
    expect(new Pacer({ intervalMs: 5, clock: new ManualClock() }).slack).toBe(0); // default
  });

  it('take: the first event at once, then one every intervalMs', async () => {
    const { clock, pacer } = make(100);
    await runTakeRows(clock, pacer, [
      { at: 0, n: 1, grantedAt: 0 },
      { at: 0, n: 1, grantedAt: 100 },
      { at: 0, n: 1, grantedAt: 200 },
      { at: 10, n: 1, grantedAt: 300 },
      { at: 250, n: 1, grantedAt: 400 },
      { at: 1000, n: 1, grantedAt: 1000 }, // idle since 400: at once, but only one
      { at: 1000, n: 1, grantedAt: 1100 },
      { at: 1050, n: 1, grantedAt: 1200 },
    ]);
  });

  it('tryTake: strict spacing, no catch-up without slack', () => {
    const { clock, pacer } = make(100);
    runTryRows(clock, pacer, [
      { at: 0, n: 1, ok: true },
      { at: 0, n: 1, ok: false, retryAfterMs: 100 },
      { at: 99, n: 1, ok: false, retryAfterMs: 1 },
      { at: 100, n: 1, ok: true },
      { at: 150, n: 1, ok: false, retryAfterMs: 50 },
      { at: 250, n: 1, ok: true }, // late by 50: the next is still a full interval later
      { at: 250, n: 1, ok: false, retryAfterMs: 100 },
      { at: 10_000, n: 1, ok: true },
      { at: 10_000, n: 1, ok: false, retryAfterMs: 100 },
    ]);
  });

  it('a clock that does not start at 0', async () => {
    const { clock, pacer } = make(100, 0, 5000);
    await runTakeRows(clock, pacer, [
      { at: 5000, n: 1, grantedAt: 5000 },
      { at: 5000, n: 1, grantedAt: 5100 },
    ]);
  });

  it('one shared timer for many waiters; none once idle', async () => {
    const { clock, pacer } = make(100);
    const outcomes: Outcome[] = [];
    for (let i = 0; i < 25; i++) {
      outcomes.push(watch(clock, pacer.take()));
      expect(clock.pendingTimers).toBe(pacer.waiting > 0 ? 1 : 0);
    }
    expect(pacer.waiting).toBe(24);
    expect(clock.pendingTimers).toBe(1);
    expect(clock.nextTimerAt).toBeCloseTo(100, 6);
    await clock.runAllAsync();
    expect(outcomes.map((o) => o.at)).toEqual(outcomes.map((_, i) => expect.closeTo(i * 100, 6)));
    expect(pacer.waiting).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    clock.advance(100);
    expect(pacer.idle).toBe(true);
  });
});

describe('Pacer: slack catch-up after idle', () => {
  it('slack 3: starts with one event, catches up to 4 after idle, never more', () => {
    const { clock, pacer } = make(100, 3);
    runTryRows(clock, pacer, [
      { at: 0, n: 1, ok: true },
      { at: 0, n: 1, ok: false, retryAfterMs: 100 }, // slack accrues only while idle
      { at: 100, n: 1, ok: true },
      { at: 10_000, n: 1, ok: true },
      { at: 10_000, n: 1, ok: true },
      { at: 10_000, n: 1, ok: true },
      { at: 10_000, n: 1, ok: true },
      { at: 10_000, n: 1, ok: false, retryAfterMs: 100 },
      { at: 10_100, n: 1, ok: true },
      { at: 10_100, n: 1, ok: false, retryAfterMs: 100 },
      { at: 10_350, n: 1, ok: true }, // 2.5 intervals idle: two to catch up
      { at: 10_350, n: 1, ok: true },
      { at: 10_350, n: 1, ok: false, retryAfterMs: 50 },
      { at: 1e9, n: 4, ok: true }, // a very long idle: still slack + 1
      { at: 1e9, n: 1, ok: false, retryAfterMs: 100 },
    ]);
  });

  it.each([0, 1, 2, 5, 10])('slack %i: slack + 1 at once after a long idle', (slack) => {
    const { clock, pacer } = make(250, slack);
    expect(pacer.tryTake()).toEqual({ ok: true });
    clock.advance(1e7);
    let granted = 0;
    while (pacer.tryTake().ok) granted++;
    expect(granted).toBe(slack + 1);
    const refused = pacer.tryTake();
    expect(refused.ok ? -1 : refused.retryAfterMs).toBeCloseTo(250, 6);
  });

  it('take(n) takes n consecutive slots', async () => {
    const { clock, pacer } = make(100, 2);
    clock.advance(1000);
    await runTakeRows(clock, pacer, [
      { at: 1000, n: 3, grantedAt: 1000 },
      { at: 1000, n: 2, grantedAt: 1200 },
      { at: 1000, n: 1, grantedAt: 1300 },
    ]);
  });
});

describe('Pacer: reserve, peek, abort, timeout', () => {
  it('reserve: the next slot and its wait; cancel gives the last one back', () => {
    const { clock, pacer } = make(100);
    const rows = [0, 100, 200, 300];
    const reservations: Reservation[] = [];
    for (const expected of rows) {
      const r = pacer.reserve();
      expect([r.ok, r.timeToAct, r.delayMs]).toEqual([
        true,
        expect.closeTo(expected, 6),
        expect.closeTo(expected, 6),
      ]);
      reservations.push(r);
    }
    expect(clock.pendingTimers).toBe(0);
    reservations[3]?.cancel();
    expect(pacer.reserve().timeToAct).toBeCloseTo(300, 6);
    reservations[1]?.cancel(); // later slots were promised: nothing comes back
    expect(pacer.reserve().timeToAct).toBeCloseTo(400, 6);
    clock.advanceTo(150);
    expect(pacer.tryTake().ok).toBe(false); // behind the reservations
  });

  it('peek takes nothing', () => {
    const { clock, pacer } = make(100, 1);
    for (let i = 0; i < 4; i++) expect(pacer.peek()).toEqual({ ok: true });
    expect(pacer.tryTake()).toEqual({ ok: true });
    for (let i = 0; i < 3; i++) {
      const r = pacer.peek();
      expect(r.ok ? -1 : r.retryAfterMs).toBeCloseTo(100, 6);
    }
    clock.advance(200);
    expect(pacer.peek(2)).toEqual({ ok: true });
    expect(pacer.peek(2)).toEqual({ ok: true });
    expect(pacer.tryTake(2)).toEqual({ ok: true });
  });

  it('abort: rejects with signal.reason untouched; later waiters move up', async () => {
    const { clock, pacer } = make(100);
    const controllers = [0, 1, 2, 3].map(() => new AbortController());
    const outcomes = controllers.map((ac) => watch(clock, pacer.take(1, { signal: ac.signal })));
    expect(pacer.waiting).toBe(3); // the first went at once
    expect(listeners(controllers[0]!.signal)).toBe(0);
    await advanceTo(clock, 50);
    const reason = Symbol('gone');
    controllers[1]?.abort(reason);
    expect(listeners(controllers[1]!.signal)).toBe(0);
    expect(pacer.waiting).toBe(2);
    expect(clock.pendingTimers).toBe(1);
    await clock.runAllAsync();
    expect(outcomes.map((o) => o.state)).toEqual(['resolved', 'rejected', 'resolved', 'resolved']);
    expect(outcomes[1]?.error).toBe(reason);
    expect([outcomes[0]?.at, outcomes[2]?.at, outcomes[3]?.at]).toEqual([
      0,
      expect.closeTo(100, 6),
      expect.closeTo(200, 6),
    ]);
    expect(controllers.map((ac) => listeners(ac.signal))).toEqual([0, 0, 0, 0]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('abort of the only waiter clears the timer; an aborted signal takes nothing', async () => {
    const { clock, pacer } = make(100);
    pacer.tryTake();
    const ac = new AbortController();
    const p = pacer.take(1, { signal: ac.signal });
    expect(clock.pendingTimers).toBe(1);
    ac.abort('stop');
    await expect(p).rejects.toBe('stop');
    expect(clock.pendingTimers).toBe(0);
    expect(pacer.waiting).toBe(0);
    await expect(pacer.take(1, { signal: AbortSignal.abort('x') })).rejects.toBe('x');
    const r = pacer.reserve();
    expect(r.delayMs).toBeCloseTo(100, 6); // the aborted ones took nothing
  });

  it('timeoutMs: refused at once, the wait in the message, nothing taken', async () => {
    const { clock, pacer } = make(100);
    pacer.tryTake();
    const error = await pacer.take(1, { timeoutMs: 99 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({
      code: 'ERR_SLUICE_TIMEOUT',
      timeoutMs: 99,
      message: 'The wait would take 100 ms, more than the timeout of 99 ms',
    });
    expect(pacer.waiting).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    const ok = watch(clock, pacer.take(1, { timeoutMs: 100 }));
    await clock.runAllAsync();
    expect([ok.state, ok.at]).toEqual(['resolved', expect.closeTo(100, 6)]);
  });
});

describe('Pacer: idle', () => {
  it('slack 0: idle when new, not after an event, again one interval later', () => {
    const { clock, pacer } = make(100);
    expect(pacer.idle).toBe(true);
    pacer.tryTake();
    expect(pacer.idle).toBe(false);
    clock.advanceTo(99);
    expect(pacer.idle).toBe(false);
    clock.advanceTo(100);
    expect(pacer.idle).toBe(true);
  });

  it('slack 3: idle once it holds what a new pacer holds (one slot), not before', () => {
    // A new pacer starts with one slot; one that has that much again can be replaced by a new
    // one without letting anything more through.
    const { clock, pacer } = make(100, 3);
    clock.advanceTo(1000);
    expect(pacer.tryTake(4)).toEqual({ ok: true });
    expect(pacer.idle).toBe(false);
    clock.advanceTo(1099);
    expect(pacer.idle).toBe(false);
    clock.advanceTo(1100);
    expect(pacer.idle).toBe(true);
    expect(pacer.tryTake()).toEqual({ ok: true });
    expect(pacer.idle).toBe(false);
  });

  // "True when the pacer holds no state a new one would not": a new pacer holds exactly what a
  // new one holds, whatever its slack. (It starts with one slot, not slack + 1.)
  it.each([1, 3])('slack %i: a new pacer is idle', (slack) => {
    const { pacer } = make(100, slack);
    expect(pacer.idle).toBe(true);
  });
});

describe('Pacer: bad input throws synchronously, naming the value', () => {
  const clock = new ManualClock();

  it.each([
    [0, '`0` (number)'],
    [-1, '`-1` (number)'],
    [Number.NaN, '`NaN` (number)'],
    [Number.POSITIVE_INFINITY, '`Infinity` (number)'],
    ['100', '`"100"` (string)'],
  ])('intervalMs %s', (intervalMs, shown) => {
    const error = caught(() => new Pacer({ intervalMs: intervalMs as number, clock }));
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toBe(
      `Expected \`intervalMs\` to be a finite number of milliseconds above 0, got ${shown}`,
    );
  });

  it.each([
    [-1, '`-1` (number)'],
    [1.5, '`1.5` (number)'],
    [Number.NaN, '`NaN` (number)'],
    [Number.POSITIVE_INFINITY, '`Infinity` (number)'],
  ])('slack %s', (slack, shown) => {
    const error = caught(() => new Pacer({ intervalMs: 100, slack, clock }));
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toBe(`Expected \`slack\` to be an integer from 0 up, got ${shown}`);
  });

  it('missing options; n out of range', () => {
    expect(() => new Pacer(undefined as never)).toThrow(TypeError);
    const pacer = new Pacer({ intervalMs: 100, slack: 1, clock });
    for (const call of [
      (n: number) => pacer.tryTake(n),
      (n: number) => pacer.take(n),
      (n: number) => pacer.reserve(n),
      (n: number) => pacer.peek(n),
    ]) {
      expect(() => call(0)).toThrow(RangeError);
      expect(() => call(1.5)).toThrow(RangeError);
      expect(() => call(3)).toThrow(RangeError); // more than slack + 1 slots could never go
    }
    // Nothing was taken: the new pacer's one slot is still there.
    expect(pacer.waiting).toBe(0);
    expect(pacer.tryTake()).toEqual({ ok: true });
    expect(pacer.tryTake().ok).toBe(false);
  });
});

// ---- property ---------------------------------------------------------------------------------

const RUNS = propRuns(100);

interface Act {
  readonly index: number;
  readonly t: number;
  readonly n: number;
  cancelled: boolean;
}

/** Largest excess over all windows [t_i, t_j] of (events admitted) − (t_j − t_i) / intervalMs. */
function worstExcess(acts: readonly Act[], intervalMs: number): number {
  const sorted = [...acts].sort((a, b) => a.t - b.t);
  let worst = 0;
  for (let i = 0; i < sorted.length; i++) {
    let sum = 0;
    for (let j = i; j < sorted.length; j++) {
      sum += sorted[j]!.n;
      worst = Math.max(worst, sum - (sorted[j]!.t - sorted[i]!.t) / intervalMs);
    }
  }
  return worst;
}

const stepArb = fc.record({
  gap: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 1500 })),
  kind: fc.constantFrom('take', 'take', 'take', 'tryTake', 'reserve'),
  n: fc.integer({ min: 1, max: 6 }),
  cancelAfter: fc.option(fc.integer({ min: 0, max: 2000 }), { nil: undefined, freq: 3 }),
  timeoutMs: fc.option(fc.integer({ min: 0, max: 2000 }), { nil: undefined, freq: 4 }),
});

describe('Pacer: property', () => {
  it('in any window [t, t + W] at most slack + 1 + W / intervalMs; FIFO; no timers when idle', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 400 }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.array(stepArb, { minLength: 1, maxLength: 30 }),
        async (intervalMs, slack, start, steps) => {
          const clock = new ManualClock({ start });
          const pacer = new Pacer({ intervalMs, slack, clock });
          const acts: Act[] = [];
          const actions = new Actions(clock, () =>
            expect(clock.pendingTimers).toBe(pacer.waiting > 0 ? 1 : 0),
          );
          const takes: (TakeRecord & { index: number })[] = [];
          let time = start;
          for (const [index, step] of steps.entries()) {
            time += step.gap;
            await actions.runUntil(time);
            await advanceTo(clock, time);
            const n = 1 + ((step.n - 1) % (slack + 1));
            if (step.kind === 'tryTake') {
              const peeked = pacer.peek(n);
              const result = pacer.tryTake(n);
              expect(result).toEqual(peeked);
              if (result.ok) acts.push({ index, t: clock.now(), n, cancelled: false });
            } else if (step.kind === 'reserve') {
              const r = pacer.reserve(n);
              const act: Act = { index, t: r.timeToAct, n, cancelled: false };
              acts.push(act);
              if (step.cancelAfter !== undefined) {
                actions.at(time + step.cancelAfter, () => {
                  if (clock.now() <= r.timeToAct) act.cancelled = true; // gives back at its time too
                  r.cancel();
                });
              }
            } else {
              const ac = step.cancelAfter !== undefined ? new AbortController() : undefined;
              const reason = { index };
              const promise = pacer.take(n, { signal: ac?.signal, timeoutMs: step.timeoutMs });
              promise.then(
                () => acts.push({ index, t: clock.now(), n, cancelled: false }),
                () => {},
              );
              takes.push({
                index,
                outcome: watch(clock, promise),
                reason,
                ...(ac === undefined ? {} : { signal: ac.signal }),
              });
              if (ac !== undefined && step.cancelAfter !== undefined) {
                actions.at(time + step.cancelAfter, () => ac.abort(reason));
              }
            }
            expect(clock.pendingTimers).toBe(pacer.waiting > 0 ? 1 : 0);
          }
          await actions.runUntil(Number.POSITIVE_INFINITY);
          await clock.runAllAsync();

          expectTakesSettled(takes);
          // Nothing made after a take is placed before it. (A reservation is not a queue: a
          // cancellation that gives tokens back may let a later request act before it.)
          const granted = acts.filter((a) => !a.cancelled).sort((a, b) => a.index - b.index);
          const takeIndexes = new Set(takes.map((t) => t.index));
          let latestTake = Number.NEGATIVE_INFINITY;
          for (const a of granted) {
            expect(a.t).toBeGreaterThanOrEqual(latestTake - EPS);
            if (takeIndexes.has(a.index)) latestTake = Math.max(latestTake, a.t);
          }
          expect(worstExcess(granted, intervalMs)).toBeLessThanOrEqual(slack + 1 + EPS);
          expect(pacer.waiting).toBe(0);
          expect(clock.pendingTimers).toBe(0);
          const last = Math.max(clock.now(), ...acts.map((a) => a.t));
          clock.advanceTo(last + (slack + 2 + 6 * steps.length) * intervalMs);
          expect(pacer.idle).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('the checker sees a window one event too full', () => {
    const act = (t: number): Act => ({ index: 0, t, n: 1, cancelled: false });
    expect(worstExcess([act(0), act(100), act(200)], 100)).toBe(1);
    expect(worstExcess([act(0), act(0), act(100), act(150)], 100)).toBe(2.5);
  });
});
