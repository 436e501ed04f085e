/**
 * The `node:diagnostics_channel` events a {@link Channel} publishes: every drop, and the start
 * and end of every wait of a plain `send` or `receive` (iterator steps, `receiveMany` and
 * `sendAll` included; `select` cases are not reported). Free when nobody subscribes: the
 * channel checks `hasSubscribers` and builds no message. Where `node:diagnostics_channel` is
 * missing (browsers), nothing is ever published.
 *
 * When subscribers run: for a drop, synchronously where `onDrop` is called (after the state
 * change, before `onDrop`); for a wait's start, synchronously as the last step of the call
 * that starts waiting; for its end, on a microtask queued when the waiter is settled — after
 * the state change, before any code awaiting the call resumes. So a subscriber always sees a
 * consistent channel (`assertInvariants()` holds). What a subscriber throws does not reach the
 * channel (Node rethrows it on a later turn).
 *
 * @example
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel';
 * import { channelDiagnostics, type ChannelDropMessage } from 'sluice';
 *
 * subscribe(channelDiagnostics.drop, (message) => {
 *   const { item, reason } = message as ChannelDropMessage;
 *   log.warn({ reason, item }, 'dropped');
 * });
 * ```
 */
import { type DiagnosticsChannel, diagnosticsChannel } from '../internal/diagnostics.js';
import type { Channel } from './channel.js';
import type { DropReason } from './types.js';

/** The names of the diagnostics channels a {@link Channel} publishes to. */
export const channelDiagnostics: {
  /** Every item a channel drops, with its reason: what `onDrop` sees. Message: {@link ChannelDropMessage}. */
  readonly drop: 'sluice:channel:drop';
  /** A plain `send` or `receive` started or stopped waiting. Message: {@link ChannelWaitMessage}. */
  readonly wait: 'sluice:channel:wait';
} = Object.freeze({ drop: 'sluice:channel:drop', wait: 'sluice:channel:wait' });

/** Published on `sluice:channel:drop` for every item a channel drops (as `onDrop` is called). */
export interface ChannelDropMessage<T = unknown> {
  readonly channel: Channel<T>;
  readonly item: T;
  readonly reason: DropReason;
}

/** Which call waited. Iterator steps and `receiveMany` are receives; `sendAll` sends. */
export type ChannelWaitOp = 'send' | 'receive';

/**
 * How a wait ended: `ok` (sent or received), `expired` (a sent item's deadline passed while
 * its sender waited), `closed` (the channel closed), `aborted` (the signal), `timeout`
 * (`timeoutMs`), `cancelled` (an iterator's `return()` ended a waiting step).
 */
export type ChannelWaitOutcome = 'ok' | 'expired' | 'closed' | 'aborted' | 'timeout' | 'cancelled';

/**
 * Published on `sluice:channel:wait` when a call starts waiting (`phase: 'start'`) and when it
 * stops (`phase: 'end'`, with how long it waited on the channel's clock, in milliseconds). An
 * end comes only for a wait whose start was published: a wait that began before anyone
 * subscribed is not reported.
 */
export type ChannelWaitMessage =
  | {
      readonly phase: 'start';
      readonly channel: Channel<unknown>;
      readonly op: ChannelWaitOp;
    }
  | {
      readonly phase: 'end';
      readonly channel: Channel<unknown>;
      readonly op: ChannelWaitOp;
      readonly outcome: ChannelWaitOutcome;
      readonly waitedMs: number;
    };

/** Where drops are published (module-internal). */
export const DROP: DiagnosticsChannel = /* @__PURE__ */ diagnosticsChannel(channelDiagnostics.drop);
/** Where waits are published (module-internal). */
export const WAIT: DiagnosticsChannel = /* @__PURE__ */ diagnosticsChannel(channelDiagnostics.wait);
