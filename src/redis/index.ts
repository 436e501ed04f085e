export type {
  DeadLetter,
  Delivery,
  NackOptions,
  RedisChannelOptions,
  RedisChannelStats,
  RedisConsumeOptions,
  RedisHandlerContext,
  RedisOverflowPolicy,
  RedisSendOptions,
  RedisSendOutcome,
  RedisSendResult,
  RedisSent,
  RedisSentEvicting,
  RedisTrySendOptions,
  Serializer,
} from './channel.js';
export { RedisChannel } from './channel.js';
export type { RedisConnectionOptions } from './connection.js';
export { RedisConnection, Script } from './connection.js';
export { LeaseLostError, RedisChannelLostError, RedisUnavailableError } from './errors.js';
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
