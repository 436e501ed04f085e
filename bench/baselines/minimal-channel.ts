/**
 * Baseline: a minimal hand-written promise channel, the yardstick for sluice's `Channel`.
 *
 * It has the same observable semantics for the benchmarked paths (bounded FIFO buffer, capacity 0
 * is a rendezvous, `send` resolves once the item is buffered or handed to a receiver, FIFO
 * senders and receivers, `close` lets receivers drain then ends iteration) and nothing else: no
 * options, validation, signals, timeouts, select, drop policies, hooks or statistics.
 *
 * It is written to be tight: the buffer is a preallocated power-of-two ring; waiting senders and
 * receivers live in flat growable rings (several slots per waiter, no waiter objects); a promise
 * is allocated only when a call must wait (otherwise `send` returns one shared resolved promise);
 * the channel is its own async iterator.
 */

const RESOLVED: Promise<void> = Promise.resolve();
const DONE: IteratorResult<never, undefined> = Object.freeze({ done: true, value: undefined });
const RESOLVED_DONE: Promise<IteratorResult<never, undefined>> = Promise.resolve(DONE);

type Resolve = (value: unknown) => void;
type Reject = (reason: unknown) => void;

/** A growable ring of slots: O(1) push and shift; a waiter takes several consecutive slots. */
class Slots {
  items: unknown[] = new Array(16).fill(undefined);
  head = 0;
  length = 0;

  push(value: unknown): void {
    let items = this.items;
    if (this.length === items.length) {
      const next = new Array(items.length * 2).fill(undefined);
      for (let i = 0; i < this.length; i++) next[i] = items[(this.head + i) & (items.length - 1)];
      this.items = items = next;
      this.head = 0;
    }
    items[(this.head + this.length) & (items.length - 1)] = value;
    this.length++;
  }

  shift(): unknown {
    const items = this.items;
    const value = items[this.head];
    items[this.head] = undefined;
    this.head = (this.head + 1) & (items.length - 1);
    this.length--;
    return value;
  }
}

/** What a waiting receiver wants: the bare item (`receive`) or an iterator result (`next`). */
const RECEIVE = 0;
const ITERATE = 1;

export class MinimalChannel<T> implements AsyncIterableIterator<T, undefined, undefined> {
  readonly #capacity: number;
  readonly #buffer: (T | undefined)[];
  readonly #mask: number;
  #head = 0;
  #size = 0;
  /** Three slots per waiting sender: item, resolve, reject. */
  readonly #senders = new Slots();
  /** Three slots per waiting receiver: mode, resolve, reject. */
  readonly #receivers = new Slots();
  #closed = false;

  constructor(capacity: number) {
    let size = 1;
    while (size < capacity) size *= 2;
    this.#capacity = capacity;
    this.#buffer = capacity === 0 ? [] : Array.from({ length: size }, () => undefined);
    this.#mask = size - 1;
  }

  send(item: T): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('send on a closed channel'));
    if (this.#receivers.length > 0) {
      this.#deliver(item);
      return RESOLVED;
    }
    if (this.#size < this.#capacity) {
      this.#buffer[(this.#head + this.#size) & this.#mask] = item;
      this.#size++;
      return RESOLVED;
    }
    return new Promise((resolve, reject) => {
      const senders = this.#senders;
      senders.push(item);
      senders.push(resolve);
      senders.push(reject);
    });
  }

  trySend(item: T): boolean {
    if (this.#closed) return false;
    if (this.#receivers.length > 0) {
      this.#deliver(item);
      return true;
    }
    if (this.#size < this.#capacity) {
      this.#buffer[(this.#head + this.#size) & this.#mask] = item;
      this.#size++;
      return true;
    }
    return false;
  }

  /** The next item, or `undefined` when there is none (like the raw ring: no result object). */
  tryReceive(): T | undefined {
    if (this.#size > 0) return this.#take();
    if (this.#senders.length > 0) return this.#takeSender();
    return undefined;
  }

  receive(): Promise<T> {
    if (this.#size > 0) return Promise.resolve(this.#take());
    if (this.#senders.length > 0) return Promise.resolve(this.#takeSender());
    if (this.#closed) return Promise.reject(new Error('receive on a closed channel'));
    return new Promise((resolve, reject) => {
      const receivers = this.#receivers;
      receivers.push(RECEIVE);
      receivers.push(resolve);
      receivers.push(reject);
    });
  }

  next(): Promise<IteratorResult<T, undefined>> {
    if (this.#size > 0) return Promise.resolve({ done: false, value: this.#take() });
    if (this.#senders.length > 0)
      return Promise.resolve({ done: false, value: this.#takeSender() });
    if (this.#closed) return RESOLVED_DONE;
    return new Promise((resolve, reject) => {
      const receivers = this.#receivers;
      receivers.push(ITERATE);
      receivers.push(resolve);
      receivers.push(reject);
    });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Waiting senders reject; waiting receivers end (iterators) or reject; buffered items stay. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const senders = this.#senders;
    while (senders.length > 0) {
      senders.shift();
      senders.shift();
      (senders.shift() as Reject)(new Error('channel closed'));
    }
    const receivers = this.#receivers;
    while (receivers.length > 0) {
      const mode = receivers.shift();
      const resolve = receivers.shift() as Resolve;
      const reject = receivers.shift() as Reject;
      if (mode === ITERATE) resolve(DONE);
      else reject(new Error('channel closed'));
    }
  }

  /** Hands `item` to the oldest waiting receiver. */
  #deliver(item: T): void {
    const receivers = this.#receivers;
    const mode = receivers.shift();
    const resolve = receivers.shift() as Resolve;
    receivers.shift();
    resolve(mode === ITERATE ? { done: false, value: item } : item);
  }

  /** Takes the head of the buffer and moves the oldest waiting sender's item into the room. */
  #take(): T {
    const buffer = this.#buffer;
    const head = this.#head;
    const item = buffer[head] as T;
    buffer[head] = undefined;
    this.#head = (head + 1) & this.#mask;
    const senders = this.#senders;
    if (senders.length > 0) {
      buffer[(head + this.#size) & this.#mask] = senders.shift() as T;
      (senders.shift() as Resolve)(undefined);
      senders.shift();
    } else {
      this.#size--;
    }
    return item;
  }

  /** Capacity 0: takes the oldest waiting sender's item directly. */
  #takeSender(): T {
    const senders = this.#senders;
    const item = senders.shift() as T;
    (senders.shift() as Resolve)(undefined);
    senders.shift();
    return item;
  }
}
