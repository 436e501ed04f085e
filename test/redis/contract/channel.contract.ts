/**
 * The channel contract: what a bounded channel promises whether it lives in this process
 * (`Channel`) or in Redis (`RedisChannel`, with each received item acked at once). One suite,
 * run against each implementation by `test/redis/channel.contract.test.ts`, so the semantics
 * cannot drift: capacity, each overflow policy's result values and `onDrop` reports, FIFO
 * order, priorities, a blocking send released by a receive, and cancellation (abort and
 * timeout) of waiting sends and receives, which change nothing.
 *
 * Waits are checked in real time (a send is "still waiting" if it has not settled after a
 * short pause), so the same checks hold for a channel whose state is across a network.
 */
import { describe, expect, it } from 'vitest';
import type {
  DropReason,
  ReceiveResult,
  SendOutcome,
  SendResult,
  WaitOptions,
} from '../../../src/channel/types.js';
import { ChannelFullError, TimeoutError } from '../../../src/errors.js';
import { settledWithin } from '../../support/real-time.js';

/** The operations the contract exercises, sync or async. */
export interface ContractChannel {
  trySend(item: number): SendResult<number> | Promise<SendResult<number>>;
  send(item: number, options?: WaitOptions): Promise<SendOutcome<number>>;
  /** Takes an item for good (a Redis delivery is acked before this returns). */
  tryReceive(): ReceiveResult<number> | Promise<ReceiveResult<number>>;
  receive(options?: WaitOptions): Promise<number>;
  close(): void | Promise<void>;
}

export interface ContractOptions {
  readonly capacity: number;
  readonly overflow: 'block' | 'drop-newest' | 'drop-oldest' | 'reject';
  readonly priority?: ((item: number) => number) | undefined;
  readonly onDrop?: ((item: number, reason: DropReason) => void) | undefined;
}

export type ChannelFactory = (
  options: ContractOptions,
) => ContractChannel | Promise<ContractChannel>;

/** True if `promise` is still pending after `ms`. */
async function pendingAfter(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return !(await settledWithin(promise, ms));
}

/** The reason a promise rejected with (fails if it fulfils). */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (reason: unknown) => reason,
  );
}

/** Everything receivable now, in order. */
async function drain(ch: ContractChannel): Promise<number[]> {
  const out: number[] = [];
  for (;;) {
    const result = await ch.tryReceive();
    if (!result.ok) return out;
    out.push(result.value);
  }
}

export function channelContract(name: string, factory: ChannelFactory): void {
  describe(`channel contract: ${name}`, () => {
    const make = async (options: ContractOptions) => factory(options);

    it('holds `capacity` items; trySend then reports full and hands the item back', async () => {
      for (const overflow of ['block', 'reject'] as const) {
        const ch = await make({ capacity: 3, overflow });
        for (const i of [0, 1, 2]) expect(await ch.trySend(i)).toMatchObject({ ok: true });
        expect(await ch.trySend(3)).toEqual({ ok: false, reason: 'full', value: 3 });
        expect(await drain(ch)).toEqual([0, 1, 2]);
        expect(await ch.tryReceive()).toEqual({ ok: false, reason: 'empty' });
        await ch.close();
      }
    });

    it("'drop-newest': the incoming item is dropped, reported as 'overflow'", async () => {
      const drops: [number, DropReason][] = [];
      const ch = await make({
        capacity: 2,
        overflow: 'drop-newest',
        onDrop: (item, reason) => drops.push([item, reason]),
      });
      await ch.send(0);
      await ch.send(1);
      expect(await ch.send(2)).toEqual({ ok: false, reason: 'dropped', value: 2 });
      expect(await ch.trySend(3)).toEqual({ ok: false, reason: 'dropped', value: 3 });
      expect(drops).toEqual([
        [2, 'overflow'],
        [3, 'overflow'],
      ]);
      expect(await drain(ch)).toEqual([0, 1]);
      await ch.close();
    });

    it("'drop-oldest': the oldest item is evicted for the new one, reported as 'evicted'", async () => {
      const drops: [number, DropReason][] = [];
      const ch = await make({
        capacity: 2,
        overflow: 'drop-oldest',
        onDrop: (item, reason) => drops.push([item, reason]),
      });
      await ch.send(0);
      await ch.send(1);
      expect(await ch.send(2)).toMatchObject({ ok: true, evicted: 0 });
      expect(await ch.trySend(3)).toMatchObject({ ok: true, evicted: 1 });
      expect(drops).toEqual([
        [0, 'evicted'],
        [1, 'evicted'],
      ]);
      expect(await drain(ch)).toEqual([2, 3]);
      await ch.close();
    });

    it("'reject': send rejects with ChannelFullError carrying the item", async () => {
      const ch = await make({ capacity: 1, overflow: 'reject' });
      await ch.send(0);
      const error = (await rejectionOf(ch.send(1))) as ChannelFullError<number>;
      expect(error).toBeInstanceOf(ChannelFullError);
      expect(error.code).toBe('ERR_SLUICE_CHANNEL_FULL');
      expect(error.value).toBe(1);
      expect(await drain(ch)).toEqual([0]);
      await ch.close();
    });

    it('FIFO: items come out in the order they went in', async () => {
      const ch = await make({ capacity: 20, overflow: 'block' });
      for (let i = 0; i < 20; i++) await ch.send(i);
      expect(await drain(ch)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      await ch.close();
    });

    it('priorities: higher first, FIFO among equals', async () => {
      // The item's tens digit is its priority.
      const ch = await make({
        capacity: 10,
        overflow: 'block',
        priority: (n) => Math.floor(n / 10),
      });
      for (const n of [10, 30, 11, 20, 31, 12, 0]) await ch.send(n);
      expect(await drain(ch)).toEqual([30, 31, 20, 10, 11, 12, 0]);
      await ch.close();
    });

    it('a blocked send is released by a receive, and its item follows', async () => {
      const ch = await make({ capacity: 1, overflow: 'block' });
      await ch.send(1);
      const waiting = ch.send(2);
      expect(await pendingAfter(waiting, 100)).toBe(true);
      expect(await ch.receive()).toBe(1);
      expect(await waiting).toMatchObject({ ok: true });
      expect(await ch.receive()).toBe(2);
      await ch.close();
    });

    it('a blocked receive is released by a send', async () => {
      const ch = await make({ capacity: 1, overflow: 'block' });
      const waiting = ch.receive();
      expect(await pendingAfter(waiting, 100)).toBe(true);
      await ch.send(7);
      expect(await waiting).toBe(7);
      await ch.close();
    });

    it('a waiting send that is aborted or times out rejects; nothing was sent', async () => {
      const ch = await make({ capacity: 1, overflow: 'block' });
      await ch.send(1);
      const controller = new AbortController();
      const aborted = ch.send(2, { signal: controller.signal });
      expect(await pendingAfter(aborted, 50)).toBe(true);
      const reason = new Error('no longer needed');
      controller.abort(reason);
      expect(await rejectionOf(aborted)).toBe(reason);
      const timedOut = (await rejectionOf(ch.send(3, { timeoutMs: 50 }))) as TimeoutError<number>;
      expect(timedOut).toBeInstanceOf(TimeoutError);
      expect(timedOut.value).toBe(3);
      expect(await drain(ch)).toEqual([1]);
      await ch.close();
    });

    it('a waiting receive that is aborted or times out rejects; nothing was consumed', async () => {
      const ch = await make({ capacity: 2, overflow: 'block' });
      const controller = new AbortController();
      const aborted = ch.receive({ signal: controller.signal });
      expect(await pendingAfter(aborted, 50)).toBe(true);
      controller.abort('stop');
      expect(await rejectionOf(aborted)).toBe('stop');
      expect(await rejectionOf(ch.receive({ timeoutMs: 50 }))).toBeInstanceOf(TimeoutError);
      await ch.send(5);
      await ch.send(6);
      expect(await drain(ch)).toEqual([5, 6]);
      await ch.close();
    });

    it('an already-aborted signal rejects at once, sending and taking nothing', async () => {
      const ch = await make({ capacity: 1, overflow: 'block' });
      await ch.send(1);
      const signal = AbortSignal.abort('early');
      expect(await rejectionOf(ch.send(2, { signal }))).toBe('early');
      expect(await rejectionOf(ch.receive({ signal }))).toBe('early');
      expect(await drain(ch)).toEqual([1]);
      await ch.close();
    });
  });
}
