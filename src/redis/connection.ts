/**
 * The connection every Redis primitive of sluice shares: one ioredis client for commands and,
 * made on first use, a second one for blocking reads (BLPOP), so a blocked read never delays a
 * command.
 *
 * Nothing hangs while Redis is away: the command client is made with `enableOfflineQueue:
 * false` (a call while disconnected fails at once), `commandTimeout` (every call has a
 * deadline), `maxRetriesPerRequest: 0` and `autoResendUnfulfilledCommands: false` (a command cut
 * off by a dropped connection fails instead of running a second time after the reconnect: a
 * script that enqueues must never run twice on its own).
 *
 * Scripts run with EVALSHA and, when the server answers NOSCRIPT (after a restart or a SCRIPT
 * FLUSH), with EVAL, which also caches them again.
 *
 * Invariant: one blocking client at a time (made again only if connecting it failed), from the
 * command client's options, and closed with it.
 */
import { createHash } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { describe } from '../internal/describe.js';
import { checkOptions } from '../internal/validate.js';

/** Options for {@link RedisConnection.connect}. */
export interface RedisConnectionOptions {
  /**
   * Where Redis is: a URL (`redis://host:6379/0`), ioredis options, or an ioredis client whose
   * options are copied (sluice makes its own clients, with its own settings, from it). Default
   * `redis://127.0.0.1:6379`.
   */
  readonly redis?: string | RedisOptions | Redis | undefined;
  /** The deadline of every command, in milliseconds: a number above 0. Default 1000. */
  readonly commandTimeoutMs?: number | undefined;
  /**
   * Told about configuration that can lose data (a `maxmemory-policy` other than
   * `noeviction`). Default: `process.emitWarning`.
   */
  readonly onWarning?: ((message: string) => void) | undefined;
}

/** A Lua script with its SHA-1, run by {@link RedisConnection.run}. */
export class Script {
  readonly sha: string;

  constructor(readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }
}

const OVERRIDES = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  lazyConnect: true,
} as const;

/** The shared pair of clients. Make one with `await RedisConnection.connect(options)`. */
export class RedisConnection {
  /** The client for commands and scripts. */
  readonly client: Redis;
  readonly commandTimeoutMs: number;
  #blocking: Promise<Redis> | undefined;
  #blockingClient: Redis | undefined;
  #closed = false;

  private constructor(client: Redis, commandTimeoutMs: number) {
    this.client = client;
    this.commandTimeoutMs = commandTimeoutMs;
  }

  /**
   * Connects (within the command deadline) and checks the server's configuration.
   *
   * Errors: a TypeError or RangeError for bad options (thrown); a rejection with the
   * connection's error when Redis cannot be reached before the deadline.
   */
  static async connect(options: RedisConnectionOptions = {}): Promise<RedisConnection> {
    checkOptions('options', options);
    const timeout = options.commandTimeoutMs ?? 1000;
    if (!(typeof timeout === 'number' && timeout > 0 && Number.isFinite(timeout))) {
      throw new RangeError(
        `Expected \`commandTimeoutMs\` to be a finite number above 0, got ${describe(timeout)}`,
      );
    }
    const onWarning = options.onWarning ?? ((message: string) => process.emitWarning(message));
    if (typeof onWarning !== 'function') {
      throw new TypeError(`Expected \`onWarning\` to be a function, got ${describe(onWarning)}`);
    }
    const client = makeClient(options.redis ?? 'redis://127.0.0.1:6379', {
      ...OVERRIDES,
      commandTimeout: timeout,
      connectTimeout: timeout,
    });
    // Errors surface through the calls; an 'error' listener keeps ioredis from logging them.
    client.on('error', () => {});
    try {
      await client.connect();
    } catch (error) {
      client.disconnect();
      throw error;
    }
    const connection = new RedisConnection(client, timeout);
    await connection.#checkEviction(onWarning);
    return connection;
  }

  /**
   * The client for blocking reads, made and connected on first use, with no command deadline
   * (a blocking read carries its own timeout). Rejects if it cannot connect in time.
   */
  blocking(): Promise<Redis> {
    if (this.#blocking === undefined) {
      const blocking = this.client.duplicate({ ...OVERRIDES, commandTimeout: undefined });
      blocking.on('error', () => {});
      this.#blockingClient = blocking;
      this.#blocking = blocking.connect().then(
        () => blocking,
        (error: unknown) => {
          this.#blocking = undefined; // try again next time
          blocking.disconnect();
          throw error;
        },
      );
    }
    return this.#blocking;
  }

  /** Runs `script` with its keys and arguments: EVALSHA, then EVAL on NOSCRIPT. */
  async run(
    script: Script,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    try {
      return await this.client.evalsha(script.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error;
      return await this.client.eval(script.lua, keys.length, ...keys, ...args);
    }
  }

  /** Closes both clients. Calls in flight reject. Harmless when called again. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#blockingClient?.disconnect();
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }

  async #checkEviction(onWarning: (message: string) => void): Promise<void> {
    let policy: unknown;
    try {
      policy = ((await this.client.config('GET', 'maxmemory-policy')) as unknown[])[1];
    } catch {
      return; // CONFIG is often disabled on managed Redis: nothing to check
    }
    if (policy !== undefined && policy !== 'noeviction') {
      onWarning(
        `Redis maxmemory-policy is '${String(policy)}': under memory pressure Redis may evict sluice's keys (queued items, leases, limiter state). Set it to 'noeviction'.`,
      );
    }
  }
}

function makeClient(redis: unknown, overrides: RedisOptions): Redis {
  if (redis instanceof Redis) return redis.duplicate(overrides);
  if (typeof redis === 'string') return new Redis(redis, overrides);
  if (typeof redis === 'object' && redis !== null && !Array.isArray(redis)) {
    return new Redis({ ...(redis as RedisOptions), ...overrides });
  }
  throw new TypeError(
    `Expected \`redis\` to be a URL, ioredis options or an ioredis client, got ${describe(redis)}`,
  );
}
