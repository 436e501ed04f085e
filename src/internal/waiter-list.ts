/**
 * An intrusive doubly-linked list of waiters: O(1) push, shift and removal of any node.
 *
 * Invariants:
 * 1. A node is in at most one list, and `node.list` names it (`undefined` when unlinked).
 * 2. `length` equals the number of linked nodes; `head` is `undefined` exactly when it is 0.
 * 3. Removing a node that is not linked is a no-op, so every settle path may call it safely.
 */

/** The fields a node needs to live in a {@link WaiterList}. */
export interface Linked<N> {
  prev: N | undefined;
  next: N | undefined;
  /** The list holding the node (`undefined` when unlinked). */
  list: object | undefined;
}

export class WaiterList<N extends Linked<N>> {
  #head: N | undefined = undefined;
  #tail: N | undefined = undefined;
  #length = 0;

  /** Number of nodes. */
  get length(): number {
    return this.#length;
  }

  /** The oldest node, or `undefined`. */
  get head(): N | undefined {
    return this.#head;
  }

  /** The newest node, or `undefined`. */
  get tail(): N | undefined {
    return this.#tail;
  }

  /** Appends `node` at the tail. */
  push(node: N): void {
    node.list = this;
    node.prev = this.#tail;
    node.next = undefined;
    if (this.#tail === undefined) this.#head = node;
    else this.#tail.next = node;
    this.#tail = node;
    this.#length++;
  }

  /** Removes and returns the oldest node, or `undefined` when empty. */
  shift(): N | undefined {
    const node = this.#head;
    if (node !== undefined) this.remove(node);
    return node;
  }

  /** Unlinks `node`. Returns false if it was not in this list. */
  remove(node: N): boolean {
    if (node.list !== this) return false;
    const { prev, next } = node;
    if (prev === undefined) this.#head = next;
    else prev.next = next;
    if (next === undefined) this.#tail = prev;
    else next.prev = prev;
    node.prev = node.next = node.list = undefined;
    this.#length--;
    return true;
  }

  /** Unlinks every node and returns them oldest first. */
  drain(): N[] {
    const out: N[] = [];
    for (let node = this.#head; node !== undefined; ) {
      const next = node.next;
      node.prev = node.next = node.list = undefined;
      out.push(node);
      node = next;
    }
    this.#head = this.#tail = undefined;
    this.#length = 0;
    return out;
  }

  /** Visits every node, oldest first (for invariant checks). */
  forEach(visit: (node: N) => void): void {
    for (let node = this.#head; node !== undefined; node = node.next) visit(node);
  }
}
