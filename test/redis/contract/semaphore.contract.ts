/**
 * The semaphore contract: what the in-process `Semaphore` and the `RedisSemaphore` promise
 * alike, run against both (test/redis/semaphore.contract.test.ts), so their semantics cannot
 * drift. Real time, short waits: the Redis semaphore cannot run on a manual clock.
 *
 * Covered: capacity, waiting while full, a release waking the first waiter (first come, first
 * served), `tryAcquire` never jumping the queue, abort (also already aborted), timeout (also
 * `timeoutMs: 0`), and that a wait that ended without a permit holds nothing.
 */
import { describe, expect, it } from 'vitest';
import { TimeoutError } from '../../../src/errors.js';
import { probe } from '../../support/outcome.js';
import { sleep } from '../../support/real-time.js';
import { listeners } from '../../support/signals.js';

/** A permit as both implementations give it: `release()` may return a promise. */
export interface ContractPermit {
  release(): unknown;
}

/** The part of a semaphore the contract uses: `tryAcquire` may answer now or by a promise. */
export interface ContractSemaphore {
  tryAcquire(): ContractPermit | undefined | Promise<ContractPermit | undefined>;
  acquire(options?: {
    readonly signal?: AbortSignal | undefined;
    readonly timeoutMs?: number | undefined;
  }): Promise<ContractPermit>;
}

/** Makes a fresh, empty semaphore of `capacity` (for Redis: a new name each time). */
export type SemaphoreFactory = (capacity: number) => ContractSemaphore | Promise<ContractSemaphore>;

async function takeAll(sem: ContractSemaphore, n: number): Promise<ContractPermit[]> {
  const permits: ContractPermit[] = [];
  for (let i = 0; i < n; i++) {
    const permit = await sem.tryAcquire();
    expect(permit, `tryAcquire #${i + 1} of ${n}`).toBeDefined();
    permits.push(permit!);
  }
  return permits;
}

async function releaseAll(permits: readonly ContractPermit[]): Promise<void> {
  for (const permit of permits) await permit.release();
}

/** Exactly `capacity` slots are free: all can be taken, and one more cannot. */
async function expectAllFree(sem: ContractSemaphore, capacity: number): Promise<void> {
  const permits = await takeAll(sem, capacity);
  expect(await sem.tryAcquire()).toBeUndefined();
  await releaseAll(permits);
}

/** Waits until `predicate` holds (a settled promise is seen within a few ms). */
async function until(predicate: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(2);
  }
}

export function semaphoreContract(name: string, factory: SemaphoreFactory): void {
  describe(`semaphore contract: ${name}`, () => {
    it('admits capacity holders, then refuses; a release frees a slot', async () => {
      const sem = await factory(3);
      const permits = await takeAll(sem, 3);
      expect(await sem.tryAcquire()).toBeUndefined();
      await permits[1]!.release();
      const again = await sem.tryAcquire();
      expect(again).toBeDefined();
      expect(await sem.tryAcquire()).toBeUndefined();
      await releaseAll([permits[0]!, permits[2]!, again!]);
      await expectAllFree(sem, 3);
    });

    it('acquire waits while full and resolves when a slot is released', async () => {
      const sem = await factory(1);
      const [held] = await takeAll(sem, 1);
      const waiter = probe(sem.acquire());
      await sleep(60);
      expect(waiter.status).toBe('pending');
      await held!.release();
      await until(() => waiter.status !== 'pending');
      expect(waiter.status).toBe('fulfilled');
      expect(await sem.tryAcquire()).toBeUndefined();
      await waiter.value!.release();
      await expectAllFree(sem, 1);
    });

    it('releases wake waiters first come, first served', async () => {
      const sem = await factory(1);
      const [held] = await takeAll(sem, 1);
      const order: number[] = [];
      const waits = [1, 2, 3, 4].map((n) =>
        sem.acquire().then(async (permit) => {
          order.push(n);
          await sleep(5);
          await permit.release();
        }),
      );
      await sleep(30);
      expect(order).toEqual([]);
      await held!.release();
      await Promise.all(waits);
      expect(order).toEqual([1, 2, 3, 4]);
      await expectAllFree(sem, 1);
    });

    it('tryAcquire never jumps the queue: a freed slot goes to the waiter', async () => {
      const sem = await factory(1);
      const [held] = await takeAll(sem, 1);
      const waiter = probe(sem.acquire());
      await sleep(20);
      const released = held!.release();
      const jumper = await sem.tryAcquire();
      await released;
      expect(jumper).toBeUndefined();
      await until(() => waiter.status !== 'pending');
      expect(waiter.status).toBe('fulfilled');
      await waiter.value!.release();
      await expectAllFree(sem, 1);
    });

    it('abort: rejects with signal.reason untouched, holds nothing, removes its listener', async () => {
      const sem = await factory(2);
      const held = await takeAll(sem, 2);
      const controller = new AbortController();
      const reason = { why: 'caller went away' };
      const waiter = probe(sem.acquire({ signal: controller.signal }));
      const behind = probe(sem.acquire());
      await sleep(30);
      expect(listeners(controller.signal)).toBe(1);
      controller.abort(reason);
      await until(() => waiter.status !== 'pending');
      expect(waiter.status).toBe('rejected');
      expect(waiter.reason).toBe(reason);
      expect(listeners(controller.signal)).toBe(0);
      // The waiter behind the aborted one is next.
      await held[0]!.release();
      await until(() => behind.status !== 'pending');
      expect(behind.status).toBe('fulfilled');
      await releaseAll([held[1]!, behind.value!]);
      await expectAllFree(sem, 2);
    });

    it('an already-aborted signal rejects at once and takes nothing, even when free', async () => {
      const sem = await factory(1);
      const reason = new Error('already gone');
      await expect(sem.acquire({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
      await expectAllFree(sem, 1);
    });

    it('timeout: rejects with a TimeoutError after timeoutMs and holds nothing', async () => {
      const sem = await factory(1);
      const [held] = await takeAll(sem, 1);
      const started = Date.now();
      const error = await sem.acquire({ timeoutMs: 80 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      const waited = Date.now() - started;
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as TimeoutError).timeoutMs).toBe(80);
      expect(waited).toBeGreaterThanOrEqual(75);
      expect(waited).toBeLessThan(1000);
      await held!.release();
      await expectAllFree(sem, 1);
    });

    it('timeoutMs 0: a permit if free now, else a TimeoutError at once', async () => {
      const sem = await factory(1);
      const permit = await sem.acquire({ timeoutMs: 0 });
      await expect(sem.acquire({ timeoutMs: 0 })).rejects.toBeInstanceOf(TimeoutError);
      await permit.release();
      await expectAllFree(sem, 1);
    });

    it('many waiters over a small capacity: every one is served, never more than capacity', async () => {
      const sem = await factory(3);
      let inUse = 0;
      let peak = 0;
      let served = 0;
      await Promise.all(
        Array.from({ length: 24 }, async () => {
          const permit = await sem.acquire();
          inUse++;
          peak = Math.max(peak, inUse);
          await sleep(3);
          inUse--;
          served++;
          await permit.release();
        }),
      );
      expect(served).toBe(24);
      expect(peak).toBeLessThanOrEqual(3);
      await expectAllFree(sem, 3);
    });
  });
}
