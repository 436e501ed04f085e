/**
 * The contenders of the rate-limiter benchmarks: sluice's `TokenBucket`, the hand-written
 * lazy-refill bucket (bench/baselines/lazy-bucket.ts) and four peers, each driven through its own
 * idiomatic API (read from its typings and source in node_modules).
 *
 * - `decision`: a limiter with so many tokens that every call succeeds, and a loop of `calls`
 *   decisions (the synchronous check-and-take where the library has one) returning how many
 *   were granted. A library with no such call gives the reason instead (`unsupported`).
 * - `paced`: a limiter of burst 1 at `rate` per second, and `take()`, the library's way to wait
 *   for one grant (what `await bucket.take()` is in sluice); `close()` frees its timers.
 *
 * Each contender has its own loop, so no call site is shared (and made megamorphic) across
 * implementations.
 */
import Bottleneck from 'bottleneck';
import { TokenBucket as LimiterBucket, RateLimiter } from 'limiter';
import pThrottle from 'p-throttle';
import { RateLimiterMemory, RateLimiterQueue } from 'rate-limiter-flexible';
import { TokenBucket } from '../dist/index.js';
import { LazyBucket } from './baselines/lazy-bucket.js';

/** Rate (per second) and burst of the "ample tokens" decision benchmarks: never runs dry. */
export const AMPLE = 1e9;

export interface DecisionContender {
  readonly name: string;
  /** Why the library has no decision to measure; otherwise `make` is set. */
  readonly unsupported?: string;
  /** True when each decision is a promise (awaited one after another). */
  readonly async?: boolean;
  /** A fresh limiter with ample tokens, and a loop of `calls` decisions (returns grants). */
  readonly make?: () => (calls: number) => number | Promise<number>;
}

export interface Paced {
  /** Resolves when one token is granted to this caller. */
  take(): Promise<unknown>;
  /** Frees the limiter's timers once every caller has stopped. */
  close(): void | Promise<void>;
}

export interface PacedContender {
  readonly name: string;
  /** How the library is configured for burst 1 at `rate` per second (for the report). */
  config(rate: number): string;
  /** A fresh limiter of burst 1 at `rate` per second. */
  make(rate: number): Paced;
}

// ---- decision cost ---------------------------------------------------------------------------

export const sluiceDecision: DecisionContender = {
  name: 'sluice TokenBucket.tryTake',
  make() {
    const bucket = new TokenBucket({ rate: AMPLE, burst: AMPLE });
    return (calls) => {
      let ok = 0;
      for (let i = 0; i < calls; i++) if (bucket.tryTake().ok) ok++;
      return ok;
    };
  },
};

export const lazyDecision: DecisionContender = {
  name: 'hand-written lazy bucket',
  make() {
    const bucket = new LazyBucket(AMPLE, AMPLE);
    return (calls) => {
      let ok = 0;
      for (let i = 0; i < calls; i++) if (bucket.tryTake()) ok++;
      return ok;
    };
  },
};

export const decisionContenders: readonly DecisionContender[] = [
  sluiceDecision,
  lazyDecision,
  {
    name: 'limiter TokenBucket.tryRemoveTokens',
    make() {
      const bucket = new LimiterBucket({
        bucketSize: AMPLE,
        tokensPerInterval: AMPLE,
        interval: 'second',
      });
      bucket.content = AMPLE; // a standalone limiter bucket starts empty
      return (calls) => {
        let ok = 0;
        for (let i = 0; i < calls; i++) if (bucket.tryRemoveTokens(1)) ok++;
        return ok;
      };
    },
  },
  {
    name: 'limiter RateLimiter.tryRemoveTokens',
    make() {
      const limiter = new RateLimiter({ tokensPerInterval: AMPLE, interval: 'second' });
      return (calls) => {
        let ok = 0;
        for (let i = 0; i < calls; i++) if (limiter.tryRemoveTokens(1)) ok++;
        return ok;
      };
    },
  },
  {
    name: 'rate-limiter-flexible RateLimiterMemory.consume (async)',
    async: true,
    make() {
      // A fixed window of `duration` seconds; `consume` always returns a promise (it rejects,
      // with a RateLimiterRes, when the points are used up). Points: far more than a run uses.
      const limiter = new RateLimiterMemory({ points: 1e15, duration: 1 });
      return async (calls) => {
        let ok = 0;
        for (let i = 0; i < calls; i++) {
          await limiter.consume('k');
          ok++;
        }
        return ok;
      };
    },
  },
  {
    name: 'bottleneck',
    unsupported:
      'no synchronous check: `check()` returns a promise settled after a `setTimeout(0)` in its datastore, and takes nothing',
  },
  {
    name: 'p-throttle',
    unsupported: 'no check at all: a throttled call always returns a promise, delayed by a timer',
  },
];

// ---- achieved rate ---------------------------------------------------------------------------

const noop = (): void => {};
const resolvedTask = (): Promise<void> => Promise.resolve();

function ms(value: number): string {
  return `${Number(value.toPrecision(3))}`;
}

export const pacedContenders: readonly PacedContender[] = [
  {
    name: 'sluice TokenBucket',
    config: (rate) => `\`new TokenBucket({ rate: ${rate}, burst: 1 })\`, \`await take()\``,
    make(rate) {
      const bucket = new TokenBucket({ rate, burst: 1 });
      return { take: () => bucket.take(), close: noop };
    },
  },
  {
    name: 'limiter RateLimiter',
    config: (rate) =>
      `\`new RateLimiter({ tokensPerInterval: 1, interval: ${ms(1000 / rate)} })\`, \`await removeTokens(1)\``,
    make(rate) {
      const limiter = new RateLimiter({ tokensPerInterval: 1, interval: 1000 / rate });
      return { take: () => limiter.removeTokens(1), close: noop };
    },
  },
  {
    name: 'bottleneck',
    config: (rate) =>
      `\`new Bottleneck({ maxConcurrent: null, minTime: ${ms(1000 / rate)} })\`, \`await schedule(task)\``,
    make(rate) {
      const limiter = new Bottleneck({ maxConcurrent: null, minTime: 1000 / rate });
      return {
        take: () => limiter.schedule(resolvedTask),
        close: () => limiter.disconnect(),
      };
    },
  },
  {
    name: 'rate-limiter-flexible',
    config: (rate) =>
      `\`new RateLimiterQueue(new RateLimiterMemory({ points: 1, duration: ${ms(1 / rate)} }))\`, \`await removeTokens(1)\``,
    make(rate) {
      const queue = new RateLimiterQueue(new RateLimiterMemory({ points: 1, duration: 1 / rate }));
      return { take: () => queue.removeTokens(1), close: noop };
    },
  },
  {
    name: 'p-throttle',
    config: (rate) =>
      `\`pThrottle({ limit: 1, interval: ${ms(1000 / rate)} })(fn)\`, \`await throttled()\``,
    make(rate) {
      const throttled = pThrottle({ limit: 1, interval: 1000 / rate })(noop);
      // Its typings give a throttled call `fn`'s return type; it always returns a promise.
      return { take: () => throttled() as unknown as Promise<void>, close: noop };
    },
  },
];
