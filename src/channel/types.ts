/**
 * The public value types of channels: options, the results of `trySend`/`send` and
 * `tryReceive`, drop reasons and statistics.
 */
import type { Clock } from '../clock.js';
import type { CoDelOptions } from './codel.js';

/**
 * What a channel does with a send that finds its buffer full (and no receiver waiting):
 * - `block`: the sender waits for room, FIFO among waiting senders (the default).
 * - `drop-newest`: the incoming item is discarded; the send reports it as dropped.
 * - `drop-oldest`: the oldest buffered item is evicted to make room; the send reports it.
 * - `reject`: the send fails at once; `send` rejects with `ChannelFullError` carrying the item.
 *   (A `select` send case is the one exception: select exists to wait, so it waits for room;
 *   give it `default: true` never to wait.)
 */
export type OverflowPolicy = 'block' | 'drop-newest' | 'drop-oldest' | 'drop-lowest' | 'reject';

/**
 * The overflow policies that discard items; they need a capacity of at least 1. `drop-lowest`
 * (priority channels only) evicts the lowest-priority item, the oldest among equals; if the
 * incoming item ranks lowest, it is the one discarded.
 */
export type DropPolicy = 'drop-newest' | 'drop-oldest' | 'drop-lowest';

/**
 * Why an item was discarded by the channel, as passed to `onDrop`:
 * - `overflow`: the incoming item was discarded because the buffer was full (`drop-newest`);
 * - `evicted`: a buffered item was discarded to make room for a new one (`drop-oldest`);
 * - `discarded`: the item was in the buffer when the channel was destroyed;
 * - `expired`: its deadline (or the channel's `maxWaitMs`) passed before it could be delivered;
 * - `shed`: CoDel dropped it because the queue delay stayed above target.
 */
export type DropReason = 'overflow' | 'evicted' | 'discarded' | 'expired' | 'shed';

/** Called once for every item the channel discards, after the channel's state is updated. */
export type DropHandler<T> = (item: T, reason: DropReason) => void;

interface CommonOptions<T> {
  /**
   * Called once for every item the channel discards. An error it throws does not affect
   * the channel; it is rethrown on a later microtask (as EventTarget does with listeners).
   */
  readonly onDrop?: DropHandler<T> | undefined;
  /** Where timeouts read time and arm timers. Default: the system clock. */
  readonly clock?: Clock | undefined;
  /**
   * Serve higher priorities first: a number per item (higher first), FIFO among equals.
   * O(log n) per operation. Give this or `compare`, not both.
   */
  readonly priority?: ((item: T) => number) | undefined;
  /** Serve in this order instead: `compare(a, b) < 0` when `a` goes first; FIFO among equals. */
  readonly compare?: ((a: T, b: T) => number) | undefined;
  /**
   * The longest an item may wait in the buffer, in milliseconds; an item that waited longer is
   * never delivered: it goes to `onDrop(item, 'expired')` when it reaches the head. Default:
   * no limit. Checked at dequeue, with no timer per item.
   */
  readonly maxWaitMs?: number | undefined;
  /**
   * An item's own deadline, as a time on the channel's clock (`undefined`: none). Past it, the
   * item is never delivered (`'expired'`); an item already past it when sent is reported at once.
   */
  readonly deadline?: ((item: T) => number | undefined) | undefined;
  /**
   * CoDel load shedding (RFC 8289): when the time items sit in the buffer stays at or above
   * `targetMs` (default 5) for a whole `intervalMs` (default 100), items are shed at dequeue,
   * ever faster (`intervalMs / √count`), until the delay falls below target. `true` for the
   * defaults. `mode: 'requests'` instead sheds every item that waited more than `targetMs` once
   * the buffer has not been empty for an interval (for producers that never slow down). Shed
   * items go to
   * `onDrop(item, 'shed')`.
   */
  readonly codel?: boolean | CoDelOptions | undefined;
  /**
   * `'adaptive-lifo'`: serve the newest item first while a standing queue exists (the oldest
   * has waited `codel.targetMs`, default 5 ms), oldest first otherwise. Under overload, fresh
   * requests then still meet their callers' deadlines instead of every request arriving late;
   * pair it with `maxWaitMs` so the old ones expire. Arrival order only (not with priorities).
   * Default `'fifo'`.
   */
  readonly order?: 'fifo' | 'adaptive-lifo' | undefined;
}

/** Options for a channel whose sends wait (`block`) or fail (`reject`) when it is full. */
export interface WaitingChannelOptions<T> extends CommonOptions<T> {
  /**
   * How many items the buffer holds: an integer from 0 up, or `Infinity` for no bound.
   * Default 0: a rendezvous, where `send` resolves only when a receiver takes the item.
   */
  readonly capacity?: number | undefined;
  /** Default `'block'`. */
  readonly overflow?: 'block' | 'reject' | undefined;
}

/** Options for a channel that discards items when it is full. */
export interface DroppingChannelOptions<T> extends CommonOptions<T> {
  /** How many items the buffer holds: a finite integer from 1 up (required). */
  readonly capacity: number;
  readonly overflow: 'drop-newest' | 'drop-oldest';
}

/** Options for a priority channel that evicts its lowest-priority item when full. */
export type LowestDroppingChannelOptions<T> = CommonOptions<T> & {
  /** How many items the buffer holds: a finite integer from 1 up (required). */
  readonly capacity: number;
  readonly overflow: 'drop-lowest';
} & ({ readonly priority: (item: T) => number } | { readonly compare: (a: T, b: T) => number });

/** Options for `new Channel()`. Drop policies require an explicit capacity ≥ 1. */
export type ChannelOptions<T> =
  | WaitingChannelOptions<T>
  | DroppingChannelOptions<T>
  | LowestDroppingChannelOptions<T>;

/** The item was buffered or handed to a receiver. */
export interface Sent {
  readonly ok: true;
}

/** The item was buffered, and `evicted` (the oldest buffered item) was discarded for it. */
export interface SentEvicting<T> {
  readonly ok: true;
  readonly evicted: T;
}

/** The item was not sent. `value` is the item, handed back. */
export interface NotSent<T> {
  readonly ok: false;
  /**
   * - `dropped`: discarded by `drop-newest`, or by `drop-lowest` because it ranked lowest
   *   (also reported to `onDrop` as `overflow`);
   * - `expired`: its deadline had already passed (also reported to `onDrop` as `expired`);
   * - `full`: no room, and the policy neither waits here nor drops (handed back, not dropped);
   * - `closed`: the channel is closed (handed back).
   */
  readonly reason: 'dropped' | 'expired' | 'full' | 'closed';
  readonly value: T;
}

/**
 * The outcome of a send. Narrow with `ok`, then `'evicted' in result`:
 * a dropped item is never reported as plain success.
 */
export type SendResult<T> = Sent | SentEvicting<T> | NotSent<T>;

/**
 * What `send` resolves with: never `full` or `closed`, which reject instead (with
 * `ChannelFullError` or `ChannelClosedError` carrying the item).
 */
export type SendOutcome<T> =
  | Sent
  | SentEvicting<T>
  | (NotSent<T> & { readonly reason: 'dropped' | 'expired' });

/** The outcome of `tryReceive`. */
export type ReceiveResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: 'empty' | 'closed' };

/** Options for a call that may wait. */
export interface WaitOptions {
  /** Abort the wait: the call rejects with `signal.reason`, untouched. */
  readonly signal?: AbortSignal | undefined;
  /** Give up after this many milliseconds with a `TimeoutError`. `Infinity`: never (default). */
  readonly timeoutMs?: number | undefined;
}

/** Options for `receiveMany`. */
export interface ReceiveManyOptions extends WaitOptions {
  /**
   * After the first item, how long to keep collecting for the batch to fill, in milliseconds.
   * Default 0: take what is there when the first item arrives, and return.
   */
  readonly waitMs?: number | undefined;
}

/** What `sendAll` did. Items keep their order; the counts always add up to the input. */
export interface SendAllResult<T> {
  /** Items accepted (buffered or handed to a receiver), including those accepted by evicting. */
  readonly sent: number;
  /** Buffered items discarded to make room (`drop-oldest`; also reported to `onDrop`). */
  readonly evicted: readonly T[];
  /**
   * Input items discarded: by `drop-newest` or `drop-lowest`, or because their deadline had
   * passed (each also reported to `onDrop`).
   */
  readonly dropped: readonly T[];
  /** Input items not sent because the call stopped (handed back, in order). */
  readonly unsent: readonly T[];
  /**
   * Why the call stopped before the end, if it did: the channel was `closed`, it was `full`
   * under `reject`, the signal `aborted`, or the `timeout` passed; `error` is what a plain
   * `send` would have rejected with (the signal's reason, a `TimeoutError`, …).
   */
  readonly stoppedBy?: 'closed' | 'full' | 'aborted' | 'timeout' | undefined;
  readonly error?: unknown;
}

/** Where a channel is in its life. States only advance: open → closed → destroyed. */
export type ChannelState = 'open' | 'closed' | 'destroyed';

/** A snapshot of a channel's counters. */
export interface ChannelStats {
  /** Items accepted: buffered or handed straight to a receiver. */
  readonly sent: number;
  /** Items taken by receivers. */
  readonly received: number;
  /** Sends refused because the channel was full (`trySend`, `reject`): handed back, not dropped. */
  readonly refused: number;
  /** Items discarded, by reason. */
  readonly dropped: Readonly<Record<DropReason, number>>;
  /** Items buffered now. */
  readonly size: number;
  /** The most items ever buffered at once. */
  readonly highWater: number;
  readonly capacity: number;
  readonly waitingSenders: number;
  readonly waitingReceivers: number;
  readonly state: ChannelState;
}
