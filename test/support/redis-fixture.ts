/**
 * The Redis tests' shared setup: a redis-server and one connection to it for the enclosing file
 * or `describe` block. Their real-time helpers (`sleep`, `eventually`) are in ./real-time.ts.
 */
import { afterAll, beforeAll } from 'vitest';
import { RedisConnection } from '../../src/redis/connection.js';
import { type RedisServer, startRedisServer } from './redis-server.js';

export interface RedisFixture {
  /** The server started for this scope (read it inside tests and hooks, not at load time). */
  readonly server: RedisServer;
  /** One connection to it, shared by the scope's tests. */
  readonly connection: RedisConnection;
}

/** Starts a redis-server before the scope's tests and stops it after them (tests connect themselves). */
export function useRedisServer(): Pick<RedisFixture, 'server'> {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });
  return {
    get server() {
      if (server === undefined) throw new Error('useRedisServer(): the server is not started yet');
      return server;
    },
  };
}

/** Starts a redis-server and a connection before the scope's tests; closes both after them. */
export function useRedis(): RedisFixture {
  let server: RedisServer | undefined;
  let connection: RedisConnection | undefined;
  beforeAll(async () => {
    server = await startRedisServer();
    connection = await RedisConnection.connect({ redis: server.url });
  });
  afterAll(async () => {
    await connection?.close();
    await server?.stop();
  });
  return {
    get server() {
      if (server === undefined) throw new Error('useRedis(): the server is not started yet');
      return server;
    },
    get connection() {
      if (connection === undefined) throw new Error('useRedis(): not connected yet');
      return connection;
    },
  };
}
