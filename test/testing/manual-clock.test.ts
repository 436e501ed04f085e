import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { systemClock, type TimerHandle } from '../../src/clock.js';
import { ManualClock } from '../../src/testing/manual-clock.js';

function sleep(clock: ManualClock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimer(resolve, ms));
}

/**
 * Starts a promise chain that sleeps on `clock` for each of `delays` in turn and logs `now()`
 * after each sleep; `done` resolves with 'done' at its end.
 */
function sleepChain(
  clock: ManualClock,
  delays: readonly number[],
): { log: number[]; done: Promise<string> } {
  const log: number[] = [];
  const done = (async () => {
    for (const ms of delays) {
      await sleep(clock, ms);
      log.push(clock.now());
    }
    return 'done';
  })();
  return { log, done };
}

describe('ManualClock', () => {
  describe('construction', () => {
    it('starts at 0 with nothing pending', () => {
      const clock = new ManualClock();
      expect(clock.now()).toBe(0);
      expect(clock.pendingTimers).toBe(0);
      expect(clock.nextTimerAt).toBeUndefined();
    });

    it.each([1000, -5, 0.25, 1e15])('starts at the given start %d', (start) => {
      expect(new ManualClock({ start }).now()).toBe(start);
    });

    it('treats an explicit undefined start as the default', () => {
      expect(new ManualClock({}).now()).toBe(0);
    });

    it.each([
      [Number.NaN, '`NaN` (number)'],
      [Number.POSITIVE_INFINITY, '`Infinity` (number)'],
      [Number.NEGATIVE_INFINITY, '`-Infinity` (number)'],
      ['0', '`"0"` (string)'],
      [10n, '`10n` (bigint)'],
    ])('rejects the start %o with a RangeError naming it', (start, shown) => {
      expect(() => new ManualClock({ start: start as number })).toThrow(
        new RangeError(`Expected \`start\` to be a finite number, got ${shown}`),
      );
    });
  });

  describe('advance', () => {
    it('moves time forward by exactly ms, with or without timers', () => {
      const clock = new ManualClock({ start: 100 });
      clock.advance(0);
      expect(clock.now()).toBe(100);
      clock.advance(25.5);
      expect(clock.now()).toBe(125.5);
      clock.setTimer(() => {}, 10);
      clock.advance(100);
      expect(clock.now()).toBe(225.5);
    });

    it('fires a timer at its due time, not a moment before', () => {
      const clock = new ManualClock();
      const callback = vi.fn();
      clock.setTimer(callback, 10);
      clock.advance(9.999);
      expect(callback).not.toHaveBeenCalled();
      clock.advance(0.001);
      expect(callback).toHaveBeenCalledTimes(1);
      clock.advance(1000);
      expect(callback).toHaveBeenCalledTimes(1);
    });

    it('fires due timers in due order, ties in arming order', () => {
      const clock = new ManualClock();
      const fired: string[] = [];
      clock.setTimer(() => fired.push('c@30'), 30);
      clock.setTimer(() => fired.push('a@10'), 10);
      clock.setTimer(() => fired.push('b1@20'), 20);
      clock.setTimer(() => fired.push('b2@20'), 20);
      clock.setTimer(() => fired.push('b3@20'), 20);
      clock.setTimer(() => fired.push('d@40'), 40);
      clock.advance(35);
      expect(fired).toEqual(['a@10', 'b1@20', 'b2@20', 'b3@20', 'c@30']);
      expect(clock.pendingTimers).toBe(1);
    });

    it('keeps arming order among equal due times armed at different moments', () => {
      const clock = new ManualClock();
      const fired: string[] = [];
      clock.setTimer(() => fired.push('first'), 20);
      clock.advance(10);
      clock.setTimer(() => fired.push('second'), 10); // also due at 20
      clock.advance(10);
      expect(fired).toEqual(['first', 'second']);
    });

    it('runs each callback with now() equal to its due time', () => {
      const clock = new ManualClock({ start: 1000 });
      const seen: [string, number][] = [];
      clock.setTimer(() => seen.push(['a', clock.now()]), 5);
      clock.setTimer(() => seen.push(['b', clock.now()]), 12.5);
      clock.setTimer(() => seen.push(['c', clock.now()]), 12.5);
      clock.advance(50);
      expect(seen).toEqual([
        ['a', 1005],
        ['b', 1012.5],
        ['c', 1012.5],
      ]);
      expect(clock.now()).toBe(1050);
    });

    it('fires a timer armed inside a callback within the same advance when it is due', () => {
      const clock = new ManualClock();
      const seen: [string, number][] = [];
      clock.setTimer(() => {
        seen.push(['outer', clock.now()]);
        clock.setTimer(() => seen.push(['same time', clock.now()]), 0);
        clock.setTimer(() => seen.push(['later', clock.now()]), 15);
        clock.setTimer(() => seen.push(['too late', clock.now()]), 100);
      }, 10);
      clock.setTimer(() => seen.push(['sibling', clock.now()]), 20);
      clock.advance(30);
      expect(seen).toEqual([
        ['outer', 10],
        ['same time', 10],
        ['sibling', 20],
        ['later', 25],
      ]);
      expect(clock.pendingTimers).toBe(1);
      expect(clock.nextTimerAt).toBe(110);
    });

    it('fires a chain of zero-delay timers armed from callbacks without moving time', () => {
      const clock = new ManualClock();
      let count = 0;
      const tick = (): void => {
        if (++count < 5) clock.setTimer(tick, 0);
      };
      clock.setTimer(tick, 0);
      clock.advance(0);
      expect(count).toBe(5);
      expect(clock.now()).toBe(0);
      expect(clock.pendingTimers).toBe(0);
    });

    it('a callback that clears a later timer stops it within the same advance', () => {
      const clock = new ManualClock();
      const late = vi.fn();
      const handle = clock.setTimer(late, 20);
      clock.setTimer(() => clock.clearTimer(handle), 10);
      clock.advance(30);
      expect(late).not.toHaveBeenCalled();
      expect(clock.pendingTimers).toBe(0);
      expect(clock.nextTimerAt).toBeUndefined();
    });

    it.each([
      [-1, '`-1` (number)'],
      [-0.5, '`-0.5` (number)'],
      [Number.NaN, '`NaN` (number)'],
      [Number.POSITIVE_INFINITY, '`Infinity` (number)'],
      [Number.NEGATIVE_INFINITY, '`-Infinity` (number)'],
      ['5', '`"5"` (string)'],
      [undefined, '`undefined` (undefined)'],
    ])('rejects %o with a RangeError naming it, and changes nothing', (ms, shown) => {
      const clock = new ManualClock({ start: 7 });
      const callback = vi.fn();
      clock.setTimer(callback, 0);
      expect(() => clock.advance(ms as number)).toThrow(
        new RangeError(`Expected \`ms\` to be a finite number from 0 up, got ${shown}`),
      );
      expect(clock.now()).toBe(7);
      expect(callback).not.toHaveBeenCalled();
      expect(clock.pendingTimers).toBe(1);
    });

    it('lets an error from a callback propagate and leaves the clock consistent', () => {
      const clock = new ManualClock();
      const after = vi.fn();
      const boom = new Error('boom');
      clock.setTimer(() => {
        throw boom;
      }, 10);
      clock.setTimer(after, 20);
      expect(() => clock.advance(30)).toThrow(boom);
      // The failing timer is spent; time stopped at it; the rest is still pending.
      expect(clock.now()).toBe(10);
      expect(clock.pendingTimers).toBe(1);
      expect(clock.nextTimerAt).toBe(20);
      clock.advance(20);
      expect(after).toHaveBeenCalledTimes(1);
      expect(clock.now()).toBe(30);
    });
  });

  describe('setTimer', () => {
    it('counts a negative or NaN delay as 0', () => {
      const clock = new ManualClock({ start: 50 });
      const seen: number[] = [];
      clock.setTimer(() => seen.push(clock.now()), -10);
      clock.setTimer(() => seen.push(clock.now()), Number.NaN);
      expect(clock.nextTimerAt).toBe(50);
      clock.advance(0);
      expect(seen).toEqual([50, 50]);
    });

    it('returns a distinct handle per timer', () => {
      const clock = new ManualClock();
      const a = clock.setTimer(() => {}, 10);
      const b = clock.setTimer(() => {}, 10);
      expect(a).not.toBe(b);
    });
  });

  describe('clearTimer', () => {
    it('cancels a timer before it fires', () => {
      const clock = new ManualClock();
      const callback = vi.fn();
      const handle = clock.setTimer(callback, 10);
      clock.clearTimer(handle);
      expect(clock.pendingTimers).toBe(0);
      expect(clock.nextTimerAt).toBeUndefined();
      clock.advance(100);
      expect(callback).not.toHaveBeenCalled();
    });

    it('is harmless after the timer fired, and twice', () => {
      const clock = new ManualClock();
      const callback = vi.fn();
      const handle = clock.setTimer(callback, 10);
      clock.setTimer(() => {}, 50);
      clock.advance(10);
      clock.clearTimer(handle);
      clock.clearTimer(handle);
      expect(callback).toHaveBeenCalledTimes(1);
      expect(clock.pendingTimers).toBe(1);
    });

    it('clearing twice before firing counts once', () => {
      const clock = new ManualClock();
      const handle = clock.setTimer(() => {}, 10);
      clock.setTimer(() => {}, 20);
      clock.clearTimer(handle);
      clock.clearTimer(handle);
      expect(clock.pendingTimers).toBe(1);
    });

    it('ignores handles it did not create', () => {
      const clock = new ManualClock();
      clock.setTimer(() => {}, 10);
      clock.clearTimer({});
      clock.clearTimer(systemClock);
      expect(clock.pendingTimers).toBe(1);
    });

    // Invariant 4 says pendingTimers counts this clock's own live timers. A handle from another
    // ManualClock passes the `instanceof` check, so clearing it here decrements the wrong
    // counter and kills the other clock's timer while its counter still includes it.
    it('ignores a handle from another ManualClock', () => {
      const a = new ManualClock();
      const b = new ManualClock();
      const callback = vi.fn();
      const handle = a.setTimer(callback, 10);
      b.clearTimer(handle);
      expect(b.pendingTimers).toBe(0);
      expect(a.pendingTimers).toBe(1);
      a.advance(10);
      expect(callback).toHaveBeenCalledTimes(1);
      expect(a.pendingTimers).toBe(0);
    });
  });

  describe('pendingTimers and nextTimerAt', () => {
    it('track live timers as they are armed, fired and cleared', () => {
      const clock = new ManualClock();
      const h10 = clock.setTimer(() => {}, 10);
      clock.setTimer(() => {}, 30);
      const h20 = clock.setTimer(() => {}, 20);
      expect(clock.pendingTimers).toBe(3);
      expect(clock.nextTimerAt).toBe(10);
      clock.clearTimer(h10);
      expect(clock.pendingTimers).toBe(2);
      expect(clock.nextTimerAt).toBe(20); // skips the cleared head
      clock.clearTimer(h20);
      expect(clock.nextTimerAt).toBe(30);
      clock.advance(30);
      expect(clock.pendingTimers).toBe(0);
      expect(clock.nextTimerAt).toBeUndefined();
    });

    it('nextTimerAt is an absolute time on the clock', () => {
      const clock = new ManualClock({ start: 500 });
      clock.advance(100);
      clock.setTimer(() => {}, 25);
      expect(clock.nextTimerAt).toBe(625);
    });
  });

  describe('advanceTo', () => {
    it('moves to an absolute time, firing due timers in order', () => {
      const clock = new ManualClock({ start: 100 });
      const seen: number[] = [];
      clock.setTimer(() => seen.push(clock.now()), 20);
      clock.setTimer(() => seen.push(clock.now()), 10);
      clock.advanceTo(150);
      expect(seen).toEqual([110, 120]);
      expect(clock.now()).toBe(150);
    });

    it('never goes backwards', () => {
      const clock = new ManualClock({ start: 100 });
      const callback = vi.fn();
      clock.setTimer(callback, 0); // due at 100
      clock.advanceTo(50);
      expect(clock.now()).toBe(100);
      expect(callback).not.toHaveBeenCalled();
      clock.advanceTo(Number.NEGATIVE_INFINITY);
      expect(clock.now()).toBe(100);
    });

    it('advanceTo(now) fires timers due now', () => {
      const clock = new ManualClock({ start: 100 });
      const callback = vi.fn();
      clock.setTimer(callback, 0);
      clock.advanceTo(100);
      expect(callback).toHaveBeenCalledTimes(1);
      expect(clock.now()).toBe(100);
    });

    it.each([
      [Number.NaN, '`NaN` (number)'],
      ['100', '`"100"` (string)'],
      [null, '`null` (null)'],
      [undefined, '`undefined` (undefined)'],
      [Number.POSITIVE_INFINITY, '`Infinity` (number)'],
    ])('rejects %o with a RangeError naming it', (time, shown) => {
      const clock = new ManualClock();
      expect(() => clock.advanceTo(time as number)).toThrow(
        new RangeError(`Expected \`time\` to be a number below Infinity, got ${shown}`),
      );
      expect(clock.now()).toBe(0);
    });
  });

  describe('runAll', () => {
    it('fires everything in order, moving time to each, and stops at the last', () => {
      const clock = new ManualClock();
      const seen: number[] = [];
      clock.setTimer(() => seen.push(clock.now()), 300);
      clock.setTimer(() => seen.push(clock.now()), 100);
      clock.setTimer(() => {
        seen.push(clock.now());
        clock.setTimer(() => seen.push(clock.now()), 1000);
      }, 200);
      clock.runAll();
      expect(seen).toEqual([100, 200, 300, 1200]);
      expect(clock.now()).toBe(1200);
      expect(clock.pendingTimers).toBe(0);
    });

    it('does nothing, and keeps the time, with nothing pending', () => {
      const clock = new ManualClock({ start: 5 });
      const handle = clock.setTimer(() => {}, 10);
      clock.clearTimer(handle);
      clock.runAll();
      expect(clock.now()).toBe(5);
    });

    it('throws a RangeError naming the limit when a timer re-arms forever', () => {
      const clock = new ManualClock();
      let fired = 0;
      const again = (): void => {
        fired++;
        clock.setTimer(again, 1);
      };
      clock.setTimer(again, 1);
      expect(() => clock.runAll(50)).toThrow(
        new RangeError('runAll fired 50 timers and more are pending'),
      );
      expect(fired).toBeGreaterThanOrEqual(50);
      expect(fired).toBeLessThanOrEqual(51);
      expect(clock.pendingTimers).toBe(1);
    });

    it('has a default limit of 100000', () => {
      const clock = new ManualClock();
      const again = (): void => {
        clock.setTimer(again, 1);
      };
      clock.setTimer(again, 1);
      expect(() => clock.runAll()).toThrow('runAll fired 100000 timers and more are pending');
    });

    it('does not throw when exactly `limit` timers are pending', () => {
      const clock = new ManualClock();
      for (let i = 0; i < 3; i++) clock.setTimer(() => {}, i);
      expect(() => clock.runAll(3)).not.toThrow();
      expect(clock.pendingTimers).toBe(0);
    });

    // "Throws a RangeError after `limit` timers": with limit + 1 finite timers it must stop after
    // `limit`, leaving one pending. It fires limit + 1 before checking, so here it fires all 4,
    // then claims "more are pending" when none are.
    it('fires at most `limit` timers before throwing, and only when more are pending', () => {
      const clock = new ManualClock();
      const callback = vi.fn();
      for (let i = 1; i <= 4; i++) clock.setTimer(callback, i);
      expect(() => clock.runAll(3)).toThrow(RangeError);
      expect(callback).toHaveBeenCalledTimes(3);
      expect(clock.pendingTimers).toBe(1);
    });

    // A NaN limit makes `fired >= limit` always false, which silently turns the runaway guard
    // off (a re-arming timer would then hang the test run). Misuse should throw up front.
    it('rejects a NaN or negative limit up front', () => {
      const clock = new ManualClock();
      expect(() => clock.runAll(Number.NaN)).toThrow(RangeError);
      expect(() => clock.runAll(-1)).toThrow(RangeError);
    });
  });

  describe('advanceAsync', () => {
    it('lets a promise chain arm new timers that then fire in the same call', async () => {
      const clock = new ManualClock();
      const { log } = sleepChain(clock, [10, 10, 10, 10, 10]);
      await clock.advanceAsync(45);
      expect(log).toEqual([10, 20, 30, 40]);
      expect(clock.now()).toBe(45);
      expect(clock.nextTimerAt).toBe(50);
      await clock.advanceAsync(5);
      expect(log).toEqual([10, 20, 30, 40, 50]);
    });

    it('is what makes such a chain work: the sync advance fires only the first step', () => {
      const clock = new ManualClock();
      const { log } = sleepChain(clock, [10, 10, 10, 10, 10]);
      clock.advance(45);
      expect(log).toEqual([]); // the continuation has not run yet
      expect(clock.pendingTimers).toBe(0);
    });

    it('first lets already-queued promise callbacks arm their timers', async () => {
      const clock = new ManualClock();
      const callback = vi.fn();
      void (async () => {
        await Promise.resolve();
        await Promise.resolve();
        clock.setTimer(callback, 5);
      })();
      await clock.advanceAsync(5);
      expect(callback).toHaveBeenCalledTimes(1);
      expect(clock.now()).toBe(5);
    });

    it('runs promise callbacks between timers, with now() at each due time', async () => {
      const clock = new ManualClock();
      const seen: string[] = [];
      for (const at of [10, 20]) {
        void sleep(clock, at).then(() => seen.push(`then@${clock.now()}`));
      }
      await clock.advanceAsync(30);
      expect(seen).toEqual(['then@10', 'then@20']);
    });

    it('fires nothing past the target and ends exactly at it', async () => {
      const clock = new ManualClock({ start: 3 });
      const callback = vi.fn();
      clock.setTimer(callback, 10);
      await clock.advanceAsync(9);
      expect(callback).not.toHaveBeenCalled();
      expect(clock.now()).toBe(12);
    });

    it('falls back to setTimeout(0) where setImmediate does not exist (browsers)', async () => {
      vi.stubGlobal('setImmediate', undefined);
      try {
        const clock = new ManualClock();
        const { log } = sleepChain(clock, [10, 10, 10]);
        await clock.advanceAsync(30);
        expect(log).toEqual([10, 20, 30]);
      } finally {
        vi.unstubAllGlobals();
      }
      expect(typeof setImmediate).toBe('function');
    });

    it.each([
      [-1, '`-1` (number)'],
      [Number.NaN, '`NaN` (number)'],
      [Number.POSITIVE_INFINITY, '`Infinity` (number)'],
    ])('rejects %o with a RangeError naming it', async (ms, shown) => {
      const clock = new ManualClock();
      await expect(clock.advanceAsync(ms)).rejects.toThrow(
        new RangeError(`Expected \`ms\` to be a finite number from 0 up, got ${shown}`),
      );
      expect(clock.now()).toBe(0);
    });
  });

  describe('runAllAsync', () => {
    it('follows a promise chain to the end', async () => {
      const clock = new ManualClock();
      const { log, done } = sleepChain(clock, [5, 50, 500]);
      await clock.runAllAsync();
      expect(log).toEqual([5, 55, 555]);
      expect(clock.now()).toBe(555);
      await expect(done).resolves.toBe('done');
    });

    it('the sync runAll stops after the first step of the same chain', () => {
      const clock = new ManualClock();
      const { log } = sleepChain(clock, [5, 50, 500]);
      clock.runAll();
      expect(clock.now()).toBe(5);
      expect(log).toEqual([]);
    });

    it('rejects with a RangeError when a chain re-arms forever', async () => {
      const clock = new ManualClock();
      let stop = false;
      void (async () => {
        while (!stop) await sleep(clock, 1);
      })();
      await expect(clock.runAllAsync(20)).rejects.toThrow(
        new RangeError('runAll fired 20 timers and more are pending'),
      );
      stop = true;
    });

    it('fires at most `limit` timers before rejecting (see runAll)', async () => {
      const clock = new ManualClock();
      const callback = vi.fn();
      for (let i = 1; i <= 4; i++) clock.setTimer(callback, i);
      await expect(clock.runAllAsync(3)).rejects.toThrow(RangeError);
      expect(callback).toHaveBeenCalledTimes(3);
      expect(clock.pendingTimers).toBe(1);
    });
  });

  describe('property', () => {
    type Op =
      | { kind: 'arm'; delay: number; child: number | undefined }
      | { kind: 'clear'; pick: number }
      | { kind: 'advance'; ms: number }
      | { kind: 'advanceTo'; offset: number };

    const opArb: fc.Arbitrary<Op> = fc.oneof(
      {
        weight: 4,
        arbitrary: fc.record({
          kind: fc.constant('arm' as const),
          delay: fc.oneof(
            fc.integer({ min: -5, max: 60 }),
            fc.constantFrom(0, 0.5, 10, Number.NaN),
          ),
          // A timer with a child arms another timer from inside its callback.
          child: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
        }),
      },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('clear' as const), pick: fc.nat() }) },
      {
        weight: 3,
        arbitrary: fc.record({
          kind: fc.constant('advance' as const),
          ms: fc.integer({ min: 0, max: 40 }),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          kind: fc.constant('advanceTo' as const),
          offset: fc.integer({ min: -20, max: 40 }),
        }),
      },
    );

    interface ModelTimer {
      readonly id: number;
      readonly due: number;
      readonly seq: number;
      live: boolean;
      readonly child: number | undefined;
    }

    /** The first live timer due at or before `target`, by (due, seq). */
    function nextDue(timers: ModelTimer[], target: number): ModelTimer | undefined {
      let first: ModelTimer | undefined;
      for (const t of timers) {
        if (!t.live || t.due > target) continue;
        if (!first || t.due < first.due || (t.due === first.due && t.seq < first.seq)) first = t;
      }
      return first;
    }

    it('fires exactly the due timers, in (due, arming) order, at their due times', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: -100, max: 100 }),
          fc.array(opArb, { maxLength: 60 }),
          (start, ops) => {
            const clock = new ManualClock({ start });
            let now = start;
            let seq = 0;
            const model: ModelTimer[] = [];
            const handles: TimerHandle[] = [];
            const fired: [number, number][] = [];

            // `base` is the model's idea of the current time: `now`, or a parent's due time.
            const arm = (delay: number, child: number | undefined, base: number): void => {
              const timer: ModelTimer = {
                id: model.length,
                due: base + (Number.isNaN(delay) ? 0 : Math.max(0, delay)),
                seq: seq++,
                live: true,
                child,
              };
              model.push(timer);
              handles.push(
                clock.setTimer(() => {
                  fired.push([timer.id, clock.now()]);
                  if (timer.child !== undefined) arm(timer.child, undefined, timer.due);
                }, delay),
              );
            };

            /** Predicts the [id, time] pairs an advance to `target` fires, children included. */
            const predict = (target: number): [number, number][] => {
              const pool = model.map((t) => ({ ...t }));
              let nextSeq = seq;
              const out: [number, number][] = [];
              for (let t = nextDue(pool, target); t; t = nextDue(pool, target)) {
                t.live = false;
                out.push([t.id, t.due]);
                if (t.child !== undefined) {
                  pool.push({
                    id: pool.length,
                    due: t.due + t.child,
                    seq: nextSeq++,
                    live: true,
                    child: undefined,
                  });
                }
              }
              return out;
            };

            for (const o of ops) {
              if (o.kind === 'arm') {
                arm(o.delay, o.child, now);
              } else if (o.kind === 'clear') {
                if (model.length === 0) continue;
                const index = o.pick % model.length;
                clock.clearTimer(handles[index]!);
                model[index]!.live = false;
              } else {
                const target = o.kind === 'advance' ? now + o.ms : now + o.offset;
                const expected = predict(target);
                fired.length = 0;
                if (o.kind === 'advance') clock.advance(o.ms);
                else clock.advanceTo(target);
                expect(fired).toEqual(expected);
                for (const [id] of fired) model[id]!.live = false;
                now = Math.max(now, target);
              }
              const live = model.filter((t) => t.live);
              expect(clock.now()).toBe(now);
              expect(clock.pendingTimers).toBe(live.length);
              expect(clock.nextTimerAt).toBe(
                live.length === 0 ? undefined : Math.min(...live.map((t) => t.due)),
              );
            }
          },
        ),
        { numRuns: 300 },
      );
    });
  });
});

describe('ManualClock edge cases', () => {
  it('a timer armed with an infinite delay never fires, and runAll stops before it', () => {
    const clock = new ManualClock();
    const never = vi.fn();
    const soon = vi.fn();
    clock.setTimer(never, Number.POSITIVE_INFINITY);
    clock.setTimer(soon, 5);
    clock.runAll();
    expect(soon).toHaveBeenCalledOnce();
    expect(never).not.toHaveBeenCalled();
    expect(clock.now()).toBe(5);
    expect(clock.pendingTimers).toBe(1);
  });

  it('rejects a null start instead of reading it as 0', () => {
    expect(() => new ManualClock({ start: null as unknown as number })).toThrow(/`null` \(null\)/);
  });

  it('runAll rejects a limit that is not an integer from 0 up', () => {
    const clock = new ManualClock();
    expect(() => clock.runAll(Number.NaN)).toThrow(RangeError);
    expect(() => clock.runAll(-1)).toThrow(/`-1` \(number\)/);
  });
});
