/**
 * One contract (test/redis/contract/channel.contract.ts), two implementations: the in-process
 * `Channel` and `RedisChannel` (a real redis-server started for this file; every received item
 * is acked at once, so "received" means the same on both), so the distributed queue keeps the
 * in-process semantics.
 */
import { Channel } from '../../src/channel/channel.js';
import type { ChannelOptions } from '../../src/channel/types.js';
import { RedisChannel } from '../../src/redis/index.js';
import { useRedis } from '../support/redis-fixture.js';
import { type ChannelFactory, channelContract } from './contract/channel.contract.js';

const fixture = useRedis();

const inProcess: ChannelFactory = (options) => {
  const ch = new Channel<number>(options as ChannelOptions<number>);
  return {
    trySend: (item) => ch.trySend(item),
    send: (item, wait) => ch.send(item, wait),
    tryReceive: () => {
      const result = ch.tryReceive();
      ch.assertInvariants();
      return result;
    },
    receive: (wait) => ch.receive(wait),
    close: () => {
      ch.assertInvariants();
      ch.close();
    },
  };
};

let names = 0;
const redis: ChannelFactory = (options) => {
  const ch = new RedisChannel<number>({
    connection: fixture.connection,
    name: `contract-${names++}`,
    ...options,
  });
  return {
    trySend: (item) => ch.trySend(item),
    send: (item, wait) => ch.send(item, wait),
    tryReceive: async () => {
      const result = await ch.tryReceive();
      if (!result.ok) return result;
      await result.value.ack();
      return { ok: true, value: result.value.item };
    },
    receive: async (wait) => {
      const delivery = await ch.receive(wait);
      await delivery.ack();
      return delivery.item;
    },
    close: () => ch.close(),
  };
};

channelContract('Channel (in-process)', inProcess);
channelContract('RedisChannel (real Redis, each item acked at once)', redis);
