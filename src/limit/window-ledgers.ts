/**
 * The arithmetic of the window limiters: "at most `limit` in any `windowMs`" kept three ways.
 *
 * - `SlidingLogLedger` (exact): remembers when each request acted. A request may act at t if
 *   the requests in (t − windowMs, t] plus its own number at most `limit`. Memory: one entry per
 *   request in the last window (at most `limit`), plus those scheduled ahead.
 * - `FixedWindowLedger`: counts per window [k·windowMs, (k+1)·windowMs) from the limiter's
 *   start. Cheap, but a burst at the end of one window and another at the start of the next
 *   can put up to 2·limit within one `windowMs`.
 * - `SlidingCounterLedger` (approximate): the fixed-window counts of the current and the
 *   previous window, the previous weighted by how much of it still overlaps the sliding
 *   window: estimate(t) = previous·(1 − elapsed/windowMs) + current. It assumes the previous
 *   window's requests were spread evenly; when they were bunched at its end it can admit up to
 *   2·limit in one sliding window, when bunched at its start it admits fewer than it could.
 *   Memory: two counters (plus windows scheduled ahead).
 *
 * Every ledger only ever appends at or after its latest commitment (the scheduler places
 * requests in order), so "the requests before t" are all that `earliest` must look at.
 */
import { RingBuffer } from '../internal/ring-buffer.js';
import type { Ledger } from './schedule.js';

/** Exact sliding window over a log of (time, n) entries, oldest first. */
export class SlidingLogLedger implements Ledger {
  readonly #times = new RingBuffer<number>();
  readonly #counts = new RingBuffer<number>();
  /** Sum of the counts in the log. */
  #total = 0;

  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {}

  /** Requests counted in the log (the last window and any scheduled ahead). */
  get total(): number {
    return this.#total;
  }

  advance(now: number): void {
    const cutoff = now - this.windowMs;
    while (this.#times.length > 0 && (this.#times.peek() as number) <= cutoff) {
      this.#times.shift();
      this.#total -= this.#counts.shift();
    }
  }

  earliest(n: number, from: number): number {
    const last = this.#times.length > 0 ? this.#times.at(this.#times.length - 1) : from;
    const start = Math.max(last, from);
    // Entries still inside (start − windowMs, start]; drop the oldest until n fits.
    let total = this.#total;
    let at = start;
    for (let i = 0; total + n > this.limit; i++) {
      if (i >= this.#times.length) return Number.POSITIVE_INFINITY;
      total -= this.#counts.at(i);
      at = Math.max(at, this.#times.at(i) + this.windowMs);
    }
    return at;
  }

  isIdle(): boolean {
    return this.#total === 0;
  }

  commit(n: number, at: number): void {
    const last = this.#times.length - 1;
    if (last >= 0 && this.#times.at(last) === at) {
      this.#counts.push(this.#counts.pop() + n);
    } else {
      this.#times.push(at);
      this.#counts.push(n);
    }
    this.#total += n;
  }

  uncommit(n: number, at: number): void {
    // Usually the newest entry; search from the tail.
    for (let i = this.#times.length - 1; i >= 0; i--) {
      if (this.#times.at(i) !== at) continue;
      const left = this.#counts.at(i) - n;
      this.#total -= n;
      if (left > 0) this.#replaceCount(i, left);
      else this.#removeAt(i);
      return;
    }
  }

  #replaceCount(index: number, count: number): void {
    const counts = this.#counts.drain();
    counts[index] = count;
    for (const c of counts) this.#counts.push(c);
  }

  #removeAt(index: number): void {
    const times = this.#times.drain();
    const counts = this.#counts.drain();
    for (let i = 0; i < times.length; i++) {
      if (i === index) continue;
      this.#times.push(times[i] as number);
      this.#counts.push(counts[i] as number);
    }
  }
}

/** Counts per window index, kept for the current window and any scheduled ahead. */
export class WindowCounts {
  readonly #counts = new Map<number, number>();

  get(index: number): number {
    return this.#counts.get(index) ?? 0;
  }

  add(index: number, n: number): void {
    const count = this.get(index) + n;
    if (count > 0) this.#counts.set(index, count);
    else this.#counts.delete(index);
  }

  /** Forgets windows before `index`. */
  dropBefore(index: number): void {
    for (const key of this.#counts.keys()) if (key < index) this.#counts.delete(key);
  }

  /** Windows with a count (for idleness checks). */
  get size(): number {
    return this.#counts.size;
  }
}

/** Counts per window aligned to `origin`: window k is [origin + k·windowMs, origin + (k+1)·windowMs). */
abstract class AlignedWindows {
  readonly counts: WindowCounts = new WindowCounts();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    readonly origin: number,
  ) {}

  index(time: number): number {
    return Math.floor((time - this.origin) / this.windowMs);
  }

  isIdle(): boolean {
    return this.counts.size === 0;
  }
}

/** Fixed windows: at most `limit` in each aligned window. */
export class FixedWindowLedger extends AlignedWindows implements Ledger {
  advance(now: number): void {
    this.counts.dropBefore(this.index(now));
  }

  earliest(n: number, from: number): number {
    let index = this.index(from);
    while (this.counts.get(index) + n > this.limit) index++;
    return Math.max(this.origin + index * this.windowMs, from);
  }

  commit(n: number, at: number): void {
    this.counts.add(this.index(at), n);
  }

  uncommit(n: number, at: number): void {
    this.counts.add(this.index(at), -n);
  }
}

/**
 * The two-counter approximation of a sliding window. A commitment raises the estimate of the
 * windows after it, so a request is never placed before a commitment still to come: `ahead`
 * holds their times (a reservation cancelled in the middle leaves no later bound behind).
 */
export class SlidingCounterLedger extends AlignedWindows implements Ledger {
  readonly #ahead = new Map<number, number>();
  #latest = Number.NEGATIVE_INFINITY;

  advance(now: number): void {
    this.counts.dropBefore(this.index(now) - 1);
    if (this.#latest <= now && this.#ahead.size > 0) {
      this.#ahead.clear();
      this.#latest = Number.NEGATIVE_INFINITY;
    }
  }

  /** The weighted estimate of requests in the sliding window ending at `time`. */
  estimate(time: number): number {
    const index = this.index(time);
    const elapsed = (time - this.origin - index * this.windowMs) / this.windowMs;
    return this.counts.get(index - 1) * (1 - elapsed) + this.counts.get(index);
  }

  earliest(n: number, at: number): number {
    const from = Math.max(at, this.#latest);
    for (let index = this.index(from); ; index++) {
      const current = this.counts.get(index);
      if (current + n > this.limit) continue; // this window is full whatever the weight
      const start = this.origin + index * this.windowMs;
      const lower = Math.max(start, from);
      const previous = this.counts.get(index - 1);
      if (previous === 0) return lower;
      // previous·(1 − (t − start)/windowMs) + current + n ≤ limit, solved for t.
      const fraction = 1 - (this.limit - current - n) / previous;
      if (fraction >= 1) continue; // not before the window ends: try the next one
      return Math.max(start + fraction * this.windowMs, lower);
    }
  }

  commit(n: number, at: number): void {
    this.counts.add(this.index(at), n);
    this.#ahead.set(at, (this.#ahead.get(at) ?? 0) + n);
    if (at > this.#latest) this.#latest = at;
  }

  uncommit(n: number, at: number): void {
    this.counts.add(this.index(at), -n);
    const left = (this.#ahead.get(at) ?? 0) - n;
    if (left > 0) {
      this.#ahead.set(at, left);
      return;
    }
    this.#ahead.delete(at);
    if (at === this.#latest) {
      this.#latest = Number.NEGATIVE_INFINITY;
      for (const time of this.#ahead.keys()) if (time > this.#latest) this.#latest = time;
    }
  }
}
