/**
 * pipeline(source).through(stage(fn, options))…: stages connected by bounded buffers, each with
 * its own concurrency, optionally keeping input order, so that a slow consumer holds back every
 * stage and, in the end, the source.
 *
 * Each stage holds *entries*: items its function is running on, and results not yet taken by
 * the next stage (or the consumer). Results of an ordered stage are taken in input order only.
 *
 * Invariants (checked by `assertInvariants()` after every step of the property tests):
 * 1. Per stage: `running <= concurrency` and `held = running + buffered <= concurrency +
 *    capacity`. A stage starts an item only while both have room.
 * 2. Ordered stage: its queue holds every held entry in start order, and only a finished head
 *    is taken, so item k + concurrency + capacity never starts while item k is unfinished.
 *    Unordered stage: its queue holds finished entries in finish order.
 * 3. At most one source pull is under way, and only while stage 0 has room for its item (the
 *    room stays free: nothing else feeds stage 0).
 * 4. Conservation: `pulled == Σ held + delivered + failed + dropped`.
 * 5. Once settled: nothing held or running (aborted handlers included), the sink is idle, no
 *    listener is left on the `signal` option.
 * 6. The state only advances: flowing → stopping → settled, or flowing → settled (ended).
 *
 * Every state change is one synchronous method: it mutates the stages, then settles promises,
 * then calls user code (source `return()`, abort listeners via `abort()`, `onDrop`). Stage
 * functions and source `next()` are only ever called from a microtask, by `#flush`: it runs
 * the calls queued by state changes one after another, each after the previous state change
 * completed, never inside one. A call that returns a plain value (not a thenable) completes
 * its entry at once, in the same turn, so synchronous stages cost no promise per item.
 */

import { AdaptiveLimiter } from '../adaptive/adaptive-limiter.js';
import { checkSignal, listenForAbort } from '../internal/abort.js';
import { describe } from '../internal/describe.js';
import { invariant } from '../internal/invariant.js';
import { reportHookError } from '../internal/report.js';
import { RingBuffer } from '../internal/ring-buffer.js';
import { checkCount, checkOptionalFunction, checkOptions } from '../internal/validate.js';

// ---- public types ----------------------------------------------------------------------------

/** What a stage function (and a sink) receives besides the item. */
export interface StageContext {
  /**
   * Aborts when the pipeline stops early: with the first error, the `signal` option's reason,
   * or an `AbortError` DOMException when the consumer stopped reading. Pass it on.
   */
  readonly signal: AbortSignal;
}

/** Options for {@link stage}. */
export interface StageOptions {
  /**
   * Calls of the function running at once, at most: an integer from 1 up (default 1), or an
   * `AdaptiveLimiter`, whose current limit is then the stage's concurrency, read at each start
   * (each call runs under one of its permits: see `AdaptiveLimiter.run`).
   */
  readonly concurrency?: number | AdaptiveLimiter | undefined;
  /**
   * Finished results the stage keeps for the next stage, at most: an integer from 0 up.
   * Default: `concurrency` (an adaptive limiter's limit when the stage is made). An ordered
   * stage's reorder window is `concurrency + capacity`.
   */
  readonly capacity?: number | undefined;
  /** Results leave in input order (true, default) or in finish order (false). */
  readonly ordered?: boolean | undefined;
}

/** One step of a pipeline, made by {@link stage}; reusable in any number of pipelines. */
export interface Stage<I, O> {
  readonly fn: (item: I, context: StageContext) => O | PromiseLike<O>;
  /** Fixed, or the adaptive limiter's limit now. */
  readonly concurrency: number;
  /** The adaptive limiter that sets `concurrency`, if any. */
  readonly limiter: AdaptiveLimiter | undefined;
  readonly capacity: number;
  readonly ordered: boolean;
}

/** Where an item was when a stopping pipeline dropped it (see {@link PipelineOptions.onDrop}). */
export interface DropSite {
  /**
   * The stage the item is the input of: 0 for an item from the source, k for a result of
   * stage k − 1, and the number of stages for a final result the consumer had not taken.
   */
  readonly stage: number;
  /** True if that stage's function was called with it (and its signal aborted). */
  readonly started: boolean;
}

/** Options for {@link pipeline}. */
export interface PipelineOptions {
  /** Aborting it stops the pipeline; it then rejects with `signal.reason` untouched. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Told of every item taken from the source that a stopping pipeline drops: its value at
   * that point and where it was. Called after the stop, once per item; an error it throws is
   * rethrown on a microtask.
   */
  readonly onDrop?: ((item: unknown, site: DropSite) => void) | undefined;
}

/** Counters of one stage. */
export interface PipelineStageStats {
  /** Calls of the function under way (not counting aborted ones still returning). */
  readonly running: number;
  /** Results held for the next stage (ordered: finished, whether or not at the head). */
  readonly buffered: number;
  /** Calls started. */
  readonly started: number;
  /** Calls that fulfilled. */
  readonly finished: number;
}

/** A snapshot of a running pipeline. */
export interface PipelineStats {
  /** Items taken from the source. */
  readonly pulled: number;
  /** Final results handed to the consumer or the sink. */
  readonly delivered: number;
  /** Items whose stage function failed while the pipeline flowed: 0 or 1. */
  readonly failed: number;
  /** Items dropped by a stop (each reported to `onDrop`). */
  readonly dropped: number;
  readonly stages: readonly PipelineStageStats[];
}

/** One run of a pipeline: the iterator `for await` uses, with counters. */
export interface PipelineIterator<T> extends AsyncIterableIterator<T, undefined, undefined> {
  /**
   * Stops the run if it still flows (handlers' signals abort with an `AbortError`), and
   * resolves once nothing it started is running. `break` in `for await` calls it.
   */
  return(): Promise<IteratorResult<T, undefined>>;
  stats(): PipelineStats;
  /** Checks the invariants at the top of pipeline.ts; throws an `InvariantError` if one fails. */
  assertInvariants(): void;
}

/**
 * A pipeline description: a source and its stages. Nothing runs until it is iterated or
 * `run`; each iteration or `run` is a fresh run over a fresh iterator of the source.
 */
export interface Pipeline<T> extends AsyncIterable<T, undefined, undefined> {
  /** A new pipeline with `stage` appended; this one is unchanged. */
  through<U>(stage: Stage<T, U>): Pipeline<U>;
  /**
   * Runs the pipeline, handing each final result to `sink` (one call at a time, awaited; no
   * sink: results are discarded).
   *
   * What it waits for: resolves once the source has ended, every item went through every
   * stage, and the sink returned for the last one.
   *
   * Cancellation: aborting the `signal` option stops the run (see {@link pipeline}); the
   * promise rejects with `signal.reason` untouched once nothing started is still running.
   *
   * Ordering: the sink sees results in the order the last stage releases them.
   *
   * Errors: rejects with the first error of the source, a stage or the sink, exactly once,
   * after the stop. Throws synchronously (a TypeError) for a sink that is not a function or a
   * pipeline without stages.
   */
  run(sink?: (item: T, context: StageContext) => unknown): Promise<void>;
  /** Starts a run. Throws a TypeError for a pipeline without stages. */
  [Symbol.asyncIterator](): PipelineIterator<T>;
}

/**
 * Makes a stage: `fn` applied to each item, at most `concurrency` calls at once, with up to
 * `capacity` results kept for the next stage.
 *
 * Errors: throws synchronously (TypeError or RangeError naming the value) for an `fn` that is
 * not a function, a `concurrency` that is not an integer from 1 up, a `capacity` that is not
 * an integer from 0 up, an `ordered` that is not a boolean.
 *
 * @example
 * ```ts
 * const fetchPage = stage((url: string, { signal }) => fetch(url, { signal }), { concurrency: 8 });
 * ```
 */
export function stage<I, O>(
  fn: (item: I, context: StageContext) => O | PromiseLike<O>,
  options?: StageOptions,
): Stage<I, O> {
  if (typeof fn !== 'function') {
    throw new TypeError(`Expected \`fn\` to be a function, got ${describe(fn)}`);
  }
  checkOptions('options', options);
  const limiter = options?.concurrency instanceof AdaptiveLimiter ? options.concurrency : undefined;
  const concurrency =
    limiter === undefined ? checkCount('concurrency', options?.concurrency ?? 1, 1) : limiter.limit;
  const capacity = checkCount('capacity', options?.capacity ?? concurrency, 0);
  const ordered = options?.ordered ?? true;
  if (typeof ordered !== 'boolean') {
    throw new TypeError(`Expected \`ordered\` to be a boolean, got ${describe(ordered)}`);
  }
  if (limiter === undefined) return new StageSpec(fn, concurrency, capacity, ordered, undefined);
  const limited = (item: I, context: StageContext): Promise<Awaited<O>> =>
    limiter.run(() => fn(item, context), { signal: context.signal });
  return new StageSpec(limited, concurrency, capacity, ordered, limiter);
}

/**
 * Starts describing a pipeline over `source`: add stages with `.through(stage(…))`, then
 * iterate it (`for await`) or `run(sink)` it.
 *
 * What it waits for: nothing runs until the pipeline is iterated or run. While it runs, a
 * stage starts an item only when it has room (fewer than `concurrency` running, and fewer
 * than `concurrency + capacity` held), and the source is asked for one item at a time only
 * when the first stage has room: a slow consumer holds back every stage, then the source.
 * Items alive at once are at most Σ (concurrency + capacity) + 1 (the one the sink holds).
 *
 * Cancellation: the first error (source, stage or sink), an abort of `signal`, or the
 * consumer leaving a `for await` loop stops the run: every running function's signal aborts
 * (with the error, `signal.reason`, or an `AbortError`), the source is no longer pulled and
 * its iterator's `return()` is called, every item held is dropped and reported to `onDrop`.
 * The run settles once the aborted functions have returned (their results are discarded); it
 * does not wait for a source `next()` already under way (an item it still yields is dropped
 * and reported).
 *
 * Ordering: an ordered stage releases results in input order, an unordered one in finish
 * order; a stage starts items in the order it receives them.
 *
 * Errors: the run (the iterator's `next()`, or `run()`) rejects with the first error exactly
 * once, untouched; later errors are ignored. Misuse throws synchronously: a source that is not
 * iterable, a bad `signal` or `onDrop`.
 *
 * @example
 * ```ts
 * const pages = pipeline(urls, { signal })
 *   .through(stage((url: string, { signal }) => fetch(url, { signal }), { concurrency: 8 }))
 *   .through(stage((res: Response) => res.text(), { concurrency: 8 }));
 * for await (const text of pages) console.log(text.length); // in the order of `urls`
 * ```
 */
export function pipeline<T>(
  source: AsyncIterable<T> | Iterable<T>,
  options?: PipelineOptions,
): Pipeline<T> {
  if (!isIterable(source)) {
    throw new TypeError(
      `Expected \`source\` to be an iterable or an async iterable, got ${describe(source)}`,
    );
  }
  checkOptions('options', options);
  const signal = checkSignal(options?.signal);
  const onDrop = checkOptionalFunction<(item: unknown, site: DropSite) => void>(
    'onDrop',
    options?.onDrop,
  );
  return new PipelineSpec<T>(source as Iterable<unknown>, [], signal, onDrop);
}

// ---- description -----------------------------------------------------------------------------

class StageSpec<I, O> implements Stage<I, O> {
  constructor(
    readonly fn: (item: I, context: StageContext) => O | PromiseLike<O>,
    /** The concurrency given, or the adaptive limiter's limit when the stage was made. */
    readonly fixed: number,
    readonly capacity: number,
    readonly ordered: boolean,
    readonly limiter: AdaptiveLimiter | undefined,
  ) {}

  get concurrency(): number {
    return this.limiter === undefined ? this.fixed : this.limiter.limit;
  }
}

type AnyStage = StageSpec<unknown, unknown>;
type DropHook = (item: unknown, site: DropSite) => void;

class PipelineSpec<T> implements Pipeline<T> {
  readonly #source: AsyncIterable<unknown> | Iterable<unknown>;
  readonly #stages: readonly AnyStage[];
  readonly #signal: AbortSignal | undefined;
  readonly #onDrop: DropHook | undefined;

  constructor(
    source: AsyncIterable<unknown> | Iterable<unknown>,
    stages: readonly AnyStage[],
    signal: AbortSignal | undefined,
    onDrop: DropHook | undefined,
  ) {
    this.#source = source;
    this.#stages = stages;
    this.#signal = signal;
    this.#onDrop = onDrop;
  }

  through<U>(next: Stage<T, U>): Pipeline<U> {
    if (!(next instanceof StageSpec)) {
      throw new TypeError(
        `Expected \`stage\` to be made by stage(fn, options), got ${describe(next)}`,
      );
    }
    return new PipelineSpec<U>(
      this.#source,
      [...this.#stages, next as AnyStage],
      this.#signal,
      this.#onDrop,
    );
  }

  run(sink?: (item: T, context: StageContext) => unknown): Promise<void> {
    checkOptionalFunction('sink', sink);
    return this.#start().drain(
      sink as ((item: unknown, context: StageContext) => unknown) | undefined,
    );
  }

  [Symbol.asyncIterator](): PipelineIterator<T> {
    return this.#start() as unknown as PipelineIterator<T>;
  }

  #start(): Run {
    if (this.#stages.length === 0) {
      throw new TypeError(
        'Expected at least one stage, got `[]` (array): add one with .through(stage(fn))',
      );
    }
    return new Run(this.#source, this.#stages, this.#signal, this.#onDrop);
  }
}

// ---- a run -----------------------------------------------------------------------------------

const FLOWING = 0;
const STOPPING = 1;
const SETTLED = 2;

const NO_FAILURE: unique symbol = Symbol('sluice.pipeline.noFailure');
const RESOLVED: Promise<void> = Promise.resolve();
const DONE: IteratorResult<never, undefined> = Object.freeze({ done: true, value: undefined });
/** A queued source pull (see `#flush`). */
const PULL: unique symbol = Symbol('sluice.pipeline.pull');
/** Results `run()` hands to a synchronous sink in one turn before it yields a microtask. */
const SYNC_BATCH = 64;

/** Whether `value` is a thenable (reads `then` once: a throwing getter throws here). */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  if (value instanceof Promise) return true;
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false;
  return typeof (value as { then?: unknown }).then === 'function';
}

/**
 * A call's abort state. The AbortController is made only when the call reads its
 * `context.signal`: most never do, and a controller per call is most of a run's cost.
 */
class Abortable {
  #controller: AbortController | undefined = undefined;
  /** Stopped: the signal is aborted, or made aborted when first read. */
  aborted = false;
  #reason: unknown = undefined;

  get signal(): AbortSignal {
    let controller = this.#controller;
    if (controller === undefined) {
      controller = new AbortController();
      this.#controller = controller;
      if (this.aborted) controller.abort(this.#reason);
    }
    return controller.signal;
  }

  /**
   * Marks it stopped with `reason`. Returns the controller to abort (user code: the caller
   * aborts it last), or undefined when no signal was read yet.
   */
  stop(reason: unknown): AbortController | undefined {
    this.aborted = true;
    this.#reason = reason;
    return this.#controller;
  }
}

/** The context a stage function or the sink is called with: `signal` is made when read. */
class CallContext implements StageContext {
  readonly #of: Abortable;
  constructor(of: Abortable) {
    this.#of = of;
  }

  get signal(): AbortSignal {
    return this.#of.signal;
  }
}

class Entry extends Abortable {
  /** The input while running; the result once finished. */
  value: unknown;
  finished = false;
  /** No longer running: finished or failed. */
  done = false;
  called = false;
  constructor(
    value: unknown,
    readonly seq: number,
    readonly stage: StageRun,
  ) {
    super();
    this.value = value;
  }
}

class StageRun {
  /** Ordered: every held entry in start order. Unordered: finished entries in finish order. */
  readonly queue = new RingBuffer<Entry>();
  /** Calls under way (aborted ones not counted). */
  running = 0;
  /**
   * Unordered: the entries running, in start order. Ordered: undefined, as they are the
   * entries of `queue` not yet done (a Set per stage call is much of a short call's cost).
   */
  readonly runningSet: Set<Entry> | undefined;
  held = 0;
  started = 0;
  finished = 0;
  /** The highest concurrency the stage has had (it moves with an adaptive limiter). */
  peak: number;
  constructor(readonly spec: AnyStage) {
    this.peak = spec.concurrency;
    this.runningSet = spec.ordered ? undefined : new Set();
  }

  hasRoom(): boolean {
    const { fixed, limiter, capacity } = this.spec;
    let concurrency = fixed;
    if (limiter !== undefined) {
      concurrency = limiter.limit;
      if (concurrency > this.peak) this.peak = concurrency;
    }
    return this.running < concurrency && this.held < concurrency + capacity;
  }

  /** The entries running, in start order. */
  runningEntries(): Entry[] {
    if (this.runningSet !== undefined) return [...this.runningSet];
    const entries: Entry[] = [];
    for (let i = 0; i < this.queue.length; i++) {
      const entry = this.queue.at(i);
      if (!entry.done) entries.push(entry);
    }
    return entries;
  }

  /** A result can be taken now. */
  ready(): boolean {
    const head = this.queue.peek();
    return head?.finished === true;
  }

  take(): unknown {
    this.held--;
    return this.queue.shift().value;
  }
}

interface Waiter {
  resolve(result: IteratorResult<unknown, undefined>): void;
  reject(error: unknown): void;
}

class Run implements PipelineIterator<unknown> {
  readonly #source: AsyncIterable<unknown> | Iterable<unknown>;
  readonly #stages: StageRun[];
  readonly #onDrop: DropHook | undefined;
  #iterator: AsyncIterator<unknown> | Iterator<unknown> | undefined;
  /** True once the iterator is done, threw, or was returned. */
  #iteratorClosed = false;
  #pulling = false;
  #sourceDone = false;

  #state = FLOWING;
  #failure: unknown = NO_FAILURE;
  /** The failure still has to reach a `next()`. */
  #failurePending = false;
  #unlisten: (() => void) | undefined;
  readonly #waiters: Waiter[] = [];
  /** Aborted handlers still returning. */
  readonly #zombies = new Set<Entry>();
  /** The sink call under way, if any. */
  #sinkCall: Abortable | undefined;
  readonly #settled: Promise<void>;
  #resolveSettled!: () => void;
  /** Stage calls (entries) and source pulls waiting for `#flush`, in the order queued. */
  readonly #tasks = new RingBuffer<Entry | typeof PULL>();
  #flushScheduled = false;
  #flushing = false;

  #seq = 0;
  #pulled = 0;
  #delivered = 0;
  #failed = 0;
  #dropped = 0;

  constructor(
    source: AsyncIterable<unknown> | Iterable<unknown>,
    stages: readonly AnyStage[],
    signal: AbortSignal | undefined,
    onDrop: DropHook | undefined,
  ) {
    this.#source = source;
    this.#stages = stages.map((spec) => new StageRun(spec));
    this.#onDrop = onDrop;
    this.#settled = new Promise((resolve) => {
      this.#resolveSettled = resolve;
    });
    if (signal?.aborted) {
      this.#stop(signal.reason, true);
      return;
    }
    if (signal !== undefined) {
      this.#unlisten = listenForAbort(signal, (reason) => {
        this.#unlisten = undefined;
        this.#stop(reason, true);
      });
    }
    this.#pump();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<unknown, undefined>> {
    if (this.#state === FLOWING) {
      const last = this.#stages[this.#stages.length - 1] as StageRun;
      if (last.ready()) {
        const value = last.take();
        this.#delivered++;
        this.#pump();
        return Promise.resolve({ done: false, value });
      }
      this.#checkEnd();
    }
    if (this.#state === SETTLED) {
      if (!this.#failurePending) return Promise.resolve(DONE);
      this.#failurePending = false;
      return Promise.reject(this.#failure);
    }
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
    });
  }

  return(): Promise<IteratorResult<unknown, undefined>> {
    if (this.#state === FLOWING) {
      this.#stop(new DOMException('The pipeline was closed by its consumer', 'AbortError'), false);
    }
    this.#failurePending = false;
    return this.#settled.then(() => DONE);
  }

  /**
   * `run(sink)`: takes every result and calls `sink` for each, awaiting it only when it returns
   * a thenable. Results already ready (or made ready by running the queued calls, see
   * `#takeNow`) are handed on in the same turn, up to `SYNC_BATCH` in a row.
   */
  async drain(
    sink: ((item: unknown, context: StageContext) => unknown) | undefined,
  ): Promise<void> {
    let step = await this.next(); // rejects with the first failure, after the stop
    let call: Abortable | undefined;
    for (let batch = 0; ; ) {
      if (step.done) return;
      if (sink !== undefined) {
        call ??= new Abortable();
        this.#sinkCall = call;
        try {
          const result = sink(step.value, new CallContext(call));
          if (isThenable(result)) {
            batch = 0;
            await result;
          }
        } catch (error) {
          this.#sinkCall = undefined;
          this.#stop(error, true); // the item was delivered: it is not counted again
          this.#checkSettled();
          step = await this.next();
          continue;
        }
        call = undefined;
        this.#sinkCall = undefined;
        if (this.#state === STOPPING) this.#checkSettled();
        else this.#pump();
      }
      if (++batch < SYNC_BATCH) {
        if (sink !== undefined) call = new Abortable();
        const now = this.#takeNow(call);
        if (now !== undefined) {
          step = now;
          continue;
        }
        call = undefined;
      }
      batch = 0;
      step = await this.next();
    }
  }

  /**
   * For `drain`, called from a microtask outside any state change: takes the next result if
   * one is ready, first running the queued calls if none is. `call`: the sink call the result
   * goes to, set before the take so that the run does not end before the sink returned.
   */
  #takeNow(call: Abortable | undefined): IteratorResult<unknown, undefined> | undefined {
    if (this.#state !== FLOWING || this.#waiters.length !== 0) return undefined;
    const last = this.#stages[this.#stages.length - 1] as StageRun;
    if (!last.ready()) {
      this.#flush();
      if (this.#state !== FLOWING || !last.ready()) return undefined;
    }
    const value = last.take();
    this.#delivered++;
    this.#sinkCall = call;
    this.#pump();
    return { done: false, value };
  }

  stats(): PipelineStats {
    return {
      pulled: this.#pulled,
      delivered: this.#delivered,
      failed: this.#failed,
      dropped: this.#dropped,
      stages: this.#stages.map((s) => ({
        running: s.running,
        buffered: s.held - s.running,
        started: s.started,
        finished: s.finished,
      })),
    };
  }

  assertInvariants(): void {
    let held = 0;
    for (const [k, s] of this.#stages.entries()) {
      const { capacity, ordered } = s.spec;
      const concurrency = s.peak; // a moving limit may have fallen below what runs
      invariant(s.running <= concurrency, () => `stage ${k}: ${s.running} running`);
      const listed = s.runningEntries().length;
      invariant(listed === s.running, () => `stage ${k}: ${listed} listed, ${s.running} running`);
      invariant(s.held <= concurrency + capacity, () => `stage ${k}: ${s.held} held`);
      const queued = s.queue.length + (ordered ? 0 : s.running);
      invariant(queued === s.held, () => `stage ${k}: held ${s.held}, queued ${queued}`);
      let seq = -1;
      for (let i = 0; i < s.queue.length; i++) {
        const entry = s.queue.at(i);
        if (ordered) invariant(entry.seq > seq, () => `stage ${k}: queue out of input order`);
        else invariant(entry.finished, () => `stage ${k}: an unfinished entry is queued`);
        seq = entry.seq;
      }
      held += s.held;
    }
    if (this.#pulling && this.#state === FLOWING) {
      invariant((this.#stages[0] as StageRun).hasRoom(), 'pulling without room in stage 0');
    }
    const accounted = held + this.#delivered + this.#failed + this.#dropped;
    invariant(this.#pulled === accounted, () => `pulled ${this.#pulled} != ${accounted}`);
    invariant(this.#failed <= 1, () => `${this.#failed} failed items`);
    if (this.#state === SETTLED) {
      invariant(held === 0 && this.#zombies.size === 0, 'settled with items held or running');
      invariant(this.#sinkCall === undefined, 'settled while the sink runs');
      invariant(this.#unlisten === undefined, 'settled with an abort listener');
    }
  }

  // ---- moving items ----------------------------------------------------------------------------

  /**
   * Moves every item that can move: results to waiting consumers, between stages, pulls. One
   * pass from the last stage back suffices: a take only frees room in the stage taken from
   * (handled next in the pass) and a start never makes a result ready.
   */
  #pump(): void {
    const stages = this.#stages;
    const last = stages[stages.length - 1] as StageRun;
    if (this.#state === FLOWING) {
      while (this.#waiters.length !== 0 && last.ready()) {
        const value = last.take();
        this.#delivered++;
        (this.#waiters.shift() as Waiter).resolve({ done: false, value });
      }
      for (let k = stages.length - 1; k >= 1 && this.#state === FLOWING; k--) {
        const to = stages[k] as StageRun;
        const from = stages[k - 1] as StageRun;
        while (to.hasRoom() && from.ready()) this.#start(k, from.take());
      }
    }
    const first = stages[0] as StageRun;
    if (this.#state === FLOWING && !this.#pulling && !this.#sourceDone && first.hasRoom()) {
      this.#pull();
    }
    this.#checkEnd();
  }

  #start(k: number, value: unknown): void {
    const s = this.#stages[k] as StageRun;
    const entry = new Entry(value, this.#seq++, s);
    s.held++;
    s.started++;
    s.running++;
    if (s.runningSet === undefined) s.queue.push(entry);
    else s.runningSet.add(entry);
    this.#enqueue(entry);
  }

  /** Queues a stage call or a pull for `#flush`, which runs on the next microtask. */
  #enqueue(task: Entry | typeof PULL): void {
    this.#tasks.push(task);
    if (this.#flushScheduled || this.#flushing) return;
    this.#flushScheduled = true;
    // A reaction on a settled promise, not queueMicrotask: Node's queueMicrotask makes an
    // AsyncResource per call.
    void RESOLVED.then(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  /**
   * Runs the queued stage calls and pulls, in order, until none is left (calls queued by the
   * state changes they cause included). Only ever called from a microtask, never inside a
   * state change; a call made while it runs (user code reaching back) only queues.
   */
  #flush(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    const tasks = this.#tasks;
    try {
      while (tasks.length !== 0) {
        const task = tasks.shift();
        if (task === PULL) this.#pullNow();
        else this.#invoke(task);
      }
    } finally {
      this.#flushing = false;
      if (tasks.length !== 0 && !this.#flushScheduled) {
        this.#flushScheduled = true;
        void RESOLVED.then(() => {
          this.#flushScheduled = false;
          this.#flush();
        });
      }
    }
  }

  #invoke(entry: Entry): void {
    if (entry.aborted) return; // stopped before the call: already dropped
    const s = entry.stage;
    entry.called = true;
    let result: unknown;
    try {
      result = s.spec.fn(entry.value, new CallContext(entry));
      if (isThenable(result)) {
        Promise.resolve(result).then(
          (value) => this.#finished(s, entry, value),
          (error: unknown) => this.#failedEntry(s, entry, error),
        );
        return;
      }
    } catch (error) {
      // The rare path keeps its promise hop: the stop takes effect on a later microtask, as
      // for a rejection, so a throw and a rejection stop the run at the same point.
      Promise.reject(error).catch((reason: unknown) => this.#failedEntry(s, entry, reason));
      return;
    }
    this.#finished(s, entry, result); // a plain value: done in this turn
  }

  #finished(s: StageRun, entry: Entry, result: unknown): void {
    // Aborted after the call: a zombie (#stop made every called running entry one).
    if (entry.aborted) {
      this.#zombies.delete(entry);
      this.#checkSettled();
      return;
    }
    s.running--;
    s.runningSet?.delete(entry);
    entry.done = true;
    entry.finished = true;
    entry.value = result;
    s.finished++;
    if (!s.spec.ordered) s.queue.push(entry);
    this.#pump();
  }

  #failedEntry(s: StageRun, entry: Entry, error: unknown): void {
    if (entry.aborted) {
      this.#zombies.delete(entry);
      this.#checkSettled(); // an aborted handler's error is the abort taking effect
      return;
    }
    s.running--;
    s.runningSet?.delete(entry);
    entry.done = true;
    s.held--;
    this.#failed++;
    // An ordered stage still queues it: #stop drains the queue and skips unfinished entries.
    this.#stop(error, true);
  }

  #pull(): void {
    this.#pulling = true;
    this.#enqueue(PULL);
  }

  #pullNow(): void {
    if (this.#state !== FLOWING) {
      this.#pulling = false;
      return;
    }
    let step: unknown;
    try {
      this.#iterator ??= openIterator(this.#source);
      step = this.#iterator.next();
      if (isThenable(step)) {
        Promise.resolve(step).then(
          (result) => this.#pulledOne(result as IteratorResult<unknown>),
          (error: unknown) => this.#pullFailed(error),
        );
        return;
      }
    } catch (error) {
      // As for a rejection: the stop takes effect on a later microtask.
      Promise.reject(error).catch((reason: unknown) => this.#pullFailed(reason));
      return;
    }
    this.#pulledOne(step as IteratorResult<unknown>); // a sync iterator: no promise
  }

  #pullFailed(error: unknown): void {
    this.#pulling = false;
    this.#iteratorClosed = true; // like for await: a throwing next() is not returned
    if (this.#state === FLOWING) this.#stop(error, true);
  }

  #pulledOne(result: IteratorResult<unknown>): void {
    this.#pulling = false;
    if (typeof result !== 'object' || result === null) {
      this.#iteratorClosed = true;
      if (this.#state === FLOWING) {
        this.#stop(new TypeError(`Iterator result ${describe(result)} is not an object`), true);
      }
      return;
    }
    if (result.done) {
      this.#iteratorClosed = true;
      this.#sourceDone = true;
      this.#pump();
      return;
    }
    this.#pulled++;
    if (this.#state !== FLOWING) {
      // A next() under way when the run stopped: the item arrives late and is dropped.
      this.#dropped++;
      this.#report([[result.value, { stage: 0, started: false }]]);
      return;
    }
    this.#start(0, result.value);
    this.#pump();
  }

  // ---- ending --------------------------------------------------------------------------------

  /** The source ended and every item went through: the run is over. */
  #checkEnd(): void {
    if (this.#state !== FLOWING || !this.#sourceDone || this.#sinkCall !== undefined) return;
    for (const s of this.#stages) if (s.held !== 0) return;
    this.#state = SETTLED;
    this.#unlisten?.();
    this.#unlisten = undefined;
    for (const waiter of this.#waiters.splice(0)) waiter.resolve(DONE);
    this.#resolveSettled();
  }

  /**
   * Stops a flowing run: drops every held item, aborts running functions and the sink with
   * `reason`, returns the source iterator. `failure`: the run rejects with `reason` (false: the
   * consumer left, and the run just ends).
   */
  #stop(reason: unknown, failure: boolean): void {
    if (this.#state !== FLOWING) return;
    this.#state = STOPPING;
    if (failure) {
      this.#failure = reason;
      this.#failurePending = true;
    }
    this.#unlisten?.();
    this.#unlisten = undefined;
    const drops: [unknown, DropSite][] = [];
    const controllers: AbortController[] = [];
    for (const [k, s] of this.#stages.entries()) {
      for (const entry of s.runningEntries()) {
        if (entry.called) this.#zombies.add(entry);
        const controller = entry.stop(reason);
        if (controller !== undefined) controllers.push(controller);
        drops.push([entry.value, { stage: k, started: entry.called }]);
      }
      for (const entry of s.queue.drain()) {
        if (entry.finished) drops.push([entry.value, { stage: k + 1, started: false }]);
      }
      s.runningSet?.clear();
      s.running = 0;
      s.held = 0;
    }
    this.#dropped += drops.length;
    const sinkController = this.#sinkCall?.stop(reason);
    if (sinkController !== undefined) controllers.push(sinkController);
    const iterator = this.#iterator;
    const returnSource = iterator !== undefined && !this.#iteratorClosed;
    this.#iteratorClosed = true;
    this.#checkSettled();
    // User code last: the source's return(), abort listeners, onDrop.
    if (returnSource) closeIterator(iterator);
    for (const controller of controllers) controller.abort(reason);
    this.#report(drops);
  }

  #checkSettled(): void {
    if (this.#state !== STOPPING || this.#zombies.size !== 0) return;
    if (this.#sinkCall !== undefined) return;
    this.#state = SETTLED;
    for (const waiter of this.#waiters.splice(0)) {
      if (this.#failurePending) {
        this.#failurePending = false;
        waiter.reject(this.#failure);
      } else waiter.resolve(DONE);
    }
    this.#resolveSettled();
  }

  #report(drops: readonly [unknown, DropSite][]): void {
    const onDrop = this.#onDrop;
    if (onDrop === undefined) return;
    for (const [item, site] of drops) {
      try {
        onDrop(item, site);
      } catch (error) {
        reportHookError(error);
      }
    }
  }
}

function isIterable(value: unknown): boolean {
  if (value === null || value === undefined) return false;
  const v = value as Partial<AsyncIterable<unknown> & Iterable<unknown>>;
  return typeof v[Symbol.asyncIterator] === 'function' || typeof v[Symbol.iterator] === 'function';
}

function openIterator(
  source: AsyncIterable<unknown> | Iterable<unknown>,
): AsyncIterator<unknown> | Iterator<unknown> {
  const s = source as Partial<AsyncIterable<unknown> & Iterable<unknown>>;
  const open = s[Symbol.asyncIterator];
  if (typeof open === 'function') return open.call(source);
  return (s[Symbol.iterator] as () => Iterator<unknown>).call(source);
}

/** Calls `return()` if there is one; its errors are ignored (the run has already stopped). */
function closeIterator(iterator: AsyncIterator<unknown> | Iterator<unknown>): void {
  if (typeof iterator.return !== 'function') return;
  try {
    Promise.resolve(iterator.return()).catch(() => {});
  } catch {
    // the run has already stopped for another reason
  }
}
