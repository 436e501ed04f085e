/**
 * Moving time and letting promise callbacks run: helpers around ManualClock and the event loop.
 */
import type { Clock } from '../../src/clock.js';
import type { ManualClock } from '../../src/testing/index.js';

/** Moves a manual clock to `time`, letting promise callbacks run after every timer. */
export async function advanceTo(clock: ManualClock, time: number): Promise<void> {
  await clock.advanceAsync(Math.max(0, time - clock.now()));
}

/** Lets every pending promise callback run (one macrotask turn); no clock moves. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * `n` microtask turns: enough for the callbacks of promises settled synchronously (a handful of
 * hops deep), and much cheaper than a macrotask in model tests.
 */
export async function microtasks(n = 4): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

/** A Clock over `clock` that runs `check` after every timer callback. */
export function checkedClock(clock: ManualClock, check: () => void): Clock {
  return {
    now: () => clock.now(),
    setTimer: (callback, delayMs) =>
      clock.setTimer(() => {
        callback();
        check();
      }, delayMs),
    clearTimer: (handle) => clock.clearTimer(handle),
  };
}

/** Rounds away floating-point noise from clock readings (legitimate times are far coarser). */
export const snap = (t: number): number => Math.round(t * 1e6) / 1e6;
