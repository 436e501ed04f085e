export { Channel } from './channel/channel.js';
export type {
  ReceiveCase,
  ReceiveCaseResult,
  SelectCase,
  SelectDefault,
  SelectOptions,
  SelectResult,
  SendCase,
  SendCaseResult,
} from './channel/select.js';
export { onReceive, onSend, select } from './channel/select.js';
export type {
  ChannelOptions,
  ChannelState,
  ChannelStats,
  DropHandler,
  DropPolicy,
  DroppingChannelOptions,
  DropReason,
  NotSent,
  OverflowPolicy,
  ReceiveResult,
  SendOutcome,
  SendResult,
  Sent,
  SentEvicting,
  WaitingChannelOptions,
  WaitOptions,
} from './channel/types.js';
export type { Clock, TimerHandle } from './clock.js';
export { MAX_TIMER_DELAY_MS, systemClock } from './clock.js';
export { ChannelClosedError, ChannelFullError, SluiceError, TimeoutError } from './errors.js';
export { InvariantError } from './internal/invariant.js';
