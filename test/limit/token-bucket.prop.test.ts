/**
 * Property tests of TokenBucket on a ManualClock (DESIGN.md, "Rate limiting semantics", 5).
 *
 * 1. Random traffic: a random rate and burst, then a random list of steps — `take` (some with
 *    an abort signal, some with a timeout), `tryTake`, `reserve`, aborts of pending takes,
 *    cancels of reservations and `pause(ms)` — separated by random gaps. The clock moves with
 *    `advanceAsync`, so a take's `.then` runs at the time its timer fired and reads the grant
 *    time from the clock. After the run, from what was observed:
 *    - in every window [t, t+W], the tokens admitted are ≤ burst + rate·W (+ 1e-6);
 *    - nothing is admitted inside a pause, but for reservations made before it;
 *    - take() callers are granted in call order (FIFO);
 *    - every take settled, aborted ones with their signal's reason untouched;
 *    - `peek` says what the `tryTake` right after it does;
 *    - after enough idle time `available` is back to `burst`, `idle` is true, and no timer and
 *      no listener remain.
 * 2. Saturation: 1–4 callers loop `await take(n)` for T ms (demand always above supply), with
 *    random extra takes aborted later and random tryTakes. Admitted by T ≥ rate·T − burst (in
 *    fact ≥ rate·T + burst − the largest n of any taker), and the window bound holds.
 *
 * `assertInvariants()` runs after every step and after every timer firing (the bucket's clock
 * wraps the ManualClock's timers). SLUICE_PROP_RUNS=n changes the number of runs.
 */
import { getEventListeners } from 'node:events';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../src/limit/token-bucket.js';
import type { Reservation } from '../../src/limit/types.js';
import { ManualClock } from '../../src/testing/index.js';
import { advanceTo, checkedClock } from '../support/clock.js';
import { EPS, propRuns } from '../support/prop.js';
import type { AbortStep, TakeStep, TryStep } from '../support/schedule.js';

const RUNS = propRuns(120);

interface Grant {
  readonly t: number;
  readonly n: number;
}

/**
 * Largest excess, over all windows [t_i, t_j], of the tokens admitted in the window over
 * `rate·(t_j − t_i)`: it must be ≤ burst. Linear: max_j (S_j − r·t_j) + max_{i≤j} (r·t_i − S_{i−1}).
 */
function worstWindow(
  grants: readonly Grant[],
  ratePerSecond: number,
): { excess: number; at: string } {
  const sorted = [...grants].sort((a, b) => a.t - b.t);
  const r = ratePerSecond / 1000;
  let best = Number.NEGATIVE_INFINITY;
  let bestT = 0;
  let sum = 0;
  let excess = Number.NEGATIVE_INFINITY;
  let at = '';
  for (const g of sorted) {
    if (r * g.t - sum > best) {
      best = r * g.t - sum;
      bestT = g.t;
    }
    sum += g.n;
    const e = sum - r * g.t + best;
    if (e > excess) {
      excess = e;
      at = `[${bestT}, ${g.t}]`;
    }
  }
  return { excess, at };
}

const dtArb = fc.oneof(
  { weight: 2, arbitrary: fc.constant(0) },
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 2000 }) },
  { weight: 2, arbitrary: fc.double({ min: 0, max: 300, noNaN: true }) },
);
const nArb = fc.integer({ min: 1, max: 8 });
const rateArb = fc.oneof(
  fc.constantFrom(1, 2.5, 10, 1000),
  fc.double({ min: 0.1, max: 200, noNaN: true }),
);

type Step =
  | TakeStep
  | TryStep
  | AbortStep
  | { readonly kind: 'reserve'; readonly dt: number; readonly n: number }
  | { readonly kind: 'cancel'; readonly dt: number; readonly pick: number }
  | { readonly kind: 'pause'; readonly dt: number; readonly ms: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('take' as const),
      dt: dtArb,
      n: nArb,
      abortable: fc.boolean(),
      timeoutMs: fc.option(fc.integer({ min: 0, max: 5000 }), { nil: undefined }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('try' as const), dt: dtArb, n: nArb }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('reserve' as const), dt: dtArb, n: nArb }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('abort' as const), dt: dtArb, pick: fc.nat() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('cancel' as const), dt: dtArb, pick: fc.nat() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('pause' as const),
      dt: dtArb,
      ms: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3000 })),
    }),
  },
);

interface TakeRecord {
  readonly index: number;
  readonly n: number;
  readonly controller: AbortController | undefined;
  readonly reason: unknown;
  /** The end of the pause ahead when it was called: it is not granted before. */
  readonly notBefore: number;
  state: 'pending' | 'resolved' | 'rejected';
  t: number;
  seq: number;
  error: unknown;
}

interface ReservationRecord {
  readonly r: Reservation;
  readonly n: number;
  /** Cancelled before its time to act: its holder never acts. */
  withdrawn: boolean;
}

describe('TokenBucket properties', () => {
  it('random traffic: window bound, FIFO takes, every take settles, idle again afterwards', async () => {
    await fc.assert(
      fc.asyncProperty(
        rateArb,
        fc.integer({ min: 1, max: 8 }),
        fc.array(stepArb, { minLength: 1, maxLength: 60 }),
        async (rate, burst, steps) => {
          const manual = new ManualClock();
          let bucket: TokenBucket | undefined;
          const check = (): void => bucket?.assertInvariants();
          bucket = new TokenBucket({ rate, burst, clock: checkedClock(manual, check) });
          const b = bucket;
          const grants: Grant[] = [];
          const takes: TakeRecord[] = [];
          const reservations: ReservationRecord[] = [];
          let seq = 0;
          let pausedUntil = Number.NEGATIVE_INFINITY;

          for (const step of steps) {
            await manual.advanceAsync(step.dt);
            b.assertInvariants();
            const n = 'n' in step ? ((step.n - 1) % burst) + 1 : 1;
            switch (step.kind) {
              case 'take': {
                const controller = step.abortable ? new AbortController() : undefined;
                const record: TakeRecord = {
                  index: takes.length,
                  n,
                  controller,
                  reason: { abortOf: takes.length },
                  notBefore: pausedUntil,
                  state: 'pending',
                  t: Number.NaN,
                  seq: -1,
                  error: undefined,
                };
                takes.push(record);
                const options = {
                  ...(controller === undefined ? {} : { signal: controller.signal }),
                  ...(step.timeoutMs === undefined ? {} : { timeoutMs: step.timeoutMs }),
                };
                b.take(n, options).then(
                  () => {
                    record.state = 'resolved';
                    record.t = manual.now();
                    record.seq = seq++;
                    grants.push({ t: record.t, n });
                  },
                  (error: unknown) => {
                    record.state = 'rejected';
                    record.t = manual.now();
                    record.seq = seq++;
                    record.error = error;
                  },
                );
                break;
              }
              case 'try': {
                const peeked = b.peek(n);
                const result = b.tryTake(n);
                expect(result, 'peek says what tryTake does').toEqual(peeked);
                if (result.ok) {
                  expect(manual.now(), 'tryTake granted in a pause').toBeGreaterThanOrEqual(
                    pausedUntil,
                  );
                  grants.push({ t: manual.now(), n });
                }
                break;
              }
              case 'reserve': {
                const r = b.reserve(n);
                expect(r.ok).toBe(true);
                expect(r.timeToAct).toBeGreaterThanOrEqual(Math.max(manual.now(), pausedUntil));
                reservations.push({ r, n, withdrawn: false });
                break;
              }
              case 'abort': {
                const pending = takes.filter((x) => x.controller !== undefined);
                const target = pending[step.pick % Math.max(1, pending.length)];
                target?.controller?.abort(target.reason);
                break;
              }
              case 'cancel': {
                const target = reservations[step.pick % Math.max(1, reservations.length)];
                if (target !== undefined) {
                  if (manual.now() < target.r.timeToAct) target.withdrawn = true;
                  target.r.cancel();
                }
                break;
              }
              case 'pause':
                b.pause(step.ms);
                pausedUntil = Math.max(pausedUntil, manual.now() + step.ms);
                break;
            }
            b.assertInvariants();
            expect(manual.pendingTimers).toBeLessThanOrEqual(1);
            await manual.advanceAsync(0);
            b.assertInvariants();
          }

          // Let everything run out, then idle long enough to refill.
          await manual.runAllAsync();
          const lastAct = Math.max(
            manual.now(),
            pausedUntil,
            ...reservations.map((x) => x.r.timeToAct),
          );
          await advanceTo(manual, lastAct + (burst * 1000) / rate + 1);
          b.assertInvariants();

          for (const x of reservations) if (!x.withdrawn) grants.push({ t: x.r.timeToAct, n: x.n });

          const { excess, at } = worstWindow(grants, rate);
          expect(excess, `window ${at}: burst ${burst}, rate ${rate}`).toBeLessThanOrEqual(
            burst + EPS,
          );

          // Every take settled; aborted ones with their reason; the rest granted in call order.
          let previous: TakeRecord | undefined;
          for (const x of takes) {
            expect(x.state, `take #${x.index}`).not.toBe('pending');
            if (x.state === 'rejected') {
              const { name } = x.error as Error;
              if (x.error !== x.reason) expect(name, `take #${x.index}`).toBe('TimeoutError');
              continue;
            }
            expect(x.t, `take #${x.index} granted in a pause`).toBeGreaterThanOrEqual(
              x.notBefore - EPS,
            );
            if (previous !== undefined) {
              expect(x.seq, `take #${x.index} after #${previous.index}`).toBeGreaterThan(
                previous.seq,
              );
              expect(x.t).toBeGreaterThanOrEqual(previous.t);
            }
            previous = x;
          }
          for (const x of takes) {
            if (x.controller !== undefined) {
              expect(getEventListeners(x.controller.signal, 'abort')).toHaveLength(0);
            }
          }

          expect(b.waiting).toBe(0);
          expect(manual.pendingTimers).toBe(0);
          expect(b.available).toBe(burst);
          expect(b.idle).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('saturation: admitted by T is at least rate·T − burst, and the window bound holds', async () => {
    const extraArb = fc.record({
      at: fc.integer({ min: 0, max: 10_000 }),
      n: nArb,
      abortAfter: fc.integer({ min: 0, max: 3000 }),
      tryOnly: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.double({ min: 0.5, max: 100, noNaN: true }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(nArb, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1000, max: 10_000 }),
        fc.array(extraArb, { maxLength: 20 }),
        async (rate, burst, loopers, T, extras) => {
          const manual = new ManualClock();
          let bucket: TokenBucket | undefined;
          bucket = new TokenBucket({
            rate,
            burst,
            clock: checkedClock(manual, () => bucket?.assertInvariants()),
          });
          const b = bucket;
          const grants: Grant[] = [];
          const clampN = (n: number): number => ((n - 1) % burst) + 1;
          const ns = loopers.map(clampN);
          // The head waiter at T may be any taker: up to its n can be owed but not yet granted.
          const maxN = Math.max(...ns, ...extras.filter((x) => !x.tryOnly).map((x) => clampN(x.n)));

          const loops = ns.map(async (n) => {
            while (manual.now() < T) {
              await b.take(n);
              grants.push({ t: manual.now(), n });
            }
          });

          const aborted: Promise<unknown>[] = [];
          for (const extra of [...extras].sort((x, y) => x.at - y.at)) {
            await advanceTo(manual, extra.at);
            b.assertInvariants();
            const n = clampN(extra.n);
            if (extra.tryOnly) {
              if (b.tryTake(n).ok) grants.push({ t: manual.now(), n });
              continue;
            }
            const controller = new AbortController();
            aborted.push(
              b.take(n, { signal: controller.signal }).then(
                () => grants.push({ t: manual.now(), n }),
                (error: unknown) => expect(error).toBe(controller.signal.reason),
              ),
            );
            manual.setTimer(() => controller.abort(), extra.abortAfter);
            b.assertInvariants();
          }
          await advanceTo(manual, T);
          b.assertInvariants();
          const admittedByT = grants.filter((g) => g.t <= T).reduce((s, g) => s + g.n, 0);
          const supply = (rate * T) / 1000;
          expect(admittedByT, `rate ${rate}, burst ${burst}, T ${T}`).toBeGreaterThanOrEqual(
            supply - burst,
          );
          expect(admittedByT, 'no token lost while demand exceeds supply').toBeGreaterThanOrEqual(
            supply + burst - maxN - EPS,
          );

          await manual.runAllAsync();
          await Promise.all([...loops, ...aborted]);
          const { excess, at } = worstWindow(grants, rate);
          expect(excess, `window ${at}`).toBeLessThanOrEqual(burst + EPS);
          await advanceTo(manual, manual.now() + (burst * 1000) / rate + 1);
          expect(b.waiting).toBe(0);
          expect(manual.pendingTimers).toBe(0);
          expect(b.available).toBe(burst);
        },
      ),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  });
});
