import { describe, expect, it } from 'vitest';
import { RingBuffer } from '../../src/internal/ring-buffer.js';

/** Reads the live items head first through `at`. */
function contents<T>(buffer: RingBuffer<T>): T[] {
  const out: T[] = [];
  for (let i = 0; i < buffer.length; i++) out.push(buffer.at(i));
  return out;
}

/** Every slot outside the live range must hold `undefined` (invariant 2). */
function deadSlots<T>(buffer: RingBuffer<T>): unknown[] {
  const out: unknown[] = [];
  for (let i = buffer.length; i < buffer.allocated; i++) out.push(buffer.at(i));
  return out;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

function filled(n: number, from = 0): RingBuffer<number> {
  const buffer = new RingBuffer<number>();
  for (let i = 0; i < n; i++) buffer.push(from + i);
  return buffer;
}

describe('RingBuffer', () => {
  describe('when new', () => {
    it('is empty and allocates nothing', () => {
      const buffer = new RingBuffer<number>();
      expect(buffer.length).toBe(0);
      expect(buffer.allocated).toBe(0);
      expect(buffer.peek()).toBeUndefined();
    });

    it('drains to an empty array and still allocates nothing', () => {
      const buffer = new RingBuffer<number>();
      expect(buffer.drain()).toEqual([]);
      expect(buffer.allocated).toBe(0);
      expect(buffer.length).toBe(0);
    });

    it('allocates 16 slots on the first push', () => {
      const buffer = new RingBuffer<string>();
      buffer.push('a');
      expect(buffer.allocated).toBe(16);
      expect(buffer.length).toBe(1);
      expect(buffer.peek()).toBe('a');
    });
  });

  describe('order', () => {
    it('shifts in FIFO order', () => {
      const buffer = filled(5);
      expect([buffer.shift(), buffer.shift(), buffer.shift()]).toEqual([0, 1, 2]);
      expect(buffer.length).toBe(2);
      expect(contents(buffer)).toEqual([3, 4]);
    });

    it('pops from the tail', () => {
      const buffer = filled(5);
      expect([buffer.pop(), buffer.pop()]).toEqual([4, 3]);
      expect(contents(buffer)).toEqual([0, 1, 2]);
      expect(buffer.peek()).toBe(0);
    });

    it('peek returns the head without removing it', () => {
      const buffer = filled(3, 10);
      expect(buffer.peek()).toBe(10);
      expect(buffer.peek()).toBe(10);
      expect(buffer.length).toBe(3);
      buffer.shift();
      expect(buffer.peek()).toBe(11);
    });

    it('at(i) counts from the head', () => {
      const buffer = filled(4, 100);
      buffer.shift();
      expect(buffer.at(0)).toBe(101);
      expect(buffer.at(2)).toBe(103);
    });

    it('wraps around the end of the array without growing', () => {
      const buffer = filled(16);
      for (let i = 0; i < 10; i++) buffer.shift();
      for (let i = 16; i < 26; i++) buffer.push(i);
      expect(buffer.allocated).toBe(16);
      expect(buffer.length).toBe(16);
      expect(contents(buffer)).toEqual(Array.from({ length: 16 }, (_, i) => i + 10));
      expect(buffer.peek()).toBe(10);
      expect(buffer.pop()).toBe(25);
      expect(buffer.shift()).toBe(10);
    });

    it('keeps order when it grows while wrapped', () => {
      const buffer = filled(16);
      for (let i = 0; i < 7; i++) buffer.shift();
      for (let i = 16; i < 23; i++) buffer.push(i); // full again, head at slot 7
      expect(buffer.allocated).toBe(16);
      buffer.push(23); // grows
      expect(buffer.allocated).toBe(32);
      expect(contents(buffer)).toEqual(Array.from({ length: 17 }, (_, i) => i + 7));
      expect(deadSlots(buffer).every((slot) => slot === undefined)).toBe(true);
    });

    it('pops across the wrap point', () => {
      const buffer = filled(16);
      for (let i = 0; i < 12; i++) buffer.shift();
      for (let i = 16; i < 20; i++) buffer.push(i); // tail wrapped to the front
      expect([buffer.pop(), buffer.pop(), buffer.pop(), buffer.pop(), buffer.pop()]).toEqual([
        19, 18, 17, 16, 15,
      ]);
      expect(contents(buffer)).toEqual([12, 13, 14]);
    });

    it('stores undefined and null items faithfully', () => {
      const buffer = new RingBuffer<number | null | undefined>();
      buffer.push(undefined);
      buffer.push(null);
      buffer.push(0);
      expect(buffer.length).toBe(3);
      expect(buffer.at(0)).toBeUndefined();
      expect(buffer.at(1)).toBeNull();
      expect(buffer.shift()).toBeUndefined();
      expect(buffer.length).toBe(2);
      expect(buffer.pop()).toBe(0);
      expect(buffer.shift()).toBeNull();
      expect(buffer.length).toBe(0);
    });

    it('returns the same object references it was given', () => {
      const a = { id: 'a' };
      const b = { id: 'b' };
      const buffer = new RingBuffer<{ id: string }>();
      buffer.push(a);
      buffer.push(b);
      expect(buffer.shift()).toBe(a);
      expect(buffer.pop()).toBe(b);
    });
  });

  describe('growth', () => {
    it('doubles when full: 16, 32, 64, 128', () => {
      const buffer = new RingBuffer<number>();
      const sizes = new Map<number, number>();
      for (let i = 1; i <= 129; i++) {
        buffer.push(i);
        sizes.set(i, buffer.allocated);
      }
      expect(sizes.get(1)).toBe(16);
      expect(sizes.get(16)).toBe(16);
      expect(sizes.get(17)).toBe(32);
      expect(sizes.get(32)).toBe(32);
      expect(sizes.get(33)).toBe(64);
      expect(sizes.get(64)).toBe(64);
      expect(sizes.get(65)).toBe(128);
      expect(sizes.get(128)).toBe(128);
      expect(sizes.get(129)).toBe(256);
      expect(contents(buffer)).toEqual(Array.from({ length: 129 }, (_, i) => i + 1));
    });

    it('only ever allocates powers of two', () => {
      const buffer = new RingBuffer<number>();
      for (let i = 0; i < 3000; i++) {
        buffer.push(i);
        if (i % 3 === 0) buffer.shift();
        expect(isPowerOfTwo(buffer.allocated)).toBe(true);
      }
      while (buffer.length > 0) {
        buffer.shift();
        expect(isPowerOfTwo(buffer.allocated)).toBe(true);
      }
    });
  });

  describe('shrinking', () => {
    it('keeps its size while it is filled and drained over and over (no churn)', () => {
      const buffer = new RingBuffer<number>();
      for (let cycle = 0; cycle < 20; cycle++) {
        for (let i = 0; i < 1000; i++) buffer.push(i);
        expect(buffer.allocated).toBe(1024);
        for (let i = 0; i < 1000; i++) expect(buffer.shift()).toBe(i);
        expect(buffer.allocated).toBe(1024);
      }
    });

    it('gives a burst back once traffic stays low: twice the recent peak, at least 16', () => {
      const buffer = filled(5000);
      expect(buffer.allocated).toBe(8192);
      const seen: number[] = [];
      while (buffer.length > 0) seen.push(buffer.shift());
      expect(seen).toEqual(Array.from({ length: 5000 }, (_, i) => i));
      // A trickle: at most 3 items at a time, for two review periods (4096 shifts each).
      for (let i = 0; i < 2 * 4096; i++) {
        buffer.push(i);
        buffer.push(i + 1);
        buffer.push(i + 2);
        buffer.shift();
        buffer.shift();
        buffer.shift();
        expect(buffer.allocated).toBeGreaterThanOrEqual(buffer.length);
      }
      expect(buffer.allocated).toBe(16);
    });

    it('shrinks to twice the peak seen since the last review, as a power of two', () => {
      const buffer = filled(1000); // 1024 slots; reviews every 1024 shifts
      while (buffer.length > 0) buffer.shift(); // the review that sees peak 1000 keeps 1024
      expect(buffer.allocated).toBe(1024);
      for (let i = 0; i < 1024; i++) {
        for (let k = 0; k < 40; k++) buffer.push(k);
        for (let k = 0; k < 40; k++) expect(buffer.shift()).toBe(k);
        if (buffer.allocated < 1024) break;
      }
      expect(buffer.allocated).toBe(128); // 2 · 40 → 128
    });

    it('does not shrink below 16 or release the array when emptied by shift or pop', () => {
      const buffer = filled(16);
      while (buffer.length > 8) buffer.shift();
      while (buffer.length > 0) buffer.pop();
      expect(buffer.allocated).toBe(16);
    });

    it('keeps its contents in order across a shrink while wrapped', () => {
      const buffer = filled(64); // 64 slots, full
      for (let i = 0; i < 40; i++) buffer.shift(); // head at 40
      for (let i = 64; i < 84; i++) buffer.push(i); // wraps to the front; 44 items
      const expected: number[] = Array.from({ length: 44 }, (_, i) => i + 40);
      let next = 84;
      // Keep 5 items in flight until a review shrinks the array.
      while (buffer.length > 5) expect(buffer.shift()).toBe(expected.shift());
      for (let i = 0; i < 200 && buffer.allocated === 64; i++) {
        buffer.push(next++);
        expect(buffer.shift()).toBe(expected.length > 0 ? expected.shift() : next - 6);
      }
      expect(buffer.allocated).toBe(16);
      const rest: number[] = [];
      while (buffer.length > 0) rest.push(buffer.shift());
      expect(rest).toEqual(Array.from({ length: 5 }, (_, i) => next - 5 + i));
    });

    it('shiftPush replaces the oldest with the newest in one step, wrapping', () => {
      const buffer = filled(16); // full: head 0
      for (let i = 16; i < 40; i++) expect(buffer.shiftPush(i)).toBe(i - 16);
      expect(buffer.length).toBe(16);
      expect(buffer.allocated).toBe(16);
      expect(contents(buffer)).toEqual(Array.from({ length: 16 }, (_, i) => i + 24));
    });
  });

  describe('released slots', () => {
    it('clears the slot of a shifted item', () => {
      const buffer = filled(3);
      buffer.shift();
      expect(buffer.at(-1)).toBeUndefined();
      expect(deadSlots(buffer)).toEqual(Array(14).fill(undefined));
    });

    it('clears the slot of a popped item', () => {
      const buffer = filled(3);
      buffer.pop();
      expect(buffer.at(2)).toBeUndefined();
      expect(deadSlots(buffer)).toEqual(Array(14).fill(undefined));
    });

    it('holds no dead references after growth and shrinking', () => {
      const buffer = new RingBuffer<object>();
      for (let i = 0; i < 300; i++) buffer.push({ i });
      for (let i = 0; i < 290; i++) buffer.shift();
      expect(buffer.length).toBe(10);
      expect(deadSlots(buffer).every((slot) => slot === undefined)).toBe(true);
    });
  });

  describe('drain', () => {
    it('returns every item head first and releases the array', () => {
      const buffer = filled(20);
      for (let i = 0; i < 5; i++) buffer.shift();
      const drained = buffer.drain();
      expect(drained).toEqual(Array.from({ length: 15 }, (_, i) => i + 5));
      expect(buffer.length).toBe(0);
      expect(buffer.allocated).toBe(0);
      expect(buffer.peek()).toBeUndefined();
    });

    it('returns wrapped contents in order', () => {
      const buffer = filled(16);
      for (let i = 0; i < 10; i++) buffer.shift();
      for (let i = 16; i < 20; i++) buffer.push(i);
      expect(buffer.drain()).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    });

    it('leaves a buffer that can be used again', () => {
      const buffer = filled(40);
      buffer.drain();
      buffer.push(7);
      buffer.push(8);
      expect(buffer.allocated).toBe(16);
      expect(buffer.shift()).toBe(7);
      expect(contents(buffer)).toEqual([8]);
    });
  });
});
