/**
 * The lab's default scenario: the three programs of the original design note, as one workload
 * compared under four configurations.
 *
 * One producer makes an item every 100 ms; one consumer takes 300 ms per item: the producer is
 * three times too fast. The programs are
 * 1. a bounded channel of 5 where the producer waits (`block`, Go's `ch <- v`);
 * 2. a queue of 5 that drops when full: the incoming item (`drop-newest`) or the oldest buffered
 *    one (`drop-oldest`);
 * 3. a token bucket of 5 refilled one token every 200 ms, in front of the producer, which skips
 *    an item that finds no token (`tryTake`, the note's `Take()`).
 *
 * Why one scenario and not two: every program is the same producer against the same consumer,
 * so the fourth configuration is the note's token bucket in front of the same channel and
 * consumer. Its channel drops the newest item, so the producer keeps its 100 ms pace, as in the
 * note; the bucket passes 5 items per second (one per 200 ms, after a burst of 5), and the
 * consumer takes 3⅓, so the table shows both what the bucket skips and what it cannot prevent.
 */
import type { Scenario } from './types.js';

/** The design note's workload, simulated for a minute. */
export const DEFAULT_SCENARIO: Scenario = {
  name: 'design note',
  description:
    'A producer every 100 ms, a consumer taking 300 ms, a channel of 5: the producer waits ' +
    '(block), or the newest or the oldest item is dropped; and the token bucket of 5 refilled ' +
    'every 200 ms in front of the producer, which skips items that find no token.',
  durationMs: 60_000,
  seed: 1,
  producers: [{ arrivals: { kind: 'constant', intervalMs: 100 } }],
  consumers: { count: 1, service: { kind: 'constant', ms: 300 } },
  configurations: [
    { label: 'block', capacity: 5, overflow: 'block' },
    { label: 'drop-newest', capacity: 5, overflow: 'drop-newest' },
    { label: 'drop-oldest', capacity: 5, overflow: 'drop-oldest' },
    {
      label: 'token bucket',
      capacity: 5,
      overflow: 'drop-newest',
      limiter: { kind: 'token-bucket', rate: 5, burst: 5, at: 'producers', mode: 'try' },
    },
  ],
};
