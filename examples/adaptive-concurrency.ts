/**
 * An adaptive limit finding a backend's capacity: the "backend" has 4 workers and takes 5 ms
 * per request, so more than 4 requests at once only wait in its queue. The limiter starts at
 * 2, learns the unqueued latency, and settles near 4 without being told.
 */
import { AdaptiveLimiter, gradient2, Semaphore, windowed } from 'sluice';

const workers = new Semaphore({ capacity: 4 }); // the backend's 4 workers, queue in front
const backend = (): Promise<void> =>
  workers.run(() => new Promise<void>((resolve) => setTimeout(resolve, 5)));

const limits: number[] = [];
const limiter = new AdaptiveLimiter({
  algorithm: windowed(gradient2({ initialLimit: 2, rttTolerance: 1, queueSize: 1 }), {
    windowMs: 20,
    minSamples: 1,
  }),
  onLimitChange: (limit) => limits.push(limit),
});

// 32 callers with unlimited demand, for 1.5 seconds.
const end = performance.now() + 1500;
await Promise.all(
  Array.from({ length: 32 }, async () => {
    while (performance.now() < end) await limiter.run(backend);
  }),
);

const { succeeded } = limiter.stats();
console.log(`limit moved ${limits.length} times, ended at ${limiter.limit}; ${succeeded} requests`);
