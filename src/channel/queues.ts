/**
 * The buffers a channel uses when it needs more than a plain ring of items: each item is kept
 * in an entry with its arrival order, its arrival time and its deadline.
 *
 * - `FifoEntries`: arrival order (a ring); the newest is at hand for adaptive LIFO.
 * - `PriorityEntries`: highest priority first, FIFO among equals; the lowest (oldest among
 *   equals) and the oldest are at hand for `drop-lowest` and `drop-oldest`. Three indexed heaps
 *   over the same entries make every operation O(log n).
 */
import { IndexedHeap, type Placed } from '../internal/indexed-heap.js';
import { RingBuffer } from '../internal/ring-buffer.js';

export interface Entry<T> extends Placed {
  readonly item: T;
  /** The item's priority, read once when it arrived (0 when ordered by a comparator). */
  readonly rank: number;
  /** Arrival order (ties in priority go to the earlier one). */
  readonly seq: number;
  /** Clock time the item was accepted. */
  readonly enqueuedAt: number;
  /** Clock time after which it is never delivered (`Infinity`: none). */
  readonly deadline: number;
}

/** The operations a channel needs from its entry buffer. */
export interface EntryQueue<T> {
  readonly length: number;
  push(entry: Entry<T>): void;
  /** The entry to serve next, without removing it. */
  peekNext(): Entry<T> | undefined;
  shiftNext(): Entry<T>;
  /** The entry that arrived first. */
  peekOldest(): Entry<T> | undefined;
  removeOldest(): Entry<T>;
  /** Removes and returns every entry, in serving order. */
  drain(): Entry<T>[];
}

export class FifoEntries<T> implements EntryQueue<T> {
  readonly #ring = new RingBuffer<Entry<T>>();

  get length(): number {
    return this.#ring.length;
  }

  push(entry: Entry<T>): void {
    this.#ring.push(entry);
  }

  peekNext(): Entry<T> | undefined {
    return this.#ring.peek();
  }

  shiftNext(): Entry<T> {
    return this.#ring.shift();
  }

  peekOldest(): Entry<T> | undefined {
    return this.#ring.peek();
  }

  removeOldest(): Entry<T> {
    return this.#ring.shift();
  }

  /** The entry that arrived last (adaptive LIFO serves it while the queue stands). */
  peekNewest(): Entry<T> | undefined {
    const ring = this.#ring;
    return ring.length === 0 ? undefined : ring.at(ring.length - 1);
  }

  popNewest(): Entry<T> {
    return this.#ring.pop();
  }

  drain(): Entry<T>[] {
    return this.#ring.drain();
  }
}

const SERVE = 0;
const LOW = 1;
const AGE = 2;

/** How a priority queue orders: by the rank read at arrival, or by a comparator of items. */
export type Ranking<T> = { readonly byRank: true } | { readonly compare: (a: T, b: T) => number };

export class PriorityEntries<T> implements EntryQueue<T> {
  readonly #serve: IndexedHeap<Entry<T>>;
  /** Lowest first, for `drop-lowest` only. */
  readonly #low: IndexedHeap<Entry<T>> | undefined;
  /** Earliest arrival first, for `drop-oldest` only. */
  readonly #age: IndexedHeap<Entry<T>> | undefined;
  /** The eviction order: lower priority first, the earlier among equals. */
  readonly #lowBefore: (a: Entry<T>, b: Entry<T>) => boolean;

  /**
   * Higher rank (or `compare(a, b) < 0`) first, FIFO among equals. The extra heaps are kept
   * only for the policy that needs them: `lowest` for `drop-lowest`, `oldest` for `drop-oldest`.
   */
  constructor(ranking: Ranking<T>, needs: { readonly lowest: boolean; readonly oldest: boolean }) {
    let serveBefore: (a: Entry<T>, b: Entry<T>) => boolean;
    if ('compare' in ranking) {
      const compare = ranking.compare;
      serveBefore = (a, b) => {
        const c = compare(a.item, b.item);
        return c < 0 || (c === 0 && a.seq < b.seq);
      };
      this.#lowBefore = (a, b) => {
        const c = compare(a.item, b.item);
        return c > 0 || (c === 0 && a.seq < b.seq);
      };
    } else {
      // Equal ranks (±Infinity included) compare equal, so FIFO holds among them.
      serveBefore = (a, b) => a.rank > b.rank || (a.rank === b.rank && a.seq < b.seq);
      this.#lowBefore = (a, b) => a.rank < b.rank || (a.rank === b.rank && a.seq < b.seq);
    }
    this.#serve = new IndexedHeap<Entry<T>>(serveBefore, SERVE);
    this.#low = needs.lowest ? new IndexedHeap<Entry<T>>(this.#lowBefore, LOW) : undefined;
    this.#age = needs.oldest ? new IndexedHeap<Entry<T>>((a, b) => a.seq < b.seq, AGE) : undefined;
  }

  get length(): number {
    return this.#serve.length;
  }

  push(entry: Entry<T>): void {
    this.#serve.push(entry);
    this.#low?.push(entry);
    this.#age?.push(entry);
  }

  peekNext(): Entry<T> | undefined {
    return this.#serve.peek();
  }

  shiftNext(): Entry<T> {
    return this.#take(this.#serve.peek() as Entry<T>);
  }

  peekOldest(): Entry<T> | undefined {
    return (this.#age as IndexedHeap<Entry<T>>).peek();
  }

  removeOldest(): Entry<T> {
    return this.#take((this.#age as IndexedHeap<Entry<T>>).peek() as Entry<T>);
  }

  /** The entry `drop-lowest` evicts: lowest priority, the earliest among equals. */
  peekLowest(): Entry<T> | undefined {
    return (this.#low as IndexedHeap<Entry<T>>).peek();
  }

  removeLowest(): Entry<T> {
    return this.#take((this.#low as IndexedHeap<Entry<T>>).peek() as Entry<T>);
  }

  /** True if `a` would be evicted before `b`. */
  ranksBelow(a: Entry<T>, b: Entry<T>): boolean {
    return this.#lowBefore(a, b);
  }

  drain(): Entry<T>[] {
    const out: Entry<T>[] = [];
    while (this.#serve.length > 0) out.push(this.shiftNext());
    return out;
  }

  /** Checks every heap (for invariant checks). */
  isValid(): boolean {
    const n = this.#serve.length;
    const low = this.#low;
    const age = this.#age;
    return (
      this.#serve.isValid() &&
      (low === undefined || (low.isValid() && low.length === n)) &&
      (age === undefined || (age.isValid() && age.length === n))
    );
  }

  #take(entry: Entry<T>): Entry<T> {
    this.#serve.remove(entry);
    this.#low?.remove(entry);
    this.#age?.remove(entry);
    return entry;
  }
}
