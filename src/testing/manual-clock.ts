/**
 * A clock that moves only when told to, for deterministic tests of code that uses sluice.
 *
 * Invariants:
 * 1. `now()` never decreases.
 * 2. Timers fire in order of due time, and in the order they were armed among equal due times.
 * 3. A timer fires at most once, never before its due time, and never after it was cleared.
 * 4. `pendingTimers` counts timers armed and neither fired nor cleared: exactly the heap's
 *    entries (a cleared timer leaves the heap at once).
 */
import type { Clock, TimerHandle } from '../clock.js';
import { describe } from '../internal/describe.js';
import { IndexedHeap, type Placed } from '../internal/indexed-heap.js';

class ManualTimer implements Placed {
  /** Position in the clock's heap; -1 once fired or cleared. */
  readonly pos: number[] = [-1];
  constructor(
    readonly clock: ManualClock,
    readonly dueAt: number,
    readonly seq: number,
    readonly callback: () => void,
  ) {}
}

/** Options for {@link ManualClock}. */
export interface ManualClockOptions {
  /** The starting time in milliseconds. Default 0. */
  readonly start?: number;
}

/** Yields to the event loop once, so pending promise callbacks run. */
function macrotask(): Promise<void> {
  const { setImmediate } = globalThis as { setImmediate?: (callback: () => void) => unknown };
  return new Promise((resolve) => {
    if (setImmediate !== undefined) setImmediate(resolve);
    else setTimeout(resolve, 0);
  });
}

/**
 * A {@link Clock} whose time moves only through {@link ManualClock.advance} and friends.
 *
 * Use the `*Async` forms when the code under test awaits between timers (most code that
 * uses promises does): they let pending promise callbacks run after each timer fires, so a
 * timer armed by such a callback fires within the same advance if it is due.
 *
 * @example
 * ```ts
 * const clock = new ManualClock();
 * const ch = new Channel<number>({ capacity: 1, clock });
 * const received = ch.receive({ timeoutMs: 50 });
 * clock.advance(50); // rejects `received` with a TimeoutError
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new IndexedHeap<ManualTimer>(
    (a, b) => (a.dueAt === b.dueAt ? a.seq < b.seq : a.dueAt < b.dueAt),
    0,
  );

  constructor(options: ManualClockOptions = {}) {
    const start = options.start === undefined ? 0 : options.start;
    if (typeof start !== 'number' || !Number.isFinite(start)) {
      throw new RangeError(`Expected \`start\` to be a finite number, got ${describe(start)}`);
    }
    this.#now = start;
  }

  /** The current virtual time in milliseconds. */
  now(): number {
    return this.#now;
  }

  /** Arms a timer due `delayMs` from now (a negative or NaN delay counts as 0). */
  setTimer(callback: () => void, delayMs: number): TimerHandle {
    const delay = Number.isNaN(delayMs) ? 0 : Math.max(delayMs, 0);
    const timer = new ManualTimer(this, this.#now + delay, this.#seq++, callback);
    this.#timers.push(timer);
    return timer;
  }

  /** Cancels a timer; harmless if it already fired or was cleared. */
  clearTimer(handle: TimerHandle): void {
    if (handle instanceof ManualTimer && handle.clock === this && handle.pos[0] !== -1) {
      this.#timers.remove(handle);
    }
  }

  /** Number of timers armed and neither fired nor cleared. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** Due time of the next live timer, or `undefined` when none is pending. */
  get nextTimerAt(): number | undefined {
    return this.#timers.peek()?.dueAt;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way, each with
   * `now()` equal to its due time. Synchronous: promise callbacks run after it returns.
   */
  advance(ms: number): void {
    this.advanceTo(this.#now + checkStep(ms));
  }

  /** Moves time forward to `time` (never backwards), firing due timers in order. */
  advanceTo(time: number): void {
    if (typeof time !== 'number' || Number.isNaN(time) || time === Number.POSITIVE_INFINITY) {
      throw new RangeError(
        `Expected \`time\` to be a number below Infinity, got ${describe(time)}`,
      );
    }
    while (this.#fireNext(time)) {}
    if (time > this.#now) this.#now = time;
  }

  /**
   * Like {@link ManualClock.advance}, but lets pending promise callbacks run before and after each
   * timer, so chains of awaits that arm new timers are followed within the same advance.
   */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.#now + checkStep(ms);
    await macrotask();
    while (this.#fireNext(target)) await macrotask();
    if (target > this.#now) this.#now = target;
    await macrotask();
  }

  /**
   * Fires timers in order, moving time to each, until none is pending. Throws a RangeError
   * after `limit` timers, which usually means something re-arms a timer forever.
   */
  runAll(limit = 100_000): void {
    checkLimit(limit);
    for (let fired = 0; this.#hasFiniteTimer(); fired++) {
      if (fired >= limit) throw new RangeError(`runAll fired ${limit} timers and more are pending`);
      this.#fireNext(Number.MAX_VALUE);
    }
  }

  /** Like {@link ManualClock.runAll}, letting promise callbacks run between timers. */
  async runAllAsync(limit = 100_000): Promise<void> {
    checkLimit(limit);
    await macrotask();
    for (let fired = 0; this.#hasFiniteTimer(); fired++) {
      if (fired >= limit) throw new RangeError(`runAll fired ${limit} timers and more are pending`);
      this.#fireNext(Number.MAX_VALUE);
      await macrotask();
    }
  }

  /** True if a live timer is due at a finite time (one armed with an infinite delay never is). */
  #hasFiniteTimer(): boolean {
    const next = this.#timers.peek();
    return next !== undefined && next.dueAt !== Number.POSITIVE_INFINITY;
  }

  /** Fires the next live timer if it is due at or before `limit`. */
  #fireNext(limit: number): boolean {
    const timer = this.#timers.peek();
    if (timer === undefined || timer.dueAt > limit) return false;
    this.#timers.pop();
    if (timer.dueAt > this.#now) this.#now = timer.dueAt;
    timer.callback();
    return true;
  }
}

function checkLimit(limit: unknown): void {
  if (!(typeof limit === 'number' && Number.isInteger(limit) && limit >= 0)) {
    throw new RangeError(`Expected \`limit\` to be an integer from 0 up, got ${describe(limit)}`);
  }
}

function checkStep(ms: unknown): number {
  if (typeof ms === 'number' && ms >= 0 && Number.isFinite(ms)) return ms;
  throw new RangeError(`Expected \`ms\` to be a finite number from 0 up, got ${describe(ms)}`);
}
