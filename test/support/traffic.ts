/**
 * Plumbing for the rate limiters' random-traffic property tests: aborts and cancels scheduled
 * at clock times, the checks every take must pass at the end, and window bounds on the grants.
 */
import { expect } from 'vitest';
import { TimeoutError } from '../../src/index.js';
import type { ManualClock } from '../../src/testing/index.js';
import { advanceTo } from './clock.js';
import { expectSettledInOrder, type Outcome } from './outcome.js';
import { EPS } from './prop.js';
import { listeners } from './signals.js';

/**
 * Actions (aborts, cancels) due at clock times. `runUntil(time)` runs those due by `time` in
 * time order (ties in the order they were scheduled), each at its own time, with `after()`
 * following each one.
 */
export class Actions {
  readonly #pending: { at: number; seq: number; run: () => void }[] = [];
  #seq = 0;

  constructor(
    private readonly clock: ManualClock,
    private readonly after: () => void = () => {},
  ) {}

  at(at: number, run: () => void): void {
    this.#pending.push({ at, seq: this.#seq++, run });
  }

  async runUntil(time: number): Promise<void> {
    this.#pending.sort((a, b) => a.at - b.at || a.seq - b.seq);
    while (this.#pending.length > 0 && this.#pending[0]!.at <= time) {
      const action = this.#pending.shift()!;
      await advanceTo(this.clock, action.at);
      action.run();
      this.after();
    }
  }
}

/** A `take` made by random traffic. */
export interface TakeRecord {
  readonly outcome: Outcome;
  /** What its signal is aborted with. */
  readonly reason: unknown;
  readonly signal?: AbortSignal | undefined;
  /** Whether it had a timeout; a TimeoutError is accepted only then (unknown: accepted). */
  readonly hasTimeout?: boolean;
}

/**
 * Every take settled: granted, or rejected with its own abort reason or a TimeoutError; no
 * listener left on its signal; the granted ones in call order.
 */
export function expectTakesSettled(takes: readonly TakeRecord[]): void {
  for (const take of takes) {
    const { state, error } = take.outcome;
    expect(state).not.toBe('pending');
    if (state === 'rejected') {
      const timedOut = (take.hasTimeout ?? true) && error instanceof TimeoutError;
      expect(timedOut || error === take.reason).toBe(true);
    }
    if (take.signal !== undefined) expect(listeners(take.signal)).toBe(0);
  }
  expectSettledInOrder(takes.filter((t) => t.outcome.state === 'resolved').map((t) => t.outcome));
}

/** Largest total `n` in any window (t − windowMs, t], t ranging over the grant times. */
export function worstSliding(
  acts: readonly { readonly t: number; readonly n: number }[],
  windowMs: number,
): number {
  let worst = 0;
  for (const end of acts) {
    let sum = 0;
    for (const a of acts) if (a.t > end.t - windowMs + EPS && a.t <= end.t + EPS) sum += a.n;
    worst = Math.max(worst, sum);
  }
  return worst;
}
