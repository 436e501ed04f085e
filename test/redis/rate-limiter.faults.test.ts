/**
 * RedisRateLimiter when things go wrong, against real redis-servers started for this file:
 * Redis killed (every call settles within the command deadline, with each failure policy, and
 * Redis decides again once it is back); Redis slower than the deadline (CLIENT PAUSE);
 * connections killed mid-call (CLIENT KILL: no promise hangs); client clocks 5 s apart (one
 * limit, whatever the clocks say); and 4 processes × 50 callers on one key, whose grants,
 * counted on Redis's clock, are burst + rate·T (±1).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../src/clock.js';
import { SluiceError, TimeoutError } from '../../src/errors.js';
import {
  RedisConnection,
  RedisRateLimiter,
  type RedisRateLimiterOptions,
  RedisUnavailableError,
} from '../../src/redis/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { flush } from '../support/clock.js';
import { useRedisServer } from '../support/redis-fixture.js';

const DEADLINE_MS = 200;
/** What a call may take beyond the deadline before the test calls it a hang. */
const MARGIN_MS = 300;

const redis = useRedisServer();

let names = 0;
const fresh = (): string => `f${names++}`;

/** Resolves once the client is connected and ready again (it reconnects on its own). */
async function ready(connection: RedisConnection): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (connection.client.status !== 'ready') {
    if (performance.now() > deadline) throw new Error('the client did not reconnect');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

interface Timed<T> {
  readonly ms: number;
  readonly value?: T;
  readonly error?: unknown;
  /** False when it had not settled after 5 s (a hang). */
  readonly settled: boolean;
}

/** The promise's outcome and how long (real time) it took to settle. */
async function timed<T>(promise: Promise<T>): Promise<Timed<T>> {
  const start = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<'hang'>((resolve) => {
    timer = setTimeout(() => resolve('hang'), 5_000);
  });
  try {
    const value = await Promise.race([promise, hang]);
    if (value === 'hang') return { ms: performance.now() - start, settled: false };
    return { ms: performance.now() - start, value: value as T, settled: true };
  } catch (error) {
    return { ms: performance.now() - start, error, settled: true };
  } finally {
    clearTimeout(timer);
  }
}

function limiter(
  connection: RedisConnection,
  options: Partial<RedisRateLimiterOptions> & Pick<RedisRateLimiterOptions, 'failure'>,
): RedisRateLimiter {
  return new RedisRateLimiter({
    connection,
    name: fresh(),
    rate: 10,
    burst: 4,
    ...options,
  } as RedisRateLimiterOptions);
}

describe('RedisRateLimiter faults: Redis down or slow', () => {
  it('Redis killed: every call settles within the deadline with each policy; Redis decides again once back', async () => {
    const connection = await RedisConnection.connect({
      redis: redis.server.url,
      commandTimeoutMs: DEADLINE_MS,
    });
    const clock = new ManualClock();
    const open = limiter(connection, { failure: 'open', clock });
    const closed = limiter(connection, { failure: 'closed', clock });
    const local = limiter(connection, { failure: 'local', replicas: 2, clock });
    for (const l of [open, closed, local]) {
      expect(await l.tryTake()).toEqual({ ok: true, source: 'redis' });
    }

    await redis.server.kill();

    // open: allowed, at once.
    for (let i = 0; i < 6; i++) {
      const r = await timed(open.tryTake());
      expect(r.ms).toBeLessThan(DEADLINE_MS + MARGIN_MS);
      expect(r.value).toEqual({ ok: true, source: 'open' });
    }
    const openTake = await timed(open.take(4));
    expect(openTake).toMatchObject({ settled: true, value: undefined });
    expect(openTake.ms).toBeLessThan(DEADLINE_MS + MARGIN_MS);

    // closed: refused, and take rejects with the cause.
    const refused = await timed(closed.tryTake());
    expect(refused.ms).toBeLessThan(DEADLINE_MS + MARGIN_MS);
    expect(refused.value).toEqual({ ok: false, retryAfterMs: DEADLINE_MS, source: 'closed' });
    const rejected = await timed(closed.take());
    expect(rejected.ms).toBeLessThan(DEADLINE_MS + MARGIN_MS);
    expect(rejected.error).toBeInstanceOf(RedisUnavailableError);
    const error = rejected.error as RedisUnavailableError;
    expect(error).toBeInstanceOf(SluiceError);
    expect(error.code).toBe('ERR_SLUICE_REDIS_UNAVAILABLE');
    expect(error.cause).toBeInstanceOf(Error);
    expect(error.message).toMatch(
      /^Redis is unavailable: rate limiter 'f\d+': take\(1\) was refused \(/,
    );

    // local: this process's share, rate 10 ÷ 2 = 5 per second and burst 4 ÷ 2 = 2.
    const shares = [];
    for (let i = 0; i < 3; i++) shares.push(await local.tryTake());
    expect(shares).toEqual([
      { ok: true, source: 'local' },
      { ok: true, source: 'local' },
      { ok: false, retryAfterMs: 200, source: 'local' },
    ]);
    expect(await local.tryTake(3)).toEqual({
      ok: false,
      retryAfterMs: Number.POSITIVE_INFINITY,
      source: 'local',
    });
    await expect(local.take(3)).rejects.toBeInstanceOf(RedisUnavailableError);
    await expect(local.take(1, { timeoutMs: 100 })).rejects.toBeInstanceOf(TimeoutError);
    let done = false;
    const waiting = local.take().then(() => {
      done = true;
    });
    await flush();
    await clock.advanceAsync(199);
    expect(done).toBe(false);
    await clock.advanceAsync(1);
    await waiting;
    expect(done).toBe(true);

    expect(open.stats()).toMatchObject({ granted: { redis: 1, open: 7 }, failures: 7 });
    expect(closed.stats()).toMatchObject({ granted: { redis: 1 }, refused: { closed: 2 } });
    expect(local.stats()).toMatchObject({
      granted: { redis: 1, local: 3 },
      refused: { local: 4 },
      failures: 7,
    });
    expect(local.stats().lastFailure).toBeInstanceOf(Error);

    await redis.server.restart();
    await ready(connection);
    for (const l of [open, closed, local]) {
      expect(await l.tryTake()).toEqual({ ok: true, source: 'redis' });
    }
    await connection.close();
  });

  it('Redis slower than the deadline (CLIENT PAUSE): the policy decides at the deadline', async () => {
    const connection = await RedisConnection.connect({
      redis: redis.server.url,
      commandTimeoutMs: DEADLINE_MS,
    });
    const open = limiter(connection, { failure: 'open' });
    const closed = limiter(connection, { failure: 'closed' });
    const local = limiter(connection, { failure: 'local', replicas: 4 });
    await redis.server.admin().client('PAUSE', 600, 'ALL');
    const [a, b, c, d] = await Promise.all([
      timed(open.tryTake()),
      timed(closed.tryTake()),
      timed(local.tryTake()),
      timed(closed.take()),
    ]);
    for (const r of [a, b, c, d]) {
      expect(r.settled).toBe(true);
      expect(r.ms).toBeGreaterThanOrEqual(DEADLINE_MS - 5);
      expect(r.ms).toBeLessThan(DEADLINE_MS + MARGIN_MS);
    }
    expect(a.value).toEqual({ ok: true, source: 'open' });
    expect(b.value).toMatchObject({ ok: false, source: 'closed' });
    expect(c.value).toEqual({ ok: true, source: 'local' });
    expect(d.error).toBeInstanceOf(RedisUnavailableError);
    expect(String((d.error as Error).cause)).toMatch(/timed out/i);
    await redis.server.admin().client('UNPAUSE');
    await ready(connection);
    expect(await closed.tryTake()).toMatchObject({ source: 'redis' });
    await connection.close();
  });
});

describe('RedisRateLimiter faults: connections killed mid-call', () => {
  it('CLIENT KILL TYPE normal with calls in flight and takes asleep: nothing hangs, nothing runs twice', async () => {
    const connection = await RedisConnection.connect({
      redis: redis.server.url,
      commandTimeoutMs: DEADLINE_MS,
    });
    const admin = redis.server.admin();
    for (const failure of ['closed', 'open'] as const) {
      await ready(connection);
      const l = new RedisRateLimiter({ connection, name: fresh(), rate: 20, burst: 2, failure });
      // Asleep through the kill: slots 50, 100 and 150 ms out (one of them to be aborted).
      const controller = new AbortController();
      const asleep = [l.take(2), l.take(), l.take(1, { signal: controller.signal }), l.take()].map(
        (call) => timed(call),
      );
      await l.tryTake(); // the four reservations are made
      const tat = await admin.get(l.key);
      // In flight through the kill: the server holds scripts while writes are paused, and
      // CLIENT KILL (not a write) goes through.
      await admin.client('PAUSE', 2_000, 'WRITE');
      const inFlight: Promise<Timed<unknown>>[] = [];
      for (let i = 0; i < 100; i++) inFlight.push(timed(l.tryTake()));
      for (let i = 0; i < 20; i++) inFlight.push(timed(l.take()));
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(Number(await admin.client('KILL', 'TYPE', 'normal'))).toBeGreaterThanOrEqual(1);
      controller.abort(); // its give-back meets a dropped connection
      await admin.client('UNPAUSE');
      const outcomes = await Promise.all([...asleep, ...inFlight]);
      outcomes.forEach((o, i) => {
        expect(o.settled, `call ${i}`).toBe(true);
        // The deadline at most, after a sleep of at most 150 ms for the four asleep.
        expect(o.ms, `call ${i}`).toBeLessThan(DEADLINE_MS + 150 + MARGIN_MS);
      });
      const [two, one, aborted, three] = outcomes;
      for (const o of [two, one, three]) expect(o!.error).toBeUndefined();
      expect((aborted!.error as Error).name).toBe('AbortError');
      for (const o of outcomes.slice(4)) {
        if (failure === 'closed') {
          expect(o.value ?? o.error).toSatisfy(
            (v) =>
              v instanceof RedisUnavailableError ||
              (typeof v === 'object' &&
                v !== null &&
                (v as { source?: string }).source === 'closed'),
          );
        } else {
          expect(o.error).toBeUndefined();
        }
      }
      const stats = l.stats();
      expect(stats.failures).toBe(120);
      expect(stats.waiting).toBe(0);
      expect(stats.granted.redis).toBe(3);
      expect(stats.cancelled).toBe(1);
      // The scripts cut off by the kill never ran, and none ran again after the reconnect.
      await ready(connection);
      expect(await admin.get(l.key)).toBe(tat);
    }
    await connection.close();
  });
});

describe('RedisRateLimiter faults: client clocks 5 s apart', () => {
  it('two limiters whose clocks differ by 5 s admit what one limiter would', async () => {
    const connections = [
      await RedisConnection.connect({ redis: redis.server.url }),
      await RedisConnection.connect({ redis: redis.server.url }),
    ];
    const clocks = [new ManualClock({ start: 0 }), new ManualClock({ start: 5_000 })];
    /** The delay of every timer armed on either clock, in the order they were armed. */
    const delays: number[] = [];
    const recording = (clock: ManualClock): Clock => ({
      now: () => clock.now(),
      setTimer: (callback, delayMs) => {
        delays.push(delayMs);
        return clock.setTimer(callback, delayMs);
      },
      clearTimer: (handle) => clock.clearTimer(handle),
    });
    const name = fresh();
    const pair = [0, 1].map(
      (i) =>
        new RedisRateLimiter({
          connection: connections[i]!,
          name,
          rate: 1,
          burst: 3,
          clock: recording(clocks[i]!),
        }),
    );
    const alone = new RedisRateLimiter({
      connection: connections[0]!,
      name: fresh(),
      rate: 1,
      burst: 3,
      clock: clocks[0],
    });

    const started = performance.now();
    const sharedOk: boolean[] = [];
    const aloneOk: boolean[] = [];
    for (let i = 0; i < 8; i++) {
      sharedOk.push((await pair[i % 2]!.tryTake()).ok);
      aloneOk.push((await alone.tryTake()).ok);
    }
    expect(sharedOk).toEqual(aloneOk);
    expect(sharedOk.filter(Boolean)).toHaveLength(3);

    // The waits come from Redis: in call order, one interval apart, whichever limiter (and
    // clock) made the call; each sleeps its wait on its own clock.
    const takes: Promise<void>[] = [];
    for (let i = 0; i < 4; i++) {
      takes.push(pair[i % 2]!.take());
      while (delays.length === i) await flush();
    }
    const elapsed = performance.now() - started;
    delays.forEach((delay, k) => {
      expect(delay).toBeLessThanOrEqual((k + 1) * 1000);
      expect(delay).toBeGreaterThan((k + 1) * 1000 - elapsed);
    });
    expect(clocks[1]!.nextTimerAt! - clocks[1]!.now()).toBeCloseTo(delays[1]!, 9);
    for (const clock of clocks) await clock.advanceAsync(4_000);
    await Promise.all(takes);
    for (const clock of clocks) expect(clock.pendingTimers).toBe(0);
    for (const c of connections) await c.close();
  });
});

describe('RedisRateLimiter faults: contention across processes', () => {
  it('4 processes × 50 callers on one key admit burst + rate·T (±1), by Redis time', async () => {
    const RATE = 100;
    const BURST = 10;
    const RUN_MS = 2_000;
    const WINDOW_MS = 1_500;
    const name = fresh();
    const fixture = fileURLToPath(new URL('./fixtures/rate-limiter-contender.ts', import.meta.url));
    const children: ChildProcess[] = [];
    const outputs: string[] = [];
    try {
      const readies: Promise<void>[] = [];
      const exits: Promise<unknown>[] = [];
      for (let i = 0; i < 4; i++) {
        const child = spawn(
          process.execPath,
          [
            '--import',
            'tsx',
            fixture,
            redis.server.url,
            name,
            String(RATE),
            String(BURST),
            '50',
            String(RUN_MS),
          ],
          { stdio: ['pipe', 'pipe', 'inherit'] },
        );
        children.push(child);
        outputs.push('');
        let resolveReady: () => void = () => {};
        readies.push(
          new Promise<void>((resolve) => {
            resolveReady = resolve;
          }),
        );
        child.stdout!.setEncoding('utf8');
        child.stdout!.on('data', (chunk: string) => {
          outputs[i] += chunk;
          if (outputs[i]!.startsWith('ready\n')) resolveReady();
        });
        exits.push(once(child, 'exit'));
      }
      await Promise.all(readies);
      for (const child of children) child.stdin!.write('go\n');
      const codes = await Promise.all(exits);
      expect(codes.map((c) => (c as [number | null])[0])).toEqual([0, 0, 0, 0]);
    } finally {
      for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    }

    const results = outputs.map(
      (out) =>
        JSON.parse(out.slice('ready\n'.length)) as {
          slots: number[];
          granted: number;
          failures: number;
        },
    );
    for (const r of results) {
      expect(r.failures).toBe(0);
      expect(r.granted).toBe(r.slots.length); // every reservation was a resolved take
      expect(r.slots.length).toBeGreaterThan(0);
    }
    const slots = results.flatMap((r) => r.slots).sort((a, b) => a - b);
    const intervalUs = 1e6 / RATE;
    // Admitted within WINDOW_MS of the first grant, on Redis's clock.
    const first = slots[0]!;
    const inWindow = slots.filter((s) => s <= first + WINDOW_MS * 1000).length;
    const expected = BURST + (RATE * WINDOW_MS) / 1000;
    expect(Math.abs(inWindow - expected)).toBeLessThanOrEqual(1);
    // And no window, anywhere, admits more than burst + rate·(its length).
    for (let i = 0; i < slots.length; i++) {
      for (let j = i; j < slots.length; j++) {
        const allowed = BURST + (slots[j]! - slots[i]!) / intervalUs;
        if (j - i + 1 > allowed + 1e-9) {
          throw new Error(`${j - i + 1} grants in ${(slots[j]! - slots[i]!) / 1000} ms`);
        }
      }
    }
  }, 30_000);
});
