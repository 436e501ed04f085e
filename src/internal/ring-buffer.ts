/**
 * A growable FIFO ring buffer: O(1) push, shift and indexed reads, no `Array#shift`.
 *
 * Invariants:
 * 1. The backing array's length is 0 or a power of two, so `& mask` replaces `%`.
 * 2. `length <= items.length`; slots outside the live range hold `undefined`, so a removed item
 *    is never kept alive by the buffer.
 * 3. Nothing is allocated until the first push; the array doubles when full and halves once
 *    the live items fill a quarter of it or less (never below {@link MIN_SIZE}), so a burst
 *    does not pin its peak memory forever.
 */

const MIN_SIZE = 16;

export class RingBuffer<T> {
  #items: (T | undefined)[] = [];
  #head = 0;
  #length = 0;

  /** Number of items held. */
  get length(): number {
    return this.#length;
  }

  /** Appends `item` at the tail. */
  push(item: T): void {
    let items = this.#items;
    if (this.#length === items.length) items = this.#resize(Math.max(MIN_SIZE, items.length * 2));
    items[(this.#head + this.#length) & (items.length - 1)] = item;
    this.#length++;
  }

  /** Removes and returns the head item. The caller checks `length` first. */
  shift(): T {
    const items = this.#items;
    const head = this.#head;
    const item = items[head] as T;
    items[head] = undefined;
    this.#head = (head + 1) & (items.length - 1);
    const length = --this.#length;
    if (length <= items.length >>> 2 && items.length > MIN_SIZE) this.#resize(items.length >>> 1);
    return item;
  }

  /** Removes and returns the tail item. The caller checks `length` first. */
  pop(): T {
    const items = this.#items;
    const index = (this.#head + this.#length - 1) & (items.length - 1);
    const item = items[index] as T;
    items[index] = undefined;
    const length = --this.#length;
    if (length <= items.length >>> 2 && items.length > MIN_SIZE) this.#resize(items.length >>> 1);
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
    return out;
  }

  /** Size of the backing array (for tests of growth and shrinking). */
  get allocated(): number {
    return this.#items.length;
  }

  #resize(size: number): (T | undefined)[] {
    const next = new Array<T | undefined>(size).fill(undefined);
    for (let i = 0; i < this.#length; i++) next[i] = this.at(i);
    this.#items = next;
    this.#head = 0;
    return next;
  }
}
