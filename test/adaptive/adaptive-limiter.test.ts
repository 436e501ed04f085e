/**
 * AdaptiveLimiter with a scripted algorithm (the test decides every limit), on a ManualClock:
 * samples, waiting and order, backlog bound and timeouts, cancellation, `run`, partitions, hooks,
 * and bad input. The real algorithms are tested on their own and against a simulated backend.
 */
import { describe, expect, it } from 'vitest';
import {
  AdaptiveLimiter,
  type AdaptiveLimiterOptions,
  type AdaptivePermit,
} from '../../src/adaptive/adaptive-limiter.js';
import type { LimitAlgorithm } from '../../src/adaptive/types.js';
import { BacklogFullError, TimeoutError } from '../../src/errors.js';
import { ManualClock } from '../../src/testing/index.js';
import { caught, rejection } from '../support/errors.js';
import { Scripted } from '../support/scripted-algorithm.js';
import { listeners } from '../support/signals.js';

function setup(limit: number, options: Partial<AdaptiveLimiterOptions> = {}) {
  const clock = new ManualClock();
  const algorithm = new Scripted(limit);
  const limiter = new AdaptiveLimiter({ algorithm, clock, ...options });
  return { clock, algorithm, limiter };
}

/** Resolves pending promise callbacks. */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Starts an acquire and records its permit (or error) when it settles. */
function track(promise: Promise<AdaptivePermit>) {
  const t: { permit?: AdaptivePermit; error?: unknown } = {};
  promise.then(
    (permit) => {
      t.permit = permit;
    },
    (error: unknown) => {
      t.error = error;
    },
  );
  return t;
}

describe('AdaptiveLimiter', () => {
  it('grants under the limit, makes the next wait, and samples rtt and inflight at start', async () => {
    const { clock, algorithm, limiter } = setup(2);
    const a = limiter.tryAcquire();
    clock.advance(3);
    const b = await limiter.acquire();
    expect(limiter.tryAcquire()).toBeUndefined();
    const c = track(limiter.acquire());
    await flush();
    expect(c.permit).toBeUndefined();
    expect(limiter.waiting).toBe(1);
    clock.advance(7);
    a?.success(); // rtt 10, inflight 1 at its start
    await flush();
    expect(c.permit).toBeDefined();
    b.dropped(); // rtt 7, inflight 2
    expect(algorithm.samples).toEqual([
      [{ rttMs: 10, inflight: 1, dropped: false }, 10],
      [{ rttMs: 7, inflight: 2, dropped: true }, 10],
    ]);
    c.permit?.ignore();
    expect(algorithm.samples).toHaveLength(2); // ignore takes no sample
    expect(limiter.stats()).toMatchObject({
      algorithm: 'scripted',
      limit: 2,
      inflight: 0,
      waiting: 0,
      acquired: 3,
      succeeded: 1,
      dropped: 1,
      ignored: 1,
    });
    limiter.assertInvariants();
  });

  it('a permit settles once; `using` settles it as ignore', () => {
    const { algorithm, limiter } = setup(1);
    const p = limiter.tryAcquire() as AdaptivePermit;
    p.success();
    p.dropped();
    p.ignore();
    expect(p.settled).toBe(true);
    expect(limiter.inflight).toBe(0);
    expect(algorithm.samples).toHaveLength(1);
    {
      using q = limiter.tryAcquire() as AdaptivePermit;
      expect(q.settled).toBe(false);
      expect(limiter.inflight).toBe(1);
    }
    expect(limiter.stats()).toMatchObject({ inflight: 0, ignored: 1, succeeded: 1 });
  });

  it('a higher limit grants waiters at once; a lower one preempts nothing', async () => {
    const { algorithm, limiter } = setup(1);
    const first = limiter.tryAcquire() as AdaptivePermit;
    const waiters = [track(limiter.acquire()), track(limiter.acquire()), track(limiter.acquire())];
    algorithm.next = 3;
    first.success(); // limit 3: all three waiters get in
    await flush();
    expect(waiters.every((w) => w.permit !== undefined)).toBe(true);
    algorithm.next = 1;
    waiters[0]?.permit?.success(); // limit 1 with 2 in flight: no one else until 0 in flight
    const late = track(limiter.acquire());
    waiters[1]?.permit?.ignore();
    await flush();
    expect(late.permit).toBeUndefined();
    limiter.assertInvariants();
    waiters[2]?.permit?.ignore();
    await flush();
    expect(late.permit).toBeDefined();
  });

  it('onLimitChange gets (limit, previous) after the change; its error is rethrown, the limiter goes on', async () => {
    const changes: [number, number][] = [];
    const { algorithm, limiter } = setup(2, {
      onLimitChange: (limit, previous) => {
        changes.push([limit, previous]);
        expect(limiter.limit).toBe(limit);
        if (limit === 5) throw new Error('hook');
      },
    });
    algorithm.next = 4;
    limiter.tryAcquire()?.success();
    limiter.tryAcquire()?.success(); // unchanged: no call
    algorithm.next = 5;
    const uncaught: unknown[] = [];
    const listener = (error: unknown): void => {
      uncaught.push(error);
    };
    process.on('uncaughtException', listener);
    try {
      limiter.tryAcquire()?.success();
      await flush();
    } finally {
      process.off('uncaughtException', listener);
    }
    expect(changes).toEqual([
      [4, 2],
      [5, 4],
    ]);
    expect((uncaught[0] as Error).message).toBe('hook');
    expect(limiter.limit).toBe(5);
  });

  it('an algorithm that throws or answers a bad limit leaves the limit as it was (error rethrown)', async () => {
    const uncaught: unknown[] = [];
    const listener = (error: unknown): void => {
      uncaught.push(error);
    };
    process.on('uncaughtException', listener);
    try {
      for (const answer of [
        0,
        2.5,
        Number.NaN,
        'x',
        () => {
          throw new Error('boom');
        },
      ]) {
        const algorithm: LimitAlgorithm = {
          name: 'bad',
          limit: 2,
          update: () => (typeof answer === 'function' ? answer() : (answer as number)),
        };
        const limiter = new AdaptiveLimiter({ algorithm, clock: new ManualClock() });
        limiter.tryAcquire()?.success();
        expect(limiter.limit).toBe(2);
        limiter.assertInvariants();
      }
      await flush();
    } finally {
      process.off('uncaughtException', listener);
    }
    expect(uncaught).toHaveLength(5);
    expect((uncaught[0] as Error).message).toMatch(/answered a limit of `0`/);
    expect((uncaught[4] as Error).message).toBe('boom');
  });
});

describe('AdaptiveLimiter backlog', () => {
  it('FIFO grants oldest first, LIFO newest first', async () => {
    for (const [order, expected] of [
      ['fifo', [0, 1, 2]],
      ['lifo', [2, 1, 0]],
    ] as const) {
      const { limiter } = setup(1, { order });
      const held = limiter.tryAcquire() as AdaptivePermit;
      const granted: number[] = [];
      for (let i = 0; i < 3; i++) {
        void limiter.acquire().then((p) => {
          granted.push(i);
          setImmediate(() => p.ignore());
        });
      }
      held.ignore();
      for (let i = 0; i < 4; i++) await flush();
      expect(granted).toEqual(expected);
    }
  });

  it('maxBacklog refuses at once with BacklogFullError; 0 means never wait', async () => {
    const { limiter } = setup(1, { maxBacklog: 2 });
    limiter.tryAcquire();
    const waiting = [limiter.acquire(), limiter.acquire()];
    const error = await rejection(limiter.acquire());
    expect(error).toBeInstanceOf(BacklogFullError);
    expect((error as BacklogFullError).code).toBe('ERR_SLUICE_BACKLOG_FULL');
    expect((error as BacklogFullError).maxBacklog).toBe(2);
    expect(limiter.stats()).toMatchObject({ rejected: 1, waiting: 2 });
    void waiting;
    const none = setup(1, { maxBacklog: 0 }).limiter;
    none.tryAcquire();
    expect(await rejection(none.acquire())).toBeInstanceOf(BacklogFullError);
  });

  it('backlogTimeoutMs times out waits; a call timeoutMs overrides it; 0 does not wait', async () => {
    const { clock, limiter } = setup(1, { backlogTimeoutMs: 50 });
    limiter.tryAcquire();
    const byDefault = track(limiter.acquire());
    const own = track(limiter.acquire({ timeoutMs: 20 }));
    expect(clock.pendingTimers).toBe(2);
    clock.advance(20);
    await flush();
    expect(own.error).toBeInstanceOf(TimeoutError);
    expect((own.error as TimeoutError).timeoutMs).toBe(20);
    expect(byDefault.error).toBeUndefined();
    clock.advance(30);
    await flush();
    expect((byDefault.error as TimeoutError).timeoutMs).toBe(50);
    expect(await rejection(limiter.acquire({ timeoutMs: 0 }))).toBeInstanceOf(TimeoutError);
    expect(limiter.stats()).toMatchObject({ timedOut: 3, waiting: 0 });
    expect(clock.pendingTimers).toBe(0);
    limiter.assertInvariants();
  });

  it('a granted waiter leaves no timer and no abort listener', async () => {
    const { clock, limiter } = setup(1);
    const held = limiter.tryAcquire() as AdaptivePermit;
    const controller = new AbortController();
    const w = track(limiter.acquire({ signal: controller.signal, timeoutMs: 100 }));
    expect(listeners(controller.signal)).toBe(1);
    held.success();
    await flush();
    expect(w.permit).toBeDefined();
    expect(listeners(controller.signal)).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('abort while waiting rejects with the reason and lets the next one in; pre-aborted rejects at once', async () => {
    const { clock, limiter } = setup(1);
    const held = limiter.tryAcquire() as AdaptivePermit;
    const controller = new AbortController();
    const aborted = track(limiter.acquire({ signal: controller.signal, timeoutMs: 100 }));
    const next = track(limiter.acquire());
    const reason = new Error('stop');
    controller.abort(reason);
    await flush();
    expect(aborted.error).toBe(reason);
    expect(listeners(controller.signal)).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    held.ignore();
    await flush();
    expect(next.permit).toBeDefined();
    expect(await rejection(limiter.acquire({ signal: AbortSignal.abort('x') }))).toBe('x');
    expect(limiter.stats()).toMatchObject({ cancelled: 1, inflight: 1 });
  });
});

describe('AdaptiveLimiter.run', () => {
  it('fulfilment is a success, a TimeoutError a drop, other errors are ignored; rejections pass through', async () => {
    const { algorithm, limiter } = setup(4);
    expect(await limiter.run(() => 7)).toBe(7);
    const timeout = new TimeoutError(5);
    expect(await rejection(limiter.run(() => Promise.reject(timeout)))).toBe(timeout);
    const domTimeout = new DOMException('late', 'TimeoutError');
    expect(
      await rejection(
        limiter.run(() => {
          throw domTimeout;
        }),
      ),
    ).toBe(domTimeout);
    const bug = new Error('bug');
    expect(
      await rejection(
        limiter.run(() => {
          throw bug;
        }),
      ),
    ).toBe(bug);
    expect(algorithm.samples.map(([s]) => s.dropped)).toEqual([false, true, true]);
    expect(limiter.stats()).toMatchObject({ succeeded: 1, dropped: 2, ignored: 1, inflight: 0 });
  });

  it('isDrop decides; one that throws counts as ignore and is rethrown', async () => {
    const { limiter } = setup(4, { isDrop: (e) => (e as Error).message === '503' });
    await rejection(limiter.run(() => Promise.reject(new Error('503'))));
    await rejection(limiter.run(() => Promise.reject(new TimeoutError(1))));
    expect(limiter.stats()).toMatchObject({ dropped: 1, ignored: 1 });
    const throwing = setup(4, {
      isDrop: () => {
        throw new Error('hook');
      },
    }).limiter;
    const uncaught: unknown[] = [];
    const listener = (error: unknown): void => {
      uncaught.push(error);
    };
    process.on('uncaughtException', listener);
    try {
      await rejection(throwing.run(() => Promise.reject(new Error('x'))));
      await flush();
    } finally {
      process.off('uncaughtException', listener);
    }
    expect((uncaught[0] as Error).message).toBe('hook');
    expect(throwing.stats()).toMatchObject({ ignored: 1, inflight: 0 });
  });

  it('passes the signal to fn; a non-function throws', async () => {
    const { limiter } = setup(1);
    const signal = new AbortController().signal;
    expect(await limiter.run((s) => s, { signal })).toBe(signal);
    expect(caught(() => limiter.run(5 as never)).message).toMatch(/`fn`.*`5` \(number\)/);
  });
});

describe('AdaptiveLimiter partitions', () => {
  it('when all are busy, room goes to partitions under their share; none grows past it', async () => {
    const { algorithm, limiter } = setup(10, { partitions: { interactive: 0.7, batch: 0.3 } });
    // batch comes first and takes everything (nobody else wants it): borrowing
    const held: AdaptivePermit[] = [];
    for (let i = 0; i < 10; i++)
      held.push(limiter.tryAcquire({ partition: 'batch' }) as AdaptivePermit);
    expect(limiter.stats().partitions).toMatchObject({ batch: { inflight: 10, limit: 3 } });
    // now both have plenty of demand
    const granted: AdaptivePermit[] = [];
    const demand = (partition: string): void => {
      void limiter.acquire({ partition }).then((p) => {
        granted.push(p);
        held.push(p);
      });
    };
    for (let i = 0; i < 50; i++) {
      demand('interactive');
      demand('batch');
    }
    let maxBatchAfterTurnover = 0;
    for (let step = 0; step < 60; step++) {
      const p = held.shift() as AdaptivePermit;
      p.success();
      await flush();
      limiter.assertInvariants();
      const { interactive, batch } = limiter.stats().partitions;
      if (step >= 10) {
        // the first 10 permits (all batch) have settled
        maxBatchAfterTurnover = Math.max(maxBatchAfterTurnover, batch?.inflight ?? 0);
        expect(interactive?.inflight).toBeLessThanOrEqual(7);
      }
    }
    expect(maxBatchAfterTurnover).toBe(3);
    expect(limiter.stats().partitions).toMatchObject({ interactive: { inflight: 7 } });
    expect(algorithm.samples).toHaveLength(60);
  });

  it('an idle partition lends its share; a partition under its share goes first', async () => {
    const { limiter } = setup(4, { partitions: { a: 0.5, b: 0.5 } });
    const a = [0, 1, 2, 3].map(() => limiter.tryAcquire({ partition: 'a' }));
    expect(a.every((p) => p !== undefined)).toBe(true); // b idle: a borrows all 4
    const moreA = track(limiter.acquire({ partition: 'a' }));
    const b = track(limiter.acquire({ partition: 'b' })); // later, but b is under its share
    a[0]?.success();
    await flush();
    expect(b.permit?.partition).toBe('b');
    expect(moreA.permit).toBeUndefined();
  });

  it('partition limits follow the limit: max(1, ceil(share × limit))', () => {
    const { limiter } = setup(3, { partitions: { a: 0.1, b: 0.9 } });
    expect(limiter.stats().partitions).toEqual({
      a: { share: 0.1, limit: 1, inflight: 0, waiting: 0 },
      b: { share: 0.9, limit: 3, inflight: 0, waiting: 0 },
    });
  });

  it('bad partitions: unknown or missing name, a name without partitions, bad shares', () => {
    const { limiter } = setup(3, { partitions: { a: 0.5 } });
    expect(caught(() => limiter.tryAcquire({ partition: 'z' })).message).toMatch(
      /`partition` to be one of 'a', got `"z"`/,
    );
    expect(caught(() => limiter.acquire()).message).toMatch(/`undefined`/);
    expect(caught(() => setup(1).limiter.acquire({ partition: 'a' })).message).toMatch(
      /no partitions.*`"a"`/,
    );
    for (const [partitions, pattern] of [
      [{ a: 0 }, /partitions\.a.*`0`/],
      [{ a: 1.5 }, /partitions\.a.*`1\.5`/],
      [{ a: Number.NaN }, /partitions\.a.*`NaN`/],
      [{ a: '0.5' }, /partitions\.a.*`"0\.5"`/],
      [{ a: 0.6, b: 0.6 }, /sum to at most 1, got 1\.2/],
      [{}, /at least one/],
      ['x', /`partitions` to be an options object/],
    ] as const) {
      expect(caught(() => setup(1, { partitions: partitions as never })).message).toMatch(pattern);
    }
  });
});

describe('AdaptiveLimiter bad options', () => {
  it('names the option and the value received', () => {
    const clock = new ManualClock();
    const algorithm = new Scripted(1);
    const make = (options: unknown) => caught(() => new AdaptiveLimiter(options as never)).message;
    expect(make(undefined)).toMatch(/`algorithm`/);
    expect(make({})).toMatch(/`algorithm`.*`undefined`/);
    expect(make({ algorithm: { update: () => 1, limit: 0 } })).toMatch(/`algorithm`/);
    expect(make({ algorithm: 5 })).toMatch(/`algorithm`.*`5` \(number\)/);
    expect(make({ algorithm, order: 'random' })).toMatch(/`order`.*'fifo', 'lifo'.*`"random"`/);
    expect(make({ algorithm, maxBacklog: -1 })).toMatch(/`maxBacklog`.*`-1`/);
    expect(make({ algorithm, maxBacklog: 1.5 })).toMatch(/`maxBacklog`.*`1\.5`/);
    expect(make({ algorithm, backlogTimeoutMs: -1 })).toMatch(/`backlogTimeoutMs`.*`-1`/);
    expect(make({ algorithm, isDrop: 'yes' })).toMatch(/`isDrop`.*`"yes"`/);
    expect(make({ algorithm, onLimitChange: 1 })).toMatch(/`onLimitChange`.*`1`/);
    expect(make({ algorithm, clock: {} })).toMatch(/clock/);
    const limiter = new AdaptiveLimiter({ algorithm, clock });
    expect(caught(() => limiter.acquire({ timeoutMs: -5 })).message).toMatch(/`timeoutMs`.*`-5`/);
    expect(caught(() => limiter.acquire({ signal: 'x' as never })).message).toMatch(/`signal`/);
    expect(caught(() => limiter.acquire(3 as never)).message).toMatch(/options object/);
  });
});
