/**
 * What the tests of the scheduled rate limiters (TokenBucket, WindowLimiter,
 * FeedbackRateLimiter …) share: the counters of a limiter nothing has used yet, and the steps
 * of random traffic that every one of them takes.
 */
import type { ScheduleStats } from '../../src/limit/schedule.js';

/** `stats()` counters before any request: spread them into the expected snapshot. */
export const NO_REQUESTS: ScheduleStats = Object.freeze({
  granted: 0,
  tokensGranted: 0,
  refused: 0,
  cancelled: 0,
  timedOut: 0,
  waiting: 0,
});

/** Random traffic: after `dt` ms, `take(n)`, maybe with an abort signal and a timeout. */
export interface TakeStep {
  readonly kind: 'take';
  readonly dt: number;
  readonly n: number;
  readonly abortable: boolean;
  readonly timeoutMs: number | undefined;
}

/** Random traffic: after `dt` ms, `tryTake(n)`. */
export interface TryStep {
  readonly kind: 'try';
  readonly dt: number;
  readonly n: number;
}

/** Random traffic: after `dt` ms, abort one of the abortable takes (`pick` modulo their count). */
export interface AbortStep {
  readonly kind: 'abort';
  readonly dt: number;
  readonly pick: number;
}
