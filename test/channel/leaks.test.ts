/**
 * Nothing leaks (STYLE.md, "Nothing hangs, nothing leaks"): whichever way a waiting `send`,
 * `receive`, `iterate({ signal })` step or `select` ends — abort, timeout, settling normally,
 * `close()`, `destroy()` — no abort listener stays on its signal, no timer stays armed on its
 * clock, and no waiter stays on any channel.
 *
 * Timeouts run on a ManualClock, except one short real-timer check at the end that the
 * system clock's `setTimeout` is cleared when a waiter settles early.
 */
import { describe, expect, it } from 'vitest';
import {
  Channel,
  ChannelClosedError,
  onReceive,
  onSend,
  select,
  TimeoutError,
} from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { flush } from '../support/clock.js';
import { listeners } from '../support/signals.js';

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

function settle(promise: Promise<unknown>): Promise<Outcome> {
  return promise.then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error }),
  );
}

type Ending = 'abort' | 'timeout' | 'settle' | 'close' | 'destroy';
const ENDINGS: readonly Ending[] = ['abort', 'timeout', 'settle', 'close', 'destroy'];

interface Waiting {
  readonly promise: Promise<unknown>;
  /** Every channel the operation waits on. */
  readonly channels: readonly Channel<number>[];
  /** The channel whose close/destroy ends the wait. */
  readonly target: Channel<number>;
  /** Completes the operation the normal way. */
  settle(): void;
  /** Whether a timeout timer is armed while waiting. */
  readonly timed: boolean;
  /** Checks the outcome of close/destroy. */
  closed(outcome: Outcome): void;
  /** Checks the outcome of settle. */
  settled(outcome: Outcome): void;
}

const TIMEOUT_MS = 100;

const OPERATIONS: Record<
  'send' | 'receive' | 'iterate' | 'select',
  (signal: AbortSignal, clock: ManualClock) => Waiting
> = {
  send(signal, clock) {
    const ch = new Channel<number>({ capacity: 0, clock });
    return {
      promise: ch.send(7, { signal, timeoutMs: TIMEOUT_MS }),
      channels: [ch],
      target: ch,
      timed: true,
      settle: () => expect(ch.tryReceive()).toEqual({ ok: true, value: 7 }),
      settled: (o) => expect(o).toEqual({ ok: true, value: { ok: true } }),
      closed(o) {
        expect(o.ok).toBe(false);
        if (!o.ok) {
          expect(o.error).toBeInstanceOf(ChannelClosedError);
          expect(o.error).toMatchObject({ hasValue: true, value: 7 });
        }
      },
    };
  },
  receive(signal, clock) {
    const ch = new Channel<number>({ capacity: 1, clock });
    return {
      promise: ch.receive({ signal, timeoutMs: TIMEOUT_MS }),
      channels: [ch],
      target: ch,
      timed: true,
      settle: () => expect(ch.trySend(7)).toEqual({ ok: true }),
      settled: (o) => expect(o).toEqual({ ok: true, value: 7 }),
      closed(o) {
        expect(o.ok).toBe(false);
        if (!o.ok) expect(o.error).toBeInstanceOf(ChannelClosedError);
      },
    };
  },
  iterate(signal, clock) {
    const ch = new Channel<number>({ capacity: 1, clock });
    const iterator = ch.iterate({ signal });
    return {
      promise: iterator.next(),
      channels: [ch],
      target: ch,
      timed: false,
      settle: () => expect(ch.trySend(7)).toEqual({ ok: true }),
      settled: (o) => expect(o).toEqual({ ok: true, value: { done: false, value: 7 } }),
      closed: (o) => expect(o).toEqual({ ok: true, value: { done: true, value: undefined } }),
    };
  },
  select(signal, clock) {
    const a = new Channel<number>({ capacity: 1, clock });
    const b = new Channel<number>({ capacity: 0, clock });
    return {
      promise: select([onReceive(a), onSend(b, 9)], { signal, timeoutMs: TIMEOUT_MS, clock }),
      channels: [a, b],
      target: a,
      timed: true,
      settle: () => expect(a.trySend(7)).toEqual({ ok: true }),
      settled: (o) =>
        expect(o).toEqual({ ok: true, value: { index: 0, kind: 'receive', ok: true, value: 7 } }),
      closed: (o) =>
        expect(o).toEqual({ ok: true, value: { index: 0, kind: 'receive', ok: false } }),
    };
  },
};

function waitersOn(channels: readonly Channel<number>[]): number {
  let n = 0;
  for (const ch of channels) n += ch.waitingSenders + ch.waitingReceivers;
  return n;
}

describe.each(Object.keys(OPERATIONS) as (keyof typeof OPERATIONS)[])(
  '%s leaves no listener, timer or waiter',
  (name) => {
    for (const ending of ENDINGS) {
      if (ending === 'timeout' && name === 'iterate') continue; // iterate() takes no timeout

      it(`after ${ending}`, async () => {
        const clock = new ManualClock();
        const controller = new AbortController();
        const op = OPERATIONS[name](controller.signal, clock);
        await flush();

        // While waiting: exactly one listener, one timer (when timed), waiters linked.
        expect(listeners(controller.signal)).toBe(1);
        expect(clock.pendingTimers).toBe(op.timed ? 1 : 0);
        expect(waitersOn(op.channels)).toBeGreaterThan(0);
        for (const ch of op.channels) ch.assertInvariants();

        const reason = new Error(`abort ${name}`);
        switch (ending) {
          case 'abort':
            controller.abort(reason);
            break;
          case 'timeout':
            clock.advance(TIMEOUT_MS);
            break;
          case 'settle':
            op.settle();
            break;
          case 'close':
            op.target.close();
            break;
          case 'destroy':
            op.target.destroy();
            break;
        }
        // Cleanup is part of the same synchronous step.
        expect(listeners(controller.signal)).toBe(0);
        expect(clock.pendingTimers).toBe(0);
        expect(waitersOn(op.channels)).toBe(0);

        const outcome = await settle(op.promise);
        if (ending === 'abort') expect(outcome).toEqual({ ok: false, error: reason });
        else if (ending === 'timeout') {
          expect(outcome.ok).toBe(false);
          if (!outcome.ok) expect(outcome.error).toBeInstanceOf(TimeoutError);
        } else if (ending === 'settle') op.settled(outcome);
        else op.closed(outcome);

        // An abort after the end changes nothing; time passing fires nothing.
        controller.abort(new Error('late'));
        clock.advance(10 * TIMEOUT_MS);
        await flush();
        expect(listeners(controller.signal)).toBe(0);
        expect(clock.pendingTimers).toBe(0);
        expect(waitersOn(op.channels)).toBe(0);
        for (const ch of op.channels) ch.assertInvariants();
      });
    }
  },
);

describe('iterate({ signal }) leaves nothing behind when the loop ends', () => {
  it('breaking out of for await removes the listener and the pending step', async () => {
    const ch = new Channel<number>({ capacity: 4 });
    const controller = new AbortController();
    ch.trySend(1);
    ch.trySend(2);
    const got: number[] = [];
    for await (const item of ch.iterate({ signal: controller.signal })) {
      got.push(item);
      if (item === 2) break;
    }
    expect(got).toEqual([1, 2]);
    expect(listeners(controller.signal)).toBe(0);
    expect(ch.waitingReceivers).toBe(0);
    expect(ch.isClosed).toBe(false);
    ch.assertInvariants();
  });

  it('return() while a step waits ends that step, unlinks it and removes its listener', async () => {
    const ch = new Channel<number>({ capacity: 1 });
    const controller = new AbortController();
    const iterator = ch.iterate({ signal: controller.signal });
    const step = iterator.next();
    await flush();
    expect(listeners(controller.signal)).toBe(1);
    expect(ch.waitingReceivers).toBe(1);

    await iterator.return?.();
    expect(await step).toEqual({ done: true, value: undefined });
    expect(listeners(controller.signal)).toBe(0);
    expect(ch.waitingReceivers).toBe(0);
    // Nothing was consumed: a later item is still there for someone else.
    ch.trySend(5);
    expect(ch.tryReceive()).toEqual({ ok: true, value: 5 });
    ch.assertInvariants();
  });

  it('a loop over many items holds at most one listener and none at the end', async () => {
    const ch = new Channel<number>({ capacity: 0 });
    const controller = new AbortController();
    let maxListeners = 0;
    const producer = (async () => {
      for (let i = 0; i < 200; i++) {
        await ch.send(i);
        maxListeners = Math.max(maxListeners, listeners(controller.signal));
      }
      ch.close();
    })();
    let count = 0;
    for await (const _ of ch.iterate({ signal: controller.signal })) count++;
    await producer;
    expect(count).toBe(200);
    expect(maxListeners).toBeLessThanOrEqual(1);
    expect(listeners(controller.signal)).toBe(0);
    ch.assertInvariants();
  });
});

describe('a long-lived signal shared by many waits', () => {
  it('keeps no listener after each of many waits ends, however it ends', async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const signal = controller.signal;
    const ch = new Channel<number>({ capacity: 0, clock });
    const other = new Channel<number>({ capacity: 0, clock });

    for (let i = 0; i < 300; i++) {
      // settled normally
      const r = ch.receive({ signal, timeoutMs: 50 });
      ch.trySend(i);
      expect(await r).toBe(i);
      const s = ch.send(i, { signal, timeoutMs: 50 });
      expect(ch.tryReceive()).toEqual({ ok: true, value: i });
      await s;
      const sel = select([onReceive(ch), onReceive(other)], { signal, timeoutMs: 50, clock });
      other.trySend(i);
      await sel;
      // timed out
      const t = settle(ch.receive({ signal, timeoutMs: 50 }));
      const ts = settle(select([onSend(other, i)], { signal, timeoutMs: 50, clock }));
      clock.advance(50);
      expect((await t).ok).toBe(false);
      expect((await ts).ok).toBe(false);
    }
    expect(listeners(signal)).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    expect(ch.waitingReceivers + ch.waitingSenders).toBe(0);
    expect(other.waitingReceivers + other.waitingSenders).toBe(0);
    ch.assertInvariants();
    other.assertInvariants();
  });

  it('adds no listener for a call that completes at once or whose signal is already aborted', async () => {
    const controller = new AbortController();
    const ch = new Channel<number>({ capacity: 2 });
    await ch.send(1, { signal: controller.signal });
    expect(await ch.receive({ signal: controller.signal })).toBe(1);
    ch.trySend(2);
    await select([onReceive(ch)], { signal: controller.signal });
    expect(listeners(controller.signal)).toBe(0);

    const aborted = AbortSignal.abort(new Error('already'));
    const results = await Promise.all([
      settle(ch.send(1, { signal: aborted })),
      settle(ch.receive({ signal: aborted })),
      settle(select([onReceive(ch)], { signal: aborted })),
      settle(ch.iterate({ signal: aborted }).next()),
    ]);
    for (const r of results) expect(r).toEqual({ ok: false, error: aborted.reason });
    expect(listeners(aborted)).toBe(0);
    expect(ch.size).toBe(0);
    ch.assertInvariants();
  });
});

describe('the system clock (a short real-timer check)', () => {
  const timeouts = (): number =>
    process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

  it('clears the setTimeout of a waiter that settles early', async () => {
    const ch = new Channel<number>(); // the system clock by default
    const other = new Channel<number>();
    const base = timeouts();

    const received = ch.receive({ timeoutMs: 5 });
    expect(timeouts()).toBe(base + 1);
    ch.trySend(1);
    expect(timeouts()).toBe(base);
    expect(await received).toBe(1);

    const sent = ch.send(2, { timeoutMs: 5 });
    expect(timeouts()).toBe(base + 1);
    expect(ch.tryReceive()).toEqual({ ok: true, value: 2 });
    expect(timeouts()).toBe(base);
    await sent;

    const selected = select([onReceive(ch), onSend(other, 3)], { timeoutMs: 5 });
    expect(timeouts()).toBe(base + 1);
    ch.trySend(4);
    expect(timeouts()).toBe(base);
    expect(await selected).toEqual({ index: 0, kind: 'receive', ok: true, value: 4 });

    expect(ch.waitingReceivers + ch.waitingSenders + other.waitingSenders).toBe(0);
    ch.assertInvariants();
    other.assertInvariants();
  });

  it('fires and then holds no timer when the 5 ms timeout passes', async () => {
    const ch = new Channel<number>();
    const base = timeouts();
    const started = performance.now();
    const error = await ch.receive({ timeoutMs: 5 }).catch((e: unknown) => e);
    expect(performance.now() - started).toBeGreaterThanOrEqual(4);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(timeouts()).toBe(base);
    expect(ch.waitingReceivers).toBe(0);
    ch.assertInvariants();
  });
});
