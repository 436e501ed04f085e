/**
 * A growable FIFO ring buffer: O(1) push, shift and indexed reads, no `Array#shift`.
 *
 * Invariants:
 * 1. The backing array's length is 0 or a power of two, so `& mask` replaces `%`.
 * 2. `length <= items.length`; slots outside the live range hold `undefined`, so a removed item
 *    is never kept alive by the buffer.
 * 3. Nothing is allocated until the first push; the array doubles when full. It shrinks after a
 *    burst, not during steady traffic: after every `min(size, REVIEW_EVERY)` shifts that leave
 *    it at most a quarter full, the buffer looks at the most items it held since the last look
 *    (`peak`), and if that was a quarter of the array or less, it shrinks to twice the peak
 *    (never below {@link MIN_SIZE}). A buffer that is filled and drained over and over keeps its
 *    size; one that held a burst gives the memory back within a few thousand shifts of the
 *    traffic calming down.
 */

const MIN_SIZE = 16;
const REVIEW_EVERY = 4096;

function ceilPowerOfTwo(n: number): number {
  return 2 ** Math.ceil(Math.log2(n));
}

export class RingBuffer<T> {
  #items: (T | undefined)[] = [];
  #head = 0;
  #length = 0;
  /** The most items held since the last review. */
  #peak = 0;
  /** Shifts left before the next review. */
  #untilReview = 0;

  /** Number of items held. */
  get length(): number {
    return this.#length;
  }

  /** Appends `item` at the tail. */
  push(item: T): void {
    let items = this.#items;
    if (this.#length === items.length) items = this.#resize(Math.max(MIN_SIZE, items.length * 2));
    items[(this.#head + this.#length) & (items.length - 1)] = item;
    if (++this.#length > this.#peak) this.#peak = this.#length;
  }

  /** Removes and returns the head item. The caller checks `length` first. */
  shift(): T {
    const items = this.#items;
    const head = this.#head;
    const item = items[head] as T;
    items[head] = undefined;
    this.#head = (head + 1) & (items.length - 1);
    // Only shifts that leave the array at most a quarter full count towards a review.
    if (--this.#length <= items.length >>> 2 && --this.#untilReview <= 0) this.#review();
    return item;
  }

  /**
   * Removes the head item and appends `item`, in one step: the length stays the same. Returns
   * the removed item. The caller checks `length` first. (A full `drop-oldest` channel.)
   */
  shiftPush(item: T): T {
    const items = this.#items;
    const mask = items.length - 1;
    const head = this.#head;
    const oldest = items[head] as T;
    items[head] = undefined;
    this.#head = (head + 1) & mask;
    items[(head + this.#length) & mask] = item;
    return oldest;
  }

  /** Removes and returns the tail item. The caller checks `length` first. */
  pop(): T {
    const items = this.#items;
    const index = (this.#head + this.#length - 1) & (items.length - 1);
    const item = items[index] as T;
    items[index] = undefined;
    if (--this.#length <= items.length >>> 2 && --this.#untilReview <= 0) this.#review();
    return item;
  }

  /** The head item without removing it, or `undefined` when empty. */
  peek(): T | undefined {
    return this.#length === 0 ? undefined : this.#items[this.#head];
  }

  /** The item `index` places from the head (0 is the head). The caller checks the bounds. */
  at(index: number): T {
    return this.#items[(this.#head + index) & (this.#items.length - 1)] as T;
  }

  /** Removes every item and returns them head first; the buffer releases its array. */
  drain(): T[] {
    const out = new Array<T>(this.#length);
    for (let i = 0; i < out.length; i++) out[i] = this.at(i);
    this.#items = [];
    this.#head = 0;
    this.#length = 0;
    this.#peak = 0;
    this.#untilReview = 0;
    return out;
  }

  /** Size of the backing array (for tests of growth and shrinking). */
  get allocated(): number {
    return this.#items.length;
  }

  /** Shrinks to twice the recent peak if the array was at most a quarter used since the last review. */
  #review(): void {
    const size = this.#items.length;
    if (size > MIN_SIZE && this.#peak <= size >>> 2) {
      this.#resize(Math.max(MIN_SIZE, ceilPowerOfTwo(this.#peak * 2)));
    }
    this.#peak = this.#length;
    this.#untilReview = Math.min(this.#items.length, REVIEW_EVERY);
  }

  #resize(size: number): (T | undefined)[] {
    const next = new Array<T | undefined>(size).fill(undefined);
    for (let i = 0; i < this.#length; i++) next[i] = this.at(i);
    this.#items = next;
    this.#head = 0;
    this.#untilReview = Math.min(size, REVIEW_EVERY);
    return next;
  }
}
