/**
 * RedisChannel: a bounded queue shared by every process that names it. Producers feel the
 * consumers' pace across machines: when the channel is full, `send` waits (or drops, or
 * rejects, as the overflow policy says) until a consumer anywhere acknowledges an item.
 *
 * The state lives in Redis (layout and script invariants in `channel-scripts.ts`): a `ready`
 * list (a sorted set with priorities), a payload hash that is also the idempotency index, an
 * `inflight` sorted set of leases carrying fencing tokens, a dead-letter list, and two lists
 * of wake-up hints. Each operation is one Lua script on Redis's clock.
 *
 * Delivery is at-least-once: a consumer receives an item under a lease, and acks it when done.
 * A lease that runs out (the consumer crashed, stalled, or lost its connection) is reclaimed
 * on Redis's clock and the item is delivered again, with a new fencing token, so the late
 * holder's ack does nothing. After `maxDeliveries` deliveries an item goes to the dead letters.
 *
 * Waiting without polling: a producer that finds the channel full, or a consumer that finds it
 * empty, waits on a hint list with BLPOP; every script that frees room or adds a ready item
 * tops the matching hint list up. All waits of a process on one connection go through one
 * BLPOP loop (`channel-hints.ts`), since the connection has one blocking client. Each BLPOP is
 * bounded — a consumer's by the earliest lease expiry it was told of, every wait by `leaseMs`
 * and 5 s — so reclaiming still happens when nobody acks, and a hint lost with a crashed
 * process delays a waiter by at most that bound.
 *
 * Loss detection: the channel's `meta` hash holds an epoch, a random id written when the
 * channel is first used. Every call states the epoch it knows; when Redis lost the data (a
 * restart without persistence, a flush, an eviction), the first call of each instance to find
 * out rejects with `RedisChannelLostError` and changes nothing, and the instance adopts the
 * channel as it is now. Deliveries from before the loss then answer `false`.
 *
 * Invariants of an instance:
 * 1. Every call that may wait is an operation in `#ops` until it settles; `close()` settles
 *    each one waiting (senders with `ChannelClosedError` carrying their item), then waits for
 *    those in the middle of a script to finish. Each operation's abort listener and timer are
 *    removed on every way out.
 * 2. A call that rejects (cancelled, timed out, closed, full under `reject`) changed nothing:
 *    no item was enqueued by a send that rejects for those reasons; a receive that got an item
 *    after it was cancelled gives it back (`release`, the delivery uncounted) before rejecting.
 *    A send whose script went through is reported as sent even if its signal aborted meanwhile.
 *    (A call that rejects with `RedisUnavailableError` may or may not have taken effect:
 *    retry a send with the same `id`.)
 * 3. `#epoch` is `''` until the first reply tells it, and is reset to `''` exactly when a call
 *    finds the channel lost (reported with `RedisChannelLostError`).
 */
import { randomUUID } from 'node:crypto';
import type { AdaptiveLimiter } from '../adaptive/adaptive-limiter.js';
import type { DropHandler, NotSent, ReceiveResult, WaitOptions } from '../channel/types.js';
import { type Clock, checkClock, type TimerHandle } from '../clock.js';
import { ChannelClosedError, ChannelFullError, TimeoutError } from '../errors.js';
import type { ErrorPolicy, HandlerContext, WorkerPool } from '../flow/consume.js';
import { checkSignal, disarm, listenForAbort } from '../internal/abort.js';
import { describe } from '../internal/describe.js';
import { reportHookError } from '../internal/report.js';
import {
  checkCount,
  checkDuration,
  checkOneOf,
  checkOptionalFunction,
  checkOptions,
} from '../internal/validate.js';
import type { RateLimiter } from '../limit/types.js';
import { consumeDeliveries } from './channel-consume.js';
import { HintHub, type HintWaiter } from './channel-hints.js';
import {
  ACK,
  DEAD_LIST,
  DEAD_MOVE,
  DUPLICATE,
  EVICTED,
  EXTEND,
  FULL,
  GIVE_BACK,
  GOT,
  KEY_NAMES,
  LOST,
  ORDER_MISMATCH,
  RECEIVE,
  SEND,
  SENT,
  STATS,
} from './channel-scripts.js';
import { RedisConnection, type Script } from './connection.js';
import { RedisChannelLostError, RedisUnavailableError } from './errors.js';

// ---- public types ----------------------------------------------------------------------------

/**
 * What a send does when the channel is full (ready + in-flight items = capacity):
 * - `block` (default): waits for room, with BLPOP on the channel's hint list (no polling);
 * - `drop-newest`: the incoming item is discarded (`{ ok: false, reason: 'dropped', value }`,
 *   and `onDrop(item, 'overflow')`);
 * - `drop-oldest`: the oldest *ready* item is evicted and the new one goes in (`{ ok: true,
 *   evicted }`, and `onDrop(evicted, 'evicted')`). Items in flight are never evicted: a
 *   consumer holds them. When every item is in flight there is nothing to evict, and the
 *   send behaves as `drop-newest` (the caller always learns what was dropped). Not with
 *   `priority`;
 * - `reject`: `send` rejects with `ChannelFullError` carrying the item.
 */
export type RedisOverflowPolicy = 'block' | 'drop-newest' | 'drop-oldest' | 'reject';

/** Turns items into the strings stored in Redis and back. */
export interface Serializer<T> {
  encode(item: T): string;
  decode(payload: string): T;
}

/** Options for `new RedisChannel()`. */
export interface RedisChannelOptions<T> {
  /** The shared connection (from `RedisConnection.connect`); its deadline bounds every call. */
  readonly connection: RedisConnection;
  /**
   * The channel's name: every instance with this name on this Redis shares one queue. A
   * non-empty string without `{` or `}` (keys are `sluice:{<name>}:…`, one Cluster slot).
   */
  readonly name: string;
  /**
   * Items the channel holds at most, ready and in flight together: an integer from 1 up.
   * Checked by each instance with its own value: give every instance the same.
   */
  readonly capacity: number;
  /** What a send does when full. Default `'block'`. */
  readonly overflow?: RedisOverflowPolicy | undefined;
  /**
   * Serve higher priorities first: a finite number per item, FIFO among equals. Stored as a
   * sorted set: every instance of a channel must agree on using priorities or not (a call from
   * an instance that disagrees rejects with a RangeError).
   */
  readonly priority?: ((item: T) => number) | undefined;
  /**
   * How long a consumer holds a received item before it is delivered again, in ms: a finite
   * number from 1 up. Default 30 000. `consume()` extends the leases of running handlers.
   */
  readonly leaseMs?: number | undefined;
  /**
   * Deliveries after which an item that is nacked or whose lease runs out goes to the dead
   * letters instead of back to the queue: an integer from 1 up. Default 5.
   */
  readonly maxDeliveries?: number | undefined;
  /** How items are stored. Default JSON (`JSON.stringify` / `JSON.parse`). */
  readonly serializer?: Serializer<T> | undefined;
  /**
   * Told of every item a send of this instance discarded: `'overflow'` (its own item, under
   * `drop-newest`, or `drop-oldest` with everything in flight) or `'evicted'` (`drop-oldest`).
   * An error it throws is rethrown on a microtask.
   */
  readonly onDrop?: DropHandler<T> | undefined;
  /** Where timeouts and heartbeats arm timers. Default: the system clock. */
  readonly clock?: Clock | undefined;
}

/** The item is in the channel. */
export interface RedisSent {
  readonly ok: true;
  /** The item's id: the one given, or a random UUID. */
  readonly id: string;
  /**
   * True when an item with this `id` was already in the channel (or its dead letters): nothing
   * was added. That is how a retried send stays a no-op.
   */
  readonly duplicate: boolean;
}

/** The item is in the channel, and `evicted` (the oldest ready item) was discarded for it. */
export interface RedisSentEvicting<T> {
  readonly ok: true;
  readonly id: string;
  readonly duplicate: false;
  /** The item discarded (decoded from Redis). */
  readonly evicted: T;
  readonly evictedId: string;
}

/** What `trySend` returns. Narrow with `ok`, then `'evicted' in result`. */
export type RedisSendResult<T> = RedisSent | RedisSentEvicting<T> | NotSent<T>;

/** What `send` resolves with (`full` and `closed` reject instead). */
export type RedisSendOutcome<T> =
  | RedisSent
  | RedisSentEvicting<T>
  | (NotSent<T> & { readonly reason: 'dropped' });

/** Options for `trySend`. */
export interface RedisTrySendOptions {
  /**
   * The item's id, for idempotency: while an item with this id is in the channel (ready, in
   * flight or a dead letter), a send with it is a no-op reporting `duplicate: true`. A
   * non-empty string. Default: a random UUID.
   */
  readonly id?: string | undefined;
}

/** Options for `send`. */
export interface RedisSendOptions extends WaitOptions, RedisTrySendOptions {}

/** Options for `nack`. */
export interface NackOptions {
  /** Keep the item out of the queue this long first, in ms (it still counts). Default 0. */
  readonly delayMs?: number | undefined;
}

/**
 * A received item, leased to this consumer. Settle it with `ack` (done) or `nack` (give it
 * back); if neither comes before the lease ends, it is delivered again.
 */
export interface Delivery<T> {
  readonly item: T;
  readonly id: string;
  /** The fencing token of this lease: larger for every later lease of the channel. */
  readonly token: number;
  /** How many times the item has been delivered, this time included (1 the first time). */
  readonly deliveries: number;
  /**
   * Done with it: the item leaves the channel and its place is free. Resolves true, or false
   * when this lease is no longer the item's (it ran out and the item went to another
   * consumer, or it was already settled): then nothing changed. An ack after the lease ran out
   * but before anyone reclaimed it still succeeds. Rejects with `RedisUnavailableError`.
   */
  ack(): Promise<boolean>;
  /**
   * Gives the item back: to the front of the queue (its place by priority), after `delayMs`
   * if given, or to the dead letters if it has been delivered `maxDeliveries` times. Resolves
   * true, or false for a lease that is no longer this one's.
   */
  nack(options?: NackOptions): Promise<boolean>;
  /**
   * Extends the lease to `ms` from now (Redis's clock); default the channel's `leaseMs`.
   * Resolves true, or false when the lease is no longer this one's.
   */
  extend(ms?: number): Promise<boolean>;
}

/** Counts read from Redis in one step, and this instance's waiters. */
export interface RedisChannelStats {
  /** Items waiting to be received. */
  readonly ready: number;
  /** Items out of the queue but counted: leased, or nacked with a delay. */
  readonly inflight: number;
  /** Of `inflight`, those leased to a consumer. */
  readonly leased: number;
  /** Of `inflight`, those nacked with a delay. */
  readonly delayed: number;
  /** `ready + inflight`: what the capacity bounds. */
  readonly size: number;
  readonly capacity: number;
  /** Items in the dead-letter list (not counted against the capacity). */
  readonly deadLetters: number;
  /** Sends of this instance waiting for room. */
  readonly waitingSenders: number;
  /** Receives of this instance waiting for an item. */
  readonly waitingReceivers: number;
}

/** A dead letter: decoded, or (`decoded: false`) with the payload that would not decode. */
export type DeadLetter<T> =
  | {
      readonly id: string;
      readonly deliveries: number;
      readonly decoded: true;
      readonly item: T;
    }
  | {
      readonly id: string;
      readonly deliveries: number;
      readonly decoded: false;
      readonly payload: string;
      readonly error: unknown;
    };

/** The context a `consume` handler gets: the pool's, and the delivery's id and count. */
export interface RedisHandlerContext extends HandlerContext {
  readonly id: string;
  /** Deliveries of this item so far, this one included. */
  readonly deliveries: number;
}

/** Options for `RedisChannel#consume`: those of the in-process `consume`, plus heartbeats. */
export interface RedisConsumeOptions<T> {
  /** Handlers running at once, at most: an integer from 1 up, or an `AdaptiveLimiter`. */
  readonly concurrency: number | AdaptiveLimiter;
  /** Each attempt first takes 1 from it. Default: none. */
  readonly limiter?: RateLimiter | undefined;
  /** Aborting it is `abort(signal.reason)`. */
  readonly signal?: AbortSignal | undefined;
  /**
   * What a failed attempt leads to, as in-process: `'stop'` (default), `'skip'` or a retry
   * policy (retries run here, while the lease is extended). An item that fails for good is
   * nacked: Redis delivers it again, up to `maxDeliveries`, then dead-letters it.
   */
  readonly onError?: ErrorPolicy | undefined;
  /** Told of handler errors that do not reject `done` (as in-process). */
  readonly onHandlerError?: ((error: unknown, item: T, attempt: number) => void) | undefined;
  /**
   * How often the leases of held items are extended (to `leaseMs` from then), in ms: a finite
   * number from 1 up. Default `leaseMs / 3`.
   */
  readonly heartbeatMs?: number | undefined;
}

// ---- implementation --------------------------------------------------------------------------

const POLICIES = ['block', 'drop-newest', 'drop-oldest', 'reject'] as const;
const EMPTY_RESULT: ReceiveResult<never> = Object.freeze({ ok: false, reason: 'empty' });
const CLOSED_RESULT: ReceiveResult<never> = Object.freeze({ ok: false, reason: 'closed' });

const JSON_SERIALIZER: Serializer<unknown> = Object.freeze({
  encode: (item: unknown): string => JSON.stringify(item),
  decode: (payload: string): unknown => JSON.parse(payload),
});

/** One call that may wait: its cancellation (abort, timeout, close) and its completion. */
class Operation {
  cancelled = false;
  reason: unknown = undefined;
  /** The hint wait under way, if any. */
  waiter: HintWaiter | undefined = undefined;
  unlisten: (() => void) | undefined = undefined;
  timer: TimerHandle | undefined = undefined;
  readonly finished: Promise<void>;
  finish!: () => void;

  constructor(readonly closedError: () => unknown) {
    this.finished = new Promise((resolve) => {
      this.finish = resolve;
    });
  }
}

/** What a delivery needs from its channel. */
interface Owner {
  ack(delivery: RedisDelivery<unknown>): Promise<boolean>;
  giveBack(
    delivery: RedisDelivery<unknown>,
    mode: 'nack' | 'release' | 'bury',
    delayMs: number,
  ): Promise<boolean>;
  extend(deliveries: readonly RedisDelivery<unknown>[], ms: number): Promise<boolean[]>;
  readonly leaseMs: number;
}

class RedisDelivery<T> implements Delivery<T> {
  /** Acked or nacked successfully by this process. */
  settled = false;
  constructor(
    readonly owner: Owner,
    readonly item: T,
    readonly id: string,
    readonly token: number,
    readonly deliveries: number,
    readonly epoch: string,
  ) {}

  ack(): Promise<boolean> {
    return this.owner.ack(this);
  }

  nack(options?: NackOptions): Promise<boolean> {
    checkOptions('options', options);
    const delayMs = options?.delayMs ?? 0;
    if (!(typeof delayMs === 'number' && delayMs >= 0 && Number.isFinite(delayMs))) {
      throw new RangeError(
        `Expected \`delayMs\` to be a finite number of milliseconds from 0 up, got ${describe(delayMs)}`,
      );
    }
    return this.owner.giveBack(this, 'nack', Math.ceil(delayMs));
  }

  release(): Promise<boolean> {
    return this.owner.giveBack(this, 'release', 0);
  }

  extend(ms?: number): Promise<boolean> {
    const lease = ms === undefined ? this.owner.leaseMs : checkLease('ms', ms);
    return this.owner.extend([this], lease).then(([extended]) => extended === true);
  }
}

/**
 * A bounded queue across processes, on Redis. See the top of this file for how it works, and
 * `docs/guides/redis.md` for deployment (persistence, `noeviction`).
 *
 * Most producers should use `send` (it waits for room under `block`), most consumers
 * `consume(handler, { concurrency })`, which acks, nacks and extends leases for them.
 *
 * Ordering: FIFO (or by priority, FIFO among equals) as Redis accepted the items; an item
 * given back (nack, a lease that ran out) goes before the items sent after it. Among waiters
 * of one instance, first come first served; across processes, whoever Redis serves first
 * (no global fairness).
 *
 * @example
 * ```ts
 * const connection = await RedisConnection.connect({ redis: 'redis://127.0.0.1:6379' });
 * const jobs = new RedisChannel<Job>({ connection, name: 'jobs', capacity: 100 });
 * await jobs.send(job, { id: job.key }); // waits while 100 are queued or in flight
 * const pool = jobs.consume((job) => handle(job), { concurrency: 8 });
 * ```
 */
export class RedisChannel<T> {
  readonly name: string;
  readonly capacity: number;
  readonly overflow: RedisOverflowPolicy;
  readonly leaseMs: number;
  readonly maxDeliveries: number;
  readonly #connection: RedisConnection;
  readonly #hub: HintHub;
  readonly #keys: readonly string[];
  readonly #spaceKey: string;
  readonly #itemsKey: string;
  readonly #order: 'fifo' | 'priority';
  readonly #priority: ((item: T) => number) | undefined;
  readonly #serializer: Serializer<T>;
  readonly #onDrop: DropHandler<T> | undefined;
  readonly #clock: Clock;
  readonly #owner: Owner;
  readonly #ops = new Set<Operation>();
  #epoch = '';
  #fresh: string = randomUUID();
  #closed = false;
  #waitingSenders = 0;
  #waitingReceivers = 0;

  /**
   * Makes an instance (no round trip: the channel is created in Redis by the first call).
   * Throws a TypeError or RangeError naming a bad option.
   */
  constructor(options: RedisChannelOptions<T>) {
    if (options === undefined) throw new TypeError('Expected an options object');
    checkOptions('options', options);
    if (!(options.connection instanceof RedisConnection)) {
      throw new TypeError(
        `Expected \`connection\` to be a RedisConnection, got ${describe(options.connection)}`,
      );
    }
    const { name } = options;
    if (typeof name !== 'string' || name === '' || /[{}]/.test(name)) {
      throw new TypeError(
        `Expected \`name\` to be a non-empty string without \`{\` or \`}\`, got ${describe(name)}`,
      );
    }
    this.name = name;
    this.#connection = options.connection;
    this.capacity = checkCount('capacity', options.capacity, 1);
    this.overflow = checkOneOf('overflow', options.overflow ?? 'block', POLICIES);
    this.#priority = checkOptionalFunction('priority', options.priority);
    if (this.#priority !== undefined && this.overflow === 'drop-oldest') {
      throw new RangeError(
        "`overflow: 'drop-oldest'` cannot be used with `priority`: a priority set keeps no arrival order to find the oldest by",
      );
    }
    this.leaseMs = options.leaseMs === undefined ? 30_000 : checkLease('leaseMs', options.leaseMs);
    this.maxDeliveries = checkCount('maxDeliveries', options.maxDeliveries ?? 5, 1);
    const serializer = options.serializer ?? (JSON_SERIALIZER as Serializer<T>);
    if (
      typeof serializer !== 'object' ||
      serializer === null ||
      typeof serializer.encode !== 'function' ||
      typeof serializer.decode !== 'function'
    ) {
      throw new TypeError(
        `Expected \`serializer\` to be an object with encode and decode functions, got ${describe(serializer)}`,
      );
    }
    this.#serializer = serializer;
    this.#onDrop = checkOptionalFunction('onDrop', options.onDrop);
    this.#clock = checkClock(options.clock);
    this.#order = this.#priority === undefined ? 'fifo' : 'priority';
    this.#keys = KEY_NAMES.map((suffix) => `sluice:{${name}}:${suffix}`);
    this.#spaceKey = this.#keys[7] as string;
    this.#itemsKey = this.#keys[8] as string;
    this.#hub = HintHub.of(this.#connection);
    this.#owner = {
      leaseMs: this.leaseMs,
      ack: (delivery) => this.#ack(delivery),
      giveBack: (delivery, mode, delayMs) => this.#giveBack(delivery, mode, delayMs),
      extend: (deliveries, ms) => this.#extend(deliveries, ms),
    };
  }

  /** True once `close()` was called. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /**
   * Offers `item` once, without waiting for room (one round trip).
   *
   * Resolves with `{ ok: true, id, duplicate }` when the item is in the channel;
   * `{ ok: true, id, evicted, evictedId }` under `drop-oldest` when an item was evicted for it;
   * `{ ok: false, reason: 'dropped', value }` under `drop-newest` (and under `drop-oldest` when
   * every item is in flight); `{ ok: false, reason: 'full', value }` under `block` and `reject`;
   * `{ ok: false, reason: 'closed', value }` after `close()`.
   *
   * Errors: a TypeError or RangeError, thrown, for bad options or an item the serializer or
   * `priority` cannot handle; a rejection with `RedisUnavailableError` (the item may or may not
   * be in: retry with the same `id`) or `RedisChannelLostError`.
   */
  trySend(item: T, options?: RedisTrySendOptions): Promise<RedisSendResult<T>> {
    checkOptions('options', options);
    const id = checkId(options?.id);
    const [payload, score] = this.#prepare(item);
    if (this.#closed) return Promise.resolve(notSent('closed', item));
    return this.#trySend(item, id, payload, score);
  }

  /**
   * Sends `item`. Under `block`, waits for room: on a full channel it waits on the channel's
   * hint list (BLPOP, no polling) until a consumer anywhere frees a place, then tries again.
   * Resolves once Redis holds the item (not when it is processed), with the same results as
   * `trySend` except `full` and `closed`, which reject.
   *
   * Cancellation: if `signal` aborts (or `timeoutMs` passes) while waiting, nothing was sent;
   * the promise rejects with `signal.reason` untouched (or a `TimeoutError` carrying the item).
   * An abort that comes while a try is on its way to Redis takes effect after it: if that try
   * went in, the send resolves as sent.
   *
   * Ordering: this instance's waiting senders are served in the order they started waiting; a
   * new send waits behind them.
   *
   * Errors: `ChannelFullError` (carrying the item) under `reject` when full;
   * `ChannelClosedError` (carrying it) after `close()`; `RedisUnavailableError` when Redis
   * fails or does not answer within the connection's deadline (retry with the same `id`: the
   * second try is a no-op if the first went in); `RedisChannelLostError`.
   */
  send(item: T, options?: RedisSendOptions): Promise<RedisSendOutcome<T>> {
    checkOptions('options', options);
    const id = checkId(options?.id);
    const signal = checkSignal(options?.signal);
    const timeoutMs =
      options?.timeoutMs === undefined ? Infinity : checkDuration('timeoutMs', options.timeoutMs);
    const [payload, score] = this.#prepare(item);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#closed) return Promise.reject(new ChannelClosedError(item));
    return this.#send(item, id, payload, score, signal, timeoutMs);
  }

  /**
   * Takes the next item under a lease, once, without waiting: `{ ok: true, value: delivery }`,
   * `{ ok: false, reason: 'empty' }`, or `{ ok: false, reason: 'closed' }` after `close()`.
   * Leases that ran out are reclaimed first (on Redis's clock).
   */
  async tryReceive(): Promise<ReceiveResult<Delivery<T>>> {
    for (;;) {
      if (this.#closed) return CLOSED_RESULT;
      const reply = await this.#run(RECEIVE, 'tryReceive', [this.leaseMs, this.maxDeliveries]);
      if (reply[0] !== GOT) return EMPTY_RESULT;
      const delivery = await this.#deliver(reply);
      if (delivery !== undefined) return { ok: true, value: delivery };
    }
  }

  /**
   * Receives the next item under a lease of `leaseMs`, waiting for one if the channel is empty
   * (BLPOP on the channel's hint list, bounded by the earliest lease expiry so that a lease
   * that runs out is reclaimed on time even when nobody acks).
   *
   * Cancellation: if `signal` aborts (or `timeoutMs` passes) while waiting, nothing was
   * consumed: the promise rejects with `signal.reason` untouched (or a `TimeoutError`). An item
   * taken by a try that was on its way when the abort came is given back (its delivery
   * uncounted) before the promise rejects.
   *
   * Ordering: this instance's waiting receivers are served first come, first served.
   *
   * Errors: `ChannelClosedError` after `close()`; `RedisUnavailableError`;
   * `RedisChannelLostError`.
   */
  receive(options?: WaitOptions): Promise<Delivery<T>> {
    checkOptions('options', options);
    const signal = checkSignal(options?.signal);
    const timeoutMs =
      options?.timeoutMs === undefined ? Infinity : checkDuration('timeoutMs', options.timeoutMs);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#closed) return Promise.reject(new ChannelClosedError());
    return this.#receive(signal, timeoutMs);
  }

  /**
   * Starts a worker pool with the shape of the in-process `consume`: at most `concurrency`
   * handlers at once, each item received only when a slot is free. A handler that fulfils has
   * its item acked; one that fails for good (after the `onError` policy's retries) has it
   * nacked. While an item is held, its lease is extended every `heartbeatMs`. `stop()` lets
   * held items finish; `abort()` gives the items not yet started back uncounted and nacks the
   * interrupted ones. Every item the pool received is acked or given back before `done`
   * settles. `close()` on the channel ends the pool like a drained source.
   *
   * Errors: `done` rejects with the first error that stopped the pool (a handler's under
   * 'stop', or the channel's: `RedisUnavailableError`, `RedisChannelLostError`).
   */
  consume(
    handler: (item: T, context: RedisHandlerContext) => unknown,
    options: RedisConsumeOptions<T>,
  ): WorkerPool<T> {
    if (typeof handler !== 'function') {
      throw new TypeError(`Expected \`handler\` to be a function, got ${describe(handler)}`);
    }
    if (options === undefined) throw new TypeError('Expected an options object with `concurrency`');
    checkOptions('options', options);
    const heartbeatMs =
      options.heartbeatMs === undefined
        ? Math.max(1, Math.floor(this.leaseMs / 3))
        : checkLease('heartbeatMs', options.heartbeatMs);
    return consumeDeliveries<T>({
      receive: (signal) => this.receive({ signal }) as Promise<RedisDelivery<T>>,
      extend: (deliveries) =>
        this.#extend(deliveries as readonly RedisDelivery<unknown>[], this.leaseMs),
      handler,
      options,
      heartbeatMs,
      clock: this.#clock,
    });
  }

  /**
   * Reads counts from Redis in one step (no lease is reclaimed by reading), and this
   * instance's waiting senders and receivers.
   */
  async stats(): Promise<RedisChannelStats> {
    const reply = await this.#run(STATS, 'stats', []);
    const [ready, inflight, leased, deadLetters] = reply.slice(2) as number[];
    return {
      ready: ready as number,
      inflight: inflight as number,
      leased: leased as number,
      delayed: (inflight as number) - (leased as number),
      size: (ready as number) + (inflight as number),
      capacity: this.capacity,
      deadLetters: deadLetters as number,
      waitingSenders: this.#waitingSenders,
      waitingReceivers: this.#waitingReceivers,
    };
  }

  /**
   * Lists dead letters, oldest first: `limit` of them (default 100) from `offset` (default 0).
   * An item whose payload does not decode is listed with `decoded: false` and its payload.
   */
  deadLetters(options?: {
    readonly offset?: number | undefined;
    readonly limit?: number | undefined;
  }): Promise<DeadLetter<T>[]> {
    checkOptions('options', options);
    const offset = checkCount('offset', options?.offset ?? 0, 0);
    const limit = checkCount('limit', options?.limit ?? 100, 1);
    return this.#deadLetters(offset, limit);
  }

  async #deadLetters(offset: number, limit: number): Promise<DeadLetter<T>[]> {
    const reply = await this.#run(DEAD_LIST, 'deadLetters', [offset, limit]);
    const out: DeadLetter<T>[] = [];
    for (let i = 2; i + 2 < reply.length; i += 3) {
      const id = reply[i] as string;
      const payload = reply[i + 1] as string;
      const deliveries = reply[i + 2] as number;
      try {
        out.push({ id, deliveries, decoded: true, item: this.#serializer.decode(payload) });
      } catch (error) {
        out.push({ id, deliveries, decoded: false, payload, error });
      }
    }
    return out;
  }

  /**
   * Puts a dead letter back at the tail of the queue (its place by priority) with its delivery
   * count reset, if there is room: `'requeued'`, `'full'` (nothing changed) or `'missing'`.
   */
  requeueDeadLetter(id: string): Promise<'requeued' | 'full' | 'missing'> {
    const args = [checkId(id) ?? '', 'requeue'];
    return this.#run(DEAD_MOVE, 'requeueDeadLetter', args).then((reply) =>
      reply[2] === 1 ? 'requeued' : reply[2] === 2 ? 'full' : 'missing',
    );
  }

  /** Deletes a dead letter for good. Resolves false if there was none with this id. */
  deleteDeadLetter(id: string): Promise<boolean> {
    const args = [checkId(id) ?? '', 'delete'];
    return this.#run(DEAD_MOVE, 'deleteDeadLetter', args).then((reply) => reply[2] === 1);
  }

  /**
   * Closes this instance (not the channel in Redis, which other processes share): waiting
   * sends reject with `ChannelClosedError` carrying their item, waiting receives with
   * `ChannelClosedError`; new sends and receives are refused the same way. Deliveries already
   * received can still be acked, nacked and extended. Resolves once every call of this
   * instance that was under way has settled. Idempotent. The connection stays open.
   */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      for (const op of this.#ops) this.#cancel(op, op.closedError());
    }
    await Promise.all([...this.#ops].map((op) => op.finished));
  }

  // ---- sending ---------------------------------------------------------------------------------

  /** Encodes the item and computes its score: misuse throws here, before any round trip. */
  #prepare(item: T): [string, string] {
    const payload = this.#serializer.encode(item);
    if (typeof payload !== 'string') {
      throw new TypeError(
        `Expected the serializer to encode the item as a string, got ${describe(payload)}`,
      );
    }
    if (this.#priority === undefined) return [payload, ''];
    const priority = this.#priority(item);
    if (typeof priority !== 'number' || !Number.isFinite(priority)) {
      throw new RangeError(
        `Expected \`priority\` to return a finite number, got ${describe(priority)}`,
      );
    }
    return [payload, String(priority === 0 ? 0 : -priority)];
  }

  async #trySend(
    item: T,
    id: string | undefined,
    payload: string,
    score: string,
  ): Promise<RedisSendResult<T>> {
    const itemId = id ?? randomUUID();
    const reply = await this.#run(SEND, 'trySend', [this.overflow, itemId, payload, score]);
    if (reply[0] !== FULL) return this.#accepted(reply, itemId);
    if (this.overflow === 'block' || this.overflow === 'reject') return notSent('full', item);
    return this.#dropped(item);
  }

  async #send(
    item: T,
    givenId: string | undefined,
    payload: string,
    score: string,
    signal: AbortSignal | undefined,
    timeoutMs: number,
  ): Promise<RedisSendOutcome<T>> {
    const id = givenId ?? randomUUID();
    const op = this.#begin(
      signal,
      timeoutMs,
      () => new TimeoutError(timeoutMs, item),
      () => new ChannelClosedError(item),
    );
    try {
      // A new send waits behind this instance's waiting senders (first come, first served).
      let tryNow =
        this.overflow !== 'block' || timeoutMs === 0 || !this.#hub.waiting(this.#spaceKey);
      let again = false;
      for (;;) {
        if (tryNow) {
          const reply = await this.#run(SEND, 'send', [this.overflow, id, payload, score]);
          // In: reported as sent, whatever happened to the signal meanwhile.
          if (reply[0] !== FULL) return this.#accepted(reply, id);
          if (op.cancelled) throw op.reason;
          if (this.overflow === 'reject') throw new ChannelFullError(item, this.capacity);
          if (this.overflow !== 'block') return this.#dropped(item);
        }
        if (timeoutMs === 0) throw new TimeoutError(0, item);
        tryNow = true;
        this.#waitingSenders++;
        try {
          await this.#wait(op, this.#spaceKey, this.leaseMs, again, 'send');
        } finally {
          this.#waitingSenders--;
        }
        again = true;
      }
    } finally {
      this.#end(op);
    }
  }

  #accepted(reply: unknown[], id: string): RedisSent | RedisSentEvicting<T> {
    const code = reply[0];
    if (code === SENT || code === DUPLICATE) return { ok: true, id, duplicate: code === DUPLICATE };
    if (code !== EVICTED) throw unexpected(reply);
    const evictedId = reply[2] as string;
    let evicted: T;
    try {
      evicted = this.#serializer.decode(reply[3] as string);
    } catch (error) {
      reportHookError(error);
      evicted = undefined as T;
    }
    this.#report(evicted, 'evicted');
    return { ok: true, id, duplicate: false, evicted, evictedId };
  }

  #dropped(item: T): NotSent<T> & { readonly reason: 'dropped' } {
    this.#report(item, 'overflow');
    return { ok: false, reason: 'dropped', value: item };
  }

  #report(item: T, reason: 'overflow' | 'evicted'): void {
    const onDrop = this.#onDrop;
    if (onDrop === undefined) return;
    try {
      onDrop(item, reason);
    } catch (error) {
      reportHookError(error);
    }
  }

  // ---- receiving -------------------------------------------------------------------------------

  async #receive(signal: AbortSignal | undefined, timeoutMs: number): Promise<Delivery<T>> {
    const op = this.#begin(
      signal,
      timeoutMs,
      () => new TimeoutError(timeoutMs),
      () => new ChannelClosedError(),
    );
    try {
      // A new receive waits behind this instance's waiting receivers.
      let tryNow = timeoutMs === 0 || !this.#hub.waiting(this.#itemsKey);
      let again = false;
      for (;;) {
        let wakeInMs = this.leaseMs;
        if (tryNow) {
          const reply = await this.#run(RECEIVE, 'receive', [this.leaseMs, this.maxDeliveries]);
          if (reply[0] === GOT) {
            const delivery = await this.#deliver(reply);
            if (op.cancelled) {
              if (delivery !== undefined) await this.#giveBack(delivery, 'release', 0).catch(noop);
              throw op.reason;
            }
            if (delivery !== undefined) return delivery;
            continue; // it did not decode, and went to the dead letters
          }
          if (op.cancelled) throw op.reason;
          const next = reply[2] as number; // ms to the earliest lease end, or -1
          if (next === 0 && timeoutMs !== 0) continue; // more leases due than one call reclaims
          if (next > 0) wakeInMs = Math.min(wakeInMs, next + 1);
        }
        if (timeoutMs === 0) throw new TimeoutError(0);
        tryNow = true;
        this.#waitingReceivers++;
        try {
          await this.#wait(op, this.#itemsKey, wakeInMs, again, 'receive');
        } finally {
          this.#waitingReceivers--;
        }
        again = true;
      }
    } finally {
      this.#end(op);
    }
  }

  /** Makes the delivery of a GOT reply; an item that does not decode goes to the dead letters. */
  async #deliver(reply: unknown[]): Promise<RedisDelivery<T> | undefined> {
    const [, , id, payload, token, deliveries] = reply as [
      number,
      unknown,
      string,
      string | null,
      number,
      number,
    ];
    let item: T;
    try {
      item = this.#serializer.decode(payload as string);
    } catch (error) {
      const buried = new RedisDelivery<unknown>(
        this.#owner,
        undefined,
        id,
        token,
        deliveries,
        this.#epoch,
      );
      await this.#giveBack(buried, 'bury', 0);
      process.emitWarning(
        `RedisChannel '${this.name}': item '${id}' could not be decoded (${error instanceof Error ? error.message : String(error)}); it was moved to the dead letters`,
      );
      return undefined;
    }
    return new RedisDelivery<T>(this.#owner, item, id, token, deliveries, this.#epoch);
  }

  // ---- settling deliveries ---------------------------------------------------------------------

  async #ack(delivery: RedisDelivery<unknown>): Promise<boolean> {
    const reply = await this.#runFor(delivery, ACK, 'ack', [delivery.id, delivery.token]);
    const ok = reply !== undefined && reply[0] === 1;
    if (ok) delivery.settled = true;
    return ok;
  }

  async #giveBack(
    delivery: RedisDelivery<unknown>,
    mode: 'nack' | 'release' | 'bury',
    delayMs: number,
  ): Promise<boolean> {
    const reply = await this.#runFor(delivery, GIVE_BACK, mode, [
      delivery.id,
      delivery.token,
      delayMs,
      this.maxDeliveries,
      mode,
    ]);
    const ok = reply !== undefined && reply[0] === 1;
    if (ok) delivery.settled = true;
    return ok;
  }

  async #extend(deliveries: readonly RedisDelivery<unknown>[], ms: number): Promise<boolean[]> {
    // Deliveries of another epoch hold no lease now: false without a round trip.
    const current = deliveries.filter((d) => d.epoch === this.#epoch);
    const results = new Map<RedisDelivery<unknown>, boolean>();
    if (current.length > 0) {
      const args: (string | number)[] = [Math.ceil(ms)];
      for (const d of current) args.push(d.id, d.token);
      const reply = await this.#runFor(
        current[0] as RedisDelivery<unknown>,
        EXTEND,
        'extend',
        args,
      );
      current.forEach((d, i) => {
        results.set(d, reply !== undefined && reply[i + 2] === 1);
      });
    }
    return deliveries.map((d) => results.get(d) ?? false);
  }

  // ---- waiting ---------------------------------------------------------------------------------

  #begin(
    signal: AbortSignal | undefined,
    timeoutMs: number,
    timeoutError: () => unknown,
    closedError: () => unknown,
  ): Operation {
    const op = new Operation(closedError);
    this.#ops.add(op);
    if (signal !== undefined) {
      op.unlisten = listenForAbort(signal, (reason) => {
        op.unlisten = undefined;
        this.#cancel(op, reason);
      });
    }
    if (timeoutMs !== Infinity && timeoutMs > 0) {
      op.timer = this.#clock.setTimer(() => {
        op.timer = undefined;
        this.#cancel(op, timeoutError());
      }, timeoutMs);
    }
    return op;
  }

  #cancel(op: Operation, reason: unknown): void {
    if (op.cancelled) return;
    op.cancelled = true;
    op.reason = reason;
    this.#cleanup(op);
    if (op.waiter !== undefined) this.#hub.cancel(op.waiter);
  }

  #cleanup(op: Operation): void {
    disarm(op, this.#clock);
  }

  #end(op: Operation): void {
    this.#cleanup(op);
    this.#ops.delete(op);
    op.finish();
  }

  /**
   * Waits on `key` for a hint, or `wakeInMs`. Throws the operation's reason if it was
   * cancelled (handing back a hint it was given meanwhile).
   */
  async #wait(op: Operation, key: string, wakeInMs: number, again: boolean, what: string) {
    if (op.cancelled) throw op.reason;
    const waiter = this.#hub.wait(key, wakeInMs, again);
    op.waiter = waiter;
    let hinted: boolean;
    try {
      hinted = await waiter.promise;
    } catch (error) {
      if (op.cancelled) throw op.reason;
      throw new RedisUnavailableError(`channel '${this.name}': ${what}`, error);
    } finally {
      op.waiter = undefined;
    }
    if (op.cancelled) {
      if (hinted) this.#hub.giveBack(key);
      throw op.reason;
    }
  }

  // ---- running scripts -------------------------------------------------------------------------

  /** Runs a script with this instance's epoch; may create the channel. */
  async #run(script: Script, what: string, args: (string | number)[]): Promise<unknown[]> {
    const epoch = this.#epoch;
    const reply = await this.#call(script, what, [epoch, this.#fresh, ...args]);
    if (reply[0] === LOST) throw this.#lost(epoch);
    if (epoch === '' && this.#epoch === '' && typeof reply[1] === 'string') {
      this.#epoch = reply[1];
    }
    return reply;
  }

  /**
   * Runs a script for a delivery, with the epoch it was received in (never creating the
   * channel). `undefined` when the channel was lost since then and the loss was already
   * reported: the lease is gone.
   */
  async #runFor(
    delivery: RedisDelivery<unknown>,
    script: Script,
    what: string,
    args: (string | number)[],
  ): Promise<unknown[] | undefined> {
    if (delivery.epoch !== this.#epoch) return undefined;
    const reply = await this.#call(script, what, [delivery.epoch, '', ...args]);
    if (reply[0] !== LOST) return reply;
    if (this.#epoch === delivery.epoch) throw this.#lost(delivery.epoch);
    return undefined;
  }

  async #call(script: Script, what: string, args: (string | number)[]): Promise<unknown[]> {
    let reply: unknown;
    try {
      reply = await this.#connection.run(script, this.#keys, [
        args[0] as string,
        args[1] as string,
        this.#order,
        this.capacity,
        ...args.slice(2),
      ]);
    } catch (error) {
      throw new RedisUnavailableError(`channel '${this.name}': ${what}`, error);
    }
    if (!Array.isArray(reply)) throw unexpected(reply);
    if (reply[0] === ORDER_MISMATCH) {
      throw new RangeError(
        `RedisChannel '${this.name}' is stored ${reply[1] === 'priority' ? 'with' : 'without'} priorities, but this instance was made ${this.#priority === undefined ? 'without' : 'with'} \`priority\`: every instance of a channel must agree`,
      );
    }
    return reply;
  }

  /** The channel was lost: reset the epoch once, and make the error to reject with. */
  #lost(epoch: string): RedisChannelLostError {
    if (this.#epoch === epoch) {
      this.#epoch = '';
      this.#fresh = randomUUID();
    }
    return new RedisChannelLostError(this.name, epoch);
  }
}

function checkLease(name: string, value: unknown): number {
  if (typeof value === 'number' && value >= 1 && Number.isFinite(value)) return value;
  throw new RangeError(
    `Expected \`${name}\` to be a finite number of milliseconds from 1 up, got ${describe(value)}`,
  );
}

function checkId(id: unknown): string | undefined {
  if (id === undefined || (typeof id === 'string' && id !== '')) return id;
  throw new TypeError(`Expected \`id\` to be a non-empty string, got ${describe(id)}`);
}

function notSent<T>(reason: 'dropped' | 'full' | 'closed', value: T): NotSent<T> {
  return { ok: false, reason, value };
}

function unexpected(reply: unknown): Error {
  return new Error(`sluice bug: unexpected reply from a RedisChannel script: ${describe(reply)}`);
}

function noop(): void {}
