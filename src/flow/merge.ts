/**
 * `merge`: fan-in. Several channels or async iterables into one stream, fairly, each source's
 * own order kept (see docs/semantics/fan-out-fan-in.md).
 *
 * How: one pump per source pulls an item, sends it to a shared bounded output channel, and
 * pulls the next only once the output accepted it. Waiting senders are served first come,
 * first served, so once the output is full the sources take turns (round-robin among the
 * sources that have an item ready): a busy source cannot starve a slower one.
 *
 * Invariants (checked by `assertInvariants()`):
 * 1. Each pump holds at most one item outside the output (pulled, not yet accepted), so items
 *    read ahead of the consumer never exceed `capacity + sources`.
 * 2. The output is closed exactly when every pump has stopped, or when the merge stopped early
 *    (error, abort, `close()`); the state only advances: running → ending → ended.
 * 3. At most one failure is recorded, and only the first error counts.
 * 4. Nothing is lost silently: every item pulled is received by the consumer or passed to
 *    `onUndelivered` (held by a pump when the merge stopped early, or discarded from the output).
 */
import { Channel } from '../channel/channel.js';
import type { ReceiveResult, WaitOptions } from '../channel/types.js';
import { ChannelClosedError } from '../errors.js';
import { checkSignal, listenForAbort } from '../internal/abort.js';
import { describe } from '../internal/describe.js';
import { invariant } from '../internal/invariant.js';
import { reportHookError } from '../internal/report.js';
import { checkCount, checkOptionalFunction, checkOptions } from '../internal/validate.js';
import { nextOrStop, openSource, returnIterator } from './broadcast.js';

/** Options for {@link merge}. */
export interface MergeOptions<T> {
  /**
   * Items the merged output buffers ahead of its consumer: an integer from 0 up (finite).
   * Default 0: besides the one item each source's pump holds, nothing is read ahead.
   */
  readonly capacity?: number | undefined;
  /**
   * Stops the merge: pumps stop pulling, every iterator's `return()` is called, items not yet
   * received go to `onUndelivered`, and the consumer's next step rejects with `signal.reason`.
   */
  readonly signal?: AbortSignal | undefined;
  /**
   * Receives, once each, the items pulled from a source but never received because the merge
   * stopped early (error, abort, `close()`): at most one held per source, plus what the output
   * buffered (after `close()` and abort; after an error the buffered items are still delivered).
   * Errors it throws are rethrown on a microtask.
   */
  readonly onUndelivered?: ((item: T) => void) | undefined;
}

const RUNNING = 0;
const ENDING = 1;
const ENDED = 2;
const DONE: IteratorResult<never, undefined> = Object.freeze({ done: true, value: undefined });

/**
 * The merged stream: iterate it with `for await`, or `receive`/`tryReceive` like a channel.
 *
 * It ends (iteration finishes, `receive` rejects with `ChannelClosedError`) when every source
 * has ended and every item was received. If a source fails, the other sources are stopped, the
 * items already merged are delivered, and then the next step rejects with that source's error.
 *
 * Breaking out of `for await` (the iterator's `return()`) stops the merge, as `close()` does:
 * the merged stream has one consumer, and its pumps would otherwise wait forever.
 */
export class Merged<T> implements AsyncIterable<T> {
  readonly #out: Channel<T>;
  /** Aborted to stop every pump. */
  readonly #stop = new AbortController();
  readonly #onUndelivered: ((item: T) => void) | undefined;
  #state = RUNNING;
  #pumps = 0;
  #held = 0;
  #failure: { readonly error: unknown } | undefined;
  #unlisten: (() => void) | undefined;
  readonly #settled: Promise<void>;

  /** Use {@link merge}. */
  constructor(sources: readonly (Channel<T> | AsyncIterable<T>)[], options: MergeOptions<T> = {}) {
    if (!Array.isArray(sources)) {
      throw new TypeError(`Expected \`sources\` to be an array, got ${describe(sources)}`);
    }
    checkOptions('options', options);
    const capacity = checkCount('capacity', options.capacity ?? 0, 0);
    const signal = checkSignal(options.signal);
    this.#onUndelivered = checkOptionalFunction('onUndelivered', options.onUndelivered);
    const opens = sources.map((source, i) =>
      openSource<T>(source, `sources[${i}]`, this.#stop.signal),
    );
    this.#out = new Channel<T>({ capacity });
    if (signal?.aborted) {
      this.#abort(signal.reason);
      this.#settled = Promise.resolve();
      return;
    }
    if (signal !== undefined) {
      this.#unlisten = listenForAbort(signal, (reason) => {
        this.#unlisten = undefined;
        this.#abort(reason);
      });
    }
    this.#pumps = opens.length;
    this.#settled = Promise.all(opens.map((open) => this.#pump(open))).then(() => {});
    if (opens.length === 0) this.#end();
  }

  /**
   * Resolves once every pump has stopped and every iterator it stopped early has finished its
   * `return()`. Never rejects. (It waits for a source whose pending `next()` never settles only
   * if that source's `return()` waits for it too, as an async generator's does.)
   */
  get settled(): Promise<void> {
    return this.#settled;
  }

  /** Sources still being read. */
  get activeSources(): number {
    return this.#pumps;
  }

  /** Items merged and not yet received (the output's buffer). */
  get size(): number {
    return this.#out.size;
  }

  /**
   * Takes a merged item without waiting: `{ ok: true, value }`, `{ ok: false, reason: 'empty' }`,
   * or `{ ok: false, reason: 'closed' }` once it ended (check `failure`, or call `receive`,
   * to learn whether it ended by an error).
   */
  tryReceive(): ReceiveResult<T> {
    return this.#out.tryReceive();
  }

  /**
   * Receives the next merged item, waiting for one.
   *
   * Cancellation: if `signal` aborts (or `timeoutMs` passes) while waiting, nothing was
   * consumed; the promise rejects with `signal.reason` (or a `TimeoutError`). The merge goes on.
   *
   * Ordering: each source's items arrive in that source's order; between sources, turns.
   *
   * Errors: once everything merged was received, the error of the source that failed, or the
   * merge's `signal.reason` if it was aborted, or else `ChannelClosedError` (it ended).
   */
  async receive(options?: WaitOptions): Promise<T> {
    try {
      return await this.#out.receive(options);
    } catch (error) {
      if (error instanceof ChannelClosedError && this.#failure !== undefined) {
        throw this.#failure.error;
      }
      throw error;
    }
  }

  /**
   * Why the merge ended early, if it did: `{ error }` with the failing source's error or the
   * abort reason; `undefined` while running, after a normal end, or after `close()`.
   */
  get failure(): { readonly error: unknown } | undefined {
    return this.#failure;
  }

  /**
   * Stops the merge now: no more pulling, every iterator stopped early gets `return()`, items
   * not yet received go to `onUndelivered`, and the consumer's loop ends (without an error).
   * Source channels are left open. Idempotent.
   */
  close(): void {
    this.#halt();
  }

  /** Iterates until the merge ends; see the class comment for how errors and `break` behave. */
  [Symbol.asyncIterator](): AsyncIterator<T, undefined, undefined> {
    let done = false;
    return {
      next: async (): Promise<IteratorResult<T, undefined>> => {
        if (done) return DONE;
        try {
          return { done: false, value: await this.receive() };
        } catch (error) {
          done = true;
          if (error instanceof ChannelClosedError) return DONE;
          throw error;
        }
      },
      return: async (): Promise<IteratorResult<T, undefined>> => {
        done = true;
        this.#halt();
        return DONE;
      },
    };
  }

  /** Checks the invariants at the top of this file; throws an `InvariantError` if one fails. */
  assertInvariants(): void {
    const out = this.#out;
    invariant(this.#held <= this.#pumps, () => `${this.#held} items held by ${this.#pumps} pumps`);
    invariant(out.size <= out.capacity, 'the output holds more than its capacity');
    invariant(
      this.#state === RUNNING ? !out.isClosed : out.isClosed,
      () => `state ${this.#state} with the output ${out.state}`,
    );
    invariant(this.#state !== ENDED || this.#pumps === 0, 'ended with pumps still running');
  }

  // ---- pumps ---------------------------------------------------------------------------

  async #pump(open: () => AsyncIterator<T>): Promise<void> {
    const stop = this.#stop.signal;
    let iterator: AsyncIterator<T> | undefined;
    let finished = false; // ended by itself (done or threw): no return()
    try {
      iterator = open();
      for (;;) {
        let step: IteratorResult<T>;
        try {
          step = await nextOrStop(iterator, stop, (late) => this.#undelivered(late));
        } catch (error) {
          if (stop.aborted) return; // stopped: not this source's failure
          finished = true;
          this.#fail(error);
          return;
        }
        if (step.done === true) {
          finished = true;
          return;
        }
        this.#held++;
        try {
          await this.#out.send(step.value, { signal: stop });
        } catch {
          this.#undelivered(step.value); // stopped, or the output was closed
          return;
        } finally {
          this.#held--;
        }
      }
    } catch (error) {
      this.#fail(error); // `[Symbol.asyncIterator]()` itself threw
    } finally {
      if (iterator !== undefined && !finished) await returnIterator(iterator);
      if (--this.#pumps === 0) this.#end();
    }
  }

  // ---- ending --------------------------------------------------------------------------

  /** Every pump has stopped: close the output (if still open) and forget the caller's signal. */
  #end(): void {
    this.#unlisten?.();
    this.#unlisten = undefined;
    this.#state = ENDED;
    this.#out.close();
  }

  /** A source failed: stop the others, deliver what was merged, then the error. */
  #fail(error: unknown): void {
    if (this.#state !== RUNNING) return;
    this.#failure = { error };
    this.#state = ENDING;
    this.#stop.abort(error);
    this.#out.close();
  }

  /** The caller's signal aborted: stop everything, and fail with its reason. */
  #abort(reason: unknown): void {
    if (this.#state !== RUNNING) return;
    this.#failure = { error: reason };
    this.#halt();
  }

  /** Stops every pump and discards what the output holds. */
  #halt(): void {
    if (this.#state === RUNNING) this.#state = ENDING;
    if (!this.#stop.signal.aborted) this.#stop.abort(new ChannelClosedError());
    if (this.#pumps === 0) this.#end();
    for (const item of this.#out.destroy()) this.#undelivered(item);
  }

  #undelivered(item: T): void {
    if (this.#onUndelivered === undefined) return;
    try {
      this.#onUndelivered(item);
    } catch (error) {
      reportHookError(error);
    }
  }
}

/**
 * Merges `sources` (Channels or async iterables) into one stream that yields every item of
 * every source, fairly, each source's items in that source's order, and ends when all of them
 * have ended.
 *
 * Waits for: nothing at the call; each source's pump starts pulling at once. Each pump pulls
 * its next item only after the output accepted the previous one, so at most
 * `capacity + sources.length` items are read ahead of the consumer.
 *
 * Fairness: while the output is full, the pumps waiting to send are served first come, first
 * served, so the sources that have an item ready take turns.
 *
 * Cancellation: when `signal` aborts, pulling stops, every iterator not yet ended gets
 * `return()` (a Channel source's pending step just ends; the channel stays open), items pulled
 * and not received go to `onUndelivered`, and the consumer's next step rejects with
 * `signal.reason`.
 *
 * Errors: if a source's `next()` rejects, the other sources are stopped (their `return()`
 * called, their held items to `onUndelivered`), the items already merged are still delivered,
 * and then the consumer's next step rejects with that error. Misuse throws synchronously: a
 * TypeError if `sources` is not an array or an element is neither a Channel nor an async
 * iterable (naming `sources[i]`), a RangeError for a bad `capacity`.
 *
 * @example
 * ```ts
 * for await (const event of merge([clicks, keys, timerTicks()], { signal })) handle(event);
 * ```
 */
export function merge<T>(
  sources: readonly (Channel<T> | AsyncIterable<T>)[],
  options?: MergeOptions<T>,
): Merged<T> {
  return new Merged(sources, options);
}
