/**
 * limited(fn, { limiter, semaphore }): calls spaced by a rate limiter, concurrency bounded by a
 * semaphore (semaphore first, then rate), arguments / results / errors passed through, cost,
 * cancellation through the last argument's `signal` (or a custom extractor), and misuse.
 * Everything on a ManualClock; nothing sleeps.
 */
import { describe, expect, it } from 'vitest';
import {
  type LimitedOptions,
  limited,
  Semaphore,
  TimeoutError,
  TokenBucket,
} from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { flush } from '../support/clock.js';
import { thrown } from '../support/errors.js';
import { observe } from '../support/outcome.js';
import { listeners } from '../support/signals.js';

/** A bucket of `burst` refilled at `rate` per second on `clock`. */
function bucket(clock: ManualClock, rate: number, burst: number): TokenBucket {
  return new TokenBucket({ rate, burst, clock });
}

/** A function that records the clock time of every start and finishes after `workMs`. */
function worker(clock: ManualClock, workMs: number, capacity = Number.POSITIVE_INFINITY) {
  const starts: number[] = [];
  const names: string[] = [];
  let running = 0;
  let maxRunning = 0;
  const fn = (name: string): Promise<string> => {
    starts.push(clock.now());
    names.push(name);
    running++;
    maxRunning = Math.max(maxRunning, running);
    expect(running, `running at the start of ${name}`).toBeLessThanOrEqual(capacity);
    return new Promise((resolve) => {
      clock.setTimer(() => {
        running--;
        resolve(`done ${name}`);
      }, workMs);
    });
  };
  return {
    fn,
    starts,
    names,
    get running() {
      return running;
    },
    get maxRunning() {
      return maxRunning;
    },
  };
}

// ---- rate ------------------------------------------------------------------------------------

describe('limited(fn, { limiter })', () => {
  it('spaces calls by the limiter', async () => {
    const clock = new ManualClock();
    const w = worker(clock, 0);
    const call = limited(w.fn, { limiter: bucket(clock, 10, 1) }); // one per 100 ms
    const results = ['a', 'b', 'c', 'd'].map((name) => observe(call(name)));
    await flush();
    expect(w.starts).toEqual([0]);
    await clock.advanceAsync(99);
    expect(w.starts).toEqual([0]);
    await clock.advanceAsync(1);
    expect(w.starts).toEqual([0, 100]);
    await clock.advanceAsync(300);
    expect(w.starts).toEqual([0, 100, 200, 300]);
    expect(w.names).toEqual(['a', 'b', 'c', 'd']);
    expect(results.map((r) => r.value)).toEqual(['done a', 'done b', 'done c', 'done d']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('lets a burst through at once, then paces', async () => {
    const clock = new ManualClock();
    const w = worker(clock, 0);
    const call = limited(w.fn, { limiter: bucket(clock, 10, 3) });
    for (let i = 0; i < 5; i++) void call(`c${i}`);
    await flush();
    expect(w.starts).toEqual([0, 0, 0]);
    await clock.advanceAsync(1000);
    expect(w.starts).toEqual([0, 0, 0, 100, 200]);
  });

  it('passes every argument through and resolves with the result', async () => {
    const clock = new ManualClock();
    const seen: unknown[][] = [];
    const options = { depth: 2 };
    const call = limited(
      (a: number, b: string, c: { depth: number }) => {
        seen.push([a, b, c]);
        return { sum: a + c.depth, b };
      },
      { limiter: bucket(clock, 1, 5) },
    );
    await expect(call(40, 'x', options)).resolves.toEqual({ sum: 42, b: 'x' });
    expect(seen).toEqual([[40, 'x', options]]);
    expect(seen[0]![2]).toBe(options);
  });

  it('resolves with what an async fn resolves with (not a nested promise)', async () => {
    const clock = new ManualClock();
    const call = limited(async (x: number) => x * 2, { limiter: bucket(clock, 1, 1) });
    const value: number = await call(21);
    expect(value).toBe(42);
  });

  it('rejects with the very error fn throws or rejects with', async () => {
    const clock = new ManualClock();
    const syncError = new Error('sync');
    const asyncError = new Error('async');
    const throwing = limited(
      (): never => {
        throw syncError;
      },
      { limiter: bucket(clock, 1, 5) },
    );
    const rejecting = limited(() => Promise.reject(asyncError), { limiter: bucket(clock, 1, 5) });
    await expect(throwing()).rejects.toBe(syncError);
    await expect(rejecting()).rejects.toBe(asyncError);
  });

  it('a failed call still used its token', async () => {
    const clock = new ManualClock();
    const limiter = bucket(clock, 10, 1);
    const call = limited(
      (): never => {
        throw new Error('x');
      },
      { limiter },
    );
    await expect(call()).rejects.toThrow('x');
    expect(limiter.tryTake().ok).toBe(false);
  });

  it('cost(...args) takes that many tokens', async () => {
    const clock = new ManualClock();
    const limiter = bucket(clock, 10, 5);
    const costArgs: unknown[][] = [];
    const starts: number[] = [];
    const call = limited(
      (_n: number, _label: string) => {
        starts.push(clock.now());
      },
      {
        limiter,
        cost: (n, label) => {
          costArgs.push([n, label]);
          return n;
        },
      },
    );
    await call(3, 'first');
    expect(limiter.available).toBe(2);
    const second = observe(call(4, 'second')); // needs 2 more: 200 ms
    await flush();
    expect(second.state).toBe('pending');
    await clock.advanceAsync(199);
    expect(second.state).toBe('pending');
    await clock.advanceAsync(1);
    expect(second.state).toBe('resolved');
    expect(starts).toEqual([0, 200]);
    expect(costArgs).toEqual([
      [3, 'first'],
      [4, 'second'],
    ]);
  });

  it('a bad cost rejects the call with a RangeError, and fn never runs', async () => {
    const clock = new ManualClock();
    let ran = false;
    const call = limited(
      () => {
        ran = true;
      },
      { limiter: bucket(clock, 10, 5), cost: () => 0 },
    );
    await expect(call()).rejects.toBeInstanceOf(RangeError);
    expect(ran).toBe(false);
  });
});

// ---- concurrency -----------------------------------------------------------------------------

describe('limited(fn, { semaphore })', () => {
  it('never runs more than the capacity at once (counted at every start)', async () => {
    const clock = new ManualClock();
    const semaphore = new Semaphore({ capacity: 2, clock });
    const w = worker(clock, 100, 2);
    const call = limited(w.fn, { semaphore });
    const results = ['a', 'b', 'c', 'd', 'e'].map((name) => observe(call(name)));
    await flush();
    expect(w.running).toBe(2);
    expect(semaphore.inUse).toBe(2);
    expect(semaphore.waiting).toBe(3);
    await clock.advanceAsync(1000);
    expect(w.starts).toEqual([0, 0, 100, 100, 200]);
    expect(w.names).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(w.maxRunning).toBe(2);
    expect(results.every((r) => r.state === 'resolved')).toBe(true);
    expect(semaphore.inUse).toBe(0);
  });

  it('a next call starts as soon as a running one settles', async () => {
    const clock = new ManualClock();
    const semaphore = new Semaphore({ capacity: 1, clock });
    const finishers: (() => void)[] = [];
    let started = 0;
    const call = limited(
      () =>
        new Promise<void>((resolve) => {
          started++;
          finishers.push(resolve);
        }),
      { semaphore },
    );
    void call();
    void call();
    await flush();
    expect(started).toBe(1);
    finishers[0]!();
    await flush();
    expect(started).toBe(2);
  });

  it('releases the permit when fn throws or rejects', async () => {
    const clock = new ManualClock();
    const semaphore = new Semaphore({ capacity: 1, clock });
    const throwing = limited(
      (): never => {
        throw new Error('sync');
      },
      { semaphore },
    );
    const rejecting = limited(async (): Promise<never> => Promise.reject(new Error('async')), {
      semaphore,
    });
    await expect(throwing()).rejects.toThrow('sync');
    expect(semaphore.inUse).toBe(0);
    await expect(rejecting()).rejects.toThrow('async');
    expect(semaphore.inUse).toBe(0);
    // Many failures in a row must not leak permits.
    const all = await Promise.allSettled([throwing(), rejecting(), throwing(), rejecting()]);
    expect(all.every((r) => r.status === 'rejected')).toBe(true);
    expect(semaphore.inUse).toBe(0);
    expect(semaphore.waiting).toBe(0);
  });

  it('holds the permit until an async fn settles', async () => {
    const clock = new ManualClock();
    const semaphore = new Semaphore({ capacity: 1, clock });
    let finish!: () => void;
    const call = limited(() => new Promise<void>((resolve) => (finish = resolve)), { semaphore });
    const o = observe(call());
    await flush();
    expect(semaphore.inUse).toBe(1);
    finish();
    await flush();
    expect(o.state).toBe('resolved');
    expect(semaphore.inUse).toBe(0);
  });
});

describe('limited(fn, { semaphore, limiter })', () => {
  it('waits for the semaphore first, then for the rate, holding the permit meanwhile', async () => {
    const clock = new ManualClock();
    const semaphore = new Semaphore({ capacity: 1, clock });
    const limiter = bucket(clock, 10, 1); // one per 100 ms
    const w = worker(clock, 50, 1);
    const call = limited(w.fn, { semaphore, limiter });
    for (const name of ['a', 'b', 'c']) void call(name);
    await flush();
    // b and c wait on the semaphore and have not touched the bucket yet.
    expect(w.starts).toEqual([0]);
    expect(semaphore.waiting).toBe(2);
    expect(limiter.waiting).toBe(0);
    await clock.advanceAsync(50); // a done; b holds the permit and waits for a token at 100
    expect(semaphore.inUse).toBe(1);
    expect(semaphore.waiting).toBe(1);
    expect(limiter.waiting).toBe(1);
    await clock.advanceAsync(1000);
    expect(w.starts).toEqual([0, 100, 200]);
    expect(w.names).toEqual(['a', 'b', 'c']);
    expect(w.maxRunning).toBe(1);
    expect(semaphore.inUse).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('each bound applies: the rate when work is quick, the semaphore when work is slow', async () => {
    const clock = new ManualClock();
    const semaphore = new Semaphore({ capacity: 2, clock });
    const w = worker(clock, 250, 2);
    const call = limited(w.fn, { semaphore, limiter: bucket(clock, 10, 10) });
    for (let i = 0; i < 4; i++) void call(`c${i}`);
    await clock.advanceAsync(1000);
    expect(w.starts).toEqual([0, 0, 250, 250]);
    expect(w.maxRunning).toBe(2);
  });
});

// ---- cancellation ----------------------------------------------------------------------------

interface Request {
  readonly signal?: AbortSignal;
}

describe('limited: cancellation by the last argument signal', () => {
  it('aborting while waiting for the rate rejects with signal.reason; fn never runs', async () => {
    const clock = new ManualClock();
    const limiter = bucket(clock, 10, 1);
    const ran: string[] = [];
    const call = limited(
      (url: string, _init?: Request) => {
        ran.push(url);
        return url;
      },
      { limiter },
    );
    await call('/first');
    const controller = new AbortController();
    const o = observe(call('/second', { signal: controller.signal }));
    await flush();
    expect(limiter.waiting).toBe(1);
    const reason = new Error('user navigated away');
    controller.abort(reason);
    await flush();
    expect(o.state).toBe('rejected');
    expect(o.error).toBe(reason);
    expect(limiter.waiting).toBe(0);
    expect(listeners(controller.signal)).toBe(0);
    await clock.advanceAsync(1000);
    expect(ran).toEqual(['/first']);
    expect(clock.pendingTimers).toBe(0);
  });

  it("the aborted call's token goes back: the call behind it moves up", async () => {
    const clock = new ManualClock();
    const w = worker(clock, 0);
    const call = limited((name: string, _init?: Request) => w.fn(name), {
      limiter: bucket(clock, 10, 1),
    });
    void call('a');
    const controller = new AbortController();
    const b = observe(call('b', { signal: controller.signal }));
    void call('c');
    await flush();
    controller.abort();
    await clock.advanceAsync(1000);
    expect(b.state).toBe('rejected');
    expect(w.names).toEqual(['a', 'c']);
    expect(w.starts).toEqual([0, 100]);
  });

  it('aborting while waiting for the semaphore rejects with signal.reason, holding nothing', async () => {
    const clock = new ManualClock();
    const semaphore = new Semaphore({ capacity: 1, clock });
    const limiter = bucket(clock, 10, 5);
    let finish!: () => void;
    const ran: string[] = [];
    const call = limited(
      (name: string, _init?: Request) => {
        ran.push(name);
        return new Promise<void>((resolve) => (finish = resolve));
      },
      { semaphore, limiter },
    );
    const first = observe(call('first'));
    const controller = new AbortController();
    const o = observe(call('second', { signal: controller.signal }));
    await flush();
    expect(semaphore.waiting).toBe(1);
    controller.abort('cancelled');
    await flush();
    expect(o.state).toBe('rejected');
    expect(o.error).toBe('cancelled');
    expect(semaphore.waiting).toBe(0);
    expect(semaphore.inUse).toBe(1); // only first's
    expect(limiter.available).toBe(4); // second took no token
    expect(listeners(controller.signal)).toBe(0);
    finish();
    await flush();
    expect(first.state).toBe('resolved');
    expect(semaphore.inUse).toBe(0);
    expect(ran).toEqual(['first']);
  });

  it('aborting while waiting for the rate releases the permit it held', async () => {
    const clock = new ManualClock();
    const semaphore = new Semaphore({ capacity: 1, clock });
    const limiter = bucket(clock, 10, 1);
    const ran: string[] = [];
    const call = limited(
      (name: string, _init?: Request) => {
        ran.push(name);
      },
      { semaphore, limiter },
    );
    await call('first'); // empties the bucket
    const controller = new AbortController();
    const o = observe(call('second', { signal: controller.signal }));
    const third = observe(call('third'));
    await flush();
    expect(semaphore.inUse).toBe(1); // second holds it while waiting for a token
    expect(limiter.waiting).toBe(1);
    controller.abort('stop');
    await flush();
    expect(o.error).toBe('stop');
    // The permit went to third, which now waits for the token second gave back.
    expect(semaphore.waiting).toBe(0);
    await clock.advanceAsync(100);
    expect(third.state).toBe('resolved');
    expect(ran).toEqual(['first', 'third']);
    expect(semaphore.inUse).toBe(0);
    expect(listeners(controller.signal)).toBe(0);
  });

  it('an already-aborted signal rejects at once, takes nothing, and fn never runs', async () => {
    const clock = new ManualClock();
    const semaphore = new Semaphore({ capacity: 1, clock });
    const limiter = bucket(clock, 10, 1);
    let ran = false;
    const call = limited(
      (_init: Request) => {
        ran = true;
      },
      { semaphore, limiter },
    );
    const reason = { code: 'gone' };
    await expect(call({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(ran).toBe(false);
    expect(semaphore.inUse).toBe(0);
    expect(semaphore.stats().acquired).toBe(0);
    expect(limiter.available).toBe(1);
  });

  it('fn receives the same signal in its arguments, so it can stop early', async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const init = { signal: controller.signal, method: 'GET' };
    let received: Request | undefined;
    const call = limited(
      (_url: string, options: Request) => {
        received = options;
      },
      { limiter: bucket(clock, 10, 1) },
    );
    await call('/x', init);
    expect(received).toBe(init);
    expect(listeners(controller.signal)).toBe(0);
  });

  it('ignores a last argument without an AbortSignal', async () => {
    const clock = new ManualClock();
    const seen: unknown[] = [];
    const call = limited((arg: unknown) => seen.push(arg), { limiter: bucket(clock, 1, 10) });
    await call(null);
    await call(undefined);
    await call('text');
    await call({ signal: 'not a signal' });
    await call({ signal: null });
    await call({});
    expect(seen).toHaveLength(6);
  });

  it('only the last argument is looked at', async () => {
    const clock = new ManualClock();
    const limiter = bucket(clock, 10, 1);
    const ran: number[] = [];
    const call = limited((_init: Request, n: number) => ran.push(n), { limiter });
    await call({}, 1); // empties the bucket
    const controller = new AbortController();
    const o = observe(call({ signal: controller.signal }, 2));
    controller.abort();
    await clock.advanceAsync(100);
    expect(o.state).toBe('resolved'); // the signal was not in the last argument
    expect(ran).toEqual([1, 2]);
  });
});

describe('limited: a custom signal extractor', () => {
  it('takes the signal from wherever the extractor finds it', async () => {
    const clock = new ManualClock();
    const limiter = bucket(clock, 10, 1);
    const controller = new AbortController();
    const job = { id: 2, context: { cancel: controller.signal } };
    const extracted: unknown[][] = [];
    const ran: number[] = [];
    const call = limited((j: typeof job, _extra: number) => ran.push(j.id), {
      limiter,
      signal: (j, extra) => {
        extracted.push([j, extra]);
        return j.context.cancel;
      },
    });
    await call({ id: 1, context: { cancel: new AbortController().signal } }, 10);
    const o = observe(call(job, 20));
    await flush();
    controller.abort('by extractor');
    await flush();
    expect(o.state).toBe('rejected');
    expect(o.error).toBe('by extractor');
    expect(extracted.map(([, extra]) => extra)).toEqual([10, 20]);
    expect(extracted[1]![0]).toBe(job);
    await clock.advanceAsync(1000);
    expect(ran).toEqual([1]);
    expect(listeners(controller.signal)).toBe(0);
  });

  it('replaces the default: a signal in the last argument is then ignored', async () => {
    const clock = new ManualClock();
    const limiter = bucket(clock, 10, 1);
    const call = limited((_init: Request) => 'ran', { limiter, signal: () => undefined });
    await call({});
    const controller = new AbortController();
    const o = observe(call({ signal: controller.signal }));
    controller.abort();
    await clock.advanceAsync(100);
    expect(o.state).toBe('resolved');
  });
});

describe('limited: timeouts come from the limiter', () => {
  it('a TimeoutError from the limiter rejects the call and fn never runs', async () => {
    // limited has no timeoutMs of its own; a limiter wrapper can still refuse a wait.
    const clock = new ManualClock();
    const inner = bucket(clock, 1, 1);
    let ran = 0;
    const call = limited(
      () => {
        ran++;
      },
      {
        limiter: {
          peek: (n) => inner.peek(n),
          get idle() {
            return inner.idle;
          },
          tryTake: (n) => inner.tryTake(n),
          take: (n, options) => inner.take(n, { ...options, timeoutMs: 10 }),
          reserve: (n) => inner.reserve(n),
        },
      },
    );
    await call();
    await expect(call()).rejects.toBeInstanceOf(TimeoutError);
    expect(ran).toBe(1);
  });
});

// ---- misuse ----------------------------------------------------------------------------------

describe('limited: misuse throws at once, naming the value', () => {
  const clock = new ManualClock();
  const options = (): LimitedOptions<[]> => ({ limiter: bucket(clock, 1, 1) });

  it.each([
    ['undefined', undefined, 'got `undefined` (undefined)'],
    ['a number', 5, 'got `5` (number)'],
    ['a string', 'fn', 'got `"fn"` (string)'],
    ['an object', {}, 'got `{}` (object)'],
  ])('fn that is %s', (_name, fn, fragment) => {
    const error = thrown(() => limited(fn as never, options()));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toContain('`fn`');
    expect((error as Error).message).toContain(fragment);
  });

  it('neither limiter nor semaphore', () => {
    for (const value of [{}, { limiter: undefined, semaphore: undefined }, { cost: () => 1 }]) {
      const error = thrown(() => limited(() => 1, value));
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toContain('`limiter`');
      expect((error as Error).message).toContain('`semaphore`');
    }
  });

  it('options that are missing or not an object', () => {
    expect(() => limited(() => 1, undefined as never)).toThrow(TypeError);
    const error = thrown(() => limited(() => 1, 5 as never));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toContain('got `5` (number)');
  });

  // STYLE.md: "validate once at construction". Today a non-function cost or signal extractor
  // is only discovered when the wrapped function is first called.
  it('a cost or signal extractor that is not a function', () => {
    const limiter = bucket(clock, 1, 1);
    const costError = thrown(() => limited(() => 1, { limiter, cost: 2 as never }));
    expect(costError).toBeInstanceOf(TypeError);
    expect((costError as Error).message).toContain('`cost`');
    expect((costError as Error).message).toContain('got `2` (number)');
    const signalError = thrown(() =>
      limited(() => 1, { limiter, signal: new AbortController().signal as never }),
    );
    expect(signalError).toBeInstanceOf(TypeError);
    expect((signalError as Error).message).toContain('`signal`');
  });

  it('the wrapper itself is made without calling fn or touching the limits', () => {
    const limiter = bucket(clock, 1, 1);
    const semaphore = new Semaphore({ capacity: 1, clock });
    let ran = false;
    limited(
      () => {
        ran = true;
      },
      { limiter, semaphore },
    );
    expect(ran).toBe(false);
    expect(limiter.available).toBe(1);
    expect(semaphore.inUse).toBe(0);
  });
});
