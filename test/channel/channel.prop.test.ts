/**
 * Model-based property test of Channel and select (DESIGN.md, "Channel semantics").
 *
 * fast-check generates a list of plain command records (send, trySend, receive, tryReceive,
 * iterator steps, abort, iterator return, advancing a ManualClock, close, destroy, select over
 * up to three cases on two channels, flush), a finale (destroy, or close and drain) and a plan
 * for the `onDrop` hook, which may call the channels back. Waiting calls get no signal, a new
 * AbortController's, an already-aborted one, or one shared with earlier calls (and iterators'
 * steps share theirs), and maybe a `timeoutMs`. A hand-rolled runner applies each command to
 * two real channels and to the naive model in `model.ts`, then awaits a random number of
 * microtask ticks (jitter instead of real timers, as @repeaterjs's fuzzing does). Nothing ever
 * waits on a real timer: timeouts run on a ManualClock that only `advance` moves, and select's
 * random choice is fed from the command (Math.random is replaced during the call).
 *
 * After every step: `assertInvariants()` on both channels; `stats()`, the getters, the `onDrop`
 * calls, the clock's pending timers and every signal's abort listeners equal the model's; every
 * promise that has settled settled the way the model said. After a `flush` step and at the end,
 * every promise the model settled has settled and no other has, and `drained` has resolved
 * exactly when the model is closed and empty.
 *
 * At the end, from what the test observed (not from the model), every item ever offered has
 * exactly one fate: received once; dropped (onDrop once with the right reason, and reported in
 * the send's result or in destroy()'s return); handed back once by a failed call; or its send
 * was aborted or its select case lost. Items of one producer on one channel are received in
 * the order they were sent, no promise is left pending and no timer armed.
 *
 * Run for every capacity in {0, 1, 2, 16} and every valid policy. A failure prints fast-check's
 * seed, path and shrunk command list; SLUICE_PROP_RUNS=n changes the number of runs per
 * configuration (default 150).
 */
import { getEventListeners } from 'node:events';
import { inspect, isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import {
  Channel,
  ChannelClosedError,
  ChannelFullError,
  type OverflowPolicy,
  onReceive,
  onSend,
  type SelectCase,
  select,
  TimeoutError,
} from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { microtasks } from '../support/clock.js';
import { propRuns } from '../support/prop.js';
import {
  type ErrorSpec,
  Model,
  type ModelIterator,
  type ModelOp,
  type ModelSignal,
  type Outcome,
} from './model.js';

// ---- commands ------------------------------------------------------------------------------

/**
 * The signal of a call: none; a new AbortController's (abortable later); one aborted already;
 * or a number, which picks a signal made earlier (modulo how many there are), shared.
 */
type SignalChoice = 'none' | 'new' | 'aborted' | number;

type Command = (
  | {
      t: 'send';
      ch: number;
      producer: number;
      signal: SignalChoice;
      timeoutMs: number | undefined;
    }
  | { t: 'trySend'; ch: number; producer: number; count: number }
  | { t: 'receive'; ch: number; signal: SignalChoice; timeoutMs: number | undefined }
  /** `next()` of a new iterator (`'new'`), or of one made earlier (a number picks it). */
  | { t: 'next'; ch: number; iterator: 'new' | number; signal: SignalChoice }
  | { t: 'tryReceive'; ch: number; count: number }
  /** Aborts one of the controllers not aborted yet (picked modulo their number). */
  | { t: 'abort'; pick: number }
  | { t: 'iteratorReturn'; pick: number }
  | { t: 'advance'; ms: number }
  | { t: 'close'; ch: number }
  | { t: 'destroy'; ch: number }
  | {
      t: 'select';
      cases: { kind: 'send' | 'receive'; ch: number }[];
      producer: number;
      signal: SignalChoice;
      timeoutMs: number | undefined;
      default: boolean;
      /** What Math.random() returns to select while it picks among ready cases. */
      rand: number;
    }
  | { t: 'flush' }
) & { ticks: number };

type Finale = 'destroy' | 'close-drain';

/**
 * What the `onDrop` hook does besides recording the call ("it may call the channel"): on every
 * `every`-th drop of a channel (not from inside itself), one call on the same or the other
 * channel.
 */
interface HookPlan {
  action: 'none' | 'tryReceive' | 'trySend' | 'close' | 'destroy';
  other: boolean;
  every: number;
}

const channelArb = fc.oneof({ arbitrary: fc.constant(0), weight: 3 }, fc.constant(1));
const producerArb = fc.integer({ min: 0, max: 2 });
const signalArb: fc.Arbitrary<SignalChoice> = fc.oneof(
  { arbitrary: fc.constant('none' as const), weight: 8 },
  { arbitrary: fc.constant('new' as const), weight: 5 },
  { arbitrary: fc.constant('aborted' as const), weight: 1 },
  { arbitrary: fc.nat(), weight: 2 },
);
const timeoutArb = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 3 },
  fc.constantFrom(0, 1, 3, 5, 10),
);
const ticksArb = fc.integer({ min: 0, max: 3 });
const countArb = fc.oneof(
  { arbitrary: fc.constant(1), weight: 3 },
  fc.integer({ min: 2, max: 18 }),
);

/** Relative weights of the commands; a run draws one profile so queues fill from either side. */
type Weights = Record<Command['t'], number>;

const PROFILES: Record<string, Weights> = {
  producers: {
    send: 32,
    trySend: 20,
    receive: 10,
    next: 4,
    tryReceive: 8,
    abort: 12,
    iteratorReturn: 4,
    advance: 12,
    select: 12,
    flush: 4,
    close: 1,
    destroy: 1,
  },
  balanced: {
    send: 24,
    trySend: 16,
    receive: 14,
    next: 6,
    tryReceive: 16,
    abort: 8,
    iteratorReturn: 4,
    advance: 8,
    select: 12,
    flush: 4,
    close: 1,
    destroy: 1,
  },
  consumers: {
    send: 16,
    trySend: 12,
    receive: 20,
    next: 8,
    tryReceive: 16,
    abort: 12,
    iteratorReturn: 6,
    advance: 12,
    select: 12,
    flush: 4,
    close: 1,
    destroy: 1,
  },
};

const commandArb = (w: Weights): fc.Arbitrary<Command> =>
  fc.oneof(
    {
      weight: w.send,
      arbitrary: fc.record({
        t: fc.constant('send' as const),
        ch: channelArb,
        producer: producerArb,
        signal: signalArb,
        timeoutMs: timeoutArb,
        ticks: ticksArb,
      }),
    },
    {
      weight: w.trySend,
      arbitrary: fc.record({
        t: fc.constant('trySend' as const),
        ch: channelArb,
        producer: producerArb,
        count: countArb,
        ticks: ticksArb,
      }),
    },
    {
      weight: w.receive,
      arbitrary: fc.record({
        t: fc.constant('receive' as const),
        ch: channelArb,
        signal: signalArb,
        timeoutMs: timeoutArb,
        ticks: ticksArb,
      }),
    },
    {
      weight: w.next,
      arbitrary: fc.record({
        t: fc.constant('next' as const),
        ch: channelArb,
        iterator: fc.oneof(fc.constant('new' as const), fc.nat()),
        signal: signalArb,
        ticks: ticksArb,
      }),
    },
    {
      weight: w.tryReceive,
      arbitrary: fc.record({
        t: fc.constant('tryReceive' as const),
        ch: channelArb,
        count: countArb,
        ticks: ticksArb,
      }),
    },
    {
      weight: w.abort,
      arbitrary: fc.record({ t: fc.constant('abort' as const), pick: fc.nat(), ticks: ticksArb }),
    },
    {
      weight: w.iteratorReturn,
      arbitrary: fc.record({
        t: fc.constant('iteratorReturn' as const),
        pick: fc.nat(),
        ticks: ticksArb,
      }),
    },
    {
      weight: w.advance,
      arbitrary: fc.record({
        t: fc.constant('advance' as const),
        ms: fc.integer({ min: 0, max: 6 }),
        ticks: ticksArb,
      }),
    },
    {
      weight: w.select,
      arbitrary: fc.record({
        t: fc.constant('select' as const),
        cases: fc.array(
          fc.record({ kind: fc.constantFrom('send' as const, 'receive' as const), ch: channelArb }),
          { minLength: 1, maxLength: 3 },
        ),
        producer: producerArb,
        signal: signalArb,
        timeoutMs: timeoutArb,
        default: fc.boolean(),
        rand: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        ticks: ticksArb,
      }),
    },
    {
      weight: w.flush,
      arbitrary: fc.record({ t: fc.constant('flush' as const), ticks: ticksArb }),
    },
    {
      weight: w.close,
      arbitrary: fc.record({ t: fc.constant('close' as const), ch: channelArb, ticks: ticksArb }),
    },
    {
      weight: w.destroy,
      arbitrary: fc.record({ t: fc.constant('destroy' as const), ch: channelArb, ticks: ticksArb }),
    },
  );

const commandsArb = fc.oneof(
  ...Object.values(PROFILES).map((w) => fc.array(commandArb(w), { maxLength: 60, size: 'max' })),
);
const finaleArb = fc.constantFrom<Finale>('destroy', 'close-drain');
const hookArb: fc.Arbitrary<HookPlan> = fc.record({
  action: fc.oneof(
    { arbitrary: fc.constant('none' as const), weight: 4 },
    fc.constantFrom(
      'tryReceive' as const,
      'trySend' as const,
      'close' as const,
      'destroy' as const,
    ),
  ),
  other: fc.boolean(),
  every: fc.integer({ min: 1, max: 3 }),
});

/** The hook's producer, for the per-producer order check. */
const HOOK_PRODUCER = 3;

// ---- the runner ----------------------------------------------------------------------------

/** One real call that returned a promise, next to its model twin. */
interface RealOp {
  readonly model: ModelOp;
  observed: Outcome | undefined;
}

interface RealSignal {
  readonly model: ModelSignal;
  readonly signal: AbortSignal;
  /** Undefined for a signal that was aborted when made. */
  readonly controller: AbortController | undefined;
  /** A rejection for this signal must carry this very object. */
  readonly reason: object;
}

interface RealIterator {
  readonly model: ModelIterator;
  readonly iterator: AsyncIterator<number, undefined>;
}

interface ItemInfo {
  readonly producer: number;
  readonly ch: number;
  readonly events: string[];
}

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

/** Enough turns for every settled promise's handlers (all one tick deep) to have run. */
const FLUSH_TICKS = 10;

/** The fates an item may end in: the sorted events the test saw for it (see `finalChecks`). */
const FATES = new Set([
  'accepted,offered,received',
  'accepted,hook:evicted,offered,result:evicted',
  'accepted,destroyed,hook:discarded,offered',
  'hook:overflow,offered,result:dropped',
  'handedBack,offered',
  'aborted,offered',
  'offered,withdrawn',
]);

class Runner {
  readonly clock = new ManualClock();
  readonly model: Model;
  readonly channels: Channel<number>[];
  readonly drops: { item: number; reason: string }[][] = [[], []];
  readonly ops: RealOp[] = [];
  readonly signals: RealSignal[] = [];
  readonly iterators: RealIterator[] = [];
  readonly items = new Map<number, ItemInfo>();
  /** Receipts by tryReceive, with the model's event order. */
  readonly syncReceipts: { item: number; seq: number }[] = [];
  /** Whether each channel's `drained` promise resolved (undefined: not asked for yet). */
  readonly drained: (boolean | undefined)[] = [undefined, undefined];
  /** What each `iterator.return()` call resolved with (undefined until it settles). */
  readonly returns: unknown[] = [];
  readonly #reasons = new Map<object, number>();
  readonly #hook: HookPlan;
  /** True while the real hook makes its call (drops it causes do not call again). */
  #inHook = false;
  /** What the real hook's calls returned, and what the model's twin returned, this step. */
  #hookLog: { real: unknown[]; model: unknown[] } = { real: [], model: [] };
  /** Items the real hook sent, for the model's hook to send the same ones. */
  readonly #hookItems: number[] = [];
  #unsettled: RealOp[] = [];
  #nextItem = 0;
  #step = 0;

  constructor(capacity: number, policy: OverflowPolicy, hook: HookPlan) {
    this.model = new Model(capacity, policy);
    this.#hook = hook;
    this.model.onDrop = this.#twinHook();
    this.channels = [0, 1].map((i) => {
      let drops = 0;
      const onDrop = (item: number, reason: string): void => {
        this.drops[i]!.push({ item, reason });
        if (hook.action === 'none' || this.#inHook || ++drops % hook.every !== 0) return;
        this.#inHook = true;
        try {
          this.#hookLog.real.push(this.#realHookCall(hook.other ? 1 - i : i));
        } finally {
          this.#inHook = false;
        }
      };
      return policy === 'drop-newest' || policy === 'drop-oldest'
        ? new Channel<number>({ capacity, overflow: policy, onDrop, clock: this.clock })
        : new Channel<number>({
            capacity,
            overflow: policy as 'block' | 'reject',
            onDrop,
            clock: this.clock,
          });
    });
    // Channel 0's `drained` is asked for at once; channel 1's lazily, at the first flush.
    this.watchDrained(0);
  }

  #realHookCall(target: number): unknown {
    const ch = this.channels[target]!;
    switch (this.#hook.action) {
      case 'tryReceive': {
        const r = ch.tryReceive();
        if (r.ok) this.event(r.value, 'received');
        return r;
      }
      case 'trySend': {
        const item = this.newItem(HOOK_PRODUCER, target);
        this.#hookItems.push(item);
        const r = ch.trySend(item);
        this.sendResultEvents(item, r);
        return r;
      }
      case 'close':
        ch.close();
        return 'closed';
      default: {
        const items = ch.destroy();
        for (const item of items) this.event(item, 'destroyed');
        return items;
      }
    }
  }

  /** The model's hook: the same plan, applied to the model. */
  #twinHook(): (ch: number, item: number, reason: string) => void {
    const drops = [0, 0];
    let inside = false;
    return (i) => {
      const hook = this.#hook;
      if (hook.action === 'none' || inside || ++drops[i]! % hook.every !== 0) return;
      inside = true;
      const target = hook.other ? 1 - i : i;
      const m = this.model;
      try {
        switch (hook.action) {
          case 'tryReceive': {
            const r = m.tryReceive(target);
            if (r.ok) this.syncReceipts.push({ item: r.value, seq: m.nextSeq() });
            this.#hookLog.model.push(r);
            break;
          }
          case 'trySend':
            this.#hookLog.model.push(m.trySend(target, this.#hookItems.shift() ?? -1));
            break;
          case 'close':
            m.close(target);
            this.#hookLog.model.push('closed');
            break;
          default:
            this.#hookLog.model.push(m.destroy(target));
        }
      } finally {
        inside = false;
      }
    };
  }

  /** The hook calls made during this step match the model's (results included). */
  #checkHookLog(where: string): void {
    same(this.#hookLog.real, this.#hookLog.model, `${where}: calls made by onDrop`);
    this.#hookLog.real = [];
    this.#hookLog.model = [];
  }

  watchDrained(i: number): void {
    if (this.drained[i] !== undefined) return;
    this.drained[i] = false;
    void this.channels[i]!.drained.then(() => {
      this.drained[i] = true;
    });
  }

  newItem(producer: number, ch: number): number {
    const item = this.#nextItem++;
    this.items.set(item, { producer, ch, events: ['offered'] });
    return item;
  }

  event(item: number, event: string): void {
    const info = this.items.get(item);
    check(info !== undefined, () => `${event} for an item never offered: ${inspect(item)}`);
    info!.events.push(event);
  }

  /** Records what a send result (trySend, send, a select's send case) says about `item`. */
  sendResultEvents(item: number, result: unknown): void {
    const r = result as { ok: boolean; evicted?: number; reason?: string; value?: number };
    if (r.ok) {
      this.event(item, 'accepted');
      if ('evicted' in r) this.event(r.evicted!, 'result:evicted');
    } else {
      check(r.value === item, () => `a failed send handed back ${r.value}, not ${item}`);
      this.event(item, r.reason === 'dropped' ? 'result:dropped' : 'handedBack');
    }
  }

  signalFor(choice: SignalChoice): RealSignal | undefined {
    if (choice === 'none') return undefined;
    if (typeof choice === 'number' && this.signals.length > 0) {
      return this.signals[choice % this.signals.length];
    }
    const id = this.signals.length;
    const reason = { abortReasonOfSignal: id };
    this.#reasons.set(reason, id);
    const controller = choice === 'aborted' ? undefined : new AbortController();
    const real: RealSignal = {
      model: { id, aborted: choice === 'aborted' },
      signal: controller?.signal ?? AbortSignal.abort(reason),
      controller,
      reason,
    };
    this.signals.push(real);
    return real;
  }

  newOp(
    kind: ModelOp['kind'],
    ch: number,
    extra: {
      signal: RealSignal | undefined;
      timeoutMs: number | undefined;
      item?: number;
      cases?: ModelOp['cases'];
      iterator?: ModelIterator;
    },
  ): RealOp {
    const model: ModelOp = {
      id: this.ops.length,
      kind,
      ch,
      signal: extra.signal?.model,
      timeoutMs: extra.timeoutMs,
      dueAt: undefined,
      timerSeq: -1,
      outcome: undefined,
      settledSeq: -1,
      ...(extra.item === undefined ? {} : { item: extra.item }),
      ...(extra.cases === undefined ? {} : { cases: extra.cases }),
      ...(extra.iterator === undefined ? {} : { iterator: extra.iterator }),
    };
    this.model.ops.push(model);
    const op: RealOp = { model, observed: undefined };
    this.ops.push(op);
    this.#unsettled.push(op);
    return op;
  }

  observe(op: RealOp, promise: Promise<unknown>): void {
    promise.then(
      (value) => {
        check(op.observed === undefined, () => `op ${op.model.id} settled twice`);
        op.observed = { status: 'resolved', value };
      },
      (error: unknown) => {
        check(op.observed === undefined, () => `op ${op.model.id} settled twice`);
        op.observed = { status: 'rejected', error: this.errorSpec(error) };
      },
    );
  }

  errorSpec(error: unknown): ErrorSpec {
    const signal = typeof error === 'object' && error !== null && this.#reasons.get(error);
    if (typeof signal === 'number') return { kind: 'abort', signal };
    if (error instanceof ChannelClosedError) {
      return { kind: 'closed', hasValue: error.hasValue, value: error.value as number | undefined };
    }
    if (error instanceof ChannelFullError) return { kind: 'full', value: error.value as number };
    if (error instanceof TimeoutError) {
      return {
        kind: 'timeout',
        timeoutMs: error.timeoutMs,
        hasValue: error.hasValue,
        value: error.value as number | undefined,
      };
    }
    return { kind: 'unexpected', error: inspect(error) };
  }

  async run(commands: readonly Command[], finale: Finale): Promise<void> {
    this.verify(true);
    for (const command of commands) {
      this.#step++;
      this.apply(command);
      this.verify(false);
      await microtasks(command.ticks);
      if (command.t === 'flush') {
        this.watchDrained(1);
        await microtasks(FLUSH_TICKS);
      }
      this.verify(command.t === 'flush');
    }
    this.#step++;
    if (finale === 'destroy') {
      for (const i of [0, 1]) this.destroy(i);
    } else {
      for (const i of [0, 1]) {
        this.channels[i]!.close();
        this.model.close(i);
        this.verify(false);
        for (;;) {
          const r = this.tryReceive(i);
          this.verify(false);
          if (!r.ok) break;
        }
      }
    }
    this.watchDrained(1);
    // Nothing may be left for timers to do: advancing time past every timeout changes nothing.
    this.clock.advance(100);
    this.model.advance(100);
    await microtasks(FLUSH_TICKS);
    this.verify(true);
    same(
      this.returns,
      this.returns.map(() => ({ done: true, value: undefined })),
      'what iterator.return() resolved with',
    );
    this.finalChecks();
  }

  apply(c: Command): void {
    switch (c.t) {
      case 'send': {
        const item = this.newItem(c.producer, c.ch);
        const signal = this.signalFor(c.signal);
        const op = this.newOp('send', c.ch, { item, signal, timeoutMs: c.timeoutMs });
        this.observe(op, this.channels[c.ch]!.send(item, waitOptions(signal, c.timeoutMs)));
        this.model.send(op.model, item);
        return;
      }
      case 'trySend':
        for (let k = 0; k < c.count; k++) {
          const item = this.newItem(c.producer, c.ch);
          const actual = this.channels[c.ch]!.trySend(item);
          const expected = this.model.trySend(c.ch, item);
          same(actual, expected, `trySend(${item}) on channel ${c.ch}`);
          this.sendResultEvents(item, actual);
        }
        return;
      case 'receive': {
        const signal = this.signalFor(c.signal);
        const op = this.newOp('receive', c.ch, { signal, timeoutMs: c.timeoutMs });
        this.observe(op, this.channels[c.ch]!.receive(waitOptions(signal, c.timeoutMs)));
        this.model.receive(op.model);
        return;
      }
      case 'next': {
        let it: RealIterator;
        if (c.iterator === 'new' || this.iterators.length === 0) {
          const signal = this.signalFor(c.signal);
          const channel = this.channels[c.ch]!;
          it = {
            model: { id: this.iterators.length, ch: c.ch, signal: signal?.model, returned: false },
            iterator:
              signal === undefined
                ? channel[Symbol.asyncIterator]()
                : channel.iterate({ signal: signal.signal }),
          };
          this.iterators.push(it);
        } else {
          it = this.iterators[c.iterator % this.iterators.length]!;
        }
        const signal = this.signals.find((s) => s.model === it.model.signal);
        const op = this.newOp('iterate', it.model.ch, {
          signal,
          timeoutMs: undefined,
          iterator: it.model,
        });
        this.observe(op, it.iterator.next());
        this.model.receive(op.model);
        return;
      }
      case 'tryReceive':
        for (let k = 0; k < c.count; k++) this.tryReceive(c.ch);
        return;
      case 'abort': {
        const live = this.signals.filter((s) => s.controller !== undefined && !s.model.aborted);
        if (live.length === 0) return;
        const s = live[c.pick % live.length]!;
        s.controller!.abort(s.reason);
        this.model.abort(s.model);
        return;
      }
      case 'iteratorReturn': {
        if (this.iterators.length === 0) return;
        const it = this.iterators[c.pick % this.iterators.length]!;
        const index = this.returns.push(undefined) - 1;
        it.iterator.return!().then(
          (r) => (this.returns[index] = r),
          (e: unknown) => (this.returns[index] = { rejected: e }),
        );
        this.model.iteratorReturn(it.model);
        return;
      }
      case 'advance':
        this.clock.advance(c.ms);
        this.model.advance(c.ms);
        return;
      case 'close':
        this.channels[c.ch]!.close();
        this.model.close(c.ch);
        return;
      case 'destroy':
        this.destroy(c.ch);
        return;
      case 'select': {
        const cases = c.cases.map((k) =>
          k.kind === 'send'
            ? { kind: 'send' as const, ch: k.ch, item: this.newItem(c.producer, k.ch) }
            : { kind: 'receive' as const, ch: k.ch },
        );
        const signal = this.signalFor(c.signal);
        const op = this.newOp('select', cases[0]!.ch, { cases, signal, timeoutMs: c.timeoutMs });
        const real: SelectCase[] = cases.map((k) =>
          k.kind === 'send'
            ? onSend(this.channels[k.ch]!, k.item)
            : onReceive(this.channels[k.ch]!),
        );
        const random = Math.random;
        let draws = 0;
        Math.random = () => {
          draws++;
          return c.rand;
        };
        try {
          this.observe(
            op,
            select(real, {
              clock: this.clock,
              default: c.default,
              ...waitOptions(signal, c.timeoutMs),
            }),
          );
        } finally {
          Math.random = random;
        }
        check(draws <= 1, () => `select drew Math.random() ${draws} times`);
        this.model.select(op.model, c.default, c.rand);
        return;
      }
      case 'flush':
        return; // run() flushes and checks that every settled promise was seen
    }
  }

  tryReceive(ch: number): { ok: boolean } {
    const actual = this.channels[ch]!.tryReceive();
    const expected = this.model.tryReceive(ch);
    same(actual, expected, `tryReceive() on channel ${ch}`);
    if (actual.ok) {
      this.event(actual.value, 'received');
      this.syncReceipts.push({ item: actual.value, seq: this.model.nextSeq() });
    }
    return actual;
  }

  destroy(ch: number): void {
    const actual = this.channels[ch]!.destroy();
    const expected = this.model.destroy(ch);
    same(actual, expected, `destroy() of channel ${ch}`);
    for (const item of actual) this.event(item, 'destroyed');
  }

  /** Compares everything observable with the model. `flushed`: all settled handlers have run. */
  verify(flushed: boolean): void {
    const where = `step ${this.#step}`;
    this.#checkHookLog(where);
    for (const i of [0, 1]) {
      const ch = this.channels[i]!;
      const m = this.model.channels[i]!;
      ch.assertInvariants();
      same(ch.stats(), m.stats(), `${where}: stats() of channel ${i}`);
      same(
        [ch.size, ch.waitingSenders, ch.waitingReceivers, ch.state, ch.isClosed],
        [m.buffer.length, m.senders.length, m.receivers.length, m.state, m.state !== 'open'],
        `${where}: getters of channel ${i}`,
      );
      same(this.drops[i], m.drops, `${where}: onDrop calls of channel ${i}`);
      const drained = this.drained[i];
      if (drained !== undefined) {
        const drainedNow = m.state !== 'open' && m.buffer.length === 0;
        if (flushed) same(drained, drainedNow, `${where}: drained of channel ${i} resolved`);
        else check(!drained || drainedNow, () => `${where}: channel ${i} drained early`);
      }
    }
    same(this.clock.pendingTimers, this.model.pendingTimers, `${where}: pending timers`);
    same(this.clock.now(), this.model.now, `${where}: clock`);
    // Ops whose settlement was seen (and matched) are final; only the others need looking at.
    const listeners = new Map<ModelSignal, number>();
    this.#unsettled = this.#unsettled.filter((op) => {
      const { model } = op;
      const expected = model.outcome;
      const what = `${where}: op ${model.id} (${model.kind})`;
      if (op.observed !== undefined) same(op.observed, expected, `${what} settled`);
      else if (flushed) same(undefined, expected, `${what} still pending`);
      if (expected === undefined && model.signal !== undefined) {
        listeners.set(model.signal, (listeners.get(model.signal) ?? 0) + 1);
      }
      return op.observed === undefined;
    });
    for (const s of this.signals) {
      same(
        getEventListeners(s.signal, 'abort').length,
        listeners.get(s.model) ?? 0,
        `${where}: abort listeners on signal ${s.model.id}`,
      );
    }
  }

  /**
   * Conservation, per-producer order and no hung waiter, from what the test saw. Each item
   * collects events: `offered`; `accepted` (a send reported it sent); `received`; `hook:<reason>`
   * (onDrop); `result:evicted` / `result:dropped` (a send result reported the drop);
   * `destroyed` (returned by destroy()); `handedBack` (a failed call gave it back); `aborted`
   * (its send rejected with the signal's reason); `withdrawn` (its select case did not run).
   * The sorted events must form exactly one of FATES.
   */
  finalChecks(): void {
    const receipts = [...this.syncReceipts];
    for (const op of this.ops) {
      const { model } = op;
      check(op.observed !== undefined, () => `op ${model.id} (${model.kind}) never settled`);
      const outcome = op.observed!;
      if (model.kind === 'send') {
        const item = model.item!;
        if (outcome.status === 'resolved') this.sendResultEvents(item, outcome.value);
        else if (outcome.error.kind === 'abort') this.event(item, 'aborted');
        else this.handedBack(outcome.error, item);
      } else if (model.kind === 'receive' || model.kind === 'iterate') {
        if (outcome.status !== 'resolved') continue;
        let value = outcome.value as number | undefined;
        if (model.kind === 'iterate') {
          const r = outcome.value as IteratorResult<number, undefined>;
          value = r.done ? undefined : r.value;
        }
        if (value === undefined) continue;
        this.event(value, 'received');
        receipts.push({ item: value, seq: model.settledSeq });
      } else {
        const cases = model.cases!;
        let ran: number | undefined;
        if (outcome.status === 'resolved') {
          const r = outcome.value as { index: number; kind: string; ok?: boolean; value?: number };
          if (r.index >= 0) {
            ran = r.index;
            check(cases[ran]?.kind === r.kind, () => `select case ${ran} is not a ${r.kind}`);
            if (r.kind === 'send') {
              this.sendResultEvents(cases[ran]!.item!, (r as { result?: unknown }).result);
            } else if (r.ok) {
              this.event(r.value!, 'received');
              receipts.push({ item: r.value!, seq: model.settledSeq });
            }
          }
        } else if (outcome.error.kind === 'closed' && outcome.error.hasValue) {
          const { value } = outcome.error;
          ran = cases.findIndex((k) => k.kind === 'send' && k.item === value);
          check(ran >= 0, () => `select rejected with an item of no send case: ${value}`);
          this.event(value!, 'handedBack');
        }
        cases.forEach((k, i) => {
          if (k.kind === 'send' && i !== ran) this.event(k.item!, 'withdrawn');
        });
      }
    }
    for (const i of [0, 1]) {
      for (const d of this.drops[i]!) this.event(d.item, `hook:${d.reason}`);
    }
    for (const [item, info] of this.items) {
      const fate = [...info.events].sort().join(',');
      check(FATES.has(fate), () => `item ${item} ended as [${fate}], which is no single fate`);
    }

    receipts.sort((a, b) => a.seq - b.seq);
    const last = new Map<string, number>();
    for (const { item } of receipts) {
      const info = this.items.get(item)!;
      const key = `${info.producer}/${info.ch}`;
      const before = last.get(key) ?? -1;
      check(
        item > before,
        () => `producer ${info.producer} on channel ${info.ch}: ${item} received after ${before}`,
      );
      last.set(key, item);
    }

    same(this.clock.pendingTimers, 0, 'timers left armed at the end');
  }

  handedBack(error: ErrorSpec, item: number): void {
    const value = 'value' in error ? error.value : undefined;
    check(
      value === item && (error.kind === 'full' || ('hasValue' in error && error.hasValue)),
      () => `a failed send of ${item} rejected with ${inspect(error)}`,
    );
    this.event(item, 'handedBack');
  }
}

function waitOptions(
  signal: RealSignal | undefined,
  timeoutMs: number | undefined,
): { signal?: AbortSignal; timeoutMs?: number } | undefined {
  if (signal === undefined && timeoutMs === undefined) return undefined;
  return {
    ...(signal === undefined ? {} : { signal: signal.signal }),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  };
}

// ---- the properties ------------------------------------------------------------------------

const POLICIES: readonly OverflowPolicy[] = ['block', 'reject', 'drop-newest', 'drop-oldest'];
const CAPACITIES = [0, 1, 2, 16];
const CONFIGS = POLICIES.flatMap((policy) =>
  CAPACITIES.filter((capacity) => capacity >= 1 || policy === 'block' || policy === 'reject').map(
    (capacity) => ({ policy, capacity }),
  ),
);

const NUM_RUNS = propRuns(150);

describe('Channel against a model', () => {
  it.each(CONFIGS)('capacity $capacity, $policy', async ({ capacity, policy }) => {
    await fc.assert(
      fc.asyncProperty(commandsArb, finaleArb, hookArb, async (commands, finale, hook) => {
        await new Runner(capacity, policy, hook).run(commands, finale);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
