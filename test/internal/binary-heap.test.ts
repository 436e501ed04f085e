import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BinaryHeap } from '../../src/internal/binary-heap.js';

const ascending = (a: number, b: number): boolean => a < b;

function popAll<T>(heap: BinaryHeap<T>): T[] {
  const out: T[] = [];
  while (heap.length > 0) out.push(heap.pop() as T);
  return out;
}

interface Entry {
  readonly key: number;
  readonly seq: number;
}

const bySeq = (a: Entry, b: Entry): boolean => (a.key === b.key ? a.seq < b.seq : a.key < b.key);

describe('BinaryHeap', () => {
  it('starts empty', () => {
    const heap = new BinaryHeap(ascending);
    expect(heap.length).toBe(0);
    expect(heap.peek()).toBeUndefined();
    expect(heap.pop()).toBeUndefined();
    expect(heap.length).toBe(0);
    expect(heap.isValid()).toBe(true);
  });

  it('pops in ascending order', () => {
    const heap = new BinaryHeap(ascending);
    for (const n of [5, 3, 9, 1, 7, 2, 8, 6, 4, 0]) heap.push(n);
    expect(heap.length).toBe(10);
    expect(heap.isValid()).toBe(true);
    expect(popAll(heap)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(heap.pop()).toBeUndefined();
  });

  it('keeps duplicates', () => {
    const heap = new BinaryHeap(ascending);
    for (const n of [2, 1, 2, 1, 2]) heap.push(n);
    expect(popAll(heap)).toEqual([1, 1, 2, 2, 2]);
  });

  it('peek shows the first item without removing it', () => {
    const heap = new BinaryHeap(ascending);
    heap.push(4);
    heap.push(2);
    heap.push(3);
    expect(heap.peek()).toBe(2);
    expect(heap.length).toBe(3);
    expect(heap.pop()).toBe(2);
    expect(heap.peek()).toBe(3);
  });

  it('orders by the comparator it is given (max-heap)', () => {
    const heap = new BinaryHeap<number>((a, b) => a > b);
    for (const n of [1, 5, 3, 4, 2]) heap.push(n);
    expect(popAll(heap)).toEqual([5, 4, 3, 2, 1]);
  });

  it('is FIFO among equal keys when the comparator includes a sequence number', () => {
    const heap = new BinaryHeap(bySeq);
    const entries = [3, 1, 3, 1, 2, 3, 1].map((key, seq) => ({ key, seq }));
    for (const e of entries) heap.push(e);
    expect(popAll(heap).map((e) => `${e.key}:${e.seq}`)).toEqual([
      '1:1',
      '1:3',
      '1:6',
      '2:4',
      '3:0',
      '3:2',
      '3:5',
    ]);
  });

  it('interleaves pushes and pops', () => {
    const heap = new BinaryHeap(ascending);
    heap.push(10);
    heap.push(5);
    expect(heap.pop()).toBe(5);
    heap.push(1);
    heap.push(20);
    expect(heap.pop()).toBe(1);
    expect(heap.pop()).toBe(10);
    heap.push(15);
    expect(popAll(heap)).toEqual([15, 20]);
  });

  it('isValid detects a broken heap property', () => {
    const boxes = [1, 2, 3, 4, 5].map((value) => ({ value }));
    const heap = new BinaryHeap<{ value: number }>((a, b) => a.value < b.value);
    for (const box of boxes) heap.push(box);
    expect(heap.isValid()).toBe(true);
    // Mutating a key behind the heap's back breaks invariant 1; isValid must notice.
    boxes[4]!.value = 0;
    expect(heap.isValid()).toBe(false);
  });

  it('stores falsy items such as 0 and null', () => {
    const heap = new BinaryHeap<number | null>((a, b) => (a ?? -1) < (b ?? -1));
    heap.push(0);
    heap.push(null);
    heap.push(1);
    expect(popAll(heap)).toEqual([null, 0, 1]);
  });

  // A heap whose items include `undefined` must not duplicate or lose items. The last item is
  // moved to the root only when it is not `undefined`, so popping leaves the old root in place.
  it('does not duplicate or lose items when an item is undefined', () => {
    const heap = new BinaryHeap<number | undefined>(
      (a, b) => (a ?? Number.POSITIVE_INFINITY) < (b ?? Number.POSITIVE_INFINITY),
    );
    heap.push(1);
    heap.push(undefined);
    expect(heap.length).toBe(2);
    expect(heap.pop()).toBe(1);
    expect(heap.length).toBe(1);
    expect(heap.peek()).toBeUndefined();
    expect(heap.pop()).toBeUndefined();
    expect(heap.length).toBe(0);
  });

  describe('property', () => {
    type Op = { kind: 'push'; key: number } | { kind: 'pop' } | { kind: 'peek' };
    const opArb = (keys: fc.Arbitrary<number>): fc.Arbitrary<Op> =>
      fc.oneof(
        { weight: 3, arbitrary: fc.record({ kind: fc.constant('push' as const), key: keys }) },
        { weight: 2, arbitrary: fc.constant({ kind: 'pop' as const }) },
        { weight: 1, arbitrary: fc.constant({ kind: 'peek' as const }) },
      );

    it('pops come out sorted and the heap stays valid after every step', () => {
      fc.assert(
        fc.property(fc.array(fc.integer({ min: -1000, max: 1000 }), { maxLength: 200 }), (keys) => {
          const heap = new BinaryHeap(ascending);
          for (const k of keys) {
            heap.push(k);
            expect(heap.isValid()).toBe(true);
          }
          const out: number[] = [];
          while (heap.length > 0) {
            out.push(heap.pop() as number);
            expect(heap.isValid()).toBe(true);
          }
          expect(out).toEqual([...keys].sort((a, b) => a - b));
        }),
        { numRuns: 300 },
      );
    });

    it('matches a stable-sorted model, FIFO among equal keys, under random push/pop/peek', () => {
      fc.assert(
        fc.property(fc.array(opArb(fc.integer({ min: 0, max: 5 })), { maxLength: 150 }), (ops) => {
          const heap = new BinaryHeap(bySeq);
          let model: Entry[] = [];
          let seq = 0;
          for (const o of ops) {
            if (o.kind === 'push') {
              const e = { key: o.key, seq: seq++ };
              heap.push(e);
              model.push(e);
              // Stable sort by key keeps arrival order among equal keys.
              model = model.sort((a, b) => a.key - b.key);
            } else if (o.kind === 'pop') {
              expect(heap.pop()).toBe(model.shift());
            } else {
              expect(heap.peek()).toBe(model[0]);
            }
            expect(heap.length).toBe(model.length);
            expect(heap.isValid()).toBe(true);
          }
        }),
        { numRuns: 300 },
      );
    });
  });
});
