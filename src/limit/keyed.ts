/**
 * KeyedLimiter: one limiter per key (user, tenant, host), made on first use.
 *
 * No timer runs per key or for the map: an idle limiter (a full bucket, an empty window, nobody
 * waiting) holds nothing a new one would not, so it is forgotten by a sweep that runs when the
 * map has doubled since the last one. The map never holds more than `maxKeys` limiters: when it
 * is full, a new key replaces the least recently used limiter if that one is idle, and
 * otherwise `onFull` decides.
 *
 * Invariants:
 * 1. `size <= maxKeys`.
 * 2. Map order is least recently used first (a use moves the key to the end).
 */
import { SluiceError } from '../errors.js';
import { describe } from '../internal/describe.js';
import { checkOneOf, checkOptions } from '../internal/validate.js';
import type { RateLimiter, Reservation, TakeOptions, TakeResult } from './types.js';

const POLICIES = ['evict-lru', 'reject'] as const;

/**
 * What happens when a new key arrives, the map holds `maxKeys` limiters and the least recently
 * used one is not idle:
 * - `evict-lru` (default): the least recently used limiter is dropped. Its key starts afresh
 *   when it returns (a full bucket again), so the limit can be exceeded for that key once.
 * - `reject`: the new key is refused: `tryTake` returns `{ ok: false, retryAfterMs: Infinity }`,
 *   `take` and `reserve` throw a `KeyLimitError`.
 */
export type KeyOverflowPolicy = (typeof POLICIES)[number];

/** Options for {@link KeyedLimiter}. */
export interface KeyedLimiterOptions<K> {
  /** Makes the limiter for a key the first time it is used (or after it was forgotten). */
  readonly create: (key: K) => RateLimiter;
  /** The most limiters kept at once: an integer from 1 up. Default 10,000. */
  readonly maxKeys?: number | undefined;
  /** Default `'evict-lru'`. */
  readonly onFull?: KeyOverflowPolicy | undefined;
}

/** A new key was refused because the map is full and nothing in it is idle. */
export class KeyLimitError extends SluiceError {
  declare readonly code: 'ERR_SLUICE_KEY_LIMIT';
  /** The key that was refused. */
  readonly key: unknown;

  constructor(key: unknown, maxKeys: number) {
    super(
      'ERR_SLUICE_KEY_LIMIT',
      `No room for a limiter for a new key: ${maxKeys} keys are in use and none is idle`,
    );
    this.key = key;
  }
}

/**
 * One rate limiter per key, created on demand.
 *
 * @example
 * ```ts
 * const perUser = new KeyedLimiter<string>({
 *   create: () => new TokenBucket({ rate: 10, burst: 20 }),
 * });
 * if (!perUser.tryTake(userId).ok) return tooManyRequests();
 * ```
 */
export class KeyedLimiter<K> {
  readonly #create: (key: K) => RateLimiter;
  readonly #maxKeys: number;
  readonly #onFull: KeyOverflowPolicy;
  readonly #limiters = new Map<K, RateLimiter>();
  #sweepAt = 64;
  /** New keys since the last sweep. */
  #inserts = 0;

  /** Throws a TypeError or RangeError naming the value for a bad option. */
  constructor(options: KeyedLimiterOptions<K>) {
    if (options === undefined) throw new TypeError('Expected an options object with create');
    checkOptions('options', options);
    if (typeof options.create !== 'function') {
      throw new TypeError(`Expected \`create\` to be a function, got ${describe(options.create)}`);
    }
    const maxKeys = options.maxKeys ?? 10_000;
    if (!(typeof maxKeys === 'number' && Number.isInteger(maxKeys) && maxKeys >= 1)) {
      throw new RangeError(
        `Expected \`maxKeys\` to be an integer from 1 up, got ${describe(maxKeys)}`,
      );
    }
    this.#create = options.create;
    this.#maxKeys = maxKeys;
    this.#onFull = checkOneOf('onFull', options.onFull ?? 'evict-lru', POLICIES);
  }

  /** Limiters held now. */
  get size(): number {
    return this.#limiters.size;
  }

  /** The limiter for `key`, made if needed (a `KeyLimitError` if refused under `reject`). */
  get(key: K): RateLimiter {
    const limiters = this.#limiters;
    let limiter = limiters.get(key);
    if (limiter !== undefined) {
      limiters.delete(key); // move to the most recently used end
      limiters.set(key, limiter);
      return limiter;
    }
    if (limiters.size >= this.#sweepAt) this.sweep();
    if (limiters.size >= this.#maxKeys) this.#makeRoom(key);
    this.#inserts++;
    limiter = this.#create(key);
    limiters.set(key, limiter);
    return limiter;
  }

  /** `tryTake` on the key's limiter; a refused new key reads as `retryAfterMs: Infinity`. */
  tryTake(key: K, n?: number): TakeResult {
    let limiter: RateLimiter;
    try {
      limiter = this.get(key);
    } catch (error) {
      if (error instanceof KeyLimitError) return { ok: false, retryAfterMs: Infinity };
      throw error;
    }
    return limiter.tryTake(n);
  }

  /** `take` on the key's limiter: waits its turn among that key's callers. */
  take(key: K, n?: number, options?: TakeOptions): Promise<void> {
    let limiter: RateLimiter;
    try {
      limiter = this.get(key);
    } catch (error) {
      return Promise.reject(error);
    }
    return limiter.take(n, options);
  }

  /** `reserve` on the key's limiter. */
  reserve(key: K, n?: number): Reservation {
    return this.get(key).reserve(n);
  }

  /** Forgets the limiter of `key` (its next use starts afresh). */
  delete(key: K): boolean {
    return this.#limiters.delete(key);
  }

  /** Forgets every idle limiter. Runs by itself as the map grows; callable at any time. */
  sweep(): void {
    for (const [key, limiter] of this.#limiters) {
      if (limiter.idle) this.#limiters.delete(key);
    }
    this.#sweepAt = Math.max(64, this.#limiters.size * 2);
    this.#inserts = 0;
  }

  /**
   * The map is full. The least recently used limiter is the likeliest to be idle: if it is,
   * it goes. Otherwise sweep for idle ones — at most once per maxKeys/8 new keys, so a map
   * that stays full of busy limiters costs O(1) per new key — and if none was idle, apply
   * `onFull`.
   */
  #makeRoom(key: K): void {
    const limiters = this.#limiters;
    const [oldestKey, oldest] = limiters.entries().next().value as [K, RateLimiter];
    if (oldest.idle) {
      limiters.delete(oldestKey);
      return;
    }
    if (this.#inserts >= this.#maxKeys / 8) {
      this.sweep();
      if (limiters.size < this.#maxKeys) return;
    }
    if (this.#onFull === 'reject') throw new KeyLimitError(key, this.#maxKeys);
    limiters.delete(oldestKey);
  }
}
