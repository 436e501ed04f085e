/**
 * The one place in sluice that reads time or arms timers.
 *
 * Every primitive takes a `clock` option. Production code uses {@link systemClock}
 * (monotonic `performance.now()` and `setTimeout`); tests pass a `ManualClock` from
 * `sluice/testing` and move time by hand, so nothing in a test ever sleeps.
 */
import { describe } from './internal/describe.js';

/** An opaque handle for a timer armed by a {@link Clock}: pass it back to `clearTimer`. */
export type TimerHandle = unknown;

/** A source of monotonic time and one-shot timers. */
export interface Clock {
  /** Milliseconds on a monotonic scale (only differences between readings mean anything). */
  now(): number;
  /**
   * Calls `callback` once, no earlier than `delayMs` from now. A pending timer keeps a Node
   * process alive, as `setTimeout` does.
   */
  setTimer(callback: () => void, delayMs: number): TimerHandle;
  /** Cancels a timer; harmless if it already fired or was cleared. */
  clearTimer(handle: TimerHandle): void;
}

/** The largest delay `setTimeout` accepts (2³¹−1 ms, about 24.8 days). */
export const MAX_TIMER_DELAY_MS: number = 2 ** 31 - 1;

/** A timer longer than {@link MAX_TIMER_DELAY_MS}, armed in chunks. */
class LongTimer {
  id: ReturnType<typeof setTimeout> | undefined;
  constructor(
    readonly callback: () => void,
    readonly dueAt: number,
  ) {}
}

function armLong(timer: LongTimer): void {
  const remaining = timer.dueAt - performance.now();
  if (remaining <= MAX_TIMER_DELAY_MS) {
    timer.id = setTimeout(timer.callback, Math.max(0, remaining));
  } else {
    timer.id = setTimeout(() => armLong(timer), MAX_TIMER_DELAY_MS);
  }
}

/**
 * The real clock: `performance.now()` and `setTimeout`. Delays longer than the platform's
 * limit are armed in chunks, so a one-hour-per-token limiter still waits the right time.
 */
export const systemClock: Clock = Object.freeze({
  now: (): number => performance.now(),
  setTimer(callback: () => void, delayMs: number): TimerHandle {
    // NaN and negative delays take the short path, where setTimeout treats them as 1 ms.
    if (!(delayMs > MAX_TIMER_DELAY_MS)) return setTimeout(callback, delayMs);
    const timer = new LongTimer(callback, performance.now() + delayMs);
    armLong(timer);
    return timer;
  },
  clearTimer(handle: TimerHandle): void {
    if (handle instanceof LongTimer) clearTimeout(handle.id);
    else clearTimeout(handle as Parameters<typeof clearTimeout>[0]);
  },
});

/** Returns `clock`, or the system clock when it is `undefined`; a TypeError for anything else. */
export function checkClock(clock: unknown): Clock {
  if (clock === undefined) return systemClock;
  const c = clock as Clock;
  if (
    typeof c === 'object' &&
    c !== null &&
    typeof c.now === 'function' &&
    typeof c.setTimer === 'function' &&
    typeof c.clearTimer === 'function'
  ) {
    return c;
  }
  throw new TypeError(
    `Expected \`clock\` to be a Clock (an object with now, setTimer and clearTimer), got ${describe(clock)}`,
  );
}
