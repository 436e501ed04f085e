/**
 * `broadcast`: fan-out. Every item published reaches every subscriber, each through its own
 * bounded Channel with its own capacity and overflow policy (see docs/semantics/fan-out-fan-in.md).
 *
 * Invariants (checked by `assertInvariants()`):
 * 1. The state only advances: open → closed. Once closed, there are no subscribers and no feed
 *    is running.
 * 2. Each subscriber appears once; a subscriber found closed is removed before it is counted.
 * 3. Nothing is lost silently. For every publish, each subscriber of the snapshot taken at the
 *    call gets exactly one outcome (delivered, dropped, refused, closed or withdrawn), so
 *    `delivered + dropped + refused + closed + withdrawn == outcomes`; a publish with no
 *    subscriber is `unheard` and goes to `onUnheard`.
 * 4. A publish waits only for `block` subscribers: drop and `reject` subscribers are offered the
 *    item synchronously with `trySend`, in the same step that starts the `block` sends.
 *
 * Publishing is one synchronous pass over the subscribers (no awaits, no user code but the
 * channels' own `onDrop` hooks, which they report safely); only the `block` sends that had to
 * wait are awaited afterwards.
 */
import { Channel } from '../channel/channel.js';
import type { ChannelOptions, NotSent, SendResult } from '../channel/types.js';
import { ChannelClosedError } from '../errors.js';
import { checkSignal, listenForAbort } from '../internal/abort.js';
import { describe } from '../internal/describe.js';
import { invariant } from '../internal/invariant.js';
import { reportHookError } from '../internal/report.js';
import { checkOptionalFunction, checkOptions } from '../internal/validate.js';

/** A `block` subscriber was still full when the publish's signal aborted: it never got the item. */
export interface Withdrawn<T> {
  readonly ok: false;
  readonly reason: 'aborted';
  readonly value: T;
}

/** What one subscriber did with a published item. */
export interface SubscriberOutcome<T> {
  /** The subscriber's channel, as `subscribe` returned it. */
  readonly channel: Channel<T>;
  /**
   * What its channel did: `{ ok: true }` (accepted), `{ ok: true, evicted }` (accepted by
   * evicting its oldest item, which went to its `onDrop`), or not sent: `dropped`/`expired`
   * (discarded by its policy, also to its `onDrop`), `full` (a `reject` subscriber was full:
   * handed back), `closed` (its channel was closed: it is unsubscribed), `aborted` (withdrawn).
   */
  readonly result: SendResult<T> | Withdrawn<T>;
}

/**
 * What a publish did, per subscriber and in counts. The counts add up to `outcomes.length`, the
 * number of subscribers when `send` was called.
 */
export interface BroadcastResult<T> {
  /** Subscribers that accepted the item (buffered or handed to a receiver), by evicting or not. */
  readonly delivered: number;
  /** Subscribers whose policy discarded it (`drop-newest`, `drop-lowest`, expired on arrival). */
  readonly dropped: number;
  /** `reject` subscribers that were full: the item was not given to them. */
  readonly refused: number;
  /** Subscribers whose channel was closed (they are unsubscribed). */
  readonly closed: number;
  /** `block` subscribers still full when the signal aborted. */
  readonly withdrawn: number;
  /** True when there was no subscriber at all (the item went to `onUnheard`). */
  readonly unheard: boolean;
  /** One per subscriber, in subscription order. */
  readonly outcomes: readonly SubscriberOutcome<T>[];
}

/** Options for {@link Broadcast.send}. */
export interface BroadcastSendOptions {
  /**
   * Stop waiting for `block` subscribers. An already-aborted signal rejects with
   * `signal.reason` and publishes nothing; an abort during the wait withdraws the item from the
   * subscribers still full (`reason: 'aborted'`) and resolves with what happened.
   */
  readonly signal?: AbortSignal | undefined;
}

/** Options for {@link broadcast}. */
export interface BroadcastOptions<T> {
  /**
   * Called with each item published while there is no subscriber (it reaches no one), and with
   * an item the feed pulled in the instant it stopped (abort or close during the pull). Errors
   * it throws are rethrown on a microtask. Without it, such items are still counted in
   * `unheard`.
   */
  readonly onUnheard?: ((item: T) => void) | undefined;
  /** Stops the feed from `source`: the publish in progress is withdrawn, the iterator returned. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Close the broadcast (and so every subscriber) when the feed from `source` ends, however it
   * ends. Default `true`.
   */
  readonly close?: boolean | undefined;
}

/** What `fed` resolves with. */
export interface BroadcastFeedResult {
  /** Items taken from the source. */
  readonly pulled: number;
  /** Items published (every pulled item is published, unless the feed stopped during its pull). */
  readonly published: number;
}

/** Totals since the broadcast was created. */
export interface BroadcastStats {
  /** Items published (calls to `send` that got past validation and the closed check). */
  readonly published: number;
  /** Items published while there was no subscriber. */
  readonly unheard: number;
  /** Sums of the per-subscriber outcomes of every publish that has settled. */
  readonly delivered: number;
  readonly dropped: number;
  readonly refused: number;
  readonly closed: number;
  readonly withdrawn: number;
  /** Subscribers now. */
  readonly subscribers: number;
}

const NO_FEED: Promise<BroadcastFeedResult> = Promise.resolve(
  Object.freeze({ pulled: 0, published: 0 }),
);

/**
 * A fan-out point: `subscribe` for a channel of your own, `send` to publish to every subscriber.
 *
 * Each subscriber chooses its own bound and policy, and that choice decides who waits for whom:
 * a `block` subscriber that is full makes `send` wait (and, with a `source`, slows the source) —
 * that is the point of `block`; a drop subscriber never delays anyone, it loses items instead
 * (reported to its `onDrop` and in the result); a full `reject` subscriber is skipped for that
 * item (reported as `full`). A slow subscriber therefore never blocks the others unless its
 * policy is `block`.
 *
 * @example
 * ```ts
 * const prices = broadcast(feed); // pumps `feed`, closes the subscribers when it ends
 * const ui = prices.subscribe({ capacity: 1, overflow: 'drop-oldest' }); // latest only
 * const audit = prices.subscribe({ capacity: 100 }); // every item; slows the feed when full
 * ```
 */
export class Broadcast<T> {
  readonly #subscribers: Channel<T>[] = [];
  readonly #onUnheard: ((item: T) => void) | undefined;
  /** Aborted by `close()`: stops the feed. */
  readonly #stop = new AbortController();
  #closed = false;
  #published = 0;
  #unheard = 0;
  #delivered = 0;
  #dropped = 0;
  #refused = 0;
  #closedOutcomes = 0;
  #withdrawn = 0;
  /**
   * Resolves when the feed from the source ends (the source is done, or the broadcast was
   * closed); rejects with the source's error, or with `signal.reason` when the feed's signal
   * aborts. Without a source it is already resolved. Await or catch it when you give a source:
   * an unobserved rejection surfaces as an unhandled rejection, never silently.
   */
  readonly fed: Promise<BroadcastFeedResult>;

  /** Use {@link broadcast}. */
  constructor(
    source: Channel<T> | AsyncIterable<T> | undefined,
    options: BroadcastOptions<T> = {},
  ) {
    checkOptions('options', options);
    this.#onUnheard = checkOptionalFunction('onUnheard', options.onUnheard);
    const signal = checkSignal(options.signal);
    const close = options.close ?? true;
    if (typeof close !== 'boolean') {
      throw new TypeError(`Expected \`close\` to be a boolean, got ${describe(close)}`);
    }
    if (source === undefined) {
      this.fed = NO_FEED;
      return;
    }
    const open = openSource<T>(source, 'source', this.#stop.signal);
    this.fed = this.#feed(open, signal, close);
  }

  /** Subscribers now (channels their consumers closed are no longer counted). */
  get subscribers(): number {
    this.#prune();
    return this.#subscribers.length;
  }

  /** True once `close()` was called (or the feed ended with `close`). */
  get isClosed(): boolean {
    return this.#closed;
  }

  /**
   * A new subscriber: a Channel made with `options` (its capacity, overflow policy, `onDrop`, …;
   * default: a rendezvous channel under `block`). It receives the items published from now on.
   * After `close()`, the channel returned is already closed, so its consumer's loop just ends.
   *
   * Errors: whatever `new Channel(options)` throws for a bad option (RangeError/TypeError
   * naming it).
   */
  subscribe(options?: ChannelOptions<T>): Channel<T> {
    const channel = new Channel<T>(options);
    if (this.#closed) channel.close();
    else this.#subscribers.push(channel);
    return channel;
  }

  /**
   * Removes `channel` and closes it gracefully: items it buffered can still be received, then
   * its consumer's loop ends; a publish waiting for it stops waiting (outcome `closed`).
   * Returns false if it was not a subscriber. A consumer may also just `close()` its channel.
   *
   * Errors: a TypeError if `channel` is not a Channel.
   */
  unsubscribe(channel: Channel<T>): boolean {
    if (!(channel instanceof Channel)) {
      throw new TypeError(`Expected \`channel\` to be a Channel, got ${describe(channel)}`);
    }
    const index = this.#subscribers.indexOf(channel);
    if (index === -1) return false;
    this.#subscribers.splice(index, 1);
    channel.close();
    return true;
  }

  /**
   * Publishes `item` to every subscriber.
   *
   * Waits for: every `block` subscriber to accept the item (buffer it or hand it to a
   * receiver). Drop and `reject` subscribers are offered it without waiting, in the same
   * synchronous step, so they never delay the publish. Resolves with what each subscriber did
   * (`BroadcastResult`); it does not reject for a subscriber that dropped, refused or was
   * closed, because the caller needs to know who got the item.
   *
   * Cancellation: an already-aborted `signal` rejects with `signal.reason` and publishes
   * nothing. If it aborts while `block` subscribers are still full, the item is withdrawn from
   * those (`reason: 'aborted'`) and the call resolves: the others already have it.
   *
   * Ordering: the subscribers are those present at the call. Each subscriber receives published
   * items in the order `send` was called, even when calls overlap.
   *
   * Errors: `ChannelClosedError` carrying the item if the broadcast is closed; a TypeError for
   * bad options (thrown synchronously).
   *
   * @example
   * ```ts
   * const r = await hub.send(tick);
   * if (r.dropped + r.refused > 0) metrics.lagging(r.dropped + r.refused);
   * ```
   */
  send(item: T, options?: BroadcastSendOptions): Promise<BroadcastResult<T>> {
    checkOptions('options', options);
    const signal = checkSignal(options?.signal);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#closed) return Promise.reject(new ChannelClosedError(item));
    return this.#publish(item, signal);
  }

  /**
   * Closes the broadcast: every subscriber is closed gracefully (their buffered items can still
   * be received), publishes waiting for a `block` subscriber stop waiting (outcome `closed`),
   * the feed stops pulling and returns its iterator, and later `send` calls reject. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const subscribers = this.#subscribers.splice(0);
    this.#stop.abort(new ChannelClosedError());
    for (const channel of subscribers) channel.close();
  }

  /** Totals since creation. */
  stats(): BroadcastStats {
    return {
      published: this.#published,
      unheard: this.#unheard,
      delivered: this.#delivered,
      dropped: this.#dropped,
      refused: this.#refused,
      closed: this.#closedOutcomes,
      withdrawn: this.#withdrawn,
      subscribers: this.subscribers,
    };
  }

  /** Checks the invariants at the top of this file; throws an `InvariantError` if one fails. */
  assertInvariants(): void {
    const subscribers = this.#subscribers;
    invariant(!this.#closed || subscribers.length === 0, 'a closed broadcast has subscribers');
    invariant(new Set(subscribers).size === subscribers.length, 'a subscriber appears twice');
    invariant(
      this.#unheard <= this.#published,
      () => `unheard ${this.#unheard} > published ${this.#published}`,
    );
  }

  // ---- publishing ----------------------------------------------------------------------

  /** Removes subscribers whose channels were closed by their consumers. */
  #prune(): void {
    const subscribers = this.#subscribers;
    let kept = 0;
    for (const channel of subscribers) if (!channel.isClosed) subscribers[kept++] = channel;
    subscribers.length = kept;
  }

  #publish(item: T, signal: AbortSignal | undefined): Promise<BroadcastResult<T>> {
    this.#published++;
    this.#prune();
    const snapshot = this.#subscribers.slice();
    if (snapshot.length === 0) {
      this.#reportUnheard(item);
      return Promise.resolve(this.#tally([], true));
    }
    const outcomes: SubscriberOutcome<T>[] = [];
    const waits: Promise<void>[] = [];
    for (const [index, channel] of snapshot.entries()) {
      if (channel.overflow !== 'block') {
        outcomes[index] = { channel, result: channel.trySend(item) };
        continue;
      }
      // A `block` channel takes the item now if it can; otherwise this is its waiting sender,
      // queued in call order behind earlier publishes.
      waits.push(
        channel.send(item, { signal }).then(
          (result) => {
            outcomes[index] = { channel, result };
          },
          (error: unknown) => {
            outcomes[index] = {
              channel,
              result:
                error instanceof ChannelClosedError
                  ? notSent('closed', item)
                  : { ok: false, reason: 'aborted', value: item },
            };
          },
        ),
      );
    }
    this.#prune();
    if (waits.length === 0) return Promise.resolve(this.#tally(outcomes, false));
    return Promise.all(waits).then(() => {
      this.#prune();
      return this.#tally(outcomes, false);
    });
  }

  /** An item that reaches no subscriber: counted, and passed to `onUnheard`. */
  #reportUnheard(item: T): void {
    this.#unheard++;
    if (this.#onUnheard === undefined) return;
    try {
      this.#onUnheard(item);
    } catch (error) {
      reportHookError(error);
    }
  }

  /** An item the feed pulled but could not publish because it had stopped. */
  #lost(item: T): void {
    this.#published++;
    this.#reportUnheard(item);
  }

  #tally(outcomes: SubscriberOutcome<T>[], unheard: boolean): BroadcastResult<T> {
    let delivered = 0;
    let dropped = 0;
    let refused = 0;
    let closed = 0;
    let withdrawn = 0;
    for (const { result } of outcomes) {
      if (result.ok) delivered++;
      else if (result.reason === 'dropped' || result.reason === 'expired') dropped++;
      else if (result.reason === 'full') refused++;
      else if (result.reason === 'closed') closed++;
      else withdrawn++;
    }
    this.#delivered += delivered;
    this.#dropped += dropped;
    this.#refused += refused;
    this.#closedOutcomes += closed;
    this.#withdrawn += withdrawn;
    return { delivered, dropped, refused, closed, withdrawn, unheard, outcomes };
  }

  // ---- the feed ------------------------------------------------------------------------

  async #feed(
    open: () => AsyncIterator<T>,
    signal: AbortSignal | undefined,
    close: boolean,
  ): Promise<BroadcastFeedResult> {
    let pulled = 0;
    let published = 0;
    const stop = this.#stop.signal;
    // Abort the feed's own steps when the caller's signal aborts; removed however the feed ends.
    const unlisten =
      signal === undefined
        ? undefined
        : listenForAbort(signal, (reason) => {
            if (!stop.aborted) this.#stop.abort(reason);
          });
    let iterator: AsyncIterator<T> | undefined;
    let finished = false; // the iterator ended by itself (done or threw): no return()
    try {
      if (signal?.aborted) throw signal.reason;
      await Promise.resolve(); // let the creator subscribe before the first item is published
      iterator = open();
      for (;;) {
        if (stop.aborted) break;
        let step: IteratorResult<T>;
        try {
          step = await nextOrStop(iterator, stop, (late) => this.#lost(late));
        } catch (error) {
          if (stop.aborted) break;
          finished = true;
          throw error;
        }
        if (step.done === true) {
          finished = true;
          break;
        }
        pulled++;
        if (this.#closed) {
          this.#lost(step.value); // pulled in the instant the broadcast closed
          break;
        }
        await this.#publish(step.value, signal);
        published++;
      }
      if (signal?.aborted) throw signal.reason;
      return { pulled, published };
    } finally {
      unlisten?.();
      if (iterator !== undefined && !finished) await returnIterator(iterator);
      if (close) this.close();
    }
  }
}

/**
 * A {@link Broadcast}; with `source`, it also pumps it: each item pulled from `source` is
 * published, and the next is pulled only after that publish resolved, so a full `block`
 * subscriber slows the source itself. The first item is pulled a microtask after this call,
 * so subscribers created right after it see every item. When the feed ends (source done,
 * error, abort) the broadcast is closed, unless `close: false`; `fed` says how it ended.
 *
 * A Channel source is read with `iterate`, so its other consumers compete for its items and
 * it is never closed by the broadcast.
 *
 * Errors: a TypeError (synchronously) if `source` is neither a Channel nor an async iterable,
 * or an option has the wrong type.
 */
export function broadcast<T>(
  source?: Channel<T> | AsyncIterable<T>,
  options?: BroadcastOptions<T>,
): Broadcast<T> {
  return new Broadcast(source, options);
}

// ---- shared with merge -------------------------------------------------------------------

/**
 * Checks that `source` is a Channel or an async iterable and returns how to open it. A Channel
 * is read with `iterate({ signal })`, so a stop ends its pending step at once.
 */
export function openSource<T>(
  source: unknown,
  name: string,
  signal: AbortSignal,
): () => AsyncIterator<T> {
  if (source instanceof Channel) return () => (source as Channel<T>).iterate({ signal });
  if (typeof source === 'object' && source !== null) {
    const open = (source as Partial<AsyncIterable<T>>)[Symbol.asyncIterator];
    if (typeof open === 'function') return () => open.call(source);
  }
  throw new TypeError(
    `Expected \`${name}\` to be a Channel or an async iterable, got ${describe(source)}`,
  );
}

/** Rejects with `stop.reason` as soon as `stop` aborts, even while `iterator.next()` is pending. */
export function nextOrStop<T>(
  iterator: AsyncIterator<T>,
  stop: AbortSignal,
  onLate?: (item: T) => void,
): Promise<IteratorResult<T>> {
  if (stop.aborted) return Promise.reject(stop.reason);
  const step = Promise.resolve(iterator.next());
  return new Promise((resolve, reject) => {
    const unlisten = listenForAbort(stop, (reason) => {
      reject(reason);
      step.then(
        (late) => {
          if (late.done !== true) onLate?.(late.value);
        },
        () => {},
      );
    });
    step.then(
      (result) => {
        unlisten();
        resolve(result);
      },
      (error: unknown) => {
        unlisten();
        reject(error);
      },
    );
  });
}

/** `iterator.return()`, if it has one; its errors give way (as in `for await`). */
export async function returnIterator<T>(iterator: AsyncIterator<T>): Promise<void> {
  try {
    await iterator.return?.();
  } catch {
    // The way the loop ended matters more than an error from cleaning up.
  }
}

function notSent<T>(reason: NotSent<T>['reason'], value: T): NotSent<T> {
  return { ok: false, reason, value };
}
