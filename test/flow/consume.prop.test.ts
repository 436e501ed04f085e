/**
 * consume(): random traffic on a ManualClock. Random items arriving over time through a
 * channel or an async generator, random handler durations and failures, every error policy,
 * an optional token bucket, and an optional stop or abort at a random time. Checks, for every
 * run: never more than `concurrency` handlers at once (at every start) and never more held;
 * every received item reaches exactly one outcome, and the pool's counts and lists agree with
 * what the handler saw; retries start exactly `backoffMs` after the failure (no limiter); the
 * limiter's bound holds on starts; `done` settled once; no timer, listener or waiter is left.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  consume,
  type ErrorPolicy,
  type PoolResult,
  type WorkerPool,
} from '../../src/flow/consume.js';
import { Channel, TokenBucket } from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { observe } from '../support/outcome.js';
import { EPS, propRuns } from '../support/prop.js';
import { listeners } from '../support/signals.js';
import { worstSliding } from '../support/traffic.js';

interface ItemPlan {
  /** Milliseconds after the previous item that this one is produced. */
  readonly gapMs: number;
  /** How long each attempt runs. */
  readonly durationMs: number;
  /** Whether attempt k (index k-1) fails; attempts past the end succeed. */
  readonly fails: readonly boolean[];
}

const itemArb: fc.Arbitrary<ItemPlan> = fc.record({
  gapMs: fc.integer({ min: 0, max: 30 }),
  durationMs: fc.integer({ min: 0, max: 60 }),
  fails: fc.array(fc.boolean(), { maxLength: 4 }),
});

const policyArb: fc.Arbitrary<ErrorPolicy> = fc.oneof(
  fc.constant('stop' as const),
  fc.constant('skip' as const),
  fc.record({
    retry: fc.record({
      attempts: fc.integer({ min: 1, max: 4 }),
      backoffMs: fc.oneof(
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 1, max: 20 }).map((k) => (n: number) => k * n),
      ),
    }),
    giveUp: fc.constantFrom('stop' as const, 'skip' as const),
  }),
);

const scenarioArb = fc.record({
  concurrency: fc.integer({ min: 1, max: 4 }),
  capacity: fc.integer({ min: 0, max: 3 }),
  source: fc.constantFrom('channel' as const, 'iterable' as const),
  items: fc.array(itemArb, { maxLength: 16 }),
  policy: policyArb,
  limiter: fc.option(
    fc.record({ rate: fc.integer({ min: 5, max: 50 }), burst: fc.integer({ min: 1, max: 3 }) }),
    { nil: undefined },
  ),
  shutdown: fc.option(
    fc.record({
      kind: fc.constantFrom('stop' as const, 'abort' as const, 'signal' as const),
      atMs: fc.integer({ min: 0, max: 400 }),
    }),
    { nil: undefined },
  ),
});

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer S> ? S : never;

interface Attempt {
  readonly item: number;
  readonly attempt: number;
  readonly startedAt: number;
  endedAt: number;
  /** 'ok', 'failed' (the plan said so) or 'aborted' (its signal aborted it). */
  end: 'running' | 'ok' | 'failed' | 'aborted';
  readonly signal: AbortSignal;
}

function sleep(clock: ManualClock, ms: number, after: () => void, signal?: AbortSignal) {
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clock.clearTimer(timer);
      reject(signal?.reason);
    };
    const timer = clock.setTimer(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
      after();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function attemptsOf(policy: ErrorPolicy): number {
  return typeof policy === 'object' ? policy.retry.attempts : 1;
}

function skips(policy: ErrorPolicy): boolean {
  return policy === 'skip' || (typeof policy === 'object' && policy.giveUp === 'skip');
}

function backoffOf(policy: ErrorPolicy, attempt: number): number {
  if (typeof policy !== 'object') return Number.NaN;
  const { backoffMs } = policy.retry;
  return typeof backoffMs === 'number' ? backoffMs : backoffMs(attempt);
}

async function run(s: Scenario): Promise<void> {
  const clock = new ManualClock();
  const controller = new AbortController();
  const bucket = s.limiter === undefined ? undefined : new TokenBucket({ ...s.limiter, clock });
  const ch = new Channel<number>({ capacity: s.capacity, clock });
  const attempts: Attempt[] = [];
  const reported: [unknown, number, number][] = [];
  let running = 0;
  let produced = 0;
  // Assigned below; `check` runs only after that.
  let pool: WorkerPool<number>;
  const check = (): void => {
    pool.assertInvariants();
    ch.assertInvariants();
    expect(pool.stats().inFlight).toBeLessThanOrEqual(s.concurrency);
  };

  async function* generate(): AsyncGenerator<number> {
    for (const [i, plan] of s.items.entries()) {
      if (plan.gapMs > 0) await sleep(clock, plan.gapMs, () => {});
      produced = i + 1;
      yield i;
    }
  }
  const produce = async (): Promise<void> => {
    for (const [i, plan] of s.items.entries()) {
      if (plan.gapMs > 0) await sleep(clock, plan.gapMs, check);
      await ch.send(i);
      produced = i + 1;
    }
    ch.close();
  };

  pool = consume(
    s.source === 'channel' ? ch : generate(),
    async (item, { signal, attempt }) => {
      running++;
      expect(running).toBeLessThanOrEqual(s.concurrency);
      check();
      const record: Attempt = {
        item,
        attempt,
        startedAt: clock.now(),
        endedAt: Number.NaN,
        end: 'running',
        signal,
      };
      attempts.push(record);
      try {
        const plan = s.items[item] as ItemPlan;
        try {
          await sleep(clock, plan.durationMs, check, signal);
        } catch (reason) {
          record.end = 'aborted';
          throw reason;
        }
        if (plan.fails[attempt - 1] === true) {
          record.end = 'failed';
          throw new Error(`item ${item} attempt ${attempt}`);
        }
        record.end = 'ok';
      } finally {
        record.endedAt = clock.now();
        running--;
      }
    },
    {
      concurrency: s.concurrency,
      limiter: bucket,
      signal: controller.signal,
      onError: s.policy,
      onHandlerError: (error, item, attempt) => reported.push([error, item, attempt]),
      clock,
    },
  );
  const done = observe<PoolResult<number>>(pool.done);
  if (s.source === 'channel') void produce();
  const { shutdown } = s;
  if (shutdown !== undefined) {
    clock.setTimer(() => {
      if (shutdown.kind === 'stop') void pool.stop();
      else if (shutdown.kind === 'abort') void pool.abort('abort');
      else controller.abort('abort');
      check();
    }, shutdown.atMs);
  }
  await clock.runAllAsync();
  check();

  // ---- done settled once, nothing left behind
  expect(done.state).not.toBe('pending');
  expect(clock.pendingTimers).toBe(0);
  expect(listeners(controller.signal)).toBe(0);
  for (const a of attempts) expect(listeners(a.signal)).toBe(0);
  expect(ch.waitingReceivers).toBe(0);
  if (bucket !== undefined) expect(bucket.waiting).toBe(0);
  expect(running).toBe(0);
  if (s.source === 'channel' && produced < s.items.length) expect(ch.state).toBe('open');

  // ---- what the handler saw, item by item
  const stats = pool.stats();
  const result = pool.result;
  expect(result).toBeDefined();
  if (result === undefined) return;
  if (done.state === 'resolved') expect(result).toBe(done.value);
  else expect(result).toMatchObject({ ended: 'failed', error: done.error });
  const abortAsked = shutdown !== undefined && shutdown.kind !== 'stop';
  const aborted = result.ended === 'aborted' || (result.ended === 'failed' && abortAsked);
  const byItem = new Map<number, Attempt[]>();
  for (const a of attempts) byItem.set(a.item, [...(byItem.get(a.item) ?? []), a]);
  const { unhandled, interrupted } = result;
  // Received items are a prefix of the source, started (first attempts) in order.
  const firstStarts = attempts.filter((a) => a.attempt === 1).map((a) => a.item);
  expect(firstStarts).toEqual([...firstStarts].sort((x, y) => x - y));
  const received = [...byItem.keys(), ...unhandled].sort((x, y) => x - y);
  expect(received).toEqual(Array.from({ length: stats.received }, (_, i) => i));
  for (const item of unhandled) expect(byItem.has(item)).toBe(false);
  if (!aborted) expect(unhandled.length + interrupted.length).toBe(0);

  const maxAttempts = attemptsOf(s.policy);
  let handled = 0;
  let skipped = 0;
  let failed = 0;
  let retried = 0;
  let interruptedSeen = 0;
  for (const [item, list] of byItem) {
    // Attempts 1, 2, … k, one at a time, never past the policy's number.
    expect(list.map((a) => a.attempt)).toEqual(list.map((_, i) => i + 1));
    expect(list.length).toBeLessThanOrEqual(maxAttempts);
    retried += list.length - 1;
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1] as Attempt;
      const next = list[i] as Attempt;
      expect(prev.end).toBe('failed');
      const wait = backoffOf(s.policy, prev.attempt);
      if (bucket === undefined) expect(next.startedAt).toBe(prev.endedAt + wait);
      else expect(next.startedAt).toBeGreaterThanOrEqual(prev.endedAt + wait - EPS);
    }
    const last = list[list.length - 1] as Attempt;
    expect(last.end).not.toBe('running');
    if (last.end === 'ok') handled++;
    else if (last.end === 'aborted' || (last.end === 'failed' && list.length < maxAttempts)) {
      // Aborted while running, or waiting to retry when the abort came.
      expect(aborted).toBe(true);
      interruptedSeen++;
      expect(interrupted).toContain(item);
    } else if (skips(s.policy)) skipped++;
    else failed++;
  }
  expect(stats).toMatchObject({
    inFlight: 0,
    running: 0,
    handled,
    skipped,
    failed,
    retried,
    interrupted: interruptedSeen,
    unhandled: unhandled.length,
  });
  expect(stats.received).toBe(byItem.size + unhandled.length);
  expect(result.stats).toEqual(stats);
  expect(interrupted.length).toBe(interruptedSeen);

  // ---- errors: each failed attempt went to exactly one place
  const failures = attempts.filter((a) => a.end === 'failed');
  if (done.state === 'rejected') {
    expect(failed).toBeGreaterThan(0);
    const error = done.error as Error;
    expect(reported.some(([e]) => e === error)).toBe(false);
    expect(reported.length).toBe(failures.length - 1);
  } else {
    expect(failed).toBe(0);
    expect(reported.length).toBe(failures.length);
  }

  // ---- how it ended
  if (shutdown === undefined && result.ended !== 'failed') {
    expect(result.ended).toBe('drained');
    expect(stats.received).toBe(s.items.length);
  }
  if (result.ended === 'aborted') expect(result).toMatchObject({ reason: 'abort' });

  // ---- the limiter's bound holds on starts: in any window W, at most burst + rate·W
  if (s.limiter !== undefined) {
    const starts = attempts.map((a) => ({ t: a.startedAt, n: 1 }));
    for (const windowMs of [1, 100, 250, 1000]) {
      expect(worstSliding(starts, windowMs)).toBeLessThanOrEqual(
        s.limiter.burst + (s.limiter.rate * windowMs) / 1000 + EPS,
      );
    }
  }
}

describe('consume: random traffic (property)', () => {
  it('bound, exactly-once outcomes, counts, backoff times, limiter bound, no leaks', async () => {
    await fc.assert(fc.asyncProperty(scenarioArb, run), { numRuns: propRuns(150) });
  });

  it('without shutdown or stopping failures, every item is handled or skipped and it drains', async () => {
    const arb = scenarioArb.map((s) => ({ ...s, shutdown: undefined, policy: 'skip' as const }));
    await fc.assert(fc.asyncProperty(arb, run), { numRuns: propRuns(50) });
  });
});
