/**
 * One primitive of every kind, on a ManualClock, in a known state: what both exporter tests
 * register and read.
 */
import {
  AdaptiveLimiter,
  aimd,
  broadcast,
  Channel,
  ClientThrottle,
  consume,
  FeedbackRateLimiter,
  KeyedLimiter,
  pipeline,
  Semaphore,
  stage,
  TokenBucket,
  WindowLimiter,
} from '../../src/index.js';
import type { SluiceSources } from '../../src/metrics/prometheus/index.js';
import { ManualClock } from '../../src/testing/index.js';

export interface Fixture {
  readonly clock: ManualClock;
  readonly jobs: Channel<number>;
  readonly bucket: TokenBucket;
  readonly sources: SluiceSources;
}

/**
 * - channel `jobs` (capacity 2, drop-newest): 3 sent, 1 dropped as overflow;
 * - limiter `api` (10/s, burst 5): 5 tokens granted in one request, 1 refused; `quota`
 *   (window, 3 per second); `feedback` (AIMD, 4/s);
 * - semaphore `db` (2): 1 held; adaptive `backend` (AIMD, limit 4, partitions a, b): 1 held in a;
 * - keyed `perUser`: 2 keys; throttle `upstream`: 2 requests, 1 accepted;
 * - pool `workers`: 3 items handled; pipeline `doubler`: 3 items through 2 stages;
 * - broadcast `prices`: 1 subscriber, 2 items delivered.
 */
export async function fixture(): Promise<Fixture> {
  const clock = new ManualClock();
  const jobs = new Channel<number>({ capacity: 2, overflow: 'drop-newest', clock });
  for (const n of [1, 2, 3]) jobs.trySend(n);

  const bucket = new TokenBucket({ rate: 10, burst: 5, clock });
  bucket.tryTake(5);
  bucket.tryTake();
  const quota = new WindowLimiter({ limit: 3, windowMs: 1000, clock });
  quota.tryTake();
  const feedback = new FeedbackRateLimiter({ algorithm: 'aimd', initialRate: 4, clock });

  const db = new Semaphore({ capacity: 2, clock });
  db.tryAcquire();
  const backend = new AdaptiveLimiter({
    algorithm: aimd({ initialLimit: 4 }),
    partitions: { a: 0.5, b: 0.5 },
    clock,
  });
  backend.tryAcquire({ partition: 'a' });

  const perUser = new KeyedLimiter<string>({
    create: () => new TokenBucket({ rate: 1, burst: 1, clock }),
  });
  perUser.tryTake('ann');
  perUser.tryTake('bob');
  const upstream = new ClientThrottle({ clock, random: () => 0.99 });
  upstream.tryRequest();
  upstream.record(true);
  upstream.tryRequest();
  upstream.record(false);

  const source = new Channel<number>({ capacity: 3, clock });
  for (const n of [1, 2, 3]) source.trySend(n);
  source.close();
  const workers = consume(source, () => {}, { concurrency: 2 });
  await workers.done;

  const doubler = pipeline([1, 2, 3])
    .through(stage((n: number) => n * 2))
    .through(stage((n: number) => n + 1))
    [Symbol.asyncIterator]();
  for await (const _ of doubler);

  const prices = broadcast<number>();
  prices.subscribe({ capacity: 4 });
  await prices.send(1);
  await prices.send(2);

  return {
    clock,
    jobs,
    bucket,
    sources: {
      channels: { jobs },
      limiters: { api: bucket, quota, feedback },
      semaphores: { db },
      adaptive: { backend },
      keyed: { perUser },
      throttles: { upstream },
      pools: { workers },
      pipelines: { doubler },
      broadcasts: { prices },
    },
  };
}
