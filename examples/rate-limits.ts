/**
 * Rate limits around an async function: at most 20 calls per second (bursts of 5), at most 3
 * in flight, and a caller that gives up waiting after 100 ms. Runs on the real clock in about
 * a second.
 */
import { limited, Semaphore, TimeoutError, TokenBucket } from 'sluice';

let running = 0;
let mostAtOnce = 0;
async function fakeRequest(id: number, _init?: { signal?: AbortSignal }): Promise<string> {
  running++;
  mostAtOnce = Math.max(mostAtOnce, running);
  await new Promise((resolve) => setTimeout(resolve, 30)); // the "server" takes 30 ms
  running--;
  return `response ${id}`;
}

const request = limited(fakeRequest, {
  limiter: new TokenBucket({ rate: 20, burst: 5 }),
  semaphore: new Semaphore({ capacity: 3 }),
});

const started = performance.now();
const responses = await Promise.all(Array.from({ length: 20 }, (_, id) => request(id)));
const seconds = (performance.now() - started) / 1000;
console.log(
  `${responses.length} responses in ${seconds.toFixed(2)} s (5 at once, then 20 per second),` +
    ` at most ${mostAtOnce} in flight`,
);

// A caller that will not wait long: the bucket knows the wait up front and refuses at once.
const bucket = new TokenBucket({ rate: 1, burst: 1 });
await bucket.take();
try {
  await bucket.take(1, { timeoutMs: 100 });
} catch (error) {
  if (error instanceof TimeoutError) console.log(`refused at once: ${error.message}`);
  else throw error;
}
