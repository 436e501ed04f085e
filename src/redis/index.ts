export type { RedisConnectionOptions } from './connection.js';
export { RedisConnection, Script } from './connection.js';
