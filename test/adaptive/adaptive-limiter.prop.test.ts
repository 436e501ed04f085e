/**
 * AdaptiveLimiter under random steps (acquire in a partition, settle a permit any way, abort a
 * waiter, pass time, change the limit), against a trivial model: the set of held permits and
 * the set of pending calls. After every step: the invariants hold, `inflight` equals the held
 * permits, and every call is exactly one of pending / granted / refused. At the end, with every
 * permit settled and every waiter aborted: nothing waits, no timer is armed, no abort listener
 * is left.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { AdaptiveLimiter, type AdaptivePermit } from '../../src/adaptive/adaptive-limiter.js';
import { ManualClock } from '../../src/testing/index.js';
import { propRuns } from '../support/prop.js';
import { Scripted } from '../support/scripted-algorithm.js';
import { listeners } from '../support/signals.js';

type Step =
  | { kind: 'acquire'; partition: 'a' | 'b'; timeoutMs: number | undefined }
  | { kind: 'settle'; index: number; how: 'success' | 'dropped' | 'ignore' }
  | { kind: 'abort'; index: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'limit'; limit: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('acquire' as const),
    partition: fc.constantFrom('a' as const, 'b' as const),
    timeoutMs: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
  }),
  fc.record({
    kind: fc.constant('settle' as const),
    index: fc.nat(),
    how: fc.constantFrom('success' as const, 'dropped' as const, 'ignore' as const),
  }),
  fc.record({ kind: fc.constant('abort' as const), index: fc.nat() }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ kind: fc.constant('limit' as const), limit: fc.integer({ min: 1, max: 6 }) }),
);

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface Call {
  state: 'pending' | 'granted' | 'refused';
  controller: AbortController;
}

it('nothing lost, nothing hangs, invariants after every step', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(step, { maxLength: 60 }),
      fc.constantFrom('fifo' as const, 'lifo' as const),
      fc.constantFrom(Number.POSITIVE_INFINITY, 3),
      async (steps, order, maxBacklog) => {
        const clock = new ManualClock();
        const algorithm = new Scripted(2);
        const limiter = new AdaptiveLimiter({
          algorithm,
          clock,
          order,
          maxBacklog,
          partitions: { a: 0.5, b: 0.5 },
        });
        const held: AdaptivePermit[] = [];
        const calls: Call[] = [];
        const check = (): void => {
          limiter.assertInvariants();
          expect(limiter.inflight).toBe(held.length);
          const pending = calls.filter((c) => c.state === 'pending').length;
          expect(limiter.waiting).toBe(pending);
          expect(calls.filter((c) => c.state === 'granted').length).toBe(limiter.stats().acquired);
        };
        for (const s of steps) {
          if (s.kind === 'acquire') {
            const call: Call = { state: 'pending', controller: new AbortController() };
            calls.push(call);
            limiter
              .acquire({
                partition: s.partition,
                timeoutMs: s.timeoutMs,
                signal: call.controller.signal,
              })
              .then(
                (permit) => {
                  call.state = 'granted';
                  held.push(permit);
                },
                () => {
                  call.state = 'refused';
                },
              );
          } else if (s.kind === 'settle' && held.length > 0) {
            const [permit] = held.splice(s.index % held.length, 1);
            permit?.[s.how]();
          } else if (s.kind === 'abort') {
            const pending = calls.filter((c) => c.state === 'pending');
            pending[s.index % Math.max(1, pending.length)]?.controller.abort();
          } else if (s.kind === 'advance') {
            clock.advance(s.ms);
          } else if (s.kind === 'limit' && held.length > 0) {
            algorithm.next = s.limit;
            held.shift()?.success();
          }
          await flush();
          check();
        }
        // wind down: abort every waiter, settle every permit
        for (const c of calls) c.controller.abort();
        await flush();
        for (const p of held.splice(0)) p.ignore();
        await flush();
        check();
        expect(calls.every((c) => c.state !== 'pending')).toBe(true);
        expect(limiter.waiting).toBe(0);
        expect(limiter.inflight).toBe(0);
        expect(clock.pendingTimers).toBe(0);
        for (const c of calls) expect(listeners(c.controller.signal)).toBe(0);
      },
    ),
    { numRuns: propRuns(150) },
  );
});
