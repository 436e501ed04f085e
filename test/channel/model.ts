/**
 * A deliberately naive model of two channels, for `channel.prop.test.ts`.
 *
 * Plain arrays only: a buffer, FIFO lists of waiting senders and receivers, a state string and
 * the counters `stats()` reports. It is written from DESIGN.md's "Channel semantics" and the doc
 * comments of `Channel`/`select`, not from the implementation, and it predicts every synchronous
 * result (trySend, tryReceive, destroy), every `onDrop` call, and how every waiting operation
 * settles (an `Outcome`), step by step.
 *
 * Items are unique numbers. An operation (`ModelOp`) is one call that returns a promise: a
 * `send`, a `receive`, one `next()` of an iterator, or a `select`. A select has one waiter per
 * case, possibly on both channels; when it settles, all its waiters leave every list. An
 * AbortSignal (`ModelSignal`) may be shared by several operations (and by every step of an
 * iterator made with `iterate({ signal })`); aborting it ends all of them that still wait.
 */
import type { OverflowPolicy } from '../../src/index.js';

export type StateName = 'open' | 'closed' | 'destroyed';
export type DropReasonName = 'overflow' | 'evicted' | 'discarded';

/** A rejection, reduced to what the test compares. */
export type ErrorSpec =
  | { readonly kind: 'closed'; readonly hasValue: boolean; readonly value: number | undefined }
  | { readonly kind: 'full'; readonly value: number }
  | {
      readonly kind: 'timeout';
      readonly timeoutMs: number;
      readonly hasValue: boolean;
      readonly value: number | undefined;
    }
  /** Rejected with the `reason` of signal number `signal`, untouched (compared by identity). */
  | { readonly kind: 'abort'; readonly signal: number }
  | { readonly kind: 'unexpected'; readonly error: string };

export type Outcome =
  | { readonly status: 'resolved'; readonly value: unknown }
  | { readonly status: 'rejected'; readonly error: ErrorSpec };

export type OpKind = 'send' | 'receive' | 'iterate' | 'select';

export interface ModelCase {
  readonly kind: 'send' | 'receive';
  readonly ch: number;
  /** The item of a send case. */
  readonly item?: number;
}

export interface ModelSignal {
  readonly id: number;
  aborted: boolean;
}

export interface ModelIterator {
  readonly id: number;
  readonly ch: number;
  readonly signal: ModelSignal | undefined;
  /** `return()` was called. */
  returned: boolean;
}

export interface ModelOp {
  readonly id: number;
  readonly kind: OpKind;
  readonly ch: number;
  /** The item of a plain send. */
  readonly item?: number;
  readonly cases?: readonly ModelCase[];
  readonly signal: ModelSignal | undefined;
  /** The iterator of an `iterate` op (one `next()` call). */
  readonly iterator?: ModelIterator;
  readonly timeoutMs: number | undefined;
  /** When its timeout fires (set only if the op waits with a timeout). */
  dueAt: number | undefined;
  timerSeq: number;
  /** Undefined while pending. */
  outcome: Outcome | undefined;
  /** Order in which the model settled ops (for per-producer receive order). */
  settledSeq: number;
}

interface Waiter {
  readonly op: ModelOp;
  readonly caseIndex: number;
  /** The item a sender offers. */
  readonly item: number;
}

export interface ModelStats {
  sent: number;
  received: number;
  refused: number;
  dropped: { overflow: number; evicted: number; discarded: number; expired: number; shed: number };
  size: number;
  highWater: number;
  capacity: number;
  waitingSenders: number;
  waitingReceivers: number;
  state: StateName;
}

export class ModelChannel {
  buffer: number[] = [];
  senders: Waiter[] = [];
  receivers: Waiter[] = [];
  state: StateName = 'open';
  sent = 0;
  received = 0;
  refused = 0;
  highWater = 0;
  dropped = { overflow: 0, evicted: 0, discarded: 0, expired: 0, shed: 0 };
  /** Every onDrop call the channel must have made, in order. */
  readonly drops: { item: number; reason: DropReasonName }[] = [];

  constructor(
    readonly index: number,
    readonly capacity: number,
    readonly policy: OverflowPolicy,
  ) {}

  get isDropPolicy(): boolean {
    return this.policy === 'drop-newest' || this.policy === 'drop-oldest';
  }

  push(item: number): void {
    this.buffer.push(item);
    this.sent++;
    this.highWater = Math.max(this.highWater, this.buffer.length);
  }

  stats(): ModelStats {
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
}

/** What a synchronous send reports (`trySend`, or the value a non-waiting `send` resolves to). */
export type ModelSendResult =
  | { ok: true }
  | { ok: true; evicted: number }
  | { ok: false; reason: 'dropped' | 'full' | 'closed'; value: number };

export type ModelReceiveResult =
  | { ok: true; value: number }
  | { ok: false; reason: 'empty' | 'closed' };

const SENT = { ok: true } as const;

export class Model {
  readonly channels: ModelChannel[];
  readonly ops: ModelOp[] = [];
  now = 0;
  /**
   * The model's twin of the channels' `onDrop` hook, called at the same point: once per
   * discarded item, after the state change (and, for destroy, after every waiter settled).
   * It may call the model back, as the real hook may call the channel.
   */
  onDrop: ((ch: number, item: number, reason: DropReasonName) => void) | undefined;
  #timerSeq = 0;
  #seq = 0;

  constructor(capacity: number, policy: OverflowPolicy, channels = 2) {
    this.channels = Array.from(
      { length: channels },
      (_, i) => new ModelChannel(i, capacity, policy),
    );
  }

  /** A global order of events: when ops settle, and when the test sees a synchronous receive. */
  nextSeq(): number {
    return this.#seq++;
  }

  /** Pending ops that listen to `signal`: they hold one abort listener each. */
  listeners(signal: ModelSignal): number {
    return this.ops.filter((op) => op.outcome === undefined && op.signal === signal).length;
  }

  /** Ops still pending that hold a timer. */
  get pendingTimers(): number {
    return this.ops.filter((op) => op.outcome === undefined && op.dueAt !== undefined).length;
  }

  // ---- synchronous calls ------------------------------------------------------------------

  trySend(ch: number, item: number): ModelSendResult {
    const c = this.channels[ch]!;
    if (c.state !== 'open') return { ok: false, reason: 'closed', value: item };
    const receiver = c.receivers.shift();
    if (receiver !== undefined) {
      c.sent++;
      c.received++;
      this.#deliver(receiver, item);
      return SENT;
    }
    if (c.buffer.length < c.capacity) {
      c.push(item);
      return SENT;
    }
    return this.#overflow(c, item);
  }

  tryReceive(ch: number): ModelReceiveResult {
    const c = this.channels[ch]!;
    if (c.buffer.length > 0) return { ok: true, value: this.#shiftBuffer(c) };
    const sender = c.senders.shift();
    if (sender !== undefined) {
      c.sent++;
      c.received++;
      this.#settleSender(sender);
      return { ok: true, value: sender.item };
    }
    return c.state === 'open' ? { ok: false, reason: 'empty' } : { ok: false, reason: 'closed' };
  }

  close(ch: number): void {
    const c = this.channels[ch]!;
    if (c.state !== 'open') return;
    c.state = 'closed';
    const senders = c.senders;
    const receivers = c.receivers;
    c.senders = [];
    c.receivers = [];
    for (const s of senders) {
      if (s.op.outcome !== undefined) continue; // a select settled by an earlier waiter here
      this.#settle(s.op, rejected({ kind: 'closed', hasValue: true, value: s.item }));
    }
    for (const r of receivers) {
      if (r.op.outcome !== undefined) continue;
      if (r.op.kind === 'select') {
        this.#settle(r.op, resolved({ index: r.caseIndex, kind: 'receive', ok: false }));
      } else if (r.op.kind === 'iterate') {
        this.#settle(r.op, resolved({ done: true, value: undefined }));
      } else {
        this.#settle(r.op, rejected({ kind: 'closed', hasValue: false, value: undefined }));
      }
    }
  }

  destroy(ch: number): number[] {
    const c = this.channels[ch]!;
    if (c.state === 'destroyed') return [];
    this.close(ch);
    c.state = 'destroyed';
    const items = c.buffer;
    c.buffer = [];
    c.dropped.discarded += items.length;
    for (const item of items) this.#drop(c, item, 'discarded');
    return items;
  }

  // ---- calls that may wait ----------------------------------------------------------------

  send(op: ModelOp, item: number): void {
    const outcome = this.#sendNow(op, item);
    if (outcome !== undefined) {
      this.#settle(op, outcome);
      return;
    }
    this.channels[op.ch]!.senders.push({ op, caseIndex: 0, item });
    this.#armTimer(op);
  }

  /** A `receive`, or one `next()` of an iterator (`op.kind === 'iterate'`). */
  receive(op: ModelOp): void {
    const outcome = this.#receiveNow(op);
    if (outcome !== undefined) {
      this.#settle(op, outcome);
      return;
    }
    this.channels[op.ch]!.receivers.push({ op, caseIndex: 0, item: -1 });
    this.#armTimer(op);
  }

  /** `rand` stands for the one `Math.random()` value select draws when cases are ready. */
  select(op: ModelOp, withDefault: boolean, rand: number): void {
    const outcome = this.#selectNow(op, withDefault, rand);
    if (outcome !== undefined) {
      this.#settle(op, outcome);
      return;
    }
    op.cases!.forEach((k, i) => {
      const c = this.channels[k.ch]!;
      if (k.kind === 'receive') c.receivers.push({ op, caseIndex: i, item: -1 });
      else c.senders.push({ op, caseIndex: i, item: k.item! });
    });
    this.#armTimer(op);
  }

  /** How a `send` settles at once, or `undefined` if it waits. */
  #sendNow(op: ModelOp, item: number): Outcome | undefined {
    const c = this.channels[op.ch]!;
    if (op.signal?.aborted) return rejected({ kind: 'abort', signal: op.signal.id });
    if (c.state !== 'open') return rejected({ kind: 'closed', hasValue: true, value: item });
    if (c.receivers.length > 0 || c.buffer.length < c.capacity || c.isDropPolicy) {
      return resolved(this.trySend(op.ch, item));
    }
    if (c.policy === 'reject') {
      c.refused++;
      return rejected({ kind: 'full', value: item });
    }
    // block: wait for room, unless the timeout is 0
    if (op.timeoutMs === 0) {
      return rejected({ kind: 'timeout', timeoutMs: 0, hasValue: true, value: item });
    }
    return undefined;
  }

  #receiveNow(op: ModelOp): Outcome | undefined {
    const c = this.channels[op.ch]!;
    const iterate = op.kind === 'iterate';
    if (op.iterator?.returned) return resolved({ done: true, value: undefined });
    if (op.signal?.aborted) return rejected({ kind: 'abort', signal: op.signal.id });
    const r = this.tryReceive(op.ch);
    if (r.ok) return resolved(iterate ? { done: false, value: r.value } : r.value);
    if (c.state !== 'open') {
      return iterate
        ? resolved({ done: true, value: undefined })
        : rejected({ kind: 'closed', hasValue: false, value: undefined });
    }
    if (op.timeoutMs === 0) {
      return rejected({ kind: 'timeout', timeoutMs: 0, hasValue: false, value: undefined });
    }
    return undefined;
  }

  #selectNow(op: ModelOp, withDefault: boolean, rand: number): Outcome | undefined {
    const cases = op.cases!;
    if (op.signal?.aborted) return rejected({ kind: 'abort', signal: op.signal.id });
    const ready = cases.map((k, i) => ({ k, i })).filter(({ k }) => this.#isReady(k));
    if (ready.length > 0) {
      const { k, i } = ready[Math.floor(rand * ready.length)]!;
      if (k.kind === 'receive') {
        const r = this.tryReceive(k.ch);
        return resolved(
          r.ok
            ? { index: i, kind: 'receive', ok: true, value: r.value }
            : { index: i, kind: 'receive', ok: false },
        );
      }
      if (this.channels[k.ch]!.state !== 'open') {
        return rejected({ kind: 'closed', hasValue: true, value: k.item });
      }
      return resolved({ index: i, kind: 'send', result: this.trySend(k.ch, k.item!) });
    }
    if (withDefault) return resolved({ index: -1, kind: 'default' });
    if (op.timeoutMs === 0) {
      return rejected({ kind: 'timeout', timeoutMs: 0, hasValue: false, value: undefined });
    }
    return undefined;
  }

  // ---- things that end waits --------------------------------------------------------------

  /** Every op still waiting with `signal` rejects with its reason, in the order they began. */
  abort(signal: ModelSignal): void {
    if (signal.aborted) return;
    signal.aborted = true;
    for (const op of this.ops) {
      if (op.outcome === undefined && op.signal === signal) {
        this.#settle(op, rejected({ kind: 'abort', signal: signal.id }));
      }
    }
  }

  /**
   * `iterator.return()`: "a step still waiting when `return()` is called ends with done and
   * consumes nothing" (every such step), and later steps are done at once.
   */
  iteratorReturn(iterator: ModelIterator): void {
    iterator.returned = true;
    for (const op of this.ops) {
      if (op.outcome === undefined && op.iterator === iterator) {
        this.#settle(op, resolved({ done: true, value: undefined }));
      }
    }
  }

  advance(ms: number): void {
    this.now += ms;
    const due = this.ops
      .filter((op) => op.outcome === undefined && op.dueAt !== undefined && op.dueAt <= this.now)
      .sort((a, b) => a.dueAt! - b.dueAt! || a.timerSeq - b.timerSeq);
    for (const op of due) {
      const withValue = op.kind === 'send';
      this.#settle(
        op,
        rejected({
          kind: 'timeout',
          timeoutMs: op.timeoutMs!,
          hasValue: withValue,
          value: withValue ? op.item : undefined,
        }),
      );
    }
  }

  // ---- internals --------------------------------------------------------------------------

  #isReady(k: ModelCase): boolean {
    const c = this.channels[k.ch]!;
    if (k.kind === 'receive')
      return c.buffer.length > 0 || c.senders.length > 0 || c.state !== 'open';
    return (
      c.state !== 'open' || c.receivers.length > 0 || c.buffer.length < c.capacity || c.isDropPolicy
    );
  }

  #overflow(c: ModelChannel, item: number): ModelSendResult {
    switch (c.policy) {
      case 'drop-oldest': {
        const evicted = c.buffer.shift()!;
        c.buffer.push(item);
        c.sent++;
        c.dropped.evicted++;
        this.#drop(c, evicted, 'evicted');
        return { ok: true, evicted };
      }
      case 'drop-newest':
        c.dropped.overflow++;
        this.#drop(c, item, 'overflow');
        return { ok: false, reason: 'dropped', value: item };
      default:
        c.refused++;
        return { ok: false, reason: 'full', value: item };
    }
  }

  #drop(c: ModelChannel, item: number, reason: DropReasonName): void {
    c.drops.push({ item, reason });
    this.onDrop?.(c.index, item, reason);
  }

  /** Takes the oldest buffered item; the first waiting sender moves into the freed place. */
  #shiftBuffer(c: ModelChannel): number {
    const item = c.buffer.shift()!;
    c.received++;
    const sender = c.senders.shift();
    if (sender !== undefined) {
      c.push(sender.item);
      this.#settleSender(sender);
    }
    return item;
  }

  #deliver(receiver: Waiter, item: number): void {
    const { op } = receiver;
    if (op.kind === 'select') {
      this.#settle(
        op,
        resolved({ index: receiver.caseIndex, kind: 'receive', ok: true, value: item }),
      );
    } else if (op.kind === 'iterate') {
      this.#settle(op, resolved({ done: false, value: item }));
    } else {
      this.#settle(op, resolved(item));
    }
  }

  #settleSender(sender: Waiter): void {
    const { op } = sender;
    this.#settle(
      op,
      resolved(
        op.kind === 'select' ? { index: sender.caseIndex, kind: 'send', result: SENT } : SENT,
      ),
    );
  }

  #armTimer(op: ModelOp): void {
    if (op.timeoutMs !== undefined) {
      op.dueAt = this.now + op.timeoutMs;
      op.timerSeq = this.#timerSeq++;
    }
  }

  /** Settles `op` once and removes every waiter it has on any channel. */
  #settle(op: ModelOp, outcome: Outcome): void {
    if (op.outcome !== undefined) throw new Error(`model bug: op ${op.id} settled twice`);
    op.outcome = outcome;
    op.settledSeq = this.nextSeq();
    for (const c of this.channels) {
      c.senders = c.senders.filter((w) => w.op !== op);
      c.receivers = c.receivers.filter((w) => w.op !== op);
    }
  }
}

function resolved(value: unknown): Outcome {
  return { status: 'resolved', value };
}

function rejected(error: ErrorSpec): Outcome {
  return { status: 'rejected', error };
}
