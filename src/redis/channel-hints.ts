/**
 * HintHub: the one BLPOP loop of a connection. Every {@link RedisChannel} on a connection waits
 * for wake-up hints through it, so the connection's single blocking client is never asked for
 * two blocking reads at once (Redis would serve them one after the other on that socket, and a
 * wait on one list would stall the wait on another).
 *
 * A waiter names a list key and the latest time it wants to be woken. The loop issues one
 * `BLPOP <wake key> <every key with a waiter> <timeout>`: the timeout is the earliest wake time
 * of any waiter, capped at {@link MAX_BLOCK_MS}. A popped hint wakes the first waiter of its
 * key (FIFO per key: local waiters are served in the order they started waiting); a timeout
 * wakes the waiters whose wake time has come. A waiter that arrives while a BLPOP is under way
 * and needs another key, or an earlier wake time, interrupts it by pushing a token onto the
 * hub's private wake key (the `WAKE` script keeps at most one there). A hint popped when its
 * waiter has just left is pushed back, so no other process loses its wake-up.
 *
 * Nothing hangs: a BLPOP that fails (the connection dropped, Redis away) rejects every waiter
 * with its error; one that has not answered `commandTimeoutMs` after its own timeout is given
 * up (its waiters rejected, the blocking client reconnected). With no waiters, the loop ends
 * and holds nothing: no timer, no pending read.
 *
 * Invariants:
 * 1. At most one BLPOP of this hub is under way, and the loop runs exactly while `#size > 0`
 *    or a BLPOP it issued has not returned.
 * 2. `#size` is the number of waiters linked in `#lists`; a waiter is linked until it is
 *    settled, and settled once.
 * 3. Time here is real time (`performance.now()`): it bounds network reads, which the
 *    injected clocks of the channels do not drive.
 *
 * On a Redis Cluster the keys of different channels may live on different slots; this hub
 * serves a single-node (or primary/replica) Redis, which is what `RedisConnection` connects to.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { type Linked, WaiterList } from '../internal/waiter-list.js';
import { WAKE } from './channel-scripts.js';
import type { RedisConnection } from './connection.js';

/** The longest single BLPOP, in ms, so other users of the blocking client are not held up long. */
export const MAX_BLOCK_MS = 5000;
/** The shortest BLPOP timeout (Redis reads 0 as "forever"). */
const MIN_BLOCK_MS = 5;

/** One waiter: settled with true (a hint for it was popped) or false (its wake time came). */
export class HintWaiter implements Linked<HintWaiter> {
  prev: HintWaiter | undefined = undefined;
  next: HintWaiter | undefined = undefined;
  list: object | undefined = undefined;
  readonly promise: Promise<boolean>;
  resolve!: (hinted: boolean) => void;
  reject!: (error: unknown) => void;

  constructor(
    readonly key: string,
    readonly wakeAt: number,
  ) {
    this.promise = new Promise<boolean>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

const hubs = new WeakMap<RedisConnection, HintHub>();

export class HintHub {
  readonly #connection: RedisConnection;
  readonly #wakeKey = `sluice:wake:${randomUUID()}`;
  readonly #lists = new Map<string, WaiterList<HintWaiter>>();
  #size = 0;
  #running = false;
  /** The keys of the BLPOP under way, or undefined between reads. */
  #reading: ReadonlySet<string> | undefined;
  /** When the BLPOP under way times out (performance.now()). */
  #readUntil = 0;
  #interrupted = false;

  private constructor(connection: RedisConnection) {
    this.#connection = connection;
  }

  /** The hub of `connection` (one per connection, made on first use). */
  static of(connection: RedisConnection): HintHub {
    let hub = hubs.get(connection);
    if (hub === undefined) {
      hub = new HintHub(connection);
      hubs.set(connection, hub);
    }
    return hub;
  }

  /** Waiters now (all keys). */
  get size(): number {
    return this.#size;
  }

  /** True while some waiter of this process waits on `key`. */
  waiting(key: string): boolean {
    return (this.#lists.get(key)?.length ?? 0) > 0;
  }

  /**
   * Waits for a hint on `key`, or until `wakeInMs` has passed. `first`: goes before the other
   * waiters of the key (a waiter that was woken, found nothing and waits again keeps its turn).
   */
  wait(key: string, wakeInMs: number, first = false): HintWaiter {
    const waiter = new HintWaiter(key, performance.now() + Math.max(0, wakeInMs));
    let list = this.#lists.get(key);
    if (list === undefined) {
      list = new WaiterList<HintWaiter>();
      this.#lists.set(key, list);
    }
    if (first && list.head !== undefined) {
      // WaiterList appends only: rebuild the order with this waiter in front.
      const rest = list.drain();
      list.push(waiter);
      for (const other of rest) list.push(other);
    } else {
      list.push(waiter);
    }
    this.#size++;
    if (!this.#running) void this.#loop();
    else if (
      this.#reading !== undefined &&
      (!this.#reading.has(key) || waiter.wakeAt < this.#readUntil - MIN_BLOCK_MS)
    ) {
      this.#interrupt();
    }
    return waiter;
  }

  /** Withdraws a waiter that has not been settled; it resolves with false. */
  cancel(waiter: HintWaiter): void {
    if (!this.#unlink(waiter)) return;
    waiter.resolve(false);
    if (this.#size === 0 && this.#reading !== undefined) this.#interrupt();
  }

  /** Puts back a hint that was popped for a waiter that then left without using it. */
  giveBack(key: string): void {
    this.#connection.client.lpush(key, '1').catch(() => {});
  }

  #unlink(waiter: HintWaiter): boolean {
    const list = waiter.list as WaiterList<HintWaiter> | undefined;
    if (list === undefined || !list.remove(waiter)) return false;
    this.#size--;
    if (list.length === 0) this.#lists.delete(waiter.key);
    return true;
  }

  #interrupt(): void {
    if (this.#interrupted) return;
    this.#interrupted = true;
    this.#connection.run(WAKE, [this.#wakeKey], []).catch(() => {});
  }

  /** Settles the waiters whose wake time has come; returns the earliest wake time left. */
  #expire(now: number): number {
    let earliest = Number.POSITIVE_INFINITY;
    const due: HintWaiter[] = [];
    for (const list of this.#lists.values()) {
      list.forEach((waiter) => {
        if (waiter.wakeAt <= now + 1) due.push(waiter);
        else if (waiter.wakeAt < earliest) earliest = waiter.wakeAt;
      });
    }
    for (const waiter of due) {
      this.#unlink(waiter);
      waiter.resolve(false);
    }
    return earliest;
  }

  #failAll(error: unknown): void {
    const all: HintWaiter[] = [];
    for (const list of this.#lists.values()) all.push(...list.drain());
    this.#lists.clear();
    this.#size = 0;
    for (const waiter of all) {
      waiter.list = undefined;
      waiter.reject(error);
    }
  }

  async #loop(): Promise<void> {
    this.#running = true;
    let rotation = 0;
    try {
      while (this.#size > 0) {
        const now = performance.now();
        const earliest = this.#expire(now);
        if (this.#size === 0) break;
        const keys = [...this.#lists.keys()];
        // Rotate, so that a busy list cannot keep BLPOP from ever looking at the others.
        rotation = (rotation + 1) % keys.length;
        const ordered = [...keys.slice(rotation), ...keys.slice(0, rotation)];
        const blockMs = Math.min(MAX_BLOCK_MS, Math.max(MIN_BLOCK_MS, earliest - now));
        this.#reading = new Set(ordered);
        this.#readUntil = now + blockMs;
        this.#interrupted = false;
        let reply: [string, string] | null;
        try {
          reply = await this.#read(ordered, blockMs);
        } catch (error) {
          this.#reading = undefined;
          this.#failAll(error);
          break;
        }
        this.#reading = undefined;
        if (reply === null || reply[0] === this.#wakeKey) continue;
        const key = reply[0];
        const waiter = this.#lists.get(key)?.head;
        if (waiter === undefined) this.giveBack(key);
        else {
          this.#unlink(waiter);
          waiter.resolve(true);
        }
      }
    } finally {
      this.#running = false;
      this.#reading = undefined;
    }
  }

  /** One BLPOP, given up `commandTimeoutMs` after its own timeout. */
  async #read(keys: string[], blockMs: number): Promise<[string, string] | null> {
    const client: Redis = await this.#connection.blocking();
    const read = client.blpop(this.#wakeKey, ...keys, (blockMs / 1000).toFixed(3));
    let gaveUp = false;
    // A read given up may still pop a hint later: put it back for whoever needs it.
    read.then(
      (late) => {
        if (gaveUp && late !== null && late[0] !== this.#wakeKey) this.giveBack(late[0]);
      },
      () => {},
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const overdue = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        gaveUp = true;
        // The socket is stuck (a half-open connection, a stalled server): start it afresh.
        client.disconnect(true);
        reject(new Error(`BLPOP did not return within ${blockMs} ms and the command deadline`));
      }, blockMs + this.#connection.commandTimeoutMs);
    });
    try {
      return (await Promise.race([read, overdue])) as [string, string] | null;
    } finally {
      clearTimeout(timer);
    }
  }
}
