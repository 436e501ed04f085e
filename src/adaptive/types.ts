/**
 * What every adaptive concurrency algorithm is: a function of measured samples to a new limit.
 * The limiter (or a test) feeds samples in; the algorithm keeps only what its formula needs.
 */

/** One measurement: a request that finished (or an aggregate of several, from a sampler). */
export interface Sample {
  /** Round-trip time of the request: from its start until it finished, in milliseconds. */
  readonly rttMs: number;
  /** Requests in flight when it started (itself included). */
  readonly inflight: number;
  /** True if the request was dropped, rejected by the server or timed out (a congestion signal). */
  readonly dropped: boolean;
}

/**
 * An adaptive concurrency algorithm. `update` is called once per sample, in the order the
 * samples arrive, and returns the new limit — an integer within `[minLimit, maxLimit]`. The same
 * samples in the same order always give the same limits (randomness, where an algorithm has
 * any, comes from an injected `random`).
 */
export interface LimitAlgorithm {
  /** A short name for stats, charts and errors: `'aimd'`, `'vegas'`, … */
  readonly name: string;
  /** The current limit. */
  readonly limit: number;
  /**
   * Feeds one sample in; returns the limit after it. `now` is the clock time at which the
   * sample was taken, in milliseconds; only time-driven algorithms read it (Envoy's gradient,
   * the windowed sampler).
   */
  update(sample: Sample, now: number): number;
}

/** Options every algorithm accepts. */
export interface LimitBounds {
  /** The limit to start from: an integer within [minLimit, maxLimit]. */
  readonly initialLimit?: number | undefined;
  /** The limit never goes below this: an integer from 1 up. */
  readonly minLimit?: number | undefined;
  /** The limit never goes above this: an integer from minLimit up. */
  readonly maxLimit?: number | undefined;
}
