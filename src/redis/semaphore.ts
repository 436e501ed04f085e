/**
 * RedisSemaphore: at most `capacity` holders at once across every process that uses the same
 * `name` on one Redis — a distributed concurrency limit made of leases.
 *
 * A slot is a lease in `sluice:{<name>}:holders` that ends on Redis's clock (`TIME`, never a
 * client's): released, or expired once its process stops renewing it (crashed, paused, cut
 * off), so a dead holder keeps its slot at most one lease. Each grant carries a fencing token
 * (a counter that only grows) that storage can use to refuse writes from an older holder. The
 * scripts, keys and their rules are in `semaphore-scripts.ts`.
 *
 * Fairness: strictly first come, first served across processes. A waiter takes a ticket in
 * `sluice:{<name>}:queue` (its arrival number from the shared counter); a freed slot goes to
 * the first live ticket, and a newcomer (`tryAcquire`, or `acquire` before it waits) gets a
 * slot only when one is free beyond every waiting ticket. A crashed waiter cannot block the
 * queue: each RedisSemaphore object is an "owner" whose liveness it renews while it has
 * waiters, and tickets of an owner that stopped renewing are dropped by the next script.
 *
 * Waiting, without polling: each object runs at most one loop, and only while it has waiters.
 * The loop blocks in BLPOP on its own wake list, `sluice:{<name>}:wake:<owner>`, on a blocking
 * client of its own (a second connection, opened for the loop and closed when it ends). Every
 * script that frees a slot (a release, an expired lease, a dead or departed waiter) pushes one
 * hint onto the wake list of each owner whose ticket is now among the first `free`; the woken
 * loop runs one script, which grants that owner's eligible tickets, and the object hands the
 * permits to its waiters by ticket — so the local waiters are served in their global order.
 * The BLPOP timeout is at most the time until the earliest lease ends (a crashed holder is
 * reclaimed on the server's clock) and a third of the owner's liveness (to renew it).
 *
 * Time to recover: a crashed holder's slot is free `leaseMs` after its last renewal (plus up
 * to ~0.1 s: Redis checks blocking timeouts at its `hz`); a crashed waiter's place is dropped
 * `max(leaseMs, 3 s)` after its last renewal, by the next script any process runs. A process
 * that stalls longer than that (a long GC pause) finds its tickets dropped and joins again, at
 * the back. On Redis Cluster every key shares the `{<name>}` hash tag; the wake list of the
 * owner to wake is named inside the script (not in KEYS), in that same slot.
 *
 * Invariants (in Redis, after every script, while every object of a name has the same
 * capacity):
 * 1. Live leases ≤ capacity; a lease or ticket id is never reused, so a stale release or
 *    extend can never touch a newer holder's lease.
 * 2. A ticket is granted only among the first `capacity − leases` live tickets, oldest first;
 *    a newcomer only when a slot is free beyond all of them.
 * 3. Expired leases and tickets of dead owners count for nothing: every script drops them
 *    before deciding.
 * Invariants (in this object):
 * 4. A waiter is in `#waiters` until it settles, and settles once; its timer and abort listener
 *    are removed when it leaves the map, on every path.
 * 5. At most one loop runs; while there are waiters it runs or is about to (a queued waiter
 *    starts it). The blocking client exists only while the loop runs.
 * 6. The heartbeat timer is armed exactly while some heartbeat permit is held (and no renewal
 *    is under way). Nothing is armed or open when no one waits and nothing is held.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { type Clock, checkClock, type TimerHandle } from '../clock.js';
import { TimeoutError } from '../errors.js';
import { checkSignal, listenForAbort } from '../internal/abort.js';
import { describe } from '../internal/describe.js';
import { checkCount, checkDuration, checkOptions } from '../internal/validate.js';
import { RedisConnection, type Script } from './connection.js';
import { LeaseLostError, RedisUnavailableError } from './errors.js';
import { ACQUIRE, DROP, EXTEND, STATS } from './semaphore-scripts.js';

/** Options for {@link RedisSemaphore}. */
export interface RedisSemaphoreOptions {
  /** The shared connection (from `RedisConnection.connect`); its deadline bounds every call. */
  readonly connection: RedisConnection;
  /**
   * The semaphore's name: every RedisSemaphore with this name on this Redis shares its slots. A
   * non-empty string without `{` or `}` (it becomes the keys' hash tag: `sluice:{<name>}:…`).
   */
  readonly name: string;
  /**
   * Holders at once: an integer from 1 up. Every object of one name must use the same capacity
   * (each one enforces its own).
   */
  readonly capacity: number;
  /**
   * How long a lease lasts without renewal, in milliseconds: a finite number above 0. A holder
   * that dies keeps its slot this long at most. Default 30 000.
   */
  readonly leaseMs?: number | undefined;
  /**
   * Renew every held lease each `leaseMs / 3` (one script for all the permits of this object)
   * until it is released. Default true. With false, a lease ends `leaseMs` after it was granted
   * or last extended: call `permit.extend()` to keep it.
   */
  readonly heartbeat?: boolean | undefined;
  /** Where timeouts, renewals and read deadlines arm their timers. Default: the system clock. */
  readonly clock?: Clock | undefined;
}

/** Options for {@link RedisSemaphore.acquire}. */
export interface RedisSemaphoreAcquireOptions {
  /** Abort the wait: rejects with `signal.reason`; nothing is held. */
  readonly signal?: AbortSignal | undefined;
  /** Give up after this many milliseconds with a `TimeoutError`. Default: never. */
  readonly timeoutMs?: number | undefined;
}

/** A snapshot read from Redis. */
export interface RedisSemaphoreStats {
  /** This object's capacity. */
  readonly capacity: number;
  /** Live leases, across all processes. */
  readonly holders: number;
  /** Waiting callers (live tickets), across all processes. */
  readonly waiting: number;
}

/** A slot of a {@link RedisSemaphore}: a lease in Redis. Release it when the work is done. */
export interface RedisPermit extends AsyncDisposable {
  /**
   * The fencing token: a number larger than that of every earlier grant of this semaphore's
   * name. Pass it to storage that can refuse a write carrying a smaller token than one it saw.
   */
  readonly token: number;
  /** True once `release()` was called. */
  readonly released: boolean;
  /**
   * Aborted (with a `LeaseLostError`) when the lease is found gone while held — it expired
   * and may belong to another process now — or when renewals failed until its end had passed.
   * Stop the protected work then. Never aborted after `release()`.
   */
  readonly lost: AbortSignal;
  /**
   * Gives the slot back and stops renewing. Resolves true if the lease was still live, false if
   * it had already ended (expired, taken over) or this permit was released before. Rejects with
   * a `RedisUnavailableError` when Redis fails; the lease then ends on its own after `leaseMs`.
   */
  release(): Promise<boolean>;
  /**
   * Makes the lease end no sooner than `ms` from now (server time; it never shortens it).
   * Default: `leaseMs`. Resolves false (and aborts `lost`) if the lease had already ended, or
   * false if released. Rejects with a `RedisUnavailableError` when Redis fails, and a RangeError
   * for an `ms` that is not a finite number above 0.
   */
  extend(ms?: number): Promise<boolean>;
}

/** A parsed script reply. */
interface Reply {
  readonly status: unknown;
  readonly wakeInUs: number;
  readonly grants: readonly unknown[];
  readonly wasAlive: boolean;
  /** When the call was sent, on the object's clock. */
  readonly sentAt: number;
  /** The token granted to the id the caller claimed, if any. */
  claimed: number | undefined;
}

/** What a permit asks of its semaphore. */
interface PermitHost {
  release(permit: LeasePermit): Promise<boolean>;
  extend(permit: LeasePermit, ms: number): Promise<boolean>;
}

class LeasePermit implements RedisPermit {
  readonly #host: PermitHost;
  readonly #controller = new AbortController();
  #released = false;
  /** The lease surely runs until then (local clock): send time of its last renewal + length. */
  endsBy: number;

  constructor(
    host: PermitHost,
    readonly id: string,
    readonly token: number,
    endsBy: number,
    readonly defaultMs: number,
  ) {
    this.#host = host;
    this.endsBy = endsBy;
  }

  get released(): boolean {
    return this.#released;
  }

  get lost(): AbortSignal {
    return this.#controller.signal;
  }

  /** Aborts `lost`, once, unless released. Returns false if it did nothing. */
  markLost(error: LeaseLostError): boolean {
    if (this.#released || this.#controller.signal.aborted) return false;
    this.#controller.abort(error);
    return true;
  }

  release(): Promise<boolean> {
    if (this.#released) return Promise.resolve(false);
    this.#released = true;
    return this.#host.release(this);
  }

  extend(ms: number = this.defaultMs): Promise<boolean> {
    if (!(typeof ms === 'number' && ms > 0 && Number.isFinite(ms))) {
      throw new RangeError(
        `Expected \`ms\` to be a finite number of milliseconds above 0, got ${describe(ms)}`,
      );
    }
    if (this.#released) return Promise.resolve(false);
    return this.#host.extend(this, ms);
  }

  /** Releases; a Redis failure is not thrown (the lease then lapses after `leaseMs`). */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.release();
    } catch (error) {
      if (!(error instanceof RedisUnavailableError)) throw error;
    }
  }
}

class Waiter {
  /** Its ticket is in Redis (the join answered). */
  queued = false;
  /** The number of the call that last placed its ticket. */
  joinedCall = 0;
  timer: TimerHandle | undefined = undefined;
  unlisten: (() => void) | undefined = undefined;

  constructor(
    readonly id: string,
    readonly resolve: (permit: RedisPermit) => void,
    readonly reject: (error: unknown) => void,
  ) {}
}

/** The floor of an owner's liveness: its loop renews it every third, and BLPOP wakes in ~0.1 s. */
const MIN_OWNER_TTL_MS = 3000;
/** Extra time a BLPOP gets past its timeout and the command deadline before it is given up. */
const BLOCK_SLACK_MS = 250;

/** One 'end' listener per command client, shared by every semaphore on it. */
const endHooks = new WeakMap<Redis, Set<() => void>>();

function onClientEnd(client: Redis, hook: () => void): void {
  let hooks = endHooks.get(client);
  if (hooks === undefined) {
    const set = new Set<() => void>();
    hooks = set;
    endHooks.set(client, set);
    client.once('end', () => {
      endHooks.delete(client);
      for (const h of [...set]) h();
    });
  }
  hooks.add(hook);
}

function offClientEnd(client: Redis, hook: () => void): void {
  endHooks.get(client)?.delete(hook);
}

function parseReply(raw: unknown, sentAt: number): Reply {
  const [status, wakeInUs, grants, wasAlive] = raw as [unknown, number, unknown[], number];
  return { status, wakeInUs, grants, wasAlive: wasAlive === 1, sentAt, claimed: undefined };
}

/**
 * A semaphore shared by processes through Redis: at most `capacity` permits held at once
 * across all of them, handed out first come, first served, each a lease that a crashed holder
 * cannot keep.
 *
 * Most callers should use `acquire` with `await using`, so the slot is given back at the end
 * of the block. Keep the heartbeat on (the default) unless the work is shorter than `leaseMs`,
 * and watch `permit.lost` in long work.
 *
 * @example
 * ```ts
 * const connection = await RedisConnection.connect({ redis: 'redis://127.0.0.1:6379' });
 * const exportSlots = new RedisSemaphore({ connection, name: 'report-exports', capacity: 4 });
 * {
 *   await using permit = await exportSlots.acquire({ timeoutMs: 60_000 });
 *   await runExport({ fencingToken: permit.token, signal: permit.lost });
 * }
 * ```
 */
export class RedisSemaphore {
  /** The name, as configured. */
  readonly name: string;
  /** Holders at once. */
  readonly capacity: number;
  /** How long a lease lasts without renewal, in milliseconds. */
  readonly leaseMs: number;
  /** Whether held leases are renewed automatically. */
  readonly heartbeat: boolean;
  readonly #connection: RedisConnection;
  readonly #clock: Clock;
  readonly #keys: readonly string[];
  /** This object's id in Redis: tickets and leases are `<owner>:<n>`. */
  readonly #owner: string = randomBytes(8).toString('hex');
  readonly #wakePrefix: string;
  readonly #wakeKey: string;
  readonly #leaseUs: number;
  readonly #ownerTtlUs: number;
  readonly #refreshMs: number;
  readonly #waiters = new Map<string, Waiter>();
  /** Held permits that the heartbeat renews. */
  readonly #held = new Set<LeasePermit>();
  #nextId = 0;
  /** Calls sent so far (the number of the last one). */
  #sent = 0;
  #heartbeatTimer: TimerHandle | undefined;
  #beating = false;
  #looping = false;
  #blocking: Promise<Redis> | undefined;
  #blockingClient: Redis | undefined;
  #hooked = false;
  /** When the earliest lease ends, as last reported (local clock). */
  #earliestLeaseAt = Number.POSITIVE_INFINITY;

  /**
   * Checks the options (nothing is sent to Redis). Throws a TypeError for a missing options
   * object, connection, clock or name; a RangeError naming the value for a bad capacity or
   * leaseMs.
   */
  constructor(options: RedisSemaphoreOptions) {
    if (options === undefined) {
      throw new TypeError('Expected an options object with connection, name and capacity');
    }
    checkOptions('options', options);
    const { connection, name, capacity } = options;
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
    checkCount('capacity', capacity, 1);
    const leaseMs = options.leaseMs ?? 30_000;
    if (!(typeof leaseMs === 'number' && leaseMs > 0 && Number.isFinite(leaseMs))) {
      throw new RangeError(
        `Expected \`leaseMs\` to be a finite number of milliseconds above 0, got ${describe(leaseMs)}`,
      );
    }
    const heartbeat = options.heartbeat ?? true;
    if (typeof heartbeat !== 'boolean') {
      throw new TypeError(`Expected \`heartbeat\` to be a boolean, got ${describe(heartbeat)}`);
    }
    this.#clock = checkClock(options.clock);
    this.#connection = connection;
    this.name = name;
    this.capacity = capacity;
    this.leaseMs = leaseMs;
    this.heartbeat = heartbeat;
    const prefix = `sluice:{${name}}:`;
    this.#keys = [`${prefix}holders`, `${prefix}queue`, `${prefix}owners`, `${prefix}seq`];
    this.#wakePrefix = `${prefix}wake:`;
    this.#wakeKey = this.#wakePrefix + this.#owner;
    this.#leaseUs = Math.max(1, Math.round(leaseMs * 1000));
    const ownerTtlMs = Math.max(leaseMs, MIN_OWNER_TTL_MS);
    this.#ownerTtlUs = Math.round(ownerTtlMs * 1000);
    this.#refreshMs = ownerTtlMs / 3;
  }

  /** Callers of this object waiting now (Redis's count across processes is in `stats()`). */
  get waiting(): number {
    return this.#waiters.size;
  }

  /**
   * A permit now if a slot is free and no one waits for it (it never jumps the queue), or
   * `undefined`. One round trip; it never waits for a slot.
   *
   * Errors: rejects with a `RedisUnavailableError` (Redis's error as `cause`) within the
   * connection's deadline when Redis fails.
   */
  tryAcquire(): Promise<RedisPermit | undefined> {
    return this.#try('tryAcquire()');
  }

  /**
   * Waits for a slot and resolves with a permit holding it. Tries at once; otherwise takes a
   * ticket and waits — without polling — until a release, an expired lease or a departed
   * waiter makes its ticket one of the first in line.
   *
   * Cancellation: if `signal` aborts (or `timeoutMs` passes) first, the promise rejects with
   * `signal.reason` untouched (or a `TimeoutError`) and nothing is held: the ticket — or a slot
   * granted in the same instant — is given back with the next command this object sends, so
   * later calls on this connection see it free. An already-aborted signal rejects at once,
   * before anything is sent. `timeoutMs: 0` tries once and rejects with a `TimeoutError` if
   * the slot is not free.
   *
   * Ordering: first come, first served across all processes (by arrival at Redis); within this
   * object, in call order.
   *
   * Errors: a TypeError or RangeError for bad options (thrown); a `RedisUnavailableError`
   * (Redis's error as `cause`) within the connection's deadline when Redis fails, also for
   * callers already waiting when it goes away.
   *
   * @example
   * ```ts
   * const permit = await semaphore.acquire({ signal: AbortSignal.timeout(5000) });
   * try {
   *   await work(permit.token);
   * } finally {
   *   await permit.release();
   * }
   * ```
   */
  acquire(options?: RedisSemaphoreAcquireOptions): Promise<RedisPermit> {
    checkOptions('options', options);
    const signal = checkSignal(options?.signal);
    const timeoutMs =
      options?.timeoutMs === undefined ? Infinity : checkDuration('timeoutMs', options.timeoutMs);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (timeoutMs === 0) {
      return this.#try('acquire()').then((permit) => {
        if (permit === undefined) throw new TimeoutError(0);
        return permit;
      });
    }
    return new Promise<RedisPermit>((resolve, reject) => {
      const waiter = new Waiter(`${this.#owner}:${++this.#nextId}`, resolve, reject);
      this.#waiters.set(waiter.id, waiter);
      if (signal !== undefined) {
        waiter.unlisten = listenForAbort(signal, (reason) => {
          waiter.unlisten = undefined;
          this.#leave(waiter, reason);
        });
      }
      if (timeoutMs !== Infinity) {
        waiter.timer = this.#clock.setTimer(() => {
          waiter.timer = undefined;
          this.#leave(waiter, new TimeoutError(timeoutMs));
        }, timeoutMs);
      }
      this.#join(waiter);
    });
  }

  /** Live holders and waiters across all processes, read from Redis (one round trip). */
  async stats(): Promise<RedisSemaphoreStats> {
    const reply = await this.#call(STATS, [], 'stats()');
    const [holders, waiting] = reply.status as [number, number];
    return { capacity: this.capacity, holders, waiting };
  }

  // ---- calls ---------------------------------------------------------------------------------

  /**
   * Runs a script with the common arguments and applies what every reply carries: the earliest
   * lease end, grants for this object's waiters (an unknown one is given back), and a re-join
   * if this owner's tickets were dropped while it was not renewing. A grant for `claim` is
   * returned in `claimed` instead.
   */
  async #call(
    script: Script,
    args: readonly (string | number)[],
    what: string,
    claim?: string,
  ): Promise<Reply> {
    const sentAt = this.#clock.now();
    const callNo = ++this.#sent;
    const keepAlive = this.#waiters.size > 0;
    let raw: unknown;
    try {
      raw = await this.#connection.run(script, this.#keys, [
        this.capacity,
        this.#owner,
        keepAlive ? this.#ownerTtlUs : 0,
        this.#leaseUs,
        this.#wakePrefix,
        ...args,
      ]);
    } catch (error) {
      throw new RedisUnavailableError(`semaphore '${this.name}': ${what}`, error);
    }
    const reply = parseReply(raw, sentAt);
    this.#earliestLeaseAt =
      reply.wakeInUs < 0 ? Number.POSITIVE_INFINITY : sentAt + reply.wakeInUs / 1000;
    for (let i = 0; i + 1 < reply.grants.length; i += 2) {
      const id = String(reply.grants[i]);
      const token = Number(reply.grants[i + 1]);
      if (id === claim) reply.claimed = token;
      else this.#grant(id, token, sentAt);
    }
    if (keepAlive && !reply.wasAlive) {
      // This owner had lapsed (its process stalled longer than its liveness): the scripts may
      // have dropped its tickets. Place them again; one still there keeps its place.
      for (const waiter of this.#waiters.values()) {
        if (waiter.queued && waiter.joinedCall < callNo) this.#join(waiter);
      }
    }
    if (this.#waiters.size === 0) this.#closeBlocking();
    return reply;
  }

  async #try(what: string): Promise<RedisPermit | undefined> {
    const id = `${this.#owner}:${++this.#nextId}`;
    let reply: Reply;
    try {
      reply = await this.#call(ACQUIRE, ['try', id], what, id);
    } catch (error) {
      this.#dropQuietly([id]); // it may have been granted before the reply was lost
      throw error;
    }
    return reply.claimed === undefined ? undefined : this.#permit(id, reply.claimed, reply.sentAt);
  }

  /** Sends a waiter's join (or re-join): a permit at once, or a ticket and the loop. */
  #join(waiter: Waiter): void {
    const call = this.#call(ACQUIRE, ['join', waiter.id], 'acquire()');
    waiter.joinedCall = this.#sent;
    call.then(
      () => {
        if (this.#waiters.get(waiter.id) !== waiter) return; // granted, or gone
        waiter.queued = true;
        this.#startLoop();
      },
      (error: unknown) => {
        if (!this.#remove(waiter)) return;
        this.#dropQuietly([waiter.id]);
        waiter.reject(error);
        this.#afterLeave();
      },
    );
  }

  /** Hands a granted lease to its waiter, or gives it back if the waiter is gone. */
  #grant(id: string, token: number, sentAt: number): void {
    const waiter = this.#waiters.get(id);
    if (waiter === undefined || !this.#remove(waiter)) {
      this.#dropQuietly([id]);
      return;
    }
    waiter.resolve(this.#permit(id, token, sentAt));
  }

  #permit(id: string, token: number, sentAt: number): LeasePermit {
    const permit = new LeasePermit(this.#host, id, token, sentAt + this.leaseMs, this.leaseMs);
    if (this.heartbeat) {
      this.#held.add(permit);
      this.#armHeartbeat(this.leaseMs / 3);
      this.#syncHook();
    }
    return permit;
  }

  /** Gives leases and tickets back, ignoring failures (they lapse on their own). */
  #dropQuietly(ids: readonly string[]): void {
    this.#call(DROP, ids, 'release()').catch(() => {});
  }

  // ---- waiters -------------------------------------------------------------------------------

  /** Takes a waiter out of the map and clears its timer and listener; false if already out. */
  #remove(waiter: Waiter): boolean {
    if (this.#waiters.get(waiter.id) !== waiter) return false;
    this.#waiters.delete(waiter.id);
    if (waiter.unlisten !== undefined) waiter.unlisten();
    if (waiter.timer !== undefined) this.#clock.clearTimer(waiter.timer);
    waiter.unlisten = waiter.timer = undefined;
    return true;
  }

  /** Abort or timeout: the ticket (or a lease granted meanwhile) goes back before rejecting. */
  #leave(waiter: Waiter, error: unknown): void {
    if (!this.#remove(waiter)) return;
    this.#dropQuietly([waiter.id]);
    waiter.reject(error);
    this.#afterLeave();
  }

  #afterLeave(): void {
    if (this.#waiters.size === 0) this.#closeBlocking(); // ends the loop's BLPOP now
  }

  #failAll(error: unknown): void {
    const all = [...this.#waiters.values()];
    for (const waiter of all) this.#remove(waiter);
    if (all.length > 0) this.#dropQuietly(all.map((w) => w.id));
    this.#closeBlocking();
    for (const waiter of all) waiter.reject(error);
  }

  // ---- the wait loop -------------------------------------------------------------------------

  #startLoop(): void {
    if (this.#looping) return;
    this.#looping = true;
    void this.#loop();
  }

  /**
   * BLPOP on the wake list, then one `wait` script (which grants this object's eligible
   * tickets), while anyone waits. A failed BLPOP (the blocking connection dropped) is retried
   * once on a new connection; a second failure in a row, or a failed script, means Redis is
   * away: every waiter rejects.
   */
  async #loop(): Promise<void> {
    let failures = 0;
    try {
      while (this.#waiters.size > 0) {
        try {
          await this.#block();
          failures = 0;
        } catch (error) {
          this.#closeBlocking();
          if (this.#waiters.size === 0) break;
          if (++failures >= 2) {
            this.#failAll(new RedisUnavailableError(`semaphore '${this.name}': acquire()`, error));
            break;
          }
        }
        if (this.#waiters.size === 0) break;
        try {
          await this.#call(ACQUIRE, ['wait', ''], 'acquire()');
        } catch (error) {
          this.#failAll(error);
          break;
        }
      }
    } finally {
      this.#closeBlocking();
      this.#looping = false;
    }
  }

  /**
   * One BLPOP on the wake list. Returns when a hint was popped, the timeout passed, or this
   * object closed the blocking client itself (no one waits any more, or the connection
   * closed); throws when the blocking connection failed.
   */
  async #block(): Promise<void> {
    const opening = this.#openBlocking();
    let client: Redis | undefined;
    let guard: TimerHandle | undefined;
    try {
      client = await opening;
      if (this.#waiters.size === 0) return;
      const untilLease = this.#earliestLeaseAt - this.#clock.now() + 1;
      const blockMs = Math.ceil(Math.max(1, Math.min(this.#refreshMs, untilLease)));
      // A socket that stays silent (a stalled server, a half-open connection) is given up.
      const stuck = client;
      guard = this.#clock.setTimer(
        () => stuck.disconnect(),
        blockMs + this.#connection.commandTimeoutMs + BLOCK_SLACK_MS,
      );
      await client.blpop(this.#wakeKey, blockMs / 1000);
    } catch (error) {
      if (this.#blocking !== opening) return; // closed on purpose
      throw error;
    } finally {
      if (guard !== undefined) this.#clock.clearTimer(guard);
    }
  }

  #openBlocking(): Promise<Redis> {
    if (this.#blocking === undefined) {
      const client = this.#connection.client.duplicate({
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
        lazyConnect: true,
        commandTimeout: undefined,
        retryStrategy: () => null,
      });
      client.on('error', () => {});
      this.#blockingClient = client;
      this.#blocking = client.connect().then(() => client);
      this.#syncHook();
    }
    return this.#blocking;
  }

  #closeBlocking(): void {
    const client = this.#blockingClient;
    if (client === undefined) return;
    this.#blockingClient = this.#blocking = undefined;
    client.disconnect();
    this.#syncHook();
  }

  // ---- held permits --------------------------------------------------------------------------

  readonly #host: PermitHost = {
    release: async (permit) => {
      this.#held.delete(permit);
      this.#disarmIfIdle();
      const reply = await this.#call(DROP, [permit.id], `release() of permit ${permit.token}`);
      return reply.status === 1;
    },
    extend: async (permit, ms) => {
      const reply = await this.#call(
        EXTEND,
        [Math.max(1, Math.round(ms * 1000)), permit.id],
        `extend() of permit ${permit.token}`,
      );
      const live = (reply.status as number[])[0] === 1;
      if (live) permit.endsBy = Math.max(permit.endsBy, reply.sentAt + ms);
      else this.#lose(permit, undefined);
      return live;
    },
  };

  #armHeartbeat(delayMs: number): void {
    if (this.#heartbeatTimer !== undefined || this.#beating || this.#held.size === 0) return;
    this.#heartbeatTimer = this.#clock.setTimer(this.#beat, Math.max(1, delayMs));
  }

  #disarmIfIdle(): void {
    if (this.#held.size > 0) return;
    if (this.#heartbeatTimer !== undefined) this.#clock.clearTimer(this.#heartbeatTimer);
    this.#heartbeatTimer = undefined;
    this.#syncHook();
  }

  /** Renews every held lease in one script; a lease found gone, or past its end, is lost. */
  readonly #beat = (): void => {
    this.#heartbeatTimer = undefined;
    const permits = [...this.#held];
    if (permits.length === 0) return;
    this.#beating = true;
    let nextMs = this.leaseMs / 3;
    this.#call(EXTEND, [this.#leaseUs, ...permits.map((p) => p.id)], 'heartbeat')
      .then(
        (reply) => {
          const live = reply.status as number[];
          permits.forEach((permit, i) => {
            if (!this.#held.has(permit)) return; // released meanwhile
            if (live[i] === 1) {
              permit.endsBy = Math.max(permit.endsBy, reply.sentAt + this.leaseMs);
            } else this.#lose(permit, undefined);
          });
        },
        (error: unknown) => {
          const now = this.#clock.now();
          for (const permit of permits) {
            if (!this.#held.has(permit)) continue;
            if (now >= permit.endsBy) this.#lose(permit, error);
            else nextMs = Math.min(nextMs, permit.endsBy - now);
          }
        },
      )
      .then(() => {
        this.#beating = false;
        this.#armHeartbeat(nextMs);
      });
  };

  #lose(permit: LeasePermit, cause: unknown): void {
    this.#held.delete(permit);
    permit.markLost(new LeaseLostError(`semaphore '${this.name}': permit ${permit.token}`, cause));
    this.#disarmIfIdle();
  }

  // ---- the connection closing ----------------------------------------------------------------

  /** Watches the command client's end while this object has a loop or held permits. */
  #syncHook(): void {
    const want = this.#blockingClient !== undefined || this.#held.size > 0;
    if (want === this.#hooked) return;
    this.#hooked = want;
    if (want) onClientEnd(this.#connection.client, this.#onEnd);
    else offClientEnd(this.#connection.client, this.#onEnd);
  }

  /** The connection was closed: stop reading, and stop counting on held leases. */
  readonly #onEnd = (): void => {
    this.#closeBlocking();
    const cause = new Error('the connection was closed');
    for (const permit of [...this.#held]) this.#lose(permit, cause);
  };
}
