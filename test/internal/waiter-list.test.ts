import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Linked, WaiterList } from '../../src/internal/waiter-list.js';

interface Node extends Linked<Node> {
  readonly id: number;
}

function node(id: number): Node {
  return { id, prev: undefined, next: undefined, list: undefined };
}

function ids(list: WaiterList<Node>): number[] {
  const out: number[] = [];
  list.forEach((n) => {
    out.push(n.id);
  });
  return out;
}

function listOf(...idList: number[]): { list: WaiterList<Node>; nodes: Node[] } {
  const list = new WaiterList<Node>();
  const nodes = idList.map(node);
  for (const n of nodes) list.push(n);
  return { list, nodes };
}

function expectUnlinked(n: Node): void {
  expect(n.list).toBeUndefined();
  expect(n.prev).toBeUndefined();
  expect(n.next).toBeUndefined();
}

/** Checks links both ways, `head`, `length` and `node.list` (invariants 1 and 2). */
function checkInvariants(list: WaiterList<Node>): void {
  const seen: Node[] = [];
  list.forEach((n) => {
    seen.push(n);
  });
  expect(list.length).toBe(seen.length);
  expect(list.head).toBe(seen[0]);
  expect(list.tail).toBe(seen[seen.length - 1]);
  for (let i = 0; i < seen.length; i++) {
    const n = seen[i]!;
    expect(n.list).toBe(list);
    expect(n.prev).toBe(seen[i - 1]);
    expect(n.next).toBe(seen[i + 1]);
  }
}

describe('WaiterList', () => {
  it('starts empty', () => {
    const list = new WaiterList<Node>();
    expect(list.length).toBe(0);
    expect(list.head).toBeUndefined();
    expect(list.tail).toBeUndefined();
    expect(list.shift()).toBeUndefined();
    expect(list.drain()).toEqual([]);
    expect(ids(list)).toEqual([]);
  });

  it('push appends at the tail and links the node to the list', () => {
    const { list, nodes } = listOf(1, 2, 3);
    expect(list.length).toBe(3);
    expect(list.head).toBe(nodes[0]);
    expect(list.tail).toBe(nodes[2]);
    expect(ids(list)).toEqual([1, 2, 3]);
    checkInvariants(list);
  });

  it('tail follows pushes, removals of the tail, shift of the last node and drain', () => {
    const { list, nodes } = listOf(1, 2);
    expect(list.tail).toBe(nodes[1]);
    list.remove(nodes[1]!);
    expect(list.tail).toBe(nodes[0]);
    list.shift();
    expect(list.tail).toBeUndefined();
    const three = node(3);
    list.push(three);
    expect(list.head).toBe(three);
    expect(list.tail).toBe(three);
    list.push(node(4));
    list.drain();
    expect(list.tail).toBeUndefined();
  });

  it('shift removes the oldest node and unlinks it', () => {
    const { list, nodes } = listOf(1, 2, 3);
    const first = list.shift();
    expect(first).toBe(nodes[0]);
    expectUnlinked(nodes[0]!);
    expect(list.length).toBe(2);
    expect(list.head).toBe(nodes[1]);
    expect(nodes[1]!.prev).toBeUndefined();
    checkInvariants(list);
    expect(list.shift()?.id).toBe(2);
    expect(list.shift()?.id).toBe(3);
    expect(list.shift()).toBeUndefined();
    expect(list.length).toBe(0);
    expect(list.head).toBeUndefined();
  });

  describe('remove', () => {
    it('removes the head', () => {
      const { list, nodes } = listOf(1, 2, 3);
      expect(list.remove(nodes[0]!)).toBe(true);
      expectUnlinked(nodes[0]!);
      expect(ids(list)).toEqual([2, 3]);
      expect(list.head).toBe(nodes[1]);
      checkInvariants(list);
    });

    it('removes a middle node', () => {
      const { list, nodes } = listOf(1, 2, 3);
      expect(list.remove(nodes[1]!)).toBe(true);
      expectUnlinked(nodes[1]!);
      expect(ids(list)).toEqual([1, 3]);
      expect(nodes[0]!.next).toBe(nodes[2]);
      expect(nodes[2]!.prev).toBe(nodes[0]);
      checkInvariants(list);
    });

    it('removes the tail, and a later push links after the new tail', () => {
      const { list, nodes } = listOf(1, 2, 3);
      expect(list.remove(nodes[2]!)).toBe(true);
      expectUnlinked(nodes[2]!);
      expect(ids(list)).toEqual([1, 2]);
      const four = node(4);
      list.push(four);
      expect(four.prev).toBe(nodes[1]);
      expect(ids(list)).toEqual([1, 2, 4]);
      checkInvariants(list);
    });

    it('removes the only node, leaving an empty list that can be reused', () => {
      const { list, nodes } = listOf(1);
      expect(list.remove(nodes[0]!)).toBe(true);
      expect(list.length).toBe(0);
      expect(list.head).toBeUndefined();
      const two = node(2);
      list.push(two);
      expect(list.head).toBe(two);
      expect(two.prev).toBeUndefined();
      checkInvariants(list);
    });

    it('removing twice is a no-op that returns false', () => {
      const { list, nodes } = listOf(1, 2, 3);
      expect(list.remove(nodes[1]!)).toBe(true);
      expect(list.remove(nodes[1]!)).toBe(false);
      expect(list.length).toBe(2);
      expect(ids(list)).toEqual([1, 3]);
      checkInvariants(list);
    });

    it('returns false for a node that was never pushed', () => {
      const { list } = listOf(1, 2);
      expect(list.remove(node(9))).toBe(false);
      expect(list.length).toBe(2);
      checkInvariants(list);
    });

    it('returns false for a node of a different list and leaves both lists intact', () => {
      const a = listOf(1, 2, 3);
      const b = listOf(4, 5);
      expect(b.list.remove(a.nodes[1]!)).toBe(false);
      expect(a.nodes[1]!.list).toBe(a.list);
      expect(ids(a.list)).toEqual([1, 2, 3]);
      expect(ids(b.list)).toEqual([4, 5]);
      expect(a.list.length).toBe(3);
      expect(b.list.length).toBe(2);
      checkInvariants(a.list);
      checkInvariants(b.list);
    });

    it('a removed node can join another list', () => {
      const a = listOf(1, 2);
      const b = listOf(3);
      a.list.remove(a.nodes[0]!);
      b.list.push(a.nodes[0]!);
      expect(ids(a.list)).toEqual([2]);
      expect(ids(b.list)).toEqual([3, 1]);
      expect(a.list.remove(a.nodes[0]!)).toBe(false);
      expect(b.list.remove(a.nodes[0]!)).toBe(true);
      checkInvariants(a.list);
      checkInvariants(b.list);
    });

    it('after shift, removing the shifted node is a no-op', () => {
      const { list, nodes } = listOf(1, 2);
      list.shift();
      expect(list.remove(nodes[0]!)).toBe(false);
      expect(list.length).toBe(1);
      checkInvariants(list);
    });
  });

  describe('drain', () => {
    it('returns every node oldest first and unlinks them all', () => {
      const { list, nodes } = listOf(1, 2, 3, 4);
      list.remove(nodes[1]!);
      const drained = list.drain();
      expect(drained.map((n) => n.id)).toEqual([1, 3, 4]);
      for (const n of nodes) expectUnlinked(n);
      expect(list.length).toBe(0);
      expect(list.head).toBeUndefined();
      expect(ids(list)).toEqual([]);
    });

    it('leaves nodes that later removes ignore, and a list that can be reused', () => {
      const { list, nodes } = listOf(1, 2);
      list.drain();
      expect(list.remove(nodes[0]!)).toBe(false);
      expect(list.length).toBe(0);
      list.push(nodes[1]!);
      expect(ids(list)).toEqual([2]);
      checkInvariants(list);
    });
  });

  it('forEach visits oldest first, exactly once each', () => {
    const { list } = listOf(5, 3, 8, 1);
    const visited: number[] = [];
    list.forEach((n) => {
      visited.push(n.id);
    });
    expect(visited).toEqual([5, 3, 8, 1]);
  });

  it('matches an array model under random push/shift/remove/drain', () => {
    type Op =
      | { kind: 'push' }
      | { kind: 'shift' }
      | { kind: 'remove'; pick: number }
      | { kind: 'removeForeign'; pick: number }
      | { kind: 'drain' };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      { weight: 5, arbitrary: fc.constant({ kind: 'push' as const }) },
      { weight: 2, arbitrary: fc.constant({ kind: 'shift' as const }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }) },
      {
        weight: 1,
        arbitrary: fc.record({ kind: fc.constant('removeForeign' as const), pick: fc.nat() }),
      },
      { weight: 1, arbitrary: fc.constant({ kind: 'drain' as const }) },
    );
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const list = new WaiterList<Node>();
        const other = new WaiterList<Node>();
        const model: Node[] = [];
        const everyNode: Node[] = [];
        let nextId = 0;
        for (const o of ops) {
          switch (o.kind) {
            case 'push': {
              const n = node(nextId++);
              everyNode.push(n);
              list.push(n);
              model.push(n);
              break;
            }
            case 'shift':
              expect(list.shift()).toBe(model.shift());
              break;
            case 'remove': {
              // Any node ever created: live ones are removed, the rest are no-ops.
              if (everyNode.length === 0) break;
              const n = everyNode[o.pick % everyNode.length]!;
              const index = model.indexOf(n);
              expect(list.remove(n)).toBe(index >= 0);
              if (index >= 0) model.splice(index, 1);
              break;
            }
            case 'removeForeign': {
              if (model.length === 0) break;
              expect(other.remove(model[o.pick % model.length]!)).toBe(false);
              break;
            }
            case 'drain':
              expect(list.drain()).toEqual(model.splice(0));
              break;
          }
          checkInvariants(list);
          expect(ids(list)).toEqual(model.map((n) => n.id));
          for (const n of everyNode) if (!model.includes(n)) expectUnlinked(n);
          expect(other.length).toBe(0);
        }
      }),
      { numRuns: 300 },
    );
  });
});
