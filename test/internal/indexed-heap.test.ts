/**
 * IndexedHeap: a binary heap whose entries know their positions, so any entry can be removed
 * in O(log n), and one entry can live in several heaps at once (one position slot per heap).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IndexedHeap, type Placed } from '../../src/internal/indexed-heap.js';
import { propRuns } from '../support/prop.js';

interface Node extends Placed {
  readonly key: number;
  readonly seq: number;
}

let nextSeq = 0;
function node(key: number, slots = 1): Node {
  return { key, seq: nextSeq++, pos: new Array<number>(slots).fill(-1) };
}

/** Smaller key first, the earlier among equals. */
const byKey = (a: Node, b: Node): boolean => a.key < b.key || (a.key === b.key && a.seq < b.seq);
/** Larger key first, the earlier among equals. */
const byKeyDesc = (a: Node, b: Node): boolean =>
  a.key > b.key || (a.key === b.key && a.seq < b.seq);
const bySeq = (a: Node, b: Node): boolean => a.seq < b.seq;

function popAll(heap: IndexedHeap<Node>): Node[] {
  const out: Node[] = [];
  while (heap.length > 0) {
    out.push(heap.pop());
    expect(heap.isValid()).toBe(true);
  }
  return out;
}

describe('IndexedHeap', () => {
  it('starts empty', () => {
    const heap = new IndexedHeap<Node>(byKey, 0);
    expect(heap.length).toBe(0);
    expect(heap.peek()).toBeUndefined();
    expect(heap.isValid()).toBe(true);
    expect(heap.drain()).toEqual([]);
  });

  it('pops in heap order, FIFO among equal keys, and marks popped entries -1', () => {
    const heap = new IndexedHeap<Node>(byKey, 0);
    const nodes = [5, 3, 9, 1, 7, 3, 8, 1, 4, 0].map((k) => node(k));
    for (const n of nodes) {
      heap.push(n);
      expect(heap.isValid()).toBe(true);
    }
    expect(heap.length).toBe(10);
    expect(heap.peek()?.key).toBe(0);
    const out = popAll(heap);
    expect(out.map((n) => n.key)).toEqual([0, 1, 1, 3, 3, 4, 5, 7, 8, 9]);
    // equal keys come out in insertion order
    const ones = out.filter((n) => n.key === 1);
    expect(ones[0]!.seq).toBeLessThan(ones[1]!.seq);
    const threes = out.filter((n) => n.key === 3);
    expect(threes[0]!.seq).toBeLessThan(threes[1]!.seq);
    for (const n of nodes) expect(n.pos[0]).toBe(-1);
  });

  it('records every live entry’s position in its slot', () => {
    const heap = new IndexedHeap<Node>(byKey, 0);
    const nodes = [4, 2, 6, 1, 3].map((k) => node(k));
    for (const n of nodes) heap.push(n);
    const positions = nodes.map((n) => n.pos[0]).sort();
    expect(positions).toEqual([0, 1, 2, 3, 4]);
    expect(heap.peek()).toBe(nodes[3]);
    expect(nodes[3]!.pos[0]).toBe(0);
  });

  it('removes the root, a leaf, the last entry and inner entries', () => {
    const heap = new IndexedHeap<Node>(byKey, 0);
    const nodes = Array.from({ length: 15 }, (_, i) => node(i));
    for (const n of nodes) heap.push(n);
    const last = nodes.find((n) => n.pos[0] === heap.length - 1) as Node;
    heap.remove(last);
    expect(last.pos[0]).toBe(-1);
    expect(heap.isValid()).toBe(true);
    heap.remove(nodes[0]!); // the root
    expect(heap.isValid()).toBe(true);
    heap.remove(nodes[7]!);
    heap.remove(nodes[2]!);
    expect(heap.isValid()).toBe(true);
    expect(heap.length).toBe(11);
    const removed = new Set([last, nodes[0], nodes[7], nodes[2]]);
    expect(popAll(heap).map((n) => n.key)).toEqual(
      nodes.filter((n) => !removed.has(n)).map((n) => n.key),
    );
  });

  it('sifts the replacement up when it ranks before the removed entry’s parent', () => {
    // A heap where the last entry (small) replaces a deep entry in another subtree.
    const heap = new IndexedHeap<Node>(byKey, 0);
    const nodes = [0, 10, 1, 11, 12, 2, 3].map((k) => node(k));
    for (const n of nodes) heap.push(n);
    // layout: [0, 10, 1, 11, 12, 2, 3]; removing 12 (index 4, under 10) moves 3 there: it must go up
    expect(nodes[4]!.pos[0]).toBe(4);
    heap.remove(nodes[4]!);
    expect(heap.isValid()).toBe(true);
    expect(nodes[6]!.pos[0]).toBe(1);
    expect(popAll(heap).map((n) => n.key)).toEqual([0, 1, 2, 3, 10, 11]);
  });

  it('removing the only entry leaves it empty', () => {
    const heap = new IndexedHeap<Node>(byKey, 0);
    const n = node(1);
    heap.push(n);
    heap.remove(n);
    expect(heap.length).toBe(0);
    expect(heap.peek()).toBeUndefined();
    expect(n.pos[0]).toBe(-1);
    heap.push(n); // it can come back
    expect(heap.peek()).toBe(n);
    expect(n.pos[0]).toBe(0);
  });

  it('drain empties the heap and marks every entry -1', () => {
    const heap = new IndexedHeap<Node>(byKey, 0);
    const nodes = [3, 1, 2].map((k) => node(k));
    for (const n of nodes) heap.push(n);
    expect(new Set(heap.drain())).toEqual(new Set(nodes));
    expect(heap.length).toBe(0);
    for (const n of nodes) expect(n.pos[0]).toBe(-1);
  });

  it('isValid notices a broken position or a broken order', () => {
    const heap = new IndexedHeap<Node>(byKey, 0);
    const nodes = [1, 2, 3].map((k) => node(k));
    for (const n of nodes) heap.push(n);
    expect(heap.isValid()).toBe(true);
    nodes[1]!.pos[0] = 2;
    expect(heap.isValid()).toBe(false);
    nodes[1]!.pos[0] = 1;
    expect(heap.isValid()).toBe(true);
    (nodes[2] as { key: number }).key = -1; // mutate a key behind the heap's back
    expect(heap.isValid()).toBe(false);
  });

  it('one entry lives in several heaps at once, each with its own slot', () => {
    const low = new IndexedHeap<Node>(byKey, 0);
    const high = new IndexedHeap<Node>(byKeyDesc, 1);
    const age = new IndexedHeap<Node>(bySeq, 2);
    const nodes = [5, 1, 9, 3, 7, 9, 1].map((k) => node(k, 3));
    for (const n of nodes) {
      low.push(n);
      high.push(n);
      age.push(n);
    }
    const valid = (): boolean => low.isValid() && high.isValid() && age.isValid();
    expect(valid()).toBe(true);
    expect(low.peek()).toBe(nodes[1]);
    expect(high.peek()).toBe(nodes[2]); // the earlier 9
    expect(age.peek()).toBe(nodes[0]);

    // Remove from all three what each one's head is, as PriorityEntries does.
    const takeEverywhere = (n: Node): void => {
      low.remove(n);
      high.remove(n);
      age.remove(n);
      expect(n.pos).toEqual([-1, -1, -1]);
      expect(valid()).toBe(true);
    };
    takeEverywhere(high.peek()!); // 9 (first)
    expect(high.peek()).toBe(nodes[5]);
    takeEverywhere(age.peek()!); // 5, the oldest
    takeEverywhere(low.peek()!); // 1 (first)
    expect(low.peek()).toBe(nodes[6]);
    expect(age.peek()).toBe(nodes[3]);
    expect(low.length).toBe(4);
    expect(high.length).toBe(4);
    expect(age.length).toBe(4);
    expect(popAll(high).map((n) => n.key)).toEqual([9, 7, 3, 1]);
    // The other heaps still hold them: positions in their own slots are untouched.
    expect(low.isValid()).toBe(true);
    expect(popAll(low).map((n) => n.key)).toEqual([1, 3, 7, 9]);
    expect(popAll(age).map((n) => n.seq)).toEqual(
      [nodes[3], nodes[4], nodes[5], nodes[6]].map((n) => n!.seq),
    );
  });

  // --- property: against a sorted array ------------------------------------------------------

  type Op =
    | { readonly kind: 'push'; readonly key: number }
    | { readonly kind: 'pop' }
    | { readonly kind: 'remove'; readonly pick: number };

  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 20 }).map((key) => ({ kind: 'push', key })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'pop' }) },
    {
      weight: 2,
      arbitrary: fc.nat({ max: 1000 }).map((pick) => ({ kind: 'remove', pick })),
    },
  ) as fc.Arbitrary<Op>;

  it('behaves like a sorted array under push, pop and remove-anywhere (in two heaps at once)', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 200 }), (ops) => {
        const asc = new IndexedHeap<Node>(byKey, 0);
        const desc = new IndexedHeap<Node>(byKeyDesc, 1);
        let model: Node[] = []; // sorted by byKey
        let seq = 0;
        for (const op of ops) {
          if (op.kind === 'push') {
            const n: Node = { key: op.key, seq: seq++, pos: [-1, -1] };
            asc.push(n);
            desc.push(n);
            model.push(n);
            model.sort((a, b) => a.key - b.key || a.seq - b.seq);
          } else if (op.kind === 'pop') {
            if (model.length === 0) continue;
            const top = asc.pop();
            expect(top).toBe(model[0]);
            desc.remove(top);
            model = model.slice(1);
          } else {
            if (model.length === 0) continue;
            const victim = model[op.pick % model.length] as Node;
            asc.remove(victim);
            desc.remove(victim);
            expect(victim.pos).toEqual([-1, -1]);
            model = model.filter((n) => n !== victim);
          }
          expect(asc.isValid()).toBe(true);
          expect(desc.isValid()).toBe(true);
          expect(asc.length).toBe(model.length);
          expect(desc.length).toBe(model.length);
          expect(asc.peek()).toBe(model[0]);
          // desc's head: the largest key, the earliest among equals
          const maxKey = Math.max(...model.map((n) => n.key));
          expect(desc.peek()).toBe(model.find((n) => n.key === maxKey));
          for (const n of model) {
            expect(n.pos[0]).toBeGreaterThanOrEqual(0);
            expect(n.pos[1]).toBeGreaterThanOrEqual(0);
          }
        }
        expect(popAll(asc)).toEqual(model);
      }),
      { numRuns: propRuns(200) },
    );
  });
});
