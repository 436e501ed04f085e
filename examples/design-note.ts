/**
 * The design note's programs, rewritten with sluice (`npm start`).
 *
 * They run on a virtual clock (ManualClock), so the 100 ms and 300 ms sleeps of the original
 * Go programs take no real time and every run prints the same timeline.
 *
 * 1. A bounded channel: a producer every 100 ms, a consumer taking 300 ms per item, capacity 5.
 *    The producer waits whenever the buffer is full, so it slows to the consumer's pace.
 * 2. A queue that decouples them, with priorities: every third item is urgent. The queue
 *    holds 5; when it is full the least urgent (oldest among equals) is evicted — an urgent
 *    item is never lost for a routine one — and every eviction is reported. The consumer waits
 *    for items instead of polling, takes urgent ones first, and stops when the producer closes
 *    the channel.
 * 3. Rate limiting: a token bucket of 5 refilled one token every 200 ms, and a producer trying
 *    every 100 ms. With `tryTake` (the original program) an attempt without a token is
 *    skipped; with `take` the producer waits for its token, so nothing is skipped and the
 *    pace settles at one item per 200 ms. No goroutine refills the bucket: it is computed
 *    from the time elapsed.
 */
import { Channel, perInterval, TokenBucket } from 'sluice';
import { ManualClock } from 'sluice/testing';

async function boundedChannel(items: number): Promise<void> {
  const clock = new ManualClock(); // each program starts at 0 ms
  const sleep = (ms: number) => new Promise<void>((resolve) => clock.setTimer(resolve, ms));
  const log = (who: string, message: string) =>
    console.log(`${String(clock.now()).padStart(6)} ms  ${who.padEnd(9)} ${message}`);
  const channel = new Channel<number>({ capacity: 5 }); // overflow: 'block'
  const received: number[] = [];
  let blockedMs = 0;

  const producer = async () => {
    for (let i = 0; i < items; i++) {
      log('producer', `producing ${i}`);
      const started = clock.now();
      await channel.send(i); // waits while 5 items are buffered
      const waited = clock.now() - started;
      blockedMs += waited;
      if (waited > 0) log('producer', `sent ${i} after waiting ${waited} ms for room`);
      await sleep(100);
    }
    channel.close();
    log('producer', 'done, channel closed');
  };

  const consumer = async () => {
    for await (const item of channel) {
      log('consumer', `consuming ${item}  (${channel.size} buffered)`);
      received.push(item);
      await sleep(300);
    }
    log('consumer', 'channel closed and drained: done');
  };

  const done = Promise.all([producer(), consumer()]);
  await clock.runAllAsync(); // fires every sleep in order, letting awaits run in between
  await done;
  const stats = channel.stats();
  console.log(
    `\n  received all ${received.length} [${received.join(', ')}]; the producer waited` +
      ` ${blockedMs} ms in all, slowing to the consumer's pace; at most ${stats.highWater} buffered.\n`,
  );
}

interface Job {
  readonly id: number;
  readonly urgent: boolean;
}

async function priorityQueue(items: number): Promise<void> {
  const clock = new ManualClock();
  const sleep = (ms: number) => new Promise<void>((resolve) => clock.setTimer(resolve, ms));
  const log = (who: string, message: string) =>
    console.log(`${String(clock.now()).padStart(6)} ms  ${who.padEnd(9)} ${message}`);
  const name = (job: Job) => `${job.id}${job.urgent ? ' (urgent)' : ''}`;
  const dropped: Job[] = [];
  const queue = new Channel<Job>({
    capacity: 5,
    overflow: 'drop-lowest',
    priority: (job) => (job.urgent ? 1 : 0),
    onDrop: (job, reason) => {
      dropped.push(job);
      log('queue', `dropped ${name(job)} (${reason})`);
    },
  });
  const received: Job[] = [];
  const producer = async () => {
    for (let id = 0; id < items; id++) {
      const job = { id, urgent: id % 3 === 0 };
      queue.trySend(job); // never waits: a full queue drops its least urgent job
      log('producer', `enqueued ${name(job)}`);
      await sleep(100);
    }
    queue.close();
    log('producer', 'done, queue closed');
  };
  const consumer = async () => {
    for await (const job of queue) {
      log('consumer', `handling ${name(job)}  (${queue.size} waiting)`);
      received.push(job);
      await sleep(300);
    }
    log('consumer', 'queue closed and drained: done');
  };
  const done = Promise.all([producer(), consumer()]);
  await clock.runAllAsync();
  await done;
  const urgentLost = dropped.filter((job) => job.urgent).length;
  console.log(
    `\n  handled ${received.length}, dropped ${dropped.length} (${urgentLost} of them urgent);` +
      ` every job accounted for: ${received.length} + ${dropped.length} = ${items}.\n`,
  );
}

async function rateLimited(mode: 'tryTake' | 'take', items: number): Promise<void> {
  const clock = new ManualClock();
  const sleep = (ms: number) => new Promise<void>((resolve) => clock.setTimer(resolve, ms));
  const log = (message: string) => console.log(`${String(clock.now()).padStart(6)} ms  ${message}`);
  const bucket = new TokenBucket({ rate: perInterval(1, 200), burst: 5, clock });
  let produced = 0;
  let skipped = 0;
  const producer = async () => {
    for (let i = 0; i < items; i++) {
      if (mode === 'take') {
        await bucket.take();
        log(`produced item ${i}`);
        produced++;
      } else if (bucket.tryTake().ok) {
        log(`produced item ${i}`);
        produced++;
      } else {
        log(`rate limit hit: item ${i} skipped`);
        skipped++;
      }
      await sleep(100);
    }
  };
  const done = producer();
  await clock.runAllAsync();
  await done;
  console.log(
    `\n  ${produced} produced, ${skipped} skipped in ${clock.now()} ms; the bucket holds no timer now` +
      ` (${clock.pendingTimers} pending).\n`,
  );
}

console.log('1. Bounded channel (capacity 5, block): the producer waits when the buffer is full\n');
await boundedChannel(10);
console.log(
  '2. Priority queue (capacity 5, drop-lowest): urgent items first, the least urgent dropped\n',
);
await priorityQueue(20);
console.log(
  '3a. Token bucket (5, one token per 200 ms), tryTake: attempts without a token are skipped\n',
);
await rateLimited('tryTake', 20);
console.log(
  '3b. The same bucket with take: the producer waits for each token, nothing is skipped\n',
);
await rateLimited('take', 20);
