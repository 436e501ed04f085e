/**
 * Channel: a bounded buffer between producers and consumers, after Go's `make(chan T, n)`.
 *
 * Invariants (checked by `assertInvariants()` after every step of the property tests):
 * 1. `size <= capacity`.
 * 2. Receivers wait only when there is nothing to take: the buffer is empty and no sender of
 *    another operation waits. (A `select` with a send and a receive case on the same channel
 *    may have both waiting; it never meets itself.)
 * 3. Senders wait only when there is no room: the buffer is full and no receiver of another
 *    operation waits. Plain senders wait only under `block`.
 * 4. Once closed, no sender waits; no receiver waits either (they were settled, and later ones
 *    find the closed state).
 * 5. Once destroyed, the buffer is empty.
 * 6. Conservation: `sent == received + dropped.evicted + dropped.discarded + dropped.expired +
 *    dropped.shed + size`.
 * 7. The state only advances: open → closed → destroyed.
 * 8. Items live in the plain ring (`#buffer`) or, when priorities, deadlines, CoDel or adaptive
 *    LIFO are on, in the timed store (`#store`); never in both. The plain path checks for a
 *    store only where it would otherwise fail (a full ring, an empty ring), so a plain channel
 *    pays nothing for those features.
 *
 * Every state change is one synchronous method: it mutates the buffer and the waiter lists,
 * then settles promises (which runs no user code synchronously), then calls `onDrop`. With a
 * timed store, the heads dropped before a take (expired, shed) are one such change of their
 * own, reported before the take proceeds; the take then looks again, since a hook may act.
 *
 * Diagnostics (./diagnostics.ts): a drop is published where `onDrop` is called, a wait's start
 * once its waiter is linked and armed (the call's last step), its end on a microtask queued
 * where the waiter is settled (`#cleanup`), so no subscriber runs inside a state change. Each
 * is behind one `hasSubscribers` read (the end: one field test), so a channel nobody observes
 * builds no message.
 */
import { type Clock, checkClock } from '../clock.js';
import { ChannelClosedError, ChannelFullError, TimeoutError } from '../errors.js';
import { checkSignal, disarm, listenForAbort } from '../internal/abort.js';
import { describe } from '../internal/describe.js';
import { invariant } from '../internal/invariant.js';
import { reportHookError } from '../internal/report.js';
import { RingBuffer } from '../internal/ring-buffer.js';
import {
  checkCount,
  checkDuration,
  checkOneOf,
  checkOptionalFunction,
  checkOptions,
} from '../internal/validate.js';
import { WaiterList } from '../internal/waiter-list.js';
import {
  type ChannelWaitMessage,
  type ChannelWaitOp,
  type ChannelWaitOutcome,
  DROP,
  WAIT,
} from './diagnostics.js';
import { TimedStore, timedStoreConfig } from './timed-store.js';
import type {
  ChannelOptions,
  ChannelState,
  ChannelStats,
  DropHandler,
  DropReason,
  NotSent,
  OverflowPolicy,
  ReceiveManyOptions,
  ReceiveResult,
  SendAllResult,
  SendOutcome,
  SendResult,
  Sent,
  SentEvicting,
  WaitOptions,
} from './types.js';
import {
  ITERATE,
  promiseFor,
  RECEIVE,
  ReceiveWaiter,
  received,
  type SelectRun,
  SendWaiter,
} from './waiters.js';

const OPEN = 0;
const CLOSED = 1;
const DESTROYED = 2;
const STATE_NAMES: readonly ChannelState[] = ['open', 'closed', 'destroyed'];

const POLICIES = ['block', 'drop-newest', 'drop-oldest', 'drop-lowest', 'reject'] as const;

const SENT: Sent = Object.freeze({ ok: true });
const RESOLVED_SENT: Promise<Sent> = Promise.resolve(SENT);
const EMPTY: ReceiveResult<never> = Object.freeze({ ok: false, reason: 'empty' });
const CLOSED_RESULT: ReceiveResult<never> = Object.freeze({ ok: false, reason: 'closed' });
const DONE: IteratorResult<never, undefined> = Object.freeze({ done: true, value: undefined });
const RESOLVED_DONE: Promise<IteratorResult<never, undefined>> = Promise.resolve(DONE);
/** What `#takeNow` returns when there is nothing to take (no item can be this symbol). */
const NONE: unique symbol = Symbol('none');
/** What `#accept` did with an item. */
const FULL = 0;
const ACCEPTED = 1;
const EXPIRED = 2;
const REFUSED_CLOSED = 3;

/** Hooks that `select` uses to poll and wait on channels without exposing them publicly. */
export interface ChannelInternals {
  canReceive(channel: Channel<unknown>): boolean;
  canSend(channel: Channel<unknown>): boolean;
  receiveNow(channel: Channel<unknown>): ReceiveResult<unknown>;
  sendNow(channel: Channel<unknown>, item: unknown): SendResult<unknown>;
  waitToReceive(channel: Channel<unknown>, run: SelectRun, index: number): ReceiveWaiter<unknown>;
  waitToSend(
    channel: Channel<unknown>,
    item: unknown,
    run: SelectRun,
    index: number,
  ): SendWaiter<unknown>;
  unlink(waiter: ReceiveWaiter<unknown> | SendWaiter<unknown>): void;
  /** One step of an iterator; a step that has to wait is owned by `iterator`. */
  next<T>(channel: Channel<T>, iterator: ChannelIterator<T>): Promise<IteratorResult<T, undefined>>;
  /** Ends every waiting step of `iterator` with done, consuming nothing. */
  cancel<T>(channel: Channel<T>, iterator: ChannelIterator<T>): void;
}

// Assigned in Channel's static block, which can see its private fields.
let internals: ChannelInternals | undefined;

/** The hooks `select` uses (module-internal; not exported from the package). */
export function channelInternals(): ChannelInternals {
  invariant(internals !== undefined, 'channel internals not initialised');
  return internals;
}

/**
 * A bounded channel: producers `send`, consumers `receive` or iterate, and the buffer between
 * them holds at most `capacity` items. What happens when it is full is the `overflow` policy.
 *
 * Most producers should use `send` and most consumers `for await (const item of channel)`.
 * `trySend` and `tryReceive` never wait and return result values.
 *
 * Ordering: items are received in the order they were accepted (FIFO). Waiting senders are
 * served in the order they started waiting, and so are waiting receivers.
 *
 * @example
 * ```ts
 * const ch = new Channel<number>({ capacity: 5 });
 * (async () => {
 *   for (let i = 0; i < 10; i++) await ch.send(i); // waits while 5 are buffered
 *   ch.close();
 * })();
 * for await (const item of ch) console.log(item); // 0 … 9, then the loop ends
 * ```
 */
export class Channel<T> implements AsyncIterable<T> {
  readonly #capacity: number;
  /** `capacity` for the plain ring, or -1 with a timed store (so the ring never takes an item). */
  readonly #ringCapacity: number;
  readonly #policy: OverflowPolicy;
  // Typed by method syntax so that Channel<T> stays assignable to Channel<unknown>, like arrays.
  readonly #hooks: { onDrop(item: T, reason: DropReason): void } | undefined;
  readonly #clock: Clock;
  readonly #buffer = new RingBuffer<T>();
  /**
   * Set when priorities, deadlines, CoDel or adaptive LIFO are on; then `#buffer` stays empty.
   * Typed `unknown` (its items are T) so that Channel<T> stays assignable to Channel<unknown>.
   */
  readonly #store: TimedStore<unknown> | undefined;
  readonly #senders = new WaiterList<SendWaiter<T>>();
  readonly #receivers = new WaiterList<ReceiveWaiter<T>>();
  #state = OPEN;
  #sent = 0;
  #received = 0;
  #refused = 0;
  #highWater = 0;
  readonly #dropped: Record<DropReason, number> = {
    overflow: 0,
    evicted: 0,
    discarded: 0,
    expired: 0,
    shed: 0,
  };
  #drained: Promise<void> | undefined;
  #resolveDrained: (() => void) | undefined;

  /**
   * Creates a channel. Throws a RangeError or TypeError naming any bad option: a capacity that
   * is not an integer ≥ 0 (≥ 1 and finite under a drop policy), an unknown `overflow`, an
   * `onDrop` that is not a function, a `clock` without `now`/`setTimer`/`clearTimer`.
   */
  constructor(options: ChannelOptions<T> = {}) {
    checkOptions('options', options);
    const { overflow, capacity } = options;
    this.#policy = checkOneOf('overflow', overflow === undefined ? 'block' : overflow, POLICIES);
    const drops = this.#policy !== 'block' && this.#policy !== 'reject';
    this.#capacity = drops
      ? checkCount('capacity', capacity, 1)
      : checkCount('capacity', capacity === undefined ? 0 : capacity, 0, true);
    const onDrop = checkOptionalFunction<DropHandler<T>>('onDrop', options.onDrop);
    this.#hooks = onDrop === undefined ? undefined : { onDrop };
    this.#clock = checkClock(options.clock);
    const config = timedStoreConfig<T>(options);
    if (
      this.#policy === 'drop-lowest' &&
      config?.compare === undefined &&
      config?.priority === undefined
    ) {
      throw new RangeError("`overflow: 'drop-lowest'` needs `priority` or `compare`");
    }
    this.#store =
      config === undefined ? undefined : (new TimedStore(config) as TimedStore<unknown>);
    this.#ringCapacity = this.#store === undefined ? this.#capacity : -1;
  }

  /** How many items the buffer holds at most. */
  get capacity(): number {
    return this.#capacity;
  }

  /** The overflow policy. */
  get overflow(): OverflowPolicy {
    return this.#policy;
  }

  /** Items buffered now (waiting senders' items are not counted). */
  get size(): number {
    return this.#size();
  }

  /** Senders waiting for room (including `select` send cases). */
  get waitingSenders(): number {
    return this.#senders.length;
  }

  /** Receivers waiting for an item (including iterators and `select` receive cases). */
  get waitingReceivers(): number {
    return this.#receivers.length;
  }

  /** True once `close()` or `destroy()` was called. */
  get isClosed(): boolean {
    return this.#state !== OPEN;
  }

  /** `'open'`, `'closed'` or `'destroyed'`. */
  get state(): ChannelState {
    return STATE_NAMES[this.#state] as ChannelState;
  }

  /**
   * Resolves once the channel is closed and its buffer is empty (every item was received,
   * or discarded by `destroy`). Never rejects.
   */
  get drained(): Promise<void> {
    if (this.#drained === undefined) {
      this.#drained = new Promise((resolve) => {
        this.#resolveDrained = resolve;
      });
      this.#checkDrained();
    }
    return this.#drained;
  }

  /**
   * Offers `item` without waiting.
   *
   * Returns `{ ok: true }` when it was buffered or handed to a waiting receiver. When the buffer
   * is full: under `drop-oldest`, `{ ok: true, evicted }` (the oldest item was discarded and
   * reported to `onDrop` as `'evicted'`); under `drop-newest`, `{ ok: false, reason: 'dropped',
   * value }` (reported to `onDrop` as `'overflow'`); under `block` and `reject`,
   * `{ ok: false, reason: 'full', value }`. On a closed channel, `{ ok: false, reason: 'closed',
   * value }`. Never throws for a full or closed channel.
   */
  trySend(item: T): SendResult<T> {
    if (this.#state !== OPEN) return notSent('closed', item);
    const accepted = this.#accept(item);
    if (accepted === ACCEPTED) return SENT;
    if (accepted === EXPIRED) return notSent('expired', item);
    return accepted === REFUSED_CLOSED ? notSent('closed', item) : this.#overflow(item);
  }

  /**
   * Sends `item`, waiting for room under the `block` policy.
   *
   * Resolves once the item is buffered or handed to a receiver, not when it is processed; with
   * capacity 0, once a receiver takes it. Under `drop-newest` and `drop-oldest` it never waits
   * and resolves with the same result `trySend` returns, so a drop is visible here too.
   *
   * Cancellation: if `signal` aborts (or `timeoutMs` passes) while waiting, the item was not
   * sent; the promise rejects with `signal.reason` untouched (or a `TimeoutError` carrying the
   * item). An already-aborted signal rejects without sending.
   *
   * Ordering: waiting senders are served first come, first served.
   *
   * Errors: `ChannelClosedError` (carrying the item) if the channel is closed before or while
   * waiting; `ChannelFullError` (carrying the item) under `reject` when full.
   */
  send(item: T, options?: WaitOptions): Promise<SendOutcome<T>> {
    if (options !== undefined) {
      checkOptions('options', options);
      const signal = checkSignal(options.signal);
      if (options.timeoutMs !== undefined) checkTimeout(options.timeoutMs);
      if (signal?.aborted) return Promise.reject(signal.reason);
    }
    if (this.#state !== OPEN) return Promise.reject(new ChannelClosedError(item));
    const accepted = this.#accept(item);
    if (accepted === ACCEPTED) return RESOLVED_SENT;
    if (accepted === EXPIRED) return Promise.resolve(notSent('expired', item) as SendOutcome<T>);
    if (accepted === REFUSED_CLOSED) return Promise.reject(new ChannelClosedError(item));
    if (this.#policy === 'block') return this.#waitToSend(item, options);
    if (this.#policy === 'reject') {
      this.#refused++;
      return Promise.reject(new ChannelFullError(item, this.#capacity));
    }
    return Promise.resolve(this.#overflow(item) as SendOutcome<T>);
  }

  /**
   * Takes an item without waiting: `{ ok: true, value }`, or `{ ok: false, reason: 'empty' }`,
   * or `{ ok: false, reason: 'closed' }` once the channel is closed and drained. With capacity
   * 0 it succeeds only when a sender is waiting.
   */
  tryReceive(): ReceiveResult<T> {
    const item = this.#takeNow();
    if (item !== NONE) return { ok: true, value: item };
    const sender = this.#takeSender();
    if (sender !== undefined) return { ok: true, value: sender.item };
    return this.#state === OPEN ? EMPTY : CLOSED_RESULT;
  }

  /**
   * Receives the next item, waiting for one if the channel is empty.
   *
   * Resolves with the oldest buffered item (or, with capacity 0, a waiting sender's item).
   *
   * Cancellation: if `signal` aborts (or `timeoutMs` passes) while waiting, nothing was
   * consumed; the promise rejects with `signal.reason` untouched (or a `TimeoutError`).
   *
   * Ordering: waiting receivers are served first come, first served.
   *
   * Errors: `ChannelClosedError` (without a value) once the channel is closed and drained.
   * To consume until close without handling that error, iterate with `for await`.
   */
  receive(options?: WaitOptions): Promise<T> {
    return this.#receive(RECEIVE, options) as Promise<T>;
  }

  /**
   * Receives up to `max` items at once, in order: the way to move many items with one await
   * instead of one per item.
   *
   * Waits like `receive` for the first item, then takes every item already there, up to `max`.
   * With `waitMs`, it keeps collecting for that long after the first item (or until `max`).
   * Resolves with 1 to `max` items; each was taken from the channel when it was added, so other
   * receivers never see them.
   *
   * Cancellation: if `signal` aborts or `timeoutMs` passes before the first item, the call
   * rejects with `signal.reason` (or a `TimeoutError`) and consumed nothing. Once it holds
   * items it never rejects: an abort, the channel closing or `waitMs` ending stops the
   * collecting, and it resolves with what it has — items are never lost.
   *
   * Errors: `ChannelClosedError` if the channel is closed and drained before any item; a
   * RangeError for a `max` that is not an integer from 1 up or a bad `waitMs`/`timeoutMs`.
   */
  receiveMany(max: number, options?: ReceiveManyOptions): Promise<T[]> {
    checkCount('max', max, 1);
    let signal: AbortSignal | undefined;
    let waitMs = 0;
    if (options !== undefined) {
      checkOptions('options', options);
      signal = checkSignal(options.signal);
      if (options.timeoutMs !== undefined) checkTimeout(options.timeoutMs);
      if (options.waitMs !== undefined) waitMs = checkDuration('waitMs', options.waitMs);
      if (signal?.aborted) return Promise.reject(signal.reason);
    }
    const batch: T[] = [];
    this.#takeInto(batch, max);
    if (batch.length === max || (batch.length > 0 && waitMs === 0)) return Promise.resolve(batch);
    return this.#fillBatch(batch, max, signal, options?.timeoutMs, waitMs);
  }

  /**
   * Sends every item in order, waiting for room as `send` does. Not atomic: other senders'
   * items may land between these when this call has to wait.
   *
   * Resolves with what happened to each item (`SendAllResult`): how many were sent, which were
   * dropped or evicted under a drop policy (also reported to `onDrop`), and — if the call
   * stopped early because the channel closed, was full under `reject`, the signal aborted or
   * `timeoutMs` passed — which items were not sent, handed back in order. It never rejects for
   * those expected outcomes, because the caller needs to know which items went in.
   *
   * Errors: a TypeError if `items` is not iterable, bad options as for `send` (thrown at once).
   */
  sendAll(items: Iterable<T>, options?: WaitOptions): Promise<SendAllResult<T>> {
    if (items === null || typeof (items as Iterable<T>)?.[Symbol.iterator] !== 'function') {
      throw new TypeError(`Expected \`items\` to be iterable, got ${describe(items)}`);
    }
    let signal: AbortSignal | undefined;
    if (options !== undefined) {
      checkOptions('options', options);
      signal = checkSignal(options.signal);
      if (options.timeoutMs !== undefined) checkTimeout(options.timeoutMs);
    }
    return this.#sendAll(Array.from(items), signal, options?.timeoutMs ?? Infinity);
  }

  /**
   * Iterates until the channel is closed and drained. Each step waits like `receive`.
   *
   * Breaking out of the loop does not close the channel: other consumers may share it, and
   * items left in it stay there. Close it yourself if this consumer owns it.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<T, undefined, undefined> {
    return new ChannelIterator(this, undefined);
  }

  /**
   * Like iterating the channel, with options: when `signal` aborts, the pending step rejects
   * with `signal.reason` (nothing is consumed) and the loop ends with that error.
   */
  iterate(options?: {
    readonly signal?: AbortSignal | undefined;
  }): AsyncIterableIterator<T, undefined, undefined> {
    checkOptions('options', options);
    return new ChannelIterator(this, checkSignal(options?.signal));
  }

  /**
   * Closes the channel gracefully. Idempotent.
   *
   * New sends fail with `ChannelClosedError` (`trySend`: `reason: 'closed'`) carrying their item.
   * Senders waiting now reject the same way, each with its own item. Buffered items can still be
   * received; after the last one, receivers reject with `ChannelClosedError` and iterators end.
   */
  close(): void {
    if (this.#state !== OPEN) return;
    this.#state = CLOSED;
    const senders = this.#senders.drain();
    const receivers = this.#receivers.drain();
    for (const sender of senders) this.#failSender(sender);
    for (const receiver of receivers) this.#closeReceiver(receiver);
    this.#checkDrained();
  }

  /**
   * Stops the channel at once: closes it, discards every buffered item and returns them,
   * oldest first. Each discarded item also goes to `onDrop(item, 'discarded')`. Waiting senders
   * reject with `ChannelClosedError` carrying their items; waiting receivers reject with
   * `ChannelClosedError`; iterators end. Idempotent: a second call returns `[]`. The items come
   * in serving order: oldest first, or by priority in a priority channel.
   */
  destroy(): T[] {
    if (this.#state === DESTROYED) return [];
    this.close();
    this.#state = DESTROYED;
    const items = this.#store === undefined ? this.#buffer.drain() : (this.#store.drain() as T[]);
    this.#dropped.discarded += items.length;
    this.#checkDrained();
    for (const item of items) this.#report(item, 'discarded');
    return items;
  }

  /** A snapshot of the channel's counters. */
  stats(): ChannelStats {
    return {
      sent: this.#sent,
      received: this.#received,
      refused: this.#refused,
      dropped: { ...this.#dropped },
      size: this.#size(),
      highWater: this.#highWater,
      capacity: this.#capacity,
      waitingSenders: this.#senders.length,
      waitingReceivers: this.#receivers.length,
      state: this.state,
    };
  }

  /**
   * Checks the invariants listed at the top of this file and throws an `InvariantError` if one
   * fails. Meant for tests (sluice's own and yours); cost is linear in the number of waiters.
   */
  assertInvariants(): void {
    const size = this.#size();
    invariant(this.#store === undefined || this.#buffer.length === 0, 'ring used with a store');
    invariant(this.#store?.isValid() ?? true, 'the timed store is inconsistent');
    invariant(size <= this.#capacity, () => `size ${size} > capacity ${this.#capacity}`);
    let senderRun: SelectRun | undefined | null = null;
    let plainSenders = 0;
    this.#senders.forEach((s) => {
      if (s.run === undefined) plainSenders++;
      senderRun = senderRun === null || senderRun === s.run ? s.run : undefined;
      invariant(!s.run?.done, 'a settled select still has a send waiter');
    });
    let receiversShareOneSelect = true;
    this.#receivers.forEach((r) => {
      invariant(!r.run?.done, 'a settled select still has a receive waiter');
      if (r.run === undefined || r.run !== senderRun) receiversShareOneSelect = false;
    });
    if (this.#receivers.length > 0) {
      invariant(size === 0, () => `receivers wait while ${size} items are buffered`);
      invariant(
        this.#senders.length === 0 || receiversShareOneSelect,
        'senders and receivers of different operations wait at once',
      );
    }
    if (this.#senders.length > 0) {
      invariant(size === this.#capacity, () => `senders wait while only ${size} are buffered`);
      invariant(plainSenders === 0 || this.#policy === 'block', 'plain sender waits off block');
    }
    if (this.#state !== OPEN) {
      invariant(this.#senders.length === 0, 'senders wait on a closed channel');
      invariant(this.#receivers.length === 0, 'receivers wait on a closed channel');
    }
    if (this.#state === DESTROYED) invariant(size === 0, 'a destroyed channel holds items');
    const { evicted, discarded, expired, shed } = this.#dropped;
    invariant(
      this.#sent === this.#received + evicted + discarded + expired + shed + size,
      () =>
        `conservation: sent ${this.#sent} != received ${this.#received} + evicted ${evicted} + discarded ${discarded} + expired ${expired} + shed ${shed} + size ${size}`,
    );
  }

  static {
    internals = {
      canReceive: (ch) => ch.#hasItem() || ch.#senders.length > 0 || ch.#state !== OPEN,
      canSend: (ch) =>
        ch.#state !== OPEN ||
        ch.#receivers.length > 0 ||
        ch.#size() < ch.#capacity ||
        (ch.#policy !== 'block' && ch.#policy !== 'reject'),
      receiveNow: (ch) => ch.tryReceive(),
      sendNow: (ch, item) => ch.trySend(item),
      waitToReceive(ch, run, index) {
        const waiter = new ReceiveWaiter<unknown>(RECEIVE, run, index);
        ch.#receivers.push(waiter);
        return waiter;
      },
      waitToSend(ch, item, run, index) {
        const waiter = new SendWaiter<unknown>(item, run, index);
        ch.#senders.push(waiter);
        return waiter;
      },
      unlink(waiter) {
        (waiter.list as WaiterList<typeof waiter> | undefined)?.remove(waiter);
      },
      next(ch, iterator) {
        if (iterator.signal === undefined) return ch.#step(iterator);
        return ch.#receive(ITERATE, { signal: iterator.signal }, iterator) as Promise<
          IteratorResult<never, undefined>
        >;
      },
      cancel(ch, iterator) {
        const owned: ReceiveWaiter<unknown>[] = [];
        ch.#receivers.forEach((w) => {
          if (w.owner === iterator) owned.push(w);
        });
        for (const w of owned) {
          ch.#receivers.remove(w);
          ch.#cleanup(w, 'cancelled');
          w.resolve(DONE);
        }
      },
    };
  }

  // ---- state changes -------------------------------------------------------------------

  /**
   * The open channel takes `item` if it can without any policy: a waiting receiver gets it
   * (a waiting receiver counts as room), or it goes into the buffer. False when full.
   */
  #accept(item: T): number {
    const buffer = this.#buffer;
    if (buffer.length >= this.#ringCapacity) {
      return this.#store === undefined ? this.#acceptWaiting(item) : this.#acceptTimed(item);
    }
    if (this.#receivers.length !== 0) return this.#acceptWaiting(item);
    buffer.push(item);
    this.#sent++;
    if (buffer.length > this.#highWater) this.#highWater = buffer.length;
    return ACCEPTED;
  }

  /** A full plain ring: only a waiting receiver can take the item (capacity 0 is always full). */
  #acceptWaiting(item: T): number {
    if (this.#receivers.length === 0) return FULL;
    this.#sent++;
    this.#received++;
    this.#deliver(this.#receivers.shift() as ReceiveWaiter<T>, item);
    return ACCEPTED;
  }

  /** `#accept` with a timed store: expiry on arrival, a waiting receiver, then room. */
  #acceptTimed(item: T): number {
    const store = this.#store as TimedStore<unknown>;
    if (this.#expiredOnArrival(item) !== undefined) return EXPIRED;
    if (this.#receivers.length !== 0) return this.#acceptWaiting(item);
    if (store.length >= this.#capacity) {
      // Expired heads free their places (waiting senders go first). CoDel is not consulted:
      // it acts only when an item is taken. The purge may run hooks, so decide again after.
      this.#prepare(store, false);
      if (this.#state !== OPEN) return REFUSED_CLOSED;
      if (this.#receivers.length !== 0) return this.#acceptWaiting(item);
      if (store.length >= this.#capacity) return FULL;
    }
    this.#storePush(item);
    return ACCEPTED;
  }

  #storePush(item: T): void {
    const store = this.#store as TimedStore<unknown>;
    const now = store.timed ? this.#clock.now() : 0;
    store.push(item, now, store.deadlineOf(item, now));
    this.#sent++;
    if (store.length > this.#highWater) this.#highWater = store.length;
  }

  /**
   * With a timed store, an item whose own deadline has already passed is accepted and at once
   * expired (`{ ok: false, reason: 'expired' }`, and `onDrop(item, 'expired')`); otherwise
   * `undefined`.
   */
  #expiredOnArrival(item: T): NotSent<T> | undefined {
    const store = this.#store;
    if (store === undefined || !store.checksArrival) return undefined;
    if (!store.expiredOnArrival(item, this.#clock.now())) return undefined;
    this.#sent++;
    this.#dropped.expired++;
    this.#report(item, 'expired');
    return notSent('expired', item);
  }

  /** Items in the buffer. */
  #size(): number {
    return this.#store === undefined ? this.#buffer.length : this.#store.length;
  }

  /**
   * True if an item can be taken now. With a timed store it first removes the heads that must
   * not be delivered (expired, shed), lets waiting senders into the freed places, and reports
   * the drops — a complete state change — then looks again, since a hook may have changed it.
   */
  #hasItem(): boolean {
    return this.#store === undefined ? this.#buffer.length > 0 : this.#prepare(this.#store, true);
  }

  /** `#hasItem` for a timed store; `shed` is false when no item is about to be taken. */
  #prepare(store: TimedStore<unknown>, shed: boolean): boolean {
    for (;;) {
      const drops: [unknown, DropReason][] = [];
      if (store.timed) store.prepare(this.#clock.now(), drops, shed);
      if (drops.length === 0) return store.length > 0;
      for (const [, reason] of drops) this.#dropped[reason]++;
      while (this.#senders.length !== 0 && store.length < this.#capacity) this.#admitSender();
      this.#checkDrained();
      for (const [item, reason] of drops) this.#report(item as T, reason);
    }
  }

  /** Moves the first waiting sender's item into the buffer and settles that sender. */
  #admitSender(): void {
    const sender = this.#senders.shift() as SendWaiter<T>;
    if (this.#store === undefined) {
      this.#buffer.push(sender.item);
      this.#sent++;
      this.#settleSender(sender, SENT);
      return;
    }
    const expired = this.#expiredOnArrival(sender.item);
    if (expired === undefined) this.#storePush(sender.item);
    this.#settleSender(sender, expired ?? SENT);
  }

  /** The buffer is full and no receiver waits: apply the overflow policy (never `block`). */
  #overflow(item: T): SendResult<T> {
    if (this.#policy === 'drop-oldest') {
      let evicted: T;
      if (this.#store === undefined) {
        evicted = this.#buffer.shiftPush(item);
        this.#sent++;
      } else {
        evicted = this.#store.evictOldest() as T;
        this.#storePush(item);
      }
      this.#dropped.evicted++;
      this.#report(evicted, 'evicted');
      return { ok: true, evicted } satisfies SentEvicting<T>;
    }
    if (this.#policy === 'drop-lowest') return this.#overflowLowest(item);
    if (this.#policy === 'drop-newest') {
      this.#dropped.overflow++;
      this.#report(item, 'overflow');
      return notSent('dropped', item);
    }
    this.#refused++;
    return notSent('full', item);
  }

  /**
   * `#overflow` under `drop-lowest`: the lowest-priority item goes, unless that is `item`.
   * A method of its own so that `#overflow` stays small enough for V8 to inline into callers
   * of `trySend` (measured: +2.5 ns per dropped `trySend` when it did not).
   */
  #overflowLowest(item: T): SendResult<T> {
    const lowest = (this.#store as TimedStore<unknown>).evictLowest(item, this.#clock.now());
    if (lowest !== undefined) {
      this.#storePush(item);
      this.#dropped.evicted++;
      const evicted = lowest.evicted as T;
      this.#report(evicted, 'evicted');
      return { ok: true, evicted } satisfies SentEvicting<T>;
    }
    this.#dropped.overflow++;
    this.#report(item, 'overflow');
    return notSent('dropped', item);
  }

  /**
   * Takes the next item from the buffer, if there is one, and lets the first waiting sender into
   * the freed place; `NONE` when there is nothing to take.
   */
  #takeNow(): T | typeof NONE {
    const buffer = this.#buffer;
    if (buffer.length === 0) return this.#store === undefined ? NONE : this.#takeTimed(this.#store);
    const item = buffer.shift();
    this.#received++;
    if (this.#senders.length !== 0) this.#admitSender();
    else if (this.#state !== OPEN && buffer.length === 0) this.#checkDrained();
    return item;
  }

  /** `#takeNow` for a timed store: drops what must not be delivered, then takes the next. */
  #takeTimed(store: TimedStore<unknown>): T | typeof NONE {
    if (!this.#prepare(store, true)) return NONE;
    const item = store.shift() as T;
    this.#received++;
    // An admitted item may expire on arrival and leave the place free for the next sender.
    while (this.#senders.length !== 0 && store.length < this.#capacity) this.#admitSender();
    if (this.#state !== OPEN && store.length === 0) this.#checkDrained();
    return item;
  }

  /** Moves items that can be taken now into `batch`, up to `max`. */
  #takeInto(batch: T[], max: number): void {
    while (batch.length < max) {
      const item = this.#takeNow();
      if (item !== NONE) batch.push(item);
      else {
        const sender = this.#takeSender();
        if (sender === undefined) return;
        batch.push(sender.item);
      }
    }
  }

  async #fillBatch(
    batch: T[],
    max: number,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    waitMs: number,
  ): Promise<T[]> {
    if (batch.length === 0) {
      batch.push(await this.receive({ signal, timeoutMs })); // rejects having consumed nothing
      this.#takeInto(batch, max);
    }
    const until = this.#clock.now() + waitMs;
    while (batch.length < max) {
      const remaining = until - this.#clock.now();
      if (remaining <= 0) break;
      try {
        batch.push(await this.receive({ signal, timeoutMs: remaining }));
      } catch {
        break; // aborted, timed out or closed: nothing was consumed by that receive
      }
      this.#takeInto(batch, max);
    }
    return batch;
  }

  async #sendAll(
    items: T[],
    signal: AbortSignal | undefined,
    timeoutMs: number,
  ): Promise<SendAllResult<T>> {
    const until = this.#clock.now() + timeoutMs;
    const evicted: T[] = [];
    const dropped: T[] = [];
    let sent = 0;
    let stoppedBy: SendAllResult<T>['stoppedBy'];
    let error: unknown;
    let i = 0;
    for (; i < items.length; i++) {
      const item = items[i] as T;
      if (signal?.aborted) {
        [stoppedBy, error] = ['aborted', signal.reason];
        break;
      }
      if (this.#state !== OPEN) {
        [stoppedBy, error] = ['closed', new ChannelClosedError(item)];
        break;
      }
      const accepted = this.#accept(item);
      if (accepted === ACCEPTED) {
        sent++;
        continue;
      }
      if (accepted === EXPIRED) {
        dropped.push(item);
        continue;
      }
      if (accepted === REFUSED_CLOSED) {
        [stoppedBy, error] = ['closed', new ChannelClosedError(item)];
        break;
      }
      if (this.#policy === 'reject') {
        this.#refused++;
        [stoppedBy, error] = ['full', new ChannelFullError(item, this.#capacity)];
        break;
      }
      if (this.#policy !== 'block') {
        const result = this.#overflow(item);
        if (!result.ok) dropped.push(item);
        else {
          sent++;
          if ('evicted' in result) evicted.push(result.evicted);
        }
        continue;
      }
      try {
        const result = await this.send(item, {
          signal,
          timeoutMs: Math.max(0, until - this.#clock.now()),
        });
        if (result.ok) sent++;
        else dropped.push(item); // expired while it waited for room
      } catch (caught) {
        error = caught;
        stoppedBy =
          caught instanceof TimeoutError
            ? 'timeout'
            : caught instanceof ChannelClosedError
              ? 'closed'
              : 'aborted';
        break;
      }
    }
    const unsent = items.slice(i);
    return stoppedBy === undefined
      ? { sent, evicted, dropped, unsent }
      : { sent, evicted, dropped, unsent, stoppedBy, error };
  }

  /** With an empty buffer: takes a waiting sender's item directly (capacity 0). */
  #takeSender(): SendWaiter<T> | undefined {
    for (;;) {
      const sender = this.#senders.shift();
      if (sender === undefined) return undefined;
      if (this.#store !== undefined) {
        // A rendezvous item whose own deadline passed while its sender waited is not delivered.
        const expired = this.#expiredOnArrival(sender.item);
        if (expired !== undefined) {
          this.#settleSender(sender, expired);
          continue;
        }
      }
      this.#sent++;
      this.#received++;
      this.#settleSender(sender, SENT);
      return sender;
    }
  }

  #receive(
    mode: number,
    options: WaitOptions | undefined,
    iterator?: ChannelIterator<T>,
  ): Promise<unknown> {
    let signal: AbortSignal | undefined;
    if (options !== undefined) {
      checkOptions('options', options);
      signal = checkSignal(options.signal);
      if (options.timeoutMs !== undefined) checkTimeout(options.timeoutMs);
      if (signal?.aborted) return Promise.reject(signal.reason);
    }
    const item = this.#takeNow();
    if (item !== NONE) return Promise.resolve(received(mode, item));
    const sender = this.#takeSender();
    if (sender !== undefined) return Promise.resolve(received(mode, sender.item));
    if (this.#state !== OPEN) {
      return mode === ITERATE ? RESOLVED_DONE : Promise.reject(new ChannelClosedError());
    }
    const timeoutMs = options?.timeoutMs ?? Infinity;
    if (timeoutMs === 0) return Promise.reject(new TimeoutError(0));
    const waiter = new ReceiveWaiter<T>(mode, undefined, 0, iterator);
    const promise = promiseFor(waiter);
    this.#receivers.push(waiter);
    if (signal !== undefined || timeoutMs !== Infinity) {
      this.#armWaiter(waiter, this.#receivers, signal, timeoutMs);
    }
    if (WAIT.hasSubscribers) this.#waitStarted(waiter, 'receive');
    return promise;
  }

  /** One step of an iterator without a signal: the hot path of `for await`. */
  #step(iterator: ChannelIterator<T>): Promise<IteratorResult<T, undefined>> {
    const item = this.#takeNow();
    if (item !== NONE) return Promise.resolve({ done: false, value: item });
    const sender = this.#takeSender();
    if (sender !== undefined) return Promise.resolve({ done: false, value: sender.item });
    if (this.#state !== OPEN) return RESOLVED_DONE;
    const waiter = new ReceiveWaiter<T>(ITERATE, undefined, 0, iterator);
    const promise = promiseFor<IteratorResult<T, undefined>>(waiter);
    this.#receivers.push(waiter);
    if (WAIT.hasSubscribers) this.#waitStarted(waiter, 'receive');
    return promise;
  }

  /**
   * Gives a waiting plain call its abort listener and timeout (only when it asked for them).
   * Either one unlinks the waiter, clears the other, and rejects.
   */
  #armWaiter<W extends SendWaiter<T> | ReceiveWaiter<T>>(
    waiter: W,
    list: { remove(waiter: W): boolean },
    signal: AbortSignal | undefined,
    timeoutMs: number,
  ): void {
    if (signal !== undefined) {
      waiter.unlisten = listenForAbort(signal, (reason) => {
        waiter.unlisten = undefined;
        list.remove(waiter);
        this.#cleanup(waiter, 'aborted');
        waiter.reject(reason);
      });
    }
    if (timeoutMs !== Infinity) {
      waiter.timer = this.#clock.setTimer(() => {
        waiter.timer = undefined;
        list.remove(waiter);
        this.#cleanup(waiter, 'timeout');
        // Built only when the timeout fires: an error's stack is costly, and most waits end
        // otherwise. A send's error carries its item back.
        waiter.reject(
          waiter instanceof SendWaiter
            ? new TimeoutError(timeoutMs, waiter.item)
            : new TimeoutError(timeoutMs),
        );
      }, timeoutMs);
    }
  }

  #waitToSend(item: T, options: WaitOptions | undefined): Promise<SendOutcome<T>> {
    const timeoutMs = options?.timeoutMs ?? Infinity;
    if (timeoutMs === 0) return Promise.reject(new TimeoutError(0, item));
    const signal = options?.signal;
    const waiter = new SendWaiter<T>(item, undefined, 0);
    const promise = promiseFor(waiter);
    this.#senders.push(waiter);
    if (signal !== undefined || timeoutMs !== Infinity) {
      this.#armWaiter(waiter, this.#senders, signal, timeoutMs);
    }
    if (WAIT.hasSubscribers) this.#waitStarted(waiter, 'send');
    return promise as Promise<SendOutcome<T>>;
  }

  // ---- settling waiters (each is already unlinked) -------------------------------------

  /** Ends a plain waiter's wait: its listener, its timer, and the published end if it began. */
  #cleanup(waiter: SendWaiter<T> | ReceiveWaiter<T>, outcome: ChannelWaitOutcome): void {
    disarm(waiter, this.#clock);
    if (waiter.since !== undefined) this.#waitEnded(waiter, waiter.since, outcome);
  }

  // ---- diagnostics (off the hot path: reached only when someone subscribes) ----------------

  /** A plain call's wait began: called last, once the waiter is linked and armed. */
  #waitStarted(waiter: SendWaiter<T> | ReceiveWaiter<T>, op: ChannelWaitOp): void {
    waiter.since = this.#clock.now();
    WAIT.publish({ phase: 'start', channel: this, op });
  }

  /**
   * A traced wait ended. Settling a waiter is part of a state change (a `close`, a take that
   * admits senders one by one), and a subscriber is user code: the end is published on a
   * microtask, after the change and before anything awaiting the call resumes.
   */
  #waitEnded(
    waiter: SendWaiter<T> | ReceiveWaiter<T>,
    since: number,
    outcome: ChannelWaitOutcome,
  ): void {
    const message: ChannelWaitMessage = {
      phase: 'end',
      channel: this,
      op: waiter instanceof SendWaiter ? 'send' : 'receive',
      outcome,
      waitedMs: this.#clock.now() - since,
    };
    waiter.since = undefined;
    queueMicrotask(() => {
      if (WAIT.hasSubscribers) WAIT.publish(message);
    });
  }

  #deliver(receiver: ReceiveWaiter<T>, item: T): void {
    if (receiver.run !== undefined) {
      receiver.run.received(receiver.index, true, item);
      return;
    }
    this.#cleanup(receiver, 'ok');
    receiver.resolve(received(receiver.mode, item));
  }

  #closeReceiver(receiver: ReceiveWaiter<T>): void {
    if (receiver.run !== undefined) {
      if (!receiver.run.done) receiver.run.received(receiver.index, false, undefined);
      return;
    }
    this.#cleanup(receiver, 'closed');
    if (receiver.mode === ITERATE) receiver.resolve(DONE);
    else receiver.reject(new ChannelClosedError());
  }

  #settleSender(sender: SendWaiter<T>, result: Sent | NotSent<T>): void {
    if (sender.run !== undefined) {
      sender.run.sent(sender.index, result);
      return;
    }
    this.#cleanup(sender, result.ok ? 'ok' : 'expired');
    sender.resolve(result);
  }

  #failSender(sender: SendWaiter<T>): void {
    if (sender.run !== undefined) {
      if (!sender.run.done) sender.run.failed(new ChannelClosedError(sender.item));
      return;
    }
    this.#cleanup(sender, 'closed');
    sender.reject(new ChannelClosedError(sender.item));
  }

  #checkDrained(): void {
    if (this.#state !== OPEN && this.#size() === 0 && this.#resolveDrained !== undefined) {
      this.#resolveDrained();
      this.#resolveDrained = undefined;
    }
  }

  #report(item: T, reason: DropReason): void {
    if (DROP.hasSubscribers) DROP.publish({ channel: this, item, reason });
    const hooks = this.#hooks;
    if (hooks === undefined) return;
    try {
      hooks.onDrop(item, reason);
    } catch (error) {
      reportHookError(error);
    }
  }
}

/**
 * The iterator behind `for await (const item of channel)`. `return()` (run by `break`) ends
 * this iterator only; the channel stays open. Steps still waiting when `return()` is called
 * (possible only when driving the iterator by hand) end with done and consume nothing.
 */
class ChannelIterator<T> implements AsyncIterableIterator<T, undefined, undefined> {
  readonly channel: Channel<T>;
  readonly signal: AbortSignal | undefined;
  #done = false;

  constructor(channel: Channel<T>, signal: AbortSignal | undefined) {
    this.channel = channel;
    this.signal = signal;
  }

  next(): Promise<IteratorResult<T, undefined>> {
    if (this.#done) return RESOLVED_DONE;
    return (internals as ChannelInternals).next(this.channel, this);
  }

  return(): Promise<IteratorResult<T, undefined>> {
    this.#done = true;
    channelInternals().cancel(this.channel, this);
    return RESOLVED_DONE;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

function notSent<T>(reason: NotSent<T>['reason'], value: T): NotSent<T> {
  return { ok: false, reason, value };
}

function checkTimeout(value: unknown): number {
  return checkDuration('timeoutMs', value);
}
