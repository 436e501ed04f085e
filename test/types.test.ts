/** Type-level checks of the public API (enforced by `npm run typecheck`), plus their runtime twins. */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { Channel, type SendResult } from '../src/index.js';

describe('public types', () => {
  it('a Channel<T> is assignable to Channel<unknown>, as arrays are', () => {
    const strings = new Channel<string>({ capacity: 1 });
    const anyChannel: Channel<unknown> = strings;
    expect(anyChannel.trySend('x')).toEqual({ ok: true });
  });

  it('send results narrow by ok and evicted', () => {
    const ch = new Channel<number>({ capacity: 1, overflow: 'drop-oldest' });
    ch.trySend(1);
    const r: SendResult<number> = ch.trySend(2);
    if (r.ok && 'evicted' in r) {
      expectTypeOf(r.evicted).toEqualTypeOf<number>();
      expect(r.evicted).toBe(1);
    } else {
      expect.unreachable('drop-oldest on a full channel reports the evicted item');
    }
  });

  it('drop policies require a capacity', () => {
    // @ts-expect-error a drop policy needs an explicit capacity
    expect(() => new Channel<number>({ overflow: 'drop-newest' })).toThrow(RangeError);
  });
});
