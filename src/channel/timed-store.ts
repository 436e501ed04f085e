/**
 * TimedStore: a channel's buffer when it needs more than a ring of items — priorities,
 * deadlines, CoDel load shedding or adaptive LIFO. It decides which item is served next and
 * which items must never be delivered; the channel decides everything else (room, waiters,
 * hooks, counters).
 *
 * Deadlines and CoDel are checked at dequeue, with no timer per item: before the channel
 * takes an item it calls `prepare`, which removes heads that have expired (deadline passed)
 * or that CoDel sheds, and reports them. An expired item deeper in a priority queue stays
 * until it reaches the head; it is never delivered.
 *
 * Invariants:
 * 1. `length` is the number of entries held; every entry is in exactly one queue.
 * 2. Adaptive LIFO only with arrival order (no priorities).
 * 3. After `prepare(now)` returned, the entry `shift()` takes is neither expired nor shed.
 */
import { describe } from '../internal/describe.js';
import {
  checkDuration,
  checkOneOf,
  checkOptionalFunction,
  checkPositive,
} from '../internal/validate.js';
import { CoDel, type CoDelOptions, RequestCoDel, type Shedder } from './codel.js';
import { type Entry, FifoEntries, PriorityEntries } from './queues.js';
import type { DropReason } from './types.js';

/** What a timed store is built from (checked by the channel). */
export interface TimedStoreConfig<T> {
  /** A number per item, higher served first (read once, at arrival). */
  readonly priority: ((item: T) => number) | undefined;
  /** `compare(a, b) < 0` when `a` is served first. Neither: arrival order. */
  readonly compare: ((a: T, b: T) => number) | undefined;
  /** Which overflow eviction the buffer must support besides serving. */
  readonly evicts: 'oldest' | 'lowest' | undefined;
  /** An item's deadline as a clock time, if it has one. */
  readonly deadline: ((item: T) => number | undefined) | undefined;
  /** How long an item may wait in the buffer (`Infinity`: no limit). */
  readonly maxWaitMs: number;
  /** CoDel's target, interval and variant, or `undefined` for no shedding. */
  readonly codel:
    | { readonly targetMs: number; readonly intervalMs: number; readonly mode: 'rfc' | 'requests' }
    | undefined;
  /** Serve newest first while a standing queue exists (arrival order only). */
  readonly adaptiveLifo: boolean;
  /** The oldest item's wait that counts as a standing queue, for adaptive LIFO. */
  readonly standingMs: number;
}

export class TimedStore<T> {
  readonly #queue: FifoEntries<T> | PriorityEntries<T>;
  readonly #config: TimedStoreConfig<T>;
  readonly #codel: Shedder | undefined;
  #seq = 0;
  /** Set by `prepare`: whether `shift` takes the newest entry (adaptive LIFO). */
  #newest = false;

  constructor(config: TimedStoreConfig<T>) {
    this.#config = config;
    const needs = { lowest: config.evicts === 'lowest', oldest: config.evicts === 'oldest' };
    this.#queue =
      config.compare !== undefined
        ? new PriorityEntries<T>({ compare: config.compare }, needs)
        : config.priority !== undefined
          ? new PriorityEntries<T>({ byRank: true }, needs)
          : new FifoEntries<T>();
    this.timed =
      config.deadline !== undefined ||
      config.maxWaitMs !== Number.POSITIVE_INFINITY ||
      config.codel !== undefined ||
      config.adaptiveLifo;
    this.#codel =
      config.codel === undefined
        ? undefined
        : config.codel.mode === 'requests'
          ? new RequestCoDel(config.codel.targetMs, config.codel.intervalMs)
          : new CoDel(config.codel.targetMs, config.codel.intervalMs);
  }

  /** True when time matters (deadlines, CoDel, adaptive LIFO): otherwise no clock is read. */
  readonly timed: boolean;

  get length(): number {
    return this.#queue.length;
  }

  /** True when items carry their own deadline (checked on arrival). */
  get checksArrival(): boolean {
    return this.#config.deadline !== undefined;
  }

  /** The clock time after which `item`, accepted `now`, must not be delivered. */
  deadlineOf(item: T, now: number): number {
    const own = this.#config.deadline?.(item);
    const byWait = now + this.#config.maxWaitMs;
    return own === undefined || own > byWait ? byWait : own;
  }

  /** True if `item` carries a deadline that has already passed at `now`. */
  expiredOnArrival(item: T, now: number): boolean {
    const own = this.#config.deadline?.(item);
    return own !== undefined && own < now;
  }

  /** Adds `item`, accepted at `now`, with its deadline. */
  push(item: T, now: number, deadline: number): void {
    if (this.#queue.length === 0) this.#codel?.arrivedEmpty?.(now);
    const rank = this.#config.priority?.(item) ?? 0;
    this.#queue.push({
      item,
      rank,
      seq: this.#seq++,
      enqueuedAt: now,
      deadline,
      pos: [-1, -1, -1],
    });
  }

  /**
   * Removes the heads that must not be delivered — expired ones, and (when `shed`, i.e. an item
   * is about to be taken) those CoDel sheds — and appends them to `drops` with their reason.
   * Afterwards the next `shift` delivers.
   */
  prepare(now: number, drops: [T, DropReason][], shed: boolean): void {
    const queue = this.#queue;
    if (this.#config.adaptiveLifo && queue instanceof FifoEntries) {
      // Serving the newest while the queue stands leaves old items at the other end: purge the
      // expired ones there too, so they do not hold places.
      for (let oldest = queue.peekOldest(); oldest !== undefined && oldest.deadline < now; ) {
        drops.push([queue.removeOldest().item, 'expired']);
        oldest = queue.peekOldest();
      }
    }
    for (;;) {
      const entry = this.#next(now);
      if (entry === undefined) {
        if (shed) this.#codel?.emptied();
        return;
      }
      if (entry.deadline < now) {
        drops.push([this.#remove(entry), 'expired']);
        continue;
      }
      const codel = this.#codel;
      if (shed && codel?.shed(now - entry.enqueuedAt, now, this.#queue.length - 1)) {
        drops.push([this.#remove(entry), 'shed']);
        continue;
      }
      return;
    }
  }

  /** Takes the entry chosen by the last `prepare` (the caller checked `length`). */
  shift(): T {
    const queue = this.#queue;
    const entry =
      this.#newest && queue instanceof FifoEntries ? queue.popNewest() : queue.shiftNext();
    return entry.item;
  }

  /** `drop-oldest`: removes the entry that arrived first. */
  evictOldest(): T {
    return this.#queue.removeOldest().item;
  }

  /**
   * `drop-lowest` with `incoming` arriving into a full buffer: returns the buffered item to
   * evict, or `undefined` when `incoming` itself ranks lowest (it is the one discarded).
   * Among equal priorities the older one goes, so a buffered equal is evicted.
   */
  evictLowest(incoming: T, now: number): { evicted: T } | undefined {
    const queue = this.#queue as PriorityEntries<T>;
    const lowest = queue.peekLowest() as Entry<T>;
    const probe: Entry<T> = {
      item: incoming,
      rank: this.#config.priority?.(incoming) ?? 0,
      seq: this.#seq,
      enqueuedAt: now,
      deadline: Number.POSITIVE_INFINITY,
      pos: [-1, -1, -1],
    };
    if (queue.ranksBelow(probe, lowest)) return undefined;
    return { evicted: queue.removeLowest().item };
  }

  /** Removes every item, in serving order. */
  drain(): T[] {
    return this.#queue.drain().map((entry) => entry.item);
  }

  /** True if the internal structures are consistent (for invariant checks). */
  isValid(): boolean {
    const queue = this.#queue;
    return queue instanceof PriorityEntries ? queue.isValid() : true;
  }

  /** The entry to serve next; decides LIFO vs FIFO for adaptive LIFO. */
  #next(now: number): Entry<T> | undefined {
    const queue = this.#queue;
    if (this.#config.adaptiveLifo && queue instanceof FifoEntries) {
      // A standing queue: the oldest item has waited at least `standingMs`.
      const oldest = queue.peekOldest();
      const standing = oldest !== undefined && now - oldest.enqueuedAt >= this.#config.standingMs;
      this.#newest = standing;
      return standing ? queue.peekNewest() : oldest;
    }
    return queue.peekNext();
  }

  #remove(entry: Entry<T>): T {
    const queue = this.#queue;
    if (queue instanceof FifoEntries) {
      return (this.#newest ? queue.popNewest() : queue.shiftNext()).item;
    }
    queue.shiftNext(); // in a priority queue the head is `entry`
    return entry.item;
  }
}

/**
 * Reads the options that need a timed store and checks them, naming any bad value; returns
 * `undefined` when none is set (the channel then keeps a plain ring of items).
 */
export function timedStoreConfig<T>(options: {
  readonly overflow?: unknown;
  readonly priority?: unknown;
  readonly compare?: unknown;
  readonly maxWaitMs?: unknown;
  readonly deadline?: unknown;
  readonly codel?: unknown;
  readonly order?: unknown;
}): TimedStoreConfig<T> | undefined {
  const { priority, compare, maxWaitMs, deadline, codel, order } = options;
  if (
    priority === undefined &&
    compare === undefined &&
    maxWaitMs === undefined &&
    deadline === undefined &&
    (codel === undefined || codel === false) &&
    (order === undefined || order === 'fifo')
  ) {
    return undefined;
  }
  const byPriority = checkOptionalFunction<(item: T) => number>('priority', priority);
  const comparator = checkOptionalFunction<(a: T, b: T) => number>('compare', compare);
  if (byPriority !== undefined && comparator !== undefined) {
    throw new TypeError('Give `priority` or `compare`, not both');
  }
  const lifo = checkOneOf('order', order ?? 'fifo', ORDERS) === 'adaptive-lifo';
  if (lifo && (byPriority !== undefined || comparator !== undefined)) {
    throw new TypeError(
      "`order: 'adaptive-lifo'` needs arrival order: it cannot go with priorities",
    );
  }
  let codelConfig: TimedStoreConfig<T>['codel'];
  if (codel === true || (typeof codel === 'object' && codel !== null)) {
    const {
      targetMs = 5,
      intervalMs = 100,
      mode = 'rfc',
    } = codel === true ? {} : (codel as CoDelOptions);
    codelConfig = {
      targetMs: checkPositive('codel.targetMs', targetMs, 'milliseconds'),
      intervalMs: checkPositive('codel.intervalMs', intervalMs, 'milliseconds'),
      mode: checkOneOf('codel.mode', mode, CODEL_MODES),
    };
  } else if (codel !== undefined && codel !== false) {
    throw new TypeError(
      `Expected \`codel\` to be true or { targetMs?, intervalMs?, mode? }, got ${describe(codel)}`,
    );
  }
  return {
    priority: byPriority,
    compare: comparator,
    evicts:
      options.overflow === 'drop-oldest'
        ? 'oldest'
        : options.overflow === 'drop-lowest'
          ? 'lowest'
          : undefined,
    deadline: checkOptionalFunction<(item: T) => number | undefined>('deadline', deadline),
    maxWaitMs:
      maxWaitMs === undefined ? Number.POSITIVE_INFINITY : checkDuration('maxWaitMs', maxWaitMs),
    codel: codelConfig,
    adaptiveLifo: lifo,
    standingMs: codelConfig?.targetMs ?? 5,
  };
}

const ORDERS = ['fifo', 'adaptive-lifo'] as const;
const CODEL_MODES = ['rfc', 'requests'] as const;
