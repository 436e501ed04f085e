/**
 * CoDel (RFC 8289): shed load by queue delay, at dequeue, with no timer. Two variants share
 * one interface (`shed` for each candidate at the head, `emptied` when nothing is left):
 * `CoDel`, the RFC's control law, and `RequestCoDel`, the request-queue variant below it.
 *
 * The RFC's dequeue routine, rewritten to decide one candidate at a time: a channel taking an
 * item asks `shed()` about the head; if the answer is yes it drops that item (reason `'shed'`)
 * and asks about the next head, within the same dequeue, until an item is delivered. The state
 * and every transition are the RFC's:
 *
 * - an item is "ok to drop" when its sojourn time (now − arrival) has stayed at or above
 *   `targetMs` for at least `intervalMs` (`firstAboveTime`), and more than one item would be left
 *   (the RFC's "more than one MTU in the queue");
 * - entering the dropping state drops one item and schedules the next drop at
 *   `now + intervalMs / √count` (the control law), where `count` restarts near its last value if
 *   the previous dropping spell ended recently (< 16 intervals);
 * - in the dropping state, while now has passed the next drop time, drop and reschedule with the
 *   control law; leave it as soon as an item is not ok to drop.
 *
 * Invariants:
 * 1. `count >= 1` once dropping has ever started; `dropNext` only moves forward while dropping.
 * 2. `inLoop` and `afterEnter` are only set within one dequeue (between a shed and the delivery).
 */

/** Options for CoDel load shedding. */
export interface CoDelOptions {
  /** Acceptable standing queue delay, in milliseconds. Default 5 (RFC 8289). */
  readonly targetMs?: number | undefined;
  /** How long the delay must stay above target before shedding, in milliseconds. Default 100. */
  readonly intervalMs?: number | undefined;
  /**
   * `'rfc'` (default): RFC 8289's control law, dropping ever faster (`intervalMs / √count`)
   * until the delay falls below target — made for senders that slow down when they see drops.
   * `'requests'`: once the queue has not been empty for a whole interval, shed every item that
   * waited more than `targetMs` — the variant used for RPC queues ("Fail at Scale", ACM Queue
   * 2015), which holds the delay under target even against producers that never slow down.
   */
  readonly mode?: 'rfc' | 'requests' | undefined;
}

/** What a channel asks of either variant. */
export interface Shedder {
  /** Decides about the candidate at the head (waited `sojournMs`; `remaining` left after it). */
  shed(sojournMs: number, now: number, remaining: number): boolean;
  /** The queue had nothing (more) to give. */
  emptied(): void;
  /** An item arrived at `now` into an empty queue. */
  arrivedEmpty?(now: number): void;
}

export class CoDel implements Shedder {
  readonly targetMs: number;
  readonly intervalMs: number;
  #above = false;
  #firstAboveTime = 0;
  #dropping = false;
  #dropNext = 0;
  #count = 0;
  #lastCount = 0;
  /** A drop just started the dropping state; the next candidate is delivered (RFC). */
  #afterEnter = false;
  /** A drop in the dropping state's loop; the next candidate continues the loop. */
  #inLoop = false;

  constructor(targetMs: number, intervalMs: number) {
    this.targetMs = targetMs;
    this.intervalMs = intervalMs;
  }

  /** True while shedding. */
  get dropping(): boolean {
    return this.#dropping;
  }

  /**
   * Decides about the candidate at the head: true to shed it. `sojournMs` is how long it waited,
   * `remaining` how many items would be left after it.
   */
  shed(sojournMs: number, now: number, remaining: number): boolean {
    const ok = this.#okToDrop(sojournMs, now, remaining);
    if (this.#afterEnter) {
      this.#afterEnter = false;
      return false;
    }
    if (this.#dropping) {
      if (this.#inLoop) {
        if (!ok) return this.#stopDropping();
        this.#dropNext = this.#controlLaw(this.#dropNext, this.#count);
        if (now >= this.#dropNext) {
          this.#count++;
          return true;
        }
        this.#inLoop = false;
        return false;
      }
      if (!ok) return this.#stopDropping();
      if (now >= this.#dropNext) {
        this.#count++;
        this.#inLoop = true;
        return true;
      }
      return false;
    }
    if (!ok) return false;
    this.#dropping = true;
    const delta = this.#count - this.#lastCount;
    this.#count = delta > 1 && now - this.#dropNext < 16 * this.intervalMs ? delta : 1;
    this.#dropNext = this.#controlLaw(now, this.#count);
    this.#lastCount = this.#count;
    this.#afterEnter = true;
    return true;
  }

  /**
   * The queue had nothing (more) to give: RFC's dequeue of an empty queue. Resets the
   * above-target timer and ends a dropping loop.
   */
  emptied(): void {
    this.#above = false;
    if (this.#inLoop) this.#dropping = false;
    this.#inLoop = false;
    this.#afterEnter = false;
  }

  #stopDropping(): false {
    this.#dropping = false;
    this.#inLoop = false;
    return false;
  }

  #okToDrop(sojournMs: number, now: number, remaining: number): boolean {
    if (sojournMs < this.targetMs || remaining <= 1) {
      this.#above = false;
      return false;
    }
    if (!this.#above) {
      this.#above = true;
      this.#firstAboveTime = now + this.intervalMs;
      return false;
    }
    return now >= this.#firstAboveTime;
  }

  #controlLaw(t: number, count: number): number {
    return t + this.intervalMs / Math.sqrt(count);
  }
}

/**
 * The request-queue variant, as described in "Fail at Scale" (Maurer, ACM Queue 2015): a queue
 * that has not been empty for a whole interval is overloaded, and while it is, every item that
 * waited more than the target is shed. The RFC's control law drops at a rate that grows only
 * with the time spent dropping, so against producers that keep their rate the queue outgrows
 * it; this variant holds every delivered item's delay at or under target once the queue has
 * stood for an interval, whatever the producers do.
 *
 * Invariant: `lastEmpty` is the last time an item arrived into an empty queue (the queue has
 * held at least one item ever since); -Infinity before the first arrival.
 */
export class RequestCoDel implements Shedder {
  readonly targetMs: number;
  readonly intervalMs: number;
  #lastEmpty = Number.NEGATIVE_INFINITY;

  constructor(targetMs: number, intervalMs: number) {
    this.targetMs = targetMs;
    this.intervalMs = intervalMs;
  }

  /** An item arrived at `now` into an empty queue. */
  arrivedEmpty(now: number): void {
    this.#lastEmpty = now;
  }

  /** True when the queue at `now` has not been empty for a whole interval. */
  overloaded(now: number): boolean {
    return now - this.#lastEmpty >= this.intervalMs;
  }

  shed(sojournMs: number, now: number): boolean {
    return sojournMs > this.targetMs && this.overloaded(now);
  }

  emptied(): void {
    // Nothing to do: the next arrival into the empty queue records the time.
  }
}
