/**
 * The README's 30-second example: a producer faster than its consumer, joined by a bounded
 * channel. The producer waits whenever five items are buffered, so memory stays bounded.
 */
import { Channel } from 'sluice';

const channel = new Channel<number>({ capacity: 5 });

const producer = (async () => {
  for (let i = 0; i < 20; i++) await channel.send(i); // waits while the buffer is full
  channel.close(); // the consumer's loop ends once the buffer is drained
})();

let total = 0;
for await (const item of channel) {
  await new Promise((resolve) => setTimeout(resolve, 1)); // a slow consumer
  total += item;
}
await producer;

console.log(`received everything: total ${total}, at most ${channel.stats().highWater} buffered`);
