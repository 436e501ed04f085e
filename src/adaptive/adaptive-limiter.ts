/**
 * AdaptiveLimiter: a concurrency limit that an algorithm moves. Each request takes a permit;
 * when it ends, the caller says how it went — `success()`, `dropped()` (overload: a timeout, a
 * rejection by the server) or `ignore()` (says nothing about load: a bad request, a bug) — and
 * the first two feed the algorithm a sample `{ rttMs, inflight, dropped }`, which moves the limit.
 *
 * Requests over the limit wait in a backlog (FIFO or LIFO, with its own bound and timeout).
 * Partitions split the limit into named shares; a share that is not used may be borrowed.
 *
 * Invariants (checked by `assertInvariants()`):
 * 1. `inflight` is the sum of the partitions' `inflight`, each ≥ 0; `waiting` is the sum of
 *    their backlogs and at most `maxBacklog`.
 * 2. If anyone waits, `inflight >= limit`: every change (a permit settling, a limit change, a
 *    waiter leaving) ends by granting waiters while there is room.
 * 3. Freed room goes first to partitions under their share (fewest in flight for their share
 *    first), then to any partition with waiters (borrowing); within a partition, oldest first
 *    (FIFO) or newest first (LIFO).
 * 4. A permit settles once: `inflight` drops by one and at most one sample is taken; later calls
 *    on it do nothing.
 * 5. `limit` is the algorithm's last valid answer (an integer from 1 up); the limiter never sets
 *    it otherwise. A limit lower than `inflight` preempts nothing: new requests wait until
 *    enough permits settle.
 */
import type { Clock, TimerHandle } from '../clock.js';
import { checkClock } from '../clock.js';
import { BacklogFullError, TimeoutError } from '../errors.js';
import { checkSignal, disarm, listenForAbort } from '../internal/abort.js';
import { describe } from '../internal/describe.js';
import { invariant } from '../internal/invariant.js';
import { reportHookError } from '../internal/report.js';
import {
  checkCount,
  checkDuration,
  checkOneOf,
  checkOptionalFunction,
  checkOptions,
} from '../internal/validate.js';
import { type Linked, WaiterList } from '../internal/waiter-list.js';
import { checkAlgorithm } from './bounds.js';
import type { LimitAlgorithm, Sample } from './types.js';

/** Options for {@link AdaptiveLimiter}. */
export interface AdaptiveLimiterOptions {
  /** What moves the limit: `aimd()`, `vegas()`, `gradient2()`, … Required. */
  readonly algorithm: LimitAlgorithm;
  /** Which waiting request goes first when room frees: `'fifo'` (default) or `'lifo'`. */
  readonly order?: 'fifo' | 'lifo' | undefined;
  /** Requests that may wait at once (an integer from 0 up, or Infinity, the default). */
  readonly maxBacklog?: number | undefined;
  /** How long a request may wait unless its call says otherwise. Default: no limit. */
  readonly backlogTimeoutMs?: number | undefined;
  /**
   * Named shares of the limit, each in (0, 1], summing to at most 1: e.g.
   * `{ interactive: 0.7, batch: 0.3 }`. Each request then names its partition.
   */
  readonly partitions?: Readonly<Record<string, number>> | undefined;
  /**
   * Which errors thrown inside `run` mean overload (a drop). Default: a `TimeoutError` (sluice's
   * or any error named so, like `AbortSignal.timeout()`'s). Others are ignored.
   */
  readonly isDrop?: ((error: unknown) => boolean) | undefined;
  /** Called after the limit changed. An error it throws is rethrown on a microtask. */
  readonly onLimitChange?: ((limit: number, previous: number) => void) | undefined;
  /** Where time is read and backlog timers armed. Default: the system clock. */
  readonly clock?: Clock | undefined;
}

/** Options for `acquire`, `tryAcquire` and `run`. */
export interface AdaptiveAcquireOptions {
  /** The partition the request belongs to: required when the limiter has partitions. */
  readonly partition?: string | undefined;
  /** Abort the wait: rejects with `signal.reason`, nothing held. `run` passes it to `fn`. */
  readonly signal?: AbortSignal | undefined;
  /** Give up waiting after this many milliseconds. Default: the limiter's `backlogTimeoutMs`. */
  readonly timeoutMs?: number | undefined;
}

/** A place within an {@link AdaptiveLimiter}'s limit. Settle it exactly once. */
export interface AdaptivePermit extends Disposable {
  /** The partition it counts against (`undefined` without partitions). */
  readonly partition: string | undefined;
  /** True once settled. */
  readonly settled: boolean;
  /** The request succeeded: its round-trip time is a sample for the algorithm. */
  success(): void;
  /** The request was dropped, rejected for overload or timed out: a congestion signal. */
  dropped(): void;
  /** Frees the place without a sample (the outcome says nothing about load). */
  ignore(): void;
}

/** A snapshot of one partition. */
export interface PartitionStats {
  readonly share: number;
  /** Its part of the current limit: `max(1, ceil(share × limit))`. */
  readonly limit: number;
  readonly inflight: number;
  readonly waiting: number;
}

/** A snapshot of an {@link AdaptiveLimiter}'s state and counters. */
export interface AdaptiveLimiterStats {
  readonly algorithm: string;
  readonly limit: number;
  readonly inflight: number;
  readonly waiting: number;
  /** Permits handed out. */
  readonly acquired: number;
  /** Permits settled as success, dropped and ignored. */
  readonly succeeded: number;
  readonly dropped: number;
  readonly ignored: number;
  /** Requests refused at once because the backlog was full. */
  readonly rejected: number;
  /** Waits ended by their timeout or by their signal. */
  readonly timedOut: number;
  readonly cancelled: number;
  /** Per partition (empty without partitions). */
  readonly partitions: Readonly<Record<string, PartitionStats>>;
}

type Outcome = 'success' | 'dropped' | 'ignore';

class Partition {
  inflight = 0;
  readonly waiters = new WaiterList<Waiter>();

  constructor(
    readonly name: string | undefined,
    readonly share: number,
  ) {}

  /** Its part of `limit`. */
  limitOf(limit: number): number {
    return Math.max(1, Math.ceil(this.share * limit));
  }
}

class Waiter implements Linked<Waiter> {
  prev: Waiter | undefined = undefined;
  next: Waiter | undefined = undefined;
  list: object | undefined = undefined;
  unlisten: (() => void) | undefined = undefined;
  timer: TimerHandle | undefined = undefined;

  constructor(
    readonly partition: Partition,
    readonly resolve: (permit: AdaptivePermit) => void,
    readonly reject: (error: unknown) => void,
  ) {}
}

class Permit implements AdaptivePermit {
  #settle: ((permit: Permit, outcome: Outcome) => void) | undefined;

  constructor(
    readonly owner: Partition,
    readonly startedAt: number,
    readonly inflightAtStart: number,
    settle: (permit: Permit, outcome: Outcome) => void,
  ) {
    this.#settle = settle;
  }

  get partition(): string | undefined {
    return this.owner.name;
  }

  get settled(): boolean {
    return this.#settle === undefined;
  }

  success(): void {
    this.#end('success');
  }

  dropped(): void {
    this.#end('dropped');
  }

  ignore(): void {
    this.#end('ignore');
  }

  [Symbol.dispose](): void {
    this.#end('ignore');
  }

  #end(outcome: Outcome): void {
    const settle = this.#settle;
    this.#settle = undefined;
    settle?.(this, outcome);
  }
}

/**
 * A concurrency limit found by measuring, not guessed: an algorithm (AIMD, Vegas, Gradient2,
 * Envoy's gradient) raises it while latency stays flat and lowers it when latency grows or
 * requests are dropped.
 *
 * Most callers should use `run(fn)`, which acquires, runs, and reports the outcome (a
 * fulfilment is a success, a `TimeoutError` a drop, any other error is ignored). Use `acquire`
 * when the outcome is known elsewhere, e.g. from an HTTP status.
 *
 * @example
 * ```ts
 * const limiter = new AdaptiveLimiter({ algorithm: gradient2() });
 * const body = await limiter.run((signal) => fetch(url, { signal }).then((r) => r.text()));
 * ```
 */
export class AdaptiveLimiter {
  readonly #algorithm: LimitAlgorithm;
  readonly #lifo: boolean;
  readonly #maxBacklog: number;
  readonly #backlogTimeoutMs: number;
  readonly #partitions: readonly Partition[];
  readonly #byName: ReadonlyMap<string, Partition> | undefined;
  readonly #isDrop: (error: unknown) => boolean;
  readonly #onLimitChange: ((limit: number, previous: number) => void) | undefined;
  readonly #clock: Clock;
  #limit: number;
  #inflight = 0;
  #waiting = 0;
  #acquired = 0;
  #succeeded = 0;
  #dropped = 0;
  #ignored = 0;
  #rejected = 0;
  #timedOut = 0;
  #cancelled = 0;

  /** Throws a TypeError or RangeError naming any option that is missing or out of range. */
  constructor(options: AdaptiveLimiterOptions) {
    if (options === undefined) throw new TypeError('Expected an options object with `algorithm`');
    checkOptions('options', options);
    this.#algorithm = checkAlgorithm('algorithm', options.algorithm);
    this.#limit = this.#algorithm.limit;
    this.#lifo = checkOneOf('order', options.order ?? 'fifo', ORDERS) === 'lifo';
    this.#maxBacklog = checkCount('maxBacklog', options.maxBacklog ?? Infinity, 0, true);
    this.#backlogTimeoutMs = checkDuration(
      'backlogTimeoutMs',
      options.backlogTimeoutMs ?? Infinity,
    );
    this.#isDrop = checkOptionalFunction('isDrop', options.isDrop) ?? isTimeout;
    this.#onLimitChange = checkOptionalFunction('onLimitChange', options.onLimitChange);
    this.#clock = checkClock(options.clock);
    if (options.partitions === undefined) {
      this.#partitions = [new Partition(undefined, 1)];
    } else {
      this.#partitions = checkPartitions(options.partitions);
      this.#byName = new Map(this.#partitions.map((p) => [p.name as string, p]));
    }
  }

  /** The current limit. */
  get limit(): number {
    return this.#limit;
  }

  /** Permits held now. */
  get inflight(): number {
    return this.#inflight;
  }

  /** Requests waiting now. */
  get waiting(): number {
    return this.#waiting;
  }

  /** A permit now if there is room (nobody waits then), or `undefined`. Never waits. */
  tryAcquire(options?: Pick<AdaptiveAcquireOptions, 'partition'>): AdaptivePermit | undefined {
    checkOptions('options', options);
    const partition = this.#partitionOf(options?.partition);
    return this.#inflight < this.#limit ? this.#grant(partition) : undefined;
  }

  /**
   * Waits for room under the limit and resolves with a permit. Settle the permit when the work
   * ends (`using` settles it as `ignore`).
   *
   * Waits for: `inflight < limit`, and its turn — see Ordering.
   *
   * Cancellation: if `signal` aborts or `timeoutMs` passes while waiting, the promise rejects
   * with `signal.reason` (or a `TimeoutError`) and nothing is held. An already-aborted signal
   * rejects at once.
   *
   * Ordering: room goes first to partitions under their share, then oldest first (`'fifo'`) or
   * newest first (`'lifo'`) within a partition.
   *
   * Errors: a `BacklogFullError` at once when `maxBacklog` requests already wait; a TypeError
   * for an unknown or missing partition, or bad options (thrown, not rejected).
   */
  acquire(options?: AdaptiveAcquireOptions): Promise<AdaptivePermit> {
    checkOptions('options', options);
    const partition = this.#partitionOf(options?.partition);
    const signal = checkSignal(options?.signal);
    const timeoutMs =
      options?.timeoutMs === undefined
        ? this.#backlogTimeoutMs
        : checkDuration('timeoutMs', options.timeoutMs);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#inflight < this.#limit) return Promise.resolve(this.#grant(partition));
    if (this.#waiting >= this.#maxBacklog) {
      this.#rejected++;
      return Promise.reject(new BacklogFullError(this.#maxBacklog));
    }
    if (timeoutMs === 0) {
      this.#timedOut++;
      return Promise.reject(new TimeoutError(0));
    }
    return new Promise<AdaptivePermit>((resolve, reject) => {
      const waiter = new Waiter(partition, resolve, reject);
      partition.waiters.push(waiter);
      this.#waiting++;
      if (signal !== undefined) {
        waiter.unlisten = listenForAbort(signal, (reason) => {
          waiter.unlisten = undefined;
          this.#cancelled++;
          this.#leave(waiter, reason);
        });
      }
      if (timeoutMs !== Infinity) {
        waiter.timer = this.#clock.setTimer(() => {
          waiter.timer = undefined;
          this.#timedOut++;
          this.#leave(waiter, new TimeoutError(timeoutMs));
        }, timeoutMs);
      }
    });
  }

  /**
   * Acquires, runs `fn(signal)`, and settles the permit by the outcome: fulfilled → `success`,
   * an error `isDrop` accepts (a timeout by default) → `dropped`, any other error → `ignore`.
   * Resolves or rejects as `fn` does; waiting, cancellation and errors as for `acquire`.
   */
  run<R>(
    fn: (signal: AbortSignal | undefined) => R | PromiseLike<R>,
    options?: AdaptiveAcquireOptions,
  ): Promise<Awaited<R>> {
    if (typeof fn !== 'function') {
      throw new TypeError(`Expected \`fn\` to be a function, got ${describe(fn)}`);
    }
    return this.acquire(options).then(async (permit): Promise<Awaited<R>> => {
      try {
        const result = await fn(options?.signal);
        permit.success();
        return result;
      } catch (error) {
        this.settleFailure(permit, error);
        throw error;
      }
    });
  }

  /** Settles `permit` for a failure: `dropped` if `isDrop(error)`, else `ignore`. */
  settleFailure(permit: AdaptivePermit, error: unknown): void {
    let drop: boolean;
    try {
      drop = this.#isDrop(error);
    } catch (hookError) {
      reportHookError(hookError);
      drop = false;
    }
    if (drop) permit.dropped();
    else permit.ignore();
  }

  /** A snapshot of the limiter's state and counters. */
  stats(): AdaptiveLimiterStats {
    const partitions: Record<string, PartitionStats> = {};
    if (this.#byName !== undefined) {
      for (const p of this.#partitions) {
        partitions[p.name as string] = {
          share: p.share,
          limit: p.limitOf(this.#limit),
          inflight: p.inflight,
          waiting: p.waiters.length,
        };
      }
    }
    return {
      algorithm: this.#algorithm.name,
      limit: this.#limit,
      inflight: this.#inflight,
      waiting: this.#waiting,
      acquired: this.#acquired,
      succeeded: this.#succeeded,
      dropped: this.#dropped,
      ignored: this.#ignored,
      rejected: this.#rejected,
      timedOut: this.#timedOut,
      cancelled: this.#cancelled,
      partitions,
    };
  }

  /** Checks the invariants at the top of this file; throws an `InvariantError` if one fails. */
  assertInvariants(): void {
    let inflight = 0;
    let waiting = 0;
    for (const p of this.#partitions) {
      invariant(p.inflight >= 0, () => `partition ${p.name} inflight ${p.inflight}`);
      inflight += p.inflight;
      waiting += p.waiters.length;
    }
    invariant(inflight === this.#inflight, () => `inflight ${this.#inflight} ≠ sum ${inflight}`);
    invariant(waiting === this.#waiting, () => `waiting ${this.#waiting} ≠ sum ${waiting}`);
    invariant(waiting <= this.#maxBacklog, () => `waiting ${waiting} > maxBacklog`);
    invariant(
      waiting === 0 || inflight >= this.#limit,
      () => `${waiting} wait with ${inflight} in flight under limit ${this.#limit}`,
    );
  }

  #partitionOf(name: unknown): Partition {
    const byName = this.#byName;
    if (byName === undefined) {
      if (name !== undefined) {
        throw new TypeError(
          `This limiter has no partitions, but \`partition\` was ${describe(name)}`,
        );
      }
      return this.#partitions[0] as Partition;
    }
    const partition = typeof name === 'string' ? byName.get(name) : undefined;
    if (partition === undefined) {
      throw new TypeError(
        `Expected \`partition\` to be one of ${[...byName.keys()].map((n) => `'${n}'`).join(', ')}, got ${describe(name)}`,
      );
    }
    return partition;
  }

  /** Hands out a permit; `now` is the clock's time when the caller has just read it. */
  #grant(partition: Partition, now: number = this.#clock.now()): Permit {
    this.#inflight++;
    partition.inflight++;
    this.#acquired++;
    return new Permit(partition, now, this.#inflight, this.#settle);
  }

  readonly #settle = (permit: Permit, outcome: Outcome): void => {
    this.#inflight--;
    permit.owner.inflight--;
    const previous = this.#limit;
    let now = Number.NaN; // read once, shared by the sample and the grants below
    if (outcome === 'ignore') {
      this.#ignored++;
    } else {
      if (outcome === 'success') this.#succeeded++;
      else this.#dropped++;
      now = this.#clock.now();
      const sample = {
        rttMs: now - permit.startedAt,
        inflight: permit.inflightAtStart,
        dropped: outcome === 'dropped',
      };
      this.#limit = this.#nextLimit(sample, now);
    }
    if (this.#waiting > 0) this.#dispatch(Number.isNaN(now) ? this.#clock.now() : now);
    if (this.#limit !== previous && this.#onLimitChange !== undefined) {
      try {
        this.#onLimitChange(this.#limit, previous);
      } catch (error) {
        reportHookError(error);
      }
    }
  };

  /**
   * The algorithm's answer to `sample`. A custom algorithm that throws or answers something
   * other than an integer from 1 up leaves the limit as it was; the error is rethrown on a
   * microtask, so the limiter stays consistent.
   */
  #nextLimit(sample: Sample, now: number): number {
    try {
      const limit = this.#algorithm.update(sample, now);
      if (Number.isInteger(limit) && limit >= 1) return limit;
      throw new RangeError(
        `Algorithm \`${this.#algorithm.name}\` answered a limit of ${describe(limit)}: expected an integer from 1 up`,
      );
    } catch (error) {
      reportHookError(error);
      return this.#limit;
    }
  }

  /** Grants waiters while there is room (invariants 2 and 3). */
  #dispatch(now: number): void {
    while (this.#waiting > 0 && this.#inflight < this.#limit) {
      const partition = this.#nextPartition();
      const list = partition.waiters;
      const waiter = (this.#lifo ? list.tail : list.head) as Waiter;
      list.remove(waiter);
      this.#waiting--;
      disarm(waiter, this.#clock);
      waiter.resolve(this.#grant(partition, now));
    }
  }

  /** The partition whose waiter goes next: under its share first, fewest for its share. */
  #nextPartition(): Partition {
    let best: Partition | undefined;
    let bestUnder = false;
    let bestLoad = Infinity;
    for (const p of this.#partitions) {
      if (p.waiters.length === 0) continue;
      const under = p.inflight < p.limitOf(this.#limit);
      const load = p.inflight / p.share;
      if ((under && !bestUnder) || (under === bestUnder && load < bestLoad)) {
        best = p;
        bestUnder = under;
        bestLoad = load;
      }
    }
    return best as Partition;
  }

  #leave(waiter: Waiter, error: unknown): void {
    if (!waiter.partition.waiters.remove(waiter)) return;
    this.#waiting--;
    disarm(waiter, this.#clock);
    waiter.reject(error);
  }
}

const ORDERS = ['fifo', 'lifo'] as const;

function isTimeout(error: unknown): boolean {
  return (
    error instanceof TimeoutError || (error as { name?: unknown } | null)?.name === 'TimeoutError'
  );
}

function checkPartitions(partitions: unknown): Partition[] {
  checkOptions('partitions', partitions);
  const entries = Object.entries(partitions as Record<string, unknown>);
  if (entries.length === 0)
    throw new RangeError('Expected `partitions` to name at least one share');
  let sum = 0;
  const out: Partition[] = [];
  for (const [name, share] of entries) {
    if (!(typeof share === 'number' && share > 0 && share <= 1)) {
      throw new RangeError(
        `Expected \`partitions.${name}\` to be a share in (0, 1], got ${describe(share)}`,
      );
    }
    sum += share;
    out.push(new Partition(name, share));
  }
  if (sum > 1 + 1e-9) {
    throw new RangeError(`Expected the partitions' shares to sum to at most 1, got ${sum}`);
  }
  return out;
}
