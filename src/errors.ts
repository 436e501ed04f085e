/**
 * The errors sluice rejects with. Each has a stable `code`; those raised for an item that was
 * not delivered carry it back in `value`, so nothing is lost.
 */

/** Base class of every error sluice creates for a failed operation. */
export class SluiceError extends Error {
  /** Stable, machine-readable code. */
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * The channel was closed (or destroyed). From a send: `value` is the item that was not
 * delivered and `hasValue` is true. From a receive: there was nothing left to receive.
 */
export class ChannelClosedError<T = unknown> extends SluiceError {
  declare readonly code: 'ERR_SLUICE_CHANNEL_CLOSED';
  /** True when the error hands an undelivered item back. */
  readonly hasValue: boolean;
  /** The item that was not delivered (only when `hasValue`). */
  readonly value: T | undefined;

  constructor(...args: [] | [value: T]) {
    super(
      'ERR_SLUICE_CHANNEL_CLOSED',
      args.length > 0
        ? 'Channel is closed: the item was not sent'
        : 'Channel is closed and drained',
    );
    this.hasValue = args.length > 0;
    this.value = args[0];
  }
}

/** A send under the `reject` policy found the channel full. `value` is the item, not sent. */
export class ChannelFullError<T = unknown> extends SluiceError {
  declare readonly code: 'ERR_SLUICE_CHANNEL_FULL';
  /** The item that was not sent. */
  readonly value: T;

  constructor(value: T, capacity: number) {
    super(
      'ERR_SLUICE_CHANNEL_FULL',
      `Channel is full (capacity ${capacity}): the item was rejected`,
    );
    this.value = value;
  }
}

/**
 * A wait passed its `timeoutMs`. Named `TimeoutError`, like the DOMException that
 * `AbortSignal.timeout()` produces. From a send, `hasValue` is true and `value` is the item,
 * which was not sent.
 */
export class TimeoutError<T = unknown> extends SluiceError {
  declare readonly code: 'ERR_SLUICE_TIMEOUT';
  /** The timeout that passed, in milliseconds. */
  readonly timeoutMs: number;
  /** True when the error hands an undelivered item back. */
  readonly hasValue: boolean;
  /** The item that was not sent (only when `hasValue`). */
  readonly value: T | undefined;

  constructor(timeoutMs: number, ...args: [] | [value: T]) {
    super('ERR_SLUICE_TIMEOUT', `Timed out after ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
    this.hasValue = args.length > 0;
    this.value = args[0];
  }

  /**
   * A wait that would certainly pass its deadline, refused at once. The message says how long
   * the wait would have been (`Infinity`: it could never end at the current rate).
   */
  static wouldExceed(waitMs: number, timeoutMs: number): TimeoutError<never> {
    const error = new TimeoutError<never>(timeoutMs);
    error.message =
      waitMs === Number.POSITIVE_INFINITY
        ? `The wait could never end at the current rate (timeout ${timeoutMs} ms)`
        : `The wait would take ${round(waitMs)} ms, more than the timeout of ${timeoutMs} ms`;
    return error;
  }
}

/**
 * A request found a limiter's backlog full: it was refused at once, and holds nothing (the
 * adaptive limiter with `maxBacklog`).
 */
export class BacklogFullError extends SluiceError {
  declare readonly code: 'ERR_SLUICE_BACKLOG_FULL';
  /** The backlog bound that was reached. */
  readonly maxBacklog: number;

  constructor(maxBacklog: number) {
    super(
      'ERR_SLUICE_BACKLOG_FULL',
      `Backlog is full (maxBacklog ${maxBacklog}): the request was refused`,
    );
    this.maxBacklog = maxBacklog;
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
