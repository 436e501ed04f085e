/**
 * A Channel as a Node `Readable` or `Writable` (objectMode), for `pipe()` and `pipeline()`.
 *
 * Invariants:
 * 1. The Readable holds at most one item of its own: it reads with highWaterMark 0, so it
 *    receives from the channel only when its consumer asks (`read()`, or flowing mode), and an
 *    item pushed while nobody reads stops further receives until it is read.
 * 2. The Writable's `write()` returns false exactly when a plain `channel.send()` of that item
 *    would have waited, i.e. when the item is not in the channel when `write()` returns; and
 *    `'drain'` is emitted once after each such false, when the channel has taken every item
 *    written. A producer that honours `write()` has at most one item outside the channel: the one
 *    waiting for room, as `await channel.send()` would have.
 * 3. Nothing is lost silently: every item an adapter holds when it is destroyed goes to
 *    `onUndelivered`; every item written to the Writable is either accepted by the channel or
 *    passed to `onUndelivered` (and its write callback gets the error).
 * 4. Destroying an adapter never leaves a channel waiter pending: its pending receive or send is
 *    aborted, which consumes or enqueues nothing.
 */
import { Readable, Writable } from 'node:stream';
import type { Channel } from '../channel/channel.js';
import { ChannelClosedError, ChannelFullError } from '../errors.js';
import {
  abortChannel,
  type ChannelReadableStreamOptions,
  type ChannelWritingOptions,
  checkBoolean,
  checkChannel,
  checkUndelivered,
  checkWritingOptions,
  type UndeliveredHandler,
  undelivered,
  type WritingSettings,
} from '../flow/web-streams.js';
import { RingBuffer } from '../internal/ring-buffer.js';
import { checkOptions } from '../internal/validate.js';

/**
 * Options for {@link toReadable}: as for `toReadableStream`. "Cancel" here means the Readable is
 * destroyed before it ended (by `destroy()`, or by `pipeline()` when another stream fails).
 */
export type ChannelReadableOptions<T> = ChannelReadableStreamOptions<T>;

/**
 * Options for {@link toWritable}: as for `toWritableStream`. "Abort" here means the Writable is
 * destroyed before it finished (by `destroy(err)`, or by `pipeline()` when another stream fails).
 */
export type ChannelWritableOptions<T> = ChannelWritingOptions<T>;

/**
 * An objectMode `Readable` whose items are received from `channel`.
 *
 * Waits for: each `_read` takes a buffered item at once or waits like `channel.receive()`. Its
 * highWaterMark is 0, so items stay in the channel until the consumer asks for them (at most one
 * sits in the Readable, pushed and not yet read). It ends (`push(null)`) when the channel is
 * closed and drained, also after `destroy()`.
 *
 * Cancellation: `destroy(err)` aborts the pending receive (nothing consumed) and passes any item
 * the Readable still holds (pushed, not yet read; or handed over in the same instant) to
 * `onUndelivered`. Node would otherwise discard it. The channel stays open unless
 * `closeChannelOnCancel`.
 *
 * Ordering: the channel's FIFO order.
 *
 * Errors: throws a TypeError synchronously for a bad `channel` or option.
 *
 * @example
 * ```ts
 * await pipeline(toReadable(events), new JsonLinesEncoder(), createWriteStream('out.jsonl'));
 * ```
 */
export function toReadable<T>(
  channel: Channel<T>,
  options: ChannelReadableOptions<T> = {},
): Readable {
  checkChannel(channel);
  checkOptions('options', options);
  const closeOnCancel = checkBoolean('closeChannelOnCancel', options.closeChannelOnCancel, false);
  return new ChannelReadable(channel, closeOnCancel, checkUndelivered<T>(options.onUndelivered));
}

/**
 * An objectMode `Writable` whose writes send to `channel`.
 *
 * Waits for: each `_write` waits like `channel.send(item)`, so its callback (and `'finish'`)
 * means accepted by the channel, not processed. `write()` returns false exactly when a plain
 * `send` would wait — the channel is full and no receiver waits — and `'drain'` follows once the
 * channel has taken that item. `end()` closes the channel once every write was accepted, unless
 * `close: false`. Writes follow the channel's overflow policy: under `drop-*` they never wait.
 *
 * highWaterMark: reported as 1, meaning "the item being handed over". Node decides `write()`'s
 * result before `_write` runs, so with any highWaterMark it cannot know whether the channel took
 * the item; this Writable hands each item over synchronously when the channel has room and makes
 * the decision after that attempt. It passes on only the `'drain'` events it owes, and
 * `writableNeedDrain` says whether one is owed, so `pipe()` pauses and resumes on the channel's
 * room, not on Node's own count.
 *
 * Cancellation: `destroy(err)` before `'finish'` withdraws the item waiting for room, passes it
 * and any items written after `write()` returned false to `onUndelivered`, then applies
 * `onAbort` to the channel (default: close it).
 *
 * Ordering: items enter the channel in the order written.
 *
 * Errors: if the channel refuses an item (closed, or full under `reject`), its write callback
 * gets `ChannelClosedError`/`ChannelFullError` carrying it, the item goes to `onUndelivered`, and
 * the Writable is destroyed with that error. Throws synchronously for a bad `channel` or option.
 *
 * @example
 * ```ts
 * const lines = new Channel<string>({ capacity: 100 });
 * const fed = pipeline(createReadStream(file), split(), toWritable(lines));
 * for await (const line of lines) await handle(line); // the file is read as fast as this
 * ```
 */
export function toWritable<T>(
  channel: Channel<T>,
  options: ChannelWritableOptions<T> = {},
): Writable {
  checkChannel(channel);
  return new ChannelWritable(channel, checkWritingOptions(options));
}

type WriteCallback = (error: Error | null | undefined) => void;

class ChannelReadable<T> extends Readable {
  readonly #channel: Channel<T>;
  readonly #closeOnCancel: boolean;
  readonly #onUndelivered: UndeliveredHandler<T> | undefined;
  readonly #stop = new AbortController();
  /** Items pushed into Node's buffer and not yet emitted as `'data'` (at most one or two). */
  readonly #held = new RingBuffer<T>();
  /** The pending receive, settled after its item was pushed or reported. */
  #pending: Promise<void> | undefined;

  constructor(
    channel: Channel<T>,
    closeOnCancel: boolean,
    onUndelivered: UndeliveredHandler<T> | undefined,
  ) {
    super({ objectMode: true, highWaterMark: 0 });
    this.#channel = channel;
    this.#closeOnCancel = closeOnCancel;
    this.#onUndelivered = onUndelivered;
  }

  override _read(): void {
    if (this.#pending !== undefined) return;
    const now = this.#channel.tryReceive();
    if (now.ok) this.#push(now.value);
    else if (now.reason === 'closed') this.push(null);
    else {
      this.#pending = this.#channel.receive({ signal: this.#stop.signal }).then(
        (item) => {
          this.#pending = undefined;
          if (this.destroyed) undelivered(this.#onUndelivered, item);
          else this.#push(item);
        },
        (error: unknown) => {
          this.#pending = undefined;
          if (this.destroyed) return;
          if (error instanceof ChannelClosedError) this.push(null);
          else this.destroy(error as Error);
        },
      );
    }
  }

  #push(item: T): void {
    this.#held.push(item);
    this.push(item);
  }

  // Every item leaves Node's buffer through a 'data' event (flowing mode, read(), iterators).
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'data' && this.#held.length > 0 && this.#held.peek() === args[0]) {
      this.#held.shift();
    }
    return super.emit(event, ...args);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const cancelled = !this.readableEnded;
    this.#stop.abort(error ?? undefined);
    const settled = this.#pending ?? Promise.resolve();
    void settled.then(() => {
      for (const item of this.#held.drain()) undelivered(this.#onUndelivered, item);
      if (cancelled && this.#closeOnCancel) this.#channel.close();
      callback(error);
    });
  }
}

class ChannelWritable<T> extends Writable {
  readonly #channel: Channel<T>;
  readonly #settings: WritingSettings<T>;
  readonly #stop = new AbortController();
  /** Items written and accepted by Node, not yet accepted or refused by the channel (FIFO). */
  readonly #waiting = new RingBuffer<T>();
  /** The send waiting for room, settled after its callback ran. */
  #inFlight: Promise<void> | undefined;
  /** `write()` returned false and no `'drain'` was emitted since. */
  #owesDrain = false;

  constructor(channel: Channel<T>, settings: WritingSettings<T>) {
    super({ objectMode: true, highWaterMark: 1 });
    this.#channel = channel;
    this.#settings = settings;
  }

  static {
    // Node reads this (in pipe()) to decide whether to wait for 'drain' before writing.
    Object.defineProperty(ChannelWritable.prototype, 'writableNeedDrain', {
      configurable: true,
      get(this: ChannelWritable<unknown>): boolean {
        return this.#owesDrain;
      },
    });
  }

  override write(
    chunk: unknown,
    encoding?: BufferEncoding | WriteCallback,
    callback?: WriteCallback,
  ): boolean {
    if (chunk === null) return super.write(chunk, encoding as BufferEncoding, callback); // throws
    if (this.destroyed || this.writableEnded) {
      // Node refuses it (ERR_STREAM_DESTROYED / ERR_STREAM_WRITE_AFTER_END); report it too.
      undelivered(this.#settings.onUndelivered, chunk as T);
      return super.write(chunk, encoding as BufferEncoding, callback);
    }
    this.#waiting.push(chunk as T);
    // Runs _write synchronously unless an earlier item still waits; _write hands the item over
    // at once when the channel has room, so #waiting is empty exactly when it was accepted.
    super.write(chunk, encoding as BufferEncoding, callback);
    if (this.destroyed || this.errored !== null) return false;
    if (this.#waiting.length === 0) return true;
    this.#owesDrain = true;
    return false;
  }

  // Node's end(chunk) writes the chunk without calling write(); route it through write().
  override end(
    chunk?: unknown,
    encoding?: BufferEncoding | (() => void),
    callback?: () => void,
  ): this {
    if (typeof chunk === 'function') return super.end(chunk as () => void);
    const done = typeof encoding === 'function' ? encoding : callback;
    if (chunk !== undefined && chunk !== null) {
      this.write(chunk, typeof encoding === 'function' ? undefined : encoding);
    }
    return super.end(done);
  }

  override _write(chunk: T, _encoding: BufferEncoding, callback: WriteCallback): void {
    const channel = this.#channel;
    if (!wouldWait(channel)) {
      const result = channel.trySend(chunk);
      this.#settle();
      // Dropped or expired on arrival: the channel took it and reported it to its onDrop.
      if (result.ok || result.reason === 'dropped' || result.reason === 'expired') callback(null);
      else this.#refused(chunk, result.reason, callback);
      return;
    }
    // Usually this send waits. (A channel with maxWaitMs, deadlines or CoDel may instead make
    // room at once by expiring its head; the callback then comes a microtask later, write()
    // has already said false, and 'drain' follows at once: conservative, never optimistic.)
    this.#inFlight = channel.send(chunk, { signal: this.#stop.signal }).then(
      () => {
        this.#inFlight = undefined;
        this.#settle();
        callback(null);
      },
      (error: unknown) => {
        this.#inFlight = undefined;
        this.#settle();
        undelivered(this.#settings.onUndelivered, chunk);
        callback(error as Error);
      },
    );
  }

  /** The head item left the Writable (end(chunk) goes through write(), so it was recorded). */
  #settle(): void {
    if (this.#waiting.length > 0) this.#waiting.shift();
  }

  #refused(chunk: T, reason: 'full' | 'closed', callback: WriteCallback): void {
    undelivered(this.#settings.onUndelivered, chunk);
    callback(
      reason === 'closed'
        ? new ChannelClosedError(chunk)
        : new ChannelFullError(chunk, this.#channel.capacity),
    );
  }

  // Node emits 'drain' after every write it judged by its own count; pass on the owed ones.
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'drain') {
      if (!this.#owesDrain) return false;
      this.#owesDrain = false;
    }
    return super.emit(event, ...args);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.#settings.close) this.#channel.close();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const early = !this.writableFinished;
    this.#stop.abort(error ?? undefined);
    const settled = this.#inFlight ?? Promise.resolve();
    void settled.then(() => {
      const { onAbort, onUndelivered } = this.#settings;
      // Items Node still queues (written after write() returned false): Node fails their
      // callbacks with the destroy error; they were never offered to the channel.
      for (const item of this.#waiting.drain()) undelivered(onUndelivered, item);
      if (early) abortChannel(this.#channel, onAbort, onUndelivered);
      callback(error);
    });
  }
}

/** Whether `channel.send(item)` would wait now: the same test the channel's accept path makes. */
function wouldWait<T>(channel: Channel<T>): boolean {
  return (
    channel.overflow === 'block' &&
    !channel.isClosed &&
    channel.waitingReceivers === 0 &&
    channel.size >= channel.capacity
  );
}
