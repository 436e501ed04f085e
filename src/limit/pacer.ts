/**
 * Pacer: events evenly spaced, one every `intervalMs`, with `slack` for catching up after idle
 * (uber-go/ratelimit's model). This is GCRA, the "virtual scheduling" form of the leaky bucket,
 * which admits exactly what a token bucket of `rate = 1000 / intervalMs` and
 * `burst = slack + 1` admits. So it runs on the same engine, starting with one token rather
 * than a full bucket: the first event goes at once, the next waits a whole interval.
 */
import type { Clock } from '../clock.js';
import { describe } from '../internal/describe.js';
import { checkOptions } from '../internal/validate.js';
import { TokenBucket } from './token-bucket.js';

/** Options for {@link Pacer}. */
export interface PacerOptions {
  /** Time between events, in milliseconds: a number above 0. */
  readonly intervalMs: number;
  /**
   * How many events may go without waiting after an idle spell, to catch up: an integer from
   * 0 up. Default 0: strict spacing. (uber-go/ratelimit's default is 10.)
   */
  readonly slack?: number | undefined;
  /** Where time is read and the timer armed. Default: the system clock. */
  readonly clock?: Clock | undefined;
}

/**
 * Spaces events `intervalMs` apart. Most callers should `await pacer.take()` before each
 * event. It is a {@link TokenBucket} (rate `1000 / intervalMs`, burst `slack + 1`, starting with
 * one token), so the whole contract is the bucket's: FIFO, abortable, one shared timer;
 * `setRate` and `setBurst` change the spacing and the slack.
 *
 * @example
 * ```ts
 * const pacer = new Pacer({ intervalMs: 100 }); // 10 per second, evenly
 * for (const request of requests) {
 *   await pacer.take();
 *   send(request);
 * }
 * ```
 */
export class Pacer extends TokenBucket {
  readonly #intervalMs: number;
  readonly #slack: number;

  /** Throws a RangeError naming the value for an `intervalMs` ≤ 0 or a bad `slack`. */
  constructor(options: PacerOptions) {
    if (options === undefined) throw new TypeError('Expected an options object with intervalMs');
    checkOptions('options', options);
    const { intervalMs, slack = 0 } = options;
    if (!(typeof intervalMs === 'number' && intervalMs > 0 && Number.isFinite(intervalMs))) {
      throw new RangeError(
        `Expected \`intervalMs\` to be a finite number of milliseconds above 0, got ${describe(intervalMs)}`,
      );
    }
    if (!(typeof slack === 'number' && Number.isInteger(slack) && slack >= 0)) {
      throw new RangeError(`Expected \`slack\` to be an integer from 0 up, got ${describe(slack)}`);
    }
    super({ rate: 1000 / intervalMs, burst: slack + 1, initial: 1, clock: options.clock });
    this.#intervalMs = intervalMs;
    this.#slack = slack;
  }

  /** Time between events, in milliseconds, as configured. */
  get intervalMs(): number {
    return this.#intervalMs;
  }

  /** Events allowed to catch up after idle, as configured. */
  get slack(): number {
    return this.#slack;
  }
}
