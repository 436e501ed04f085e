/**
 * Behaviour of Channel through its public API, for every capacity in {0, 1, 2, 16} and every
 * overflow policy valid at that capacity (like Go's chan_test.go looping over capacities).
 * Validation and capacity Infinity live in channel.validation.test.ts and channel.unbounded.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  type Channel,
  ChannelClosedError,
  ChannelFullError,
  type ChannelStats,
  type DropReason,
  SluiceError,
  TimeoutError,
} from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { flush } from '../support/clock.js';
import { rejection } from '../support/errors.js';
import { probe } from '../support/outcome.js';
import { listeners } from '../support/signals.js';
import {
  check,
  drainNow,
  dropRecorder,
  fill,
  isDropPolicy,
  KINDS,
  make,
  sendWhenRoom,
  withCapturedMicrotasks,
} from './channel.helpers.js';

describe.each(KINDS)('Channel (capacity $capacity, overflow $overflow)', (kind) => {
  const { capacity, overflow } = kind;
  const blocks = overflow === 'block';
  const drops = isDropPolicy(overflow);

  describe('initial state', () => {
    it('reports its configuration and starts open and empty', () => {
      const ch = make(kind);
      expect(ch.capacity).toBe(capacity);
      expect(ch.overflow).toBe(overflow);
      expect(ch.size).toBe(0);
      expect(ch.waitingSenders).toBe(0);
      expect(ch.waitingReceivers).toBe(0);
      expect(ch.isClosed).toBe(false);
      expect(ch.state).toBe('open');
      expect(ch.stats()).toEqual({
        sent: 0,
        received: 0,
        refused: 0,
        dropped: { overflow: 0, evicted: 0, discarded: 0, expired: 0, shed: 0 },
        size: 0,
        highWater: 0,
        capacity,
        waitingSenders: 0,
        waitingReceivers: 0,
        state: 'open',
      });
      expect(ch.tryReceive()).toStrictEqual({ ok: false, reason: 'empty' });
      check(ch);
    });
  });

  describe('send and receive', () => {
    it('delivers items in the order they were sent (concurrent producer and consumer)', async () => {
      const ch = make(kind);
      const items = Array.from({ length: 3 * capacity + 5 }, (_, i) => `item${i}`);
      const received: string[] = [];
      const consumer = (async () => {
        for (let i = 0; i < items.length; i++) {
          received.push(await ch.receive());
          check(ch);
        }
      })();
      for (const item of items) await sendWhenRoom(ch, item);
      await consumer;
      expect(received).toEqual(items);
      const stats = ch.stats();
      expect(stats.sent).toBe(items.length);
      expect(stats.received).toBe(items.length);
      expect(stats.refused).toBe(0);
      expect(stats.dropped).toEqual({ overflow: 0, evicted: 0, discarded: 0, expired: 0, shed: 0 });
      check(ch);
    });

    it('serves waiting receivers first come, first served', async () => {
      const ch = make(kind);
      const receivers = [0, 1, 2].map(() => probe(ch.receive()));
      await flush();
      expect(receivers.map((r) => r.status)).toEqual(['pending', 'pending', 'pending']);
      expect(ch.waitingReceivers).toBe(3);
      check(ch);
      for (const item of ['a', 'b', 'c']) expect(ch.trySend(item)).toStrictEqual({ ok: true });
      await flush();
      expect(receivers.map((r) => r.value)).toEqual(['a', 'b', 'c']);
      expect(ch.waitingReceivers).toBe(0);
      expect(ch.size).toBe(0);
      check(ch);
    });

    it('counts a waiting receiver as room: items handed to receivers are never dropped or refused', async () => {
      const { calls, onDrop } = dropRecorder();
      const ch = make(kind, { onDrop });
      // More receivers than the buffer could ever hold.
      const n = capacity + 2;
      const receivers = Array.from({ length: n }, () => probe(ch.receive()));
      for (let i = 0; i < n - 1; i++) expect(ch.trySend(`t${i}`)).toStrictEqual({ ok: true });
      // `send` too resolves with plain success (it does not wait, even at capacity 0).
      const last = probe(ch.send(`t${n - 1}`));
      await flush();
      expect(last.status).toBe('fulfilled');
      expect(last.value).toStrictEqual({ ok: true });
      expect(receivers.map((r) => r.value)).toEqual(Array.from({ length: n }, (_, i) => `t${i}`));
      expect(ch.size).toBe(0);
      expect(calls).toEqual([]);
      expect(ch.stats()).toMatchObject({
        sent: n,
        received: n,
        refused: 0,
        dropped: { overflow: 0, evicted: 0, discarded: 0, expired: 0, shed: 0 },
        highWater: 0,
      });
      check(ch);
    });

    if (capacity >= 1) {
      it('send resolves as soon as the item is buffered, before anyone receives it', async () => {
        const ch = make(kind);
        for (let i = 0; i < capacity; i++) {
          await expect(ch.send(`s${i}`)).resolves.toStrictEqual({ ok: true });
          expect(ch.size).toBe(i + 1);
        }
        expect(ch.stats().received).toBe(0);
        expect(ch.waitingSenders).toBe(0);
        expect(drainNow(ch)).toEqual(Array.from({ length: capacity }, (_, i) => `s${i}`));
        check(ch);
      });

      it('returns buffered items oldest first, also after the ring wraps around', () => {
        const ch = make(kind);
        const expected: string[] = [];
        let next = 0;
        for (let round = 0; round < 3; round++) {
          while (ch.size < capacity) {
            expect(ch.trySend(`w${next}`)).toStrictEqual({ ok: true });
            expected.push(`w${next++}`);
          }
          // Take half (at least one), then refill on the next round.
          const take = Math.max(1, Math.floor(capacity / 2));
          for (let i = 0; i < take; i++) {
            expect(ch.tryReceive()).toStrictEqual({ ok: true, value: expected.shift() });
          }
          check(ch);
        }
        expect(drainNow(ch)).toEqual(expected);
        check(ch);
      });
    }

    if (capacity === 0) {
      it('rendezvous: trySend succeeds only when a receiver is waiting', async () => {
        const ch = make(kind);
        expect(ch.trySend('early')).toStrictEqual({ ok: false, reason: 'full', value: 'early' });
        expect(ch.stats().refused).toBe(1);
        expect(ch.size).toBe(0);
        const r = probe(ch.receive());
        expect(ch.trySend('met')).toStrictEqual({ ok: true });
        await flush();
        expect(r.value).toBe('met');
        expect(ch.trySend('late')).toStrictEqual({ ok: false, reason: 'full', value: 'late' });
        expect(ch.stats()).toMatchObject({ sent: 1, received: 1, refused: 2, highWater: 0 });
        check(ch);
      });

      it('rendezvous: tryReceive succeeds only when a sender is waiting', async () => {
        const ch = make(kind);
        expect(ch.tryReceive()).toStrictEqual({ ok: false, reason: 'empty' });
        const s = probe(ch.send('x'));
        await flush();
        if (blocks) {
          expect(s.status).toBe('pending');
          expect(ch.waitingSenders).toBe(1);
          check(ch);
          expect(ch.tryReceive()).toStrictEqual({ ok: true, value: 'x' });
          await flush();
          expect(s.status).toBe('fulfilled');
          expect(s.value).toStrictEqual({ ok: true });
        } else {
          // Under reject a sender never waits, so there is nothing to take.
          expect(s.status).toBe('rejected');
          expect(s.reason).toBeInstanceOf(ChannelFullError);
          expect(ch.waitingSenders).toBe(0);
        }
        expect(ch.tryReceive()).toStrictEqual({ ok: false, reason: 'empty' });
        check(ch);
      });

      if (blocks) {
        it('rendezvous: send resolves only when a receiver takes the item', async () => {
          const ch = make(kind);
          const s = probe(ch.send('x'));
          await flush();
          expect(s.status).toBe('pending');
          expect(ch.size).toBe(0);
          expect(ch.stats().sent).toBe(0);
          await expect(ch.receive()).resolves.toBe('x');
          await flush();
          expect(s.status).toBe('fulfilled');
          expect(s.value).toStrictEqual({ ok: true });
          expect(ch.stats()).toMatchObject({ sent: 1, received: 1, highWater: 0 });
          check(ch);
        });
      }
    }
  });

  describe('when full', () => {
    if (overflow === 'block') {
      it('senders wait, are counted, and are served in FIFO order as room appears', async () => {
        const ch = make(kind);
        const buffered = fill(ch);
        const senders = ['w0', 'w1', 'w2'].map((item) => probe(ch.send(item)));
        await flush();
        expect(senders.map((s) => s.status)).toEqual(['pending', 'pending', 'pending']);
        expect(ch.waitingSenders).toBe(3);
        expect(ch.size).toBe(capacity);
        check(ch);
        const got: string[] = [];
        for (let i = 0; i < capacity + 3; i++) {
          got.push(await ch.receive());
          await flush();
          // Each receive makes room for exactly the next waiting sender, in order.
          expect(senders.map((s) => s.status)).toEqual(
            senders.map((_, j) => (j <= i ? 'fulfilled' : 'pending')),
          );
          check(ch);
        }
        expect(got).toEqual([...buffered, 'w0', 'w1', 'w2']);
        for (const s of senders) expect(s.value).toStrictEqual({ ok: true });
        expect(ch.waitingSenders).toBe(0);
        check(ch);
      });

      it('trySend reports full, hands the item back and does not jump the queue', async () => {
        const { calls, onDrop } = dropRecorder();
        const ch = make(kind, { onDrop });
        const buffered = fill(ch);
        const waiting = probe(ch.send('w'));
        expect(ch.trySend('t')).toStrictEqual({ ok: false, reason: 'full', value: 't' });
        expect(ch.stats().refused).toBe(1);
        expect(calls).toEqual([]);
        expect(drainNow(ch)).toEqual([...buffered, 'w']);
        await flush();
        expect(waiting.status).toBe('fulfilled');
        check(ch);
      });
    }

    if (overflow === 'reject') {
      it('send rejects at once with ChannelFullError carrying the item; trySend reports full', async () => {
        const { calls, onDrop } = dropRecorder();
        const ch = make(kind, { onDrop });
        const buffered = fill(ch);
        const error = await rejection(ch.send('x'));
        expect(error).toBeInstanceOf(ChannelFullError);
        expect(error).toBeInstanceOf(SluiceError);
        expect(error).toMatchObject({
          name: 'ChannelFullError',
          code: 'ERR_SLUICE_CHANNEL_FULL',
          value: 'x',
        });
        expect(ch.trySend('y')).toStrictEqual({ ok: false, reason: 'full', value: 'y' });
        expect(ch.waitingSenders).toBe(0);
        expect(calls).toEqual([]);
        expect(ch.stats()).toMatchObject({
          sent: capacity,
          refused: 2,
          dropped: { overflow: 0, evicted: 0, discarded: 0, expired: 0, shed: 0 },
        });
        check(ch);
        expect(drainNow(ch)).toEqual(buffered);
        if (capacity > 0) await expect(ch.send('after')).resolves.toStrictEqual({ ok: true });
        check(ch);
      });

      it('rejects an object item with the very same object', async () => {
        const ch = make(kind) as unknown as Channel<object>;
        for (let i = 0; i < capacity; i++) ch.trySend({ i });
        const item = { unique: true };
        const error = await rejection(ch.send(item));
        expect((error as ChannelFullError<object>).value).toBe(item);
        const result = ch.trySend(item);
        expect(result.ok === false && result.value).toBe(item);
      });
    }

    if (overflow === 'drop-newest') {
      it('discards the incoming item: trySend and send both report dropped, and onDrop gets overflow', async () => {
        const { calls, onDrop } = dropRecorder();
        const ch = make(kind, { onDrop });
        const buffered = fill(ch);
        expect(ch.trySend('n1')).toStrictEqual({ ok: false, reason: 'dropped', value: 'n1' });
        const sent = probe(ch.send('n2'));
        await flush();
        // send never waits under a drop policy.
        expect(sent.status).toBe('fulfilled');
        expect(sent.value).toStrictEqual({ ok: false, reason: 'dropped', value: 'n2' });
        expect(ch.waitingSenders).toBe(0);
        expect(calls).toEqual([
          ['n1', 'overflow'],
          ['n2', 'overflow'],
        ]);
        expect(ch.stats()).toMatchObject({
          sent: capacity,
          refused: 0,
          dropped: { overflow: 2, evicted: 0, discarded: 0, expired: 0, shed: 0 },
        });
        check(ch);
        expect(drainNow(ch)).toEqual(buffered);
        check(ch);
      });
    }

    if (overflow === 'drop-oldest') {
      it('evicts the oldest item: trySend and send both return it, and onDrop gets evicted', async () => {
        const { calls, onDrop } = dropRecorder();
        const ch = make(kind, { onDrop });
        const buffered = fill(ch);
        expect(ch.trySend('n1')).toStrictEqual({ ok: true, evicted: buffered[0] });
        const sent = probe(ch.send('n2'));
        await flush();
        const secondOldest = capacity >= 2 ? buffered[1] : 'n1';
        expect(sent.status).toBe('fulfilled');
        expect(sent.value).toStrictEqual({ ok: true, evicted: secondOldest });
        expect(ch.waitingSenders).toBe(0);
        expect(calls).toEqual([
          [buffered[0], 'evicted'],
          [secondOldest, 'evicted'],
        ]);
        expect(ch.size).toBe(capacity);
        expect(ch.stats()).toMatchObject({
          sent: capacity + 2,
          refused: 0,
          dropped: { overflow: 0, evicted: 2, discarded: 0, expired: 0, shed: 0 },
          highWater: capacity,
        });
        check(ch);
        expect(drainNow(ch)).toEqual([...buffered, 'n1', 'n2'].slice(-capacity));
        check(ch);
      });

      it('keeps evicting in arrival order over many overflows', () => {
        const { calls, onDrop } = dropRecorder();
        const ch = make(kind, { onDrop });
        const all = Array.from({ length: capacity * 3 + 2 }, (_, i) => `x${i}`);
        for (const [i, item] of all.entries()) {
          const result = ch.trySend(item);
          if (i < capacity) expect(result).toStrictEqual({ ok: true });
          else expect(result).toStrictEqual({ ok: true, evicted: all[i - capacity] });
          check(ch);
        }
        expect(calls.map(([item]) => item)).toEqual(all.slice(0, all.length - capacity));
        expect(drainNow(ch)).toEqual(all.slice(-capacity));
      });
    }

    if (drops) {
      it('send never waits, however many items overflow', async () => {
        const ch = make(kind);
        const results = Array.from({ length: capacity + 5 }, (_, i) => probe(ch.send(`m${i}`)));
        await flush();
        expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
        expect(ch.waitingSenders).toBe(0);
        expect(ch.size).toBe(capacity);
        check(ch);
      });
    }
  });

  describe('onDrop', () => {
    if (drops) {
      it('is called exactly once per discarded item, after the state is updated', () => {
        const seen: {
          item: string;
          reason: DropReason;
          size: number;
          stats: ChannelStats;
          invariants: unknown;
        }[] = [];
        const ch: Channel<string> = make(kind, {
          onDrop: (item, reason) => {
            let invariants: unknown = 'ok';
            try {
              ch.assertInvariants();
            } catch (error) {
              invariants = error;
            }
            seen.push({ item, reason, size: ch.size, stats: ch.stats(), invariants });
          },
        });
        const buffered = fill(ch);
        expect(seen).toEqual([]);
        const result = ch.trySend('new');
        expect(seen).toHaveLength(1);
        const [call] = seen;
        expect(call?.invariants).toBe('ok');
        expect(call?.size).toBe(capacity);
        if (overflow === 'drop-newest') {
          expect(result).toStrictEqual({ ok: false, reason: 'dropped', value: 'new' });
          expect(call).toMatchObject({ item: 'new', reason: 'overflow' });
          expect(call?.stats).toMatchObject({
            sent: capacity,
            dropped: { overflow: 1, evicted: 0, discarded: 0, expired: 0, shed: 0 },
          });
        } else {
          expect(result).toStrictEqual({ ok: true, evicted: buffered[0] });
          expect(call).toMatchObject({ item: buffered[0], reason: 'evicted' });
          expect(call?.stats).toMatchObject({
            sent: capacity + 1,
            dropped: { overflow: 0, evicted: 1, discarded: 0, expired: 0, shed: 0 },
          });
        }
        check(ch);
      });

      it('a hook that throws does not corrupt the channel; the error is rethrown on a microtask', () => {
        const boom = new Error('hook failed');
        let calls = 0;
        const ch = make(kind, {
          onDrop: () => {
            calls++;
            throw boom;
          },
        });
        const buffered = fill(ch);
        const { result, tasks } = withCapturedMicrotasks(() => ch.trySend('new'));
        expect(calls).toBe(1);
        if (overflow === 'drop-newest') {
          expect(result).toStrictEqual({ ok: false, reason: 'dropped', value: 'new' });
        } else {
          expect(result).toStrictEqual({ ok: true, evicted: buffered[0] });
        }
        check(ch);
        // The error surfaces later, untouched.
        expect(tasks).toHaveLength(1);
        let rethrown: unknown;
        try {
          tasks[0]?.();
        } catch (error) {
          rethrown = error;
        }
        expect(rethrown).toBe(boom);
        // The channel keeps working.
        const expected = overflow === 'drop-newest' ? buffered : [...buffered.slice(1), 'new'];
        expect(drainNow(ch)).toEqual(expected);
        expect(ch.trySend('again')).toStrictEqual({ ok: true });
        expect(ch.tryReceive()).toStrictEqual({ ok: true, value: 'again' });
        check(ch);
      });
    }

    if (drops) {
      it('may call the channel from inside the hook', () => {
        const taken: string[] = [];
        const ch: Channel<string> = make(kind, {
          onDrop: () => {
            // Make room from inside the hook; the channel must stay consistent.
            const r = ch.tryReceive();
            if (r.ok) taken.push(r.value);
            ch.assertInvariants();
          },
        });
        const buffered = fill(ch);
        const { result, tasks } = withCapturedMicrotasks(() => ch.trySend('new'));
        expect(tasks).toEqual([]); // the hook did not throw
        if (overflow === 'drop-newest') {
          expect(result).toStrictEqual({ ok: false, reason: 'dropped', value: 'new' });
          expect(taken).toEqual([buffered[0]]);
          expect(drainNow(ch)).toEqual(buffered.slice(1));
        } else {
          expect(result).toStrictEqual({ ok: true, evicted: buffered[0] });
          const afterEviction = [...buffered.slice(1), 'new'];
          expect(taken).toEqual([afterEviction[0]]);
          expect(drainNow(ch)).toEqual(afterEviction.slice(1));
        }
        check(ch);
      });
    }

    if (capacity >= 1) {
      it('a destroy hook may call the channel, which is already destroyed', () => {
        const seen: unknown[] = [];
        const ch: Channel<string> = make(kind, {
          onDrop: (item) => {
            seen.push(ch.trySend(`${item}-again`), ch.tryReceive());
          },
        });
        fill(ch);
        const { tasks } = withCapturedMicrotasks(() => ch.destroy());
        expect(tasks).toEqual([]);
        expect(seen[0]).toStrictEqual({ ok: false, reason: 'closed', value: 'b0-again' });
        expect(seen[1]).toStrictEqual({ ok: false, reason: 'closed' });
        expect(ch.size).toBe(0);
        check(ch);
      });
    }

    if (capacity >= 1) {
      it('destroy reports each buffered item as discarded, after the state is updated', () => {
        const seen: { item: string; reason: DropReason; size: number; stats: ChannelStats }[] = [];
        const ch: Channel<string> = make(kind, {
          onDrop: (item, reason) => {
            seen.push({ item, reason, size: ch.size, stats: ch.stats() });
          },
        });
        const buffered = fill(ch);
        const returned = ch.destroy();
        expect(returned).toEqual(buffered);
        expect(seen.map(({ item, reason }) => [item, reason])).toEqual(
          buffered.map((item) => [item, 'discarded']),
        );
        for (const call of seen) {
          expect(call.size).toBe(0);
          expect(call.stats).toMatchObject({
            state: 'destroyed',
            size: 0,
            dropped: { overflow: 0, evicted: 0, discarded: capacity, expired: 0, shed: 0 },
          });
        }
        check(ch);
      });

      it('a destroy hook that throws still sees every item reported and leaves the channel consistent', () => {
        const errors = [new Error('first'), new Error('second')];
        const reported: string[] = [];
        const ch = make(kind, {
          onDrop: (item) => {
            reported.push(item);
            throw errors[reported.length - 1] ?? new Error('later');
          },
        });
        const buffered = fill(ch);
        const { result, tasks } = withCapturedMicrotasks(() => ch.destroy());
        expect(result).toEqual(buffered);
        expect(reported).toEqual(buffered);
        expect(tasks).toHaveLength(capacity);
        let rethrown: unknown;
        try {
          tasks[0]?.();
        } catch (error) {
          rethrown = error;
        }
        expect(rethrown).toBe(errors[0]);
        expect(ch.state).toBe('destroyed');
        expect(ch.size).toBe(0);
        expect(ch.stats().dropped.discarded).toBe(capacity);
        check(ch);
      });
    }

    it('is not called for items handed back (refused, closed, or waiting senders at close/destroy)', async () => {
      const { calls, onDrop } = dropRecorder();
      const ch = make(kind, { onDrop });
      if (!drops) {
        fill(ch);
        expect(ch.trySend('refused').ok).toBe(false);
      }
      const waiting = blocks ? probe(ch.send('waiting')) : undefined;
      ch.close();
      expect(ch.trySend('closed')).toMatchObject({ ok: false, reason: 'closed' });
      await flush();
      if (waiting !== undefined) expect(waiting.status).toBe('rejected');
      drainNow(ch);
      ch.destroy();
      expect(calls).toEqual([]);
      check(ch);
    });
  });

  describe('close()', () => {
    it('is idempotent', () => {
      const ch = make(kind);
      if (capacity > 0) fill(ch);
      ch.close();
      const before = ch.stats();
      expect(() => ch.close()).not.toThrow();
      expect(ch.stats()).toEqual(before);
      expect(ch.state).toBe('closed');
      expect(ch.isClosed).toBe(true);
      check(ch);
    });

    it('makes later sends fail, handing the item back', async () => {
      const ch = make(kind);
      ch.close();
      expect(ch.trySend('t')).toStrictEqual({ ok: false, reason: 'closed', value: 't' });
      const error = await rejection(ch.send('s'));
      expect(error).toBeInstanceOf(ChannelClosedError);
      expect(error).toBeInstanceOf(SluiceError);
      expect(error).toMatchObject({
        name: 'ChannelClosedError',
        code: 'ERR_SLUICE_CHANNEL_CLOSED',
        hasValue: true,
        value: 's',
      });
      expect(ch.stats()).toMatchObject({ sent: 0, refused: 0 });
      check(ch);
    });

    if (capacity >= 1) {
      it('closed takes precedence over full: nothing is refused, dropped or evicted', async () => {
        const { calls, onDrop } = dropRecorder();
        const ch = make(kind, { onDrop });
        const buffered = fill(ch);
        ch.close();
        expect(ch.trySend('t')).toStrictEqual({ ok: false, reason: 'closed', value: 't' });
        await expect(ch.send('s')).rejects.toBeInstanceOf(ChannelClosedError);
        expect(calls).toEqual([]);
        expect(ch.stats()).toMatchObject({
          refused: 0,
          dropped: { overflow: 0, evicted: 0, discarded: 0, expired: 0, shed: 0 },
        });
        expect(drainNow(ch)).toEqual(buffered);
        check(ch);
      });
    }

    if (blocks) {
      it('rejects senders waiting at close, each with its own item', async () => {
        const ch = make(kind);
        const buffered = fill(ch);
        const senders = ['w0', 'w1', 'w2'].map((item) => probe(ch.send(item)));
        await flush();
        ch.close();
        expect(ch.waitingSenders).toBe(0);
        await flush();
        for (const [i, s] of senders.entries()) {
          expect(s.status).toBe('rejected');
          expect(s.reason).toBeInstanceOf(ChannelClosedError);
          expect(s.reason).toMatchObject({ hasValue: true, value: `w${i}` });
        }
        // Their items were not enqueued; the buffered ones are still there.
        expect(drainNow(ch)).toEqual(buffered);
        expect(ch.tryReceive()).toStrictEqual({ ok: false, reason: 'closed' });
        check(ch);
      });
    }

    it('lets buffered items be received, then receive rejects and tryReceive reports closed', async () => {
      const ch = make(kind);
      const buffered = fill(ch);
      ch.close();
      const got: string[] = [];
      for (let i = 0; i < buffered.length; i++) {
        // Alternate receive and tryReceive.
        if (i % 2 === 0) got.push(await ch.receive());
        else {
          const r = ch.tryReceive();
          expect(r.ok).toBe(true);
          if (r.ok) got.push(r.value);
        }
        check(ch);
      }
      expect(got).toEqual(buffered);
      const error = await rejection(ch.receive());
      expect(error).toBeInstanceOf(ChannelClosedError);
      expect(error).toMatchObject({
        code: 'ERR_SLUICE_CHANNEL_CLOSED',
        hasValue: false,
        value: undefined,
      });
      expect(ch.tryReceive()).toStrictEqual({ ok: false, reason: 'closed' });
      expect(ch.waitingReceivers).toBe(0);
      check(ch);
    });

    it('rejects receivers waiting at close', async () => {
      const ch = make(kind);
      const receivers = [probe(ch.receive()), probe(ch.receive())];
      await flush();
      ch.close();
      expect(ch.waitingReceivers).toBe(0);
      await flush();
      for (const r of receivers) {
        expect(r.status).toBe('rejected');
        expect(r.reason).toBeInstanceOf(ChannelClosedError);
        expect(r.reason).toMatchObject({ hasValue: false });
      }
      check(ch);
    });

    it('ends iterators: a pending step resolves done; a loop ends after the buffer drains', async () => {
      const ch = make(kind);
      const iterator = ch[Symbol.asyncIterator]();
      const step = probe(iterator.next());
      await flush();
      expect(step.status).toBe('pending');
      // Buffer items after the waiting step: the first goes straight to it.
      const extra =
        capacity > 0 ? ['first', ...Array.from({ length: capacity }, (_, i) => `q${i}`)] : [];
      for (const item of extra) expect(ch.trySend(item)).toStrictEqual({ ok: true });
      if (capacity === 0) {
        ch.close();
        await flush();
        expect(step.value).toEqual({ done: true, value: undefined });
      } else {
        await flush();
        expect(step.value).toEqual({ done: false, value: 'first' });
        ch.close();
        const rest: string[] = [];
        for await (const item of ch) rest.push(item);
        expect(rest).toEqual(extra.slice(1));
        // A second pending step at close also ends.
        const other = ch[Symbol.asyncIterator]();
        await expect(other.next()).resolves.toEqual({ done: true, value: undefined });
      }
      await expect(iterator.next()).resolves.toEqual({ done: true, value: undefined });
      check(ch);
    });

    it('a step pending at close resolves done', async () => {
      const ch = make(kind);
      const iterators = [
        ch[Symbol.asyncIterator](),
        ch.iterate({ signal: new AbortController().signal }),
      ];
      const steps = iterators.map((i) => probe(i.next()));
      await flush();
      expect(ch.waitingReceivers).toBe(2);
      ch.close();
      await flush();
      for (const s of steps) expect(s.value).toEqual({ done: true, value: undefined });
      check(ch);
    });

    it('resolves drained only once closed and empty', async () => {
      const ch = make(kind);
      const buffered = fill(ch);
      const drained = probe(ch.drained);
      await flush();
      expect(drained.status).toBe('pending'); // open
      ch.close();
      await flush();
      if (capacity > 0) {
        expect(drained.status).toBe('pending'); // closed but not empty
        for (let i = 0; i < buffered.length - 1; i++) await ch.receive();
        await flush();
        expect(ch.size).toBe(1);
        expect(drained.status).toBe('pending'); // one item left
        await expect(ch.receive()).resolves.toBe(buffered.at(-1));
        await flush();
      }
      expect(drained.status).toBe('fulfilled');
      expect(drained.value).toBeUndefined();
      // Asking again after the fact resolves too.
      await expect(ch.drained).resolves.toBeUndefined();
      check(ch);
    });

    it('an open channel is never drained, even when empty', async () => {
      const ch = make(kind);
      const drained = probe(ch.drained);
      const r = probe(ch.receive());
      ch.trySend('x');
      await flush();
      expect(r.value).toBe('x');
      expect(drained.status).toBe('pending');
    });
  });

  describe('destroy()', () => {
    if (capacity >= 1) {
      it('returns the buffered items oldest first, each also reported to onDrop as discarded', () => {
        const { calls, onDrop } = dropRecorder();
        const ch = make(kind, { onDrop });
        // Make the ring wrap first: fill, take one, add one.
        const buffered = fill(ch);
        expect(ch.tryReceive()).toStrictEqual({ ok: true, value: buffered[0] });
        expect(ch.trySend('tail')).toStrictEqual({ ok: true });
        const expected = [...buffered.slice(1), 'tail'];
        expect(ch.destroy()).toEqual(expected);
        expect(calls).toEqual(expected.map((item) => [item, 'discarded']));
        expect(ch.size).toBe(0);
        expect(ch.state).toBe('destroyed');
        expect(ch.isClosed).toBe(true);
        expect(ch.stats()).toMatchObject({
          sent: capacity + 1,
          received: 1,
          dropped: { overflow: 0, evicted: 0, discarded: capacity, expired: 0, shed: 0 },
        });
        check(ch);
      });

      it('works after close with items still buffered', async () => {
        const { calls, onDrop } = dropRecorder();
        const ch = make(kind, { onDrop });
        const buffered = fill(ch);
        ch.close();
        const drained = probe(ch.drained);
        await expect(ch.receive()).resolves.toBe(buffered[0]);
        await flush();
        if (capacity > 1) expect(drained.status).toBe('pending');
        expect(ch.destroy()).toEqual(buffered.slice(1));
        expect(calls).toEqual(buffered.slice(1).map((item) => [item, 'discarded']));
        await flush();
        expect(drained.status).toBe('fulfilled');
        expect(ch.state).toBe('destroyed');
        await expect(ch.receive()).rejects.toBeInstanceOf(ChannelClosedError);
        expect(ch.tryReceive()).toStrictEqual({ ok: false, reason: 'closed' });
        expect(ch.trySend('x')).toStrictEqual({ ok: false, reason: 'closed', value: 'x' });
        check(ch);
      });
    }

    if (blocks) {
      it('rejects waiting senders with their own items', async () => {
        const { calls, onDrop } = dropRecorder();
        const ch = make(kind, { onDrop });
        const buffered = fill(ch);
        const senders = ['w0', 'w1'].map((item) => probe(ch.send(item)));
        await flush();
        expect(ch.destroy()).toEqual(buffered);
        expect(ch.waitingSenders).toBe(0);
        await flush();
        for (const [i, s] of senders.entries()) {
          expect(s.reason).toBeInstanceOf(ChannelClosedError);
          expect(s.reason).toMatchObject({ hasValue: true, value: `w${i}` });
        }
        // Handed back, not discarded.
        expect(calls).toEqual(buffered.map((item) => [item, 'discarded']));
        check(ch);
      });
    }

    it('rejects waiting receivers and ends iterators', async () => {
      const ch = make(kind);
      const r = probe(ch.receive());
      const step = probe(ch[Symbol.asyncIterator]().next());
      await flush();
      expect(ch.destroy()).toEqual([]);
      await flush();
      expect(r.status).toBe('rejected');
      expect(r.reason).toBeInstanceOf(ChannelClosedError);
      expect(r.reason).toMatchObject({ hasValue: false });
      expect(step.value).toEqual({ done: true, value: undefined });
      expect(ch.waitingReceivers).toBe(0);
      const loop: string[] = [];
      for await (const item of ch) loop.push(item);
      expect(loop).toEqual([]);
      check(ch);
    });

    it('is idempotent: a second call returns [] and reports nothing', () => {
      const { calls, onDrop } = dropRecorder();
      const ch = make(kind, { onDrop });
      const buffered = fill(ch);
      expect(ch.destroy()).toEqual(buffered);
      const before = ch.stats();
      expect(ch.destroy()).toEqual([]);
      expect(ch.stats()).toEqual(before);
      expect(calls).toHaveLength(buffered.length);
      ch.close(); // closing a destroyed channel changes nothing either
      expect(ch.state).toBe('destroyed');
      check(ch);
    });

    it('resolves drained and refuses everything afterwards', async () => {
      const ch = make(kind);
      fill(ch);
      const drained = probe(ch.drained);
      ch.destroy();
      await flush();
      expect(drained.status).toBe('fulfilled');
      expect(ch.trySend('t')).toStrictEqual({ ok: false, reason: 'closed', value: 't' });
      await expect(ch.send('s')).rejects.toMatchObject({ hasValue: true, value: 's' });
      await expect(ch.receive()).rejects.toMatchObject({ hasValue: false });
      expect(ch.tryReceive()).toStrictEqual({ ok: false, reason: 'closed' });
      check(ch);
    });
  });

  describe('cancellation', () => {
    if (blocks) {
      it('a send aborted while waiting did not enqueue; it rejects with signal.reason untouched', async () => {
        const ch = make(kind);
        const buffered = fill(ch);
        const controller = new AbortController();
        const reason = { why: 'unique abort reason' };
        const before = probe(ch.send('w-before'));
        const aborted = probe(ch.send('aborted', { signal: controller.signal }));
        const after = probe(ch.send('w-after'));
        await flush();
        expect(ch.waitingSenders).toBe(3);
        expect(listeners(controller.signal)).toBe(1);
        controller.abort(reason);
        expect(ch.waitingSenders).toBe(2);
        check(ch);
        await flush();
        expect(aborted.status).toBe('rejected');
        expect(aborted.reason).toBe(reason);
        expect(listeners(controller.signal)).toBe(0);
        const got: string[] = [];
        for (let i = 0; i < capacity + 2; i++) got.push(await ch.receive());
        expect(got).toEqual([...buffered, 'w-before', 'w-after']);
        expect(ch.tryReceive()).toStrictEqual({ ok: false, reason: 'empty' });
        await flush();
        expect(before.status).toBe('fulfilled');
        expect(after.status).toBe('fulfilled');
        expect(ch.stats().sent).toBe(capacity + 2);
        check(ch);
      });
    }

    it('a receive aborted while waiting consumed nothing; it rejects with signal.reason untouched', async () => {
      const ch = make(kind);
      const controller = new AbortController();
      const reason = { why: 'unique abort reason' };
      const aborted = probe(ch.receive({ signal: controller.signal }));
      await flush();
      expect(ch.waitingReceivers).toBe(1);
      controller.abort(reason);
      expect(ch.waitingReceivers).toBe(0);
      await flush();
      expect(aborted.status).toBe('rejected');
      expect(aborted.reason).toBe(reason);
      expect(listeners(controller.signal)).toBe(0);
      // The aborted receiver no longer counts as room.
      if (capacity === 0) {
        expect(ch.trySend('x')).toStrictEqual({ ok: false, reason: 'full', value: 'x' });
      }
      const next = probe(ch.receive());
      expect(ch.trySend('y')).toStrictEqual({ ok: true });
      await flush();
      expect(next.value).toBe('y');
      expect(ch.stats()).toMatchObject({ sent: 1, received: 1 });
      check(ch);
    });

    it('an already-aborted signal rejects send without sending, even when there is room', async () => {
      const ch = make(kind);
      const reason = { why: 'aborted before the call' };
      const controller = new AbortController();
      controller.abort(reason);
      // Room: an empty buffer, or at capacity 0 a waiting receiver.
      const receiver = capacity === 0 ? probe(ch.receive()) : undefined;
      await expect(rejection(ch.send('x', { signal: controller.signal }))).resolves.toBe(reason);
      expect(ch.size).toBe(0);
      expect(ch.stats().sent).toBe(0);
      expect(listeners(controller.signal)).toBe(0);
      if (receiver !== undefined) {
        expect(ch.waitingReceivers).toBe(1);
        ch.trySend('y');
        await flush();
        expect(receiver.value).toBe('y');
      }
      check(ch);
    });

    it('an already-aborted signal rejects receive without consuming, even with an item ready', async () => {
      const ch = make(kind);
      const reason = { why: 'aborted before the call' };
      const controller = new AbortController();
      controller.abort(reason);
      const sender = blocks && capacity === 0 ? probe(ch.send('x')) : undefined;
      if (capacity > 0) ch.trySend('x');
      await expect(rejection(ch.receive({ signal: controller.signal }))).resolves.toBe(reason);
      expect(listeners(controller.signal)).toBe(0);
      expect(ch.stats().received).toBe(0);
      if (capacity > 0 || sender !== undefined) {
        expect(ch.tryReceive()).toStrictEqual({ ok: true, value: 'x' });
      }
      await flush();
      if (sender !== undefined) expect(sender.status).toBe('fulfilled');
      check(ch);
    });

    it('an already-aborted signal wins over a closed channel', async () => {
      const ch = make(kind);
      const buffered = fill(ch);
      ch.close();
      const reason = { why: 'aborted first' };
      const controller = new AbortController();
      controller.abort(reason);
      await expect(rejection(ch.send('x', { signal: controller.signal }))).resolves.toBe(reason);
      await expect(rejection(ch.receive({ signal: controller.signal }))).resolves.toBe(reason);
      expect(drainNow(ch)).toEqual(buffered);
      await expect(rejection(ch.receive({ signal: controller.signal }))).resolves.toBe(reason);
      check(ch);
    });

    if (blocks) {
      it('send with timeoutMs rejects with a TimeoutError carrying the item exactly at the deadline', async () => {
        const clock = new ManualClock();
        const ch = make(kind, { clock });
        const buffered = fill(ch);
        const s = probe(ch.send('late', { timeoutMs: 100 }));
        expect(clock.pendingTimers).toBe(1);
        clock.advance(99);
        await flush();
        expect(s.status).toBe('pending');
        expect(ch.waitingSenders).toBe(1);
        clock.advance(1);
        expect(ch.waitingSenders).toBe(0);
        await flush();
        expect(s.status).toBe('rejected');
        expect(s.reason).toBeInstanceOf(TimeoutError);
        expect(s.reason).toBeInstanceOf(SluiceError);
        expect(s.reason).toMatchObject({
          name: 'TimeoutError',
          code: 'ERR_SLUICE_TIMEOUT',
          timeoutMs: 100,
          hasValue: true,
          value: 'late',
        });
        expect(clock.pendingTimers).toBe(0);
        expect(drainNow(ch)).toEqual(buffered);
        expect(ch.tryReceive()).toStrictEqual({ ok: false, reason: 'empty' });
        check(ch);
      });
    }

    it('receive with timeoutMs rejects with a TimeoutError exactly at the deadline, consuming nothing', async () => {
      const clock = new ManualClock({ start: 1000 });
      const ch = make(kind, { clock });
      const r = probe(ch.receive({ timeoutMs: 50 }));
      clock.advance(49);
      await flush();
      expect(r.status).toBe('pending');
      clock.advance(1);
      expect(ch.waitingReceivers).toBe(0);
      await flush();
      expect(r.status).toBe('rejected');
      expect(r.reason).toBeInstanceOf(TimeoutError);
      expect(r.reason).toMatchObject({
        name: 'TimeoutError',
        code: 'ERR_SLUICE_TIMEOUT',
        timeoutMs: 50,
        hasValue: false,
      });
      expect(clock.pendingTimers).toBe(0);
      // The timed-out receiver does not take the next item.
      if (capacity === 0) {
        expect(ch.trySend('x')).toStrictEqual({ ok: false, reason: 'full', value: 'x' });
      } else {
        expect(ch.trySend('x')).toStrictEqual({ ok: true });
        expect(ch.tryReceive()).toStrictEqual({ ok: true, value: 'x' });
      }
      check(ch);
    });

    if (blocks) {
      it('send with timeoutMs 0 succeeds when it need not wait, and rejects at once when it would', async () => {
        const clock = new ManualClock();
        const ch = make(kind, { clock });
        const receiver = capacity === 0 ? probe(ch.receive()) : undefined;
        await expect(ch.send('fits', { timeoutMs: 0 })).resolves.toStrictEqual({ ok: true });
        await flush();
        if (receiver !== undefined) expect(receiver.value).toBe('fits');
        fill(ch, 'more');
        const s = probe(ch.send('waits', { timeoutMs: 0 }));
        await flush();
        expect(s.status).toBe('rejected');
        expect(s.reason).toBeInstanceOf(TimeoutError);
        expect(s.reason).toMatchObject({ timeoutMs: 0, hasValue: true, value: 'waits' });
        expect(ch.waitingSenders).toBe(0);
        expect(clock.pendingTimers).toBe(0);
        expect(drainNow(ch)).not.toContain('waits');
        check(ch);
      });
    } else {
      it('send with timeoutMs 0 behaves exactly as without one (this policy never waits)', async () => {
        const clock = new ManualClock();
        const ch = make(kind, { clock });
        const receiver = capacity === 0 ? probe(ch.receive()) : undefined;
        await expect(ch.send('fits', { timeoutMs: 0 })).resolves.toStrictEqual({ ok: true });
        await flush();
        if (receiver !== undefined) expect(receiver.value).toBe('fits');
        fill(ch, 'more');
        const oldest = capacity > 0 ? 'fits' : undefined;
        const s = probe(ch.send('over', { timeoutMs: 0 }));
        await flush();
        if (overflow === 'reject') expect(s.reason).toBeInstanceOf(ChannelFullError);
        if (overflow === 'drop-newest') {
          expect(s.value).toStrictEqual({ ok: false, reason: 'dropped', value: 'over' });
        }
        if (overflow === 'drop-oldest') {
          expect(s.value).toStrictEqual({ ok: true, evicted: oldest });
        }
        expect(clock.pendingTimers).toBe(0);
        check(ch);
      });
    }

    it('receive with timeoutMs 0 succeeds with an item ready, and rejects at once when empty', async () => {
      const clock = new ManualClock();
      const ch = make(kind, { clock });
      const r = probe(ch.receive({ timeoutMs: 0 }));
      await flush();
      expect(r.status).toBe('rejected');
      expect(r.reason).toBeInstanceOf(TimeoutError);
      expect(r.reason).toMatchObject({ timeoutMs: 0, hasValue: false });
      expect(ch.waitingReceivers).toBe(0);
      if (capacity > 0) {
        ch.trySend('ready');
        await expect(ch.receive({ timeoutMs: 0 })).resolves.toBe('ready');
      } else if (blocks) {
        const s = probe(ch.send('ready'));
        await expect(ch.receive({ timeoutMs: 0 })).resolves.toBe('ready');
        await flush();
        expect(s.status).toBe('fulfilled');
      }
      expect(clock.pendingTimers).toBe(0);
      check(ch);
    });

    it('timeoutMs Infinity arms no timer and waits until served', async () => {
      const clock = new ManualClock();
      const ch = make(kind, { clock });
      const r = probe(ch.receive({ timeoutMs: Number.POSITIVE_INFINITY }));
      expect(clock.pendingTimers).toBe(0);
      clock.advance(1e12);
      await flush();
      expect(r.status).toBe('pending');
      ch.trySend('x');
      await flush();
      expect(r.value).toBe('x');
      if (blocks) {
        fill(ch);
        const s = probe(ch.send('y', { timeoutMs: Number.POSITIVE_INFINITY }));
        expect(clock.pendingTimers).toBe(0);
        clock.advance(1e12);
        await flush();
        expect(s.status).toBe('pending');
        ch.tryReceive();
        await flush();
        expect(s.status).toBe('fulfilled');
      }
      check(ch);
    });

    it('a timeout cleared by an earlier settle never fires later', async () => {
      const clock = new ManualClock();
      const ch = make(kind, { clock });
      const r = probe(ch.receive({ timeoutMs: 100 }));
      clock.advance(50);
      ch.trySend('x');
      expect(clock.pendingTimers).toBe(0);
      clock.advance(1000);
      await flush();
      expect(r.status).toBe('fulfilled');
      expect(r.value).toBe('x');
      check(ch);
    });

    const exits = ['settled', 'aborted', 'timed out', 'closed', 'destroyed'] as const;
    for (const exit of exits) {
      it(`a waiting receive that is ${exit} leaves no abort listener and no timer behind`, async () => {
        const clock = new ManualClock();
        const ch = make(kind, { clock });
        const controller = new AbortController();
        const r = probe(ch.receive({ signal: controller.signal, timeoutMs: 1000 }));
        expect(listeners(controller.signal)).toBe(1);
        expect(clock.pendingTimers).toBe(1);
        if (exit === 'settled') ch.trySend('x');
        if (exit === 'aborted') controller.abort(new Error('stop'));
        if (exit === 'timed out') clock.advance(1000);
        if (exit === 'closed') ch.close();
        if (exit === 'destroyed') ch.destroy();
        await flush();
        expect(r.status).toBe(exit === 'settled' ? 'fulfilled' : 'rejected');
        expect(listeners(controller.signal)).toBe(0);
        expect(clock.pendingTimers).toBe(0);
        expect(ch.waitingReceivers).toBe(0);
        check(ch);
      });

      if (blocks) {
        it(`a waiting send that is ${exit} leaves no abort listener and no timer behind`, async () => {
          const clock = new ManualClock();
          const ch = make(kind, { clock });
          fill(ch);
          const controller = new AbortController();
          const s = probe(ch.send('w', { signal: controller.signal, timeoutMs: 1000 }));
          expect(listeners(controller.signal)).toBe(1);
          expect(clock.pendingTimers).toBe(1);
          if (exit === 'settled') expect(ch.tryReceive().ok).toBe(true);
          if (exit === 'aborted') controller.abort(new Error('stop'));
          if (exit === 'timed out') clock.advance(1000);
          if (exit === 'closed') ch.close();
          if (exit === 'destroyed') ch.destroy();
          await flush();
          expect(s.status).toBe(exit === 'settled' ? 'fulfilled' : 'rejected');
          expect(listeners(controller.signal)).toBe(0);
          expect(clock.pendingTimers).toBe(0);
          expect(ch.waitingSenders).toBe(0);
          check(ch);
        });
      }
    }

    it('a call that completes without waiting adds no abort listener and arms no timer', async () => {
      const clock = new ManualClock();
      const ch = make(kind, { clock });
      const { signal } = new AbortController();
      const options = { signal, timeoutMs: 1000 };
      const receiver = capacity === 0 ? probe(ch.receive()) : undefined;
      await expect(ch.send('x', options)).resolves.toStrictEqual({ ok: true });
      if (capacity > 0) await expect(ch.receive(options)).resolves.toBe('x');
      await flush();
      if (receiver !== undefined) expect(receiver.value).toBe('x');
      expect(listeners(signal)).toBe(0);
      expect(clock.pendingTimers).toBe(0);
      check(ch);
    });
  });

  describe('async iteration', () => {
    it('for await yields items in order and ends once the channel is closed and drained', async () => {
      const ch = make(kind);
      const items = Array.from({ length: 2 * capacity + 4 }, (_, i) => `it${i}`);
      const producer = (async () => {
        for (const item of items) await sendWhenRoom(ch, item);
        ch.close();
      })();
      const got: string[] = [];
      for await (const item of ch) {
        got.push(item);
        check(ch);
      }
      await producer;
      expect(got).toEqual(items);
      expect(ch.state).toBe('closed');
      expect(ch.size).toBe(0);
      check(ch);
    });

    it('breaking out of for await does not close the channel; the rest stays for other consumers', async () => {
      const ch = make(kind);
      const producer = (async () => {
        for (const item of ['a', 'b', 'c']) await sendWhenRoom(ch, item);
      })();
      let first: string | undefined;
      for await (const item of ch) {
        first = item;
        break;
      }
      expect(first).toBe('a');
      expect(ch.isClosed).toBe(false);
      expect(ch.state).toBe('open');
      expect(ch.waitingReceivers).toBe(0);
      const rest = [await ch.receive(), await ch.receive()];
      expect(rest).toEqual(['b', 'c']);
      await producer;
      expect(ch.trySend('open')).not.toMatchObject({ reason: 'closed' });
      expect(ch.stats().received).toBe(3);
      check(ch);
    });

    it('iterate({ signal }): aborting rejects the pending step with signal.reason and consumes nothing', async () => {
      const ch = make(kind);
      const controller = new AbortController();
      const reason = { why: 'stop iterating' };
      const iterator = ch.iterate({ signal: controller.signal });
      const step = probe(iterator.next());
      await flush();
      expect(ch.waitingReceivers).toBe(1);
      expect(listeners(controller.signal)).toBe(1);
      controller.abort(reason);
      await flush();
      expect(step.status).toBe('rejected');
      expect(step.reason).toBe(reason);
      expect(ch.waitingReceivers).toBe(0);
      expect(listeners(controller.signal)).toBe(0);
      const other = probe(ch.receive());
      expect(ch.trySend('x')).toStrictEqual({ ok: true });
      await flush();
      expect(other.value).toBe('x');
      expect(ch.stats().received).toBe(1);
      check(ch);
    });

    it('iterate({ signal }) with an already-aborted signal rejects its first step, consuming nothing', async () => {
      const ch = make(kind);
      const buffered = fill(ch);
      const sender = blocks && capacity === 0 ? probe(ch.send('waiting')) : undefined;
      const reason = { why: 'aborted before iterating' };
      const controller = new AbortController();
      controller.abort(reason);
      const iterator = ch.iterate({ signal: controller.signal });
      await expect(rejection(iterator.next())).resolves.toBe(reason);
      expect(ch.stats().received).toBe(0);
      expect(listeners(controller.signal)).toBe(0);
      expect(drainNow(ch)).toEqual(sender === undefined ? buffered : ['waiting']);
      check(ch);
    });

    it('for await over iterate({ signal }) yields items, then throws signal.reason on abort', async () => {
      const ch = make(kind);
      const controller = new AbortController();
      const reason = { why: 'stop the loop' };
      const got: string[] = [];
      const loop = (async () => {
        for await (const item of ch.iterate({ signal: controller.signal })) got.push(item);
      })();
      const settled = probe(loop);
      await sendWhenRoom(ch, 'a');
      await sendWhenRoom(ch, 'b');
      await flush();
      expect(got).toEqual(['a', 'b']);
      controller.abort(reason);
      await flush();
      expect(settled.status).toBe('rejected');
      expect(settled.reason).toBe(reason);
      expect(ch.isClosed).toBe(false);
      expect(listeners(controller.signal)).toBe(0);
      check(ch);
    });

    for (const how of ['plain', 'with a signal'] as const) {
      it(`return() on a manually driven iterator (${how}) ends a pending next() with done, consuming nothing`, async () => {
        const ch = make(kind);
        const { signal } = new AbortController();
        const iterator = how === 'plain' ? ch[Symbol.asyncIterator]() : ch.iterate({ signal });
        const step = probe(iterator.next());
        await flush();
        expect(step.status).toBe('pending');
        expect(ch.waitingReceivers).toBe(1);
        await expect(iterator.return?.()).resolves.toEqual({ done: true, value: undefined });
        await flush();
        expect(step.status).toBe('fulfilled');
        expect(step.value).toEqual({ done: true, value: undefined });
        expect(ch.waitingReceivers).toBe(0);
        expect(listeners(signal)).toBe(0);
        // A later send goes to someone else.
        const other = probe(ch.receive());
        expect(ch.trySend('x')).toStrictEqual({ ok: true });
        await flush();
        expect(other.value).toBe('x');
        await expect(iterator.next()).resolves.toEqual({ done: true, value: undefined });
        expect(ch.stats().received).toBe(1);
        expect(ch.isClosed).toBe(false);
        check(ch);
      });
    }
  });

  describe('stats()', () => {
    it('tracks every counter through a scripted run, with sent == received + evicted + discarded + size', async () => {
      const ch = make(kind);
      const expected = {
        sent: 0,
        received: 0,
        refused: 0,
        dropped: { overflow: 0, evicted: 0, discarded: 0, expired: 0, shed: 0 },
        size: 0,
        highWater: 0,
        capacity,
        waitingSenders: 0,
        waitingReceivers: 0,
        state: 'open' as ChannelStats['state'],
      };
      const expectStats = (): void => {
        expect(ch.stats()).toEqual(expected);
        check(ch);
      };
      expectStats();

      // 1. A hand-off to a waiting receiver.
      const r = ch.receive();
      expected.waitingReceivers = 1;
      expectStats();
      ch.trySend('handed');
      expected.waitingReceivers = 0;
      expected.sent++;
      expected.received++;
      expectStats();
      await expect(r).resolves.toBe('handed');

      // 2. Fill the buffer.
      fill(ch);
      expected.sent += capacity;
      expected.size = capacity;
      expected.highWater = capacity;
      expectStats();

      // 3. One more item, which overflows.
      let waiting: Promise<unknown> | undefined;
      if (overflow === 'block') {
        expect(ch.trySend('refused').ok).toBe(false);
        expected.refused++;
        waiting = ch.send('waiting').catch(() => 'rejected');
        expected.waitingSenders = 1;
      } else if (overflow === 'reject') {
        expect(ch.trySend('refused').ok).toBe(false);
        await expect(ch.send('refused too')).rejects.toBeInstanceOf(ChannelFullError);
        expected.refused += 2;
      } else if (overflow === 'drop-newest') {
        ch.trySend('dropped');
        expected.dropped.overflow++;
      } else {
        ch.trySend('evicting');
        expected.sent++;
        expected.dropped.evicted++;
      }
      expectStats();

      // 4. One receive: takes the head; a waiting sender moves in (or is taken directly).
      const taken = ch.tryReceive();
      if (expected.waitingSenders === 1) {
        expected.waitingSenders = 0;
        expected.received++;
        expected.sent++;
      } else if (capacity > 0) {
        expected.received++;
        expected.size--;
      } else {
        expect(taken.ok).toBe(false);
      }
      expectStats();
      if (waiting !== undefined) await expect(waiting).resolves.toStrictEqual({ ok: true });

      // 5. Close, then destroy what is left; highWater never goes down.
      ch.close();
      expected.state = 'closed';
      expectStats();
      ch.destroy();
      expected.dropped.discarded = expected.size;
      expected.size = 0;
      expected.state = 'destroyed';
      expectStats();
    });

    it('returns a snapshot that later changes do not alter', () => {
      const ch = make(kind);
      const snapshot = ch.stats();
      const r = ch.receive();
      ch.trySend('x');
      ch.destroy();
      expect(snapshot).toMatchObject({ sent: 0, received: 0, state: 'open' });
      expect(snapshot.dropped).toEqual({
        overflow: 0,
        evicted: 0,
        discarded: 0,
        expired: 0,
        shed: 0,
      });
      return expect(r).resolves.toBe('x');
    });
  });
});
