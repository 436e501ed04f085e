/**
 * RedisConnection against a real redis-server started for this file: connecting, scripts with
 * EVALSHA and EVAL after a SCRIPT FLUSH, the eviction-policy warning, deadlines while the
 * server is away, and bad options.
 */
import { describe, expect, it } from 'vitest';
import { RedisConnection, Script } from '../../src/redis/index.js';
import { caught, rejection } from '../support/errors.js';
import { useRedisServer } from '../support/redis-fixture.js';

const redis = useRedisServer();

describe('RedisConnection', () => {
  it('runs a script by EVALSHA, and again after the server forgot it', async () => {
    const connection = await RedisConnection.connect({ redis: redis.server.url });
    const script = new Script("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    expect(await connection.run(script, ['{t}:n'], [2])).toBe(2);
    await redis.server.admin().script('FLUSH');
    expect(await connection.run(script, ['{t}:n'], [3])).toBe(5);
    await connection.close();
    await connection.close();
  });

  it('warns when maxmemory-policy is not noeviction', async () => {
    await redis.server.admin().config('SET', 'maxmemory-policy', 'allkeys-lru');
    const warnings: string[] = [];
    const connection = await RedisConnection.connect({
      redis: redis.server.url,
      onWarning: (message) => warnings.push(message),
    });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/allkeys-lru.*noeviction/);
    await redis.server.admin().config('SET', 'maxmemory-policy', 'noeviction');
    await connection.close();
  });

  it('the blocking client is separate, made once', async () => {
    const connection = await RedisConnection.connect({ redis: { port: redis.server.port } });
    const blocking = await connection.blocking();
    expect(await connection.blocking()).toBe(blocking);
    expect(blocking).not.toBe(connection.client);
    expect(await blocking.blpop('{t}:empty', 0.05)).toBeNull();
    await connection.close();
  });

  it('an unreachable server rejects within the deadline; bad options throw', async () => {
    const started = Date.now();
    await expect(
      RedisConnection.connect({ redis: 'redis://127.0.0.1:1', commandTimeoutMs: 200 }),
    ).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(2000);
    for (const commandTimeoutMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(
        (await rejection(RedisConnection.connect({ commandTimeoutMs }))) as Error,
      ).toBeInstanceOf(RangeError);
    }
    expect(
      ((await rejection(RedisConnection.connect({ redis: 5 as never }))) as Error).message,
    ).toMatch(/`redis`.*`5`/);
    void caught;
  });
});
