/**
 * Channel-specific helpers for the Channel suites (channel.*.test.ts, select.test.ts): the
 * capacity × policy matrix, and filling, draining and checking a channel. Helpers that are not
 * about channels (probe, flush, thrown, rejection, listeners) live in test/support/.
 */
import { expect, vi } from 'vitest';
import {
  Channel,
  type ChannelOptions,
  type DropHandler,
  type DropReason,
  type OverflowPolicy,
} from '../../src/index.js';
import type { ManualClock } from '../../src/testing/index.js';

/** One channel configuration of the matrix. */
export interface Kind {
  readonly capacity: number;
  readonly overflow: OverflowPolicy;
}

export const CAPACITIES: readonly number[] = [0, 1, 2, 16];
export const POLICIES: readonly OverflowPolicy[] = [
  'block',
  'reject',
  'drop-newest',
  'drop-oldest',
];

export function isDropPolicy(policy: OverflowPolicy): boolean {
  return policy === 'drop-newest' || policy === 'drop-oldest';
}

/** Every capacity × every policy valid at that capacity (drop policies need capacity ≥ 1). */
export const KINDS: readonly Kind[] = CAPACITIES.flatMap((capacity) =>
  POLICIES.filter((overflow) => capacity >= 1 || !isDropPolicy(overflow)).map((overflow) => ({
    capacity,
    overflow,
  })),
);

export interface Extra {
  readonly onDrop?: DropHandler<string>;
  readonly clock?: ManualClock;
}

/** A `Channel<string>` of the given kind. */
export function make(kind: Kind, extra: Extra = {}): Channel<string> {
  return new Channel<string>({
    capacity: kind.capacity,
    overflow: kind.overflow,
    ...extra,
  } as ChannelOptions<string>);
}

/** An `onDrop` that records its calls. */
export function dropRecorder(): {
  readonly calls: [string, DropReason][];
  readonly onDrop: DropHandler<string>;
} {
  const calls: [string, DropReason][] = [];
  return { calls, onDrop: (item, reason) => void calls.push([item, reason]) };
}

/** Fills the rest of the buffer with `prefix0`, `prefix1`, … via trySend; returns those items. */
export function fill(ch: Channel<string>, prefix = 'b'): string[] {
  const items: string[] = [];
  for (let i = 0; ch.size < ch.capacity; i++) {
    const item = `${prefix}${i}`;
    expect(ch.trySend(item)).toStrictEqual({ ok: true });
    items.push(item);
  }
  expect(ch.size).toBe(ch.capacity);
  return items;
}

/** Takes every buffered item with tryReceive. */
export function drainNow<T>(ch: Channel<T>): T[] {
  const out: T[] = [];
  for (let r = ch.tryReceive(); r.ok; r = ch.tryReceive()) out.push(r.value);
  return out;
}

/** assertInvariants() plus the conservation identity read from the public stats. */
export function check(ch: Channel<unknown>): void {
  ch.assertInvariants();
  const s = ch.stats();
  expect(s.sent).toBe(s.received + s.dropped.evicted + s.dropped.discarded + s.size);
  expect(s.size).toBe(ch.size);
  expect(s.waitingSenders).toBe(ch.waitingSenders);
  expect(s.waitingReceivers).toBe(ch.waitingReceivers);
  expect(s.state).toBe(ch.state);
}

/**
 * Sends `item` without ever causing a drop or refusal: under `block` it awaits `send`; under the
 * other policies it waits (on microtasks) until a receiver waits or the buffer has room.
 */
export async function sendWhenRoom(ch: Channel<string>, item: string): Promise<void> {
  if (ch.overflow === 'block') {
    expect(await ch.send(item)).toStrictEqual({ ok: true });
    return;
  }
  for (let spins = 0; ch.waitingReceivers === 0 && ch.size >= ch.capacity; spins++) {
    if (spins > 10_000) throw new Error(`never found room for ${item}`);
    await Promise.resolve();
  }
  expect(ch.trySend(item)).toStrictEqual({ ok: true });
}

/**
 * Replaces globalThis.queueMicrotask with a recorder while `fn` runs synchronously, so an error
 * a hook throws (rethrown on a microtask) can be caught by the test instead of crashing it.
 */
export function withCapturedMicrotasks<R>(fn: () => R): { result: R; tasks: (() => void)[] } {
  const tasks: (() => void)[] = [];
  const spy = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((task) => {
    tasks.push(task);
  });
  try {
    return { result: fn(), tasks };
  } finally {
    spy.mockRestore();
  }
}
