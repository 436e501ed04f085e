/**
 * RedisRateLimiter against a real redis-server started for this file, in golang.org/x/time/rate's
 * rate_test.go style: tables of `{ at, n, ok }` rows against a fresh key.
 *
 * Redis's clock cannot be moved, so time moves on the key instead: `elapse(key, ms)` moves the
 * stored TAT back by `ms`, which to GCRA is exactly `ms` of time passing (its state is only
 * `tat − now`). The real time a table takes (a few ms at a second per token) is the only slack:
 * a refusal's `retryAfterMs` lies between the row's value less the server time elapsed since
 * the table started and the row's value. `take` sleeps on a ManualClock; the script's replies are
 * read by wrapping `connection.run` (the real server still answers), so a test can check that
 * `take` sleeps exactly the wait Redis returned.
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TimeoutError } from '../../src/errors.js';
import { RedisRateLimiter, Script } from '../../src/redis/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { flush } from '../support/clock.js';
import { caught, rejection } from '../support/errors.js';
import { type Outcome, watch } from '../support/outcome.js';
import { useRedis } from '../support/redis-fixture.js';
import { listeners } from '../support/signals.js';

/** A reply of the take script, as the limiter got it. */
interface Reply {
  readonly granted: boolean;
  readonly waitUs: number;
  readonly tat: number;
  readonly nowUs: number;
}

const redis = useRedis();
/** Every take-script reply, in order (give-back replies are numbers and are not kept). */
const replies: Reply[] = [];

beforeAll(() => {
  const connection = redis.connection;
  const run = connection.run.bind(connection);
  connection.run = async (script, keys, args) => {
    const reply = await run(script, keys, args);
    if (Array.isArray(reply) && reply.length === 4) {
      const [granted, waitUs, tat, nowUs] = reply as number[];
      replies.push({ granted: granted === 1, waitUs: waitUs!, tat: tat!, nowUs: nowUs! });
    } else if (typeof reply === 'number' && args.length === 4) {
      // A tryTake grant replies with just `now`; its TAT is not kept here.
      replies.push({ granted: true, waitUs: 0, tat: Number.NaN, nowUs: reply });
    }
    return reply;
  };
});
beforeEach(() => {
  replies.length = 0;
});

let names = 0;
/** A limiter on a fresh key, sleeping on a ManualClock. */
function make(rate: number, burst: number): { limiter: RedisRateLimiter; clock: ManualClock } {
  const clock = new ManualClock();
  const limiter = new RedisRateLimiter({
    connection: redis.connection,
    name: `t${names++}`,
    rate,
    burst,
    clock,
  });
  return { limiter, clock };
}

const lastReply = (): Reply => replies[replies.length - 1]!;

const ELAPSE = new Script(`
local tat = tonumber(redis.call('GET', KEYS[1]) or '')
if tat == nil then return 0 end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local moved = tat - tonumber(ARGV[1])
if moved <= now then redis.call('DEL', KEYS[1]) return 0 end
redis.call('SET', KEYS[1], string.format('%.0f', moved), 'PX', math.ceil((moved - now) / 1000))
return 1
`);

/** To the limit on `key`, `ms` pass (see the file comment). */
async function elapse(key: string, ms: number): Promise<void> {
  if (ms > 0) await redis.connection.run(ELAPSE, [key], [Math.round(ms * 1000)]);
}

async function tatOf(key: string): Promise<number | null> {
  const value = await redis.server.admin().get(key);
  return value === null ? null : Number(value);
}

/**
 * The rate of most tests: one token a second, so that a stall of a busy test machine between
 * two calls stays far from every boundary (the tables' time is virtual and costs nothing).
 */
const RATE = 1;
/** One token's time, in ms and in µs. */
const T = 1000;
const T_US = T * 1000;
/** `t(k)` is when k tokens have accrued (x/time/rate's points). */
const t = (k: number): number => k * T;

interface TryRow {
  readonly at: number;
  readonly n: number;
  readonly ok: boolean;
  /** For a refusal: the wait, had no real time passed. */
  readonly retryAfterMs?: number;
}

/** x/time/rate's `run`: each row moves the limit's time to `at`, then calls `tryTake(n)`. */
async function runTry(limiter: RedisRateLimiter, rows: readonly TryRow[]): Promise<void> {
  let at = 0;
  let origin: number | undefined;
  for (const [i, row] of rows.entries()) {
    await elapse(limiter.key, row.at - at);
    at = row.at;
    const result = await limiter.tryTake(row.n);
    origin ??= lastReply().nowUs;
    const driftMs = (lastReply().nowUs - origin) / 1000;
    const label = `row ${i}: ${JSON.stringify(row)}`;
    expect(result.ok, label).toBe(row.ok);
    expect(result.source, label).toBe('redis');
    if (!result.ok) {
      expect(result.retryAfterMs, label).toBeLessThanOrEqual(row.retryAfterMs! + 1e-9);
      expect(result.retryAfterMs, label).toBeGreaterThanOrEqual(row.retryAfterMs! - driftMs - 1e-9);
    }
  }
}

describe('RedisRateLimiter: tryTake tables (x/time/rate)', () => {
  it('burst 1', async () => {
    const { limiter } = make(RATE, 1);
    await runTry(limiter, [
      { at: t(0), n: 1, ok: true },
      { at: t(0), n: 1, ok: false, retryAfterMs: T },
      { at: t(0), n: 1, ok: false, retryAfterMs: T },
      { at: t(1), n: 1, ok: true },
      { at: t(1), n: 1, ok: false, retryAfterMs: T },
      { at: t(1), n: 1, ok: false, retryAfterMs: T },
      { at: t(2), n: 1, ok: true },
      { at: t(2), n: 1, ok: false, retryAfterMs: T },
    ]);
  });

  it('burst 3, with costs above 1', async () => {
    const { limiter } = make(RATE, 3);
    await runTry(limiter, [
      { at: t(0), n: 2, ok: true },
      { at: t(0), n: 2, ok: false, retryAfterMs: T },
      { at: t(0), n: 1, ok: true },
      { at: t(0), n: 1, ok: false, retryAfterMs: T },
      { at: t(0), n: 3, ok: false, retryAfterMs: 3 * T },
      { at: t(2), n: 1, ok: true },
      { at: t(3), n: 1, ok: true },
      { at: t(4), n: 1, ok: true },
      { at: t(4), n: 1, ok: true },
      { at: t(4), n: 1, ok: false, retryAfterMs: T },
      { at: t(4), n: 2, ok: false, retryAfterMs: 2 * T },
      { at: t(9), n: 3, ok: true },
      { at: t(9), n: 1, ok: false, retryAfterMs: T },
    ]);
  });

  it('a refusal takes nothing; a partial wait needs only the rest', async () => {
    const { limiter } = make(RATE, 2);
    await runTry(limiter, [
      { at: t(0), n: 2, ok: true },
      { at: t(0), n: 1, ok: false, retryAfterMs: T },
      { at: t(0), n: 2, ok: false, retryAfterMs: 2 * T },
      { at: T / 2, n: 1, ok: false, retryAfterMs: T / 2 },
      { at: T / 2, n: 2, ok: false, retryAfterMs: 1.5 * T },
      { at: t(1), n: 1, ok: true },
      { at: t(3), n: 2, ok: true },
      { at: t(3), n: 1, ok: false, retryAfterMs: T },
    ]);
  });

  it('idle for long, the bucket holds burst and no more', async () => {
    const { limiter } = make(RATE, 3);
    await runTry(limiter, [
      { at: t(0), n: 1, ok: true },
      { at: t(100), n: 3, ok: true },
      { at: t(100), n: 1, ok: false, retryAfterMs: T },
    ]);
  });

  it('a whole-microsecond interval: rate 0.3 per second is 3,333,333 µs per token', async () => {
    const { limiter } = make(0.3, 1);
    await runTry(limiter, [
      { at: 0, n: 1, ok: true },
      { at: 0, n: 1, ok: false, retryAfterMs: 3333.333 },
      { at: 3333.333, n: 1, ok: true },
      { at: 3333.333, n: 1, ok: false, retryAfterMs: 3333.333 },
    ]);
  });
});

describe('RedisRateLimiter: the key', () => {
  it('is `sluice:{name}:gcra`, holds the TAT, and expires when the bucket is full again', async () => {
    const { limiter } = make(RATE, 3);
    expect(limiter.key).toBe(`sluice:{${limiter.name}}:gcra`);
    expect(await redis.server.admin().exists(limiter.key)).toBe(0); // a fresh limit holds nothing
    await limiter.tryTake(2);
    const first = lastReply();
    expect(await tatOf(limiter.key)).toBe(first.nowUs + 2 * T_US);
    const pttl = await redis.server.admin().pttl(limiter.key);
    expect(pttl).toBeLessThanOrEqual(2 * T);
    expect(pttl).toBeGreaterThan(1.5 * T);
    expect(await redis.server.admin().get(limiter.key)).toMatch(/^\d+$/); // an integer, for INCRBY
    await limiter.tryTake(1); // on a busy key: INCRBY and PEXPIRE
    expect(await tatOf(limiter.key)).toBe(first.nowUs + 3 * T_US);
    expect(await redis.server.admin().get(limiter.key)).toMatch(/^\d+$/);
    expect(await redis.server.admin().pttl(limiter.key)).toBeGreaterThan(2.5 * T);
    await elapse(limiter.key, 3 * T); // full again: gone
    expect(await redis.server.admin().exists(limiter.key)).toBe(0);
  });

  it('disappears on its own once it has refilled (real time)', async () => {
    const { limiter } = make(1000, 5);
    expect((await limiter.tryTake(5)).ok).toBe(true);
    const pttl = await redis.server.admin().pttl(limiter.key);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(5);
    await new Promise((resolve) => setTimeout(resolve, pttl + 20));
    expect(await redis.server.admin().exists(limiter.key)).toBe(0);
    expect((await limiter.tryTake(5)).ok).toBe(true);
  });

  it('works again after the server forgot its scripts (NOSCRIPT → EVAL)', async () => {
    const { limiter } = make(RATE, 1);
    expect((await limiter.tryTake()).ok).toBe(true);
    await redis.server.admin().script('FLUSH');
    expect(await limiter.tryTake()).toMatchObject({ ok: false, source: 'redis' });
  });
});

interface TakeRow {
  readonly at: number;
  readonly n: number;
  /** The wait, had no real time passed. */
  readonly delayMs: number;
}

/**
 * x/time/rate's reserve tables through `take`: each row moves the limit's time to `at`, calls
 * `take(n)` without awaiting it, and checks the wait Redis returned against the row and the
 * timer armed against the wait. Then the clock runs each take to exactly its wait: pending a
 * microsecond before, resolved at it, in call order.
 */
async function runTakes(limiter: RedisRateLimiter, clock: ManualClock, rows: readonly TakeRow[]) {
  let at = 0;
  let origin: number | undefined;
  const waits: number[] = [];
  const outcomes: Outcome[] = [];
  for (const [i, row] of rows.entries()) {
    await elapse(limiter.key, row.at - at);
    at = row.at;
    const count = replies.length;
    const timers = clock.pendingTimers;
    outcomes.push(watch(clock, limiter.take(row.n)));
    while (replies.length === count) await flush();
    await flush();
    const reply = lastReply();
    origin ??= reply.nowUs;
    const label = `row ${i}: ${JSON.stringify(row)}`;
    expect(reply.granted, label).toBe(true);
    const waitMs = reply.waitUs / 1000;
    expect(waitMs, label).toBeLessThanOrEqual(row.delayMs + 1e-9);
    expect(waitMs, label).toBeGreaterThanOrEqual(
      row.delayMs - (reply.nowUs - origin) / 1000 - 1e-9,
    );
    waits.push(waitMs);
    if (waitMs === 0) {
      expect(outcomes[i]!.state, label).toBe('resolved');
      expect(clock.pendingTimers, label).toBe(timers);
    } else {
      expect(clock.pendingTimers, label).toBe(timers + 1);
    }
  }
  // Every take was made at clock time 0: each resolves at exactly its wait.
  const order = waits.map((w, i) => [w, i] as const).filter(([w]) => w > 0);
  for (const [wait, i] of order) {
    clock.advanceTo(wait - 0.001);
    await flush();
    expect(outcomes[i]!.state, `row ${i} before its wait`).toBe('pending');
    clock.advanceTo(wait);
    await flush();
    expect(outcomes[i]!.state, `row ${i} at its wait`).toBe('resolved');
    expect(outcomes[i]!.at).toBe(wait);
  }
  for (let i = 1; i < outcomes.length; i++) {
    expect(outcomes[i]!.seq).toBeGreaterThan(outcomes[i - 1]!.seq);
  }
  expect(clock.pendingTimers).toBe(0);
  expect(limiter.stats().waiting).toBe(0);
  return waits;
}

describe('RedisRateLimiter: take reserves a slot and sleeps exactly until it', () => {
  it('burst 2 at 10 per second', async () => {
    const { limiter, clock } = make(RATE, 2);
    await runTakes(limiter, clock, [
      { at: t(0), n: 1, delayMs: 0 },
      { at: t(0), n: 1, delayMs: 0 },
      { at: t(0), n: 1, delayMs: T },
      { at: t(0), n: 2, delayMs: 3 * T },
      { at: t(0), n: 1, delayMs: 4 * T },
    ]);
    expect(limiter.stats().granted.redis).toBe(5);
  });

  it('moves the limit on even when the slot is later, so tryTake cannot jump the queue', async () => {
    const { limiter, clock } = make(RATE, 1);
    const first = limiter.take();
    await first;
    const second = watch(clock, limiter.take());
    while (replies.length < 2) await flush();
    expect(await limiter.tryTake()).toMatchObject({ ok: false, source: 'redis' });
    const r = (await limiter.tryTake()) as { retryAfterMs: number };
    expect(r.retryAfterMs).toBeGreaterThan(T); // behind the sleeping take
    await clock.advanceAsync(T);
    expect(second.state).toBe('resolved');
  });

  it('the times from a row after time has passed', async () => {
    const { limiter, clock } = make(RATE, 3);
    await runTakes(limiter, clock, [
      { at: t(0), n: 3, delayMs: 0 },
      { at: t(1), n: 2, delayMs: T },
      { at: t(1), n: 1, delayMs: 2 * T },
    ]);
  });
});

describe('RedisRateLimiter: take with timeoutMs', () => {
  it('refuses a longer wait at once and reserves nothing', async () => {
    const { limiter, clock } = make(RATE, 1);
    await limiter.take();
    const before = await tatOf(limiter.key);
    const error = await rejection(limiter.take(1, { timeoutMs: 50 }));
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).timeoutMs).toBe(50);
    expect((error as Error).message).toMatch(
      /^The wait would take \d+(\.\d+)? ms, more than the timeout of 50 ms$/,
    );
    expect(await tatOf(limiter.key)).toBe(before);
    expect(clock.pendingTimers).toBe(0);
    expect(limiter.stats().refused.redis).toBe(1);
  });

  it('timeoutMs 0 takes only what is there; a long enough timeout waits', async () => {
    const { limiter, clock } = make(RATE, 2);
    await limiter.take(1, { timeoutMs: 0 });
    await limiter.take(1, { timeoutMs: 0 });
    await expect(limiter.take(1, { timeoutMs: 0 })).rejects.toBeInstanceOf(TimeoutError);
    const waiting = watch(clock, limiter.take(1, { timeoutMs: T }));
    while (replies.length < 4) await flush();
    expect(lastReply().granted).toBe(true);
    await clock.advanceAsync(lastReply().waitUs / 1000);
    expect(waiting.state).toBe('resolved');
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('RedisRateLimiter: take with a signal', () => {
  it('an already-aborted signal rejects with its reason and sends nothing', async () => {
    const { limiter } = make(RATE, 1);
    const reason = new Error('stop');
    const error = await rejection(limiter.take(1, { signal: AbortSignal.abort(reason) }));
    expect(error).toBe(reason);
    expect(replies).toHaveLength(0);
    expect(await redis.server.admin().exists(limiter.key)).toBe(0);
  });

  it('abort while sleeping: rejects with the reason, gives the slot back, leaves nothing', async () => {
    const { limiter, clock } = make(RATE, 1);
    await limiter.take();
    const before = await tatOf(limiter.key);
    const controller = new AbortController();
    const waiting = limiter.take(1, { signal: controller.signal });
    while (replies.length < 2) await flush();
    expect(await tatOf(limiter.key)).toBe(before! + T_US);
    expect(clock.pendingTimers).toBe(1);
    expect(listeners(controller.signal)).toBe(1);
    const reason = new Error('user left');
    controller.abort(reason);
    expect(await rejection(waiting)).toBe(reason);
    expect(await tatOf(limiter.key)).toBe(before); // given back before the rejection
    expect(clock.pendingTimers).toBe(0);
    expect(listeners(controller.signal)).toBe(0);
    expect(limiter.stats()).toMatchObject({ cancelled: 1, givenBack: 1, waiting: 0 });
    // The slot is free again: the next take waits one interval, not two.
    const next = watch(clock, limiter.take());
    while (replies.length < 3) await flush();
    expect(lastReply().waitUs).toBeLessThanOrEqual(T_US);
    await clock.advanceAsync(T);
    expect(next.state).toBe('resolved');
  });

  it('gives back only the last reservation: one with a later one on top stays taken', async () => {
    const { limiter, clock } = make(RATE, 1);
    await limiter.take();
    const base = (await tatOf(limiter.key))!;
    const a = new AbortController();
    const b = new AbortController();
    const first = limiter.take(1, { signal: a.signal });
    const second = limiter.take(1, { signal: b.signal });
    while (replies.length < 3) await flush();
    expect(await tatOf(limiter.key)).toBe(base + 2 * T_US);
    a.abort();
    await expect(first).rejects.toBeInstanceOf(DOMException);
    expect(await tatOf(limiter.key)).toBe(base + 2 * T_US); // B's slot depends on A's
    b.abort();
    await expect(second).rejects.toBeInstanceOf(DOMException);
    expect(await tatOf(limiter.key)).toBe(base + T_US); // B's back; A's stays taken
    expect(limiter.stats()).toMatchObject({ cancelled: 2, givenBack: 1, waiting: 0 });
    expect(clock.pendingTimers).toBe(0);
    expect(listeners(a.signal) + listeners(b.signal)).toBe(0);
  });

  it('aborted from the last back, every reservation goes back', async () => {
    const { limiter, clock } = make(RATE, 1);
    await limiter.take();
    const base = (await tatOf(limiter.key))!;
    const controllers = [new AbortController(), new AbortController(), new AbortController()];
    const takes = controllers.map((c) => limiter.take(1, { signal: c.signal }));
    while (replies.length < 4) await flush();
    for (const [i, c] of [...controllers.entries()].reverse()) {
      c.abort();
      await expect(takes[i]).rejects.toBeInstanceOf(DOMException);
    }
    expect(await tatOf(limiter.key)).toBe(base);
    expect(limiter.stats().givenBack).toBe(3);
    expect(clock.pendingTimers).toBe(0);
  });

  it('a signal that never aborts: its listener is gone once the take resolves', async () => {
    const { limiter, clock } = make(RATE, 1);
    const controller = new AbortController();
    await limiter.take(1, { signal: controller.signal }); // at once
    const waiting = watch(clock, limiter.take(1, { signal: controller.signal }));
    while (replies.length < 2) await flush();
    expect(listeners(controller.signal)).toBe(1);
    await clock.advanceAsync(T);
    expect(waiting.state).toBe('resolved');
    expect(listeners(controller.signal)).toBe(0);
  });

  it('a timer that fires early is armed again for the rest: never acts before its slot', async () => {
    const clock = new ManualClock();
    const early = {
      now: () => clock.now(),
      // Fires 1 ms early, as setTimeout may next to performance.now().
      setTimer: (callback: () => void, delayMs: number) =>
        clock.setTimer(callback, delayMs >= 2 ? delayMs - 1 : delayMs),
      clearTimer: (handle: unknown) => clock.clearTimer(handle),
    };
    const limiter = new RedisRateLimiter({
      connection: redis.connection,
      name: `t${names++}`,
      rate: RATE,
      burst: 1,
      clock: early,
    });
    await limiter.take();
    const waiting = watch(clock, limiter.take());
    while (replies.length < 2) await flush();
    const wait = lastReply().waitUs / 1000;
    await clock.advanceAsync(wait - 0.5);
    expect(waiting.state).toBe('pending');
    expect(clock.pendingTimers).toBe(1);
    await clock.advanceAsync(0.5);
    expect(waiting.state).toBe('resolved');
    expect(waiting.at).toBeCloseTo(wait, 9);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('RedisRateLimiter: options and arguments', () => {
  const base = () => ({ connection: redis.connection, name: 'bad', rate: 10, burst: 2 });

  it('reports its configuration; the default failure policy is closed', () => {
    const limiter = new RedisRateLimiter(base());
    expect(limiter).toMatchObject({
      name: 'bad',
      key: 'sluice:{bad}:gcra',
      rate: 10,
      burst: 2,
      failure: 'closed',
    });
    expect(limiter.stats()).toEqual({
      granted: { redis: 0, open: 0, closed: 0, local: 0 },
      refused: { redis: 0, open: 0, closed: 0, local: 0 },
      cancelled: 0,
      givenBack: 0,
      failures: 0,
      lastFailure: undefined,
      waiting: 0,
    });
  });

  it.each([
    [0, '`0` (number)'],
    [-1, '`-1` (number)'],
    [Number.NaN, '`NaN` (number)'],
    [Number.POSITIVE_INFINITY, '`Infinity` (number)'],
    [2e6, '`2000000` (number)'],
    ['5', '`"5"` (string)'],
    [undefined, '`undefined` (undefined)'],
  ])('rejects rate %s, naming the value', (rate, shown) => {
    const error = caught(() => new RedisRateLimiter({ ...base(), rate } as never));
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toContain('`rate`');
    expect(error.message).toContain(shown);
  });

  it.each([
    [0, '`0` (number)'],
    [1.5, '`1.5` (number)'],
    [-2, '`-2` (number)'],
    [Number.POSITIVE_INFINITY, '`Infinity` (number)'],
    ['3', '`"3"` (string)'],
  ])('rejects burst %s, naming the value', (burst, shown) => {
    const error = caught(() => new RedisRateLimiter({ ...base(), burst } as never));
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toContain('`burst`');
    expect(error.message).toContain(shown);
  });

  it('rejects a bucket that would take more than 10⁹ s to refill', () => {
    const error = caught(() => new RedisRateLimiter({ ...base(), rate: 1e-9, burst: 2 }));
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toMatch(/burst 2 at rate 1e-9/);
  });

  it('rejects an unknown failure policy, and replicas without local (and local without)', () => {
    const policy = caught(() => new RedisRateLimiter({ ...base(), failure: 'x' } as never));
    expect(policy).toBeInstanceOf(RangeError);
    expect(policy.message).toBe(
      "Expected `failure` to be one of 'open', 'closed', 'local', got `\"x\"` (string)",
    );
    const stray = caught(() => new RedisRateLimiter({ ...base(), replicas: 3 } as never));
    expect(stray).toBeInstanceOf(TypeError);
    expect(stray.message).toMatch(/`replicas` applies only to failure 'local'.*`3`.*'closed'/);
    for (const [replicas, shown] of [
      [undefined, '`undefined`'],
      [0, '`0`'],
      [2.5, '`2.5`'],
    ] as const) {
      const error = caught(
        () => new RedisRateLimiter({ ...base(), failure: 'local', replicas } as never),
      );
      expect(error).toBeInstanceOf(RangeError);
      expect(error.message).toContain('`replicas`');
      expect(error.message).toContain(shown);
    }
    expect(new RedisRateLimiter({ ...base(), failure: 'local', replicas: 3 }).failure).toBe(
      'local',
    );
  });

  it('rejects a missing or wrong connection, name, clock or options object', () => {
    expect(caught(() => new RedisRateLimiter(undefined as never)).message).toMatch(
      /options object/,
    );
    expect(caught(() => new RedisRateLimiter(5 as never)).message).toMatch(/`5` \(number\)/);
    const noConnection = caught(
      () => new RedisRateLimiter({ ...base(), connection: undefined } as never),
    );
    expect(noConnection).toBeInstanceOf(TypeError);
    expect(noConnection.message).toMatch(/`connection`.*`undefined`/);
    const client = caught(() => new RedisRateLimiter({ ...base(), connection: {} } as never));
    expect(client.message).toMatch(/`connection` to be a RedisConnection.*`\{\}`/);
    for (const [name, shown] of [
      [undefined, '`undefined` (undefined)'],
      ['', '`""` (string)'],
      ['a{b}', '`"a{b}"` (string)'],
      [7, '`7` (number)'],
    ] as const) {
      const error = caught(() => new RedisRateLimiter({ ...base(), name } as never));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toContain('`name`');
      expect(error.message).toContain(shown);
    }
    expect(() => new RedisRateLimiter({ ...base(), clock: {} } as never)).toThrow(/`clock`/);
  });

  it('throws synchronously for a bad n, options, signal or timeout, sending nothing', () => {
    const limiter = new RedisRateLimiter(base());
    for (const [n, pattern] of [
      [0, /`n`.*`0` \(number\)/],
      [1.5, /`n`.*`1\.5` \(number\)/],
      [Number.NaN, /`n`.*`NaN`/],
      [3, /Cannot take 3 tokens from a limit of burst 2/],
    ] as const) {
      expect(caught(() => limiter.tryTake(n))).toBeInstanceOf(RangeError);
      expect(caught(() => limiter.tryTake(n)).message).toMatch(pattern);
      expect(caught(() => limiter.take(n)).message).toMatch(pattern);
    }
    expect(caught(() => limiter.take(1, 5 as never))).toBeInstanceOf(TypeError);
    expect(caught(() => limiter.take(1, { signal: {} as never })).message).toMatch(/`signal`/);
    expect(caught(() => limiter.take(1, { timeoutMs: -1 })).message).toMatch(/`timeoutMs`.*`-1`/);
    expect(caught(() => limiter.take(1, { timeoutMs: Number.NaN }))).toBeInstanceOf(RangeError);
    expect(replies).toHaveLength(0);
  });
});
