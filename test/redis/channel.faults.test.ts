/**
 * RedisChannel under faults, each against real redis-server processes started here:
 * - a consumer process killed with SIGKILL while holding items: redelivered after the lease,
 *   none lost, no capacity leaked; a paused consumer's late ack fenced off;
 * - connections cut with CLIENT KILL mid-call: nothing hangs, no item enqueued twice;
 * - Redis killed and restarted with AOF `always`: acknowledged sends survive; without
 *   persistence, the loss is detected and reported once;
 * - Redis down or stalled: every call settles within its deadline with RedisUnavailableError;
 * - producers blocked by a stalled consumer issue no commands at all while they wait.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  type Delivery,
  RedisChannel,
  RedisChannelLostError,
  RedisConnection,
  type RedisSendOutcome,
  RedisUnavailableError,
} from '../../src/redis/index.js';
import { rejection } from '../support/errors.js';
import { sleep } from '../support/real-time.js';
import { useRedis, useRedisServer } from '../support/redis-fixture.js';
import { startRedisServer } from '../support/redis-server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = 'test/redis/fixtures/channel-consumer.ts';

/** A line the consumer fixture prints. */
interface Line {
  readonly event: 'held' | 'acked';
  readonly id?: string;
  readonly token?: number;
  readonly deliveries?: number;
  readonly item?: unknown;
  readonly results?: boolean[];
}

interface Consumer {
  readonly child: ChildProcess;
  /** Resolves with the next JSON line the child prints. */
  next(): Promise<Line>;
  send(line: string): void;
  exited: Promise<void>;
}

/** Starts the consumer fixture in its own process. */
function startConsumer(options: {
  url: string;
  name: string;
  capacity: number;
  leaseMs: number;
  count: number;
}): Consumer {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, JSON.stringify(options)], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const queue: Line[] = [];
  const waiting: ((line: Line) => void)[] = [];
  lines.on('line', (line) => {
    const parsed = JSON.parse(line) as Line;
    const waiter = waiting.shift();
    if (waiter !== undefined) waiter(parsed);
    else queue.push(parsed);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    next: () =>
      new Promise((resolve, reject) => {
        const line = queue.shift();
        if (line !== undefined) resolve(line);
        else {
          waiting.push(resolve);
          void exited.then(() => reject(new Error('the consumer exited')));
        }
      }),
    send: (line) => child.stdin?.write(`${line}\n`),
    exited,
  };
}

/** Settles with 'hung' if `promise` has not settled within `ms`; else with how it settled. */
async function within<T>(
  promise: Promise<T>,
  ms: number,
): Promise<{ settled: 'fulfilled'; value: T } | { settled: 'rejected'; error: unknown } | 'hung'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<'hung'>((resolve) => {
    timer = setTimeout(() => resolve('hung'), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        (value) => ({ settled: 'fulfilled' as const, value }),
        (error: unknown) => ({ settled: 'rejected' as const, error }),
      ),
      hung,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The server's id for the connection's command client, once it is connected again. */
async function clientId(connection: RedisConnection): Promise<string> {
  for (let i = 0; ; i++) {
    await reconnected(connection);
    try {
      return String(await connection.client.client('ID'));
    } catch (error) {
      if (i > 100) throw error;
      await sleep(20);
    }
  }
}

/** Waits until the connection's command client is connected again. */
async function reconnected(connection: RedisConnection): Promise<void> {
  for (let i = 0; i < 300 && connection.client.status !== 'ready'; i++) await sleep(20);
  expect(connection.client.status).toBe('ready');
}

/** Receives and acks everything, waiting up to `ms` for each next item. */
async function receiveAll<T>(ch: RedisChannel<T>, ms: number): Promise<Delivery<T>[]> {
  const out: Delivery<T>[] = [];
  for (;;) {
    let delivery: Delivery<T>;
    try {
      delivery = await ch.receive({ timeoutMs: ms });
    } catch {
      return out;
    }
    out.push(delivery);
    expect(await delivery.ack()).toBe(true);
  }
}

describe('a consumer process that dies or stalls', () => {
  const redis = useRedis();

  it('killed with SIGKILL while holding items: redelivered after the lease, none lost, no capacity leaked', async () => {
    const capacity = 5;
    const ch = new RedisChannel<number>({
      connection: redis.connection,
      name: 'killed',
      capacity,
      leaseMs: 600,
    });
    for (let i = 0; i < capacity; i++) await ch.send(i, { id: `item-${i}` });
    const consumer = startConsumer({
      url: redis.server.url,
      name: 'killed',
      capacity,
      leaseMs: 600,
      count: 3,
    });
    const held = [await consumer.next(), await consumer.next(), await consumer.next()];
    expect(held.map((line) => line.item)).toEqual([0, 1, 2]);
    consumer.child.kill('SIGKILL');
    await consumer.exited;
    expect(await ch.stats()).toMatchObject({ ready: 2, inflight: 3, size: 5 });
    expect(await ch.trySend(99)).toMatchObject({ ok: false, reason: 'full' });

    const deliveries = await receiveAll(ch, 2000);
    expect(deliveries.map((d) => d.item).sort()).toEqual([0, 1, 2, 3, 4]);
    for (const d of deliveries) expect(d.deliveries).toBe(d.item < 3 ? 2 : 1);

    // Capacity was not leaked: a refill accepts exactly `capacity` items.
    expect(await ch.stats()).toMatchObject({ size: 0, inflight: 0 });
    const refill = [];
    for (let i = 0; i <= capacity; i++) refill.push(await ch.trySend(100 + i));
    expect(refill.map((r) => r.ok)).toEqual([true, true, true, true, true, false]);
    await receiveAll(ch, 50);
  });

  it("a paused consumer's late ack is fenced off", async () => {
    const ch = new RedisChannel<string>({
      connection: redis.connection,
      name: 'paused',
      capacity: 1,
      leaseMs: 300,
    });
    await ch.send('job');
    const consumer = startConsumer({
      url: redis.server.url,
      name: 'paused',
      capacity: 1,
      leaseMs: 300,
      count: 1,
    });
    const held = await consumer.next();
    consumer.child.kill('SIGSTOP');
    const redelivered = await ch.receive({ timeoutMs: 3000 }); // after the lease ran out
    expect(redelivered).toMatchObject({ id: held.id, deliveries: 2 });
    expect(redelivered.token).toBeGreaterThan(held.token as number);
    consumer.child.kill('SIGCONT');
    consumer.send('ack');
    expect(await consumer.next()).toEqual({ event: 'acked', results: [false] });
    expect(await ch.stats()).toMatchObject({ inflight: 1, leased: 1 });
    expect(await redelivered.ack()).toBe(true);
    consumer.send('exit');
    await consumer.exited;
  });
});

describe('connections cut with CLIENT KILL', () => {
  const redis = useRedisServer();

  it('a send cut off before it ran rejects at once; the retry with its id enqueues it once', async () => {
    const connection = await RedisConnection.connect({
      redis: redis.server.url,
      commandTimeoutMs: 500,
    });
    const ch = new RedisChannel<string>({ connection, name: 'paused-kill', capacity: 10 });
    await ch.stats(); // the channel exists, the script is cached
    const id = await clientId(connection);
    const admin = redis.server.admin();
    await admin.client('PAUSE', 2000, 'WRITE');
    const sending = within(ch.send('x', { id: 'once' }), 1000);
    await sleep(50); // the script is held by the pause
    await admin.client('KILL', 'ID', id);
    await admin.client('UNPAUSE');
    const outcome = await sending;
    expect(outcome).toMatchObject({ settled: 'rejected' });
    expect((outcome as { error: unknown }).error).toBeInstanceOf(RedisUnavailableError);
    expect(await admin.hexists('sluice:{paused-kill}:items', 'once')).toBe(0);
    await reconnected(connection);
    expect(await ch.send('x', { id: 'once' })).toEqual({ ok: true, id: 'once', duplicate: false });
    expect(await ch.send('x', { id: 'once' })).toMatchObject({ duplicate: true });
    expect(await ch.stats()).toMatchObject({ size: 1 });
    await connection.close();
  });

  it('sends cut at random points: every call settles, retries enqueue each id exactly once', async () => {
    const connection = await RedisConnection.connect({
      redis: redis.server.url,
      commandTimeoutMs: 500,
    });
    const ch = new RedisChannel<number>({ connection, name: 'random-kill', capacity: 100 });
    const admin = redis.server.admin();
    let lostReplies = 0;
    let failures = 0;
    // Go on until both kinds of cut were seen: before the script ran, and after (reply lost).
    let sent = 0;
    for (let i = 0; i < 30 || ((failures === lostReplies || lostReplies === 0) && i < 300); i++) {
      sent++;
      const id = await clientId(connection);
      // Cut the connection as the send goes out: the kill, on another connection, reaches
      // Redis before the script, or between the script and its reply, or after.
      let kill: Promise<unknown>;
      let sending: ReturnType<typeof within<RedisSendOutcome<number>>>;
      if (i % 2 === 0) {
        kill = admin.client('KILL', 'ID', id).catch(() => {});
        sending = within(ch.send(i, { id: `k${i}` }), 1500);
      } else {
        sending = within(ch.send(i, { id: `k${i}` }), 1500);
        kill = admin.client('KILL', 'ID', id).catch(() => {});
      }
      const outcome = await sending;
      await kill;
      expect(outcome).not.toBe('hung');
      if (outcome !== 'hung' && outcome.settled === 'rejected') {
        failures++;
        expect(outcome.error).toBeInstanceOf(RedisUnavailableError);
        if ((await admin.hexists('sluice:{random-kill}:items', `k${i}`)) === 1) lostReplies++;
        // Retry until it goes through: a no-op if the first try went in.
        for (;;) {
          await reconnected(connection);
          const retry = await within(ch.send(i, { id: `k${i}` }), 1500);
          expect(retry).not.toBe('hung');
          if (retry !== 'hung' && retry.settled === 'fulfilled') break;
        }
      }
    }
    // Sends that ran but whose reply was cut: their retry was a no-op.
    expect(lostReplies).toBeGreaterThan(0);
    expect(failures).toBeGreaterThan(lostReplies);
    await clientId(connection); // connected again after the last cut
    expect(await ch.stats()).toMatchObject({ ready: sent });
    const items = (await receiveAll(ch, 50)).map((d) => d.item);
    expect(items.sort((a, b) => a - b)).toEqual(Array.from({ length: sent }, (_, i) => i));
    await connection.close();
  });

  it('waiting sends and receives settle when the blocking connection is cut', async () => {
    const connection = await RedisConnection.connect({
      redis: redis.server.url,
      commandTimeoutMs: 500,
    });
    const blockingId = String(await (await connection.blocking()).client('ID'));
    const full = new RedisChannel<number>({ connection, name: 'cut-full', capacity: 1 });
    const empty = new RedisChannel<number>({ connection, name: 'cut-empty', capacity: 1 });
    await full.send(1);
    const sending = within(full.send(2), 1000);
    const receiving = within(empty.receive(), 1000);
    await sleep(100);
    await redis.server.admin().client('KILL', 'ID', blockingId);
    for (const call of [sending, receiving]) {
      const outcome = await call;
      expect(outcome).toMatchObject({ settled: 'rejected' });
      expect((outcome as { error: Error }).error).toBeInstanceOf(RedisUnavailableError);
      expect((outcome as { error: Error }).error.cause).toBeDefined();
    }
    expect(await full.stats()).toMatchObject({ size: 1 });
    await connection.close();
  });
});

describe('Redis restarts', () => {
  it('with AOF `always`, acknowledged sends survive a kill and restart', async () => {
    const server = await startRedisServer({ aof: true });
    const connection = await RedisConnection.connect({ redis: server.url });
    const ch = new RedisChannel<number>({
      connection,
      name: 'durable',
      capacity: 20,
      leaseMs: 300,
    });
    for (let i = 0; i < 10; i++) await ch.send(i, { id: `d${i}` });
    for (let i = 0; i < 2; i++) await (await ch.receive()).ack();
    const inFlight = await ch.receive(); // item 2, never acked
    expect(inFlight.item).toBe(2);
    await server.kill();
    await server.restart();
    await reconnected(connection);
    // The epoch survived with the data: no loss is reported.
    expect(await ch.stats()).toMatchObject({ ready: 7, inflight: 1, size: 8 });
    const items = (await receiveAll(ch, 1000)).map((d) => d.item);
    expect(items.sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    await connection.close();
    await server.stop();
  });

  it('without persistence, the loss is detected and reported once; the instance goes on', async () => {
    const server = await startRedisServer();
    const connection = await RedisConnection.connect({ redis: server.url });
    const ch = new RedisChannel<number>({ connection, name: 'volatile', capacity: 5 });
    for (let i = 0; i < 3; i++) await ch.send(i);
    const delivery = await ch.receive();
    await server.kill();
    await server.restart();
    await reconnected(connection);
    // The first call to find the channel gone reports it, changing nothing.
    const error = (await rejection(ch.trySend(10))) as RedisChannelLostError;
    expect(error).toBeInstanceOf(RedisChannelLostError);
    expect(error.code).toBe('ERR_SLUICE_REDIS_CHANNEL_LOST');
    expect(error.channel).toBe('volatile');
    expect(error.message).toMatch(/lost channel 'volatile'/);
    // Then the instance adopts the channel as it is now.
    expect(await ch.trySend(10)).toMatchObject({ ok: true });
    expect(await ch.stats()).toMatchObject({ size: 1 });
    // A delivery from before the loss holds no lease: false, not a second report.
    expect(await delivery.ack()).toBe(false);
    expect(await delivery.extend()).toBe(false);

    // A delivery's own call can be the one that finds the loss.
    const other = new RedisChannel<number>({ connection, name: 'volatile-2', capacity: 5 });
    await other.send(1);
    const held = await other.receive();
    await server.kill();
    await server.restart();
    await reconnected(connection);
    expect(await rejection(held.ack())).toBeInstanceOf(RedisChannelLostError);
    expect(await other.trySend(2)).toMatchObject({ ok: true });
    await connection.close();
    await server.stop();
  });
});

describe('Redis down or stalled', () => {
  it('every call settles within the deadline with RedisUnavailableError, cause attached', async () => {
    const server = await startRedisServer();
    const deadline = 300;
    const connection = await RedisConnection.connect({
      redis: server.url,
      commandTimeoutMs: deadline,
    });
    const ch = new RedisChannel<number>({ connection, name: 'down', capacity: 1, leaseMs: 500 });
    const empty = new RedisChannel<number>({ connection, name: 'down-empty', capacity: 1 });
    await ch.send(1);
    const delivery = await ch.receive();
    const calls = (): [string, () => Promise<unknown>][] => [
      ['trySend', () => ch.trySend(3)],
      ['send', () => ch.send(3)],
      ['tryReceive', () => ch.tryReceive()],
      ['receive', () => empty.receive()],
      ['stats', () => ch.stats()],
      ['deadLetters', () => ch.deadLetters()],
      ['requeueDeadLetter', () => ch.requeueDeadLetter('x')],
      ['ack', () => delivery.ack()],
      ['nack', () => delivery.nack()],
      ['extend', () => delivery.extend()],
      ['consume', () => ch.consume(() => {}, { concurrency: 1 }).done],
    ];
    /** Starts every call at once; each must reject with RedisUnavailableError within `ms`. */
    const checkAll = async (started: [string, Promise<unknown>, number][]) => {
      const outcomes = await Promise.all(started.map(([, call, ms]) => within(call, ms)));
      outcomes.forEach((outcome, i) => {
        const name = started[i]?.[0];
        expect(outcome, name).toMatchObject({ settled: 'rejected' });
        const error = (outcome as { error: Error }).error;
        expect(error, name).toBeInstanceOf(RedisUnavailableError);
        expect(error.cause, name).toBeDefined();
      });
    };

    // Stalled (SIGSTOP): the socket stays open, nothing answers.
    const waitingSend = ch.send(2);
    const waitingReceive = empty.receive();
    await sleep(100); // both wait in BLPOP
    const pid = Number(/process_id:(\d+)/.exec(await server.admin().info('server'))?.[1]);
    process.kill(pid, 'SIGSTOP');
    try {
      // A wait notices when its BLPOP is overdue: the BLPOP's timeout (here at most leaseMs)
      // plus the deadline.
      await checkAll([
        ['waiting send', waitingSend, 500 + deadline + 300],
        ['waiting receive', waitingReceive, 500 + deadline + 300],
        // A send or receive that finds others of its instance waiting waits behind them, so
        // it is bounded as they are.
        ...calls().map(([name, call]): [string, Promise<unknown>, number] => [
          name,
          call(),
          name === 'send' || name === 'receive' ? 500 + deadline + 300 : deadline + 300,
        ]),
      ]);
    } finally {
      process.kill(pid, 'SIGCONT');
    }

    // Killed: connections refused.
    await reconnected(connection);
    await server.kill();
    await checkAll(calls().map(([name, call]) => [name, call(), deadline + 300]));
    await connection.close();
    await server.stop();
  });
});

describe('producers really wait', () => {
  it('while a consumer stalls, two blocked producers issue no commands', async () => {
    const server = await startRedisServer();
    const admin = server.admin();
    const consumerConnection = await RedisConnection.connect({ redis: server.url });
    const consumer = new RedisChannel<number>({
      connection: consumerConnection,
      name: 'stall',
      capacity: 2,
    });
    await consumer.send(0);
    await consumer.send(1);
    const held = [await consumer.receive(), await consumer.receive()]; // stalled: no acks

    // Two producers, each on its own connection, as if in two processes.
    const producers = await Promise.all(
      [0, 1].map(async () => {
        const connection = await RedisConnection.connect({ redis: server.url });
        return {
          connection,
          channel: new RedisChannel<number>({ connection, name: 'stall', capacity: 2 }),
        };
      }),
    );
    const sends = producers.map((p, i) => p.channel.send(10 + i));
    await sleep(300); // each is now blocked in BLPOP

    const calls = async (): Promise<Record<string, number>> => {
      const info = await admin.info('commandstats');
      const out: Record<string, number> = {};
      for (const [, name, count] of info.matchAll(/cmdstat_([^:]+):calls=(\d+)/g)) {
        out[name as string] = Number(count);
      }
      return out;
    };
    const before = await calls();
    await sleep(1000);
    const after = await calls();
    const issued = Object.entries(after)
      .filter(([name]) => name !== 'info')
      .map(([name, count]) => [name, count - (before[name] ?? 0)] as const)
      .filter(([, delta]) => delta !== 0);
    expect(issued).toEqual([]);

    // The consumer acks: each ack lets one producer in.
    await held[0]?.ack();
    await held[1]?.ack();
    expect((await Promise.all(sends)).map((r) => r.ok)).toEqual([true, true]);
    expect(await consumer.stats()).toMatchObject({ ready: 2, waitingSenders: 0 });
    for (const p of producers) await p.connection.close();
    await consumerConnection.close();
    await server.stop();
  });
});
