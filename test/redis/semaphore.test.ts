/**
 * RedisSemaphore against a real redis-server started for this file. Several RedisConnections
 * stand for several processes. Covered: capacity across processes, FIFO across processes,
 * release waking a waiter without polling (checked with MONITOR), lease expiry reclaiming a
 * silent holder, stale release/extend fenced off, heartbeat and `lost`, extend, abort and
 * timeout (also racing a grant), a lapsed owner re-joining, nothing held when idle, stats, and
 * bad input.
 */
import type { Redis } from 'ioredis';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TimeoutError } from '../../src/errors.js';
import { RedisConnection } from '../../src/redis/connection.js';
import { LeaseLostError, RedisUnavailableError } from '../../src/redis/errors.js';
import { RedisSemaphore, type RedisSemaphoreOptions } from '../../src/redis/semaphore.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { caught, rejection } from '../support/errors.js';
import { probe } from '../support/outcome.js';
import { eventually, sleep } from '../support/real-time.js';
import { useRedis } from '../support/redis-fixture.js';
import { listeners } from '../support/signals.js';

const redis = useRedis();
const opened: RedisConnection[] = [];
let names = 0;

beforeAll(async () => {
  // Load every script once, so MONITOR later sees EVALSHA only (no NOSCRIPT + EVAL).
  const warm = new RedisSemaphore({ connection: redis.connection, name: 'warm-up', capacity: 1 });
  const permit = (await warm.tryAcquire())!;
  await permit.extend();
  await warm.stats();
  await permit.release();
});
afterEach(async () => {
  for (const connection of opened.splice(0)) await connection.close();
});

/** A new connection: one more "process". Closed after the test. */
async function processConnection(): Promise<RedisConnection> {
  const connection = await RedisConnection.connect({ redis: redis.server.url });
  opened.push(connection);
  return connection;
}

function semaphore(
  connection: RedisConnection,
  name: string,
  options: Partial<RedisSemaphoreOptions> = {},
): RedisSemaphore {
  return new RedisSemaphore({ connection, name, capacity: 1, ...options });
}

const freshName = (): string => `sem-${++names}`;

async function waitingIs(sem: RedisSemaphore, n: number): Promise<void> {
  await eventually(async () => expect((await sem.stats()).waiting).toBe(n));
}

describe('RedisSemaphore: capacity and order across processes', () => {
  it('never more than capacity holders across four processes; tokens only grow', async () => {
    const name = freshName();
    const sems = await Promise.all(
      [1, 2, 3, 4].map(async () => semaphore(await processConnection(), name, { capacity: 3 })),
    );
    let inUse = 0;
    let peak = 0;
    const tokens: number[] = [];
    await Promise.all(
      sems.flatMap((sem, p) =>
        Array.from({ length: 10 }, async (_, i) => {
          const permit = await sem.acquire({ timeoutMs: 10_000 });
          tokens.push(permit.token);
          inUse++;
          peak = Math.max(peak, inUse);
          await sleep(1 + ((p + i) % 4));
          inUse--;
          expect(await permit.release()).toBe(true);
        }),
      ),
    );
    expect(peak).toBe(3);
    expect(tokens).toHaveLength(40);
    expect(new Set(tokens).size).toBe(40);
    expect(tokens).toEqual([...tokens].sort((a, b) => a - b)); // granted in token order
    expect(await sems[0]!.stats()).toEqual({ capacity: 3, holders: 0, waiting: 0 });
  });

  it('first come, first served across processes (by arrival at Redis)', async () => {
    const name = freshName();
    const sems = await Promise.all(
      [1, 2, 3].map(async () => semaphore(await processConnection(), name)),
    );
    const held = (await sems[0]!.tryAcquire())!;
    const order: string[] = [];
    const waits: Promise<void>[] = [];
    // Arrivals alternate between processes; each waits until its ticket is in Redis.
    const arrivals = [1, 2, 0, 2, 1, 0];
    for (const [n, p] of arrivals.entries()) {
      waits.push(
        sems[p]!.acquire().then(async (permit) => {
          order.push(`${n}@${p}`);
          await permit.release();
        }),
      );
      await waitingIs(sems[0]!, n + 1);
    }
    await held.release();
    await Promise.all(waits);
    expect(order).toEqual(arrivals.map((p, n) => `${n}@${p}`));
  });

  it('a release wakes a waiter in another process at once, with no command while it waits', async () => {
    const name = freshName();
    const a = semaphore(await processConnection(), name);
    const b = semaphore(await processConnection(), name);
    const held = (await a.tryAcquire())!;
    const monitor: Redis = await redis.server.admin().monitor();
    try {
      const seen: string[] = [];
      monitor.on('monitor', (_time: string, args: string[], source: string) => {
        if (source !== 'lua') seen.push(String(args[0]).toLowerCase());
      });
      const waiter = probe(b.acquire());
      await eventually(() => expect(seen).toContain('blpop'));
      seen.length = 0;
      await sleep(1000);
      expect(seen).toEqual([]); // blocked in BLPOP: not one command in a second
      expect(waiter.status).toBe('pending');
      const releasedAt = performance.now();
      await held.release();
      await eventually(() => expect(waiter.status).toBe('fulfilled'));
      const wokenIn = performance.now() - releasedAt;
      expect(wokenIn).toBeLessThan(250);
      await sleep(50);
      // A's release script, then B's one script after BLPOP returned: nothing else.
      expect(seen).toEqual(['evalsha', 'evalsha']);
      await waiter.value!.release();
    } finally {
      monitor.disconnect();
    }
  });

  it('holds no connection, timer or key when idle: the blocking client lives while waiting', async () => {
    const name = freshName();
    const connectionName = `idle-${name}`;
    const connection = await RedisConnection.connect({
      redis: { port: redis.server.port, host: '127.0.0.1', connectionName },
    });
    opened.push(connection);
    // The blocking client is made from the command client, so it carries the same name.
    const clients = async (): Promise<number> =>
      String(await redis.server.admin().client('LIST'))
        .split('\n')
        .filter((line) => line.includes(` name=${connectionName} `)).length;
    expect(await clients()).toBe(1);
    const a = semaphore(connection, name);
    const b = semaphore(connection, name);
    const held = (await a.tryAcquire())!;
    const waiter = probe(b.acquire());
    await eventually(async () => expect(await clients()).toBe(2));
    await held.release();
    await eventually(() => expect(waiter.status).toBe('fulfilled'));
    await waiter.value!.release();
    await eventually(async () => expect(await clients()).toBe(1));
    expect(b.waiting).toBe(0);
    const keys = await redis.server.admin().keys(`sluice:{${name}}:*`);
    expect(keys).toEqual([`sluice:{${name}}:seq`]); // the fencing counter never resets
  });
});

describe('RedisSemaphore: leases', () => {
  it('an expired lease is reclaimed on the server clock; its stale release frees nothing', async () => {
    const name = freshName();
    // A "crashed" holder: no heartbeat, never released.
    const silent = semaphore(await processConnection(), name, { leaseMs: 300, heartbeat: false });
    const old = (await silent.tryAcquire())!;
    const waiter = semaphore(await processConnection(), name); // lease 30 s of its own
    const started = performance.now();
    const permit = await waiter.acquire({ timeoutMs: 5000 });
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(200);
    expect(waited).toBeLessThan(1500); // BLPOP timed out at the lease's end, not at 10 s
    expect(permit.token).toBeGreaterThan(old.token);

    expect(await old.extend()).toBe(false);
    expect(old.lost.aborted).toBe(true);
    expect(old.lost.reason).toBeInstanceOf(LeaseLostError);
    expect(await old.release()).toBe(false);
    expect(await old.release()).toBe(false);
    expect((await waiter.stats()).holders).toBe(1); // the new holder keeps its slot
    expect(await silent.tryAcquire()).toBeUndefined();
    expect(permit.lost.aborted).toBe(false);
    expect(await permit.release()).toBe(true);
    expect(await silent.tryAcquire()).toBeDefined();
  });

  it('the heartbeat keeps a short lease alive for as long as it is held', async () => {
    const name = freshName();
    const holder = semaphore(await processConnection(), name, { leaseMs: 600 });
    const other = semaphore(await processConnection(), name);
    const permit = (await holder.tryAcquire())!;
    for (let i = 0; i < 5; i++) {
      await sleep(250);
      expect(await other.tryAcquire()).toBeUndefined();
    }
    expect(permit.lost.aborted).toBe(false);
    expect(await permit.release()).toBe(true);
    expect(permit.released).toBe(true);
    expect(await other.tryAcquire()).toBeDefined();
  });

  it('lost aborts with a LeaseLostError when a heartbeat finds the lease gone', async () => {
    const name = freshName();
    const holder = semaphore(await processConnection(), name, { leaseMs: 600 });
    const permit = (await holder.tryAcquire())!;
    const onLost = new Promise<unknown>((resolve) => {
      permit.lost.addEventListener('abort', () => resolve(permit.lost.reason));
    });
    await redis.server.admin().del(`sluice:{${name}}:holders`); // taken away behind its back
    const reason = await onLost;
    expect(reason).toBeInstanceOf(LeaseLostError);
    expect((reason as LeaseLostError).code).toBe('ERR_SLUICE_LEASE_LOST');
    expect((reason as Error).message).toContain(`'${name}'`);
    expect(await permit.release()).toBe(false);
  });

  it('extend lengthens a lease without a heartbeat, and never shortens it', async () => {
    const name = freshName();
    const holder = semaphore(await processConnection(), name, { leaseMs: 200, heartbeat: false });
    const other = semaphore(await processConnection(), name);
    const permit = (await holder.tryAcquire())!;
    expect(await permit.extend(1500)).toBe(true);
    expect(await permit.extend(1)).toBe(true); // still ends 1.5 s out
    await sleep(500);
    expect(await other.tryAcquire()).toBeUndefined();
    expect(caught(() => permit.extend(0))).toBeInstanceOf(RangeError);
    expect(caught(() => permit.extend(Number.NaN)).message).toMatch(/`ms`.*`NaN`/);
    expect(await permit.release()).toBe(true);
    expect(await permit.extend()).toBe(false); // released
  });

  it('await using releases at the end of the block', async () => {
    const name = freshName();
    const sem = semaphore(await processConnection(), name);
    {
      await using permit = await sem.acquire();
      expect(permit.released).toBe(false);
      expect(await sem.tryAcquire()).toBeUndefined();
    }
    expect((await sem.stats()).holders).toBe(0);
  });
});

describe('RedisSemaphore: abort and timeout', () => {
  it('abort and timeout remove the listener and timer; the waiter behind goes next', async () => {
    const name = freshName();
    const a = semaphore(await processConnection(), name);
    const b = semaphore(await processConnection(), name);
    const held = (await a.tryAcquire())!;
    const controller = new AbortController();
    const aborted = probe(b.acquire({ signal: controller.signal }));
    const timedOut = probe(a.acquire({ timeoutMs: 150 }));
    const granted = new AbortController();
    const next = probe(b.acquire({ signal: granted.signal, timeoutMs: 5000 }));
    await waitingIs(a, 3);
    controller.abort('stop');
    await eventually(() => expect(aborted.status).toBe('rejected'));
    expect(aborted.reason).toBe('stop');
    expect(listeners(controller.signal)).toBe(0);
    await eventually(() => expect(timedOut.status).toBe('rejected'));
    expect(timedOut.reason).toBeInstanceOf(TimeoutError);
    await waitingIs(a, 1);
    await held.release();
    await eventually(() => expect(next.status).toBe('fulfilled'));
    expect(listeners(granted.signal)).toBe(0);
    expect(b.waiting).toBe(0);
    await next.value!.release();
    expect(await a.stats()).toEqual({ capacity: 1, holders: 0, waiting: 0 });
  });

  it('an abort racing a grant ends with the slot free, in one process or across two', async () => {
    for (const across of [false, true, false, true]) {
      const name = freshName();
      const a = semaphore(await processConnection(), name);
      const b = across ? semaphore(await processConnection(), name) : a;
      const held = (await a.tryAcquire())!;
      const controller = new AbortController();
      const waiter = probe(b.acquire({ signal: controller.signal }));
      await waitingIs(a, 1);
      const released = held.release();
      controller.abort('late');
      await released;
      await eventually(() => expect(waiter.status).not.toBe('pending'));
      if (waiter.status === 'fulfilled') await waiter.value!.release();
      else expect(waiter.reason).toBe('late');
      await eventually(async () =>
        expect(await a.stats()).toEqual({ capacity: 1, holders: 0, waiting: 0 }),
      );
      expect(await a.tryAcquire()).toBeDefined();
    }
  });

  it('a waiter whose owner entry lapsed (a stalled process) joins again instead of hanging', async () => {
    const name = freshName();
    const a = semaphore(await processConnection(), name);
    const b = semaphore(await processConnection(), name, { leaseMs: 1500 }); // renews every 1 s
    const held = (await a.tryAcquire())!;
    const waiter = probe(b.acquire({ timeoutMs: 5000 }));
    await waitingIs(a, 1);
    await redis.server.admin().del(`sluice:{${name}}:owners`); // as if b had stalled past its liveness
    await held.release(); // drops b's dead ticket: the slot is simply free
    await eventually(() => expect(waiter.status).toBe('fulfilled'), 4000);
    await waiter.value!.release();
  });
});

describe('RedisSemaphore: clock and connection', () => {
  it('every timer runs on the injected clock: timeouts and heartbeats wait for it', async () => {
    const name = freshName();
    const clock = new ManualClock();
    const holder = semaphore(await processConnection(), name, { leaseMs: 300, clock });
    const other = semaphore(await processConnection(), name);
    const permit = (await holder.tryAcquire())!;
    await sleep(500); // real time: no heartbeat ran, so the lease ended on the server
    const taker = (await other.tryAcquire())!;
    expect(taker).toBeDefined();
    expect(permit.lost.aborted).toBe(false); // nothing has looked yet
    const waiter = probe(holder.acquire({ timeoutMs: 1000 }));
    await sleep(100);
    expect(waiter.status).toBe('pending');
    await clock.advanceAsync(1000); // the timeout fires, and the heartbeat finds its lease gone
    await eventually(() => expect(waiter.status).toBe('rejected'));
    expect(waiter.reason).toBeInstanceOf(TimeoutError);
    await eventually(() => expect(permit.lost.aborted).toBe(true));
    expect(await permit.release()).toBe(false);
    expect(await taker.release()).toBe(true);
  });

  it('closing the connection rejects its waiters at once and marks held leases lost', async () => {
    const name = freshName();
    const connection = await RedisConnection.connect({ redis: redis.server.url });
    const a = semaphore(connection, name);
    const held = (await a.tryAcquire())!;
    const waiter = probe(a.acquire());
    await eventually(() => expect(a.waiting).toBe(1));
    await sleep(30); // in BLPOP
    const closedAt = performance.now();
    await connection.close();
    await eventually(() => expect(waiter.status).toBe('rejected'));
    expect(performance.now() - closedAt).toBeLessThan(500);
    expect(waiter.reason).toBeInstanceOf(RedisUnavailableError);
    expect(held.lost.aborted).toBe(true);
    expect(held.lost.reason).toBeInstanceOf(LeaseLostError);
    await expect(a.tryAcquire()).rejects.toBeInstanceOf(RedisUnavailableError);
  });
});

describe('RedisSemaphore: stats and bad input', () => {
  it('stats come from Redis: holders and waiters of every process', async () => {
    const name = freshName();
    const a = semaphore(await processConnection(), name, { capacity: 2 });
    const b = semaphore(await processConnection(), name, { capacity: 2 });
    expect(await a.stats()).toEqual({ capacity: 2, holders: 0, waiting: 0 });
    const p1 = (await a.tryAcquire())!;
    const p2 = (await b.tryAcquire())!;
    const w = probe(b.acquire());
    await waitingIs(a, 1);
    expect(await a.stats()).toEqual({ capacity: 2, holders: 2, waiting: 1 });
    expect(b.waiting).toBe(1);
    expect(a.waiting).toBe(0);
    await p1.release();
    await eventually(() => expect(w.status).toBe('fulfilled'));
    await p2.release();
    await w.value!.release();
    expect(await b.stats()).toEqual({ capacity: 2, holders: 0, waiting: 0 });
  });

  it('bad options throw at construction, naming the value', () => {
    const connection = redis.connection;
    const make = (options: unknown) => () => new RedisSemaphore(options as RedisSemaphoreOptions);
    const base = { connection, name: 'x', capacity: 1 };
    expect(caught(make(undefined))).toBeInstanceOf(TypeError);
    expect(caught(make(5))).toBeInstanceOf(TypeError);
    for (const capacity of [0, 1.5, -1, Number.NaN, '2']) {
      const error = caught(make({ ...base, capacity }));
      expect(error).toBeInstanceOf(RangeError);
      expect(error.message).toContain('`capacity`');
    }
    expect(caught(make({ ...base, capacity: 1.5 })).message).toContain('`1.5`');
    for (const leaseMs of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
      const error = caught(make({ ...base, leaseMs }));
      expect(error).toBeInstanceOf(RangeError);
      expect(error.message).toMatch(/`leaseMs`/);
    }
    expect(caught(make({ ...base, leaseMs: 0 })).message).toContain('`0` (number)');
    for (const name of [undefined, '', 5, 'a{b}']) {
      const error = caught(make({ ...base, name }));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toContain('`name`');
    }
    expect(caught(make({ connection, capacity: 1 })).message).toContain('`undefined`');
    expect(caught(make({ ...base, connection: {} })).message).toContain('`connection`');
    expect(caught(make({ ...base, heartbeat: 'yes' })).message).toContain('`heartbeat`');
    expect(caught(make({ ...base, clock: {} })).message).toContain('`clock`');
  });

  it('bad acquire options throw synchronously; nothing is sent', async () => {
    const sem = semaphore(redis.connection, freshName());
    expect(caught(() => sem.acquire(5 as never))).toBeInstanceOf(TypeError);
    expect(caught(() => sem.acquire({ timeoutMs: -1 })).message).toMatch(/`timeoutMs`.*`-1`/);
    expect(caught(() => sem.acquire({ signal: {} as AbortSignal }))).toBeInstanceOf(TypeError);
    expect(sem.waiting).toBe(0);
    expect(await rejection(sem.acquire({ signal: AbortSignal.abort('no') }))).toBe('no');
    expect(await sem.stats()).toEqual({ capacity: 1, holders: 0, waiting: 0 });
  });
});
