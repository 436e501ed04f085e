/**
 * A binary heap whose entries know their position, so any entry can be removed in O(log n).
 * One entry may sit in several heaps at once (each heap uses its own position `slot`).
 *
 * Invariants:
 * 1. For every index i > 0: `!before(items[i], items[parent(i)])`.
 * 2. `items[i].pos[slot] === i` for every live entry; a removed entry has position -1.
 */

/** Something that can live in up to a few indexed heaps. */
export interface Placed {
  /** Position in each heap this entry belongs to (by slot), or -1. */
  readonly pos: number[];
}

export class IndexedHeap<E extends Placed> {
  readonly #items: E[] = [];
  readonly #before: (a: E, b: E) => boolean;
  readonly #slot: number;

  constructor(before: (a: E, b: E) => boolean, slot: number) {
    this.#before = before;
    this.#slot = slot;
  }

  get length(): number {
    return this.#items.length;
  }

  peek(): E | undefined {
    return this.#items[0];
  }

  push(entry: E): void {
    this.#items.push(entry);
    this.#up(this.#items.length - 1, entry);
  }

  /** Removes and returns the first entry in heap order. The caller checks `length`. */
  pop(): E {
    const top = this.#items[0] as E;
    this.remove(top);
    return top;
  }

  /** Removes `entry` (which must be in this heap). */
  remove(entry: E): void {
    const items = this.#items;
    const index = entry.pos[this.#slot] as number;
    entry.pos[this.#slot] = -1;
    const last = items.pop() as E;
    if (index === items.length) return; // it was the last one
    items[index] = last;
    last.pos[this.#slot] = index;
    if (index > 0 && this.#before(last, items[(index - 1) >>> 1] as E)) this.#up(index, last);
    else this.#down(index, last);
  }

  /** Removes every entry and returns them in no particular order. */
  drain(): E[] {
    const items = this.#items.splice(0);
    for (const e of items) e.pos[this.#slot] = -1;
    return items;
  }

  /** Checks the heap property and positions (for tests). */
  isValid(): boolean {
    const items = this.#items;
    for (let i = 0; i < items.length; i++) {
      const e = items[i] as E;
      if (e.pos[this.#slot] !== i) return false;
      if (i > 0 && this.#before(e, items[(i - 1) >>> 1] as E)) return false;
    }
    return true;
  }

  #up(index: number, entry: E): void {
    const items = this.#items;
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >>> 1;
      const p = items[parent] as E;
      if (!this.#before(entry, p)) break;
      items[i] = p;
      p.pos[this.#slot] = i;
      i = parent;
    }
    items[i] = entry;
    entry.pos[this.#slot] = i;
  }

  #down(index: number, entry: E): void {
    const items = this.#items;
    const n = items.length;
    let i = index;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && this.#before(items[right] as E, items[left] as E)) child = right;
      const c = items[child] as E;
      if (!this.#before(c, entry)) break;
      items[i] = c;
      c.pos[this.#slot] = i;
      i = child;
    }
    items[i] = entry;
    entry.pos[this.#slot] = i;
  }
}
