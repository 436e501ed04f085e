/**
 * Baseline: a raw fixed-capacity ring buffer with no promises, no waiters, no results objects.
 *
 * It is the floor for `trySend`/`tryReceive` loops: what moving an item through a bounded FIFO
 * costs when nothing else happens. `push` returns false when full; `shift` returns `undefined`
 * when empty (so it cannot carry `undefined` items, which a real channel must).
 */
export class RawRing<T> {
  readonly #items: (T | undefined)[];
  readonly #capacity: number;
  readonly #mask: number;
  #head = 0;
  #length = 0;

  /** `capacity` ≥ 1; the backing array is the next power of two, allocated once. */
  constructor(capacity: number) {
    let size = 1;
    while (size < capacity) size *= 2;
    this.#items = Array.from({ length: size }, () => undefined);
    this.#capacity = capacity;
    this.#mask = size - 1;
  }

  get length(): number {
    return this.#length;
  }

  push(item: T): boolean {
    if (this.#length === this.#capacity) return false;
    this.#items[(this.#head + this.#length) & this.#mask] = item;
    this.#length++;
    return true;
  }

  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const head = this.#head;
    const item = this.#items[head];
    this.#items[head] = undefined;
    this.#head = (head + 1) & this.#mask;
    this.#length--;
    return item;
  }
}
