/**
 * One semaphore contract, two implementations: the in-process `Semaphore` and the
 * `RedisSemaphore` on a real redis-server started for this file.
 */
import { afterAll, beforeAll } from 'vitest';
import { Semaphore } from '../../src/limit/semaphore.js';
import { RedisConnection } from '../../src/redis/connection.js';
import { RedisSemaphore } from '../../src/redis/semaphore.js';
import { type RedisServer, startRedisServer } from '../support/redis-server.js';
import { semaphoreContract } from './contract/semaphore.contract.js';

let server: RedisServer;
let connection: RedisConnection;
beforeAll(async () => {
  server = await startRedisServer();
  connection = await RedisConnection.connect({ redis: server.url });
});
afterAll(async () => {
  await connection.close();
  await server.stop();
});

semaphoreContract('Semaphore (in-process)', (capacity) => new Semaphore({ capacity }));

let names = 0;
semaphoreContract(
  'RedisSemaphore',
  (capacity) => new RedisSemaphore({ connection, name: `contract-${++names}`, capacity }),
);
