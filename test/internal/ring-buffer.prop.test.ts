import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RingBuffer } from '../../src/internal/ring-buffer.js';

type Op =
  | { kind: 'push'; count: number }
  | { kind: 'shift'; count: number }
  | { kind: 'pop'; count: number }
  | { kind: 'peek' }
  | { kind: 'at'; fraction: number }
  | { kind: 'drain' };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('push' as const), count: fc.nat(40) }) },
  // Bursts, so growth past several doublings and the shrink path both get exercised.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('push' as const), count: fc.nat(600) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('shift' as const), count: fc.nat(60) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('shift' as const), count: fc.nat(600) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('pop' as const), count: fc.nat(60) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('peek' as const) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('at' as const),
      fraction: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drain' as const) }) },
);

const MIN_SIZE = 16;

/** Checks the buffer against the model after every step. */
function check(
  buffer: RingBuffer<number>,
  model: number[],
  pushedSinceRelease: boolean,
  peak: number,
): void {
  expect(buffer.length).toBe(model.length);
  const allocated = buffer.allocated;
  // Invariant 3: nothing allocated until the first push (or again after drain).
  if (!pushedSinceRelease) expect(allocated).toBe(0);
  else {
    // Invariant 1: a power of two, at least MIN_SIZE.
    expect(allocated).toBeGreaterThanOrEqual(MIN_SIZE);
    expect(allocated & (allocated - 1)).toBe(0);
    // Room for everything, and never more than twice what the items need when growing…
    expect(allocated).toBeGreaterThanOrEqual(model.length);
    // …and never more than the largest length held since the last release needs.
    expect(allocated).toBeLessThanOrEqual(Math.max(MIN_SIZE, 2 ** Math.ceil(Math.log2(peak))));
  }
  expect(buffer.peek()).toBe(model[0]);
  for (let i = 0; i < model.length; i++) {
    if (buffer.at(i) !== model[i]) expect(buffer.at(i)).toBe(model[i]);
  }
  // Invariant 2: slots outside the live range hold undefined.
  for (let i = model.length; i < allocated; i++) {
    if (buffer.at(i) !== undefined) expect.fail(`slot ${i} past the tail still holds a value`);
  }
}

describe('RingBuffer (property)', () => {
  it('behaves like an array after every step of any push/shift/pop/peek/at/drain sequence', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const buffer = new RingBuffer<number>();
        const model: number[] = [];
        let next = 0;
        let pushedSinceRelease = false;
        let peak = 0;
        check(buffer, model, pushedSinceRelease, peak);
        for (const o of ops) {
          switch (o.kind) {
            case 'push':
              for (let i = 0; i < o.count; i++) {
                buffer.push(next);
                model.push(next++);
                pushedSinceRelease = true;
                peak = Math.max(peak, model.length);
              }
              break;
            case 'shift':
              for (let i = 0; i < o.count && model.length > 0; i++) {
                expect(buffer.shift()).toBe(model.shift());
              }
              break;
            case 'pop':
              for (let i = 0; i < o.count && model.length > 0; i++) {
                expect(buffer.pop()).toBe(model.pop());
              }
              break;
            case 'peek':
              expect(buffer.peek()).toBe(model[0]);
              break;
            case 'at':
              if (model.length > 0) {
                const index = Math.floor(o.fraction * model.length);
                expect(buffer.at(index)).toBe(model[index]);
              }
              break;
            case 'drain':
              expect(buffer.drain()).toEqual(model.splice(0));
              pushedSinceRelease = false;
              peak = 0;
              break;
          }
          check(buffer, model, pushedSinceRelease, peak);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('returns to the minimum allocation once a burst is consumed and traffic stays low', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3000 }),
        fc.array(fc.boolean(), { minLength: 3000, maxLength: 3000 }),
        fc.integer({ min: 1, max: 3 }),
        (size, fromTail, trickle) => {
          const buffer = new RingBuffer<number>();
          for (let i = 0; i < size; i++) buffer.push(i);
          expect(buffer.allocated).toBe(Math.max(MIN_SIZE, 2 ** Math.ceil(Math.log2(size))));
          for (let i = 0; buffer.length > 0; i++) {
            if (fromTail[i]) buffer.pop();
            else buffer.shift();
          }
          // Two review periods of low traffic (at most `trickle` items held at once).
          for (let i = 0; i < 2 * 4096; i++) {
            for (let k = 0; k < trickle; k++) buffer.push(k);
            for (let k = 0; k < trickle; k++) expect(buffer.shift()).toBe(k);
          }
          expect(buffer.allocated).toBe(MIN_SIZE);
        },
      ),
      { numRuns: 30 },
    );
  });
});
