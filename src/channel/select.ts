/**
 * `select`: wait for the first of several channel operations, like Go's `select` statement.
 *
 * Atomic: exactly one case completes. A case that loses consumed nothing and sent nothing.
 * Fair: when several cases are ready at the call, one is chosen uniformly at random (Go's rule),
 * so a busy channel cannot starve another. While waiting, the first case that becomes possible
 * wins.
 *
 * It works in passes, as Go's runtime does:
 * 1. poll every case; if any is ready, complete one chosen at random and return;
 * 2. otherwise return the default, if there is one;
 * 3. otherwise enqueue a waiter on every case's channel; the first channel to complete one of
 *    them settles the select, which unlinks all the others in the same synchronous step.
 */
import { type Clock, checkClock } from '../clock.js';
import { ChannelClosedError, TimeoutError } from '../errors.js';
import { checkSignal, listenForAbort } from '../internal/abort.js';
import { describe } from '../internal/describe.js';
import { checkDuration, checkOptions } from '../internal/validate.js';
import { Channel, channelInternals } from './channel.js';
import type { SendResult } from './types.js';
import type { ReceiveWaiter, SelectRun, SendWaiter } from './waiters.js';

/** A `select` case that receives from `channel`. Make one with {@link onReceive}. */
export interface ReceiveCase<T> {
  readonly kind: 'receive';
  readonly channel: Channel<T>;
}

/** A `select` case that sends `value` to `channel`. Make one with {@link onSend}. */
export interface SendCase<T> {
  readonly kind: 'send';
  readonly channel: Channel<T>;
  readonly value: T;
}

/** Any `select` case. */
// biome-ignore lint/suspicious/noExplicitAny: a case of any item type; results stay typed per case.
export type SelectCase = ReceiveCase<any> | SendCase<any>;

/** The result of a receive case: an item, or `ok: false` because the channel is closed and drained. */
export type ReceiveCaseResult<I extends number, T> =
  | { readonly index: I; readonly kind: 'receive'; readonly ok: true; readonly value: T }
  | { readonly index: I; readonly kind: 'receive'; readonly ok: false; readonly value?: undefined };

/** The result of a send case: what the send did, as `trySend` reports it. */
export interface SendCaseResult<I extends number, T> {
  readonly index: I;
  readonly kind: 'send';
  readonly result: SendResult<T>;
}

/** Returned when `default: true` was given and no case was ready. */
export interface SelectDefault {
  readonly index: -1;
  readonly kind: 'default';
}

type CaseResult<C, I extends number> =
  C extends ReceiveCase<infer T>
    ? ReceiveCaseResult<I, T>
    : C extends SendCase<infer T>
      ? SendCaseResult<I, T>
      : never;

/** Which case won and its outcome; `index` is the case's position in the array. */
export type SelectResult<C extends readonly SelectCase[]> = {
  [K in keyof C]: CaseResult<C[K], K extends `${infer N extends number}` ? N : number>;
}[number];

/** Options for {@link select}. */
export interface SelectOptions {
  /** Abort the wait: the select rejects with `signal.reason` and no case completes. */
  readonly signal?: AbortSignal | undefined;
  /** Give up after this many milliseconds with a `TimeoutError`. Default: never. */
  readonly timeoutMs?: number | undefined;
  /** If no case is ready now, resolve with `{ index: -1, kind: 'default' }` instead of waiting. */
  readonly default?: boolean | undefined;
  /** The clock for `timeoutMs`. Default: the system clock. */
  readonly clock?: Clock | undefined;
}

/** A case that receives from `channel`. */
export function onReceive<T>(channel: Channel<T>): ReceiveCase<T> {
  return { kind: 'receive', channel };
}

/** A case that sends `value` to `channel`. */
export function onSend<T>(channel: Channel<T>, value: T): SendCase<T> {
  return { kind: 'send', channel, value };
}

/**
 * Waits until one of `cases` can complete, completes exactly that one, and resolves with which
 * it was (`index`, `kind`) and its outcome.
 *
 * A receive case is ready when an item is buffered, a sender waits, or the channel is closed
 * (then it resolves with `ok: false`). A send case is ready when a receiver waits or the buffer
 * has room, always under a drop policy (its `result` then reports any drop), and when its
 * channel is closed (then, if chosen, the select rejects). Under `reject`, a full channel's
 * send case waits like any other case; pass `default: true` never to wait.
 *
 * Cancellation: when `signal` aborts or `timeoutMs` passes, no case completes and the select
 * rejects with `signal.reason` untouched, or a `TimeoutError`.
 *
 * Ordering: among cases ready at the call, the choice is uniformly random. A waiting select
 * queues on each channel like a plain `send`/`receive`, FIFO with other waiters.
 *
 * Errors: a RangeError or TypeError for an empty or malformed case list or bad options;
 * `ChannelClosedError` (carrying the value) if a send case's channel is closed when that case
 * is chosen or while the select waits — as in Go, where a send on a closed channel panics.
 *
 * @example
 * ```ts
 * const r = await select([onReceive(jobs), onReceive(control)], { timeoutMs: 1000 });
 * if (r.index === 0 && r.ok) handle(r.value);
 * ```
 */
export function select<const C extends readonly SelectCase[]>(
  cases: C,
  options: SelectOptions & { readonly default: true },
): Promise<SelectResult<C> | SelectDefault>;
export function select<const C extends readonly SelectCase[]>(
  cases: C,
  options?: SelectOptions,
): Promise<SelectResult<C>>;
export function select(
  cases: readonly SelectCase[],
  options: SelectOptions = {},
): Promise<SelectResult<readonly SelectCase[]> | SelectDefault> {
  checkCases(cases);
  checkOptions('options', options);
  const signal = checkSignal(options.signal);
  const timeoutMs =
    options.timeoutMs === undefined ? Infinity : checkDuration('timeoutMs', options.timeoutMs);
  const clock = checkClock(options.clock);
  if (options.default !== undefined && typeof options.default !== 'boolean') {
    throw new TypeError(`Expected \`default\` to be a boolean, got ${describe(options.default)}`);
  }
  if (signal?.aborted) return Promise.reject(signal.reason);

  const ch = channelInternals();
  let ready = 0;
  for (const c of cases) if (isReady(c)) ready++;
  if (ready > 0) {
    let pick = Math.floor(Math.random() * ready);
    for (let index = 0; index < cases.length; index++) {
      const c = cases[index] as SelectCase;
      if (!isReady(c) || pick-- > 0) continue;
      if (c.kind === 'receive') {
        const r = ch.receiveNow(c.channel);
        return Promise.resolve(
          r.ok
            ? { index, kind: 'receive', ok: true, value: r.value }
            : { index, kind: 'receive', ok: false },
        );
      }
      if (c.channel.isClosed) return Promise.reject(new ChannelClosedError(c.value));
      return Promise.resolve({ index, kind: 'send', result: ch.sendNow(c.channel, c.value) });
    }
  }
  if (options.default === true) return Promise.resolve({ index: -1, kind: 'default' });
  if (timeoutMs === 0) return Promise.reject(new TimeoutError(0));

  return new Promise((resolve, reject) => {
    const run = new WaitingSelect(resolve, reject, clock);
    for (let index = 0; index < cases.length; index++) {
      const c = cases[index] as SelectCase;
      run.waiters.push(
        c.kind === 'receive'
          ? ch.waitToReceive(c.channel, run, index)
          : ch.waitToSend(c.channel, c.value, run, index),
      );
    }
    if (signal !== undefined) {
      run.unlisten = listenForAbort(signal, (reason) => {
        run.unlisten = undefined;
        run.failed(reason);
      });
    }
    if (timeoutMs !== Infinity) {
      run.timer = clock.setTimer(() => {
        run.timer = undefined;
        run.failed(new TimeoutError(timeoutMs));
      }, timeoutMs);
    }
  });
}

function isReady(c: SelectCase): boolean {
  const ch = channelInternals();
  return c.kind === 'receive' ? ch.canReceive(c.channel) : ch.canSend(c.channel);
}

/** A select that is waiting on every case's channel; settles once, then unlinks them all. */
class WaitingSelect implements SelectRun {
  done = false;
  readonly waiters: (ReceiveWaiter<unknown> | SendWaiter<unknown>)[] = [];
  unlisten: (() => void) | undefined = undefined;
  timer: ReturnType<Clock['setTimer']> | undefined = undefined;

  constructor(
    readonly resolve: (result: SelectResult<readonly SelectCase[]>) => void,
    readonly reject: (error: unknown) => void,
    readonly clock: Clock,
  ) {}

  received(index: number, ok: boolean, value: unknown): void {
    if (this.#finish()) {
      this.resolve(
        ok ? { index, kind: 'receive', ok: true, value } : { index, kind: 'receive', ok: false },
      );
    }
  }

  sent(index: number, result: SendResult<unknown>): void {
    if (this.#finish()) this.resolve({ index, kind: 'send', result });
  }

  failed(error: unknown): void {
    if (this.#finish()) this.reject(error);
  }

  /** Marks the select settled and unlinks every waiter; false if it had settled already. */
  #finish(): boolean {
    if (this.done) return false;
    this.done = true;
    const ch = channelInternals();
    for (const waiter of this.waiters) ch.unlink(waiter);
    if (this.unlisten !== undefined) this.unlisten();
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.unlisten = this.timer = undefined;
    return true;
  }
}

function checkCases(cases: unknown): asserts cases is readonly SelectCase[] {
  if (!Array.isArray(cases)) {
    throw new TypeError(
      `Expected \`cases\` to be an array of select cases, got ${describe(cases)}`,
    );
  }
  if (cases.length === 0) {
    throw new RangeError('Expected `cases` to hold at least one case, got `[]` (array)');
  }
  for (let index = 0; index < cases.length; index++) {
    const c: unknown = cases[index];
    const k = (c as SelectCase | null | undefined)?.kind;
    if ((k !== 'receive' && k !== 'send') || !((c as SelectCase).channel instanceof Channel)) {
      throw new TypeError(
        `Expected \`cases[${index}]\` to be made by onReceive() or onSend(), got ${describe(c)}`,
      );
    }
  }
}
