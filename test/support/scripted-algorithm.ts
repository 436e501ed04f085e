/**
 * A limit algorithm for tests of the limiters that apply one: the test sets each limit.
 */
import type { LimitAlgorithm, Sample } from '../../src/adaptive/types.js';

/** An algorithm whose limit the test sets; it records every sample. */
export class Scripted implements LimitAlgorithm {
  readonly name = 'scripted';
  readonly samples: [Sample, number][] = [];
  /** The limit the next `update` answers (default: unchanged). */
  next: number | undefined;

  constructor(public limit: number) {}

  update(sample: Sample, now: number): number {
    this.samples.push([sample, now]);
    if (this.next !== undefined) this.limit = this.next;
    this.next = undefined;
    return this.limit;
  }
}
