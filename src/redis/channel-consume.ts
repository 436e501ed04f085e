/**
 * `RedisChannel#consume`: the in-process worker pool (`src/flow/consume.ts`) run over the
 * channel's deliveries, so both pools have one shape, one error policy and one shutdown story.
 *
 * The pool reads from an async iterator whose `next()` is one `receive` (asked only when a
 * slot is free) and whose `return()` withdraws a waiting receive without consuming anything.
 * Each item is wrapped: the handler runs on the delivery's item; when it fulfils, the delivery
 * is acked; when an attempt fails for good (the policy's last attempt, or after an abort), it
 * is nacked before the failure reaches the pool.
 *
 * Invariants:
 * 1. Every delivery the pool received is in `#held` until it is acked or given back; when the
 *    inner pool settles, each one still held is given back — nacked if the handler saw it,
 *    released (its delivery uncounted) if not — before `done` settles.
 * 2. A handler that fulfilled is not run again: if the ack then fails, the retry (if the policy
 *    retries) only acks.
 * 3. One heartbeat timer at most, armed exactly while something is held; a beat extends every
 *    held lease in one script run and arms the next beat when it has answered.
 */
import type { Clock, TimerHandle } from '../clock.js';
import { ChannelClosedError } from '../errors.js';
import {
  consume,
  type HandlerContext,
  type PoolFailure,
  type PoolResult,
  type WorkerPool,
  type WorkerPoolStats,
} from '../flow/consume.js';
import type { Delivery, RedisConsumeOptions, RedisHandlerContext } from './channel.js';

/** A delivery as the pool sees it. */
export interface PoolDelivery<T> extends Delivery<T> {
  /** Acked or given back by this process. */
  readonly settled: boolean;
  /** Gives it back uncounted (it never reached the handler). */
  release(): Promise<boolean>;
}

/** What the channel hands the pool. */
export interface ConsumeSetup<T> {
  receive(signal: AbortSignal): Promise<PoolDelivery<T>>;
  extend(deliveries: readonly PoolDelivery<T>[]): Promise<boolean[]>;
  readonly handler: (item: T, context: RedisHandlerContext) => unknown;
  readonly options: RedisConsumeOptions<T>;
  readonly heartbeatMs: number;
  readonly clock: Clock;
}

/** Starts the pool (see `RedisChannel#consume`). */
export function consumeDeliveries<T>(setup: ConsumeSetup<T>): WorkerPool<T> {
  return new RedisPool(setup);
}

const WITHDRAWN: unique symbol = Symbol('sluice.redis.consume.withdrawn');
const DONE: IteratorResult<never, undefined> = Object.freeze({ done: true, value: undefined });

class Context implements RedisHandlerContext {
  readonly #context: HandlerContext;
  readonly id: string;
  readonly deliveries: number;

  constructor(context: HandlerContext, delivery: Delivery<unknown>) {
    this.#context = context;
    this.id = delivery.id;
    this.deliveries = delivery.deliveries;
  }

  get signal(): AbortSignal {
    return this.#context.signal;
  }

  get attempt(): number {
    return this.#context.attempt;
  }
}

class RedisPool<T> implements WorkerPool<T> {
  readonly done: Promise<PoolResult<T>>;
  readonly #setup: ConsumeSetup<T>;
  readonly #inner: WorkerPool<PoolDelivery<T>>;
  /** Attempts in all before an item fails for good. */
  readonly #attempts: number;
  readonly #held = new Set<PoolDelivery<T>>();
  readonly #started = new WeakSet<PoolDelivery<T>>();
  readonly #handled = new WeakSet<PoolDelivery<T>>();
  readonly #withdraw = new AbortController();
  #withdrawn = false;
  #timer: TimerHandle | undefined;
  #beating = false;
  #settled = false;
  #result: PoolResult<T> | PoolFailure<T> | undefined;

  constructor(setup: ConsumeSetup<T>) {
    this.#setup = setup;
    const { options } = setup;
    const retry = (options.onError as { retry?: { attempts?: unknown } } | undefined)?.retry;
    this.#attempts = typeof retry?.attempts === 'number' ? retry.attempts : 1;
    const onHandlerError = options.onHandlerError;
    const iterator: AsyncIterator<PoolDelivery<T>, undefined> = {
      next: () => this.#next(),
      return: () => {
        this.#withdrawn = true;
        this.#withdraw.abort(WITHDRAWN);
        return Promise.resolve(DONE);
      },
    };
    this.#inner = consume<PoolDelivery<T>>(
      { [Symbol.asyncIterator]: () => iterator },
      (delivery, context) => this.#run(delivery, context),
      {
        concurrency: options.concurrency,
        limiter: options.limiter,
        signal: options.signal,
        onError: options.onError,
        onHandlerError:
          onHandlerError === undefined
            ? undefined
            : (error, delivery, attempt) => onHandlerError(error, delivery.item, attempt),
        clock: setup.clock,
      },
    );
    this.done = this.#inner.done.then(
      async (result) => {
        await this.#finish();
        const mapped = mapResult(result);
        this.#result = mapped;
        return mapped;
      },
      async (error: unknown) => {
        await this.#finish();
        const failure = this.#inner.result as PoolFailure<PoolDelivery<T>>;
        this.#result = {
          ended: 'failed',
          error: failure.error,
          unhandled: failure.unhandled.map((d) => d.item),
          interrupted: failure.interrupted.map((d) => d.item),
          stats: failure.stats,
        };
        throw error;
      },
    );
  }

  get result(): PoolResult<T> | PoolFailure<T> | undefined {
    return this.#result;
  }

  stop(): Promise<PoolResult<T>> {
    void this.#inner.stop().catch(() => {});
    return this.done;
  }

  abort(reason?: unknown): Promise<PoolResult<T>> {
    void this.#inner.abort(reason).catch(() => {});
    return this.done;
  }

  stats(): WorkerPoolStats {
    return this.#inner.stats();
  }

  assertInvariants(): void {
    this.#inner.assertInvariants();
  }

  async #next(): Promise<IteratorResult<PoolDelivery<T>, undefined>> {
    if (this.#withdrawn) return DONE;
    let delivery: PoolDelivery<T>;
    try {
      delivery = await this.#setup.receive(this.#withdraw.signal);
    } catch (error) {
      if (error === WITHDRAWN || error instanceof ChannelClosedError) return DONE;
      throw error;
    }
    this.#held.add(delivery);
    this.#arm();
    return { done: false, value: delivery };
  }

  /** One attempt: the handler (unless it already fulfilled), then the ack. */
  async #run(delivery: PoolDelivery<T>, context: HandlerContext): Promise<void> {
    this.#started.add(delivery);
    if (!this.#handled.has(delivery)) {
      try {
        await this.#setup.handler(delivery.item, new Context(context, delivery));
      } catch (error) {
        if (context.attempt >= this.#attempts || context.signal.aborted) {
          await this.#giveBack(delivery);
        }
        throw error;
      }
      this.#handled.add(delivery);
    }
    await delivery.ack(); // false: the lease was lost, and someone else has the item now
    this.#held.delete(delivery);
  }

  async #giveBack(delivery: PoolDelivery<T>): Promise<void> {
    this.#held.delete(delivery);
    try {
      if (this.#started.has(delivery)) await delivery.nack();
      else await delivery.release();
    } catch {
      // Redis is away: the lease runs out and the item is delivered again.
    }
  }

  /** Gives back what is still held, and stops the heartbeat. */
  async #finish(): Promise<void> {
    this.#settled = true;
    if (this.#timer !== undefined) {
      this.#setup.clock.clearTimer(this.#timer);
      this.#timer = undefined;
    }
    const held = [...this.#held].filter((d) => !d.settled);
    await Promise.all(held.map((d) => this.#giveBack(d)));
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#beating || this.#settled || this.#held.size === 0) {
      return;
    }
    this.#timer = this.#setup.clock.setTimer(() => {
      this.#timer = undefined;
      this.#beat();
    }, this.#setup.heartbeatMs);
  }

  #beat(): void {
    const held = [...this.#held].filter((d) => !d.settled);
    if (held.length === 0 || this.#settled) return;
    this.#beating = true;
    this.#setup
      .extend(held)
      .catch(() => []) // Redis away: try again at the next beat
      .then(() => {
        this.#beating = false;
        this.#arm();
      });
  }
}

function mapResult<T>(result: PoolResult<PoolDelivery<T>>): PoolResult<T> {
  const unhandled = result.unhandled.map((d) => d.item);
  const interrupted = result.interrupted.map((d) => d.item);
  return result.ended === 'aborted'
    ? { ended: 'aborted', reason: result.reason, unhandled, interrupted, stats: result.stats }
    : { ended: result.ended, unhandled, interrupted, stats: result.stats };
}
