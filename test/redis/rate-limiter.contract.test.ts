/**
 * One contract (test/redis/contract/rate-limiter.contract.ts), two implementations: the
 * in-process GCRA (`Pacer`, on a manual clock) and `RedisRateLimiter` (a real redis-server
 * started for this file, real time), so the distributed limit keeps the in-process semantics.
 */
import { Pacer } from '../../src/limit/pacer.js';
import { RedisRateLimiter } from '../../src/redis/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { useRedis } from '../support/redis-fixture.js';
import { type ContractFactory, rateLimiterContract } from './contract/rate-limiter.contract.js';

const fixture = useRedis();

/** GCRA in-process: a Pacer of `burst − 1` slack, idle long enough to be full. */
const pacer: ContractFactory = async ({ rate, burst }) => {
  const clock = new ManualClock();
  const limiter = new Pacer({ intervalMs: 1000 / rate, slack: burst - 1, clock });
  clock.advance((burst * 1000) / rate);
  return {
    tryTake: (n) => {
      const result = limiter.tryTake(n);
      return Promise.resolve(result);
    },
    take: (n, options) => limiter.take(n, options),
    now: () => clock.now(),
    advance: (ms) => clock.advanceAsync(ms),
    toleranceMs: 0,
    close: async () => {
      limiter.assertInvariants();
    },
  };
};

let names = 0;
/** On Redis, real time: a fresh key is a full limit. */
const redis: ContractFactory = async ({ rate, burst }) => {
  const limiter = new RedisRateLimiter({
    connection: fixture.connection,
    name: `c${names++}`,
    rate,
    burst,
  });
  return {
    tryTake: (n) => limiter.tryTake(n),
    take: (n, options) => limiter.take(n, options),
    now: () => performance.now(),
    advance: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    // Round trips, timer lateness and a busy machine (other test files run alongside).
    toleranceMs: 100,
    close: async () => {},
  };
};

rateLimiterContract('Pacer (in-process GCRA, manual clock)', pacer);
rateLimiterContract('RedisRateLimiter (real Redis, real time)', redis);
