/**
 * The errors of sluice's Redis tier. Each has a stable `code`, like the core's errors in
 * `src/errors.ts`.
 */
import { SluiceError } from '../errors.js';

/**
 * Redis could not decide: it failed (an error, a dropped connection) or did not answer within
 * the connection's command deadline, and the failure policy is to refuse. `cause` is what
 * Redis or the client reported.
 */
export class RedisUnavailableError extends SluiceError {
  declare readonly code: 'ERR_SLUICE_REDIS_UNAVAILABLE';

  /** `what` names the operation that failed (`"rate limiter 'api': take(1)"`). */
  constructor(what: string, cause: unknown) {
    super(
      'ERR_SLUICE_REDIS_UNAVAILABLE',
      `Redis is unavailable: ${what} was refused (${cause instanceof Error ? cause.message : String(cause)})`,
      { cause },
    );
  }
}

/**
 * A lease ended while its holder still counted on it: Redis no longer has it (it expired and
 * may have been handed to another process), or renewals failed until its end had passed. The
 * holder must stop the work the lease protected. `cause`, when set, is the error that kept the
 * lease from being renewed.
 */
export class LeaseLostError extends SluiceError {
  declare readonly code: 'ERR_SLUICE_LEASE_LOST';

  /** `what` names the lease (`"semaphore 'jobs': permit 42"`). */
  constructor(what: string, cause?: unknown) {
    super(
      'ERR_SLUICE_LEASE_LOST',
      cause === undefined
        ? `Lease lost: ${what} expired or was taken over`
        : `Lease lost: ${what} could not be renewed before it ended (${cause instanceof Error ? cause.message : String(cause)})`,
      cause === undefined ? undefined : { cause },
    );
  }
}

/**
 * A `RedisChannel`'s data vanished from Redis: its `meta` hash (holding the epoch written
 * when the channel was created) is gone or holds another epoch, as after a restart without
 * persistence, a `FLUSHALL` or an eviction. Items that were in the channel are lost. The call
 * that finds this rejects with this error and changed nothing; the instance then adopts the
 * channel as it is now, so its next calls work again. Each instance reports a given loss once
 * (a delivery from before the loss then answers `false`, as a lost lease).
 */
export class RedisChannelLostError extends SluiceError {
  declare readonly code: 'ERR_SLUICE_REDIS_CHANNEL_LOST';
  /** The channel's name. */
  readonly channel: string;
  /** The epoch this instance knew. */
  readonly epoch: string;

  constructor(channel: string, epoch: string) {
    super(
      'ERR_SLUICE_REDIS_CHANNEL_LOST',
      `Redis lost channel '${channel}' (epoch ${epoch}): its keys were removed or replaced, as after a restart without persistence; the items it held are gone`,
    );
    this.channel = channel;
    this.epoch = epoch;
  }
}
