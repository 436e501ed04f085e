/**
 * The lab's data: a scenario (what to simulate, as it is written in a scenario file) and a
 * report (what happened, as `--json` prints it and the HTML report draws it). Every time is in
 * milliseconds of simulated time from the start of the run.
 */

/** How long something takes: a constant, or drawn from a distribution with the scenario's seed. */
export type Duration =
  | { readonly kind: 'constant'; readonly ms: number }
  | { readonly kind: 'uniform'; readonly minMs: number; readonly maxMs: number }
  | { readonly kind: 'exponential'; readonly meanMs: number }
  | { readonly kind: 'lognormal'; readonly medianMs: number; readonly sigma: number };

/** When items arrive. */
export type Arrivals =
  /** One item every `intervalMs`. */
  | { readonly kind: 'constant'; readonly intervalMs: number }
  /** A Poisson process: exponential gaps with mean 1000 / `ratePerSec`. */
  | { readonly kind: 'poisson'; readonly ratePerSec: number }
  /** On/off: `ratePerSec` (evenly spaced) for `onMs`, then nothing for `offMs`, repeated. */
  | {
      readonly kind: 'bursts';
      readonly ratePerSec: number;
      readonly onMs: number;
      readonly offMs: number;
    }
  /** A recorded trace: arrival times (from a CSV file of timestamps, made relative to the first). */
  | { readonly kind: 'trace'; readonly timesMs: readonly number[] };

export interface ProducerSpec {
  readonly arrivals: Arrivals;
  /** Stop after this many items (default: until the run ends). */
  readonly count?: number | undefined;
  /** A share of items, in [0, 1], that are urgent (priority 1 instead of 0). Default 0. */
  readonly urgentShare?: number | undefined;
  /**
   * What a producer does when the pipe is full under `block`: wait (default; its next item is
   * produced after the wait, like Go's `ch <- v`), or drop the item (`trySend`).
   */
  readonly mode?: 'wait' | 'try' | undefined;
}

export interface ConsumerSpec {
  /** Consumers working in parallel: an integer from 1 up. */
  readonly count: number;
  readonly service: Duration;
  /** From `atMs` on, every service time is multiplied by `factor`. */
  readonly slowdown?: { readonly atMs: number; readonly factor: number } | undefined;
}

/** The rate limiter or adaptive limiter a configuration puts in front of the consumers. */
export type LimiterSpec =
  | {
      readonly kind: 'token-bucket';
      /** Tokens per second. */
      readonly rate: number;
      readonly burst: number;
      /** Where it acts: on the producer's sends (admission, the design note's third program) or the consumers' takes. Default 'consumers'. */
      readonly at?: 'producers' | 'consumers' | undefined;
      /**
       * At the producers only: an item that finds no token is skipped (`'try'`: `tryTake`, the
       * design note's program, reason `skipped`), or its producer waits for the token (`'wait'`:
       * a reservation; the time counts as blocked). Default: the producer's own `mode`.
       */
      readonly mode?: 'wait' | 'try' | undefined;
    }
  | {
      readonly kind: 'adaptive';
      readonly algorithm: 'aimd' | 'vegas' | 'gradient2' | 'envoy';
      readonly initialLimit?: number | undefined;
    };

/** One way to join the producers to the consumers: a sluice Channel and what is around it. */
export interface PipeConfig {
  /** Shown in tables and charts; unique within a scenario. */
  readonly label: string;
  readonly capacity: number;
  readonly overflow: 'block' | 'drop-newest' | 'drop-oldest' | 'reject' | 'drop-lowest';
  /** Serve urgent items first (needed by `drop-lowest`). */
  readonly priorities?: boolean | undefined;
  /** An item that waited this long is never delivered (`'expired'`). */
  readonly maxWaitMs?: number | undefined;
  readonly codel?:
    | boolean
    | {
        readonly targetMs?: number;
        readonly intervalMs?: number;
        readonly mode?: 'rfc' | 'requests';
      }
    | undefined;
  readonly order?: 'fifo' | 'adaptive-lifo' | undefined;
  readonly limiter?: LimiterSpec | undefined;
}

/** A workload to simulate, as written in a scenario file (JSON). */
export interface Scenario {
  readonly name: string;
  readonly description?: string | undefined;
  /** Simulated time: the producers stop at this time; consumers finish what they hold. */
  readonly durationMs: number;
  /** Seed of every random draw: the same scenario and seed give the same report. Default 1. */
  readonly seed?: number | undefined;
  readonly producers: readonly ProducerSpec[];
  readonly consumers: ConsumerSpec;
  /** Simulated side by side, each from the same arrivals and service times. */
  readonly configurations: readonly PipeConfig[];
  /** Samples of the time series (queue depth, cumulative counts). Default: durationMs / 200. */
  readonly sampleEveryMs?: number | undefined;
}

/** Latency percentiles, in ms, of delivered items (from production to the end of service). */
export interface LatencySummary {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** What happened under one configuration. */
export interface ConfigReport {
  readonly label: string;
  readonly config: PipeConfig;
  readonly produced: number;
  readonly delivered: number;
  /** Items that never reached a consumer, by reason (the channel's drop reasons, plus `skipped`: refused by an admission limiter, `rejected`: refused by a full channel — a `reject` one, or a `block` one for a producer in `'try'` mode). */
  readonly dropped: Readonly<Record<string, number>>;
  /** Delivered items per second of simulated time. */
  readonly throughputPerSec: number;
  /** Time from production to the end of service. */
  readonly latency: LatencySummary;
  /** Time items waited in the channel before a consumer took them. */
  readonly wait: LatencySummary;
  readonly maxDepth: number;
  /** Total time producers spent waiting for room, ms. */
  readonly producerBlockedMs: number;
  /** Time series, one entry per sample: [time, queue depth, delivered so far, dropped so far]. */
  readonly series: readonly (readonly [number, number, number, number])[];
  /** Latency histogram of delivered items: [upper bound ms, count] buckets. */
  readonly histogram: readonly (readonly [number, number])[];
}

/** What the lab prints with `--json` and draws in the HTML report. */
export interface LabReport {
  readonly scenario: Scenario;
  readonly seed: number;
  readonly configurations: readonly ConfigReport[];
  /** The sluice version that produced it. */
  readonly version: string;
}
