/**
 * RedisRateLimiter: one rate limit shared by every process that names it — GCRA in one Lua
 * script per decision, on Redis's clock.
 *
 * Each decision is one script run (src/redis/gcra.lua.ts) on the key `sluice:{<name>}:gcra`
 * (the hash tag keeps it on one slot of a Redis Cluster), reading the server's `TIME` in
 * integer microseconds: the clocks of the clients never enter a decision, so replicas whose
 * clocks disagree still share one limit. `take` reserves its slot in the same round trip and
 * then sleeps exactly until it on the injected clock: one script run, one timer, no polling.
 *
 * Invariants:
 * 1. Redis holds the whole state of the limit: the key's value is the TAT (µs, server time);
 *    an absent key is a full bucket, and the key expires when the bucket is full again.
 * 2. A grant from Redis is never early: the client sleeps the wait the script computed from
 *    the moment the reply arrives (after the decision), and re-arms a timer that fires before
 *    its due time, so it acts at or after its slot on the server's clock.
 * 3. A reservation is given back only while its TAT is still the key's TAT (no later grant was
 *    placed on top of it); otherwise it stays taken. So a give-back never lets the limit
 *    admit more than `burst + rate·t` in any window of length t; a lost give-back (Redis away)
 *    only admits less.
 * 4. Every `take` leaves nothing behind when it settles: its timer is cleared (or has fired) and
 *    its abort listener is removed, on every path.
 * 5. When Redis fails a call (an error, a dropped connection, or no answer within the
 *    connection's command deadline), the failure policy decides that call; every result says
 *    which (`source`), and `stats()` counts them.
 */
import { type Clock, checkClock, type TimerHandle } from '../clock.js';
import { TimeoutError } from '../errors.js';
import { checkSignal, listenForAbort } from '../internal/abort.js';
import { describe } from '../internal/describe.js';
import { invariant } from '../internal/invariant.js';
import { checkCount, checkDuration, checkOneOf, checkOptions } from '../internal/validate.js';
import { TokenBucket } from '../limit/token-bucket.js';
import type { TakeOptions } from '../limit/types.js';
import { RedisConnection, Script } from './connection.js';
import { RedisUnavailableError } from './errors.js';
import { GIVE_BACK_LUA, TAKE_LUA } from './gcra.lua.js';

/**
 * What a limiter does with a call when Redis fails it (an error, a dropped connection, or no
 * answer within the connection's command deadline):
 * - `'closed'`: refuse (`tryTake` returns `ok: false`; `take` rejects with a
 *   {@link RedisUnavailableError});
 * - `'open'`: allow at once, unlimited while Redis is away;
 * - `'local'`: an in-process {@link TokenBucket} of this process's share decides (`rate ÷
 *   replicas`, `burst ÷ replicas` rounded up, at least 1), so all replicas together stay near
 *   the limit.
 */
export type FailurePolicy = 'open' | 'closed' | 'local';

/** Who made a decision: Redis, or the failure policy while Redis was failing. */
export type DecisionSource = 'redis' | FailurePolicy;

interface RedisRateLimiterCommonOptions {
  /** The shared connection (from `RedisConnection.connect`); its deadline bounds every call. */
  readonly connection: RedisConnection;
  /**
   * The limit's name: every limiter with this name on this Redis shares one limit. A non-empty
   * string without `{` or `}` (it becomes the key's hash tag: `sluice:{<name>}:gcra`).
   */
  readonly name: string;
  /**
   * Tokens per second: a finite number above 0, at most 1,000,000. The time per token is kept
   * in whole microseconds, so the rate applied is `10⁶ / round(10⁶ / rate)` (exact for rates
   * that divide a million: 1, 3 gives 3.000003).
   */
  readonly rate: number;
  /** The bucket's size, the most granted at once after an idle spell: an integer from 1 up. */
  readonly burst: number;
  /** Where `take` sleeps (and the `'local'` bucket reads time). Default: the system clock. */
  readonly clock?: Clock | undefined;
}

/** Options for {@link RedisRateLimiter}; `replicas` goes with, and only with, `'local'`. */
export type RedisRateLimiterOptions = RedisRateLimiterCommonOptions &
  (
    | {
        /** See {@link FailurePolicy}. Default `'closed'`. */
        readonly failure?: 'open' | 'closed' | undefined;
        readonly replicas?: undefined;
      }
    | {
        readonly failure: 'local';
        /** How many processes share the limit: an integer from 1 up. */
        readonly replicas: number;
      }
  );

/**
 * The outcome of {@link RedisRateLimiter.tryTake}: a `TakeResult` that also says who decided.
 * A refusal under `'closed'` cannot know when Redis will be back: its `retryAfterMs` is the
 * connection's command deadline, a pace for retries, not a promise.
 */
export type RedisTakeResult =
  | { readonly ok: true; readonly source: 'redis' | 'open' | 'local' }
  | {
      readonly ok: false;
      /** How long until the same request could succeed if nothing else happened in between. */
      readonly retryAfterMs: number;
      readonly source: 'redis' | 'closed' | 'local';
    };

/** Counters of one limiter (this process's calls only; the limit's state is in Redis). */
export interface RedisRateLimiterStats {
  /** Calls granted (`tryTake` ok, `take` resolved), by who decided. */
  readonly granted: Readonly<Record<DecisionSource, number>>;
  /**
   * Calls refused (`tryTake` not ok; `take` rejected for its `timeoutMs` or by `'closed'`), by
   * who decided.
   */
  readonly refused: Readonly<Record<DecisionSource, number>>;
  /** `take` calls whose signal aborted after they were made. */
  readonly cancelled: number;
  /** Of those, the reservations given back in Redis (see invariant 3). */
  readonly givenBack: number;
  /** Calls Redis failed, so that the failure policy decided them. */
  readonly failures: number;
  /** The last error Redis (or its deadline) gave, or `undefined`. */
  readonly lastFailure: unknown;
  /** `take` calls sleeping until their slot now. */
  readonly waiting: number;
}

/** The decoded reply of the take script (see src/redis/gcra.lua.ts). */
interface Decision {
  readonly granted: boolean;
  readonly waitUs: number;
  readonly tat: number;
  readonly nowUs: number;
}

const TAKE = new Script(TAKE_LUA);
const GIVE_BACK = new Script(GIVE_BACK_LUA);
/** The largest `burst·T`, in µs (about 31.7 years): keeps every TAT below 2⁵³. */
const MAX_TAU_US = 1e15;
/** A timer that fires this close to its due time counts as on time (1 ns, float noise). */
const EPSILON_MS = 1e-6;
const NO_LIMIT = -1;

const GRANTED_BY = Object.freeze({
  redis: Object.freeze({ ok: true, source: 'redis' }),
  open: Object.freeze({ ok: true, source: 'open' }),
  local: Object.freeze({ ok: true, source: 'local' }),
} as const);

/**
 * A rate limit shared across processes: at most `burst` at once and `rate` per second on
 * average, for every limiter of the same `name` on one Redis, whatever their clocks say.
 *
 * Most callers should `await limiter.take()` before each action: it costs one round trip, and
 * then a sleep exactly as long as the limit requires. Use `tryTake` to drop or defer work
 * instead of waiting.
 *
 * Guarantee (while Redis is up): in any window of length W of the server's clock, the tokens
 * granted by all limiters of one name together are at most `burst + rate·W`; a `take` caller
 * acts at or after its slot. While Redis fails, the {@link FailurePolicy} decides.
 *
 * Failure policy default, `'closed'`: a rate limit usually protects someone else (a partner's
 * API, a database), and it would break exactly that promise by going unlimited, on every
 * replica at once, the moment Redis goes away; a refusal is visible (a `source: 'closed'`
 * result, a {@link RedisUnavailableError} with the cause) and costs only this service. Choose
 * `'local'` with `replicas` to keep working at about the same total rate without Redis, or
 * `'open'` when the limit is only a courtesy.
 *
 * Unlike the in-process limiters, `tryTake` returns a promise (Redis decides), and there is no
 * `peek` or `reserve`. Several limiters with the same name but other `rate` or `burst` share
 * the key, each applying its own settings to it.
 *
 * @example
 * ```ts
 * const connection = await RedisConnection.connect({ redis: 'redis://127.0.0.1:6379' });
 * const limiter = new RedisRateLimiter({ connection, name: 'partner-api', rate: 50, burst: 10 });
 * for (const request of requests) {
 *   await limiter.take(); // 50 per second across every replica
 *   await send(request);
 * }
 * ```
 */
export class RedisRateLimiter {
  /** The limit's name, as configured. */
  readonly name: string;
  /** The Redis key holding the limit's state: `sluice:{<name>}:gcra`. */
  readonly key: string;
  /** Tokens per second, as configured. */
  readonly rate: number;
  /** The bucket's size, as configured. */
  readonly burst: number;
  /** What decides while Redis fails. */
  readonly failure: FailurePolicy;
  readonly #connection: RedisConnection;
  readonly #clock: Clock;
  /** Microseconds per token (whole). */
  readonly #intervalUs: number;
  /** `burst · T`, in µs: how far the TAT may run ahead of now for a grant at once. */
  readonly #tauUs: number;
  /** The in-process bucket for `'local'`. */
  readonly #local: TokenBucket | undefined;
  readonly #granted: Record<DecisionSource, number> = { redis: 0, open: 0, closed: 0, local: 0 };
  readonly #refused: Record<DecisionSource, number> = { redis: 0, open: 0, closed: 0, local: 0 };
  #cancelled = 0;
  #givenBack = 0;
  #failures = 0;
  #lastFailure: unknown;
  #waiting = 0;

  /**
   * Checks the options (nothing is sent to Redis). Throws a TypeError for a missing options
   * object, connection, clock or name, or a `replicas` without `'local'`; a RangeError naming
   * the value for a bad `rate`, `burst`, `failure` or `replicas`.
   */
  constructor(options: RedisRateLimiterOptions) {
    if (options === undefined) {
      throw new TypeError('Expected an options object with connection, name, rate and burst');
    }
    checkOptions('options', options);
    const { connection, name, rate, burst } = options;
    if (!(connection instanceof RedisConnection)) {
      throw new TypeError(
        `Expected \`connection\` to be a RedisConnection (from RedisConnection.connect), got ${describe(connection)}`,
      );
    }
    if (!(typeof name === 'string' && name.length > 0 && !/[{}]/.test(name))) {
      throw new TypeError(
        `Expected \`name\` to be a non-empty string without \`{\` or \`}\`, got ${describe(name)}`,
      );
    }
    if (!(typeof rate === 'number' && rate > 0 && rate <= 1e6)) {
      throw new RangeError(
        `Expected \`rate\` to be a finite number of tokens per second above 0 and at most 1000000, got ${describe(rate)}`,
      );
    }
    checkCount('burst', burst, 1);
    const intervalUs = Math.round(1e6 / rate);
    if (burst * intervalUs > MAX_TAU_US) {
      throw new RangeError(
        `Expected \`burst\` ÷ \`rate\` to be at most 10⁹ seconds (a bucket that refills within about 31 years), got burst ${burst} at rate ${rate}`,
      );
    }
    const failure = checkOneOf('failure', options.failure ?? 'closed', [
      'open',
      'closed',
      'local',
    ] as const);
    const clock = checkClock(options.clock);
    const { replicas } = options;
    if (failure === 'local') {
      checkCount('replicas', replicas, 1);
      this.#local = new TokenBucket({
        rate: rate / (replicas as number),
        burst: Math.max(1, Math.ceil(burst / (replicas as number))),
        clock,
      });
    } else if (replicas !== undefined) {
      throw new TypeError(
        `\`replicas\` applies only to failure 'local', got replicas ${describe(replicas)} with failure '${failure}'`,
      );
    }
    this.name = name;
    this.key = `sluice:{${name}}:gcra`;
    this.rate = rate;
    this.burst = burst;
    this.failure = failure;
    this.#connection = connection;
    this.#clock = clock;
    this.#intervalUs = intervalUs;
    this.#tauUs = burst * intervalUs;
  }

  /**
   * Takes `n` tokens now if the limit allows it, in one round trip; never waits for tokens.
   * Resolves to `{ ok: true, source }`, or `{ ok: false, retryAfterMs, source }` where
   * `retryAfterMs` is how long until the same request could succeed if nothing else were taken
   * meanwhile (measured on Redis's clock). A refused call takes nothing.
   *
   * Settles within the connection's command deadline: if Redis fails or is slower, the failure
   * policy decides and `source` says so — `'open'` grants, `'closed'` refuses (`retryAfterMs`:
   * the command deadline), `'local'` asks the local bucket (`retryAfterMs: Infinity` when `n` is
   * more than its burst). A call cut off after Redis ran its script has taken its tokens there
   * all the same: the limit then admits less, never more.
   *
   * Ordering: a `tryTake` may go ahead of `take` callers that are sleeping until a later slot
   * only if the bucket has room beyond their reservations, which it never has while they wait
   * (their reservations already hold the tokens): it never jumps the queue.
   *
   * Errors: a RangeError (thrown, not a rejection) for an `n` that is not an integer from 1 to
   * `burst`. Never rejects for Redis's failures (the policy answers instead).
   *
   * @example
   * ```ts
   * const result = await limiter.tryTake();
   * if (!result.ok) return reply429(result.retryAfterMs);
   * ```
   */
  tryTake(n = 1): Promise<RedisTakeResult> {
    this.#checkN(n);
    return this.#tryTake(n);
  }

  /**
   * Waits until `n` tokens are this caller's, then resolves.
   *
   * One round trip reserves the earliest slot the limit allows — moving the limit's state on
   * even when the slot is later, so callers in every process are served in the order Redis
   * received them — and the call then sleeps exactly until that slot on its clock: one timer,
   * no polling. The wait is measured from the reply's arrival, so the caller never acts before
   * its slot on Redis's clock.
   *
   * Cancellation: if `signal` aborts while the call sleeps, the timer is cleared, the
   * reservation is given back when no later reservation was placed on top of it (otherwise it
   * stays taken: the limit then admits less, never more), and then the promise rejects with
   * `signal.reason` untouched. An abort while the script is in flight takes effect when its
   * reply arrives (within the command deadline). An already-aborted signal rejects at once and
   * takes nothing.
   *
   * Ordering: first come, first served across processes, in the order Redis runs the scripts.
   *
   * Failures: when Redis fails or misses the deadline, the failure policy decides (`'open'`
   * resolves at once). A reservation whose reply was lost stays taken in Redis, so the limit
   * admits less, never more; a give-back that fails (Redis away) likewise.
   *
   * Errors: a `TimeoutError` if the wait would be longer than `timeoutMs`, decided by the
   * script, which then reserves nothing (its message says how long the wait would have been);
   * under failure `'closed'`, a {@link RedisUnavailableError} carrying Redis's error as `cause`
   * (within the command deadline); under `'local'`, what the local bucket's `take` gives (with
   * the same `timeoutMs`), or a {@link RedisUnavailableError} if `n` is more than its burst; a
   * RangeError or TypeError (thrown) for a bad `n` or options.
   *
   * @example
   * ```ts
   * await limiter.take(1, { signal: request.signal, timeoutMs: 2_000 });
   * ```
   */
  take(n = 1, options?: TakeOptions): Promise<void> {
    this.#checkN(n);
    checkOptions('options', options);
    const signal = checkSignal(options?.signal);
    const timeoutMs =
      options?.timeoutMs === undefined ? undefined : checkDuration('timeoutMs', options.timeoutMs);
    if (signal?.aborted === true) return Promise.reject(signal.reason);
    return this.#take(n, signal, timeoutMs);
  }

  /** A snapshot of this limiter's counters. */
  stats(): RedisRateLimiterStats {
    return {
      granted: { ...this.#granted },
      refused: { ...this.#refused },
      cancelled: this.#cancelled,
      givenBack: this.#givenBack,
      failures: this.#failures,
      lastFailure: this.#lastFailure,
      waiting: this.#waiting,
    };
  }

  #checkN(n: number): void {
    if (!(Number.isInteger(n) && n >= 1)) {
      throw new RangeError(`Expected \`n\` to be an integer from 1 up, got ${describe(n)}`);
    }
    if (n > this.burst) {
      throw new RangeError(
        `Cannot take ${n} tokens from a limit of burst ${this.burst}: it could never hold that many`,
      );
    }
  }

  /** One run of the take script; rejects with whatever Redis or the client gave. */
  #decide(n: number, maxWaitUs: number): Promise<unknown> {
    return this.#connection.run(TAKE, [this.key], [n * this.#intervalUs, this.#tauUs, maxWaitUs]);
  }

  /** One run of the take script for `tryTake`: a grant replies with just `now`. */
  #decideNow(n: number): Promise<unknown> {
    return this.#connection.run(TAKE, [this.key], [n * this.#intervalUs, this.#tauUs, 0, 1]);
  }

  #failed(error: unknown): void {
    this.#failures++;
    this.#lastFailure = error;
  }

  async #tryTake(n: number): Promise<RedisTakeResult> {
    let reply: unknown;
    try {
      reply = await this.#decideNow(n);
    } catch (error) {
      this.#failed(error);
      return this.#tryOnFailure(n);
    }
    // Outside the try: a bad reply is a bug, not an outage. A grant replies with just `now`.
    if (typeof reply === 'number') {
      invariant(Number.isSafeInteger(reply), () => `the take script replied ${reply}`);
      this.#granted.redis++;
      return GRANTED_BY.redis;
    }
    const decision = decode(reply);
    if (decision.granted) {
      this.#granted.redis++;
      return GRANTED_BY.redis;
    }
    this.#refused.redis++;
    return { ok: false, retryAfterMs: decision.waitUs / 1000, source: 'redis' };
  }

  #tryOnFailure(n: number): RedisTakeResult {
    switch (this.failure) {
      case 'open':
        this.#granted.open++;
        return GRANTED_BY.open;
      case 'closed':
        this.#refused.closed++;
        return {
          ok: false,
          retryAfterMs: this.#connection.commandTimeoutMs,
          source: 'closed',
        };
      case 'local': {
        const local = this.#local!;
        if (n > local.burst) {
          this.#refused.local++;
          return { ok: false, retryAfterMs: Number.POSITIVE_INFINITY, source: 'local' };
        }
        const result = local.tryTake(n);
        if (result.ok) {
          this.#granted.local++;
          return GRANTED_BY.local;
        }
        this.#refused.local++;
        return { ok: false, retryAfterMs: result.retryAfterMs, source: 'local' };
      }
    }
  }

  async #take(
    n: number,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
  ): Promise<void> {
    const maxWaitUs =
      timeoutMs === undefined || timeoutMs === Number.POSITIVE_INFINITY
        ? NO_LIMIT
        : Math.floor(timeoutMs * 1000);
    let reply: unknown;
    try {
      reply = await this.#decide(n, maxWaitUs);
    } catch (error) {
      this.#failed(error);
      return this.#takeOnFailure(n, signal, timeoutMs, error);
    }
    const decision = decode(reply);
    if (!decision.granted) {
      this.#refused.redis++;
      throw TimeoutError.wouldExceed(decision.waitUs / 1000, timeoutMs as number);
    }
    try {
      if (signal?.aborted === true) throw signal.reason; // aborted while the script ran
      if (decision.waitUs > 0) await this.#sleep(decision.waitUs / 1000, signal);
    } catch (reason) {
      this.#cancelled++;
      await this.#giveBack(n, decision.tat);
      throw reason;
    }
    this.#granted.redis++;
  }

  /**
   * Sleeps `ms` on the clock, or until `signal` aborts (then rejects with its reason). One timer
   * at a time; a timer that fires before its due time (the system clock's timers can, by up to
   * a millisecond) is armed again for the rest.
   */
  #sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const clock = this.#clock;
      const due = clock.now() + ms;
      let unlisten: (() => void) | undefined;
      const fire = (): void => {
        const left = due - clock.now();
        if (left > EPSILON_MS) {
          handle = clock.setTimer(fire, left);
          return;
        }
        unlisten?.();
        this.#waiting--;
        resolve();
      };
      let handle: TimerHandle = clock.setTimer(fire, ms);
      this.#waiting++;
      if (signal !== undefined) {
        unlisten = listenForAbort(signal, (reason) => {
          clock.clearTimer(handle);
          this.#waiting--;
          reject(reason);
        });
      }
    });
  }

  /** Gives a reservation back if no later one depends on it (invariant 3); never rejects. */
  async #giveBack(n: number, tat: number): Promise<void> {
    try {
      const reply = await this.#connection.run(GIVE_BACK, [this.key], [tat, n * this.#intervalUs]);
      if (reply === 1) this.#givenBack++;
    } catch {
      // Redis is away: the reservation stays taken, so the limit admits less, never more.
    }
  }

  async #takeOnFailure(
    n: number,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    error: unknown,
  ): Promise<void> {
    switch (this.failure) {
      case 'open':
        this.#granted.open++;
        return;
      case 'closed':
        this.#refused.closed++;
        throw new RedisUnavailableError(`rate limiter '${this.name}': take(${n})`, error);
      case 'local': {
        const local = this.#local!;
        if (n > local.burst) {
          this.#refused.local++;
          throw new RedisUnavailableError(
            `rate limiter '${this.name}': take(${n}), more than the local bucket's burst ${local.burst}`,
            error,
          );
        }
        try {
          await local.take(n, { signal, timeoutMs });
        } catch (reason) {
          if (signal?.aborted === true && reason === signal.reason) this.#cancelled++;
          else this.#refused.local++;
          throw reason;
        }
        this.#granted.local++;
        return;
      }
    }
  }
}

/** Reads the take script's reply; an InvariantError (a bug) if it is not what the script returns. */
function decode(reply: unknown): Decision {
  invariant(
    Array.isArray(reply) && reply.length === 4 && reply.every((x) => typeof x === 'number'),
    () => `the take script replied ${JSON.stringify(reply)}`,
  );
  const [granted, waitUs, tat, nowUs] = reply as [number, number, number, number];
  return { granted: granted === 1, waitUs, tat, nowUs };
}
