/**
 * CoDel (RFC 8289): shed load by queue delay, at dequeue, with no timer.
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
}

export class CoDel {
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
