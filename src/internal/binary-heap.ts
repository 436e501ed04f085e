/**
 * An array-backed binary min-heap ordered by a `before(a, b)` function.
 *
 * Invariants:
 * 1. For every index i > 0: `!before(items[i], items[parent(i)])` (the heap property).
 * 2. Ties are broken by whatever `before` compares; callers that need FIFO among equals
 *    include a sequence number in it.
 */
export class BinaryHeap<T> {
  readonly #items: T[] = [];
  readonly #before: (a: T, b: T) => boolean;

  constructor(before: (a: T, b: T) => boolean) {
    this.#before = before;
  }

  /** Number of items. */
  get length(): number {
    return this.#items.length;
  }

  /** The first item in heap order, or `undefined`. */
  peek(): T | undefined {
    return this.#items[0];
  }

  /** Adds `item`. O(log n). */
  push(item: T): void {
    const items = this.#items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >>> 1;
      const p = items[parent] as T;
      if (!this.#before(item, p)) break;
      items[i] = p;
      i = parent;
    }
    items[i] = item;
  }

  /** Removes and returns the first item in heap order, or `undefined`. O(log n). */
  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop() as T;
    if (items.length > 0) {
      let i = 0;
      const n = items.length;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        let child = left;
        if (right < n && this.#before(items[right] as T, items[left] as T)) child = right;
        if (!this.#before(items[child] as T, last)) break;
        items[i] = items[child] as T;
        i = child;
      }
      items[i] = last;
    }
    return top;
  }

  /** Checks the heap property (for tests). */
  isValid(): boolean {
    const items = this.#items;
    for (let i = 1; i < items.length; i++) {
      if (this.#before(items[i] as T, items[(i - 1) >>> 1] as T)) return false;
    }
    return true;
  }
}
