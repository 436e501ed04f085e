export type { RedisConnectionOptions } from './connection.js';
export { RedisConnection, Script } from './connection.js';
export { LeaseLostError, RedisUnavailableError } from './errors.js';
export type {
  DecisionSource,
  FailurePolicy,
  RedisRateLimiterOptions,
  RedisRateLimiterStats,
  RedisTakeResult,
} from './rate-limiter.js';
export { RedisRateLimiter } from './rate-limiter.js';
export type {
  RedisPermit,
  RedisSemaphoreAcquireOptions,
  RedisSemaphoreOptions,
  RedisSemaphoreStats,
} from './semaphore.js';
export { RedisSemaphore } from './semaphore.js';
