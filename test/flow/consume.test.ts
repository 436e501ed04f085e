/**
 * consume(): the worker pool. Taking items (channel and async iterable, no read-ahead),
 * the concurrency bound, graceful stop and immediate abort, the error policies with exact
 * backoff times on a ManualClock, limiter integration, bad input, settling once, and leaks.
 * Nothing here sleeps: time is a ManualClock, and `flush()` lets promise callbacks run.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { consume, type HandlerContext, type WorkerPool } from '../../src/flow/consume.js';
import { Channel, TokenBucket } from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { advanceTo, flush } from '../support/clock.js';
import { rejection, thrown } from '../support/errors.js';
import { observe } from '../support/outcome.js';
import { listeners } from '../support/signals.js';

// ---- helpers ---------------------------------------------------------------------------------

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

interface Call<T> extends Deferred {
  readonly item: T;
  readonly attempt: number;
  readonly signal: AbortSignal;
  readonly at: number;
}

/**
 * A handler whose calls wait until the test settles them. Records every call and checks the
 * concurrency bound at every start.
 */
function manual<T>(concurrency: number, clock?: ManualClock) {
  const calls: Call<T>[] = [];
  let running = 0;
  let max = 0;
  const handler = (item: T, context: HandlerContext): Promise<void> => {
    running++;
    max = Math.max(max, running);
    expect(running).toBeLessThanOrEqual(concurrency);
    const d = deferred();
    calls.push({
      ...d,
      item,
      attempt: context.attempt,
      signal: context.signal,
      at: clock?.now() ?? 0,
    });
    return d.promise.finally(() => {
      running--;
    });
  };
  return {
    calls,
    handler,
    items: (): T[] => calls.map((c) => c.item),
    get running(): number {
      return running;
    },
    get max(): number {
      return max;
    },
  };
}

function filled<T>(items: readonly T[], capacity = items.length, close = true): Channel<T> {
  const ch = new Channel<T>({ capacity });
  for (const item of items) expect(ch.trySend(item)).toEqual({ ok: true });
  if (close) ch.close();
  return ch;
}

/** An async iterator over `items` that counts next() calls and how many were pending at once. */
function countingIterable<T>(items: readonly T[]) {
  let index = 0;
  const stats = { nexts: 0, pending: 0, maxPending: 0, returns: 0 };
  const iterable: AsyncIterable<T> = {
    [Symbol.asyncIterator]: () => ({
      next: async (): Promise<IteratorResult<T>> => {
        stats.nexts++;
        stats.pending++;
        stats.maxPending = Math.max(stats.maxPending, stats.pending);
        await Promise.resolve();
        stats.pending--;
        return index < items.length
          ? { done: false, value: items[index++] as T }
          : { done: true, value: undefined };
      },
      return: async (): Promise<IteratorResult<T>> => {
        stats.returns++;
        return { done: true, value: undefined };
      },
    }),
  };
  return { iterable, stats };
}

/** An async iterator whose next() calls wait until the test answers them. */
function manualIterable<T>() {
  const pending: ((result: IteratorResult<T>) => void)[] = [];
  const rejects: ((error: unknown) => void)[] = [];
  let returns = 0;
  const iterable: AsyncIterable<T> = {
    [Symbol.asyncIterator]: () => ({
      next: () =>
        new Promise<IteratorResult<T>>((resolve, reject) => {
          pending.push(resolve);
          rejects.push(reject);
        }),
      return: async (): Promise<IteratorResult<T>> => {
        returns++;
        return { done: true, value: undefined };
      },
    }),
  };
  return {
    iterable,
    get waiting(): number {
      return pending.length;
    },
    get returns(): number {
      return returns;
    },
    give(value: T): void {
      rejects.shift();
      pending.shift()?.({ done: false, value });
    },
    end(): void {
      rejects.shift();
      pending.shift()?.({ done: true, value: undefined });
    },
    fail(error: unknown): void {
      pending.shift();
      rejects.shift()?.(error);
    },
  };
}

/** Resolves after `ms` on `clock`; rejects with the signal's reason if it aborts first. */
function sleep(clock: ManualClock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clock.clearTimer(timer);
      reject(signal?.reason);
    };
    const timer = clock.setTimer(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function expectMisuse(
  fn: () => unknown,
  kind: typeof RangeError | typeof TypeError,
  ...parts: string[]
) {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(kind);
  for (const part of parts) expect((error as Error).message).toContain(part);
}

/** Checks the pool's invariants and that it holds nothing on the clock, signal or channel. */
function expectClean<T>(
  pool: WorkerPool<T>,
  { clock, signal, channel }: { clock?: ManualClock; signal?: AbortSignal; channel?: Channel<T> },
): void {
  pool.assertInvariants();
  const s = pool.stats();
  expect(s.inFlight).toBe(0);
  expect(s.running).toBe(0);
  if (clock !== undefined) expect(clock.pendingTimers).toBe(0);
  if (signal !== undefined) expect(listeners(signal)).toBe(0);
  if (channel !== undefined) {
    expect(channel.waitingReceivers).toBe(0);
    channel.assertInvariants();
  }
}

const ZERO = {
  received: 0,
  inFlight: 0,
  running: 0,
  handled: 0,
  failed: 0,
  skipped: 0,
  retried: 0,
  unhandled: 0,
  interrupted: 0,
};

afterEach(() => {
  vi.restoreAllMocks();
});

// ---- taking items ----------------------------------------------------------------------------

describe('consume: taking items', () => {
  it('handles every item of a closed channel and resolves with ended: drained and the counts', async () => {
    const ch = filled([1, 2, 3, 4, 5]);
    const seen: number[] = [];
    const pool = consume(ch, (n) => void seen.push(n), { concurrency: 2 });
    const result = await pool.done;
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(result).toEqual({
      ended: 'drained',
      unhandled: [],
      interrupted: [],
      stats: { ...ZERO, received: 5, handled: 5 },
    });
    expect(pool.stats()).toEqual(result.stats);
    expectClean(pool, { channel: ch });
    expect(ch.state).toBe('closed');
  });

  it('an empty, closed channel ends the pool at once', async () => {
    const pool = consume(filled([]), () => {}, { concurrency: 3 });
    expect((await pool.done).ended).toBe('drained');
  });

  it('asks the channel for an item only when a slot is free: the bound is real backpressure', async () => {
    const ch = new Channel<number>({ capacity: 2 });
    const h = manual<number>(2);
    const pool = consume(ch, h.handler, { concurrency: 2 });
    const sends = Array.from({ length: 8 }, (_, i) => observe(ch.send(i)));
    await flush();
    // Two handlers hold items 0 and 1; 2 and 3 fill the buffer; 4… wait to be sent.
    expect(h.items()).toEqual([0, 1]);
    expect(pool.stats()).toMatchObject({ received: 2, inFlight: 2, running: 2 });
    expect(ch.size).toBe(2);
    expect(ch.waitingSenders).toBe(4);
    expect(ch.waitingReceivers).toBe(0);
    expect(sends.map((s) => s.state)).toEqual([
      ...Array(4).fill('resolved'),
      ...Array(4).fill('pending'),
    ]);
    for (let done = 0; done < 6; done++) {
      h.calls[done]!.resolve();
      await flush();
      pool.assertInvariants();
      expect(pool.stats().received).toBe(3 + done);
      expect(pool.stats().received).toBe(ch.stats().received);
      expect(h.running).toBe(2);
    }
    expect(ch.size).toBe(0);
    expect(sends.every((s) => s.state === 'resolved')).toBe(true);
    ch.close();
    h.calls[6]!.resolve();
    h.calls[7]!.resolve();
    expect((await pool.done).stats).toMatchObject({ received: 8, handled: 8 });
    expect(h.max).toBe(2);
    expectClean(pool, { channel: ch });
  });

  it('waits on an empty channel with one receive and takes items as they are sent', async () => {
    const ch = new Channel<string>(); // rendezvous
    const h = manual<string>(3);
    const pool = consume(ch, h.handler, { concurrency: 3 });
    expect(ch.waitingReceivers).toBe(1);
    await ch.send('a');
    await flush();
    expect(h.items()).toEqual(['a']);
    expect(ch.waitingReceivers).toBe(1);
    await ch.send('b');
    await ch.send('c');
    await flush();
    expect(h.items()).toEqual(['a', 'b', 'c']);
    expect(ch.waitingReceivers).toBe(0); // every slot is busy: nothing is asked for
    expect(ch.trySend('d')).toMatchObject({ ok: false, reason: 'full' });
    h.calls[1]!.resolve();
    await flush();
    expect(ch.waitingReceivers).toBe(1);
    ch.close();
    await flush();
    for (const call of h.calls) call.resolve();
    expect((await pool.done).stats).toMatchObject({ received: 3, handled: 3 });
    expectClean(pool, { channel: ch });
  });

  it('starts items in the order received and hands the handler attempt 1 and a live signal', async () => {
    const ch = filled(['x', 'y', 'z']);
    const h = manual<string>(3);
    const pool = consume(ch, h.handler, { concurrency: 3 });
    await flush();
    expect(h.items()).toEqual(['x', 'y', 'z']);
    for (const call of h.calls) {
      expect(call.attempt).toBe(1);
      expect(call.signal).toBeInstanceOf(AbortSignal);
      expect(call.signal.aborted).toBe(false);
      call.resolve();
    }
    await pool.done;
  });

  it('a handler may return a plain value, throw synchronously, or return a thenable', async () => {
    const errors: unknown[] = [];
    const boom = new Error('sync');
    const pool = consume(
      filled([1, 2, 3]),
      (n) => {
        if (n === 2) throw boom;
        // biome-ignore lint/suspicious/noThenProperty: a thenable, on purpose
        if (n === 3) return { then: (ok: (v: number) => void) => ok(3) };
        return 'plain';
      },
      { concurrency: 1, onError: 'skip', onHandlerError: (e) => errors.push(e) },
    );
    expect((await pool.done).stats).toMatchObject({ handled: 2, skipped: 1 });
    expect(errors).toEqual([boom]);
  });

  it('the handler is never called synchronously from consume()', async () => {
    let called = false;
    const pool = consume(
      filled([1]),
      () => {
        called = true;
      },
      { concurrency: 1 },
    );
    expect(called).toBe(false);
    expect(pool.stats()).toMatchObject({ received: 1, inFlight: 1, running: 0 });
    await pool.done;
    expect(called).toBe(true);
  });

  it('async iterable: calls next() only when a slot is free, and one at a time', async () => {
    const { iterable, stats } = countingIterable([1, 2, 3, 4, 5, 6]);
    const h = manual<number>(2);
    const pool = consume(iterable, h.handler, { concurrency: 2 });
    await flush();
    expect(h.items()).toEqual([1, 2]);
    expect(stats.nexts).toBe(2);
    h.calls[0]!.resolve();
    await flush();
    expect(stats.nexts).toBe(3);
    for (let i = 1; i < 6; i++) {
      h.calls[i]!.resolve();
      await flush();
    }
    const result = await pool.done;
    expect(result).toMatchObject({ ended: 'drained', stats: { received: 6, handled: 6 } });
    expect(stats).toEqual({ nexts: 7, pending: 0, maxPending: 1, returns: 0 }); // 7th: done
    expect(h.max).toBe(2);
  });

  it('async generator source, with its finally block run when it ends', async () => {
    let finished = false;
    async function* gen() {
      try {
        for (let i = 0; i < 5; i++) yield i;
      } finally {
        finished = true;
      }
    }
    const seen: number[] = [];
    const pool = consume(gen(), async (n) => void seen.push(n), { concurrency: 3 });
    expect((await pool.done).stats.handled).toBe(5);
    expect(seen.sort()).toEqual([0, 1, 2, 3, 4]);
    expect(finished).toBe(true);
  });

  it('channel.iterate() works as an iterable source', async () => {
    const ch = filled([1, 2, 3], 3, false);
    const seen: number[] = [];
    const pool = consume(ch.iterate(), (n) => void seen.push(n), { concurrency: 2 });
    await flush();
    expect(seen).toEqual([1, 2, 3]);
    ch.close();
    expect((await pool.done).ended).toBe('drained');
  });

  it('never closes the source channel, however the pool ends', async () => {
    const endings: ((pool: WorkerPool<number>) => Promise<unknown>)[] = [
      (pool) => pool.stop(),
      (pool) => pool.abort(),
    ];
    for (const end of endings) {
      const ch = filled([1, 2, 3, 4], 4, false);
      const h = manual<number>(1);
      const pool = consume(ch, h.handler, { concurrency: 1 });
      await flush();
      const done = end(pool);
      h.calls[0]!.resolve();
      await done;
      expect(ch.state).toBe('open');
      expect(ch.size).toBe(3); // what the pool did not take stays in the channel
      expectClean(pool, { channel: ch });
    }
    const ch = filled([1, 2], 2, false);
    const pool = consume(ch, () => Promise.reject(new Error('x')), { concurrency: 1 });
    await rejection(pool.done);
    expect(ch.state).toBe('open');
    expect(ch.size).toBe(1);
  });

  it('a channel destroyed while the pool waits ends it as drained', async () => {
    const ch = new Channel<number>({ capacity: 1 });
    const pool = consume(ch, () => {}, { concurrency: 1 });
    expect(ch.waitingReceivers).toBe(1);
    ch.destroy();
    expect((await pool.done).ended).toBe('drained');
  });
});

// ---- graceful stop ---------------------------------------------------------------------------

describe('consume: stop() (graceful)', () => {
  it('withdraws the waiting receive, lets running handlers finish, resolves ended: stopped', async () => {
    const ch = new Channel<number>({ capacity: 5 });
    const h = manual<number>(3);
    const pool = consume(ch, h.handler, { concurrency: 3 });
    ch.trySend(1);
    ch.trySend(2);
    await flush();
    expect(ch.waitingReceivers).toBe(1);
    const done = observe(pool.stop());
    expect(ch.waitingReceivers).toBe(0); // withdrawn at once, consuming nothing
    ch.trySend(3);
    await flush();
    expect(done.state).toBe('pending');
    expect(h.calls.every((c) => !c.signal.aborted)).toBe(true);
    h.calls[0]!.resolve();
    await flush();
    expect(done.state).toBe('pending');
    h.calls[1]!.resolve();
    await flush();
    expect(done.state).toBe('resolved');
    expect(done.value).toEqual({
      ended: 'stopped',
      unhandled: [],
      interrupted: [],
      stats: { ...ZERO, received: 2, handled: 2 },
    });
    expect(ch.tryReceive()).toEqual({ ok: true, value: 3 });
    expectClean(pool, { channel: ch });
  });

  it('items waiting for the limiter still run, and retries still happen', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ rate: 10, burst: 1, clock });
    const h = manual<string>(2, clock);
    const pool = consume(filled(['a', 'b'], 2, false), h.handler, {
      concurrency: 2,
      limiter: bucket,
      clock,
      onError: { retry: { attempts: 2, backoffMs: 50 } },
    });
    await flush();
    expect(h.items()).toEqual(['a']);
    h.calls[0]!.reject(new Error('first try'));
    const done = observe(pool.stop());
    await advanceTo(clock, 100); // b's token
    expect(h.calls.map((c) => [c.item, c.attempt, c.at])).toEqual([
      ['a', 1, 0],
      ['b', 1, 100],
    ]);
    await advanceTo(clock, 200); // a's retry: backoff until 50, then the next token at 200
    expect(h.calls.map((c) => [c.item, c.attempt, c.at])[2]).toEqual(['a', 2, 200]);
    h.calls[1]!.resolve();
    h.calls[2]!.resolve();
    await flush();
    expect(done.value).toMatchObject({ ended: 'stopped', stats: { handled: 2, retried: 1 } });
    expectClean(pool, { clock });
  });

  it('with an iterator whose next() is pending: calls return() and handles the item it still brings', async () => {
    const it = manualIterable<number>();
    const seen: number[] = [];
    const pool = consume(it.iterable, (n) => void seen.push(n), { concurrency: 2 });
    expect(it.waiting).toBe(1);
    const done = observe(pool.stop());
    await flush();
    expect(it.returns).toBe(1);
    expect(done.state).toBe('pending'); // the pending next() cannot be withdrawn
    it.give(7);
    await flush();
    expect(seen).toEqual([7]);
    expect(it.waiting).toBe(0); // nothing more is asked for
    expect(done.value).toMatchObject({ ended: 'stopped', unhandled: [], stats: { handled: 1 } });
  });

  it('after the source ended, stop() keeps ended: drained', async () => {
    const h = manual<number>(2);
    const pool = consume(filled([1]), h.handler, { concurrency: 2 }); // a free slot sees the end
    await flush();
    const done = pool.stop();
    h.calls[0]!.resolve();
    expect((await done).ended).toBe('drained');
  });

  it('is idempotent and returns done; after abort() it changes nothing', async () => {
    const h = manual<number>(1);
    const pool = consume(filled([1, 2]), h.handler, { concurrency: 1 });
    await flush();
    expect(pool.stop()).toBe(pool.done);
    expect(pool.stop()).toBe(pool.done);
    expect(pool.abort('r')).toBe(pool.done);
    expect(pool.stop()).toBe(pool.done);
    h.calls[0]!.resolve();
    expect(await pool.done).toMatchObject({ ended: 'aborted', reason: 'r', stats: { handled: 1 } });
  });
});

// ---- immediate abort -------------------------------------------------------------------------

describe('consume: abort() (immediate)', () => {
  it("aborts every running handler's signal with the reason and waits for them to return", async () => {
    const ch = filled([1, 2, 3, 4], 4, false);
    const h = manual<number>(3);
    const pool = consume(ch, h.handler, { concurrency: 3 });
    await flush();
    const reason = new Error('shutting down');
    const done = observe(pool.abort(reason));
    for (const call of h.calls) {
      expect(call.signal.aborted).toBe(true);
      expect(call.signal.reason).toBe(reason);
    }
    h.calls[0]!.resolve(); // finished anyway: handled
    h.calls[1]!.reject(reason); // honoured the signal: interrupted
    await flush();
    expect(done.state).toBe('pending');
    h.calls[2]!.reject(new Error('anything after the abort')); // also interrupted, not reported
    await flush();
    expect(done.value).toEqual({
      ended: 'aborted',
      reason,
      unhandled: [],
      interrupted: [2, 3],
      stats: { ...ZERO, received: 3, handled: 1, interrupted: 2 },
    });
    expect(ch.size).toBe(1);
    expectClean(pool, { channel: ch });
  });

  it('resolves at once when nothing is running, and the default reason is an AbortError', async () => {
    const ch = new Channel<number>();
    const pool = consume(ch, () => {}, { concurrency: 2 });
    const result = await pool.abort();
    expect(result.ended).toBe('aborted');
    const { reason } = result as { reason: DOMException };
    expect(reason).toBeInstanceOf(DOMException);
    expect(reason.name).toBe('AbortError');
    expectClean(pool, { channel: ch });
  });

  it('items waiting for the limiter are handed back as unhandled, in the order received', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ rate: 1, burst: 1, clock });
    const h = manual<string>(4, clock);
    const ch = filled(['a', 'b', 'c', 'd', 'e'], 5, false);
    const pool = consume(ch, h.handler, { concurrency: 4, limiter: bucket, clock });
    await flush();
    expect(h.items()).toEqual(['a']);
    expect(bucket.waiting).toBe(3);
    const done = observe(pool.abort('stop now'));
    expect(pool.stats()).toMatchObject({ inFlight: 1, unhandled: 3 });
    await flush();
    expect(bucket.waiting).toBe(0); // their takes were cancelled through the signal
    h.calls[0]!.resolve();
    await flush();
    expect(done.value).toMatchObject({
      ended: 'aborted',
      reason: 'stop now',
      unhandled: ['b', 'c', 'd'],
      interrupted: [],
    });
    expect(ch.size).toBe(1);
    expectClean(pool, { clock, channel: ch });
  });

  it('an item waiting to retry is interrupted and its backoff timer cleared', async () => {
    const clock = new ManualClock();
    const h = manual<string>(1, clock);
    const pool = consume(filled(['a']), h.handler, {
      concurrency: 1,
      clock,
      onError: { retry: { attempts: 3, backoffMs: 1000 } },
    });
    await flush();
    h.calls[0]!.reject(new Error('try again'));
    await flush();
    expect(clock.pendingTimers).toBe(1);
    expect(pool.stats().inFlight).toBe(1);
    const result = await pool.abort('bye');
    expect(result).toMatchObject({ interrupted: ['a'], unhandled: [], stats: { interrupted: 1 } });
    expect(clock.pendingTimers).toBe(0);
    await advanceTo(clock, 5000);
    expect(h.calls).toHaveLength(1);
    expectClean(pool, { clock });
  });

  it('the signal option aborts the pool with its reason, and its listener is removed', async () => {
    const controller = new AbortController();
    const h = manual<number>(2);
    const ch = filled([1, 2, 3], 3, false);
    const pool = consume(ch, h.handler, { concurrency: 2, signal: controller.signal });
    expect(listeners(controller.signal)).toBe(1);
    await flush();
    controller.abort('cancelled');
    expect(h.calls.every((c) => c.signal.reason === 'cancelled')).toBe(true);
    for (const call of h.calls) call.reject(call.signal.reason);
    const result = await pool.done;
    expect(result).toMatchObject({ ended: 'aborted', reason: 'cancelled', interrupted: [1, 2] });
    expectClean(pool, { signal: controller.signal, channel: ch });
  });

  it('the listener on the signal option is removed however the pool ends', async () => {
    const controller = new AbortController();
    const pool = consume(filled([1]), () => {}, { concurrency: 1, signal: controller.signal });
    await pool.done;
    expect(listeners(controller.signal)).toBe(0);
    const failing = consume(filled([1]), () => Promise.reject(new Error('x')), {
      concurrency: 1,
      signal: controller.signal,
    });
    await rejection(failing.done);
    expect(listeners(controller.signal)).toBe(0);
  });

  it('an already-aborted signal: nothing is received, done resolves aborted', async () => {
    const ch = filled([1, 2], 2, false);
    const handler = vi.fn();
    const signal = AbortSignal.abort('too late');
    const pool = consume(ch, handler, { concurrency: 1, signal });
    expect(await pool.done).toEqual({
      ended: 'aborted',
      reason: 'too late',
      unhandled: [],
      interrupted: [],
      stats: ZERO,
    });
    expect(handler).not.toHaveBeenCalled();
    expect(ch.size).toBe(2);
    expect(listeners(signal)).toBe(0);
  });

  it('an item received and not yet started (no limiter) is handed back unhandled', async () => {
    const pool = consume(filled([1, 2]), vi.fn(), { concurrency: 2 });
    const result = await pool.abort();
    expect(result).toMatchObject({ unhandled: [1, 2], stats: { received: 2, unhandled: 2 } });
  });

  it('with an iterator whose next() is pending: the item it still brings is unhandled', async () => {
    const it = manualIterable<number>();
    const handler = vi.fn();
    const pool = consume(it.iterable, handler, { concurrency: 2 });
    const done = observe(pool.abort('now'));
    await flush();
    expect(it.returns).toBe(1);
    expect(done.state).toBe('pending');
    it.give(9);
    await flush();
    expect(handler).not.toHaveBeenCalled();
    expect(done.value).toMatchObject({ ended: 'aborted', unhandled: [9], stats: { received: 1 } });
  });

  it('a source rejecting because of the abort is not a failure', async () => {
    const it = manualIterable<number>();
    const pool = consume(it.iterable, () => {}, { concurrency: 1 });
    const done = observe(pool.abort('now'));
    it.fail(new Error('aborted source'));
    await flush();
    expect(done.value).toMatchObject({ ended: 'aborted', reason: 'now' });
  });

  it('abort() is idempotent: the first reason stays', async () => {
    const h = manual<number>(1);
    const pool = consume(filled([1]), h.handler, { concurrency: 1 });
    await flush();
    expect(pool.abort('first')).toBe(pool.done);
    expect(pool.abort('second')).toBe(pool.done);
    expect(h.calls[0]!.signal.reason).toBe('first');
    h.calls[0]!.resolve();
    expect(await pool.done).toMatchObject({ reason: 'first', stats: { handled: 1 } });
  });
});

// ---- error policies --------------------------------------------------------------------------

describe('consume: error policies', () => {
  it("'stop' (default): stops taking, lets the others finish, rejects with the first error", async () => {
    const ch = filled([1, 2, 3, 4, 5], 5, false);
    const h = manual<number>(3);
    const reported: unknown[][] = [];
    const pool = consume(ch, h.handler, {
      concurrency: 3,
      onHandlerError: (...args) => reported.push(args),
    });
    await flush();
    const first = new Error('first');
    const second = new Error('second');
    const done = observe(pool.done);
    h.calls[1]!.reject(first);
    await flush();
    expect(pool.stats()).toMatchObject({ received: 3, failed: 1, inFlight: 2 });
    expect(done.state).toBe('pending');
    expect(h.calls[0]!.signal.aborted).toBe(false); // graceful: the others are not aborted
    h.calls[0]!.reject(second);
    h.calls[2]!.resolve();
    await flush();
    expect(done.state).toBe('rejected');
    expect(done.error).toBe(first);
    expect(reported).toEqual([[second, 1, 1]]);
    expect(pool.stats()).toMatchObject({ received: 3, failed: 2, handled: 1 });
    expect(ch.size).toBe(2); // 4 and 5 were never taken
    expect(pool.stop()).toBe(pool.done);
    expectClean(pool, { channel: ch });
  });

  it("'skip': reports (error, item, attempt) to onHandlerError and goes on", async () => {
    const reported: unknown[][] = [];
    const errors = new Map([2, 4].map((n) => [n, new Error(`bad ${n}`)]));
    const pool = consume(
      filled([1, 2, 3, 4, 5]),
      async (n) => {
        const error = errors.get(n);
        if (error) throw error;
      },
      { concurrency: 2, onError: 'skip', onHandlerError: (...args) => reported.push(args) },
    );
    const result = await pool.done;
    expect(result.stats).toMatchObject({ received: 5, handled: 3, skipped: 2, failed: 0 });
    expect(reported).toEqual([
      [errors.get(2), 2, 1],
      [errors.get(4), 4, 1],
    ]);
  });

  it('retry: attempts at exact backoff times; when they run out, giveUp: stop rejects', async () => {
    const clock = new ManualClock();
    const h = manual<string>(1, clock);
    const reported: unknown[][] = [];
    const pool = consume(filled(['a', 'b']), h.handler, {
      concurrency: 1,
      clock,
      onError: { retry: { attempts: 3, backoffMs: 100 } },
      onHandlerError: (...args) => reported.push(args),
    });
    const done = observe(pool.done);
    const errors = [new Error('1'), new Error('2'), new Error('3')];
    for (const [i, error] of errors.entries()) {
      await advanceTo(clock, i * 100);
      expect(h.calls).toHaveLength(i + 1);
      h.calls[i]!.reject(error);
      await flush();
    }
    expect(h.calls.map((c) => [c.item, c.attempt, c.at])).toEqual([
      ['a', 1, 0],
      ['a', 2, 100],
      ['a', 3, 200],
    ]);
    expect(done.error).toBe(errors[2]);
    expect(reported).toEqual([
      [errors[0], 'a', 1],
      [errors[1], 'a', 2],
    ]);
    expect(pool.stats()).toMatchObject({ received: 1, failed: 1, retried: 2 });
    expectClean(pool, { clock });
  });

  it('retry with a backoff function of the failed attempt; giveUp: skip', async () => {
    const clock = new ManualClock();
    const h = manual<string>(1, clock);
    const backoff = vi.fn((n: number) => 100 * 2 ** (n - 1));
    const reported: unknown[][] = [];
    const pool = consume(filled(['a', 'b']), h.handler, {
      concurrency: 1,
      clock,
      onError: { retry: { attempts: 4, backoffMs: backoff }, giveUp: 'skip' },
      onHandlerError: (...args) => reported.push(args),
    });
    for (let i = 0; i < 4; i++) {
      await advanceTo(clock, clock.nextTimerAt ?? clock.now());
      h.calls[i]!.reject(new Error(`e${i + 1}`));
      await flush();
    }
    expect(h.calls.map((c) => [c.item, c.attempt, c.at])).toEqual([
      ['a', 1, 0],
      ['a', 2, 100],
      ['a', 3, 300],
      ['a', 4, 700],
      ['b', 1, 700], // skipped after the 4th attempt; b starts at once
    ]);
    expect(backoff.mock.calls).toEqual([[1], [2], [3]]);
    expect(reported.map((r) => [(r[0] as Error).message, r[1], r[2]])).toEqual([
      ['e1', 'a', 1],
      ['e2', 'a', 2],
      ['e3', 'a', 3],
      ['e4', 'a', 4],
    ]);
    h.calls[4]!.resolve();
    const result = await pool.done;
    expect(result.stats).toMatchObject({ received: 2, handled: 1, skipped: 1, retried: 3 });
    expectClean(pool, { clock });
  });

  it('retry that succeeds: handled once, retried counted', async () => {
    const clock = new ManualClock();
    let attempts = 0;
    const pool = consume(
      filled([1]),
      () => {
        if (++attempts < 3) throw new Error('flaky');
      },
      { concurrency: 1, clock, onError: { retry: { attempts: 5, backoffMs: 10 } } },
    );
    await clock.runAllAsync();
    const result = await pool.done;
    expect(result.stats).toMatchObject({ handled: 1, retried: 2, failed: 0 });
    expect(clock.now()).toBe(20);
  });

  it('attempts: 1 means no retry', async () => {
    const error = new Error('once');
    const pool = consume(filled([1]), () => Promise.reject(error), {
      concurrency: 1,
      onError: { retry: { attempts: 1, backoffMs: 10 }, giveUp: 'stop' },
    });
    expect(await rejection(pool.done)).toBe(error);
    expect(pool.stats().retried).toBe(0);
  });

  it('a backoff function returning a bad value rejects done with a RangeError naming it', async () => {
    const clock = new ManualClock();
    const reported: unknown[] = [];
    const handlerError = new Error('handler');
    const pool = consume(filled([1, 2]), () => Promise.reject(handlerError), {
      concurrency: 1,
      clock,
      onError: { retry: { attempts: 3, backoffMs: () => -5 }, giveUp: 'skip' },
      onHandlerError: (e) => reported.push(e),
    });
    const error = (await rejection(pool.done)) as Error;
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toContain('onError.retry.backoffMs(1)');
    expect(error.message).toContain('`-5` (number)');
    expect(reported).toEqual([handlerError]); // the handler's error is still reported
    expect(pool.stats()).toMatchObject({ received: 1, failed: 1 });
    expectClean(pool, { clock });
  });

  it('a backoff function that throws rejects done with its error', async () => {
    const thrownByBackoff = new Error('backoff broke');
    const pool = consume(filled([1]), () => Promise.reject(new Error('h')), {
      concurrency: 1,
      onError: {
        retry: {
          attempts: 2,
          backoffMs: () => {
            throw thrownByBackoff;
          },
        },
      },
    });
    expect(await rejection(pool.done)).toBe(thrownByBackoff);
  });

  it('an error thrown by onHandlerError is rethrown on a microtask; the pool carries on', async () => {
    const queued: (() => void)[] = [];
    vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((callback) => {
      queued.push(callback);
    });
    const hookError = new Error('hook broke');
    const pool = consume(filled([1, 2]), () => Promise.reject(new Error('h')), {
      concurrency: 1,
      onError: 'skip',
      onHandlerError: () => {
        throw hookError;
      },
    });
    const result = await pool.done;
    expect(result.stats).toMatchObject({ skipped: 2 });
    expect(queued).toHaveLength(2);
    expect(() => queued[0]!()).toThrow(hookError);
  });

  it('an error from limiter.take counts as a failed attempt', async () => {
    const limitError = new Error('limiter down');
    const limiter = new TokenBucket({ rate: 1, burst: 1 });
    vi.spyOn(limiter, 'take').mockImplementationOnce(() => Promise.reject(limitError));
    const reported: unknown[][] = [];
    const seen: number[] = [];
    const pool = consume(filled([1, 2]), (n) => void seen.push(n), {
      concurrency: 1,
      limiter,
      onError: 'skip',
      onHandlerError: (...args) => reported.push(args),
    });
    const result = await pool.done;
    expect(reported).toEqual([[limitError, 1, 1]]);
    expect(seen).toEqual([2]);
    expect(result.stats).toMatchObject({ skipped: 1, handled: 1 });
  });

  it('a limiter whose take throws synchronously: a failed attempt too', async () => {
    const limitError = new Error('sync limiter');
    const limiter = new TokenBucket({ rate: 1, burst: 1 });
    vi.spyOn(limiter, 'take').mockImplementation(() => {
      throw limitError;
    });
    const pool = consume(filled([1]), () => {}, { concurrency: 1, limiter });
    expect(await rejection(pool.done)).toBe(limitError);
  });

  it('a source that throws stops the pool gracefully and rejects done with its error', async () => {
    const it = manualIterable<number>();
    const h = manual<number>(2);
    const pool = consume(it.iterable, h.handler, { concurrency: 2 });
    it.give(1);
    await flush();
    const sourceError = new Error('source broke');
    it.fail(sourceError);
    const done = observe(pool.done);
    await flush();
    expect(done.state).toBe('pending'); // item 1 is still running
    expect(it.waiting).toBe(0);
    h.calls[0]!.resolve();
    await flush();
    expect(done.error).toBe(sourceError);
    expect(it.returns).toBe(0); // a throwing iterator is not returned (as in for await)
  });

  it('a source whose [Symbol.asyncIterator] or next() throws synchronously, or yields a non-object', async () => {
    const e1 = new Error('no iterator');
    const bad1 = {
      [Symbol.asyncIterator]: () => {
        throw e1;
      },
    } as unknown as AsyncIterable<number>;
    expect(await rejection(consume(bad1, () => {}, { concurrency: 1 }).done)).toBe(e1);
    const e2 = new Error('no next');
    const bad2 = {
      [Symbol.asyncIterator]: () => ({
        next: () => {
          throw e2;
        },
      }),
    } as unknown as AsyncIterable<number>;
    expect(await rejection(consume(bad2, () => {}, { concurrency: 1 }).done)).toBe(e2);
    const bad3 = {
      [Symbol.asyncIterator]: () => ({ next: async () => 42 }),
    } as unknown as AsyncIterable<number>;
    const error = (await rejection(consume(bad3, () => {}, { concurrency: 1 }).done)) as Error;
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toContain('`42` (number)');
  });

  it('a rejecting return() after stop() rejects done; after a failure, the first error wins', async () => {
    const returnError = new Error('return broke');
    // An iterator whose pending next() ends when return() is called (as a Channel's does).
    let answer: ((r: IteratorResult<number>) => void) | undefined;
    const settling = {
      [Symbol.asyncIterator]: () => ({
        next: () =>
          new Promise<IteratorResult<number>>((resolve) => {
            answer = resolve;
          }),
        return: () => {
          answer?.({ done: true, value: undefined });
          return Promise.reject(returnError);
        },
      }),
    };
    const pool = consume(settling, () => {}, { concurrency: 1 });
    expect(await rejection(pool.stop())).toBe(returnError);

    const handlerError = new Error('handler first');
    let give: ((r: IteratorResult<number>) => void) | undefined;
    let calls = 0;
    const second = {
      [Symbol.asyncIterator]: () => ({
        next: () =>
          calls++ === 0
            ? Promise.resolve({ done: false, value: 1 })
            : new Promise<IteratorResult<number>>((resolve) => {
                give = resolve;
              }),
        return: () => {
          give?.({ done: true, value: undefined });
          return Promise.reject(returnError);
        },
      }),
    };
    const failing = consume(second, () => Promise.reject(handlerError), { concurrency: 1 });
    expect(await rejection(failing.done)).toBe(handlerError);
  });

  it('a return() that throws synchronously is a source error too', async () => {
    const returnError = new Error('sync return');
    let answer: ((r: IteratorResult<number>) => void) | undefined;
    const source = {
      [Symbol.asyncIterator]: () => ({
        next: () =>
          new Promise<IteratorResult<number>>((resolve) => {
            answer = resolve;
          }),
        return: () => {
          answer?.({ done: true, value: undefined });
          throw returnError;
        },
      }),
    };
    const pool = consume(source, () => {}, { concurrency: 1 });
    expect(await rejection(pool.stop())).toBe(returnError);
  });

  it('pool.result: undefined until the end; after a rejection it carries the error and the items', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ rate: 1, burst: 1, clock });
    const h = manual<string>(3, clock);
    const pool = consume(filled(['a', 'b', 'c']), h.handler, {
      concurrency: 3,
      limiter: bucket,
      clock,
    });
    await flush();
    expect(pool.result).toBeUndefined();
    const error = new Error('a failed');
    h.calls[0]!.reject(error); // 'stop': b and c still wait for their tokens
    await flush();
    expect(pool.result).toBeUndefined();
    void pool.abort('enough'); // … and are handed back
    expect(await rejection(pool.done)).toBe(error);
    expect(pool.result).toEqual({
      ended: 'failed',
      error,
      unhandled: ['b', 'c'],
      interrupted: [],
      stats: { ...ZERO, received: 3, failed: 1, unhandled: 2 },
    });
    expectClean(pool, { clock });
  });

  it('pool.result is what done resolved with', async () => {
    const pool = consume(filled([1]), () => {}, { concurrency: 1 });
    expect(pool.result).toBeUndefined();
    expect(pool.result).toBeUndefined();
    const result = await pool.done;
    expect(pool.result).toBe(result);
  });

  it('the first failure wins over a later abort', async () => {
    const h = manual<number>(2);
    const pool = consume(filled([1, 2]), h.handler, { concurrency: 2 });
    await flush();
    const error = new Error('failed first');
    h.calls[0]!.reject(error);
    await flush();
    void pool.abort('later');
    expect(h.calls[1]!.signal.aborted).toBe(true);
    h.calls[1]!.reject('later');
    expect(await rejection(pool.done)).toBe(error);
    expect(pool.stats()).toMatchObject({ failed: 1, interrupted: 1 });
  });
});

// ---- limiter ---------------------------------------------------------------------------------

describe('consume: limiter', () => {
  it('a TokenBucket on the same clock spaces the starts, after each item is received', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ rate: 10, burst: 1, clock }); // one token every 100 ms
    const starts: number[] = [];
    const ch = filled([0, 1, 2, 3, 4, 5]);
    const pool = consume(ch, () => void starts.push(clock.now()), {
      concurrency: 3,
      limiter: bucket,
      clock,
    });
    // Received at once (three slots), none started before its token.
    expect(pool.stats()).toMatchObject({ received: 3, inFlight: 3, running: 0 });
    await clock.runAllAsync();
    expect(starts).toEqual([0, 100, 200, 300, 400, 500]);
    expect((await pool.done).stats.handled).toBe(6);
    expectClean(pool, { clock, channel: ch });
  });

  it('every attempt takes a token, retries included', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ rate: 10, burst: 1, clock });
    const take = vi.spyOn(bucket, 'take');
    const starts: number[] = [];
    const pool = consume(
      filled(['a']),
      () => {
        starts.push(clock.now());
        if (starts.length < 3) throw new Error('again');
      },
      { concurrency: 1, limiter: bucket, clock, onError: { retry: { attempts: 3, backoffMs: 0 } } },
    );
    await clock.runAllAsync();
    await pool.done;
    expect(take).toHaveBeenCalledTimes(3);
    expect(take.mock.calls.every(([n, o]) => n === 1 && o?.signal instanceof AbortSignal)).toBe(
      true,
    );
    expect(starts).toEqual([0, 100, 200]);
  });
});

// ---- bad input -------------------------------------------------------------------------------

describe('consume: bad input throws synchronously, naming the value', () => {
  const ch = (): Channel<number> => new Channel<number>();
  const ok = () => {};

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '2', undefined, null])(
    'concurrency %s',
    (concurrency) => {
      expectMisuse(
        () => consume(ch(), ok, { concurrency } as never),
        RangeError,
        '`concurrency`',
        'an integer from 1 up',
      );
    },
  );

  it('shows the value received', () => {
    expect((thrown(() => consume(ch(), ok, { concurrency: 0 })) as Error).message).toBe(
      'Expected `concurrency` to be an integer from 1 up, got `0` (number)',
    );
    expect((thrown(() => consume(ch(), ok, { concurrency: 1.5 })) as Error).message).toContain(
      '`1.5` (number)',
    );
    expect(
      (thrown(() => consume(ch(), ok, { concurrency: Number.NaN })) as Error).message,
    ).toContain('`NaN` (number)');
  });

  it.each([undefined, null, 5, 'x', {}, [1, 2]])('source %s', (source) => {
    expectMisuse(() => consume(source as never, ok, { concurrency: 1 }), TypeError, '`source`');
  });

  it.each([undefined, null, 'f', {}])('handler %s', (handler) => {
    expectMisuse(
      () => consume(ch(), handler as never, { concurrency: 1 }),
      TypeError,
      '`handler` to be a function',
    );
  });

  it('options missing or not an object', () => {
    expectMisuse(() => consume(ch(), ok, undefined as never), TypeError, '`concurrency`');
    expectMisuse(() => consume(ch(), ok, 4 as never), TypeError, '`options`', '`4` (number)');
  });

  it.each([null, 5, {}, { take: 1 }])('limiter %s', (limiter) => {
    expectMisuse(
      () => consume(ch(), ok, { concurrency: 1, limiter } as never),
      TypeError,
      '`limiter`',
    );
  });

  it.each([null, 'x', {}, { aborted: false }])('signal %s', (signal) => {
    expectMisuse(
      () => consume(ch(), ok, { concurrency: 1, signal } as never),
      TypeError,
      '`signal` to be an AbortSignal',
    );
  });

  it.each([
    ['ignore', RangeError, '`"ignore"` (string)'],
    [5, TypeError, '`5` (number)'],
    [null, TypeError, '`null` (null)'],
    [['stop'], TypeError, '`onError`'],
    [{}, TypeError, '`onError`'],
    [{ retry: 3 }, TypeError, '`onError`'],
    [{ retry: { attempts: 0, backoffMs: 1 } }, RangeError, '`onError.retry.attempts`'],
    [{ retry: { attempts: 1.5, backoffMs: 1 } }, RangeError, '`1.5` (number)'],
    [{ retry: { attempts: 2, backoffMs: -1 } }, RangeError, '`onError.retry.backoffMs`'],
    [{ retry: { attempts: 2, backoffMs: Number.NaN } }, RangeError, '`NaN` (number)'],
    [{ retry: { attempts: 2, backoffMs: Number.POSITIVE_INFINITY } }, RangeError, 'Infinity'],
    [{ retry: { attempts: 2 } }, RangeError, '`undefined` (undefined)'],
    [{ retry: { attempts: 2, backoffMs: 1 }, giveUp: 'retry' }, RangeError, '`onError.giveUp`'],
  ] as const)('onError %j', (onError, kind, part) => {
    expectMisuse(() => consume(ch(), ok, { concurrency: 1, onError } as never), kind, part);
  });

  it('onHandlerError and clock', () => {
    expectMisuse(
      () => consume(ch(), ok, { concurrency: 1, onHandlerError: 'log' } as never),
      TypeError,
      '`onHandlerError` to be a function',
    );
    expectMisuse(
      () => consume(ch(), ok, { concurrency: 1, clock: {} } as never),
      TypeError,
      '`clock`',
    );
  });

  it('bad input takes nothing from the channel', () => {
    const c = filled([1], 1, false);
    thrown(() => consume(c, ok, { concurrency: 0 }));
    expect(c.size).toBe(1);
    expect(c.waitingReceivers).toBe(0);
  });
});

// ---- settling once, leaks --------------------------------------------------------------------

describe('consume: done settles exactly once and nothing leaks', () => {
  it('done settles once, whatever is called before or after', async () => {
    const h = manual<number>(2);
    const pool = consume(filled([1, 2, 3]), h.handler, { concurrency: 2 });
    let settlements = 0;
    pool.done.then(
      () => settlements++,
      () => settlements++,
    );
    await flush();
    h.calls[0]!.reject(new Error('x'));
    await flush();
    void pool.stop();
    void pool.abort('a');
    h.calls[1]!.resolve();
    await flush();
    void pool.stop();
    void pool.abort('b');
    await flush();
    expect(settlements).toBe(1);
    expect(pool.stop()).toBe(pool.done);
    expect(pool.abort()).toBe(pool.done);
  });

  it('leaves no abort listener, timer or receiver behind, whichever way it ends', async () => {
    type End = 'drain' | 'stop' | 'abort' | 'signal' | 'fail';
    for (const end of ['drain', 'stop', 'abort', 'signal', 'fail'] as End[]) {
      const clock = new ManualClock();
      const controller = new AbortController();
      const bucket = new TokenBucket({ rate: 10, burst: 1, clock });
      const ch = filled([1, 2, 3, 4], 4, end === 'drain');
      let calls = 0;
      const pool = consume(
        ch,
        async (n, { signal }) => {
          calls++;
          await sleep(clock, 30, signal);
          if (end === 'fail' && n === 2) throw new Error('fail');
          if (calls % 2 === 1) throw new Error('retry me');
        },
        {
          concurrency: 2,
          limiter: bucket,
          clock,
          signal: controller.signal,
          onError: { retry: { attempts: 2, backoffMs: 70 } },
          onHandlerError: () => {},
        },
      );
      await advanceTo(clock, 150);
      pool.assertInvariants();
      if (end === 'stop') void pool.stop();
      if (end === 'abort') void pool.abort();
      if (end === 'signal') controller.abort();
      const done = pool.done.catch(() => 'failed');
      await clock.runAllAsync();
      await done;
      expectClean(pool, { clock, signal: controller.signal, channel: ch });
      expect(bucket.waiting).toBe(0);
    }
  });

  it('a pool that ends leaves nothing on the handler signals it aborted', async () => {
    const clock = new ManualClock();
    const signals: AbortSignal[] = [];
    const pool = consume(
      filled([1, 2, 3]),
      (_n, { signal }) => {
        signals.push(signal);
        return sleep(clock, 100, signal);
      },
      { concurrency: 3 },
    );
    await flush();
    const result = await pool.abort();
    expect(result.interrupted).toEqual([1, 2, 3]);
    for (const signal of signals) expect(listeners(signal)).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });
});
