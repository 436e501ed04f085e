/**
 * Semaphore: acquire / tryAcquire / release / run, weights, strict FIFO, cancellation by signal
 * and timeout (ManualClock only), stats, invariants, misuse, and a fast-check model test.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Permit,
  Semaphore,
  type SemaphoreOptions,
  SluiceError,
  TimeoutError,
} from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { flush, microtasks } from '../support/clock.js';
import { thrown } from '../support/errors.js';
import { type Observed, observe } from '../support/outcome.js';
import { listeners } from '../support/signals.js';

// ---- helpers ---------------------------------------------------------------------------------

function permitOf(o: Observed<Permit>): Permit {
  expect(o.state).toBe('resolved');
  return o.value!;
}

function expectMisuse(
  fn: () => unknown,
  kind: typeof RangeError | typeof TypeError,
  ...fragments: string[]
): void {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(kind);
  for (const fragment of fragments) expect((error as Error).message).toContain(fragment);
}

/** The error `fn` throws, or the one its returned promise rejects with (misuse in `run`). */
async function misuse(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw or a rejection');
}

function make(capacity: number): { clock: ManualClock; sem: Semaphore } {
  const clock = new ManualClock();
  return { clock, sem: new Semaphore({ capacity, clock }) };
}

// ---- basics ----------------------------------------------------------------------------------

describe('Semaphore: acquire, tryAcquire, release', () => {
  it('reports its configuration and starts empty', () => {
    const { sem } = make(3);
    expect(sem.capacity).toBe(3);
    expect(sem.inUse).toBe(0);
    expect(sem.available).toBe(3);
    expect(sem.waiting).toBe(0);
    expect(sem.stats()).toEqual({ capacity: 3, inUse: 0, waiting: 0, acquired: 0, cancelled: 0 });
    sem.assertInvariants();
  });

  it('tryAcquire hands out permits while they fit and undefined once full', () => {
    const { sem } = make(2);
    const a = sem.tryAcquire();
    expect(a).toBeDefined();
    expect(a!.weight).toBe(1);
    expect(a!.released).toBe(false);
    expect(sem.inUse).toBe(1);
    const b = sem.tryAcquire();
    expect(b).toBeDefined();
    expect(sem.available).toBe(0);
    expect(sem.tryAcquire()).toBeUndefined();
    expect(sem.inUse).toBe(2);
    a!.release();
    expect(a!.released).toBe(true);
    expect(sem.inUse).toBe(1);
    expect(sem.tryAcquire()).toBeDefined();
    sem.assertInvariants();
  });

  it('acquire resolves at once when the permit fits', async () => {
    const { sem } = make(1);
    const o = observe(sem.acquire());
    expect(sem.inUse).toBe(1); // held synchronously, before the promise is observed
    await flush();
    expect(permitOf(o).weight).toBe(1);
    expect(sem.waiting).toBe(0);
  });

  it('acquire waits while full and resolves when a permit is released', async () => {
    const { sem } = make(1);
    const held = sem.tryAcquire()!;
    const o = observe(sem.acquire());
    await flush();
    expect(o.state).toBe('pending');
    expect(sem.waiting).toBe(1);
    sem.assertInvariants();
    held.release();
    expect(sem.inUse).toBe(1); // handed straight to the waiter
    expect(sem.waiting).toBe(0);
    await flush();
    expect(permitOf(o).released).toBe(false);
    sem.assertInvariants();
  });

  it('one release wakes every waiter that now fits, in order', async () => {
    const { sem } = make(3);
    const big = sem.tryAcquire(3)!;
    const outcomes = [observe(sem.acquire()), observe(sem.acquire()), observe(sem.acquire())];
    const fourth = observe(sem.acquire());
    await flush();
    expect(sem.waiting).toBe(4);
    big.release();
    await flush();
    expect(outcomes.map((o) => o.state)).toEqual(['resolved', 'resolved', 'resolved']);
    expect(outcomes[0]!.seq).toBeLessThan(outcomes[1]!.seq);
    expect(outcomes[1]!.seq).toBeLessThan(outcomes[2]!.seq);
    expect(fourth.state).toBe('pending');
    expect(sem.inUse).toBe(3);
    sem.assertInvariants();
  });

  it('a permit released twice gives its units back once', async () => {
    const { sem } = make(1);
    const first = sem.tryAcquire()!;
    const w1 = observe(sem.acquire());
    const w2 = observe(sem.acquire());
    first.release();
    first.release();
    first[Symbol.dispose]();
    await flush();
    expect(w1.state).toBe('resolved');
    expect(w2.state).toBe('pending'); // a second release must not have let w2 in
    expect(sem.inUse).toBe(1);
    sem.assertInvariants();
    permitOf(w1).release();
    await flush();
    expect(w2.state).toBe('resolved');
    permitOf(w2).release();
    permitOf(w2).release();
    expect(sem.inUse).toBe(0);
    expect(sem.available).toBe(1);
    sem.assertInvariants();
  });
});

describe('Semaphore: weights', () => {
  it('holds the weight of each permit', async () => {
    const { sem } = make(5);
    const three = sem.tryAcquire(3)!;
    expect(three.weight).toBe(3);
    expect(sem.inUse).toBe(3);
    expect(sem.tryAcquire(3)).toBeUndefined();
    const two = observe(sem.acquire({ weight: 2 }));
    await flush();
    expect(permitOf(two).weight).toBe(2);
    expect(sem.available).toBe(0);
    three.release();
    expect(sem.inUse).toBe(2);
    expect(sem.tryAcquire(3)!.weight).toBe(3);
    sem.assertInvariants();
  });

  it('a weight equal to the capacity waits for everything to be released', async () => {
    const { sem } = make(3);
    const a = sem.tryAcquire()!;
    const b = sem.tryAcquire()!;
    const all = observe(sem.acquire({ weight: 3 }));
    a.release();
    await flush();
    expect(all.state).toBe('pending');
    b.release();
    await flush();
    expect(permitOf(all).weight).toBe(3);
    expect(sem.inUse).toBe(3);
  });
});

describe('Semaphore: strict FIFO', () => {
  it('a heavy head blocks lighter waiters behind it', async () => {
    const { sem } = make(3);
    const held = sem.tryAcquire(2)!; // 1 unit free
    const heavy = observe(sem.acquire({ weight: 3 }));
    const light = observe(sem.acquire({ weight: 1 })); // would fit, but heavy is first
    await flush();
    expect(heavy.state).toBe('pending');
    expect(light.state).toBe('pending');
    expect(sem.available).toBe(1);
    expect(sem.waiting).toBe(2);
    sem.assertInvariants();
    held.release();
    await flush();
    expect(heavy.state).toBe('resolved');
    expect(light.state).toBe('pending');
    permitOf(heavy).release();
    await flush();
    expect(light.state).toBe('resolved');
    expect(sem.inUse).toBe(1);
  });

  it('tryAcquire never jumps a waiting caller, even when its weight fits', async () => {
    const { sem } = make(3);
    const held = sem.tryAcquire(2)!;
    const heavy = observe(sem.acquire({ weight: 2 }));
    expect(sem.available).toBe(1);
    expect(sem.tryAcquire(1)).toBeUndefined();
    expect(sem.inUse).toBe(2);
    held.release();
    await flush();
    expect(heavy.state).toBe('resolved');
    expect(sem.tryAcquire(1)).toBeDefined(); // nobody waits now
  });

  it('acquire behind a waiter queues even when it fits', async () => {
    const { sem } = make(2);
    sem.tryAcquire(1);
    const heavy = observe(sem.acquire({ weight: 2 }));
    const light = observe(sem.acquire());
    await flush();
    expect(heavy.state).toBe('pending');
    expect(light.state).toBe('pending');
    expect(sem.inUse).toBe(1);
  });

  it('equal weights are served in call order', async () => {
    const { sem } = make(1);
    const held = sem.tryAcquire()!;
    const order: number[] = [];
    const promises = [0, 1, 2, 3].map((i) =>
      sem.acquire().then((p) => {
        order.push(i);
        p.release();
      }),
    );
    held.release();
    await Promise.all(promises);
    expect(order).toEqual([0, 1, 2, 3]);
    expect(sem.inUse).toBe(0);
  });
});

describe('Semaphore: using', () => {
  it('`using permit = await sem.acquire()` releases at the end of the block', async () => {
    const { sem } = make(2);
    {
      using permit = await sem.acquire({ weight: 2 });
      expect(permit.weight).toBe(2);
      expect(sem.inUse).toBe(2);
    }
    expect(sem.inUse).toBe(0);
  });

  it('releases when the block throws', async () => {
    const { sem } = make(1);
    const boom = new Error('boom');
    const use = async (): Promise<void> => {
      using _permit = await sem.acquire();
      expect(sem.inUse).toBe(1);
      throw boom;
    };
    await expect(use()).rejects.toBe(boom);
    expect(sem.inUse).toBe(0);
  });

  it('a permit disposed after an explicit release gives nothing back twice', async () => {
    const { sem } = make(1);
    let next: Observed<Permit> | undefined;
    {
      using permit = await sem.acquire();
      next = observe(sem.acquire());
      permit.release();
      await flush();
      expect(next.state).toBe('resolved');
    }
    const after = observe(sem.acquire());
    await flush();
    expect(after.state).toBe('pending'); // the disposal at block end must not free next's unit
    expect(sem.inUse).toBe(1);
    sem.assertInvariants();
  });
});

describe('Semaphore: run', () => {
  it('runs fn with the permit held, resolves with its result and releases', async () => {
    const { sem } = make(2);
    let inside = -1;
    const result = await sem.run(
      () => {
        inside = sem.inUse;
        return 42;
      },
      { weight: 2 },
    );
    expect(result).toBe(42);
    expect(inside).toBe(2);
    expect(sem.inUse).toBe(0);
  });

  it('resolves with what an async fn resolves with, holding until it settles', async () => {
    const { sem } = make(1);
    let finish!: (value: string) => void;
    const o = observe(sem.run(() => new Promise<string>((resolve) => (finish = resolve))));
    await flush();
    expect(sem.inUse).toBe(1);
    expect(o.state).toBe('pending');
    finish('done');
    await flush();
    expect(o.state).toBe('resolved');
    expect(o.value).toBe('done');
    expect(sem.inUse).toBe(0);
  });

  it('releases and rejects with the same error when fn throws synchronously', async () => {
    const { sem } = make(1);
    const boom = new Error('sync boom');
    await expect(
      sem.run(() => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(sem.inUse).toBe(0);
  });

  it('releases and rejects with the same error when fn rejects', async () => {
    const { sem } = make(1);
    const boom = new Error('async boom');
    await expect(sem.run(async () => Promise.reject(boom))).rejects.toBe(boom);
    expect(sem.inUse).toBe(0);
    expect(sem.tryAcquire()).toBeDefined();
  });

  it('passes the signal to fn (undefined when none)', async () => {
    const { sem } = make(1);
    const controller = new AbortController();
    const seen: (AbortSignal | undefined)[] = [];
    await sem.run((signal) => seen.push(signal), { signal: controller.signal });
    await sem.run((signal) => seen.push(signal));
    expect(seen[0]).toBe(controller.signal);
    expect(seen[1]).toBeUndefined();
    expect(listeners(controller.signal)).toBe(0);
  });

  it('waits its turn, FIFO with acquire callers', async () => {
    const { sem } = make(1);
    const held = sem.tryAcquire()!;
    const log: string[] = [];
    const first = sem.acquire().then((p) => {
      log.push('acquire');
      p.release();
    });
    const second = sem.run(() => log.push('run'));
    await flush();
    expect(log).toEqual([]);
    held.release();
    await Promise.all([first, second]);
    expect(log).toEqual(['acquire', 'run']);
  });

  it('rejects with signal.reason and never calls fn when aborted while waiting', async () => {
    const { sem } = make(1);
    sem.tryAcquire();
    const controller = new AbortController();
    let called = false;
    const o = observe(sem.run(() => (called = true), { signal: controller.signal }));
    const reason = { why: 'stop' };
    controller.abort(reason);
    await flush();
    expect(o.state).toBe('rejected');
    expect(o.error).toBe(reason);
    expect(called).toBe(false);
    expect(sem.inUse).toBe(1);
  });
});

// ---- cancellation ----------------------------------------------------------------------------

describe('Semaphore: abort while waiting', () => {
  it('rejects with signal.reason untouched, holds nothing, removes its listener', async () => {
    const { sem } = make(1);
    sem.tryAcquire();
    const controller = new AbortController();
    const o = observe(sem.acquire({ signal: controller.signal }));
    expect(listeners(controller.signal)).toBe(1);
    expect(sem.waiting).toBe(1);
    const reason = new Error('custom reason');
    controller.abort(reason);
    expect(sem.waiting).toBe(0);
    expect(listeners(controller.signal)).toBe(0);
    await flush();
    expect(o.state).toBe('rejected');
    expect(o.error).toBe(reason);
    expect(sem.inUse).toBe(1);
    expect(sem.stats().cancelled).toBe(1);
    sem.assertInvariants();
  });

  it('passes a primitive reason through untouched', async () => {
    const { sem } = make(1);
    sem.tryAcquire();
    const controller = new AbortController();
    const o = observe(sem.acquire({ signal: controller.signal }));
    controller.abort('just a string');
    await flush();
    expect(o.error).toBe('just a string');
  });

  it('the default reason is the AbortError DOMException the signal carries', async () => {
    const { sem } = make(1);
    sem.tryAcquire();
    const controller = new AbortController();
    const o = observe(sem.acquire({ signal: controller.signal }));
    controller.abort();
    await flush();
    expect(o.error).toBe(controller.signal.reason);
    expect((o.error as DOMException).name).toBe('AbortError');
  });

  it('lets the next waiter go when it now fits', async () => {
    const { sem } = make(2);
    sem.tryAcquire(1); // 1 unit free
    const controller = new AbortController();
    const heavy = observe(sem.acquire({ weight: 2, signal: controller.signal }));
    const light = observe(sem.acquire({ weight: 1 }));
    await flush();
    expect(light.state).toBe('pending');
    controller.abort();
    expect(sem.inUse).toBe(2); // light was served synchronously by the abort
    await flush();
    expect(heavy.state).toBe('rejected');
    expect(light.state).toBe('resolved');
    sem.assertInvariants();
  });

  it('does not let the next waiter go when it still does not fit', async () => {
    const { sem } = make(2);
    sem.tryAcquire(2);
    const controller = new AbortController();
    const a = observe(sem.acquire({ signal: controller.signal }));
    const b = observe(sem.acquire());
    controller.abort();
    await flush();
    expect(a.state).toBe('rejected');
    expect(b.state).toBe('pending');
    expect(sem.waiting).toBe(1);
    expect(sem.inUse).toBe(2);
  });

  it('a waiter in the middle leaves without disturbing the others', async () => {
    const { sem } = make(1);
    const held = sem.tryAcquire()!;
    const controller = new AbortController();
    const a = observe(sem.acquire());
    const b = observe(sem.acquire({ signal: controller.signal }));
    const c = observe(sem.acquire());
    controller.abort();
    expect(sem.waiting).toBe(2);
    held.release();
    await flush();
    expect([a.state, b.state, c.state]).toEqual(['resolved', 'rejected', 'pending']);
    permitOf(a).release();
    await flush();
    expect(c.state).toBe('resolved');
  });

  it('removes the abort listener when the permit is granted', async () => {
    const { sem } = make(1);
    const held = sem.tryAcquire()!;
    const controller = new AbortController();
    const o = observe(sem.acquire({ signal: controller.signal }));
    expect(listeners(controller.signal)).toBe(1);
    held.release();
    expect(listeners(controller.signal)).toBe(0);
    await flush();
    const permit = permitOf(o);
    controller.abort(); // too late: the permit is held and stays held
    expect(permit.released).toBe(false);
    expect(sem.inUse).toBe(1);
  });

  it('an acquire that fits at once adds no listener', async () => {
    const { sem } = make(1);
    const controller = new AbortController();
    const o = observe(sem.acquire({ signal: controller.signal }));
    expect(listeners(controller.signal)).toBe(0);
    await flush();
    expect(o.state).toBe('resolved');
  });

  it('an already-aborted signal rejects at once with its reason, even when a permit fits', async () => {
    const { sem } = make(1);
    const reason = Symbol('already');
    const signal = AbortSignal.abort(reason);
    const o = observe(sem.acquire({ signal }));
    expect(sem.inUse).toBe(0);
    expect(sem.waiting).toBe(0);
    expect(listeners(signal)).toBe(0);
    await flush();
    expect(o.state).toBe('rejected');
    expect(o.error).toBe(reason);
    expect(sem.stats().acquired).toBe(0);
  });

  it('a signal shared by several waiters rejects every one of them when it aborts', async () => {
    // Capacity 2, 1 held. Waiter A (weight 2) blocks waiter B (weight 1); both use one signal.
    // On abort, A leaves first; B must not be handed a permit for a wait that was aborted.
    const { sem } = make(2);
    sem.tryAcquire(1);
    const controller = new AbortController();
    const reason = new Error('request cancelled');
    const a = observe(sem.acquire({ weight: 2, signal: controller.signal }));
    const b = observe(sem.acquire({ weight: 1, signal: controller.signal }));
    await flush();
    controller.abort(reason);
    await flush();
    expect(a.state).toBe('rejected');
    expect(b.state).toBe('rejected');
    expect(b.error).toBe(reason);
    expect(sem.inUse).toBe(1);
    expect(sem.waiting).toBe(0);
    expect(sem.stats()).toMatchObject({ acquired: 1, cancelled: 2 });
    expect(listeners(controller.signal)).toBe(0);
    sem.assertInvariants();
  });
});

describe('Semaphore: timeoutMs', () => {
  it('rejects with a TimeoutError at exactly the deadline and leaves no timer', async () => {
    const { clock, sem } = make(1);
    sem.tryAcquire();
    const o = observe(sem.acquire({ timeoutMs: 100 }), clock);
    expect(clock.pendingTimers).toBe(1);
    await clock.advanceAsync(99);
    expect(o.state).toBe('pending');
    await clock.advanceAsync(1);
    expect(o.state).toBe('rejected');
    expect(o.at).toBe(100);
    expect(o.error).toBeInstanceOf(TimeoutError);
    expect(o.error).toBeInstanceOf(SluiceError);
    expect((o.error as TimeoutError).code).toBe('ERR_SLUICE_TIMEOUT');
    expect((o.error as TimeoutError).timeoutMs).toBe(100);
    expect(clock.pendingTimers).toBe(0);
    expect(sem.waiting).toBe(0);
    expect(sem.inUse).toBe(1);
    expect(sem.stats().cancelled).toBe(1);
    sem.assertInvariants();
  });

  it('counts from the moment of the call, not from the clock origin', async () => {
    const clock = new ManualClock({ start: 1000 });
    const sem = new Semaphore({ capacity: 1, clock });
    sem.tryAcquire();
    const o = observe(sem.acquire({ timeoutMs: 50 }), clock);
    await clock.advanceAsync(49);
    expect(o.state).toBe('pending');
    await clock.advanceAsync(1);
    expect(o.at).toBe(1050);
    expect(o.state).toBe('rejected');
  });

  it('a timed-out head lets the next waiter go when it now fits', async () => {
    const { clock, sem } = make(2);
    sem.tryAcquire(1);
    const heavy = observe(sem.acquire({ weight: 2, timeoutMs: 10 }), clock);
    const light = observe(sem.acquire(), clock);
    await clock.advanceAsync(10);
    expect(heavy.state).toBe('rejected');
    expect(light.state).toBe('resolved');
    expect(light.at).toBe(10);
    expect(sem.inUse).toBe(2);
  });

  it('clears the timer and the listener when the permit arrives first', async () => {
    const { clock, sem } = make(1);
    const held = sem.tryAcquire()!;
    const controller = new AbortController();
    const o = observe(sem.acquire({ timeoutMs: 100, signal: controller.signal }), clock);
    await clock.advanceAsync(40);
    held.release();
    expect(clock.pendingTimers).toBe(0);
    expect(listeners(controller.signal)).toBe(0);
    await clock.advanceAsync(100);
    expect(o.state).toBe('resolved');
    expect(sem.inUse).toBe(1);
  });

  it('clears the timer when aborted first', async () => {
    const { clock, sem } = make(1);
    sem.tryAcquire();
    const controller = new AbortController();
    const o = observe(sem.acquire({ timeoutMs: 100, signal: controller.signal }), clock);
    controller.abort('gone');
    expect(clock.pendingTimers).toBe(0);
    await clock.advanceAsync(200);
    expect(o.error).toBe('gone');
  });

  it('removes the abort listener when the timeout fires', async () => {
    const { clock, sem } = make(1);
    sem.tryAcquire();
    const controller = new AbortController();
    const o = observe(sem.acquire({ timeoutMs: 5, signal: controller.signal }), clock);
    await clock.advanceAsync(5);
    expect(o.error).toBeInstanceOf(TimeoutError);
    expect(listeners(controller.signal)).toBe(0);
  });

  it('an acquire that fits at once arms no timer', async () => {
    const { clock, sem } = make(1);
    const o = observe(sem.acquire({ timeoutMs: 100 }));
    expect(clock.pendingTimers).toBe(0);
    await flush();
    expect(o.state).toBe('resolved');
  });

  it('timeoutMs 0 succeeds when the permit fits and fails at once, with no timer, when not', async () => {
    const { clock, sem } = make(1);
    const ok = observe(sem.acquire({ timeoutMs: 0 }));
    await flush();
    expect(ok.state).toBe('resolved');
    const late = observe(sem.acquire({ timeoutMs: 0 }), clock);
    expect(clock.pendingTimers).toBe(0);
    expect(sem.waiting).toBe(0);
    await flush();
    expect(late.state).toBe('rejected');
    expect(late.error).toBeInstanceOf(TimeoutError);
    expect((late.error as TimeoutError).timeoutMs).toBe(0);
    expect(sem.inUse).toBe(1);
  });

  it('timeoutMs 0 fails behind a waiter even when the weight would fit', async () => {
    const { sem } = make(2);
    sem.tryAcquire(1);
    observe(sem.acquire({ weight: 2 }));
    const o = observe(sem.acquire({ weight: 1, timeoutMs: 0 }));
    await flush();
    expect(o.error).toBeInstanceOf(TimeoutError);
    expect(sem.inUse).toBe(1);
    expect(sem.waiting).toBe(1);
  });

  it('timeoutMs Infinity waits without a timer', async () => {
    const { clock, sem } = make(1);
    sem.tryAcquire();
    const o = observe(sem.acquire({ timeoutMs: Number.POSITIVE_INFINITY }));
    expect(clock.pendingTimers).toBe(0);
    await clock.advanceAsync(1e9);
    expect(o.state).toBe('pending');
  });

  it('several timeouts fire in deadline order, each at its own time', async () => {
    const { clock, sem } = make(1);
    sem.tryAcquire();
    const slow = observe(sem.acquire({ timeoutMs: 30 }), clock);
    const fast = observe(sem.acquire({ timeoutMs: 10 }), clock);
    const mid = observe(sem.acquire({ timeoutMs: 20 }), clock);
    await clock.advanceAsync(100);
    expect([fast.at, mid.at, slow.at]).toEqual([10, 20, 30]);
    expect(clock.pendingTimers).toBe(0);
    expect(sem.stats().cancelled).toBe(3);
  });
});

// ---- stats and invariants --------------------------------------------------------------------

describe('Semaphore: stats() and assertInvariants()', () => {
  it('counts permits handed out and waits that ended without one', async () => {
    const { clock, sem } = make(2);
    const p1 = sem.tryAcquire(2)!;
    expect(sem.tryAcquire()).toBeUndefined();
    const controller = new AbortController();
    observe(sem.acquire({ signal: controller.signal }));
    observe(sem.acquire({ timeoutMs: 10 }));
    const w = observe(sem.acquire({ weight: 2 }));
    expect(sem.stats()).toEqual({ capacity: 2, inUse: 2, waiting: 3, acquired: 1, cancelled: 0 });
    controller.abort();
    await clock.advanceAsync(10);
    expect(sem.stats()).toEqual({ capacity: 2, inUse: 2, waiting: 1, acquired: 1, cancelled: 2 });
    p1.release();
    await flush();
    expect(w.state).toBe('resolved');
    expect(sem.stats()).toEqual({ capacity: 2, inUse: 2, waiting: 0, acquired: 2, cancelled: 2 });
    permitOf(w).release();
    expect(sem.stats()).toEqual({ capacity: 2, inUse: 0, waiting: 0, acquired: 2, cancelled: 2 });
  });

  it('returns a snapshot, not a live view', () => {
    const { sem } = make(1);
    const before = sem.stats();
    sem.tryAcquire();
    expect(before.inUse).toBe(0);
    expect(sem.stats().inUse).toBe(1);
  });

  it('assertInvariants holds after every step of a mixed sequence', async () => {
    const { clock, sem } = make(3);
    const steps: (() => unknown)[] = [
      () => sem.tryAcquire(2),
      () => observe(sem.acquire({ weight: 3, timeoutMs: 5 })),
      () => observe(sem.acquire({ weight: 1 })),
      () => clock.advance(5),
      () => sem.tryAcquire(1),
      () => observe(sem.acquire({ weight: 2 })),
    ];
    for (const step of steps) {
      step();
      sem.assertInvariants();
      await flush();
      sem.assertInvariants();
      expect(sem.inUse).toBeLessThanOrEqual(3);
    }
  });
});

// ---- misuse ----------------------------------------------------------------------------------

describe('Semaphore: misuse throws synchronously, naming the value', () => {
  const construct = (options: unknown): Semaphore => new Semaphore(options as SemaphoreOptions);

  it.each([
    ['0', 0, 'got `0` (number)'],
    ['1.5', 1.5, 'got `1.5` (number)'],
    ['NaN', Number.NaN, 'got `NaN` (number)'],
    ['-1', -1, 'got `-1` (number)'],
    ['Infinity', Number.POSITIVE_INFINITY, 'got `Infinity` (number)'],
    ['"3"', '3', 'got `"3"` (string)'],
    ['null', null, 'got `null` (null)'],
    ['missing', undefined, 'got `undefined` (undefined)'],
  ])('capacity %s', (_name, capacity, fragment) => {
    expectMisuse(() => construct({ capacity }), RangeError, '`capacity`', fragment);
  });

  it('no options, or options that are not an object', () => {
    expectMisuse(() => construct(undefined), TypeError, 'capacity');
    expectMisuse(() => construct(3), TypeError, 'options', 'got `3` (number)');
    expectMisuse(() => construct(null), TypeError, 'options');
  });

  it('a clock that is not a Clock', () => {
    expectMisuse(() => construct({ capacity: 1, clock: {} }), TypeError, '`clock`');
  });

  it.each([
    ['0', 0, 'got `0` (number)'],
    ['above the capacity', 4, 'got `4` (number)'],
    ['1.5', 1.5, 'got `1.5` (number)'],
    ['NaN', Number.NaN, 'got `NaN` (number)'],
    ['-1', -1, 'got `-1` (number)'],
    ['"1"', '1', 'got `"1"` (string)'],
  ])('weight %s, in tryAcquire, acquire and run', async (_name, weight, fragment) => {
    const { sem } = make(3);
    expectMisuse(() => sem.tryAcquire(weight as number), RangeError, '`weight`', fragment);
    expectMisuse(() => sem.acquire({ weight: weight as number }), RangeError, '`weight`', fragment);
    const error = await misuse(() => sem.run(() => 1, { weight: weight as number }));
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toContain(fragment);
    expect(sem.inUse).toBe(0);
    expect(sem.waiting).toBe(0);
  });

  it('the weight message names the capacity', () => {
    const { sem } = make(3);
    expectMisuse(() => sem.tryAcquire(4), RangeError, 'capacity (3)');
  });

  it.each([
    ['-1', -1, 'got `-1` (number)'],
    ['NaN', Number.NaN, 'got `NaN` (number)'],
    ['"5"', '5', 'got `"5"` (string)'],
    ['null', null, 'got `null` (null)'],
  ])('timeoutMs %s', (_name, timeoutMs, fragment) => {
    const { clock, sem } = make(1);
    sem.tryAcquire();
    expectMisuse(
      () => sem.acquire({ timeoutMs: timeoutMs as number }),
      RangeError,
      '`timeoutMs`',
      fragment,
    );
    expect(sem.waiting).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it.each([
    ['a plain object', {}, 'got `{}` (object)'],
    ['a string', 'abort', 'got `"abort"` (string)'],
    ['null', null, 'got `null` (null)'],
  ])('signal that is %s', (_name, signal, fragment) => {
    const { sem } = make(1);
    sem.tryAcquire();
    expectMisuse(
      () => sem.acquire({ signal: signal as AbortSignal }),
      TypeError,
      '`signal`',
      fragment,
    );
    expect(sem.waiting).toBe(0);
  });

  it('acquire(2) instead of acquire({ weight: 2 })', () => {
    const { sem } = make(3);
    expectMisuse(() => sem.acquire(2 as never), TypeError, 'options', 'got `2` (number)');
  });

  it.each([
    ['undefined', undefined, 'got `undefined` (undefined)'],
    ['a number', 5, 'got `5` (number)'],
    ['a promise', Promise.resolve(1), '`fn`'],
  ])(
    'run with fn %s fails with a TypeError naming the value, holding nothing',
    async (_name, fn, fragment) => {
      const { sem } = make(1);
      const error = await misuse(() => sem.run(fn as never));
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toContain('`fn`');
      expect((error as Error).message).toContain(fragment);
      expect(sem.inUse).toBe(0);
      expect(sem.stats().acquired).toBe(0);
    },
  );

  // STYLE.md: "misuse throws synchronously". acquire, Channel.send and TokenBucket.take do;
  // run is an async function, so its misuse arrives as a rejected promise instead.
  it('run reports misuse synchronously, as acquire does', () => {
    const { sem } = make(1);
    expectMisuse(() => sem.run(5 as never), TypeError, '`fn`', 'got `5` (number)');
    expectMisuse(() => sem.run(() => 1, { weight: 0 }), RangeError, '`weight`', 'got `0` (number)');
  });
});

// ---- model test ------------------------------------------------------------------------------

type Op =
  | {
      readonly kind: 'acquire';
      readonly weight: number;
      /** No signal, a signal of its own, or one of two signals shared between calls. */
      readonly signal: 'none' | 'own' | 0 | 1;
      readonly timeoutMs?: number | undefined;
    }
  | { readonly kind: 'tryAcquire'; readonly weight: number }
  | { readonly kind: 'release'; readonly pick: number }
  | { readonly kind: 'releaseAgain'; readonly pick: number }
  | { readonly kind: 'abort'; readonly pick: number }
  | { readonly kind: 'renew'; readonly slot: 0 | 1 }
  | { readonly kind: 'advance'; readonly ms: number };

type ModelState = 'waiting' | 'held' | 'released' | 'aborted' | 'timedOut';

interface Call {
  readonly id: number;
  readonly weight: number;
  readonly controller: AbortController | undefined;
  readonly deadline: number; // Infinity: none
  state: ModelState;
  outcome: Observed<Permit> | undefined; // undefined for tryAcquire
  permit: Permit | undefined;
  releases: number;
}

function opArb(capacity: number): fc.Arbitrary<Op> {
  const weight = fc.integer({ min: 1, max: capacity });
  return fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record(
        {
          kind: fc.constant('acquire' as const),
          weight,
          signal: fc.constantFrom('none' as const, 'own' as const, 0 as const, 1 as const),
          timeoutMs: fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
        },
        { requiredKeys: ['kind', 'weight', 'signal'] },
      ),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('tryAcquire' as const), weight }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }) },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('releaseAgain' as const), pick: fc.nat() }),
    },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('renew' as const),
        slot: fc.constantFrom(0 as const, 1 as const),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('advance' as const),
        ms: fc.integer({ min: 0, max: 25 }),
      }),
    },
  );
}

const scenarioArb = fc.integer({ min: 1, max: 4 }).chain((capacity) =>
  fc.record({
    capacity: fc.constant(capacity),
    ops: fc.array(opArb(capacity), { minLength: 5, maxLength: 60, size: 'max' }),
  }),
);

/** The trivial model: units in use, and a FIFO queue of waiting calls. */
class Model {
  inUse = 0;
  readonly queue: Call[] = [];
  acquired = 0;
  cancelled = 0;
  constructor(readonly capacity: number) {}

  serve(): void {
    while (this.queue.length > 0 && this.inUse + this.queue[0]!.weight <= this.capacity) {
      const call = this.queue.shift()!;
      call.state = 'held';
      this.inUse += call.weight;
      this.acquired++;
    }
  }

  /** Every waiting call on `controller` leaves (its listeners run in call order), then serve. */
  abort(controller: AbortController): void {
    for (const call of [...this.queue]) {
      if (call.controller !== controller) continue;
      this.queue.splice(this.queue.indexOf(call), 1);
      call.state = 'aborted';
      this.cancelled++;
    }
    this.serve();
  }

  leave(call: Call, state: 'aborted' | 'timedOut'): void {
    this.queue.splice(this.queue.indexOf(call), 1);
    call.state = state;
    this.cancelled++;
    this.serve();
  }
}

describe('Semaphore: model test', () => {
  it('matches a FIFO model under random acquire / release / abort / timeout sequences', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async ({ capacity, ops }) => {
        const clock = new ManualClock();
        const sem = new Semaphore({ capacity, clock });
        const model = new Model(capacity);
        const calls: Call[] = [];
        const shared = [new AbortController(), new AbortController()];
        const controllers = new Set<AbortController>(shared);
        let ever = 0; // most units seen held at once by permits the callers hold

        const heldByCallers = (): number =>
          calls
            .filter((c) => c.permit !== undefined && !c.permit.released)
            .reduce((sum, c) => sum + c.weight, 0);

        // Plain comparisons collected into one list (an expect() per value per step is slow).
        const check = async (): Promise<void> => {
          const mismatches: string[] = [];
          const same = (label: string, actual: unknown, wanted: unknown): void => {
            if (!Object.is(actual, wanted)) mismatches.push(`${label}: ${actual} != ${wanted}`);
          };
          sem.assertInvariants();
          same('inUse', sem.inUse, model.inUse);
          same('waiting', sem.waiting, model.queue.length);
          if (sem.inUse > capacity) mismatches.push(`inUse ${sem.inUse} > ${capacity}`);
          await microtasks();
          sem.assertInvariants();
          for (const call of calls) {
            const o = call.outcome;
            if (o === undefined) continue;
            const expected =
              call.state === 'waiting'
                ? 'pending'
                : call.state === 'held' || call.state === 'released'
                  ? 'resolved'
                  : 'rejected';
            if (o.state !== expected) {
              mismatches.push(`call ${call.id}: model ${call.state}, promise ${o.state}`);
            }
            if (o.state === 'resolved') {
              call.permit ??= o.value;
              if (o.value!.weight !== call.weight) mismatches.push(`call ${call.id}: weight`);
            }
            if (call.state === 'aborted' && o.error !== call.controller!.signal.reason) {
              mismatches.push(`call ${call.id}: not rejected with signal.reason`);
            }
            if (call.state === 'timedOut' && !(o.error instanceof TimeoutError)) {
              mismatches.push(`call ${call.id}: not rejected with a TimeoutError`);
            }
          }
          const held = heldByCallers();
          same('units held by callers', held, model.inUse);
          if (held > capacity) mismatches.push(`callers hold ${held} > ${capacity}`);
          ever = Math.max(ever, held);
          same(
            'pendingTimers',
            clock.pendingTimers,
            model.queue.filter((c) => c.deadline !== Number.POSITIVE_INFINITY).length,
          );
          if (mismatches.length > 0) expect(mismatches).toEqual([]);
        };

        const heldCalls = (): Call[] => calls.filter((c) => c.state === 'held');

        for (const op of ops) {
          switch (op.kind) {
            case 'acquire': {
              const controller =
                op.signal === 'none'
                  ? undefined
                  : op.signal === 'own'
                    ? new AbortController()
                    : shared[op.signal]!;
              if (controller !== undefined) controllers.add(controller);
              const timeoutMs = op.timeoutMs;
              const call: Call = {
                id: calls.length,
                weight: op.weight,
                controller,
                deadline:
                  timeoutMs === undefined ? Number.POSITIVE_INFINITY : clock.now() + timeoutMs,
                state: 'waiting',
                outcome: undefined,
                permit: undefined,
                releases: 0,
              };
              calls.push(call);
              call.outcome = observe(
                sem.acquire({
                  weight: op.weight,
                  signal: controller?.signal,
                  timeoutMs,
                }),
                clock,
              );
              if (controller?.signal.aborted) {
                call.state = 'aborted'; // refused at once: never waited, not counted
              } else if (model.queue.length === 0 && model.inUse + op.weight <= capacity) {
                call.state = 'held';
                model.inUse += op.weight;
                model.acquired++;
              } else if (timeoutMs === 0) {
                call.state = 'timedOut'; // refused at once: never waited, not counted
              } else {
                model.queue.push(call);
              }
              break;
            }
            case 'tryAcquire': {
              const permit = sem.tryAcquire(op.weight);
              const fits = model.queue.length === 0 && model.inUse + op.weight <= capacity;
              expect(permit !== undefined).toBe(fits);
              if (permit !== undefined) {
                model.inUse += op.weight;
                model.acquired++;
                calls.push({
                  id: calls.length,
                  weight: op.weight,
                  controller: undefined,
                  deadline: Number.POSITIVE_INFINITY,
                  state: 'held',
                  outcome: undefined,
                  permit,
                  releases: 0,
                });
              }
              break;
            }
            case 'release': {
              const held = heldCalls().filter((c) => c.permit !== undefined);
              if (held.length === 0) break;
              const call = held[op.pick % held.length]!;
              call.permit!.release();
              call.releases++;
              call.state = 'released';
              model.inUse -= call.weight;
              model.serve();
              break;
            }
            case 'releaseAgain': {
              const done = calls.filter((c) => c.state === 'released');
              if (done.length === 0) break;
              const call = done[op.pick % done.length]!;
              call.permit!.release(); // must change nothing
              break;
            }
            case 'abort': {
              // Prefer a signal some waiting call uses, so aborts usually hit a waiter.
              const waitingOn = model.queue
                .map((c) => c.controller)
                .filter((c): c is AbortController => c !== undefined);
              const abortable =
                waitingOn.length > 0
                  ? waitingOn
                  : [...controllers].filter((c) => !c.signal.aborted);
              if (abortable.length === 0) break;
              const controller = abortable[op.pick % abortable.length]!;
              controller.abort(new Error(`abort ${op.pick}`));
              model.abort(controller);
              break;
            }
            case 'renew': {
              shared[op.slot] = new AbortController();
              controllers.add(shared[op.slot]!);
              break;
            }
            case 'advance': {
              const target = clock.now() + op.ms;
              clock.advance(op.ms);
              // Timers fire in deadline order (ties: in the order they were armed).
              const due = model.queue
                .filter((c) => c.deadline <= target)
                .sort((a, b) => a.deadline - b.deadline || a.id - b.id);
              for (const call of due) {
                if (call.state === 'waiting') model.leave(call, 'timedOut');
              }
              break;
            }
          }
          await check();
        }

        // Finale: release every permit held, let every timer run; nothing may stay pending.
        for (let round = 0; round < calls.length + 1; round++) {
          await check();
          const held = heldCalls().filter((c) => c.permit !== undefined);
          if (held.length === 0 && model.queue.length === 0) break;
          for (const call of held) {
            call.permit!.release();
            call.releases++;
            call.state = 'released';
            model.inUse -= call.weight;
            model.serve();
          }
          if (held.length === 0) {
            // Only waiters with a deadline could be left only if nothing is held; never here.
            throw new Error('waiters left with nothing held');
          }
        }
        await check();
        expect(model.queue).toHaveLength(0);
        expect(sem.inUse).toBe(0);
        expect(sem.waiting).toBe(0);
        expect(clock.pendingTimers).toBe(0);
        for (const call of calls) {
          expect(['released', 'aborted', 'timedOut']).toContain(call.state);
          if (call.state === 'released') {
            expect(call.releases).toBe(1);
            expect(call.permit!.released).toBe(true);
          }
          if (call.outcome !== undefined) expect(call.outcome.state).not.toBe('pending');
          if (call.controller !== undefined) expect(listeners(call.controller.signal)).toBe(0);
        }
        expect(ever).toBeLessThanOrEqual(capacity);
        const stats = sem.stats();
        expect(stats.acquired).toBe(model.acquired);
        expect(stats.cancelled).toBe(model.cancelled);
      }),
      { numRuns: 200 },
    );
  });
});
