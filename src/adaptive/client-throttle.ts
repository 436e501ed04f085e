/**
 * ClientThrottle: client-side adaptive throttling, from Google's SRE book ("Handling
 * Overload", chapter 21). The client remembers, over the last `windowMs` (two minutes in the
 * book), how many requests it attempted and how many the backend accepted, and rejects new
 * ones locally — without sending them — with probability
 *
 *   p = max(0, (requests − K·accepts) / (requests + 1))
 *
 * While the backend accepts everything, p = 0. Once it rejects, the client lets through about
 * K requests per accepted one and drops the rest locally, so a backend that spends effort on
 * each rejection is not buried under them; as the backend recovers, accepts rise and p falls.
 * `requests` counts every attempt, those rejected locally too (the book's definition), which is
 * what makes the traffic sent settle at `requests·(1 − p) ≈ K·accepts`. K = 2 (the book's
 * choice) wastes up to one rejected request per accepted one to learn sooner that the backend
 * is well again; K closer to 1 sheds more aggressively.
 *
 * The window slides by time buckets: `windowMs` is cut into `buckets` slots; a slot is cleared
 * when time moves past the window. So the counts cover between `windowMs − windowMs/buckets`
 * and `windowMs` of history. No timers: slots are cleared when the throttle is next used.
 *
 * Invariants:
 * 1. `requests` and `accepts` are the sums of the live slots' counts, non-negative integers.
 * 2. A live slot belongs to a bucket index in `(current − buckets, current]`, `current` being
 *    the bucket index of the latest clock reading; `current` never decreases.
 * 3. 0 ≤ p < 1: (requests − K·accepts)/(requests + 1) < requests/(requests + 1) < 1.
 */
import { type Clock, checkClock } from '../clock.js';
import { SluiceError } from '../errors.js';
import { describe } from '../internal/describe.js';
import { invariant } from '../internal/invariant.js';
import { checkOptionalFunction, checkOptions } from '../internal/validate.js';

/** Options for {@link ClientThrottle}. */
export interface ClientThrottleOptions {
  /**
   * K, the number of requests let through per accepted one: a finite number from 1 up (below
   * 1 the client would shed even while the backend accepts everything). Default 2.
   */
  readonly k?: number | undefined;
  /** How much history counts, in milliseconds: a finite number above 0. Default 120 000. */
  readonly windowMs?: number | undefined;
  /** How many slots the window is cut into: an integer from 1 up. Default 60 (2 s each). */
  readonly buckets?: number | undefined;
  /** Where time is read (no timers are armed). Default: the system clock. */
  readonly clock?: Clock | undefined;
  /** A number in [0, 1), as `Math.random` gives. Default `Math.random`. */
  readonly random?: (() => number) | undefined;
}

/** A snapshot of a {@link ClientThrottle}'s window and counters. */
export interface ClientThrottleStats {
  /** Attempts in the window, those rejected locally included. */
  readonly requests: number;
  /** Requests the backend accepted in the window. */
  readonly accepts: number;
  /** The probability the next attempt is rejected locally. */
  readonly rejectProbability: number;
  /** Since construction: attempts, attempts rejected locally, and `record` calls by outcome. */
  readonly totalRequests: number;
  readonly totalRejectedLocally: number;
  readonly totalAccepted: number;
  readonly totalNotAccepted: number;
}

/** Options for {@link ClientThrottle.run}. */
export interface RunOptions<T> {
  /**
   * Whether the backend accepted the request, from how the call settled. Default: it did if the
   * call fulfilled, it did not if it rejected. For `fetch`, say which statuses are rejections:
   * `({ status, value }) => status === 'fulfilled' && value.status !== 429 && value.status !== 503`.
   */
  readonly isAccepted?: ((outcome: PromiseSettledResult<T>) => boolean) | undefined;
}

/**
 * `run` rejected the call locally: the backend has been refusing requests and this one was
 * not sent. `rejectProbability` is the probability it was rejected with.
 */
export class ThrottledError extends SluiceError {
  declare readonly code: 'ERR_SLUICE_THROTTLED';
  /** The probability of local rejection when the call was refused. */
  readonly rejectProbability: number;

  constructor(rejectProbability: number) {
    super(
      'ERR_SLUICE_THROTTLED',
      `Rejected locally by adaptive throttling (reject probability ${Math.round(rejectProbability * 1000) / 1000}): the backend has been refusing requests`,
    );
    this.rejectProbability = rejectProbability;
  }
}

/**
 * Rejects requests locally, with a probability that grows as the backend refuses them (Google
 * SRE's client-side throttling).
 *
 * Most callers should use `run(fn)`: it asks `tryRequest()`, then calls `fn` and records
 * whether the backend accepted it — or rejects with a {@link ThrottledError} without calling
 * `fn`. To drive it by hand: call `tryRequest()` before each request; if it returns false, do
 * not send it; otherwise send it and call `record(accepted)` once with the outcome.
 *
 * @example
 * ```ts
 * const throttle = new ClientThrottle(); // K = 2, two-minute window
 * try {
 *   const user = await throttle.run(() => backend.getUser(id));
 * } catch (error) {
 *   if (error instanceof ThrottledError) return fallback(); // not sent
 *   throw error;
 * }
 * ```
 */
export class ClientThrottle {
  readonly #k: number;
  readonly #windowMs: number;
  readonly #buckets: number;
  readonly #bucketMs: number;
  readonly #clock: Clock;
  readonly #random: () => number;
  /** Per-slot counts; slot `i mod buckets` holds bucket index `i`. */
  readonly #slotRequests: number[];
  readonly #slotAccepts: number[];
  #current: number;
  #requests = 0;
  #accepts = 0;
  #totalRequests = 0;
  #totalRejected = 0;
  #totalAccepted = 0;
  #totalNotAccepted = 0;

  /**
   * Throws a RangeError naming the option and value for a `k` below 1 or not finite, a
   * `windowMs` not above 0 or not finite, or `buckets` not an integer from 1 up; a TypeError
   * for a `random` or `clock` of the wrong kind.
   */
  constructor(options: ClientThrottleOptions = {}) {
    checkOptions('options', options);
    const k = options.k ?? 2;
    if (!(typeof k === 'number' && k >= 1 && Number.isFinite(k))) {
      throw new RangeError(`Expected \`k\` to be a finite number from 1 up, got ${describe(k)}`);
    }
    const windowMs = options.windowMs ?? 120_000;
    if (!(typeof windowMs === 'number' && windowMs > 0 && Number.isFinite(windowMs))) {
      throw new RangeError(
        `Expected \`windowMs\` to be a finite number of milliseconds above 0, got ${describe(windowMs)}`,
      );
    }
    const buckets = options.buckets ?? 60;
    if (!(typeof buckets === 'number' && Number.isInteger(buckets) && buckets >= 1)) {
      throw new RangeError(
        `Expected \`buckets\` to be an integer from 1 up, got ${describe(buckets)}`,
      );
    }
    this.#random = checkOptionalFunction<() => number>('random', options.random) ?? Math.random;
    this.#clock = checkClock(options.clock);
    this.#k = k;
    this.#windowMs = windowMs;
    this.#buckets = buckets;
    this.#bucketMs = windowMs / buckets;
    this.#slotRequests = new Array<number>(buckets).fill(0);
    this.#slotAccepts = new Array<number>(buckets).fill(0);
    this.#current = Math.floor(this.#clock.now() / this.#bucketMs);
  }

  /** K, as configured. */
  get k(): number {
    return this.#k;
  }

  /** The window, in milliseconds, as configured. */
  get windowMs(): number {
    return this.#windowMs;
  }

  /** The probability that `tryRequest()` now rejects: `max(0, (requests − K·accepts) / (requests + 1))`. */
  get rejectProbability(): number {
    this.#advance();
    return this.#probability();
  }

  /**
   * Asks to send one request. Returns true: send it, then call `record` with the outcome; or
   * false: it was rejected locally — do not send it. Either way it counts as a request.
   * Never waits. Rejects with the probability `rejectProbability` had before this call.
   */
  tryRequest(): boolean {
    const slot = this.#advance();
    const p = this.#probability();
    const rejected = p > 0 && this.#random() < p;
    this.#slotRequests[slot]!++;
    this.#requests++;
    this.#totalRequests++;
    if (rejected) this.#totalRejected++;
    return !rejected;
  }

  /**
   * Records the backend's answer to a request `tryRequest()` let through: `accepted` true when
   * the backend handled it, false when it refused it (overloaded, quota exceeded). Call once
   * per such request.
   */
  record(accepted: boolean): void {
    if (typeof accepted !== 'boolean') {
      throw new TypeError(`Expected \`accepted\` to be a boolean, got ${describe(accepted)}`);
    }
    const slot = this.#advance();
    if (accepted) {
      this.#slotAccepts[slot]!++;
      this.#accepts++;
      this.#totalAccepted++;
    } else {
      this.#totalNotAccepted++;
    }
  }

  /**
   * Runs `fn` if `tryRequest()` lets it through, and records whether the backend accepted it.
   *
   * Resolves with what `fn` returned; rejects with what it threw — in both cases after
   * recording the outcome (by `isAccepted`, default: fulfilled means accepted). If the request
   * is rejected locally, `fn` is not called and the promise rejects with a
   * {@link ThrottledError} (code `ERR_SLUICE_THROTTLED`). No waiting happens here beyond `fn`
   * itself, so there is nothing to cancel: pass your signal to `fn`. If `isAccepted` throws,
   * the request counts as not accepted and the promise rejects with that error.
   */
  run<T>(fn: () => T | PromiseLike<T>, options: RunOptions<T> = {}): Promise<T> {
    if (typeof fn !== 'function') {
      throw new TypeError(`Expected \`fn\` to be a function, got ${describe(fn)}`);
    }
    checkOptions('options', options);
    type Outcome = PromiseSettledResult<T>;
    const isAccepted = checkOptionalFunction<(outcome: Outcome) => boolean>(
      'isAccepted',
      options.isAccepted,
    );
    const p = this.rejectProbability;
    if (!this.tryRequest()) return Promise.reject(new ThrottledError(p));
    return this.#settle(fn, isAccepted ?? fulfilled);
  }

  /** A snapshot of the window and the counters. */
  stats(): ClientThrottleStats {
    this.#advance();
    return {
      requests: this.#requests,
      accepts: this.#accepts,
      rejectProbability: this.#probability(),
      totalRequests: this.#totalRequests,
      totalRejectedLocally: this.#totalRejected,
      totalAccepted: this.#totalAccepted,
      totalNotAccepted: this.#totalNotAccepted,
    };
  }

  /** Checks the invariants at the top of this file; throws an `InvariantError` if one fails. */
  assertInvariants(): void {
    let requests = 0;
    let accepts = 0;
    for (let i = 0; i < this.#buckets; i++) {
      const r = this.#slotRequests[i]!;
      const a = this.#slotAccepts[i]!;
      invariant(Number.isInteger(r) && r >= 0 && Number.isInteger(a) && a >= 0, 'bad slot count');
      requests += r;
      accepts += a;
    }
    invariant(requests === this.#requests, () => `requests ${this.#requests} != ${requests}`);
    invariant(accepts === this.#accepts, () => `accepts ${this.#accepts} != ${accepts}`);
    const p = this.#probability();
    invariant(p >= 0 && p < 1, () => `reject probability ${p} outside [0, 1)`);
  }

  // ---- internals ---------------------------------------------------------------------------

  /** `run` after admission: calls `fn`, records the outcome, passes it on. */
  async #settle<T>(
    fn: () => T | PromiseLike<T>,
    isAccepted: (outcome: PromiseSettledResult<T>) => boolean,
  ): Promise<T> {
    let outcome: PromiseSettledResult<T>;
    try {
      outcome = { status: 'fulfilled', value: await fn() };
    } catch (reason) {
      outcome = { status: 'rejected', reason };
    }
    let accepted = false;
    try {
      accepted = isAccepted(outcome) === true;
    } finally {
      this.record(accepted);
    }
    if (outcome.status === 'rejected') throw outcome.reason;
    return outcome.value;
  }

  #probability(): number {
    return Math.max(0, (this.#requests - this.#k * this.#accepts) / (this.#requests + 1));
  }

  /** Moves the window to now, clearing slots that fell out of it; returns now's slot. */
  #advance(): number {
    const index = Math.floor(this.#clock.now() / this.#bucketMs);
    if (index > this.#current) {
      const steps = Math.min(index - this.#current, this.#buckets);
      for (let i = 1; i <= steps; i++) {
        const slot = this.#slot(this.#current + i);
        this.#requests -= this.#slotRequests[slot]!;
        this.#accepts -= this.#slotAccepts[slot]!;
        this.#slotRequests[slot] = 0;
        this.#slotAccepts[slot] = 0;
      }
      this.#current = index;
    }
    return this.#slot(this.#current);
  }

  #slot(index: number): number {
    const b = this.#buckets;
    return ((index % b) + b) % b;
  }
}

/** `run`'s default: the backend accepted the request if the call fulfilled. */
function fulfilled(outcome: PromiseSettledResult<unknown>): boolean {
  return outcome.status === 'fulfilled';
}
