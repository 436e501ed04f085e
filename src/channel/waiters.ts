/**
 * The records a channel keeps for calls that wait. A waiter belongs either to one plain call
 * (`send`, `receive`, an iterator's `next`) or to one case of a `select`; in the second case
 * `run` is the select, which settles once for all its cases.
 */
import type { TimerHandle } from '../clock.js';
import type { Linked } from '../internal/waiter-list.js';
import type { NotSent, SendResult, Sent } from './types.js';

/** What a channel tells a waiting `select` when one of its cases can complete. */
export interface SelectRun {
  /** True once the select has settled; its waiters are then unlinked. */
  readonly done: boolean;
  /** A receive case completed: with an item, or (`ok` false) because the channel closed. */
  received(index: number, ok: boolean, value: unknown): void;
  /** A send case completed. */
  sent(index: number, result: SendResult<unknown>): void;
  /** A case failed (a send case's channel closed): the select rejects with `error`. */
  failed(error: unknown): void;
}

/** How a plain receive waiter resolves: with the item, or with an iterator result. */
export const RECEIVE = 0;
export const ITERATE = 1;

/** What a plain receive waiter of `mode` resolves with when it is handed `item`. */
export function received(mode: number, item: unknown): unknown {
  return mode === RECEIVE ? item : { done: false, value: item };
}

function unset(): void {}

export class SendWaiter<T> implements Linked<SendWaiter<T>> {
  prev: SendWaiter<T> | undefined = undefined;
  next: SendWaiter<T> | undefined = undefined;
  list: object | undefined = undefined;
  /** Settle a plain send (set right after the waiter is made; unused by `select` cases). */
  resolve: (result: Sent | NotSent<unknown>) => void = unset;
  reject: (error: unknown) => void = unset;
  /** Removes the abort listener of a plain send. */
  unlisten: (() => void) | undefined = undefined;
  /** The timeout of a plain send. */
  timer: TimerHandle | undefined = undefined;
  /**
   * When a plain send's wait started, if that was published. `undefined`, not a number, when
   * it was not: a field that starts as a non-integer number is boxed, one more allocation per
   * wait (measured: +20% on a rendezvous channel).
   */
  since: number | undefined = undefined;

  constructor(
    readonly item: T,
    readonly run: SelectRun | undefined,
    readonly index: number,
  ) {}
}

export class ReceiveWaiter<T> implements Linked<ReceiveWaiter<T>> {
  prev: ReceiveWaiter<T> | undefined = undefined;
  next: ReceiveWaiter<T> | undefined = undefined;
  list: object | undefined = undefined;
  // `unknown` rather than T keeps Channel<T> assignable to Channel<unknown>; it receives a T
  // (RECEIVE) or an IteratorResult<T> (ITERATE).
  resolve: (value: unknown) => void = unset;
  reject: (error: unknown) => void = unset;
  unlisten: (() => void) | undefined = undefined;
  timer: TimerHandle | undefined = undefined;
  since: number | undefined = undefined;

  constructor(
    /** {@link RECEIVE} or {@link ITERATE}. */
    readonly mode: number,
    readonly run: SelectRun | undefined,
    readonly index: number,
    /** The iterator a step belongs to, so its `return()` can end it. */
    readonly owner: object | undefined = undefined,
  ) {}
}

let capturedResolve: (value: never) => void = unset;
let capturedReject: (error: unknown) => void = unset;

function capture(resolve: (value: never) => void, reject: (error: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/**
 * A promise settled through `waiter.resolve` / `waiter.reject`. One shared executor stores the
 * functions, so a wait allocates no closure (this is on every blocked send and receive).
 */
export function promiseFor<R>(waiter: {
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}): Promise<R> {
  const promise = new Promise<R>(capture as unknown as (resolve: (value: R) => void) => void);
  waiter.resolve = capturedResolve as (value: R) => void;
  waiter.reject = capturedReject;
  return promise;
}
