/**
 * Semaphore: at most `capacity` units in use at once (a concurrency limit). Callers acquire a
 * permit of some weight, and give it back with `release()` — or with `using`.
 *
 * Invariants:
 * 1. `0 <= inUse <= capacity`.
 * 2. Waiters are served strictly first come, first served: while the head does not fit, no one
 *    behind it goes ahead, so a heavy request is never starved by light ones
 *    (golang.org/x/sync/semaphore's rule).
 * 3. If anyone waits, the head does not fit: `inUse + head.weight > capacity`.
 * 4. A permit gives its weight back once; a second release does nothing.
 */
import { type Clock, checkClock, type TimerHandle } from '../clock.js';
import { TimeoutError } from '../errors.js';
import { checkSignal, listenForAbort } from '../internal/abort.js';
import { describe } from '../internal/describe.js';
import { invariant } from '../internal/invariant.js';
import { checkDuration, checkOptions } from '../internal/validate.js';
import { type Linked, WaiterList } from '../internal/waiter-list.js';

/** Options for {@link Semaphore}. */
export interface SemaphoreOptions {
  /** Units available: an integer from 1 up. */
  readonly capacity: number;
  /** Where timeouts read time and arm timers. Default: the system clock. */
  readonly clock?: Clock | undefined;
}

/** Options for `acquire` and `run`. */
export interface AcquireOptions {
  /** Units to hold: an integer from 1 to the capacity. Default 1. */
  readonly weight?: number | undefined;
  /** Abort the wait: rejects with `signal.reason`; nothing is held. */
  readonly signal?: AbortSignal | undefined;
  /** Give up after this many milliseconds with a `TimeoutError`. Default: never. */
  readonly timeoutMs?: number | undefined;
}

/** A snapshot of a semaphore's state and counters. */
export interface SemaphoreStats {
  readonly capacity: number;
  readonly inUse: number;
  readonly waiting: number;
  /** Permits handed out, and waits that ended without one (abort or timeout). */
  readonly acquired: number;
  readonly cancelled: number;
}

/** Held units of a {@link Semaphore}. Release it exactly when the work is done. */
export interface Permit extends Disposable {
  /** Units held. */
  readonly weight: number;
  /** True once released. */
  readonly released: boolean;
  /** Gives the units back. Harmless when called again. */
  release(): void;
}

class HeldPermit implements Permit {
  #release: ((weight: number) => void) | undefined;

  constructor(
    readonly weight: number,
    release: (weight: number) => void,
  ) {
    this.#release = release;
  }

  get released(): boolean {
    return this.#release === undefined;
  }

  release(): void {
    const release = this.#release;
    this.#release = undefined;
    release?.(this.weight);
  }

  [Symbol.dispose](): void {
    this.release();
  }
}

class AcquireWaiter implements Linked<AcquireWaiter> {
  prev: AcquireWaiter | undefined = undefined;
  next: AcquireWaiter | undefined = undefined;
  list: object | undefined = undefined;
  unlisten: (() => void) | undefined = undefined;
  timer: TimerHandle | undefined = undefined;

  constructor(
    readonly weight: number,
    readonly signal: AbortSignal | undefined,
    readonly resolve: (permit: Permit) => void,
    readonly reject: (error: unknown) => void,
  ) {}
}

/**
 * A counting semaphore with weights, FIFO waiting and cancellation.
 *
 * Most callers should use `run(fn)`, which acquires, runs and always releases. Use `acquire`
 * when the permit must outlive one function, and `using permit = await sem.acquire()` to
 * release at the end of a block.
 *
 * @example
 * ```ts
 * const inFlight = new Semaphore({ capacity: 10 });
 * const body = await inFlight.run(() => fetch(url).then((r) => r.text()));
 * ```
 */
export class Semaphore {
  readonly #capacity: number;
  readonly #clock: Clock;
  readonly #waiters = new WaiterList<AcquireWaiter>();
  #inUse = 0;
  #acquired = 0;
  #cancelled = 0;

  /** Throws a RangeError naming the value for a capacity that is not an integer from 1 up. */
  constructor(options: SemaphoreOptions) {
    if (options === undefined) throw new TypeError('Expected an options object with capacity');
    checkOptions('options', options);
    const { capacity } = options;
    if (!(typeof capacity === 'number' && Number.isInteger(capacity) && capacity >= 1)) {
      throw new RangeError(
        `Expected \`capacity\` to be an integer from 1 up, got ${describe(capacity)}`,
      );
    }
    this.#capacity = capacity;
    this.#clock = checkClock(options.clock);
  }

  /** Units in all. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Units held now. */
  get inUse(): number {
    return this.#inUse;
  }

  /** Units free now. */
  get available(): number {
    return this.#capacity - this.#inUse;
  }

  /** Callers waiting for a permit. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /**
   * A permit of `weight` now if it fits and nobody is waiting (it never jumps the queue), or
   * `undefined`. Never waits. A RangeError for a weight that is not an integer from 1 to the
   * capacity.
   */
  tryAcquire(weight = 1): Permit | undefined {
    this.#checkWeight(weight);
    if (this.#waiters.length > 0 || this.#inUse + weight > this.#capacity) return undefined;
    return this.#hand(weight);
  }

  /**
   * Waits for `weight` units and resolves with a permit holding them.
   *
   * Cancellation: if `signal` aborts (or `timeoutMs` passes) while waiting, the promise rejects
   * with `signal.reason` untouched (or a `TimeoutError`) and nothing is held; callers behind it
   * may then go. An already-aborted signal rejects at once.
   *
   * Ordering: strictly first come, first served, whatever the weights.
   *
   * Errors: a RangeError for a weight that is not an integer from 1 to the capacity.
   */
  acquire(options?: AcquireOptions): Promise<Permit> {
    checkOptions('options', options);
    const weight = options?.weight ?? 1;
    this.#checkWeight(weight);
    const signal = checkSignal(options?.signal);
    const timeoutMs =
      options?.timeoutMs === undefined ? Infinity : checkDuration('timeoutMs', options.timeoutMs);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#waiters.length === 0 && this.#inUse + weight <= this.#capacity) {
      return Promise.resolve(this.#hand(weight));
    }
    if (timeoutMs === 0) return Promise.reject(new TimeoutError(0));
    return new Promise<Permit>((resolve, reject) => {
      const waiter = new AcquireWaiter(weight, signal, resolve, reject);
      this.#waiters.push(waiter);
      const leave = (error: unknown): void => {
        this.#waiters.remove(waiter);
        this.#cancelled++;
        this.#cleanup(waiter);
        reject(error);
        this.#serve(); // the head may have changed
      };
      if (signal !== undefined) {
        waiter.unlisten = listenForAbort(signal, (reason) => {
          waiter.unlisten = undefined;
          leave(reason);
        });
      }
      if (timeoutMs !== Infinity) {
        waiter.timer = this.#clock.setTimer(() => {
          waiter.timer = undefined;
          leave(new TimeoutError(timeoutMs));
        }, timeoutMs);
      }
    });
  }

  /**
   * Acquires, runs `fn` with the permit held, and releases when it settles, whatever the
   * outcome. Resolves or rejects as `fn` does. Options as for `acquire`; the signal is passed
   * to `fn` so it can stop early.
   */
  run<R>(
    fn: (signal: AbortSignal | undefined) => R | PromiseLike<R>,
    options?: AcquireOptions,
  ): Promise<Awaited<R>> {
    if (typeof fn !== 'function') {
      throw new TypeError(`Expected \`fn\` to be a function, got ${describe(fn)}`);
    }
    return this.acquire(options).then(async (permit): Promise<Awaited<R>> => {
      try {
        return await fn(options?.signal);
      } finally {
        permit.release();
      }
    });
  }

  /** A snapshot of the semaphore's counters. */
  stats(): SemaphoreStats {
    return {
      capacity: this.#capacity,
      inUse: this.#inUse,
      waiting: this.#waiters.length,
      acquired: this.#acquired,
      cancelled: this.#cancelled,
    };
  }

  /** Checks the invariants at the top of this file; throws an `InvariantError` if one fails. */
  assertInvariants(): void {
    invariant(this.#inUse >= 0 && this.#inUse <= this.#capacity, () => `inUse ${this.#inUse}`);
    const head = this.#waiters.head;
    if (head !== undefined) {
      invariant(this.#inUse + head.weight > this.#capacity, 'the head waiter fits but waits');
    }
  }

  #hand(weight: number): Permit {
    this.#inUse += weight;
    this.#acquired++;
    return new HeldPermit(weight, this.#release);
  }

  readonly #release = (weight: number): void => {
    this.#inUse -= weight;
    this.#serve();
  };

  /**
   * Hands permits to waiters from the head while they fit. A waiter whose signal has aborted
   * but whose listener has not run yet (several waiters sharing one signal) is rejected
   * instead: an aborted wait never gets a permit.
   */
  #serve(): void {
    for (let w = this.#waiters.head; w !== undefined; w = this.#waiters.head) {
      if (w.signal?.aborted) {
        this.#waiters.remove(w);
        this.#cancelled++;
        this.#cleanup(w);
        w.reject(w.signal.reason);
        continue;
      }
      if (this.#inUse + w.weight > this.#capacity) return;
      this.#waiters.remove(w);
      this.#cleanup(w);
      w.resolve(this.#hand(w.weight));
    }
  }

  #cleanup(waiter: AcquireWaiter): void {
    if (waiter.unlisten !== undefined) waiter.unlisten();
    if (waiter.timer !== undefined) this.#clock.clearTimer(waiter.timer);
    waiter.unlisten = waiter.timer = undefined;
  }

  #checkWeight(weight: number): void {
    if (!(Number.isInteger(weight) && weight >= 1 && weight <= this.#capacity)) {
      throw new RangeError(
        `Expected \`weight\` to be an integer from 1 to the capacity (${this.#capacity}), got ${describe(weight)}`,
      );
    }
  }
}
