/**
 * RedisSemaphore under faults, on real redis-servers started for this file: a holder process
 * killed with SIGKILL (its slot comes back after its lease, to a waiter in this process);
 * Redis down (every call settles within the command deadline, held leases report `lost`);
 * `CLIENT KILL` of the blocking connection and of every connection in the middle of acquires
 * (nothing hangs, no slot leaks).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { RedisConnection } from '../../src/redis/connection.js';
import { LeaseLostError, RedisUnavailableError } from '../../src/redis/errors.js';
import { RedisSemaphore } from '../../src/redis/semaphore.js';
import { probe } from '../support/outcome.js';
import { eventually, sleep } from '../support/real-time.js';
import { useRedisServer } from '../support/redis-fixture.js';
import { startRedisServer } from '../support/redis-server.js';

/** How long `promise` takes to settle, and how. */
async function settling(promise: Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = performance.now();
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  return { ms: performance.now() - started, error };
}

function spawnHolder(url: string, name: string, leaseMs: number): ChildProcess {
  return spawn(
    process.execPath,
    ['--import', 'tsx', 'test/redis/fixtures/semaphore-holder.ts', url, name, String(leaseMs)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
}

async function heldToken(child: ChildProcess): Promise<number> {
  let out = '';
  for await (const chunk of child.stdout!) {
    out += String(chunk);
    const match = /held (\d+)/.exec(out);
    if (match) return Number(match[1]);
  }
  throw new Error(`holder exited before holding (output: ${out})`);
}

const redis = useRedisServer();

describe('RedisSemaphore faults', () => {
  it('a holder killed with SIGKILL: its slot goes to a waiter here after its lease', async () => {
    const name = 'sigkill';
    const leaseMs = 1000;
    const child = spawnHolder(redis.server.url, name, leaseMs);
    try {
      const childToken = await heldToken(child);
      const connection = await RedisConnection.connect({ redis: redis.server.url });
      const sem = new RedisSemaphore({ connection, name, capacity: 1, leaseMs });
      expect(await sem.tryAcquire()).toBeUndefined();
      const waiter = probe(sem.acquire({ timeoutMs: 10_000 }));
      await sleep(1500); // longer than the lease: the live child's heartbeat keeps it
      expect(waiter.status).toBe('pending');
      child.kill('SIGKILL');
      await once(child, 'exit');
      const killedAt = performance.now();
      await eventually(() => expect(waiter.status).toBe('fulfilled'), 5000);
      const reclaimedIn = performance.now() - killedAt;
      expect(reclaimedIn).toBeLessThan(leaseMs + 1500);
      expect(waiter.value!.token).toBeGreaterThan(childToken);
      expect(await sem.stats()).toEqual({ capacity: 1, holders: 1, waiting: 0 });
      expect(await waiter.value!.release()).toBe(true);
      await connection.close();
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('Redis down: every call settles within the deadline; held leases report lost', async () => {
    const own = await startRedisServer();
    try {
      const deadline = 300;
      const connection = await RedisConnection.connect({
        redis: own.url,
        commandTimeoutMs: deadline,
      });
      const sem = new RedisSemaphore({ connection, name: 'down', capacity: 1, leaseMs: 600 });
      const held = (await sem.tryAcquire())!;
      const waiter = sem.acquire();
      waiter.catch(() => {}); // it may reject during the kill below, before it is awaited
      await eventually(() => expect(sem.waiting).toBe(1));
      await sleep(50); // the waiter is in BLPOP
      await own.kill();

      const calls = {
        waiter,
        acquire: sem.acquire(),
        acquireWithTimeout: sem.acquire({ timeoutMs: 10_000 }),
        tryAcquire: sem.tryAcquire(),
        stats: sem.stats(),
        extend: held.extend(),
      };
      const results = await Promise.all(
        Object.entries(calls).map(async ([what, call]) => ({ what, ...(await settling(call)) })),
      );
      for (const { what, ms, error } of results) {
        expect(error, what).toBeInstanceOf(RedisUnavailableError);
        expect((error as RedisUnavailableError).code, what).toBe('ERR_SLUICE_REDIS_UNAVAILABLE');
        expect((error as Error).cause, what).toBeInstanceOf(Error);
        expect(ms, what).toBeLessThan(deadline + 700);
      }
      expect(sem.waiting).toBe(0);
      // The heartbeat cannot renew: `lost` aborts once the lease's end has passed.
      await eventually(() => expect(held.lost.aborted).toBe(true), 2000);
      expect(held.lost.reason).toBeInstanceOf(LeaseLostError);
      expect((held.lost.reason as Error).cause).toBeInstanceOf(Error);
      const release = await settling(held.release());
      expect(release.error).toBeInstanceOf(RedisUnavailableError);
      expect(release.ms).toBeLessThan(deadline + 700);

      // Back up: the same objects work again once the connection has reconnected.
      await own.restart();
      await eventually(async () => expect(await sem.tryAcquire()).toBeDefined(), 5000);
      await connection.close();
    } finally {
      await own.stop();
    }
  });

  it('CLIENT KILL of the blocking connection: the waiter reconnects and still gets the slot', async () => {
    const connection = await RedisConnection.connect({ redis: redis.server.url });
    const other = await RedisConnection.connect({ redis: redis.server.url });
    const name = 'kill-blocking';
    const a = new RedisSemaphore({ connection, name, capacity: 1 });
    const b = new RedisSemaphore({ connection: other, name, capacity: 1 });
    const held = (await a.tryAcquire())!;
    const waiter = probe(b.acquire({ timeoutMs: 10_000 }));
    const blocked = async (): Promise<string[]> =>
      String(await redis.server.admin().client('LIST'))
        .split('\n')
        .filter((line) => / cmd=blpop /.test(line))
        .map((line) => /\bid=(\d+)/.exec(line)![1]!);
    await eventually(async () => expect(await blocked()).toHaveLength(1));
    await redis.server.admin().client('KILL', 'ID', (await blocked())[0]!);
    await eventually(async () => expect(await blocked()).toHaveLength(1)); // a new one
    expect(waiter.status).toBe('pending');
    await held.release();
    await eventually(() => expect(waiter.status).toBe('fulfilled'));
    await waiter.value!.release();
    await connection.close();
    await other.close();
  });

  it('CLIENT KILL of every connection mid-acquire: nothing hangs, no slot leaks', async () => {
    const name = 'kill-all';
    const leaseMs = 500;
    const capacity = 2;
    const connections = await Promise.all(
      [1, 2, 3].map(() => RedisConnection.connect({ redis: redis.server.url })),
    );
    const sems = connections.map(
      (connection) => new RedisSemaphore({ connection, name, capacity, leaseMs }),
    );
    let stop = false;
    const outcomes = { served: 0, failed: 0 };
    const worker = async (sem: RedisSemaphore): Promise<void> => {
      while (!stop) {
        try {
          const permit = await sem.acquire(); // no timeout: a hang would show below
          await sleep(2);
          await permit.release();
          outcomes.served++;
        } catch (error) {
          expect(error).toBeInstanceOf(RedisUnavailableError);
          outcomes.failed++;
          await sleep(20);
        }
      }
    };
    const workers = sems.flatMap((sem) => [worker(sem), worker(sem), worker(sem)]);
    await sleep(300);
    await redis.server.admin().client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    await sleep(300);
    await redis.server.admin().client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    await sleep(300);
    stop = true;
    const started = performance.now();
    await Promise.all(workers);
    expect(performance.now() - started).toBeLessThan(3000);
    expect(outcomes.served).toBeGreaterThan(10);
    expect(outcomes.failed).toBeGreaterThan(0);

    // Leases whose release was cut off lapse after leaseMs: then exactly capacity is free.
    await sleep(leaseMs + 200);
    const fresh = await RedisConnection.connect({ redis: redis.server.url });
    const check = new RedisSemaphore({ connection: fresh, name, capacity, leaseMs });
    const permits = [await check.tryAcquire(), await check.tryAcquire()];
    expect(permits.every((p) => p !== undefined)).toBe(true);
    expect(await check.tryAcquire()).toBeUndefined();
    expect(await check.stats()).toEqual({ capacity, holders: 2, waiting: 0 });
    for (const permit of permits) await permit!.release();
    for (const connection of [...connections, fresh]) await connection.close();
  });
});
