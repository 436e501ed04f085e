/**
 * Redis rate-limiter benchmarks: sluice's `RedisRateLimiter` (GCRA, one Lua script per
 * decision on Redis's clock) against rate-limiter-flexible's `RateLimiterRedis` (a fixed window:
 * SET NX + INCRBY + PTTL in one Lua script) and against a bare EVALSHA round trip of a trivial
 * script (`return 1`), all in ONE run against the same Redis, followed by RATIOS from that run.
 *
 * Measures decisions per second with 1 caller (each call awaited before the next: one round
 * trip per decision) and with 64 concurrent callers on one connection (round trips overlap;
 * the CPU of Redis and of the client bound it), in two states of the limit:
 * - ample: every call granted (sluice rate 10⁶/s, burst 10⁹; rate-limiter-flexible 10⁹ points
 *   per second) — each library's common path, and the issue's target;
 * - exhausted: every call refused (sluice rate 0.001/s, burst 1, taken; rate-limiter-flexible 1
 *   point per 600 s, consumed) — a limit under attack.
 * Contenders: sluice `tryTake()` and `take()` on a `RedisConnection` (ioredis with a command
 * deadline and no offline queue); rate-limiter-flexible `consume(key)` on its own ioredis client
 * set up as its docs advise (`enableOfflineQueue: false`); bare EVALSHA of `return 1` through
 * sluice's `RedisConnection.run` (the floor for sluice's client settings) and through a plain
 * ioredis client (the floor for any library).
 *
 * Method: mitata measures one contender in one window, which on a shared machine (other
 * processes, and Redis itself, on the same cores) lets a change of load between windows pass
 * for a difference between libraries. Here every round runs every contender once, in an order
 * rotated from round to round, and each ratio is the median over rounds of the ratio within a
 * round (paired), beside the median throughput. Server-side cost per call comes from Redis's
 * INFO commandstats (EVALSHA µs per call), read around each contender in a separate pass.
 * Target: sluice `tryTake` ≥ rate-limiter-flexible (ample, 1 and 64 callers).
 *
 * Run: `npm --prefix bench run bench:redis-limit` (needs `dist/` built, at least `npx tsc -p
 * tsconfig.build.redis.json` at the root; ~40 s). Redis: `REDIS_URL`, default
 * `redis://127.0.0.1:6379`; keys under `sluice-bench*`, deleted at the end. The commandstats
 * pass runs CONFIG RESETSTAT on that Redis: point it at a Redis of your own.
 */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { RedisConnection, RedisRateLimiter, Script } from '../dist/redis/index.js';

const { REDIS_URL: redisUrl } = process.env;
const REDIS_URL = redisUrl ?? 'redis://127.0.0.1:6379';
const ROUNDS = 15;
/** Decisions per contender per round with one caller. */
const SERIAL_CALLS = 1_500;
/** Concurrent callers, and decisions each makes per round. */
const CALLERS = 64;
const CALLS_EACH = 60;
/** EVALSHA calls per contender in the commandstats pass. */
const STAT_CALLS = 10_000;

const connection = await RedisConnection.connect({ redis: REDIS_URL, onWarning: () => {} });
const plain = new Redis(REDIS_URL, { enableOfflineQueue: false });
const rlfClient = new Redis(REDIS_URL, { enableOfflineQueue: false });
await Promise.all([
  new Promise((resolve) => plain.once('ready', resolve)),
  new Promise((resolve) => rlfClient.once('ready', resolve)),
]);
const serverVersion = /redis_version:(\S+)/.exec(await plain.info('server'))?.[1] ?? '?';

const ample = new RedisRateLimiter({ connection, name: 'sluice-bench', rate: 1e6, burst: 1e9 });
const exhausted = new RedisRateLimiter({
  connection,
  name: 'sluice-bench-x',
  rate: 0.001,
  burst: 1,
});
const rlfAmple = new RateLimiterRedis({
  storeClient: rlfClient,
  keyPrefix: 'sluice-bench-rlf',
  points: 1e9,
  duration: 1,
});
const rlfExhausted = new RateLimiterRedis({
  storeClient: rlfClient,
  keyPrefix: 'sluice-bench-rlfx',
  points: 1,
  duration: 600,
});
const ONE = new Script('return 1');
const oneSha = (await plain.script('LOAD', 'return 1')) as string;

/** One decision (or round trip): resolves true when granted. */
type Decide = () => Promise<boolean>;

interface Contender {
  readonly name: string;
  readonly decide: Decide;
  /** What every call must return (checked on every call of every round). */
  readonly expect: boolean;
  /** Runs a script through EVALSHA (so INFO commandstats counts its server time). */
  readonly evalsha: boolean;
}

async function rlfConsume(limiter: RateLimiterRedis): Promise<boolean> {
  try {
    await limiter.consume('k');
    return true;
  } catch (error) {
    if (error instanceof RateLimiterRes) return false; // its way of refusing
    throw error;
  }
}

const contenders = {
  sluiceTry: {
    name: 'sluice tryTake',
    decide: async () => (await ample.tryTake()).ok,
    expect: true,
    evalsha: true,
  },
  sluiceTake: {
    name: 'sluice take',
    decide: async () => {
      await ample.take();
      return true;
    },
    expect: true,
    evalsha: true,
  },
  rlf: {
    name: 'rate-limiter-flexible consume',
    decide: () => rlfConsume(rlfAmple),
    expect: true,
    evalsha: true,
  },
  sluiceRefused: {
    name: 'sluice tryTake, exhausted',
    decide: async () => (await exhausted.tryTake()).ok,
    expect: false,
    evalsha: true,
  },
  rlfRefused: {
    name: 'rate-limiter-flexible consume, exhausted',
    decide: () => rlfConsume(rlfExhausted),
    expect: false,
    evalsha: true,
  },
  bareSluice: {
    name: 'bare EVALSHA via sluice RedisConnection.run',
    decide: async () => (await connection.run(ONE, [], [])) === 1,
    expect: true,
    evalsha: true,
  },
  barePlain: {
    name: 'bare EVALSHA via plain ioredis',
    decide: async () => (await plain.evalsha(oneSha, 0)) === 1,
    expect: true,
    evalsha: true,
  },
} satisfies Record<string, Contender>;
const all: Contender[] = Object.values(contenders);

async function serial(c: Contender, calls: number): Promise<void> {
  for (let i = 0; i < calls; i++) {
    if ((await c.decide()) !== c.expect) throw new Error(`${c.name}: a call returned ${!c.expect}`);
  }
}

/** Decisions per second of `c` with `callers` concurrent callers. */
async function measure(c: Contender, callers: number): Promise<number> {
  const each = callers === 1 ? SERIAL_CALLS : CALLS_EACH;
  const start = performance.now();
  await Promise.all(Array.from({ length: callers }, () => serial(c, each)));
  return (callers * each * 1000) / (performance.now() - start);
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** Server time per EVALSHA of each contender, in µs (one caller, STAT_CALLS calls). */
async function serverCost(): Promise<Map<Contender, number>> {
  const cost = new Map<Contender, number>();
  for (const c of all) {
    await plain.config('RESETSTAT');
    await serial(c, STAT_CALLS);
    const stats = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(await plain.info('commandstats'));
    if (stats !== null) cost.set(c, Number(stats[2]) / Number(stats[1]));
  }
  return cost;
}

async function main(): Promise<void> {
  const started = Date.now();
  const loadAtStart = loadavg()[0] ?? 0;
  await exhausted.tryTake(); // take its one token
  await rlfConsume(rlfExhausted);
  process.stdout.write('warming up and checking every call of every contender… ');
  for (const c of all) await measure(c, CALLERS);
  console.log('ok');

  /** throughput[callers][contender] = decisions/s per round */
  const throughput = new Map<number, Map<Contender, number[]>>();
  for (const callers of [1, CALLERS]) {
    throughput.set(callers, new Map(all.map((c) => [c, []])));
  }
  for (let round = 0; round < ROUNDS; round++) {
    const order = all.map((_, i) => all[(i + round) % all.length]!);
    for (const callers of [1, CALLERS]) {
      for (const c of order)
        throughput
          .get(callers)!
          .get(c)!
          .push(await measure(c, callers));
    }
    process.stdout.write(`\rround ${round + 1} of ${ROUNDS}`);
  }
  console.log('');
  const cost = await serverCost();
  const failures = ample.stats().failures + exhausted.stats().failures;
  if (failures > 0) throw new Error(`sluice saw ${failures} Redis failures`);

  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {}
  const context = `Whole run ${seconds} s on ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}, Redis ${serverVersion} at ${REDIS_URL} (same machine), sluice at ${commit}; ${ROUNDS} rounds; 1-min load average ${loadAtStart.toFixed(1)} at the start, ${(loadavg()[0] ?? 0).toFixed(1)} at the end.`;
  console.log(summarise(throughput, cost, context));

  await plain.del(ample.key, exhausted.key, 'sluice-bench-rlf:k', 'sluice-bench-rlfx:k');
  plain.disconnect();
  rlfClient.disconnect();
  await connection.close();
}

const kps = (perSecond: number): string => `${(perSecond / 1000).toFixed(1)} k/s`;
const times = (r: number): string => `${r.toFixed(2)}×`;

function summarise(
  throughput: Map<number, Map<Contender, number[]>>,
  cost: Map<Contender, number>,
  context: string,
): string {
  const runs = (callers: number, c: Contender): number[] => throughput.get(callers)!.get(c)!;
  /** Median over rounds of a's throughput ÷ b's in the same round. */
  const paired = (callers: number, a: Contender, b: Contender): number => {
    const xs = runs(callers, a);
    const ys = runs(callers, b);
    return median(xs.map((x, i) => x / ys[i]!));
  };
  const out: string[] = ['', '## Redis rate limiter: ratios from this run', '', context, ''];
  out.push(
    'Decisions per second, median over rounds (min – max), and Redis server time per EVALSHA',
    '(INFO commandstats, one caller).',
    '',
    `| contender | 1 caller | ${CALLERS} callers | server µs/call |`,
    '|---|---:|---:|---:|',
  );
  for (const c of all) {
    const cell = (callers: number): string => {
      const xs = runs(callers, c);
      return `${kps(median(xs))} (${kps(Math.min(...xs))} – ${kps(Math.max(...xs))})`;
    };
    const us = cost.get(c);
    out.push(
      `| ${c.name} | ${cell(1)} | ${cell(CALLERS)} | ${us === undefined ? '–' : us.toFixed(2)} |`,
    );
  }
  out.push(
    '',
    'Ratios: the median over rounds of the ratio within each round (> 1: the first is faster).',
    '',
    `| ratio | 1 caller | ${CALLERS} callers |`,
    '|---|---:|---:|',
  );
  const k = contenders;
  const ratios: [string, Contender, Contender][] = [
    ['sluice tryTake ÷ rate-limiter-flexible (ample)', k.sluiceTry, k.rlf],
    ['sluice take ÷ rate-limiter-flexible (ample)', k.sluiceTake, k.rlf],
    ['sluice tryTake ÷ rate-limiter-flexible (exhausted)', k.sluiceRefused, k.rlfRefused],
    ['sluice tryTake ÷ bare EVALSHA, same client', k.sluiceTry, k.bareSluice],
    ['rate-limiter-flexible ÷ bare EVALSHA, plain ioredis', k.rlf, k.barePlain],
    ['bare EVALSHA: sluice client ÷ plain ioredis', k.bareSluice, k.barePlain],
  ];
  for (const [label, a, b] of ratios) {
    out.push(`| ${label} | ${times(paired(1, a, b))} | ${times(paired(CALLERS, a, b))} |`);
  }
  out.push('', '### Target', '', '| target | this run | verdict |', '|---|---:|---|');
  for (const callers of [1, CALLERS]) {
    const r = paired(callers, k.sluiceTry, k.rlf);
    const verdict =
      r >= 1
        ? `met (${((r - 1) * 100).toFixed(0)}% to spare)`
        : `**MISSED** by ${((1 - r) * 100).toFixed(0)}%`;
    out.push(
      `| sluice tryTake ≥ rate-limiter-flexible, ample, ${callers === 1 ? '1 caller' : `${CALLERS} callers`} | ${times(r)} | ${verdict} |`,
    );
  }
  return out.join('\n');
}

await main();
