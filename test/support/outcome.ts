/**
 * Watching promises without awaiting them: how (and, on a clock, when and in what order) they
 * settle. Also marks rejections as handled.
 */
import { expect } from 'vitest';
import type { Clock } from '../../src/clock.js';

/** Global order of settlement, shared by every watcher in a test file. */
let settledSeq = 0;

/** How a watched `Promise<void>` settled, on a clock. */
export interface Outcome {
  state: 'pending' | 'resolved' | 'rejected';
  /** Clock time at which the promise settled (read in its callback); NaN while pending. */
  at: number;
  error: unknown;
  /** Global order of settlement; -1 while pending. */
  seq: number;
}

/** Watches a promise, recording when (on `clock`) and in what order it settles. */
export function watch(clock: Clock, promise: Promise<void>): Outcome {
  const outcome: Outcome = { state: 'pending', at: Number.NaN, error: undefined, seq: -1 };
  promise.then(
    () => {
      outcome.state = 'resolved';
      outcome.at = clock.now();
      outcome.seq = settledSeq++;
    },
    (error: unknown) => {
      outcome.state = 'rejected';
      outcome.at = clock.now();
      outcome.error = error;
      outcome.seq = settledSeq++;
    },
  );
  return outcome;
}

/** How a watched promise with a value settled. */
export interface Observed<T> {
  state: 'pending' | 'resolved' | 'rejected';
  value: T | undefined;
  error: unknown;
  /** Clock time seen by the settle callback; -1 while pending or without a clock. */
  at: number;
  /** Global order of settlement; -1 while pending. */
  seq: number;
}

/** Watches a promise, recording its value or error, and (given a clock) when it settled. */
export function observe<T>(promise: Promise<T>, clock?: Clock): Observed<T> {
  const o: Observed<T> = { state: 'pending', value: undefined, error: undefined, at: -1, seq: -1 };
  promise.then(
    (value) => {
      o.state = 'resolved';
      o.value = value;
      o.at = clock?.now() ?? -1;
      o.seq = settledSeq++;
    },
    (error: unknown) => {
      o.state = 'rejected';
      o.error = error;
      o.at = clock?.now() ?? -1;
      o.seq = settledSeq++;
    },
  );
  return o;
}

/** Observes a promise's state without awaiting it (also marks rejections as handled). */
export class Probe<T> {
  status: 'pending' | 'fulfilled' | 'rejected' = 'pending';
  value: T | undefined = undefined;
  reason: unknown = undefined;
  constructor(readonly promise: Promise<T>) {
    promise.then(
      (value) => {
        this.status = 'fulfilled';
        this.value = value;
      },
      (reason: unknown) => {
        this.status = 'rejected';
        this.reason = reason;
      },
    );
  }
}

export function probe<T>(promise: Promise<T>): Probe<T> {
  return new Probe(promise);
}

/** Checks that the watched promises settled in the order given (their `seq`s increase). */
export function expectSettledInOrder(outcomes: readonly { readonly seq: number }[]): void {
  const seqs = outcomes.map((o) => o.seq);
  expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
}
