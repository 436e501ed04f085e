/**
 * Model-based property test of priority channels (docs/semantics/queues.md, "Priorities").
 *
 * The model is deliberately trivial: the buffer is a plain array kept sorted by (priority
 * descending, arrival order ascending), re-sorted after every insertion, next to FIFO lists of
 * waiting senders and receivers, a state string and the counters `stats()` reports. It is
 * written from the docs, not from the heaps in `queues.ts`.
 *
 * fast-check generates a list of commands — `trySend` bursts (priorities drawn from 0..3, so
 * ties are common), `send` (awaited later; it may wait under `block`), `tryReceive`,
 * `receive` (may wait), `receiveMany(k)`, `close`, `destroy` and a microtask `flush` — and a
 * finale (destroy, or close and drain). Only `flush` lets promise callbacks run, so everything
 * between two flushes is synchronous and the model predicts it exactly: every `trySend` and
 * `tryReceive` result (which item is served, evicted or dropped under each policy), every
 * `onDrop` call, what `destroy` returns, `size`, the waiting counts and every counter of
 * `stats()`. A `receiveMany` that had to wait gets its first item synchronously (from a send)
 * and takes the rest on its next turn, which the model runs at the next flush.
 *
 * After every step: `assertInvariants()`, and the channel's stats, getters and `onDrop` calls
 * equal the model's; after a flush, every promise the model settled has settled as it said, and
 * no other. At the end, from what the test observed (not from the model): every item offered
 * has exactly one fate — received once; dropped (onDrop once with the right reason, matching
 * the send's result or destroy()'s return); or handed back by a full/closed result or a
 * rejection — and every promise has settled.
 *
 * Run for capacities {1, 2, 5, 16} and every overflow policy. A failure prints fast-check's
 * seed, path and shrunk command list; SLUICE_PROP_RUNS=n changes the runs per configuration
 * (default 250).
 */
import { inspect, isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import {
  Channel,
  ChannelClosedError,
  ChannelFullError,
  type ChannelOptions,
  type ChannelStats,
  type DropReason,
  type OverflowPolicy,
  type ReceiveResult,
  type SendResult,
} from '../../src/index.js';
import { microtasks } from '../support/clock.js';
import { propRuns } from '../support/prop.js';

// ---- items and the model -------------------------------------------------------------------

/** An item: a unique id and its priority (higher first). */
interface Item {
  readonly id: number;
  readonly p: number;
}

interface Entry {
  readonly item: Item;
  /** Arrival order in the buffer (ties in priority go to the earlier one). */
  readonly seq: number;
}

/** A rejection, reduced to what the test compares. */
type ErrorSpec =
  | { readonly kind: 'closed'; readonly hasValue: boolean; readonly value: Item | undefined }
  | { readonly kind: 'full'; readonly value: Item }
  | { readonly kind: 'unexpected'; readonly error: string };

type Outcome =
  | { readonly status: 'resolved'; readonly value: unknown }
  | { readonly status: 'rejected'; readonly error: ErrorSpec };

/** One call that returned a promise, as the model sees it. */
interface ModelOp {
  readonly id: number;
  readonly kind: 'send' | 'receive' | 'receiveMany';
  /** The item of a send. */
  readonly item?: Item;
  /** The `max` of a receiveMany. */
  readonly max?: number;
  /** Undefined while pending. */
  outcome: Outcome | undefined;
  /** A receiveMany that waited: what it holds until its next turn takes the rest. */
  batch?: Item[];
}

const resolved = (value: unknown): Outcome => ({ status: 'resolved', value });
const rejected = (error: ErrorSpec): Outcome => ({ status: 'rejected', error });
const SENT = { ok: true } as const;

/** Serving order: higher priority first, then earlier arrival. */
const servesBefore = (a: Entry, b: Entry): number => b.item.p - a.item.p || a.seq - b.seq;

class Model {
  /** Sorted by `servesBefore`: index 0 is served next. */
  buffer: Entry[] = [];
  senders: ModelOp[] = [];
  receivers: ModelOp[] = [];
  /** receiveMany calls that got their first item while waiting; they resume at the next turn. */
  resuming: ModelOp[] = [];
  state: 'open' | 'closed' | 'destroyed' = 'open';
  sent = 0;
  received = 0;
  refused = 0;
  highWater = 0;
  dropped = { overflow: 0, evicted: 0, discarded: 0, expired: 0, shed: 0 };
  /** Every onDrop call the channel must have made, in order. */
  readonly drops: { item: Item; reason: DropReason }[] = [];
  #seq = 0;

  constructor(
    readonly capacity: number,
    readonly policy: OverflowPolicy,
  ) {}

  stats(): ChannelStats {
    return {
      sent: this.sent,
      received: this.received,
      refused: this.refused,
      dropped: { ...this.dropped },
      size: this.buffer.length,
      highWater: this.highWater,
      capacity: this.capacity,
      waitingSenders: this.senders.length,
      waitingReceivers: this.receivers.length,
      state: this.state,
    };
  }

  // ---- synchronous calls ----------------------------------------------------------------

  trySend(item: Item): SendResult<Item> {
    if (this.state !== 'open') return { ok: false, reason: 'closed', value: item };
    const receiver = this.receivers.shift();
    if (receiver !== undefined) {
      this.sent++;
      this.received++;
      this.#deliver(receiver, item);
      return SENT;
    }
    if (this.buffer.length < this.capacity) {
      this.#insert(item);
      return SENT;
    }
    return this.#overflow(item);
  }

  tryReceive(): ReceiveResult<Item> {
    const item = this.#take();
    if (item !== undefined) return { ok: true, value: item };
    return this.state === 'open' ? { ok: false, reason: 'empty' } : { ok: false, reason: 'closed' };
  }

  close(): void {
    if (this.state !== 'open') return;
    this.state = 'closed';
    for (const s of this.senders) {
      this.#settle(s, rejected({ kind: 'closed', hasValue: true, value: s.item }));
    }
    for (const r of this.receivers) {
      this.#settle(r, rejected({ kind: 'closed', hasValue: false, value: undefined }));
    }
    this.senders = [];
    this.receivers = [];
  }

  destroy(): Item[] {
    if (this.state === 'destroyed') return [];
    this.close();
    this.state = 'destroyed';
    const items = this.buffer.map((e) => e.item);
    this.buffer = [];
    this.dropped.discarded += items.length;
    for (const item of items) this.drops.push({ item, reason: 'discarded' });
    return items;
  }

  // ---- calls that may wait ----------------------------------------------------------------

  send(op: ModelOp): void {
    const item = op.item!;
    if (this.state !== 'open') {
      this.#settle(op, rejected({ kind: 'closed', hasValue: true, value: item }));
    } else if (
      this.receivers.length > 0 ||
      this.buffer.length < this.capacity ||
      (this.policy !== 'block' && this.policy !== 'reject')
    ) {
      this.#settle(op, resolved(this.trySend(item)));
    } else if (this.policy === 'reject') {
      this.refused++;
      this.#settle(op, rejected({ kind: 'full', value: item }));
    } else {
      this.senders.push(op);
    }
  }

  receive(op: ModelOp): void {
    const item = this.#take();
    if (item !== undefined) this.#settle(op, resolved(item));
    else if (this.state !== 'open') {
      this.#settle(op, rejected({ kind: 'closed', hasValue: false, value: undefined }));
    } else this.receivers.push(op);
  }

  receiveMany(op: ModelOp): void {
    const batch: Item[] = [];
    this.#takeInto(batch, op.max!);
    if (batch.length > 0) this.#settle(op, resolved(batch));
    else if (this.state !== 'open') {
      this.#settle(op, rejected({ kind: 'closed', hasValue: false, value: undefined }));
    } else this.receivers.push(op);
  }

  /** The next turn: each receiveMany that got its first item takes what is there, in order. */
  resume(): void {
    const resuming = this.resuming;
    this.resuming = [];
    for (const op of resuming) {
      this.#takeInto(op.batch!, op.max!);
      this.#settle(op, resolved(op.batch));
    }
  }

  // ---- internals --------------------------------------------------------------------------

  #insert(item: Item): void {
    this.buffer.push({ item, seq: this.#seq++ });
    this.buffer.sort(servesBefore);
    this.sent++;
    this.highWater = Math.max(this.highWater, this.buffer.length);
  }

  #overflow(item: Item): SendResult<Item> {
    switch (this.policy) {
      case 'drop-newest':
        return this.#dropIncoming(item);
      case 'drop-oldest': {
        // The earliest arrival, whatever its priority.
        const oldest = this.buffer.reduce((a, b) => (b.seq < a.seq ? b : a));
        return this.#evict(oldest, item);
      }
      case 'drop-lowest': {
        // The lowest priority, the earliest arrival among equals — unless the incoming item
        // ranks strictly lower, then it is the one discarded.
        const lowestP = Math.min(...this.buffer.map((e) => e.item.p));
        if (item.p < lowestP) return this.#dropIncoming(item);
        const lowest = this.buffer
          .filter((e) => e.item.p === lowestP)
          .reduce((a, b) => (b.seq < a.seq ? b : a));
        return this.#evict(lowest, item);
      }
      default:
        this.refused++;
        return { ok: false, reason: 'full', value: item };
    }
  }

  #dropIncoming(item: Item): SendResult<Item> {
    this.dropped.overflow++;
    this.drops.push({ item, reason: 'overflow' });
    return { ok: false, reason: 'dropped', value: item };
  }

  #evict(victim: Entry, item: Item): SendResult<Item> {
    this.buffer = this.buffer.filter((e) => e !== victim);
    this.#insert(item);
    this.dropped.evicted++;
    this.drops.push({ item: victim.item, reason: 'evicted' });
    return { ok: true, evicted: victim.item };
  }

  /** Takes the head; the first waiting sender moves into the freed place. */
  #take(): Item | undefined {
    const head = this.buffer.shift();
    if (head === undefined) return undefined;
    this.received++;
    const sender = this.senders.shift();
    if (sender !== undefined) {
      this.#insert(sender.item!);
      this.#settle(sender, resolved(SENT));
    }
    return head.item;
  }

  #takeInto(batch: Item[], max: number): void {
    while (batch.length < max) {
      const item = this.#take();
      if (item === undefined) return;
      batch.push(item);
    }
  }

  #deliver(receiver: ModelOp, item: Item): void {
    if (receiver.kind === 'receive') this.#settle(receiver, resolved(item));
    else {
      receiver.batch = [item];
      this.resuming.push(receiver);
    }
  }

  #settle(op: ModelOp, outcome: Outcome): void {
    if (op.outcome !== undefined) throw new Error(`model bug: op ${op.id} settled twice`);
    op.outcome = outcome;
  }
}

// ---- commands ------------------------------------------------------------------------------

type Command =
  /** A burst of trySends, one item per priority. */
  | { t: 'trySend'; ps: number[] }
  | { t: 'send'; p: number }
  | { t: 'tryReceive'; count: number }
  | { t: 'receive' }
  | { t: 'receiveMany'; max: number }
  | { t: 'close' }
  | { t: 'destroy' }
  | { t: 'flush' };

type Finale = 'destroy' | 'close-drain';

/** Priorities from a small range, so ties are common. */
const priorityArb = fc.integer({ min: 0, max: 3 });

type Weights = Record<Command['t'], number>;

/** A run draws one profile, so the buffer fills (and overflows) or drains. */
const PROFILES: readonly Weights[] = [
  // producers
  {
    trySend: 30,
    send: 25,
    tryReceive: 8,
    receive: 6,
    receiveMany: 6,
    flush: 8,
    close: 1,
    destroy: 1,
  },
  // balanced
  {
    trySend: 20,
    send: 15,
    tryReceive: 15,
    receive: 10,
    receiveMany: 10,
    flush: 10,
    close: 1,
    destroy: 1,
  },
  // consumers
  {
    trySend: 20,
    send: 10,
    tryReceive: 15,
    receive: 15,
    receiveMany: 15,
    flush: 10,
    close: 1,
    destroy: 1,
  },
];

const commandArb = (w: Weights): fc.Arbitrary<Command> =>
  fc.oneof(
    {
      weight: w.trySend,
      arbitrary: fc.record({
        t: fc.constant('trySend' as const),
        ps: fc.oneof(
          { weight: 3, arbitrary: fc.array(priorityArb, { minLength: 1, maxLength: 1 }) },
          fc.array(priorityArb, { minLength: 2, maxLength: 20 }),
        ),
      }),
    },
    {
      weight: w.send,
      arbitrary: fc.record({ t: fc.constant('send' as const), p: priorityArb }),
    },
    {
      weight: w.tryReceive,
      arbitrary: fc.record({
        t: fc.constant('tryReceive' as const),
        count: fc.oneof({ weight: 3, arbitrary: fc.constant(1) }, fc.integer({ min: 2, max: 8 })),
      }),
    },
    { weight: w.receive, arbitrary: fc.record({ t: fc.constant('receive' as const) }) },
    {
      weight: w.receiveMany,
      arbitrary: fc.record({
        t: fc.constant('receiveMany' as const),
        max: fc.integer({ min: 1, max: 6 }),
      }),
    },
    { weight: w.close, arbitrary: fc.record({ t: fc.constant('close' as const) }) },
    { weight: w.destroy, arbitrary: fc.record({ t: fc.constant('destroy' as const) }) },
    { weight: w.flush, arbitrary: fc.record({ t: fc.constant('flush' as const) }) },
  );

const commandsArb = fc.oneof(
  ...PROFILES.map((w) => fc.array(commandArb(w), { maxLength: 50, size: 'max' })),
);
const finaleArb = fc.constantFrom<Finale>('destroy', 'close-drain');
/** How the channel is told the order: `priority` or an equivalent `compare`. */
const orderArb = fc.constantFrom('priority' as const, 'compare' as const);

// ---- the runner ----------------------------------------------------------------------------

class Failure extends Error {}

function same(actual: unknown, expected: unknown, what: string): void {
  if (!isDeepStrictEqual(actual, expected)) {
    throw new Failure(
      `${what}\n  actual:   ${inspect(actual, { depth: 6 })}\n  expected: ${inspect(expected, { depth: 6 })}`,
    );
  }
}

function check(condition: boolean, what: () => string): void {
  if (!condition) throw new Failure(what());
}

/** Enough microtask turns for a receiveMany's next turn and every settled promise's handlers. */
const FLUSH_TICKS = 10;

/** The fates an item may end in: the sorted events the test saw for it. */
const FATES = new Set([
  'accepted,offered,received',
  'accepted,hook:evicted,offered,result:evicted',
  'accepted,destroyed,hook:discarded,offered',
  'hook:overflow,offered,result:dropped',
  'handedBack,offered',
]);

/** One real call that returned a promise, next to its model twin. */
interface RealOp {
  readonly model: ModelOp;
  observed: Outcome | undefined;
}

class Runner {
  readonly channel: Channel<Item>;
  readonly model: Model;
  readonly drops: { item: Item; reason: DropReason }[] = [];
  readonly ops: RealOp[] = [];
  /** What the test saw happen to each item, by id. */
  readonly events = new Map<number, string[]>();
  #nextId = 0;
  #step = 0;

  constructor(capacity: number, policy: OverflowPolicy, order: 'priority' | 'compare') {
    this.model = new Model(capacity, policy);
    const onDrop = (item: Item, reason: DropReason): void => void this.drops.push({ item, reason });
    this.channel = new Channel<Item>({
      capacity,
      overflow: policy,
      onDrop,
      ...(order === 'priority'
        ? { priority: (item: Item) => item.p }
        : { compare: (a: Item, b: Item) => b.p - a.p }),
    } as ChannelOptions<Item>);
  }

  async run(commands: readonly Command[], finale: Finale): Promise<void> {
    this.verify('start', true);
    for (const command of commands) {
      this.#step++;
      // Only a flush awaits: between flushes no promise callback runs (not even a receiveMany's
      // next turn), so the model knows the exact state after every synchronous step.
      if (command.t === 'flush') await this.flush();
      else this.apply(command);
      this.verify(`step ${this.#step} (${inspect(command, { breakLength: Infinity })})`, false);
      if (command.t === 'flush') this.verify(`after flush at step ${this.#step}`, true);
    }
    this.#step++;
    if (finale === 'destroy') this.destroy();
    else {
      this.channel.close();
      this.model.close();
      this.verify('finale: close', false);
      for (;;) {
        const r = this.tryReceive();
        this.verify('finale: drain', false);
        if (!r.ok) break;
      }
    }
    await this.flush();
    this.verify('end', true);
    this.finalChecks();
  }

  apply(c: Exclude<Command, { t: 'flush' }>): void {
    switch (c.t) {
      case 'trySend':
        for (const p of c.ps) {
          const item = this.newItem(p);
          const actual = this.channel.trySend(item);
          same(actual, this.model.trySend(item), `step ${this.#step}: trySend(${show(item)})`);
          this.sendResultEvents(item, actual);
          this.channel.assertInvariants();
        }
        return;
      case 'send': {
        const item = this.newItem(c.p);
        const op = this.newOp({ id: this.ops.length, kind: 'send', item, outcome: undefined });
        this.observe(op, this.channel.send(item));
        this.model.send(op.model);
        return;
      }
      case 'tryReceive':
        for (let k = 0; k < c.count; k++) {
          this.tryReceive();
          this.channel.assertInvariants();
        }
        return;
      case 'receive': {
        const op = this.newOp({ id: this.ops.length, kind: 'receive', outcome: undefined });
        this.observe(op, this.channel.receive());
        this.model.receive(op.model);
        return;
      }
      case 'receiveMany': {
        const op = this.newOp({
          id: this.ops.length,
          kind: 'receiveMany',
          max: c.max,
          outcome: undefined,
        });
        this.observe(op, this.channel.receiveMany(c.max));
        this.model.receiveMany(op.model);
        return;
      }
      case 'close':
        this.channel.close();
        this.model.close();
        return;
      case 'destroy':
        this.destroy();
        return;
    }
  }

  /** Lets every promise callback run (a receiveMany's next turn included), as in the model. */
  async flush(): Promise<void> {
    await microtasks(FLUSH_TICKS);
    this.model.resume();
  }

  tryReceive(): ReceiveResult<Item> {
    const actual = this.channel.tryReceive();
    same(actual, this.model.tryReceive(), `step ${this.#step}: tryReceive()`);
    if (actual.ok) this.event(actual.value, 'received');
    return actual;
  }

  destroy(): void {
    const items = this.channel.destroy();
    same(items, this.model.destroy(), `step ${this.#step}: what destroy() returned`);
    for (const item of items) this.event(item, 'destroyed');
  }

  newItem(p: number): Item {
    const item = { id: this.#nextId++, p };
    this.events.set(item.id, ['offered']);
    return item;
  }

  newOp(model: ModelOp): RealOp {
    const op: RealOp = { model, observed: undefined };
    this.ops.push(op);
    return op;
  }

  event(item: Item, event: string): void {
    const events = this.events.get(item.id);
    check(events !== undefined, () => `${event} for an item never offered: ${inspect(item)}`);
    events!.push(event);
  }

  /** Records what a send result (trySend, or what send resolved with) says about `item`. */
  sendResultEvents(item: Item, result: SendResult<Item>): void {
    if (result.ok) {
      this.event(item, 'accepted');
      if ('evicted' in result) this.event(result.evicted, 'result:evicted');
    } else {
      check(result.value === item, () => `a failed send handed back ${show(result.value)}`);
      this.event(item, result.reason === 'dropped' ? 'result:dropped' : 'handedBack');
    }
  }

  observe(op: RealOp, promise: Promise<unknown>): void {
    promise.then(
      (value) => {
        check(op.observed === undefined, () => `op ${op.model.id} settled twice`);
        op.observed = resolved(value);
      },
      (error: unknown) => {
        check(op.observed === undefined, () => `op ${op.model.id} settled twice`);
        op.observed = rejected(errorSpec(error));
      },
    );
  }

  /**
   * `assertInvariants()`, and the stats, getters and onDrop calls equal the model's. With
   * `settled`, every op has settled exactly when and as the model says; otherwise none has
   * settled other than as the model says.
   */
  verify(where: string, settled: boolean): void {
    const ch = this.channel;
    const m = this.model;
    ch.assertInvariants();
    const expected = m.stats();
    same(ch.stats(), expected, `${where}: stats()`);
    same(
      [ch.size, ch.waitingSenders, ch.waitingReceivers, ch.state, ch.isClosed],
      [
        expected.size,
        expected.waitingSenders,
        expected.waitingReceivers,
        expected.state,
        m.state !== 'open',
      ],
      `${where}: size, waitingSenders, waitingReceivers, state, isClosed`,
    );
    same(this.drops, m.drops, `${where}: onDrop calls`);
    for (const op of this.ops) {
      if (!settled && op.observed === undefined) continue;
      same(
        op.observed,
        op.model.outcome,
        `${where}: how op ${op.model.id} (${op.model.kind}${op.model.item === undefined ? '' : ` ${show(op.model.item)}`}) settled`,
      );
    }
  }

  /** Conservation, from what the test observed: every item offered has exactly one fate. */
  finalChecks(): void {
    for (const op of this.ops) {
      const { model, observed } = op;
      check(observed !== undefined, () => `op ${model.id} (${model.kind}) never settled`);
      if (model.kind === 'send') {
        if (observed!.status === 'resolved') {
          this.sendResultEvents(model.item!, observed!.value as SendResult<Item>);
        } else {
          const error = observed!.error;
          check(
            (error.kind === 'full' || (error.kind === 'closed' && error.hasValue)) &&
              error.value === model.item,
            () => `a send of ${show(model.item!)} rejected with ${inspect(error)}`,
          );
          this.event(model.item!, 'handedBack');
        }
      } else if (observed!.status === 'resolved') {
        const items = model.kind === 'receive' ? [observed!.value] : (observed!.value as Item[]);
        check(
          model.kind === 'receive' || (items.length >= 1 && items.length <= model.max!),
          () => `receiveMany(${model.max}) resolved with ${items.length} items`,
        );
        for (const item of items) this.event(item as Item, 'received');
      } else {
        const error = observed!.error;
        check(
          error.kind === 'closed' && !error.hasValue,
          () => `a ${model.kind} rejected with ${inspect(error)}`,
        );
      }
    }
    for (const d of this.drops) this.event(d.item, `hook:${d.reason}`);
    let received = 0;
    for (const [id, events] of this.events) {
      const fate = [...events].sort().join(',');
      check(FATES.has(fate), () => `item ${id} ended as [${fate}], which is no single fate`);
      if (fate.includes('received')) received++;
    }
    const s = this.channel.stats();
    same(s.received, received, 'stats().received vs the items seen received');
    same(s.size, 0, 'items left in the channel at the end');
    same(
      s.sent,
      s.received + s.dropped.evicted + s.dropped.discarded,
      'conservation: sent == received + evicted + discarded at the end',
    );
  }
}

function errorSpec(error: unknown): ErrorSpec {
  if (error instanceof ChannelClosedError) {
    return { kind: 'closed', hasValue: error.hasValue, value: error.value as Item | undefined };
  }
  if (error instanceof ChannelFullError) return { kind: 'full', value: error.value as Item };
  return { kind: 'unexpected', error: inspect(error) };
}

const show = (item: Item): string => `#${item.id}@${item.p}`;

// ---- the properties ------------------------------------------------------------------------

const POLICIES: readonly OverflowPolicy[] = [
  'block',
  'reject',
  'drop-newest',
  'drop-oldest',
  'drop-lowest',
];
const CAPACITIES = [1, 2, 5, 16];
const CONFIGS = POLICIES.flatMap((policy) => CAPACITIES.map((capacity) => ({ policy, capacity })));

const NUM_RUNS = propRuns(250);

describe('priority Channel against a sorted-array model', () => {
  it.each(CONFIGS)('capacity $capacity, $policy', async ({ capacity, policy }) => {
    await fc.assert(
      fc.asyncProperty(commandsArb, finaleArb, orderArb, async (commands, finale, order) => {
        await new Runner(capacity, policy, order).run(commands, finale);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
