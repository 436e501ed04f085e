/**
 * The records a channel keeps for calls that wait. A waiter belongs either to one plain call
 * (`send`, `receive`, an iterator's `next`) or to one case of a `select`; in the second case
 * `run` is the select, which settles once for all its cases.
 */
import type { TimerHandle } from '../clock.js';
import type { Linked } from '../internal/waiter-list.js';
import type { SendResult, Sent } from './types.js';

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

export class SendWaiter<T> implements Linked<SendWaiter<T>> {
  prev: SendWaiter<T> | undefined = undefined;
  next: SendWaiter<T> | undefined = undefined;
  list: object | undefined = undefined;
  /** Removes the abort listener of a plain send. */
  unlisten: (() => void) | undefined = undefined;
  /** The timeout of a plain send. */
  timer: TimerHandle | undefined = undefined;

  constructor(
    readonly item: T,
    readonly resolve: (result: Sent) => void,
    readonly reject: (error: unknown) => void,
    readonly run: SelectRun | undefined,
    readonly index: number,
  ) {}
}

export class ReceiveWaiter<T> implements Linked<ReceiveWaiter<T>> {
  prev: ReceiveWaiter<T> | undefined = undefined;
  next: ReceiveWaiter<T> | undefined = undefined;
  list: object | undefined = undefined;
  unlisten: (() => void) | undefined = undefined;
  timer: TimerHandle | undefined = undefined;

  constructor(
    /** {@link RECEIVE} or {@link ITERATE}. */
    readonly mode: number,
    // `unknown` rather than T keeps Channel<T> assignable to Channel<unknown>; it receives a T
    // (RECEIVE) or an IteratorResult<T> (ITERATE).
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: unknown) => void,
    readonly run: SelectRun | undefined,
    readonly index: number,
    /** The iterator a step belongs to, so its `return()` can end it. */
    readonly owner: object | undefined = undefined,
  ) {}
}
