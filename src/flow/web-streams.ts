/**
 * A Channel as a WHATWG `ReadableStream` or `WritableStream`, and `fromAsyncIterable`, which
 * feeds a channel from any (async) iterable no faster than the channel accepts.
 *
 * Standard globals only (no `node:` imports), so this runs in browsers, Deno and Bun too.
 *
 * What each adapter promises (see docs/semantics/streams.md):
 * 1. No adapter buffers items of its own beyond one in flight: the readable stream pulls with
 *    highWaterMark 0 (an item leaves the channel only when a reader asks for it); the writable
 *    stream has highWaterMark 1 (the item being sent); `fromAsyncIterable` pulls the next value
 *    only once the channel accepted the previous one.
 * 2. Nothing is lost silently. Every item an adapter holds either reaches its destination or is
 *    passed to `onUndelivered` (and, where a caller waits on it, its promise rejects).
 * 3. Cancelling or aborting a stream never leaves a channel waiter pending: the adapter's
 *    pending `receive`/`send` is aborted, which consumes or enqueues nothing.
 */
import { Channel } from '../channel/channel.js';
import type { SendOutcome } from '../channel/types.js';
import { ChannelClosedError } from '../errors.js';
import { checkSignal, listenForAbort } from '../internal/abort.js';
import { describe } from '../internal/describe.js';
import { reportHookError } from '../internal/report.js';
import { checkOneOf, checkOptionalFunction, checkOptions } from '../internal/validate.js';

/** Called once for each item an adapter took charge of but could not deliver. */
export type UndeliveredHandler<T> = (item: T) => void;

/** Options for {@link toReadableStream}. */
export interface ChannelReadableStreamOptions<T> {
  /**
   * Close the channel when the stream is cancelled before it ended. Default `false`: the channel
   * may have other consumers, and its items stay in it (like breaking out of `for await`).
   */
  readonly closeChannelOnCancel?: boolean | undefined;
  /**
   * Receives the item a cancel caught in flight: the channel had already handed it to the
   * stream's pending pull when the cancel came, so it can no longer be enqueued. At most one
   * item per stream, and only in that race. Without this option the item is dropped; pass it
   * whenever the channel is shared. Errors it throws are rethrown on a microtask.
   */
  readonly onUndelivered?: UndeliveredHandler<T> | undefined;
}

/**
 * What aborting a writing adapter does to the channel:
 * - `close`: `channel.close()`; buffered items stay receivable, waiting senders are refused;
 * - `destroy`: `channel.destroy()`; the buffered items it discards go to `onUndelivered` (and to
 *   the channel's own `onDrop` as `'discarded'`);
 * - `none`: the channel is left as it is (for a channel other producers still use).
 */
export type AbortChannelAction = 'close' | 'destroy' | 'none';

/** Options shared by the writing adapters ({@link toWritableStream} and `toWritable`). */
export interface ChannelWritingOptions<T> {
  /** Close the channel when the stream ends normally. Default `true`. */
  readonly close?: boolean | undefined;
  /**
   * What an abort (or an error that ends the stream early) does to the channel. Default
   * `'close'` when `close` is true, `'none'` when it is false.
   */
  readonly onAbort?: AbortChannelAction | undefined;
  /**
   * Receives, once each, the items written to the stream that the channel did not accept (the
   * channel was closed or full under `reject`, or the stream was aborted while the item waited),
   * and under `onAbort: 'destroy'` the items `destroy()` discarded. Errors it throws are
   * rethrown on a microtask.
   */
  readonly onUndelivered?: UndeliveredHandler<T> | undefined;
}

/** Options for {@link toWritableStream}. */
export interface ChannelWritableStreamOptions<T> extends ChannelWritingOptions<T> {
  /**
   * Aborts the stream from outside, even while a write waits for room: the waiting item is
   * withdrawn (to `onUndelivered`), the stream errors with `signal.reason`, and `onAbort` applies.
   * Give it the same signal as `pipeTo(…, { signal })`: by the Streams spec, `pipeTo` waits for
   * the write in flight to finish before it aborts its destination, and a write into a full
   * channel finishes only when someone receives.
   */
  readonly signal?: AbortSignal | undefined;
}

/** Options for {@link fromAsyncIterable}. */
export interface FromAsyncIterableOptions<T> {
  /** Stops the feed: the pending send is withdrawn and the iterator's `return()` is called. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Close the channel when the feed ends, however it ends (the iterable is done, throws, the
   * signal aborts or a send fails). Default `true`; pass `false` when other producers share it.
   */
  readonly close?: boolean | undefined;
  /**
   * Receives the value that was pulled but not accepted when the feed stopped (at most one: the
   * channel refused it, or the signal aborted while it waited or was being pulled).
   */
  readonly onUndelivered?: UndeliveredHandler<T> | undefined;
}

/** What {@link fromAsyncIterable} resolves with. */
export interface FeedResult {
  /** Values taken from the iterable. */
  readonly pulled: number;
  /** Values the channel accepted (buffered or handed to a receiver). */
  readonly sent: number;
  /**
   * Values the channel discarded on arrival (`drop-newest`, `drop-lowest`, or already past their
   * deadline; each also reported to the channel's `onDrop`).
   */
  readonly dropped: number;
}

/**
 * A `ReadableStream` whose items are received from `channel`, one per pull.
 *
 * Waits for: each pull waits like `channel.receive()`. The stream's highWaterMark is 0, so an
 * item leaves the channel only when a reader (or `pipeTo`) asks for one: the stream holds no
 * items of its own and other consumers of the channel are not starved. The stream closes when
 * the channel is closed and drained (also after `destroy()`).
 *
 * Cancellation: `stream.cancel()` (also by `pipeTo` when the destination fails) aborts the
 * pending receive, which consumes nothing, and leaves the channel open unless
 * `closeChannelOnCancel`. An item the channel handed over in the same instant goes to
 * `onUndelivered`.
 *
 * Ordering: the channel's FIFO order; with other consumers, each item goes to one of them.
 *
 * Errors: throws a TypeError synchronously if `channel` is not a Channel or an option has the
 * wrong type.
 *
 * @example
 * ```ts
 * const ch = new Channel<string>({ capacity: 8 });
 * await toReadableStream(ch).pipeThrough(new TextEncoderStream()).pipeTo(sink);
 * ```
 */
export function toReadableStream<T>(
  channel: Channel<T>,
  options: ChannelReadableStreamOptions<T> = {},
): ReadableStream<T> {
  checkChannel(channel);
  checkOptions('options', options);
  const closeOnCancel = checkBoolean('closeChannelOnCancel', options.closeChannelOnCancel, false);
  const onUndelivered = checkUndelivered<T>(options.onUndelivered);
  const stop = new AbortController();
  return new ReadableStream<T>(
    {
      pull(controller): Promise<void> | undefined {
        const now = channel.tryReceive();
        if (now.ok) {
          controller.enqueue(now.value);
          return undefined;
        }
        if (now.reason === 'closed') {
          controller.close();
          return undefined;
        }
        return channel.receive({ signal: stop.signal }).then(
          (item) => {
            if (stop.signal.aborted) undelivered(onUndelivered, item);
            else controller.enqueue(item);
          },
          (error: unknown) => {
            if (stop.signal.aborted) return;
            if (error instanceof ChannelClosedError) controller.close();
            else controller.error(error);
          },
        );
      },
      cancel(reason): void {
        stop.abort(reason);
        if (closeOnCancel) channel.close();
      },
    },
    new CountQueuingStrategy({ highWaterMark: 0 }),
  );
}

/**
 * A `WritableStream` whose writes send to `channel`.
 *
 * Waits for: each write waits like `channel.send(item)`, so it settles when the channel accepts
 * the item (buffered or handed to a receiver), not when the item is processed. The stream's
 * highWaterMark is 1: `writer.desiredSize` is 1 while the channel has taken every item written
 * and 0 while an item waits for room, so `await writer.ready` (and `pipeTo`) waits exactly when
 * a plain `send` would, and the stream itself never holds more than that one item. (With 0,
 * `desiredSize` would never be positive and `pipeTo` would never start; with more, items would
 * queue in the stream on top of the channel's buffer.) Closing the stream closes the channel
 * unless `close: false`. Writes follow the channel's overflow policy: under `drop-*` they never
 * wait, and dropped items go to the channel's `onDrop`.
 *
 * Cancellation: `abort(reason)`, or the `signal` option aborting, withdraws the item that
 * waits for room (it goes to `onUndelivered`; its write rejects) and then applies `onAbort` to
 * the channel. Pass `pipeTo`'s signal here too (see the `signal` option).
 *
 * Ordering: items enter the channel in the order written; the stream sends one at a time.
 *
 * Errors: a write rejects, and the stream errors, if the channel refuses the item
 * (`ChannelClosedError` or `ChannelFullError`, each carrying it; it also goes to
 * `onUndelivered`). Throws a TypeError or RangeError synchronously for a bad `channel` or option.
 *
 * @example
 * ```ts
 * const ch = new Channel<Uint8Array>({ capacity: 4 });
 * const done = response.body!.pipeTo(toWritableStream(ch)); // reads as fast as ch accepts
 * for await (const chunk of ch) await handle(chunk);
 * ```
 */
export function toWritableStream<T>(
  channel: Channel<T>,
  options: ChannelWritableStreamOptions<T> = {},
): WritableStream<T> {
  checkChannel(channel);
  const { close, onAbort, onUndelivered } = checkWritingOptions(options);
  const outside = checkSignal(options.signal);
  let aborted: AbortSignal | undefined; // the stream's own: abort() was called
  let signal: AbortSignal | undefined; // that, or `outside`
  let ended = false; // closed, aborted or errored: the channel was dealt with
  let unlisten: (() => void) | undefined;
  const end = (): boolean => {
    if (ended) return false;
    ended = true;
    unlisten?.();
    unlisten = undefined;
    return true;
  };
  return new WritableStream<T>(
    {
      start(controller): void {
        aborted = controller.signal;
        if (outside === undefined) {
          signal = aborted;
          return;
        }
        signal = AbortSignal.any([aborted, outside]);
        const stop = (reason: unknown): void => {
          unlisten = undefined;
          if (!end()) return;
          controller.error(reason);
          abortChannel(channel, onAbort, onUndelivered);
        };
        if (outside.aborted) stop(outside.reason);
        else unlisten = listenForAbort(outside, stop);
      },
      write(item): Promise<void> {
        return channel.send(item, { signal }).then(
          () => undefined,
          (error: unknown) => {
            undelivered(onUndelivered, item);
            // Refused by the channel: the stream errors without calling abort(), so apply
            // onAbort here. (After abort() or `outside`, abort()/stop applies it instead.)
            if (aborted?.aborted !== true && end()) {
              abortChannel(channel, onAbort, onUndelivered);
            }
            throw error;
          },
        );
      },
      close(): void {
        end();
        if (close) channel.close();
      },
      abort(): void {
        if (end()) abortChannel(channel, onAbort, onUndelivered);
      },
    },
    new CountQueuingStrategy({ highWaterMark: 1 }),
  );
}

/**
 * Sends every value of `iterable` to `channel`, pulling the next value only after the channel
 * accepted the previous one, so the iterable is read no faster than the channel accepts: at
 * most one value is ever pulled and not yet accepted.
 *
 * Waits for: the end of the iterable (each value accepted or, under `drop-newest`, dropped);
 * resolves with the counts. Closes the channel when the feed ends, however it ends, unless
 * `close: false`.
 *
 * Cancellation: when `signal` aborts, pulling stops, the value waiting to be sent is withdrawn
 * (to `onUndelivered`), the iterator's `return()` is called (not awaited if a `next()` is still
 * pending: an async generator runs it after that step, whose value then goes to
 * `onUndelivered`), and the promise rejects with `signal.reason` at once.
 *
 * Ordering: values are sent in iteration order, one at a time.
 *
 * Errors: rejects with the iterable's error (after calling `return()` when the error came from
 * elsewhere); with `ChannelClosedError` or `ChannelFullError` (carrying the value, which also
 * goes to `onUndelivered`) if the channel refuses a value. Throws a TypeError synchronously if
 * `iterable` is not iterable, `channel` is not a Channel, or an option has the wrong type.
 *
 * @example
 * ```ts
 * const lines = new Channel<string>({ capacity: 100 });
 * const fed = fromAsyncIterable(readLines(file), lines); // closes `lines` at the end
 * for await (const line of lines) await parse(line);
 * console.log(await fed); // { pulled: n, sent: n, dropped: 0 }
 * ```
 */
export function fromAsyncIterable<T>(
  iterable: AsyncIterable<T> | Iterable<T>,
  channel: Channel<T>,
  options: FromAsyncIterableOptions<T> = {},
): Promise<FeedResult> {
  const open = iteratorOf<T>(iterable);
  checkChannel(channel);
  checkOptions('options', options);
  const signal = checkSignal(options.signal);
  const close = checkBoolean('close', options.close, true);
  const onUndelivered = checkUndelivered<T>(options.onUndelivered);
  return new Feed(open, channel, signal, close, onUndelivered).run();
}

/** One run of `fromAsyncIterable`: its counters, its pending step, and how it stops. */
class Feed<T> {
  readonly #open: () => AsyncIterator<T> | Iterator<T>;
  readonly #channel: Channel<T>;
  readonly #signal: AbortSignal | undefined;
  readonly #close: boolean;
  readonly #onUndelivered: UndeliveredHandler<T> | undefined;
  #pulled = 0;
  #sent = 0;
  #dropped = 0;

  constructor(
    open: () => AsyncIterator<T> | Iterator<T>,
    channel: Channel<T>,
    signal: AbortSignal | undefined,
    close: boolean,
    onUndelivered: UndeliveredHandler<T> | undefined,
  ) {
    this.#open = open;
    this.#channel = channel;
    this.#signal = signal;
    this.#close = close;
    this.#onUndelivered = onUndelivered;
  }

  async run(): Promise<FeedResult> {
    try {
      await this.#loop();
      return { pulled: this.#pulled, sent: this.#sent, dropped: this.#dropped };
    } finally {
      if (this.#close) this.#channel.close();
    }
  }

  async #loop(): Promise<void> {
    const signal = this.#signal;
    if (signal?.aborted) throw signal.reason;
    const iterator = this.#open();
    for (;;) {
      const step = await this.#next(iterator);
      if (step.done === true) return;
      this.#pulled++;
      let outcome: SendOutcome<T>;
      try {
        outcome = await this.#channel.send(step.value, { signal });
      } catch (error) {
        undelivered(this.#onUndelivered, step.value);
        await closeIterator(iterator);
        throw error;
      }
      if (outcome.ok) this.#sent++;
      else this.#dropped++;
    }
  }

  /** `iterator.next()`, abandoned (and the iterator told to return) if the signal aborts. */
  #next(iterator: AsyncIterator<T> | Iterator<T>): Promise<IteratorResult<T>> {
    const signal = this.#signal;
    const step = Promise.resolve(iterator.next());
    if (signal === undefined) return step;
    if (signal.aborted) return closeIterator(iterator).then(() => Promise.reject(signal.reason));
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        reject(signal.reason);
        step.then(
          (late) => {
            if (late.done !== true) undelivered(this.#onUndelivered, late.value);
          },
          () => {},
        );
        closeIterator(iterator).catch(() => {});
      };
      signal.addEventListener('abort', onAbort, { once: true });
      step.then(
        (result) => {
          signal.removeEventListener('abort', onAbort);
          resolve(result);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  }
}

/** Calls `iterator.return()` if it has one; its errors give way to the error that stopped us. */
async function closeIterator<T>(iterator: AsyncIterator<T> | Iterator<T>): Promise<void> {
  try {
    await iterator.return?.();
  } catch {
    // As in `for await`: the error that ended the loop wins over one from return().
  }
}

function iteratorOf<T>(iterable: unknown): () => AsyncIterator<T> | Iterator<T> {
  if (typeof iterable === 'object' && iterable !== null) {
    const source = iterable as Partial<AsyncIterable<T> & Iterable<T>>;
    const asyncOpen = source[Symbol.asyncIterator];
    if (typeof asyncOpen === 'function') return () => asyncOpen.call(source);
    const syncOpen = source[Symbol.iterator];
    if (typeof syncOpen === 'function') return () => syncOpen.call(source);
  }
  throw new TypeError(
    `Expected \`iterable\` to be an iterable or async iterable, got ${describe(iterable)}`,
  );
}

// ---- shared by the stream adapters (also imported by sluice/node) -----------------------

/** Throws a TypeError unless `channel` is a sluice Channel. */
export function checkChannel(channel: unknown): void {
  if (!(channel instanceof Channel)) {
    throw new TypeError(`Expected \`channel\` to be a Channel, got ${describe(channel)}`);
  }
}

/** A boolean, or `fallback` for `undefined`. */
export function checkBoolean(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value === 'boolean') return value;
  throw new TypeError(`Expected \`${name}\` to be a boolean, got ${describe(value)}`);
}

/** The `onUndelivered` option, checked. */
export function checkUndelivered<T>(value: unknown): UndeliveredHandler<T> | undefined {
  return checkOptionalFunction<UndeliveredHandler<T>>('onUndelivered', value);
}

const ABORT_ACTIONS = ['close', 'destroy', 'none'] as const;

/** The checked options of a writing adapter, with defaults applied. */
export interface WritingSettings<T> {
  readonly close: boolean;
  readonly onAbort: AbortChannelAction;
  readonly onUndelivered: UndeliveredHandler<T> | undefined;
}

/** Checks the options of a writing adapter and applies the defaults. */
export function checkWritingOptions<T>(options: ChannelWritingOptions<T>): WritingSettings<T> {
  checkOptions('options', options);
  const close = checkBoolean('close', options.close, true);
  const onAbort = checkOneOf(
    'onAbort',
    options.onAbort === undefined ? (close ? 'close' : 'none') : options.onAbort,
    ABORT_ACTIONS,
  );
  return { close, onAbort, onUndelivered: checkUndelivered<T>(options.onUndelivered) };
}

/** Applies `action` to the channel of an aborted writer; discarded items go to the hook. */
export function abortChannel<T>(
  channel: Channel<T>,
  action: AbortChannelAction,
  onUndelivered: UndeliveredHandler<T> | undefined,
): void {
  if (action === 'close') channel.close();
  else if (action === 'destroy') {
    for (const item of channel.destroy()) undelivered(onUndelivered, item);
  }
}

/** Hands `item` to the hook, if any; an error it throws is rethrown on a microtask. */
export function undelivered<T>(hook: UndeliveredHandler<T> | undefined, item: T): void {
  if (hook === undefined) return;
  try {
    hook(item);
  } catch (error) {
    reportHookError(error);
  }
}
