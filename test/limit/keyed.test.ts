/**
 * KeyedLimiter: one limiter per key made on demand, idle limiters forgotten (by `sweep()` and
 * automatically as the map grows), `maxKeys` with 'evict-lru' and 'reject', `delete`, no timers
 * for idle keys, and misuse. Token buckets on a ManualClock; nothing sleeps.
 */
import { describe, expect, it } from 'vitest';
import {
  KeyedLimiter,
  type KeyedLimiterOptions,
  KeyLimitError,
  type RateLimiter,
  SluiceError,
  TokenBucket,
} from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { flush } from '../support/clock.js';
import { thrown } from '../support/errors.js';
import { observe } from '../support/outcome.js';

/** 10 tokens per second (one every 100 ms), burst 2: refilled 200 ms after it is emptied. */
const RATE = 10;
const BURST = 2;
const REFILL_MS = 1000; // comfortably more than a full refill

function make(options: Partial<KeyedLimiterOptions<string>> = {}): {
  clock: ManualClock;
  keyed: KeyedLimiter<string>;
  created: string[];
  buckets: Map<string, TokenBucket>;
} {
  const clock = new ManualClock();
  const created: string[] = [];
  const buckets = new Map<string, TokenBucket>();
  const keyed = new KeyedLimiter<string>({
    create: (key) => {
      created.push(key);
      const bucket = new TokenBucket({ rate: RATE, burst: BURST, clock });
      buckets.set(key, bucket);
      return bucket;
    },
    ...options,
  });
  return { clock, keyed, created, buckets };
}

/** Empties a key's bucket (two tokens), so it is not idle until it refills. */
function drain(keyed: KeyedLimiter<string>, key: string): void {
  expect(keyed.tryTake(key).ok).toBe(true);
  expect(keyed.tryTake(key).ok).toBe(true);
}

// ---- one limiter per key ---------------------------------------------------------------------

describe('KeyedLimiter: one limiter per key', () => {
  it('makes a limiter with create(key) on first use, and reuses it after', () => {
    const { keyed, created, buckets } = make();
    expect(keyed.size).toBe(0);
    expect(created).toEqual([]);
    const a = keyed.get('a');
    expect(created).toEqual(['a']);
    expect(a).toBe(buckets.get('a'));
    expect(keyed.get('a')).toBe(a);
    keyed.tryTake('a');
    keyed.reserve('a');
    expect(created).toEqual(['a']);
    expect(keyed.size).toBe(1);
    keyed.tryTake('b');
    expect(created).toEqual(['a', 'b']);
    expect(keyed.size).toBe(2);
  });

  it('passes the key itself, of any type, to create', () => {
    const keys: unknown[] = [];
    const clock = new ManualClock();
    const objectKey = { tenant: 7 };
    const keyed = new KeyedLimiter<unknown>({
      create: (key) => {
        keys.push(key);
        return new TokenBucket({ rate: 1, burst: 1, clock });
      },
    });
    keyed.tryTake(objectKey);
    keyed.tryTake(42);
    keyed.tryTake(objectKey);
    expect(keys).toEqual([objectKey, 42]);
    expect(keys[0]).toBe(objectKey);
  });

  it('keeps keys independent: draining one leaves the others full', () => {
    const { keyed } = make();
    drain(keyed, 'a');
    const refused = keyed.tryTake('a');
    expect(refused.ok).toBe(false);
    expect(refused.ok === false && refused.retryAfterMs).toBe(100);
    expect(keyed.tryTake('b').ok).toBe(true);
    expect(keyed.tryTake('b').ok).toBe(true);
    expect(keyed.tryTake('b').ok).toBe(false);
    expect(keyed.tryTake('c', 2).ok).toBe(true);
  });

  it('tryTake, take and reserve pass n through to the key limiter', async () => {
    const { clock, keyed, buckets } = make();
    expect(keyed.tryTake('a', 2).ok).toBe(true);
    expect(buckets.get('a')!.available).toBe(0);
    const r = keyed.reserve('b', 2);
    expect(r.ok).toBe(true);
    expect(r.delayMs).toBe(0);
    expect(buckets.get('b')!.available).toBe(0);
    const t = observe(keyed.take('c', 2));
    await flush();
    expect(t.state).toBe('resolved');
    expect(buckets.get('c')!.available).toBe(0);
    expect(() => keyed.tryTake('d', 3)).toThrow(RangeError); // above the burst
    expect(clock.pendingTimers).toBe(0);
  });

  it("take waits in its own key's queue without holding up other keys", async () => {
    const { clock, keyed } = make();
    drain(keyed, 'a');
    const waiting = observe(keyed.take('a'));
    await flush();
    expect(waiting.state).toBe('pending');
    expect(keyed.tryTake('b').ok).toBe(true);
    const other = observe(keyed.take('b'));
    await flush();
    expect(other.state).toBe('resolved');
    await clock.advanceAsync(99);
    expect(waiting.state).toBe('pending');
    await clock.advanceAsync(1);
    expect(waiting.state).toBe('resolved');
    expect(clock.pendingTimers).toBe(0);
  });

  it('take passes signal and timeoutMs through', async () => {
    const { clock, keyed } = make();
    drain(keyed, 'a');
    const controller = new AbortController();
    const aborted = observe(keyed.take('a', 1, { signal: controller.signal }));
    controller.abort('stop');
    await flush();
    expect(aborted.state).toBe('rejected');
    expect(aborted.error).toBe('stop');
    const tooLong = observe(keyed.take('a', 1, { timeoutMs: 50 }));
    await flush();
    expect(tooLong.state).toBe('rejected');
    expect((tooLong.error as SluiceError).code).toBe('ERR_SLUICE_TIMEOUT');
    expect(clock.pendingTimers).toBe(0);
  });
});

// ---- forgetting idle limiters ----------------------------------------------------------------

describe('KeyedLimiter: idle limiters are forgotten', () => {
  it('sweep() forgets idle limiters; the key starts afresh on its next use', async () => {
    const { clock, keyed, created, buckets } = make();
    drain(keyed, 'a');
    keyed.get('b'); // never used: idle from the start
    expect(keyed.size).toBe(2);
    keyed.sweep();
    expect(keyed.size).toBe(1); // b was idle; a is empty
    const oldA = buckets.get('a');
    await clock.advanceAsync(REFILL_MS);
    keyed.sweep();
    expect(keyed.size).toBe(0);
    expect(keyed.get('a')).not.toBe(oldA);
    expect(created).toEqual(['a', 'b', 'a']);
  });

  it('keeps a partly empty bucket', async () => {
    const { clock, keyed } = make();
    keyed.tryTake('a'); // 1 of 2 left
    await clock.advanceAsync(50); // 1.5 of 2
    keyed.sweep();
    expect(keyed.size).toBe(1);
    await clock.advanceAsync(50); // full again
    keyed.sweep();
    expect(keyed.size).toBe(0);
  });

  it('keeps a limiter with a waiting caller', async () => {
    const { clock, keyed, buckets } = make();
    drain(keyed, 'a');
    const waiting = observe(keyed.take('a'));
    const bucket = buckets.get('a')!;
    keyed.sweep();
    expect(keyed.size).toBe(1);
    expect(keyed.get('a')).toBe(bucket);
    await clock.advanceAsync(100);
    expect(waiting.state).toBe('resolved');
    await clock.advanceAsync(REFILL_MS);
    keyed.sweep();
    expect(keyed.size).toBe(0);
  });

  it('keeps a limiter with an outstanding reservation', async () => {
    const { clock, keyed } = make();
    drain(keyed, 'a');
    const r = keyed.reserve('a');
    expect(r.delayMs).toBe(100);
    keyed.sweep();
    expect(keyed.size).toBe(1);
    await clock.advanceAsync(REFILL_MS);
    keyed.sweep();
    expect(keyed.size).toBe(0);
  });

  it('forgets idle limiters by itself as the map grows', async () => {
    const { clock, keyed } = make();
    for (let i = 0; i < 200; i++) keyed.tryTake(`k${i}`);
    // None idle yet: nothing may be dropped below maxKeys.
    expect(keyed.size).toBe(200);
    await clock.advanceAsync(REFILL_MS); // every bucket full again: all idle
    for (let i = 0; i < 300; i++) keyed.get(`new${i}`);
    // The sweeps that ran as the map grew must have dropped the 200 idle keys (and idle new ones).
    expect(keyed.size).toBeLessThan(300);
    keyed.sweep();
    expect(keyed.size).toBe(0);
  });

  it('size shrinks after many keys go idle, while busy keys stay', async () => {
    const { clock, keyed, buckets } = make();
    for (let i = 0; i < 100; i++) keyed.tryTake(`idle${i}`);
    await clock.advanceAsync(REFILL_MS);
    drain(keyed, 'busy');
    const busy = buckets.get('busy')!;
    const before = keyed.size;
    expect(before).toBe(101);
    // Grow the map until an automatic sweep has run (it runs once the map has doubled).
    for (let i = 0; i < 200 && keyed.size >= before; i++) keyed.tryTake(`fresh${i}`);
    expect(keyed.size).toBeLessThan(before);
    expect(keyed.get('busy')).toBe(busy);
  });

  it('holds no timer for idle keys', async () => {
    const { clock, keyed } = make();
    for (let i = 0; i < 50; i++) {
      keyed.tryTake(`k${i}`);
      keyed.reserve(`k${i}`);
    }
    expect(clock.pendingTimers).toBe(0);
    drain(keyed, 'w');
    const waiting = observe(keyed.take('w'));
    expect(clock.pendingTimers).toBe(1);
    await clock.advanceAsync(REFILL_MS);
    expect(waiting.state).toBe('resolved');
    expect(clock.pendingTimers).toBe(0);
    keyed.sweep();
    expect(keyed.size).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });
});

// ---- maxKeys ---------------------------------------------------------------------------------

describe("KeyedLimiter: maxKeys with onFull 'evict-lru' (the default)", () => {
  it('never holds more than maxKeys; drops the least recently used busy key', () => {
    const { keyed, created, buckets } = make({ maxKeys: 2 });
    drain(keyed, 'a');
    drain(keyed, 'b');
    const a = buckets.get('a')!;
    drain(keyed, 'c'); // full, none idle: a (least recently used) goes
    expect(keyed.size).toBe(2);
    expect(keyed.get('a')).not.toBe(a); // made afresh
    expect(keyed.tryTake('a').ok).toBe(true); // a full bucket again: the limit is reset
    expect(created).toEqual(['a', 'b', 'c', 'a']);
    expect(keyed.size).toBe(2);
  });

  it('a use refreshes recency', () => {
    const { keyed, buckets } = make({ maxKeys: 2 });
    drain(keyed, 'a');
    drain(keyed, 'b');
    const a = buckets.get('a')!;
    const b = buckets.get('b')!;
    expect(keyed.tryTake('a').ok).toBe(false); // a refused use still counts as a use
    drain(keyed, 'c'); // b is now least recently used
    expect(keyed.get('a')).toBe(a);
    expect(keyed.size).toBe(2);
    expect(keyed.get('b')).not.toBe(b);
  });

  it('reserve, take and get also refresh recency', async () => {
    for (const use of ['reserve', 'take', 'get'] as const) {
      const { keyed, buckets } = make({ maxKeys: 2 });
      drain(keyed, 'a');
      drain(keyed, 'b');
      const a = buckets.get('a')!;
      const b = buckets.get('b')!;
      if (use === 'reserve') keyed.reserve('a');
      else if (use === 'take') observe(keyed.take('a', 1, { timeoutMs: 1000 }));
      else keyed.get('a');
      drain(keyed, 'c');
      expect(keyed.get('a'), use).toBe(a);
      expect(keyed.get('b'), use).not.toBe(b);
    }
  });

  it('drops idle limiters before a busy least recently used one', async () => {
    const { keyed, buckets } = make({ maxKeys: 2 });
    drain(keyed, 'busy'); // least recently used, but not idle
    keyed.get('idle'); // made, never used: idle
    const busy = buckets.get('busy')!;
    drain(keyed, 'new');
    expect(keyed.size).toBe(2);
    expect(keyed.get('busy')).toBe(busy);
  });

  it('maxKeys 1 keeps just the latest key', () => {
    const { keyed, created } = make({ maxKeys: 1 });
    drain(keyed, 'a');
    drain(keyed, 'b');
    expect(keyed.size).toBe(1);
    expect(keyed.tryTake('a').ok).toBe(true); // a was dropped and starts afresh
    expect(created).toEqual(['a', 'b', 'a']);
  });

  it('a waiter on an evicted limiter still gets its turn (nothing hangs)', async () => {
    const { clock, keyed } = make({ maxKeys: 1 });
    drain(keyed, 'a');
    const waiting = observe(keyed.take('a'));
    drain(keyed, 'b'); // evicts a, waiter and all
    expect(keyed.size).toBe(1);
    await clock.advanceAsync(100);
    expect(waiting.state).toBe('resolved');
    expect(clock.pendingTimers).toBe(0);
  });
});

describe("KeyedLimiter: maxKeys with onFull 'reject'", () => {
  it('refuses a new key while the map is full of busy limiters', async () => {
    const { clock, keyed, created } = make({ maxKeys: 2, onFull: 'reject' });
    drain(keyed, 'a');
    drain(keyed, 'b');
    expect(keyed.tryTake('c')).toEqual({ ok: false, retryAfterMs: Number.POSITIVE_INFINITY });

    const taken = observe(keyed.take('c'));
    await flush();
    expect(taken.state).toBe('rejected');
    expect(taken.error).toBeInstanceOf(KeyLimitError);
    expect((taken.error as KeyLimitError).code).toBe('ERR_SLUICE_KEY_LIMIT');
    expect((taken.error as KeyLimitError).key).toBe('c');
    expect((taken.error as KeyLimitError).name).toBe('KeyLimitError');
    expect((taken.error as Error).message).toContain('2');

    const error = thrown(() => keyed.reserve('c'));
    expect(error).toBeInstanceOf(KeyLimitError);
    expect((error as KeyLimitError).code).toBe('ERR_SLUICE_KEY_LIMIT');

    expect(() => keyed.get('c')).toThrow(KeyLimitError);
    expect(created).toEqual(['a', 'b']);
    expect(keyed.size).toBe(2);
    expect(clock.pendingTimers).toBe(0);
  });

  it('take reports the refusal as a rejection, not a synchronous throw', async () => {
    const { keyed } = make({ maxKeys: 1, onFull: 'reject' });
    drain(keyed, 'a');
    let promise: Promise<void> | undefined;
    expect(() => {
      promise = keyed.take('b');
    }).not.toThrow();
    await expect(promise).rejects.toBeInstanceOf(KeyLimitError);
  });

  it('known keys keep working while new ones are refused', async () => {
    const { clock, keyed } = make({ maxKeys: 1, onFull: 'reject' });
    drain(keyed, 'a');
    expect(keyed.tryTake('b').ok).toBe(false);
    const waiting = observe(keyed.take('a'));
    await clock.advanceAsync(100);
    expect(waiting.state).toBe('resolved');
  });

  it('admits a new key once a limiter in the map has gone idle', async () => {
    const { clock, keyed, created } = make({ maxKeys: 2, onFull: 'reject' });
    drain(keyed, 'a');
    drain(keyed, 'b');
    expect(keyed.tryTake('c').ok).toBe(false);
    await clock.advanceAsync(REFILL_MS);
    expect(keyed.tryTake('c').ok).toBe(true);
    expect(created).toEqual(['a', 'b', 'c']);
    expect(keyed.size).toBeLessThanOrEqual(2);
  });

  it('a KeyLimitError is a SluiceError, like every error sluice rejects a failed call with', async () => {
    // errors.ts: SluiceError is the "base class of every error sluice creates for a failed
    // operation"; TimeoutError and the channel errors extend it.
    const { keyed } = make({ maxKeys: 1, onFull: 'reject' });
    drain(keyed, 'a');
    const error = await keyed.take('b').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyLimitError);
    expect(error).toBeInstanceOf(SluiceError);
  });
});

// ---- delete ----------------------------------------------------------------------------------

describe('KeyedLimiter: delete', () => {
  it('forgets a key: true if it was there, and its next use starts afresh', () => {
    const { keyed, created } = make();
    drain(keyed, 'a');
    expect(keyed.tryTake('a').ok).toBe(false);
    expect(keyed.delete('a')).toBe(true);
    expect(keyed.size).toBe(0);
    expect(keyed.delete('a')).toBe(false);
    expect(keyed.delete('never')).toBe(false);
    expect(keyed.tryTake('a').ok).toBe(true);
    expect(created).toEqual(['a', 'a']);
  });

  it('makes room under maxKeys', () => {
    const { keyed } = make({ maxKeys: 1, onFull: 'reject' });
    drain(keyed, 'a');
    expect(keyed.tryTake('b').ok).toBe(false);
    keyed.delete('a');
    expect(keyed.tryTake('b').ok).toBe(true);
  });
});

// ---- misuse ----------------------------------------------------------------------------------

describe('KeyedLimiter: misuse throws at construction, naming the value', () => {
  const construct = (options: unknown): KeyedLimiter<string> =>
    new KeyedLimiter(options as KeyedLimiterOptions<string>);
  const create = (): RateLimiter =>
    new TokenBucket({ rate: 1, burst: 1, clock: new ManualClock() });

  it('no options, or options that are not an object', () => {
    expect(() => construct(undefined)).toThrow(TypeError);
    const error = thrown(() => construct('x'));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toContain('got `"x"` (string)');
  });

  it.each([
    ['missing', undefined, 'got `undefined` (undefined)'],
    ['a number', 5, 'got `5` (number)'],
    ['an object', {}, 'got `{}` (object)'],
  ])('create that is %s', (_name, value, fragment) => {
    const error = thrown(() => construct({ create: value }));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toContain('`create`');
    expect((error as Error).message).toContain(fragment);
  });

  it.each([
    ['0', 0, 'got `0` (number)'],
    ['1.5', 1.5, 'got `1.5` (number)'],
    ['-1', -1, 'got `-1` (number)'],
    ['NaN', Number.NaN, 'got `NaN` (number)'],
    ['"10"', '10', 'got `"10"` (string)'],
  ])('maxKeys %s', (_name, maxKeys, fragment) => {
    const error = thrown(() => construct({ create, maxKeys }));
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toContain('`maxKeys`');
    expect((error as Error).message).toContain(fragment);
  });

  it.each([
    ["'drop'", 'drop', 'got `"drop"` (string)'],
    ["'EVICT-LRU'", 'EVICT-LRU', 'got `"EVICT-LRU"` (string)'],
    ['1', 1, 'got `1` (number)'],
  ])('onFull %s', (_name, onFull, fragment) => {
    const error = thrown(() => construct({ create, onFull }));
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toContain('`onFull`');
    expect((error as Error).message).toContain("'evict-lru', 'reject'");
    expect((error as Error).message).toContain(fragment);
  });

  it('accepts the documented options', () => {
    expect(construct({ create }).size).toBe(0);
    expect(construct({ create, maxKeys: 1, onFull: 'reject' }).size).toBe(0);
    expect(construct({ create, maxKeys: 1, onFull: 'evict-lru' }).size).toBe(0);
    expect(construct({ create, maxKeys: undefined, onFull: undefined }).size).toBe(0);
  });
});
