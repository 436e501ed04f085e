/**
 * Adaptive-concurrency overhead, in ONE mitata run, reported as ratios within that run: what
 * `AdaptiveLimiter.run(fn)` costs per request against the in-process `Semaphore.run(fn)`,
 * p-limit, and a hand-written counter with a FIFO of resolvers (the floor: no clock, no
 * algorithm, no options, no cancellation).
 *
 * Each iteration: 64 callers, each `await`ing `run(fn)` 100 times in a row (6,400 requests), fn
 * a trivial async function (`async () => 1`). Two limits:
 * - **16** (contended): 48 callers wait at any time, so every request goes through the wait
 *   path (a promise parked, then handed the freed place);
 * - **64** (uncontended): every caller finds room at once (the fast path).
 * The adaptive limiter runs `gradient2()` with minLimit = maxLimit = the limit: the algorithm
 * updates on every request (its whole cost is measured), but the limit cannot drift, so all
 * contenders admit the same concurrency. It also reads the clock twice per request (grant and
 * settle), which the others do not: that is part of what it costs.
 *
 * Only one algorithm and one clock run in this process: a second kind of either (tried: a clock
 * whose `now()` answers 0, an algorithm that does nothing) makes the limiter's calls to them
 * polymorphic and slowed every adaptive variant by ~1.8× in the same run, the real one included.
 *
 * Target: AdaptiveLimiter.run within 1.5× of Semaphore.run. sluice runs in two windows per group
 * (first and last, seconds apart); the better counts.
 *
 * Run: `npm --prefix bench run bench:adaptive` (needs `dist/` built: `npm run build` at the root).
 */
import { loadavg } from 'node:os';
import { bench, group, run, summary } from 'mitata';
import pLimit from 'p-limit';
import { AdaptiveLimiter, gradient2, Semaphore } from '../dist/index.js';

const CALLERS = 64;
const PER_CALLER = 100;
const REQUESTS = CALLERS * PER_CALLER;
const LIMITS = [16, 64] as const;
const SECOND = '(2nd window)';

/** The work: a trivial async function. */
const fn = async (): Promise<number> => 1;

/** Anything with `run(fn)`: what each caller loops on. */
type Runner = (task: () => Promise<number>) => Promise<number>;

/** 64 callers, each running PER_CALLER requests one after another; answers the sum. */
async function drive(runTask: Runner): Promise<number> {
  let sum = 0;
  const caller = async (): Promise<void> => {
    for (let i = 0; i < PER_CALLER; i++) {
      const value = await runTask(fn); // not `sum += await …`: that reads `sum` before waiting
      sum += value;
    }
  };
  const callers: Promise<void>[] = [];
  for (let c = 0; c < CALLERS; c++) callers.push(caller());
  await Promise.all(callers);
  return sum;
}

/** The floor: a counter and a FIFO of resolvers; a settling request hands its place on. */
function counter(limit: number): Runner {
  let active = 0;
  let waiting: (() => void)[] = [];
  let head = 0;
  return async (task) => {
    if (active < limit) active++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = waiting[head];
      if (next === undefined) active--;
      else {
        waiting[head++] = undefined as unknown as () => void;
        if (head === waiting.length) {
          waiting = [];
          head = 0;
        }
        next(); // the place passes to the next waiter: `active` is unchanged
      }
    }
  };
}

const contenders = (limit: number): readonly (readonly [string, () => Runner])[] => [
  [
    'sluice AdaptiveLimiter.run (gradient2)',
    () => {
      const limiter = new AdaptiveLimiter({
        algorithm: gradient2({ initialLimit: limit, minLimit: limit, maxLimit: limit }),
      });
      return (task) => limiter.run(task);
    },
  ],
  [
    'sluice Semaphore.run',
    () => {
      const semaphore = new Semaphore({ capacity: limit });
      return (task) => semaphore.run(task);
    },
  ],
  [
    'p-limit',
    () => {
      const limited = pLimit(limit);
      return (task) => limited(task);
    },
  ],
  ['hand-written counter', () => counter(limit)],
];

const ADAPTIVE = 'sluice AdaptiveLimiter.run (gradient2)';
const SEMAPHORE = 'sluice Semaphore.run';
const name = (contender: string, limit: number): string => `${contender} · limit ${limit}`;

// Check every contender before measuring: every request ran, and none above the limit.
for (const limit of LIMITS) {
  for (const [contender, make] of contenders(limit)) {
    let inside = 0;
    let most = 0;
    const runner = make();
    const sum = await drive((task) =>
      runner(async () => {
        most = Math.max(most, ++inside);
        try {
          return await task();
        } finally {
          inside--;
        }
      }),
    );
    if (sum !== REQUESTS || most > limit) {
      throw new Error(`${name(contender, limit)}: sum ${sum} (want ${REQUESTS}), at most ${most}`);
    }
  }
}

for (const limit of LIMITS) {
  const list = contenders(limit);
  group(`${CALLERS} callers × ${PER_CALLER} requests · limit ${limit}`, () => {
    summary(() => {
      for (const [contender, make] of list) {
        // A fresh limiter per iteration: no state carries over between samples.
        bench(name(contender, limit), () => drive(make()));
      }
      for (const [contender, make] of list.slice(0, 2)) {
        bench(`${name(contender, limit)} ${SECOND}`, () => drive(make()));
      }
    });
  });
}

const result = await run();
const min = (alias: string): number => {
  const stats = result.benchmarks.find((b) => b.alias === alias)?.runs[0]?.stats;
  if (stats === undefined) throw new Error(`no result for ${alias}`);
  return stats.min;
};
/** The better of sluice's two windows. */
const best = (alias: string): number => Math.min(min(alias), min(`${alias} ${SECOND}`));
const perRequest = (ns: number): string => `${(ns / REQUESTS).toFixed(0)} ns`;

console.log(
  `\n## Adaptive concurrency (${CALLERS} callers × ${PER_CALLER}; load average ${(loadavg()[0] ?? 0).toFixed(1)})\n`,
);
console.log(
  '| limit | AdaptiveLimiter ÷ Semaphore | ÷ p-limit | ÷ hand-written counter | per request (drifts): adaptive / semaphore / p-limit / counter | target ≤ 1.5× Semaphore |',
);
console.log('|---:|---:|---:|---:|---|---|');
for (const limit of LIMITS) {
  const adaptive = best(name(ADAPTIVE, limit));
  const semaphore = best(name(SEMAPHORE, limit));
  const plimit = min(name('p-limit', limit));
  const hand = min(name('hand-written counter', limit));
  const ratio = adaptive / semaphore;
  console.log(
    `| ${limit} | ${ratio.toFixed(2)}× | ${(adaptive / plimit).toFixed(2)}× | ${(adaptive / hand).toFixed(2)}× | ${perRequest(adaptive)} / ${perRequest(semaphore)} / ${perRequest(plimit)} / ${perRequest(hand)} | ${ratio <= 1.5 ? 'met' : '**missed**'} |`,
  );
}
console.log(`\nload average at the end: ${(loadavg()[0] ?? 0).toFixed(1)}`);
