/**
 * consume(source, handler, { concurrency }): a worker pool that takes items from a channel or
 * an async iterable at its own pace and hands each to `handler`, at most `concurrency` at once.
 *
 * Every item the pool receives is *held* until it reaches exactly one final outcome:
 * `handled` (an attempt fulfilled), `skipped` (failed for good under 'skip'), `failed` (failed
 * for good under 'stop'), `unhandled` (an abort came before the handler ever saw it) or
 * `interrupted` (an abort came after it was given to the handler, and it did not fulfil).
 * A held item is *pacing* (waiting for the limiter; no limiter: one microtask), *running* (an
 * attempt of the handler has not settled) or in *backoff* (waiting to retry).
 *
 * Invariants (checked by `assertInvariants()` after every step of the property tests):
 * 1. Conservation: `received == held + handled + skipped + failed + unhandled + interrupted`.
 * 2. `running <= held <= concurrency`, and `held + (a receive is under way ? 1 : 0) <=
 *    concurrency`: an item is asked for only when a slot is free, so nothing is read ahead.
 *    With an adaptive limiter as `concurrency`, an item is asked for only while `held` is
 *    under the limiter's limit at that moment (the limit may fall below `held` later), and
 *    each attempt runs under one of its permits, settled when the attempt settles.
 * 3. At most one receive (one `tryReceive`/`receive` or one iterator `next()`) is under way,
 *    and a new one starts only while `running` (taking).
 * 4. `unhandled` and `interrupted` stay 0 unless the pool was aborted.
 * 5. One backoff timer per item in backoff and no other timer; one abort listener on the
 *    caller's signal until the pool settles and none after.
 * 6. Once settled: nothing is held, running, under way or armed, and `done` has settled once.
 * 7. The state only advances: running → stopping → aborting → settled (any may be skipped).
 *
 * Every state change is one synchronous method: it mutates the counters and the held set,
 * then settles `done`, then calls `onHandlerError`. The handler itself is only ever called
 * from a promise callback, never from inside another state change, so it may call `stop()`,
 * `abort()` or `stats()` freely.
 *
 * Shutdown (decided, see docs/semantics/worker-pool.md):
 * - Graceful (`stop()`, the source ending, or a handler failing under 'stop'): no new item is
 *   asked for; every held item still reaches a final outcome by the usual rules (it waits for
 *   the limiter, runs, retries); then `done` settles. `unhandled`/`interrupted` are empty.
 * - Immediate (`abort(reason)` or the `signal` option): no new item is asked for; every
 *   handler's signal aborts with `reason`; items pacing or in backoff are finished at once as
 *   `unhandled`/`interrupted`; `done` settles when the running handlers return. `done`
 *   *resolves* with `{ ended: 'aborted', reason, unhandled, interrupted }`: an abort is a
 *   shutdown the owner asked for, not a failure, and the result is how the owner gets the
 *   items back (p-queue's `onIdle()` resolves after `clear()` the same way, and Go's
 *   `http.Server.Shutdown` returns nil once done). `done` rejects only when work failed.
 * - The first failure wins: once an error stops the pool, `done` rejects with it even if
 *   `stop()` or `abort()` come later; `pool.result` (a `PoolFailure`) still lists whatever an
 *   abort handed back, so no received item is lost from view.
 * - The pool never closes or destroys the source channel: other consumers may share it, and
 *   items it did not take stay in it.
 */
import { AdaptiveLimiter, type AdaptivePermit } from '../adaptive/adaptive-limiter.js';
import type { Channel } from '../channel/channel.js';
import { type Clock, checkClock, type TimerHandle } from '../clock.js';
import { checkSignal, listenForAbort } from '../internal/abort.js';
import { describe } from '../internal/describe.js';
import { invariant } from '../internal/invariant.js';
import { reportHookError } from '../internal/report.js';
import {
  checkCount,
  checkOneOf,
  checkOptionalFunction,
  checkOptions,
} from '../internal/validate.js';
import type { RateLimiter } from '../limit/types.js';

// ---- public types ----------------------------------------------------------------------------

/** What the handler receives besides the item. */
export interface HandlerContext {
  /** Aborts (with the abort reason) when the pool is aborted. Pass it to `fetch` and the like. */
  readonly signal: AbortSignal;
  /** 1 for the first attempt at this item, 2 for the first retry, and so on. */
  readonly attempt: number;
}

/** The function a pool runs for each item. A throw or a rejection is a failed attempt. */
export type Handler<T> = (item: T, context: HandlerContext) => unknown;

/** Retry a failed attempt after a pause, up to a number of attempts in all. */
export interface RetryPolicy {
  readonly retry: {
    /** Attempts in all, the first included: an integer from 1 up (1: never retry). */
    readonly attempts: number;
    /**
     * Milliseconds to wait before the next attempt: a number from 0 up, or a function of the
     * attempt that just failed (1 for the first), e.g. `(n) => 100 * 2 ** (n - 1)` for 100,
     * 200, 400… A function that throws or returns anything else fails the pool.
     */
    readonly backoffMs: number | ((attempt: number) => number);
  };
  /**
   * What to do when the last attempt fails: `'stop'` or `'skip'`, as for `onError`. Default
   * `'stop'`. (Not called `then`: an object with a `then` property looks like a promise, and
   * linters flag it.)
   */
  readonly giveUp?: 'stop' | 'skip' | undefined;
}

/**
 * What a failed attempt leads to:
 * - `'stop'` (default): stop taking items, let held items finish, then reject `done` with the
 *   error (the first such error; later ones go to `onHandlerError`);
 * - `'skip'`: report the error to `onHandlerError` and go on;
 * - `{ retry: { attempts, backoffMs }, giveUp }`: report it and try again after the backoff,
 *   and when the attempts run out, do what `giveUp` says.
 */
export type ErrorPolicy = 'stop' | 'skip' | RetryPolicy;

/** Options for {@link consume}. */
export interface ConsumeOptions<T> {
  /**
   * Handlers running at once, at most: an integer from 1 up, or an `AdaptiveLimiter`, which
   * then decides (each attempt runs under one of its permits: a fulfilled attempt is a success,
   * an error its `isDrop` accepts a drop, any other error is ignored). Required.
   */
  readonly concurrency: number | AdaptiveLimiter;
  /** Each attempt first takes 1 from it (after the item is received). Default: none. */
  readonly limiter?: RateLimiter | undefined;
  /** Aborting it is `abort(signal.reason)`. Default: none. */
  readonly signal?: AbortSignal | undefined;
  /** What a failed attempt leads to. Default `'stop'`. */
  readonly onError?: ErrorPolicy | undefined;
  /**
   * Told of every handler error that does not reject `done`: skipped items, attempts that will
   * be retried, and failures after the first under 'stop'. An error it throws is rethrown on a
   * microtask; the pool carries on.
   */
  readonly onHandlerError?: ((error: unknown, item: T, attempt: number) => void) | undefined;
  /** Where backoff timers are armed. Default: the system clock. */
  readonly clock?: Clock | undefined;
}

/** A snapshot of a pool's counters. */
export interface WorkerPoolStats {
  /** Items taken from the source. */
  readonly received: number;
  /** Items held: received and without a final outcome yet (pacing, running or in backoff). */
  readonly inFlight: number;
  /** Handler attempts under way now. */
  readonly running: number;
  /** Items whose handler fulfilled (on some attempt). */
  readonly handled: number;
  /** Items that failed for good under 'stop' (the first one rejects `done`). */
  readonly failed: number;
  /** Items that failed for good under 'skip'. */
  readonly skipped: number;
  /** Retry attempts started (attempts after the first). */
  readonly retried: number;
  /** Items an abort handed back before the handler saw them. */
  readonly unhandled: number;
  /** Items an abort handed back after the handler saw them, without a fulfilled attempt. */
  readonly interrupted: number;
}

/** How a pool ended, when it did not fail. */
export type PoolResult<T> =
  | {
      /** The source ended (channel closed and drained, or iterator done) and all finished. */
      readonly ended: 'drained' | 'stopped';
      /** Always empty after a graceful end. */
      readonly unhandled: readonly T[];
      /** Always empty after a graceful end. */
      readonly interrupted: readonly T[];
      readonly stats: WorkerPoolStats;
    }
  | {
      readonly ended: 'aborted';
      /** The abort reason (also the reason of every handler's signal). */
      readonly reason: unknown;
      /** Received but never given to the handler, in the order received: hand them back. */
      readonly unhandled: readonly T[];
      /**
       * Given to the handler but not done: its attempt rejected after the abort, or it was
       * waiting to retry. The handler may have had effects; in the order received.
       */
      readonly interrupted: readonly T[];
      readonly stats: WorkerPoolStats;
    };

/**
 * How a pool ended when `done` rejected: the error it rejected with, and the same lists and
 * counts as a {@link PoolResult}. Read it from `pool.result`; it is how items an abort handed
 * back after a failure are not lost.
 */
export interface PoolFailure<T> {
  readonly ended: 'failed';
  /** What `done` rejected with. */
  readonly error: unknown;
  /** Received but never given to the handler (only when an abort came too). */
  readonly unhandled: readonly T[];
  /** Given to the handler, stopped by an abort (only when an abort came too). */
  readonly interrupted: readonly T[];
  readonly stats: WorkerPoolStats;
}

/** A running pool, as returned by {@link consume}. */
export interface WorkerPool<T> {
  /**
   * Settles exactly once, when the pool has ended and nothing it started is still running.
   * Resolves with a {@link PoolResult}: `ended: 'drained'` when the source ended, `'stopped'`
   * after `stop()`, `'aborted'` after `abort()` or the `signal` option. Rejects with the first
   * error that stopped the pool: a handler's (under 'stop'), the source's, or a bad backoff.
   */
  readonly done: Promise<PoolResult<T>>;
  /**
   * How the pool ended, once `done` has settled (`undefined` before): what `done` resolved
   * with, or a {@link PoolFailure} carrying the error it rejected with. Set just before `done`
   * settles.
   */
  readonly result: PoolResult<T> | PoolFailure<T> | undefined;
  /**
   * Graceful shutdown: asks for no more items (a waiting `receive` is withdrawn, consuming
   * nothing), lets every held item finish, and returns `done`. Idempotent; after `abort()`
   * it changes nothing.
   */
  stop(): Promise<PoolResult<T>>;
  /**
   * Immediate shutdown: asks for no more items, aborts every handler's signal with `reason`
   * (default: an `AbortError` DOMException), hands back the items not running, and returns
   * `done`, which resolves with `ended: 'aborted'` once the running handlers have returned.
   * Idempotent: a later call changes nothing (the first reason stays).
   */
  abort(reason?: unknown): Promise<PoolResult<T>>;
  /** A snapshot of the counters. */
  stats(): WorkerPoolStats;
  /** Checks the invariants at the top of consume.ts; throws an `InvariantError` if one fails. */
  assertInvariants(): void;
}

// ---- implementation --------------------------------------------------------------------------

const RUNNING = 0; // taking items
const STOPPING = 1; // graceful: not taking, held items finish
const ABORTING = 2; // immediate: not taking, waiting for running handlers
const SETTLED = 3;

// Phases of a held item.
const PACING = 0;
const ACTIVE = 1; // an attempt of the handler is under way
const BACKOFF = 2;
const FINISHED = 3;

const RESOLVED: Promise<void> = Promise.resolve();
const NO_FAILURE: unique symbol = Symbol('sluice.consume.noFailure');

class Held<T> {
  phase = PACING;
  /** Attempts given to the handler (or failed at the limiter) so far. */
  attempt = 0;
  timer: TimerHandle | undefined = undefined;
  /**
   * Made on the first read of `signal` (a handler reading `context.signal`, or the limiter):
   * most handlers never read it, and an AbortController per item is most of a pool's cost.
   */
  controller: AbortController | undefined = undefined;
  /** The pool aborted while this item was held: its signal is (or will be made) aborted. */
  aborted = false;
  reason: unknown = undefined;
  constructor(readonly item: T) {}

  /** This item's signal: made on first read, already aborted if the pool aborted before. */
  get signal(): AbortSignal {
    let controller = this.controller;
    if (controller === undefined) {
      controller = new AbortController();
      this.controller = controller;
      if (this.aborted) controller.abort(this.reason);
    }
    return controller.signal;
  }
}

/** The context of one attempt: `signal` is the item's, made only when read. */
class AttemptContext<T> implements HandlerContext {
  readonly #held: Held<T>;
  readonly attempt: number;
  constructor(held: Held<T>, attempt: number) {
    this.#held = held;
    this.attempt = attempt;
  }

  get signal(): AbortSignal {
    return this.#held.signal;
  }
}

interface Policy {
  /** Attempts in all (1 for 'stop' and 'skip'). */
  readonly attempts: number;
  readonly backoffMs: number | ((attempt: number) => number);
  /** After the last attempt: skip (true) or stop (false). */
  readonly skip: boolean;
}

/**
 * Starts a worker pool: takes items from `source` only while fewer than `concurrency` are
 * held, and runs `handler(item, { signal, attempt })` for each, at most `concurrency` at once.
 *
 * What it waits for: nothing; it returns the running pool. The pool asks the source for an
 * item only when a slot is free, so a bounded channel's capacity is real backpressure: the
 * producer waits while the buffer is full and every worker is busy. `done` settles when the
 * source ends (a channel closed and drained, an iterator done) and every held item finished,
 * or after `stop()` / `abort()`.
 *
 * Cancellation: aborting `signal` (or calling `abort`) aborts every running handler's
 * `context.signal` with the reason and hands back the items not yet running (see
 * {@link PoolResult}). A channel receive that is waiting is withdrawn without consuming
 * anything; an async iterator's `next()` cannot be withdrawn, so the pool calls its `return()`
 * and waits for the pending `next()` (an item it still delivers is handled after `stop()`,
 * handed back as `unhandled` after `abort()`).
 *
 * Ordering: items start in the order they are received (the limiter is FIFO too); they finish
 * in any order. The pool never closes the source channel (it may be shared).
 *
 * Errors: misuse throws synchronously (a RangeError or TypeError naming the value): a source
 * that is neither a Channel nor an async iterable, a handler that is not a function, a bad
 * `concurrency`, `limiter`, `signal`, `onError`, `onHandlerError` or `clock`. Failures at run
 * time go to the error policy (see {@link ErrorPolicy}); an error from `limiter.take` counts
 * as a failed attempt; an error from the source stops the pool gracefully and rejects `done`.
 *
 * @example
 * ```ts
 * const jobs = new Channel<Job>({ capacity: 100 });
 * const pool = consume(jobs, (job, { signal }) => fetch(job.url, { signal }), {
 *   concurrency: 8,
 *   limiter: new TokenBucket({ rate: 20, burst: 5 }),
 *   onError: { retry: { attempts: 3, backoffMs: (n) => 100 * 2 ** (n - 1) }, giveUp: 'skip' },
 *   onHandlerError: (error, job) => log.warn({ error, job }),
 * });
 * process.once('SIGTERM', () => pool.stop());
 * const { ended, stats } = await pool.done;
 * ```
 */
export function consume<T>(
  source: Channel<T> | AsyncIterable<T>,
  handler: (item: T, context: HandlerContext) => unknown,
  options: ConsumeOptions<T>,
): WorkerPool<T> {
  return new Pool(source, handler, options);
}

class Pool<T> implements WorkerPool<T> {
  readonly done: Promise<PoolResult<T>>;
  readonly #handler: Handler<T>;
  /** The fixed concurrency, or the adaptive limiter's (read each time: it moves). */
  readonly #fixed: number;
  readonly #adaptive: AdaptiveLimiter | undefined;
  readonly #limiter: RateLimiter | undefined;
  readonly #policy: Policy;
  readonly #onHandlerError: ((error: unknown, item: T, attempt: number) => void) | undefined;
  readonly #clock: Clock;

  // The source: a channel (received from directly) or an iterable (one `next()` at a time).
  readonly #channel: Channel<T> | undefined;
  readonly #iterable: AsyncIterable<T> | undefined;
  #iterator: AsyncIterator<T> | undefined;
  /** True once the iterator is done, threw, or was asked to return. */
  #iteratorClosed = false;
  /** A receive / `next()` is under way. */
  #receiving = false;
  /** An iterator `return()` is under way. */
  #returning = false;
  /**
   * The channel's iterator, for waiting: a step that waits adds no abort listener, and
   * `return()` withdraws it, consuming nothing (made on the first wait).
   */
  #steps: AsyncIterator<T, undefined, undefined> | undefined;

  #state = RUNNING;
  #ended: 'drained' | 'stopped' | 'aborted' = 'stopped';
  #reason: unknown;
  #failure: unknown = NO_FAILURE;
  #unlisten: (() => void) | undefined;
  #result: PoolResult<T> | PoolFailure<T> | undefined;
  #resolve!: (result: PoolResult<T>) => void;
  #reject!: (error: unknown) => void;

  readonly #held = new Set<Held<T>>();
  readonly #unhandledItems: T[] = [];
  readonly #interruptedItems: T[] = [];
  #running = 0;
  #timers = 0;
  #received = 0;
  #handled = 0;
  #failed = 0;
  #skipped = 0;
  #retried = 0;

  constructor(
    source: Channel<T> | AsyncIterable<T>,
    handler: (item: T, context: HandlerContext) => unknown,
    options: ConsumeOptions<T>,
  ) {
    if (isChannel<T>(source)) this.#channel = source;
    else if (
      typeof source === 'object' &&
      source !== null &&
      typeof (source as Partial<AsyncIterable<T>>)[Symbol.asyncIterator] === 'function'
    ) {
      this.#iterable = source;
    } else {
      throw new TypeError(
        `Expected \`source\` to be a Channel or an async iterable, got ${describe(source)}`,
      );
    }
    if (typeof handler !== 'function') {
      throw new TypeError(`Expected \`handler\` to be a function, got ${describe(handler)}`);
    }
    this.#handler = handler;
    if (options === undefined) {
      throw new TypeError('Expected an options object with `concurrency`');
    }
    checkOptions('options', options);
    if (options.concurrency instanceof AdaptiveLimiter) {
      this.#adaptive = options.concurrency;
      this.#fixed = Number.POSITIVE_INFINITY;
    } else {
      this.#fixed = checkCount('concurrency', options.concurrency, 1);
    }
    const { limiter } = options;
    if (
      limiter !== undefined &&
      (typeof limiter !== 'object' ||
        limiter === null ||
        typeof (limiter as Partial<RateLimiter>).take !== 'function')
    ) {
      throw new TypeError(`Expected \`limiter\` to be a rate limiter, got ${describe(limiter)}`);
    }
    this.#limiter = limiter;
    const signal = checkSignal(options.signal);
    this.#policy = checkPolicy(options.onError);
    this.#onHandlerError = checkOptionalFunction('onHandlerError', options.onHandlerError);
    this.#clock = checkClock(options.clock);

    this.done = new Promise<PoolResult<T>>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    if (signal?.aborted) {
      this.abort(signal.reason);
      return;
    }
    if (signal !== undefined) {
      this.#unlisten = listenForAbort(signal, (reason) => {
        this.#unlisten = undefined;
        this.abort(reason);
      });
    }
    this.#pump();
    this.#checkEnd(); // an empty, closed channel ends the pool at once
  }

  get result(): PoolResult<T> | PoolFailure<T> | undefined {
    return this.#result;
  }

  stop(): Promise<PoolResult<T>> {
    if (this.#state === RUNNING) {
      this.#state = STOPPING;
      this.#ended = 'stopped';
      this.#stopTaking();
      this.#checkEnd();
    }
    return this.done;
  }

  abort(reason?: unknown): Promise<PoolResult<T>> {
    if (this.#state === ABORTING || this.#state === SETTLED) return this.done;
    const why = reason === undefined ? AbortSignal.abort().reason : reason;
    this.#state = ABORTING;
    this.#ended = 'aborted';
    this.#reason = why;
    this.#stopTaking();
    // Signals nobody read yet are only marked: they are made aborted if read later.
    const controllers: AbortController[] = [];
    for (const held of this.#held) {
      if (held.phase === PACING) this.#finish(held, held.attempt === 0 ? UNHANDLED : INTERRUPTED);
      else if (held.phase === BACKOFF) {
        this.#clock.clearTimer(held.timer);
        held.timer = undefined;
        this.#timers--;
        this.#finish(held, INTERRUPTED);
      }
      if (held.controller !== undefined) controllers.push(held.controller);
      else {
        held.aborted = true;
        held.reason = why;
      }
    }
    this.#checkEnd();
    // Last: aborting runs the handlers' (and the limiter's) listeners.
    for (const controller of controllers) controller.abort(why);
    return this.done;
  }

  stats(): WorkerPoolStats {
    return {
      received: this.#received,
      inFlight: this.#held.size,
      running: this.#running,
      handled: this.#handled,
      failed: this.#failed,
      skipped: this.#skipped,
      retried: this.#retried,
      unhandled: this.#unhandledItems.length,
      interrupted: this.#interruptedItems.length,
    };
  }

  assertInvariants(): void {
    const s = this.stats();
    const finished = s.handled + s.skipped + s.failed + s.unhandled + s.interrupted;
    invariant(
      s.received === s.inFlight + finished,
      () => `conservation: received ${s.received} != held ${s.inFlight} + finished ${finished}`,
    );
    invariant(s.running <= s.inFlight, () => `running ${s.running} > held ${s.inFlight}`);
    const asked = s.inFlight + (this.#receiving ? 1 : 0);
    if (this.#adaptive === undefined) {
      invariant(asked <= this.#fixed, () => `held + receiving ${asked} > concurrency`);
    }
    let active = 0;
    let backoff = 0;
    for (const held of this.#held) {
      invariant(held.phase !== FINISHED, 'a finished item is still held');
      if (held.phase === ACTIVE) active++;
      if (held.phase === BACKOFF) {
        backoff++;
        invariant(held.timer !== undefined, 'an item in backoff has no timer');
      }
    }
    invariant(active === s.running, () => `${active} items active, running ${s.running}`);
    invariant(backoff === this.#timers, () => `${backoff} in backoff, ${this.#timers} timers`);
    if (this.#ended !== 'aborted') {
      invariant(s.unhandled + s.interrupted === 0, 'items handed back without an abort');
    }
    if (this.#state === SETTLED) {
      invariant(s.inFlight === 0 && !this.#receiving && !this.#returning, 'settled while busy');
      invariant(this.#unlisten === undefined, 'settled with an abort listener');
    }
  }

  // ---- taking items --------------------------------------------------------------------------

  /** Asks the source for items while a slot is free and nothing is being received. */
  #pump(): void {
    while (this.#state === RUNNING && !this.#receiving && this.#held.size < this.#concurrency()) {
      const channel = this.#channel;
      if (channel === undefined) {
        this.#next();
        return;
      }
      const result = channel.tryReceive();
      if (result.ok) this.#accept(result.value);
      else if (result.reason === 'closed') this.#sourceEnded();
      else this.#waitForChannel(channel);
    }
  }

  /** How many items may be held now: fixed, or the adaptive limiter's current limit. */
  #concurrency(): number {
    return this.#adaptive === undefined ? this.#fixed : this.#adaptive.limit;
  }

  #waitForChannel(channel: Channel<T>): void {
    this.#steps ??= channel[Symbol.asyncIterator]();
    this.#receiving = true;
    this.#steps.next().then(
      (result) => {
        this.#receiving = false;
        // Done: closed and drained, or withdrawn by #stopTaking (then no longer running, and
        // #sourceEnded does nothing).
        if (result.done === true) this.#sourceEnded();
        else {
          this.#accept(result.value);
          this.#pump();
        }
        this.#checkEnd();
      },
      (error: unknown) => {
        this.#receiving = false;
        this.#sourceFailed(error);
        this.#checkEnd();
      },
    );
  }

  #next(): void {
    this.#receiving = true;
    let step: Promise<IteratorResult<T>>;
    try {
      this.#iterator ??= (this.#iterable as AsyncIterable<T>)[Symbol.asyncIterator]();
      step = Promise.resolve(this.#iterator.next());
    } catch (error) {
      step = Promise.reject(error);
    }
    step.then(
      (result) => {
        this.#receiving = false;
        if (typeof result !== 'object' || result === null) {
          this.#iteratorClosed = true;
          this.#sourceFailed(new TypeError(`Iterator result ${describe(result)} is not an object`));
        } else if (result.done) {
          this.#iteratorClosed = true;
          this.#sourceEnded();
        } else {
          this.#accept(result.value);
          this.#pump();
        }
        this.#checkEnd();
      },
      (error: unknown) => {
        this.#receiving = false;
        this.#iteratorClosed = true;
        this.#sourceFailed(error);
        this.#checkEnd();
      },
    );
  }

  /** Takes in a received item. After an abort it is handed straight back. */
  #accept(item: T): void {
    this.#received++;
    const held = new Held(item);
    this.#held.add(held);
    if (this.#state === ABORTING) this.#finish(held, UNHANDLED);
    else this.#pace(held);
  }

  /** No more items will be asked for: withdraws a waiting receive, returns the iterator. */
  #stopTaking(): void {
    if (this.#receiving && this.#steps !== undefined) void this.#steps.return?.();
    const iterator = this.#iterator;
    if (iterator === undefined || this.#iteratorClosed) return;
    this.#iteratorClosed = true;
    if (typeof iterator.return !== 'function') return;
    this.#returning = true;
    let returned: Promise<unknown>;
    try {
      returned = Promise.resolve(iterator.return());
    } catch (error) {
      returned = Promise.reject(error);
    }
    returned.then(
      () => {
        this.#returning = false;
        this.#checkEnd();
      },
      (error: unknown) => {
        this.#returning = false;
        this.#sourceFailed(error);
        this.#checkEnd();
      },
    );
  }

  #sourceEnded(): void {
    if (this.#state !== RUNNING) return;
    this.#state = STOPPING;
    this.#ended = 'drained';
  }

  /**
   * The source threw. Like a `for await` loop: stop gracefully and reject `done` with it —
   * unless the pool already failed (the first error wins) or was aborted (a source that
   * listens to the same signal rejects; that is the abort taking effect).
   */
  #sourceFailed(error: unknown): void {
    if (this.#state === ABORTING || this.#state === SETTLED) return;
    this.#fail(error);
  }

  /** Records the first failure and stops taking. */
  #fail(error: unknown): boolean {
    if (this.#failure !== NO_FAILURE) return false;
    this.#failure = error;
    if (this.#state === RUNNING) {
      this.#state = STOPPING;
      this.#stopTaking();
    }
    return true;
  }

  // ---- attempts ------------------------------------------------------------------------------

  /**
   * Waits for the rate limiter (none: a microtask), then for a permit of the adaptive limiter
   * (if any), then runs the next attempt.
   */
  #pace(held: Held<T>): void {
    held.phase = PACING;
    const limiter = this.#limiter;
    let turn: Promise<void>;
    if (limiter === undefined) turn = RESOLVED;
    else {
      try {
        turn = limiter.take(1, { signal: held.signal });
      } catch (error) {
        turn = Promise.reject(error);
      }
    }
    const adaptive = this.#adaptive;
    const ready: Promise<AdaptivePermit | undefined> =
      adaptive === undefined
        ? (turn as Promise<undefined>)
        : turn.then(() => adaptive.tryAcquire() ?? adaptive.acquire({ signal: held.signal }));
    ready.then(
      (permit) => this.#run(held, permit),
      (error: unknown) => {
        // An abort already finished this item; anything else is a failed attempt.
        if (held.phase !== PACING) return;
        held.attempt++;
        this.#attemptFailed(held, error);
      },
    );
  }

  #run(held: Held<T>, permit: AdaptivePermit | undefined): void {
    if (held.phase !== PACING) {
      permit?.ignore(); // an abort finished it while it waited
      return;
    }
    held.phase = ACTIVE;
    const attempt = ++held.attempt;
    if (attempt > 1) this.#retried++;
    this.#running++;
    invariant(
      this.#running <= this.#fixed,
      () => `${this.#running} handlers running, concurrency ${this.#fixed}`,
    );
    let outcome: Promise<unknown>;
    try {
      outcome = Promise.resolve(this.#handler(held.item, new AttemptContext(held, attempt)));
    } catch (error) {
      outcome = Promise.reject(error);
    }
    outcome.then(
      () => {
        this.#running--;
        permit?.success();
        this.#finish(held, HANDLED);
        this.#pump();
        this.#checkEnd();
      },
      (error: unknown) => {
        this.#running--;
        if (this.#state === ABORTING || this.#state === SETTLED) {
          permit?.ignore();
          this.#finish(held, INTERRUPTED);
          this.#checkEnd();
          return;
        }
        if (permit !== undefined) this.#adaptive?.settleFailure(permit, error);
        this.#attemptFailed(held, error);
      },
    );
  }

  /** An attempt failed (not by an abort): retry, skip or stop, as the policy says. */
  #attemptFailed(held: Held<T>, error: unknown): void {
    const policy = this.#policy;
    const attempt = held.attempt;
    let report = true;
    if (attempt < policy.attempts) {
      let delayMs: number;
      try {
        delayMs = backoffFor(policy.backoffMs, attempt);
      } catch (bad) {
        this.#finish(held, FAILED);
        this.#fail(bad);
        this.#afterOutcome(held, error, attempt, true);
        return;
      }
      held.phase = BACKOFF;
      this.#timers++;
      held.timer = this.#clock.setTimer(() => {
        held.timer = undefined;
        this.#timers--;
        this.#pace(held);
      }, delayMs);
    } else if (policy.skip) {
      this.#finish(held, SKIPPED);
    } else {
      this.#finish(held, FAILED);
      report = !this.#fail(error);
    }
    this.#afterOutcome(held, error, attempt, report);
  }

  #afterOutcome(held: Held<T>, error: unknown, attempt: number, report: boolean): void {
    this.#pump();
    this.#checkEnd();
    const onHandlerError = this.#onHandlerError;
    if (!report || onHandlerError === undefined) return;
    try {
      onHandlerError(error, held.item, attempt);
    } catch (hookError) {
      reportHookError(hookError);
    }
  }

  #finish(held: Held<T>, outcome: Outcome): void {
    held.phase = FINISHED;
    this.#held.delete(held);
    switch (outcome) {
      case HANDLED:
        this.#handled++;
        break;
      case SKIPPED:
        this.#skipped++;
        break;
      case FAILED:
        this.#failed++;
        break;
      case UNHANDLED:
        this.#unhandledItems.push(held.item);
        break;
      default:
        this.#interruptedItems.push(held.item);
    }
  }

  // ---- ending --------------------------------------------------------------------------------

  /** Settles `done` once nothing is held, received, returned or armed any more. */
  #checkEnd(): void {
    if (
      this.#state === RUNNING ||
      this.#state === SETTLED ||
      this.#held.size > 0 ||
      this.#receiving ||
      this.#returning
    ) {
      return;
    }
    this.#state = SETTLED;
    if (this.#unlisten !== undefined) {
      this.#unlisten();
      this.#unlisten = undefined;
    }
    const stats = this.stats();
    const unhandled = this.#unhandledItems.slice();
    const interrupted = this.#interruptedItems.slice();
    const failure = this.#failure;
    if (failure !== NO_FAILURE) {
      this.#result = { ended: 'failed', error: failure, unhandled, interrupted, stats };
      this.#reject(failure);
      return;
    }
    const result: PoolResult<T> =
      this.#ended === 'aborted'
        ? { ended: 'aborted', reason: this.#reason, unhandled, interrupted, stats }
        : { ended: this.#ended, unhandled, interrupted, stats };
    this.#result = result;
    this.#resolve(result);
  }
}

const HANDLED = 0;
const SKIPPED = 1;
const FAILED = 2;
const UNHANDLED = 3;
const INTERRUPTED = 4;
type Outcome = 0 | 1 | 2 | 3 | 4;

/** A Channel from this package (checked by shape, so a second copy of sluice works too). */
function isChannel<T>(source: unknown): source is Channel<T> {
  const c = source as Partial<Channel<T>> | null;
  return (
    typeof c === 'object' &&
    c !== null &&
    typeof c.tryReceive === 'function' &&
    typeof c.receive === 'function' &&
    typeof c.trySend === 'function'
  );
}

const POLICY_SHAPE = "'stop', 'skip' or { retry: { attempts, backoffMs }, giveUp? }";

function checkPolicy(value: unknown): Policy {
  if (value === undefined || value === 'stop') return { attempts: 1, backoffMs: 0, skip: false };
  if (value === 'skip') return { attempts: 1, backoffMs: 0, skip: true };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const error = typeof value === 'string' ? RangeError : TypeError;
    throw new error(`Expected \`onError\` to be ${POLICY_SHAPE}, got ${describe(value)}`);
  }
  const { retry, giveUp } = value as Partial<RetryPolicy>;
  if (typeof retry !== 'object' || retry === null) {
    throw new TypeError(`Expected \`onError\` to be ${POLICY_SHAPE}, got ${describe(value)}`);
  }
  const attempts = checkCount('onError.retry.attempts', retry.attempts, 1);
  const { backoffMs } = retry;
  if (typeof backoffMs !== 'function') checkBackoff('onError.retry.backoffMs', backoffMs);
  const after =
    giveUp === undefined ? 'stop' : checkOneOf('onError.giveUp', giveUp, ['stop', 'skip']);
  return { attempts, backoffMs, skip: after === 'skip' };
}

function checkBackoff(name: string, value: unknown): number {
  if (typeof value === 'number' && value >= 0 && Number.isFinite(value)) return value;
  throw new RangeError(
    `Expected \`${name}\` to be a finite number of milliseconds from 0 up, or a function returning one, got ${describe(value)}`,
  );
}

function backoffFor(backoffMs: number | ((attempt: number) => number), attempt: number): number {
  if (typeof backoffMs === 'number') return backoffMs;
  return checkBackoff(`onError.retry.backoffMs(${attempt})`, backoffMs(attempt));
}
