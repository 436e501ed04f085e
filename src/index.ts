export type {
  AdaptiveAcquireOptions,
  AdaptiveLimiterOptions,
  AdaptiveLimiterStats,
  AdaptivePermit,
  PartitionStats,
} from './adaptive/adaptive-limiter.js';
export { AdaptiveLimiter } from './adaptive/adaptive-limiter.js';
export type { AimdOptions } from './adaptive/aimd.js';
export { aimd } from './adaptive/aimd.js';
export type {
  ClientThrottleOptions,
  ClientThrottleStats,
  RunOptions as ClientThrottleRunOptions,
} from './adaptive/client-throttle.js';
export { ClientThrottle, ThrottledError } from './adaptive/client-throttle.js';
export type { EnvoyGradientOptions } from './adaptive/envoy-gradient.js';
export { envoyGradient } from './adaptive/envoy-gradient.js';
export type {
  FeedbackFetchOptions,
  FeedbackLimiter,
  ResponseLike,
} from './adaptive/feedback-fetch.js';
export { feedbackFetch } from './adaptive/feedback-fetch.js';
export type {
  AimdFeedbackOptions,
  CubicFeedbackOptions,
  FeedbackRateBaseOptions,
  FeedbackRateLimiterOptions,
  FeedbackRateStats,
  ThrottleFeedback,
} from './adaptive/feedback-rate.js';
export { FeedbackRateLimiter } from './adaptive/feedback-rate.js';
export type { Gradient2Options } from './adaptive/gradient2.js';
export { gradient2 } from './adaptive/gradient2.js';
export { parseRetryAfter } from './adaptive/retry-after.js';
export type { LimitAlgorithm, LimitBounds, Sample } from './adaptive/types.js';
export type { VegasOptions } from './adaptive/vegas.js';
export { vegas } from './adaptive/vegas.js';
export type { WindowedOptions } from './adaptive/windowed.js';
export { windowed } from './adaptive/windowed.js';
export { Channel } from './channel/channel.js';
export type { CoDelOptions } from './channel/codel.js';
export type {
  ChannelDropMessage,
  ChannelWaitMessage,
  ChannelWaitOp,
  ChannelWaitOutcome,
} from './channel/diagnostics.js';
export { channelDiagnostics } from './channel/diagnostics.js';
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
  ReceiveManyOptions,
  ReceiveResult,
  SendAllResult,
  SendOutcome,
  SendResult,
  Sent,
  SentEvicting,
  WaitingChannelOptions,
  WaitOptions,
} from './channel/types.js';
export type { Clock, TimerHandle } from './clock.js';
export { MAX_TIMER_DELAY_MS, systemClock } from './clock.js';
export {
  BacklogFullError,
  ChannelClosedError,
  ChannelFullError,
  SluiceError,
  TimeoutError,
} from './errors.js';
export type {
  BroadcastFeedResult,
  BroadcastOptions,
  BroadcastResult,
  BroadcastSendOptions,
  BroadcastStats,
  SubscriberOutcome,
  Withdrawn,
} from './flow/broadcast.js';
export { Broadcast, broadcast } from './flow/broadcast.js';
export type {
  ConsumeOptions,
  ErrorPolicy,
  Handler,
  HandlerContext,
  PoolFailure,
  PoolResult,
  RetryPolicy,
  WorkerPool,
  WorkerPoolStats,
} from './flow/consume.js';
export { consume } from './flow/consume.js';
export type { MergeOptions } from './flow/merge.js';
export { Merged, merge } from './flow/merge.js';
export type {
  DropSite as PipelineDropSite,
  Pipeline,
  PipelineIterator,
  PipelineOptions,
  PipelineStageStats,
  PipelineStats,
  Stage,
  StageContext,
  StageOptions,
} from './flow/pipeline.js';
export { pipeline, stage } from './flow/pipeline.js';
export type {
  AbortChannelAction,
  ChannelReadableStreamOptions,
  ChannelWritableStreamOptions,
  ChannelWritingOptions,
  FeedResult,
  FromAsyncIterableOptions,
  UndeliveredHandler,
} from './flow/web-streams.js';
export { fromAsyncIterable, toReadableStream, toWritableStream } from './flow/web-streams.js';
export { InvariantError } from './internal/invariant.js';
export type { AllOfOptions } from './limit/composite.js';
export { allOf } from './limit/composite.js';
export type { LimiterWaitMessage, LimiterWaitOutcome } from './limit/diagnostics.js';
export { limiterDiagnostics } from './limit/diagnostics.js';
export type { KeyedLimiterOptions, KeyOverflowPolicy } from './limit/keyed.js';
export { KeyedLimiter, KeyLimitError } from './limit/keyed.js';
export type { LimitedOptions } from './limit/limited.js';
export { limited } from './limit/limited.js';
export type { PacerOptions } from './limit/pacer.js';
export { Pacer } from './limit/pacer.js';
export type { ScheduleStats } from './limit/schedule.js';
export type {
  AcquireOptions,
  Permit,
  SemaphoreOptions,
  SemaphoreStats,
} from './limit/semaphore.js';
export { Semaphore } from './limit/semaphore.js';
export type { TokenBucketOptions, TokenBucketStats } from './limit/token-bucket.js';
export { perInterval, TokenBucket } from './limit/token-bucket.js';
export type { RateLimiter, Reservation, TakeOptions, TakeResult } from './limit/types.js';
export type {
  WindowAlgorithm,
  WindowLimiterOptions,
  WindowLimiterStats,
} from './limit/window-limiter.js';
export { WindowLimiter } from './limit/window-limiter.js';
