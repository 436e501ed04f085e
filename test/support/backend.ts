/**
 * A simulated backend for adaptive limits, on a ManualClock, with no promises: everything is a
 * timer callback, so a run of tens of thousands of requests takes milliseconds and is exactly
 * reproducible.
 *
 * The server has `workers` workers and a FIFO queue: a request starts when a worker is free and
 * takes `serviceMs` (× a seeded jitter in [1 − jitter, 1 + jitter]); once more requests are in
 * flight than workers, the rest queue and latency grows. A queue longer than `maxQueue` turns
 * arrivals away at once (a drop: a 503). The client has unlimited demand: it keeps as many
 * requests in flight as the limiter allows, through a real `AdaptiveLimiter`.
 */
import { AdaptiveLimiter } from '../../src/adaptive/adaptive-limiter.js';
import type { LimitAlgorithm } from '../../src/adaptive/types.js';
import { ManualClock } from '../../src/testing/index.js';
import { seeded } from './random.js';

export { seeded };

export interface BackendOptions {
  readonly algorithm: LimitAlgorithm;
  /** Workers from the start; `halveAtMs` halves them (rounding up) at that time. */
  readonly workers: number;
  readonly serviceMs: number;
  readonly durationMs: number;
  readonly halveAtMs?: number;
  /** Relative service-time jitter (default 0.1). */
  readonly jitter?: number;
  /** Queue length past which the server turns requests away (default Infinity). */
  readonly maxQueue?: number;
  readonly seed?: number;
}

export interface BackendRun {
  /** [time, limit] after every sample. */
  readonly limits: [number, number][];
  /** [finish time, latency] of every request that was served. */
  readonly latencies: [number, number][];
  /** Requests turned away. */
  readonly dropped: number;
}

export function simulate(options: BackendOptions): BackendRun {
  const { algorithm, serviceMs, durationMs } = options;
  const jitter = options.jitter ?? 0.1;
  const maxQueue = options.maxQueue ?? Number.POSITIVE_INFINITY;
  const random = seeded(options.seed ?? 1);
  const clock = new ManualClock();
  const limiter = new AdaptiveLimiter({ algorithm, clock });
  const limits: [number, number][] = [];
  const latencies: [number, number][] = [];
  let dropped = 0;
  let workers = options.workers;
  let busy = 0;
  const queue: (() => void)[] = [];

  const serve = (done: () => void): void => {
    busy++;
    const time = serviceMs * (1 - jitter + 2 * jitter * random());
    clock.setTimer(() => {
      busy--;
      while (busy < workers && queue.length > 0) serve(queue.shift() as () => void);
      done();
    }, time);
  };

  const fill = (): void => {
    if (clock.now() >= durationMs) return;
    for (let permit = limiter.tryAcquire(); permit !== undefined; permit = limiter.tryAcquire()) {
      const p = permit;
      const start = clock.now();
      const done = (): void => {
        latencies.push([clock.now(), clock.now() - start]);
        p.success();
        limits.push([clock.now(), limiter.limit]);
        fill();
      };
      if (busy < workers && queue.length === 0) serve(done);
      else if (queue.length < maxQueue) queue.push(done);
      else {
        dropped++;
        // the 503 comes back after a network round trip of a tenth of the service time
        clock.setTimer(() => {
          p.dropped();
          limits.push([clock.now(), limiter.limit]);
          fill();
        }, serviceMs / 10);
      }
    }
  };

  if (options.halveAtMs !== undefined) {
    clock.setTimer(() => {
      workers = Math.ceil(workers / 2);
    }, options.halveAtMs);
  }
  fill();
  clock.runAll(10_000_000);
  return { limits, latencies, dropped };
}

/** The `q` quantile (0..1) of `values`. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}
