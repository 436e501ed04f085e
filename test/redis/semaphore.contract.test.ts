/**
 * One semaphore contract, two implementations: the in-process `Semaphore` and the
 * `RedisSemaphore` on a real redis-server started for this file.
 */
import { Semaphore } from '../../src/limit/semaphore.js';
import { RedisSemaphore } from '../../src/redis/semaphore.js';
import { useRedis } from '../support/redis-fixture.js';
import { semaphoreContract } from './contract/semaphore.contract.js';

const redis = useRedis();

semaphoreContract('Semaphore (in-process)', (capacity) => new Semaphore({ capacity }));

let names = 0;
semaphoreContract(
  'RedisSemaphore',
  (capacity) =>
    new RedisSemaphore({ connection: redis.connection, name: `contract-${++names}`, capacity }),
);
