/**
 * pipeline(): random stages on a ManualClock. Random per-item, per-stage delays, concurrency,
 * capacity and ordering, with a sink of random speed. Checks, for every run: an all-ordered
 * pipeline outputs map(input) in input order, any other the same multiset; at every step the
 * invariants hold and the items alive never exceed Σ (concurrency + capacity) + 1; an ordered
 * stage never starts item k + concurrency + capacity while item k is unfinished; and when a
 * random stage fails (or the signal aborts) the run rejects once with that error, every item
 * is delivered, failed or dropped exactly once, and no timer or listener is left.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Pipeline, pipeline, stage } from '../../src/flow/pipeline.js';
import { ManualClock } from '../../src/testing/index.js';
import { flush } from '../support/clock.js';
import { observe } from '../support/outcome.js';
import { propRuns } from '../support/prop.js';
import { listeners } from '../support/signals.js';

interface StagePlan {
  readonly concurrency: number;
  readonly capacity: number;
  readonly ordered: boolean;
}

const stageArb: fc.Arbitrary<StagePlan> = fc.record({
  concurrency: fc.integer({ min: 1, max: 4 }),
  capacity: fc.integer({ min: 0, max: 3 }),
  ordered: fc.boolean(),
});

const scenarioArb = fc
  .record({
    stages: fc.array(stageArb, { minLength: 1, maxLength: 3 }),
    count: fc.integer({ min: 0, max: 20 }),
    sinkMs: fc.integer({ min: 0, max: 5 }),
    seedDelays: fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 60, maxLength: 60 }),
  })
  .map((s) => ({
    ...s,
    // delay of item i at stage k
    delay: (k: number, i: number) => s.seedDelays[(i * 7 + k * 13) % 60] as number,
  }));

const sleep = (clock: ManualClock, ms: number): Promise<void> =>
  new Promise((resolve) => clock.setTimer(resolve, ms));

describe('pipeline: random stages', () => {
  it('output is map(input), in order when every stage is ordered; memory stays bounded', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async ({ stages, count, sinkMs, delay }) => {
        const clock = new ManualClock();
        let alive = 0;
        let most = 0;
        function* source(): Generator<number> {
          for (let i = 0; i < count; i++) {
            most = Math.max(most, ++alive);
            yield i;
          }
        }
        // Per stage: arrival numbers (the stage's own input order) of unfinished calls.
        const unfinished: Set<number>[] = stages.map(() => new Set());
        const arrivals: number[] = stages.map(() => 0);
        let p: Pipeline<number> = pipeline(source());
        for (const [k, plan] of stages.entries()) {
          p = p.through(
            stage(async (i: number) => {
              const window = plan.concurrency + plan.capacity;
              const n = (arrivals[k] as number) + 1;
              arrivals[k] = n;
              if (plan.ordered) {
                for (const j of unfinished[k] as Set<number>) expect(n - j).toBeLessThan(window);
              }
              (unfinished[k] as Set<number>).add(n);
              await sleep(clock, delay(k, i));
              (unfinished[k] as Set<number>).delete(n);
              return i;
            }, plan),
          );
        }
        const it = p[Symbol.asyncIterator]();
        const out: number[] = [];
        const reading = observe(
          (async () => {
            for (;;) {
              const step = await it.next();
              it.assertInvariants();
              if (step.done) return;
              if (sinkMs > 0) await sleep(clock, sinkMs);
              out.push(step.value);
              alive--;
            }
          })(),
        );
        while (reading.state === 'pending') {
          it.assertInvariants();
          if (clock.pendingTimers === 0) await flush();
          else await clock.advanceAsync((clock.nextTimerAt as number) - clock.now());
          // (a stalled run would loop here with no timer: the test timeout catches it)
        }
        expect(reading.state).toBe('resolved');
        const bound = stages.reduce((sum, s) => sum + s.concurrency + s.capacity, 0) + 1;
        expect(most).toBeLessThanOrEqual(bound);
        const expected = Array.from({ length: count }, (_, i) => i);
        if (stages.every((s) => s.ordered)) expect(out).toEqual(expected);
        else expect([...out].sort((a, b) => a - b)).toEqual(expected);
        expect(clock.pendingTimers).toBe(0);
        it.assertInvariants();
      }),
      { numRuns: propRuns(150) },
    );
  });

  it('a failure or an abort at a random point: rejects once with it, every item accounted for', async () => {
    await fc.assert(
      fc.asyncProperty(
        scenarioArb,
        fc.integer({ min: 0, max: 19 }),
        fc.integer({ min: 0, max: 2 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 60 }),
        async ({ stages, count, sinkMs, delay }, failItem, failStage, abort, abortAt) => {
          const clock = new ManualClock();
          const controller = new AbortController();
          const boom = new Error('boom');
          const reason = { aborted: true };
          let returned = false;
          function* source(): Generator<number> {
            try {
              for (let i = 0; i < count; i++) yield i;
            } finally {
              returned = true;
            }
          }
          const dropped: unknown[] = [];
          let p: Pipeline<number> = pipeline(source(), {
            signal: controller.signal,
            onDrop: (item) => dropped.push(item),
          });
          for (const [k, plan] of stages.entries()) {
            p = p.through(
              stage(async (i: number) => {
                await sleep(clock, delay(k, i));
                if (!abort && k === failStage % stages.length && i === failItem) throw boom;
                return i;
              }, plan),
            );
          }
          if (abort) clock.setTimer(() => controller.abort(reason), abortAt);
          const it = p[Symbol.asyncIterator]();
          let delivered = 0;
          const reading = observe(
            (async () => {
              for (;;) {
                const step = await it.next();
                if (step.done) return;
                delivered++;
                if (sinkMs > 0) await sleep(clock, sinkMs);
              }
            })(),
          );
          while (reading.state === 'pending') {
            it.assertInvariants();
            if (clock.pendingTimers === 0) await flush();
            else await clock.advanceAsync((clock.nextTimerAt as number) - clock.now());
          }
          await clock.runAllAsync();
          it.assertInvariants();
          const stats = it.stats();
          const failed = !abort && failItem < count;
          const aborted = abort && reading.state === 'rejected';
          if (failed) expect(reading.error).toBe(boom);
          else if (abort) expect([reason, undefined]).toContain(reading.error);
          else expect(reading.state).toBe('resolved');
          if (failed || aborted) {
            expect(delivered).toBeLessThanOrEqual(count);
            expect(returned).toBe(true);
          } else expect(delivered).toBe(count);
          expect(stats.delivered).toBe(delivered);
          expect(stats.dropped).toBe(dropped.length);
          expect(stats.pulled).toBe(stats.delivered + stats.failed + stats.dropped);
          expect(stats.failed).toBe(failed ? 1 : 0);
          expect(listeners(controller.signal)).toBe(0);
          expect(clock.pendingTimers).toBe(0);
          expect(await it.next()).toEqual({ done: true, value: undefined });
        },
      ),
      { numRuns: propRuns(150) },
    );
  });
});
