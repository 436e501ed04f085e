/**
 * Runners for the rate limiters' tables, in golang.org/x/time/rate's rate_test.go style: rows
 * run in order, each moving a ManualClock to its `at` and then calling the limiter. The checks
 * that differ between limiters are the caller's; these hold the loop and the timer checks.
 */
import { expect } from 'vitest';
import type { RateLimiter, TakeResult } from '../../src/index.js';
import type { ManualClock } from '../../src/testing/index.js';
import { advanceTo } from './clock.js';
import { type Outcome, watch } from './outcome.js';

/** A limiter whose waiting callers share one timer. */
export type WaitingLimiter = RateLimiter & { readonly waiting: number };

/** At `at`, `tryTake(n)` grants (`ok`) or refuses, saying when to retry. */
export interface TryRow {
  readonly at: number;
  readonly n: number;
  readonly ok: boolean;
  /** For refused rows. */
  readonly retryAfterMs?: number;
}

/** `take(n)`, called at `at`, resolves at `grantedAt`. */
export interface TakeRow {
  readonly at: number;
  readonly n: number;
  readonly grantedAt: number;
}

/**
 * For each row: moves the clock to `at`, calls `peek(n)` then `tryTake(n)`, lets `check` test
 * both results, and checks that no timer is armed (tryTake never waits).
 */
export function eachTryRow<Row extends TryRow>(
  clock: ManualClock,
  limiter: RateLimiter,
  rows: readonly Row[],
  check: (row: Row, i: number, result: TakeResult, peeked: TakeResult) => void,
): void {
  for (const [i, row] of rows.entries()) {
    clock.advanceTo(row.at);
    const peeked = limiter.peek(row.n);
    const result = limiter.tryTake(row.n);
    check(row, i, result, peeked);
    expect(clock.pendingTimers).toBe(0);
  }
}

/**
 * For each row: moves the clock to `at` (letting promise callbacks run) and calls `take(n)`;
 * after each call `check()` and one shared timer armed exactly while someone waits. Then runs
 * every timer, `check()`, and none is left. Returns the outcomes for the caller to check.
 */
export async function takeEachRow(
  clock: ManualClock,
  limiter: WaitingLimiter,
  rows: readonly TakeRow[],
  check: () => void = () => {},
): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const row of rows) {
    await advanceTo(clock, row.at);
    outcomes.push(watch(clock, limiter.take(row.n)));
    check();
    expect(clock.pendingTimers).toBe(limiter.waiting > 0 ? 1 : 0);
  }
  await clock.runAllAsync();
  check();
  expect(clock.pendingTimers).toBe(0);
  return outcomes;
}
