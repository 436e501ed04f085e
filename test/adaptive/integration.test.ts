/**
 * An AdaptiveLimiter in place of a fixed `concurrency`: in the worker pool (`consume`) and in a
 * pipeline stage. The limit comes from a scripted algorithm, so each test decides it; time is a
 * ManualClock and nothing sleeps.
 */
import { describe, expect, it } from 'vitest';
import { AdaptiveLimiter } from '../../src/adaptive/adaptive-limiter.js';
import { consume } from '../../src/flow/consume.js';
import { pipeline, stage } from '../../src/flow/pipeline.js';
import { Channel, TimeoutError } from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { flush } from '../support/clock.js';
import { Scripted } from '../support/scripted-algorithm.js';

interface Pending {
  readonly item: number;
  resolve(): void;
  reject(error: unknown): void;
}

/** A handler whose calls wait for the test; checks `running <= limit` at every start. */
function handlerUnder(limiter: AdaptiveLimiter) {
  const pending: Pending[] = [];
  let running = 0;
  const starts: number[] = [];
  const handler = (item: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      running++;
      starts.push(running);
      expect(running).toBeLessThanOrEqual(limiter.limit);
      expect(limiter.inflight).toBeGreaterThanOrEqual(running);
      const done = (): void => {
        running--;
      };
      pending.push({
        item,
        resolve: () => {
          done();
          resolve();
        },
        reject: (error) => {
          done();
          reject(error);
        },
      });
    });
  return { pending, handler, starts };
}

describe('consume with an adaptive limiter', () => {
  it('runs at most the limit, takes more items when it rises, and samples each attempt', async () => {
    const clock = new ManualClock();
    const algorithm = new Scripted(2);
    const limiter = new AdaptiveLimiter({ algorithm, clock });
    const ch = new Channel<number>({ capacity: 100 });
    for (let i = 0; i < 10; i++) ch.trySend(i);
    ch.close();
    const { pending, handler } = handlerUnder(limiter);
    const pool = consume(ch, handler, { concurrency: limiter, onError: 'skip', clock });
    await flush();
    expect(pending.map((p) => p.item)).toEqual([0, 1]);
    expect(pool.stats().inFlight).toBe(2); // no read-ahead past the limit
    expect(ch.size).toBe(8);
    algorithm.next = 4;
    clock.advance(5);
    pending.shift()?.resolve(); // success, rtt 5: limit 4
    await flush();
    expect(pending.map((p) => p.item)).toEqual([1, 2, 3, 4]);
    algorithm.next = 1;
    pending.shift()?.reject(new TimeoutError(5)); // a drop: limit 1
    await flush();
    expect(pending).toHaveLength(3); // 3 already running, none started
    pending.shift()?.reject(new Error('bad item')); // ignored: no sample
    pending.shift()?.resolve();
    await flush();
    expect(pending.map((p) => p.item)).toEqual([4]);
    pending.shift()?.resolve();
    await flush();
    while (pending.length > 0) {
      pending.shift()?.resolve();
      await flush();
    }
    const result = await pool.done;
    expect(result.ended).toBe('drained');
    expect(algorithm.samples.map(([s]) => s.dropped)).toEqual([
      false,
      true,
      false,
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
    expect(algorithm.samples[0]?.[0]).toEqual({ rttMs: 5, inflight: 1, dropped: false });
    expect(limiter.stats()).toMatchObject({ inflight: 0, succeeded: 8, dropped: 1, ignored: 1 });
    expect(pool.stats()).toMatchObject({ handled: 8, skipped: 2 });
  });

  it('abort: items waiting for a permit are handed back, running ones interrupted, every permit freed', async () => {
    const clock = new ManualClock();
    const limiter = new AdaptiveLimiter({ algorithm: new Scripted(1), clock });
    const other = limiter.tryAcquire(); // someone else holds the only place
    const ch = new Channel<number>({ capacity: 10 });
    ch.trySend(1);
    ch.trySend(2);
    const { pending, handler } = handlerUnder(limiter);
    const pool = consume(ch, handler, { concurrency: limiter, clock });
    await flush();
    expect(pending).toHaveLength(0);
    expect(limiter.waiting).toBe(1); // item 1 waits for a permit
    const result = await pool.abort('stop');
    expect(result).toMatchObject({ ended: 'aborted', unhandled: [1] });
    expect(limiter.waiting).toBe(0);
    other?.ignore();
    expect(limiter.inflight).toBe(0);
    // running handlers: their permits are ignored when they return
    const second = new AdaptiveLimiter({ algorithm: new Scripted(2), clock });
    const run = handlerUnder(second);
    const ch2 = new Channel<number>({ capacity: 10 });
    ch2.trySend(1);
    const pool2 = consume(ch2, run.handler, { concurrency: second, clock });
    await flush();
    expect(second.inflight).toBe(1);
    const aborted = pool2.abort('stop');
    run.pending.shift()?.reject(new Error('aborted'));
    expect(await aborted).toMatchObject({ ended: 'aborted', interrupted: [1] });
    expect(second.stats()).toMatchObject({ inflight: 0, ignored: 1, dropped: 0 });
  });
});

describe('consume with an adaptive limiter: a failed wait for a permit', () => {
  it('a full backlog is a failed attempt, handled by the error policy', async () => {
    const clock = new ManualClock();
    const limiter = new AdaptiveLimiter({ algorithm: new Scripted(1), clock, maxBacklog: 0 });
    const other = limiter.tryAcquire(); // the only place is taken, and nobody may wait
    const ch = new Channel<number>({ capacity: 10 });
    ch.trySend(1);
    ch.trySend(2);
    ch.close();
    const errors: unknown[] = [];
    const handled: number[] = [];
    const pool = consume(ch, (n: number) => void handled.push(n), {
      concurrency: limiter,
      onError: 'skip',
      onHandlerError: (error) => errors.push(error),
      clock,
    });
    const result = await pool.done;
    expect(result.ended).toBe('drained');
    expect(handled).toEqual([]);
    expect(pool.stats()).toMatchObject({ skipped: 2, handled: 0 });
    expect(errors.map((e) => (e as Error).name)).toEqual(['BacklogFullError', 'BacklogFullError']);
    other?.ignore();
    expect(limiter.stats()).toMatchObject({ inflight: 0, rejected: 2 });
  });
});

describe('pipeline stage with an adaptive limiter', () => {
  it('runs at most the limit, keeps input order, and frees every permit', async () => {
    const clock = new ManualClock();
    const algorithm = new Scripted(3);
    const limiter = new AdaptiveLimiter({ algorithm, clock });
    let running = 0;
    let peak = 0;
    const work = stage(
      async (n: number) => {
        running++;
        peak = Math.max(peak, running);
        expect(running).toBeLessThanOrEqual(limiter.limit);
        for (let i = 0; i < (n % 3) + 1; i++) await Promise.resolve();
        running--;
        if (n === 5) algorithm.next = 2; // the limit falls mid-run
        return n * 10;
      },
      { concurrency: limiter },
    );
    expect(work.limiter).toBe(limiter);
    expect(work.capacity).toBe(3);
    const out: number[] = [];
    for await (const v of pipeline([...Array(20).keys()]).through(work)) out.push(v);
    expect(out).toEqual([...Array(20).keys()].map((n) => n * 10));
    expect(peak).toBe(3);
    expect(limiter.limit).toBe(2);
    expect(limiter.stats()).toMatchObject({ inflight: 0, waiting: 0, succeeded: 20 });
  });

  it('an error stops the run and its permits are settled', async () => {
    const limiter = new AdaptiveLimiter({ algorithm: new Scripted(2), clock: new ManualClock() });
    const failing = stage(
      async (n: number) => {
        await Promise.resolve();
        if (n === 3) throw new Error('boom');
        return n;
      },
      { concurrency: limiter },
    );
    await expect(pipeline([1, 2, 3, 4, 5]).through(failing).run()).rejects.toThrow('boom');
    expect(limiter.inflight).toBe(0);
    expect(limiter.waiting).toBe(0);
  });
});
