/**
 * What the metrics exporters read: for each kind of primitive, which numbers of its `stats()`
 * become which metrics. One table, so that `sluice/metrics/prometheus` and
 * `sluice/metrics/otel` publish the same names, units and labels.
 *
 * A reading's `name` is the OpenTelemetry name without the `sluice.` prefix
 * (`channel.dropped`). The Prometheus name is derived the way OpenTelemetry's Prometheus
 * exporter derives one: dots become underscores, unit `s` adds `_seconds`, a counter adds
 * `_total` (`sluice_channel_dropped_total`). Times are read in milliseconds and published in
 * seconds, as both conventions ask.
 *
 * Every series carries the label `name` (the name a primitive was registered under); a reading
 * with several series per primitive adds one more label (`reason`, `outcome`, `state`,
 * `partition`, `stage`).
 *
 * Nothing here runs between scrapes: the exporters call `stats()` when they are read.
 */
import type { AdaptiveLimiterStats } from '../adaptive/adaptive-limiter.js';
import type { ClientThrottleStats } from '../adaptive/client-throttle.js';
import type { ChannelStats, DropReason } from '../channel/types.js';
import type { BroadcastStats } from '../flow/broadcast.js';
import type { WorkerPoolStats } from '../flow/consume.js';
import type { PipelineStats } from '../flow/pipeline.js';
import type { ScheduleStats } from '../limit/schedule.js';
import type { SemaphoreStats } from '../limit/semaphore.js';

/** Anything with a `stats()` snapshot of type `S`. */
export interface HasStats<S> {
  stats(): S;
}

/**
 * What a rate limiter's `stats()` holds: the scheduler's counters, and the fields each kind
 * adds when it has them (a token bucket's `rate`, a window's `limit`, a feedback limiter's
 * `measuredRate`…). `TokenBucket`, `Pacer`, `WindowLimiter` and `FeedbackRateLimiter` fit.
 */
export interface LimiterStats extends ScheduleStats {
  readonly rate?: number;
  readonly burst?: number;
  readonly available?: number;
  readonly limit?: number;
  readonly windowMs?: number;
  readonly measuredRate?: number;
  readonly pausedForMs?: number;
  readonly throttles?: number;
  readonly successes?: number;
}

/**
 * The primitives to export, by kind, each under the name that becomes its `name` label. Every
 * kind is optional; more can be added later with `SluiceMetrics.add`.
 */
export interface SluiceSources {
  /** `Channel`s. */
  readonly channels?: Readonly<Record<string, HasStats<ChannelStats>>> | undefined;
  /** Rate limiters: `TokenBucket`, `Pacer`, `WindowLimiter`, `FeedbackRateLimiter`. */
  readonly limiters?: Readonly<Record<string, HasStats<LimiterStats>>> | undefined;
  /** `Semaphore`s. */
  readonly semaphores?: Readonly<Record<string, HasStats<SemaphoreStats>>> | undefined;
  /** `AdaptiveLimiter`s. */
  readonly adaptive?: Readonly<Record<string, HasStats<AdaptiveLimiterStats>>> | undefined;
  /** `KeyedLimiter`s: how many keys each holds. */
  readonly keyed?: Readonly<Record<string, { readonly size: number }>> | undefined;
  /** `ClientThrottle`s. */
  readonly throttles?: Readonly<Record<string, HasStats<ClientThrottleStats>>> | undefined;
  /** Worker pools, as `consume()` returns them. */
  readonly pools?: Readonly<Record<string, HasStats<WorkerPoolStats>>> | undefined;
  /** Pipeline runs: the iterator a pipeline's `[Symbol.asyncIterator]()` returns. */
  readonly pipelines?: Readonly<Record<string, HasStats<PipelineStats>>> | undefined;
  /** `Broadcast`s. */
  readonly broadcasts?: Readonly<Record<string, HasStats<BroadcastStats>>> | undefined;
}

/** A kind of primitive: a key of {@link SluiceSources}. */
export type SourceKind = keyof SluiceSources;

/** What a primitive of `kind` must be. */
export type SourceOf<K extends SourceKind> = NonNullable<SluiceSources[K]>[string];

/** Gauges go up and down; counters only go up (they restart at 0 with a new primitive). */
export type ReadingType = 'gauge' | 'counter';

/** Hands one series' value to the exporter; `labelValue` when the reading has a `label`. */
export type Emit = (value: number, labelValue?: string) => void;

/** One metric, read from the snapshots of every primitive of one kind. */
export interface Reading<S = unknown> {
  /** The OpenTelemetry name without `sluice.` (see the top of this file). */
  readonly name: string;
  readonly type: ReadingType;
  /** UCUM, as OpenTelemetry wants it: `s`, `1`, or an annotation such as `{item}`. */
  readonly unit: string;
  readonly description: string;
  /** The label telling apart the series of one primitive, if it has several. */
  readonly label?: string | undefined;
  /** Emits this reading's series for one snapshot (none when the primitive lacks the field). */
  readonly read: (stats: S, emit: Emit) => void;
}

/** One kind of primitive: how to snapshot one, and what to read from the snapshot. */
export interface SourceKindSpec<P = unknown, S = unknown> {
  readonly kind: SourceKind;
  /** What the primitive must have, for the error message when it does not. */
  readonly expects: string;
  readonly accepts: (primitive: unknown) => boolean;
  readonly snapshot: (primitive: P) => S;
  readonly readings: readonly Reading<S>[];
}

/** The Prometheus name of `reading`, after `prefix` (default `sluice_`). */
export function prometheusName(reading: Reading, prefix = 'sluice_'): string {
  const base = prefix + reading.name.replaceAll('.', '_');
  const unit = reading.unit === 's' ? '_seconds' : '';
  return base + unit + (reading.type === 'counter' ? '_total' : '');
}

/** The OpenTelemetry name of `reading`. */
export function otelName(reading: Reading): string {
  return `sluice.${reading.name}`;
}

// ---- the table -------------------------------------------------------------------------------

function gauge<S>(
  name: string,
  unit: string,
  description: string,
  get: (stats: S) => number | undefined,
): Reading<S> {
  return { name, type: 'gauge', unit, description, read: emitOne(get) };
}

function counter<S>(
  name: string,
  unit: string,
  description: string,
  get: (stats: S) => number | undefined,
): Reading<S> {
  return { name, type: 'counter', unit, description, read: emitOne(get) };
}

function emitOne<S>(get: (stats: S) => number | undefined): (stats: S, emit: Emit) => void {
  return (stats, emit) => {
    const value = get(stats);
    if (value !== undefined) emit(value);
  };
}

/** A reading with one series per key of what `get` returns, labelled `label`. */
function labelled<S>(
  type: ReadingType,
  name: string,
  unit: string,
  description: string,
  label: string,
  get: (stats: S) => Readonly<Record<string, number>>,
): Reading<S> {
  return {
    name,
    type,
    unit,
    description,
    label,
    read(stats, emit) {
      for (const [key, value] of Object.entries(get(stats))) emit(value, key);
    },
  };
}

const seconds = (ms: number | undefined): number | undefined =>
  ms === undefined ? undefined : ms / 1000;

const DROP_REASONS: readonly DropReason[] = ['overflow', 'evicted', 'discarded', 'expired', 'shed'];

const CHANNEL_READINGS: readonly Reading<ChannelStats>[] = [
  gauge('channel.size', '{item}', 'Items buffered now.', (s) => s.size),
  gauge('channel.capacity', '{item}', 'The most items the buffer holds.', (s) => s.capacity),
  gauge(
    'channel.high_water',
    '{item}',
    'The most items ever buffered at once.',
    (s) => s.highWater,
  ),
  gauge(
    'channel.waiting_senders',
    '{call}',
    'Senders waiting for room (select cases included).',
    (s) => s.waitingSenders,
  ),
  gauge(
    'channel.waiting_receivers',
    '{call}',
    'Receivers waiting for an item (iterators and select cases included).',
    (s) => s.waitingReceivers,
  ),
  labelled(
    'gauge',
    'channel.state',
    '',
    "1 for the channel's state (open, closed, destroyed), 0 for the others.",
    'state',
    (s) => ({
      open: s.state === 'open' ? 1 : 0,
      closed: s.state === 'closed' ? 1 : 0,
      destroyed: s.state === 'destroyed' ? 1 : 0,
    }),
  ),
  counter(
    'channel.sent',
    '{item}',
    'Items accepted: buffered or handed to a receiver.',
    (s) => s.sent,
  ),
  counter('channel.received', '{item}', 'Items taken by receivers.', (s) => s.received),
  counter(
    'channel.refused',
    '{item}',
    'Sends refused because the channel was full (trySend, reject): handed back, not dropped.',
    (s) => s.refused,
  ),
  {
    name: 'channel.dropped',
    type: 'counter',
    unit: '{item}',
    description: 'Items discarded, by reason (overflow, evicted, discarded, expired, shed).',
    label: 'reason',
    read(stats, emit) {
      for (const reason of DROP_REASONS) emit(stats.dropped[reason] ?? 0, reason);
    },
  },
];

const LIMITER_READINGS: readonly Reading<LimiterStats>[] = [
  gauge('limiter.waiting', '{call}', 'Callers of take waiting now.', (s) => s.waiting),
  counter(
    'limiter.granted',
    '{request}',
    'Requests granted (tryTake, take and reserve).',
    (s) => s.granted,
  ),
  counter('limiter.tokens_granted', '{token}', 'Tokens granted.', (s) => s.tokensGranted),
  counter('limiter.refused', '{request}', 'tryTake calls refused.', (s) => s.refused),
  counter(
    'limiter.cancelled',
    '{request}',
    'Waits and reservations given back by abort or cancel().',
    (s) => s.cancelled,
  ),
  counter(
    'limiter.timed_out',
    '{request}',
    'take calls refused or dropped for passing their timeoutMs.',
    (s) => s.timedOut,
  ),
  gauge('limiter.rate', '{token}/s', 'Tokens per second (token buckets).', (s) => s.rate),
  gauge('limiter.burst', '{token}', 'The bucket size (token buckets).', (s) => s.burst),
  gauge(
    'limiter.available',
    '{token}',
    'Tokens now; negative while requests wait (token buckets).',
    (s) => s.available,
  ),
  gauge(
    'limiter.limit',
    '{request}',
    'Requests allowed per window (window limiters).',
    (s) => s.limit,
  ),
  gauge('limiter.window', 's', 'The window length (window limiters).', (s) => seconds(s.windowMs)),
  gauge(
    'limiter.measured_rate',
    '{response}/s',
    'The measured response rate (feedback rate limiters).',
    (s) => s.measuredRate,
  ),
  gauge('limiter.paused', 's', 'Time left in a Retry-After pause (feedback rate limiters).', (s) =>
    seconds(s.pausedForMs),
  ),
  counter(
    'limiter.throttles',
    '{response}',
    'Throttling responses reported (feedback rate limiters).',
    (s) => s.throttles,
  ),
  counter(
    'limiter.successes',
    '{response}',
    'Successful responses reported (feedback rate limiters).',
    (s) => s.successes,
  ),
];

const SEMAPHORE_READINGS: readonly Reading<SemaphoreStats>[] = [
  gauge('semaphore.capacity', '{permit}', 'Units the semaphore holds.', (s) => s.capacity),
  gauge('semaphore.in_use', '{permit}', 'Units held now.', (s) => s.inUse),
  gauge('semaphore.waiting', '{call}', 'Callers waiting for units.', (s) => s.waiting),
  counter('semaphore.acquired', '{permit}', 'Permits handed out.', (s) => s.acquired),
  counter(
    'semaphore.cancelled',
    '{call}',
    'Waits that ended without a permit (abort or timeout).',
    (s) => s.cancelled,
  ),
];

const ADAPTIVE_READINGS: readonly Reading<AdaptiveLimiterStats>[] = [
  gauge('adaptive.limit', '{request}', 'The concurrency limit now.', (s) => s.limit),
  gauge('adaptive.inflight', '{request}', 'Permits held now.', (s) => s.inflight),
  gauge('adaptive.waiting', '{call}', 'Callers waiting for a permit.', (s) => s.waiting),
  counter('adaptive.acquired', '{request}', 'Permits handed out.', (s) => s.acquired),
  labelled(
    'counter',
    'adaptive.settled',
    '{request}',
    'Permits settled, by outcome (success, dropped, ignored).',
    'outcome',
    (s) => ({ success: s.succeeded, dropped: s.dropped, ignored: s.ignored }),
  ),
  counter(
    'adaptive.rejected',
    '{request}',
    'Requests refused at once because the backlog was full.',
    (s) => s.rejected,
  ),
  counter('adaptive.timed_out', '{request}', 'Waits ended by their timeout.', (s) => s.timedOut),
  counter('adaptive.cancelled', '{request}', 'Waits ended by their signal.', (s) => s.cancelled),
  labelled(
    'gauge',
    'adaptive.partition.limit',
    '{request}',
    "A partition's part of the limit.",
    'partition',
    (s) => mapValues(s.partitions, (p) => p.limit),
  ),
  labelled(
    'gauge',
    'adaptive.partition.inflight',
    '{request}',
    "A partition's permits held now.",
    'partition',
    (s) => mapValues(s.partitions, (p) => p.inflight),
  ),
  labelled(
    'gauge',
    'adaptive.partition.waiting',
    '{call}',
    "A partition's callers waiting.",
    'partition',
    (s) => mapValues(s.partitions, (p) => p.waiting),
  ),
];

const KEYED_READINGS: readonly Reading<{ readonly size: number }>[] = [
  gauge('keyed.keys', '{key}', 'Limiters (keys) held now.', (s) => s.size),
];

const THROTTLE_READINGS: readonly Reading<ClientThrottleStats>[] = [
  gauge(
    'throttle.window_requests',
    '{request}',
    'Attempts in the window, those rejected locally included.',
    (s) => s.requests,
  ),
  gauge(
    'throttle.window_accepts',
    '{request}',
    'Requests the backend accepted in the window.',
    (s) => s.accepts,
  ),
  gauge(
    'throttle.reject_probability',
    '1',
    'The probability the next attempt is rejected locally.',
    (s) => s.rejectProbability,
  ),
  counter('throttle.requests', '{request}', 'Attempts.', (s) => s.totalRequests),
  counter(
    'throttle.rejected',
    '{request}',
    'Attempts rejected locally.',
    (s) => s.totalRejectedLocally,
  ),
  labelled(
    'counter',
    'throttle.outcomes',
    '{request}',
    'Outcomes recorded, by whether the backend accepted the request (accepted, not_accepted).',
    'outcome',
    (s) => ({ accepted: s.totalAccepted, not_accepted: s.totalNotAccepted }),
  ),
];

const POOL_READINGS: readonly Reading<WorkerPoolStats>[] = [
  gauge(
    'pool.in_flight',
    '{item}',
    'Items held: received, without a final outcome yet.',
    (s) => s.inFlight,
  ),
  gauge('pool.running', '{call}', 'Handler attempts under way now.', (s) => s.running),
  counter('pool.received', '{item}', 'Items taken from the source.', (s) => s.received),
  labelled(
    'counter',
    'pool.completed',
    '{item}',
    'Items with a final outcome (handled, failed, skipped, unhandled, interrupted).',
    'outcome',
    (s) => ({
      handled: s.handled,
      failed: s.failed,
      skipped: s.skipped,
      unhandled: s.unhandled,
      interrupted: s.interrupted,
    }),
  ),
  counter('pool.retried', '{call}', 'Retry attempts started.', (s) => s.retried),
];

const PIPELINE_READINGS: readonly Reading<PipelineStats>[] = [
  counter('pipeline.pulled', '{item}', 'Items taken from the source.', (s) => s.pulled),
  counter('pipeline.delivered', '{item}', 'Final results handed on.', (s) => s.delivered),
  counter('pipeline.failed', '{item}', 'Items whose stage function failed.', (s) => s.failed),
  counter('pipeline.dropped', '{item}', 'Items dropped by a stop.', (s) => s.dropped),
  labelled(
    'gauge',
    'pipeline.stage.running',
    '{call}',
    'Calls of the stage function under way.',
    'stage',
    (s) => byStage(s, (stage) => stage.running),
  ),
  labelled(
    'gauge',
    'pipeline.stage.buffered',
    '{item}',
    'Results held for the next stage.',
    'stage',
    (s) => byStage(s, (stage) => stage.buffered),
  ),
  labelled(
    'counter',
    'pipeline.stage.started',
    '{call}',
    'Calls of the stage function started.',
    'stage',
    (s) => byStage(s, (stage) => stage.started),
  ),
  labelled(
    'counter',
    'pipeline.stage.finished',
    '{call}',
    'Calls of the stage function fulfilled.',
    'stage',
    (s) => byStage(s, (stage) => stage.finished),
  ),
];

const BROADCAST_READINGS: readonly Reading<BroadcastStats>[] = [
  gauge('broadcast.subscribers', '{subscriber}', 'Subscribers now.', (s) => s.subscribers),
  counter('broadcast.published', '{item}', 'Items published.', (s) => s.published),
  counter(
    'broadcast.unheard',
    '{item}',
    'Items published while there was no subscriber.',
    (s) => s.unheard,
  ),
  labelled(
    'counter',
    'broadcast.deliveries',
    '{delivery}',
    'Per-subscriber outcomes of settled publishes (delivered, dropped, refused, closed, withdrawn).',
    'outcome',
    (s) => ({
      delivered: s.delivered,
      dropped: s.dropped,
      refused: s.refused,
      closed: s.closed,
      withdrawn: s.withdrawn,
    }),
  ),
];

function mapValues<V>(
  record: Readonly<Record<string, V>>,
  get: (value: V) => number,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(record)) out[key] = get(value);
  return out;
}

function byStage(
  stats: PipelineStats,
  get: (stage: PipelineStats['stages'][number]) => number,
): Record<string, number> {
  const out: Record<string, number> = {};
  stats.stages.forEach((stage, i) => {
    out[String(i)] = get(stage);
  });
  return out;
}

const hasStats = (primitive: unknown): boolean =>
  typeof (primitive as { stats?: unknown } | null)?.stats === 'function';

function statsKind<S>(
  kind: SourceKind,
  expects: string,
  readings: readonly Reading<S>[],
): SourceKindSpec {
  return {
    kind,
    expects,
    accepts: hasStats,
    snapshot: (primitive) => (primitive as HasStats<S>).stats(),
    readings: readings as readonly Reading<unknown>[],
  } satisfies SourceKindSpec<unknown, unknown>;
}

/** Every kind of primitive, in the order the exporters register them. */
export const SOURCE_KINDS: readonly SourceKindSpec[] = [
  statsKind('channels', 'a Channel', CHANNEL_READINGS),
  statsKind('limiters', 'a rate limiter with stats()', LIMITER_READINGS),
  statsKind('semaphores', 'a Semaphore', SEMAPHORE_READINGS),
  statsKind('adaptive', 'an AdaptiveLimiter', ADAPTIVE_READINGS),
  {
    kind: 'keyed',
    expects: 'a KeyedLimiter',
    accepts: (p) => typeof (p as { size?: unknown } | null)?.size === 'number',
    snapshot: (p) => ({ size: (p as { size: number }).size }),
    readings: KEYED_READINGS as readonly Reading<unknown>[],
  },
  statsKind('throttles', 'a ClientThrottle', THROTTLE_READINGS),
  statsKind('pools', 'a worker pool (what consume() returns)', POOL_READINGS),
  statsKind('pipelines', "a pipeline run (a pipeline's iterator)", PIPELINE_READINGS),
  statsKind('broadcasts', 'a Broadcast', BROADCAST_READINGS),
];
