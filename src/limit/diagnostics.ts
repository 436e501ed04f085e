/**
 * The `node:diagnostics_channel` events a rate limiter publishes (`TokenBucket`, `Pacer`,
 * `WindowLimiter`, `FeedbackRateLimiter`: every limiter built on the scheduler): the start and
 * end of every `take` that has to wait. A `take` granted at once, refused at once for its
 * `timeoutMs`, and `reserve()` (the caller waits by itself) are not waits here. Free when nobody
 * subscribes, as for channels (see ../channel/diagnostics.ts).
 *
 * When subscribers run: a wait's start, synchronously as the last step of `take`; its end, on a
 * microtask queued when the waiter is settled, after the limiter's state change and before the
 * code awaiting `take` resumes.
 */
import { type DiagnosticsChannel, diagnosticsChannel } from '../internal/diagnostics.js';
import type { RateLimiter } from './types.js';

/** The names of the diagnostics channels a rate limiter publishes to. */
export const limiterDiagnostics: {
  /** A `take` started or stopped waiting. Message: {@link LimiterWaitMessage}. */
  readonly wait: 'sluice:limiter:wait';
} = Object.freeze({ wait: 'sluice:limiter:wait' });

/**
 * How a limiter wait ended: `ok` (the tokens were granted), `aborted` (the signal), `timeout`
 * (a rate or size change pushed its time past its `timeoutMs`).
 */
export type LimiterWaitOutcome = 'ok' | 'aborted' | 'timeout';

/**
 * Published on `sluice:limiter:wait` when a `take(n)` has to wait (`phase: 'start'`, with the
 * wait its place in the schedule implies then, `delayMs`; a later rate change moves it) and
 * when it stops (`phase: 'end'`, with how long it waited on the limiter's clock). An end comes
 * only for a wait whose start was published.
 */
export type LimiterWaitMessage =
  | {
      readonly phase: 'start';
      readonly limiter: RateLimiter;
      readonly n: number;
      readonly delayMs: number;
    }
  | {
      readonly phase: 'end';
      readonly limiter: RateLimiter;
      readonly n: number;
      readonly outcome: LimiterWaitOutcome;
      readonly waitedMs: number;
    };

/** Where limiter waits are published (module-internal). */
export const LIMITER_WAIT: DiagnosticsChannel = /* @__PURE__ */ diagnosticsChannel(
  limiterDiagnostics.wait,
);
