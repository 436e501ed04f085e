/**
 * The lab's simulator: runs a {@link Scenario} on a virtual clock with the real sluice
 * primitives — a `Channel` with the configuration's options, a `TokenBucket`, an
 * `AdaptiveLimiter` and its algorithm — and reports what happened under each configuration.
 *
 * The model (each configuration runs alone, from the same seed, so all see the same items):
 * - A producer makes an item at each time of its arrival process and offers it with `trySend`.
 *   Under `block`, a producer in `'wait'` mode that finds the channel full waits in the
 *   channel's own queue of senders (`send`) until a take makes room; its later arrivals move
 *   back by the time it waited (Go's `ch <- v; time.Sleep(gap)`). An admission token bucket
 *   (`at: 'producers'`) is asked first: `tryTake` (skip the item) or a reservation (wait).
 * - `consumers.count` consumers each loop: take an item (`tryReceive`, or wait as the channel's
 *   receiver), serve it for its service time, repeat. A token bucket at the consumers is
 *   reserved before each take.
 * - With an adaptive limiter, the consumers are the workers of a backend: a dispatcher takes
 *   items from the channel while the limiter grants permits (`tryAcquire`), and each goes to a
 *   free worker or waits in the backend's queue; the permit's round trip (backend queue plus
 *   service) is the sample that moves the limit. Items left in the channel meet its policy.
 * - The producers stop at `durationMs`; items already made are still offered, the channel is
 *   closed when every producer is done, and the consumers drain it.
 *
 * Everything is driven by the clock's timers and the primitives' synchronous calls
 * (`trySend`, `tryReceive`, `tryTake`, `reserve`, `tryAcquire`). Where a party must wait inside
 * a primitive (a blocked sender, an idle receiver) it calls `send`/`receive`, and the simulator
 * learns of the hand-over from the channel's counters at the moment it happens, not from the
 * promise, so no step waits for a promise callback. That is what makes a minute of simulated
 * time at thousands of items per second take a fraction of a second.
 *
 * Invariants (checked at the end of every configuration):
 * 1. Conservation: produced = delivered + the sum of dropped.
 * 2. The channel's own invariants hold, and it ends closed and empty.
 * 3. No timer is left on the clock.
 */
import { AdaptiveLimiter, type AdaptivePermit } from '../adaptive/adaptive-limiter.js';
import { aimd } from '../adaptive/aimd.js';
import { envoyGradient } from '../adaptive/envoy-gradient.js';
import { gradient2 } from '../adaptive/gradient2.js';
import type { LimitAlgorithm } from '../adaptive/types.js';
import { vegas } from '../adaptive/vegas.js';
import { Channel } from '../channel/channel.js';
import type { ChannelOptions } from '../channel/types.js';
import { invariant } from '../internal/invariant.js';
import { RingBuffer } from '../internal/ring-buffer.js';
import { TokenBucket } from '../limit/token-bucket.js';
import { ManualClock } from '../testing/manual-clock.js';
import {
  type ArrivalSchedule,
  arrivalSchedule,
  createRandom,
  durationSampler,
  type Random,
  rateOf,
} from './random.js';
import { parseScenario, ScenarioError } from './scenario.js';
import type {
  ConfigReport,
  LabReport,
  LatencySummary,
  LimiterSpec,
  PipeConfig,
  ProducerSpec,
  Scenario,
} from './types.js';
import { VERSION } from './version.js';

/** The most items one configuration may produce (an estimate is checked before running). */
export const MAX_ITEMS = 10_000_000;

/** The most samples of the time series one run may take (before the pipe drains). */
export const MAX_SAMPLES = 100_000;

/** Drop reasons in the order reports list them. */
export const DROP_REASONS: readonly string[] = [
  'overflow',
  'evicted',
  'expired',
  'shed',
  'rejected',
  'skipped',
  'discarded',
];

/** What happened to one item, for {@link SimulateOptions.onItem}. */
export interface ItemEvent {
  /** The configuration's label. */
  readonly configuration: string;
  /** Items are numbered from 0 in the order they were made, per configuration. */
  readonly id: number;
  /** Index of the producer that made it. */
  readonly producer: number;
  /** True for an urgent item (priority 1). */
  readonly urgent: boolean;
  readonly producedAt: number;
  /** When it was delivered (its service ended) or dropped. */
  readonly at: number;
  /** `'delivered'`, or the drop reason (`overflow`, `evicted`, `expired`, `shed`, `rejected`, `skipped`). */
  readonly outcome: string;
}

/** Options for {@link simulate}. */
export interface SimulateOptions {
  /**
   * Called as the simulation advances (about a hundred times per configuration) with the share
   * of the whole run done, in [0, 1], and the label of the configuration running.
   */
  readonly onProgress?: ((done: number, configuration: string) => void) | undefined;
  /** Called once per item when it is delivered or dropped. */
  readonly onItem?: ((event: ItemEvent) => void) | undefined;
}

/**
 * Simulates every configuration of `scenario` and reports the figures. The same scenario and
 * seed give the same report, to the byte once serialized.
 *
 * Errors: a {@link ScenarioError} naming the field for a scenario that is not valid, or one that
 * would produce more than {@link MAX_ITEMS} items per configuration.
 *
 * @example
 * ```ts
 * const report = await simulate(DEFAULT_SCENARIO);
 * console.log(formatReport(report));
 * ```
 */
export async function simulate(
  scenario: Scenario,
  options: SimulateOptions = {},
): Promise<LabReport> {
  const checked = parseScenario(scenario);
  const estimate = estimateItems(checked);
  if (estimate > MAX_ITEMS) {
    throw new ScenarioError(
      'durationMs',
      `the producers would make about ${Math.round(estimate).toLocaleString('en-US')} items per configuration; the lab simulates at most ${MAX_ITEMS.toLocaleString('en-US')}: shorten the run or lower the rates`,
    );
  }
  const samples = checked.durationMs / (checked.sampleEveryMs ?? checked.durationMs / 200);
  if (samples > MAX_SAMPLES) {
    throw new ScenarioError(
      'sampleEveryMs',
      `expected a step of at least ${checked.durationMs / MAX_SAMPLES} ms (at most ${MAX_SAMPLES.toLocaleString('en-US')} samples in durationMs), got ${checked.sampleEveryMs}`,
    );
  }
  const seed = checked.seed ?? 1;
  const n = checked.configurations.length;
  const runs: ConfigRun[] = [];
  for (let i = 0; i < n; i++) {
    const config = checked.configurations[i] as PipeConfig;
    const run = new ConfigRun(checked, config, i, seed, options.onItem);
    const progress = options.onProgress;
    await run.run(
      progress === undefined ? undefined : (share) => progress((i + share) / n, config.label),
    );
    runs.push(run);
  }
  const histogramStep = bucketWidth(Math.max(0, ...runs.map((r) => r.maxLatency())));
  return {
    scenario: checked,
    seed,
    configurations: runs.map((r) => r.report(histogramStep)),
    version: VERSION,
  };
}

/** About how many items the busiest configuration makes (before any waiting slows producers). */
function estimateItems(scenario: Scenario): number {
  let total = 0;
  for (const p of scenario.producers) {
    const made =
      p.arrivals.kind === 'trace'
        ? p.arrivals.timesMs.filter((t) => t < scenario.durationMs).length
        : (rateOf(p.arrivals) * scenario.durationMs) / 1000 + 1;
    total += Math.min(made, p.count ?? Infinity);
  }
  return total;
}

/** The items of one run, by id: when each was made, its service time, its priority. */
class Items {
  producedAt = new Float64Array(1024);
  work = new Float64Array(1024);
  urgent = new Uint8Array(1024);
  producer = new Uint32Array(1024);
  length = 0;

  add(at: number, work: number, urgent: boolean, producer: number): number {
    const id = this.length++;
    if (id === this.producedAt.length) {
      const size = id * 2;
      this.producedAt = grow(this.producedAt, new Float64Array(size));
      this.work = grow(this.work, new Float64Array(size));
      this.urgent = grow(this.urgent, new Uint8Array(size));
      this.producer = grow(this.producer, new Uint32Array(size));
    }
    this.producedAt[id] = at;
    this.work[id] = work;
    this.urgent[id] = urgent ? 1 : 0;
    this.producer[id] = producer;
    return id;
  }
}

function grow<A extends Float64Array | Uint8Array | Uint32Array>(from: A, to: A): A {
  to.set(from);
  return to;
}

/** A growable list of numbers. */
class Values {
  data = new Float64Array(1024);
  length = 0;

  push(value: number): void {
    if (this.length === this.data.length)
      this.data = grow(this.data, new Float64Array(this.length * 2));
    this.data[this.length++] = value;
  }

  sorted(): Float64Array {
    return this.data.slice(0, this.length).sort();
  }
}

interface Producer {
  readonly index: number;
  readonly spec: ProducerSpec;
  readonly schedule: ArrivalSchedule;
  readonly urgency: Random;
  readonly work: () => number;
  /** `'wait'` or `'try'` when the channel is full under `block`. */
  readonly mode: 'wait' | 'try';
  /** `'wait'` or `'try'` at an admission token bucket. */
  readonly tokenMode: 'wait' | 'try';
  /** How far waiting has moved its schedule back, ms. */
  shift: number;
  made: number;
  /** When it started waiting for its current item (a token or room). */
  since: number;
  /** The item waiting for its token. */
  pending: number;
  arrive: () => void;
  tokenReady: () => void;
}

/** A consumer; with an adaptive limiter, a backend worker. */
interface Worker {
  item: number;
  permit: AdaptivePermit | undefined;
  hasToken: boolean;
  finished: () => void;
  tokenReady: () => void;
}

/** The adaptive dispatcher, when it waits as the channel's receiver. */
const DISPATCHER = 'dispatcher';

const noop = (): void => {};

/** One configuration's run: its clock, its primitives, its producers and consumers. */
class ConfigRun {
  readonly #scenario: Scenario;
  readonly #config: PipeConfig;
  readonly #onItem: SimulateOptions['onItem'];
  readonly #clock = new ManualClock();
  readonly #items = new Items();
  readonly #channel: Channel<number>;
  readonly #bucket: TokenBucket | undefined;
  readonly #bucketAtProducers: boolean;
  readonly #limiter: AdaptiveLimiter | undefined;
  readonly #slowdown: Scenario['consumers']['slowdown'];
  readonly #producers: Producer[] = [];
  readonly #workers: Worker[] = [];
  /** Producers waiting in the channel's queue of senders, in the same order. */
  readonly #blocked = new RingBuffer<Producer>();
  /** Consumers (or the dispatcher) waiting in the channel's queue of receivers, in order. */
  readonly #receivers = new RingBuffer<Worker | typeof DISPATCHER>();
  /** Adaptive: workers with nothing to do, and items holding a permit that wait for a worker. */
  readonly #idleWorkers: Worker[] = [];
  readonly #backlog = new RingBuffer<[number, AdaptivePermit]>();
  /** Adaptive: an item handed to the dispatcher when the limit had just dropped (-1: none). */
  #held = -1;
  #dispatcherWaiting = false;
  #producersLeft = 0;
  #busy = 0;
  #pacing = 0;
  #finished = false;
  #endMs = 0;
  #sampler: unknown;
  readonly #sampleEveryMs: number;
  readonly #series: [number, number, number, number][] = [];
  readonly #latencies = new Values();
  readonly #waits = new Values();
  readonly #dropped: Record<string, number> = {};
  #droppedTotal = 0;
  #delivered = 0;
  #blockedMs = 0;

  constructor(
    scenario: Scenario,
    config: PipeConfig,
    index: number,
    seed: number,
    onItem: SimulateOptions['onItem'],
  ) {
    this.#scenario = scenario;
    this.#config = config;
    this.#onItem = onItem;
    this.#slowdown = scenario.consumers.slowdown;
    this.#sampleEveryMs = scenario.sampleEveryMs ?? scenario.durationMs / 200;
    const clock = this.#clock;
    const items = this.#items;
    const limiter = config.limiter;
    try {
      this.#channel = new Channel<number>(channelOptions(config, clock, items, this.#onDrop));
      this.#bucket =
        limiter?.kind === 'token-bucket'
          ? new TokenBucket({ rate: limiter.rate, burst: limiter.burst, clock })
          : undefined;
      this.#limiter =
        limiter?.kind === 'adaptive'
          ? new AdaptiveLimiter({
              algorithm: algorithmFor(limiter, createRandom(seed, 999_983)),
              clock,
            })
          : undefined;
    } catch (error) {
      throw new ScenarioError(`configurations[${index}]`, (error as Error).message);
    }
    this.#bucketAtProducers = limiter?.kind === 'token-bucket' && limiter.at === 'producers';
    const service = scenario.consumers.service;
    scenario.producers.forEach((spec, i) => {
      const mode = spec.mode ?? 'wait';
      const p: Producer = {
        index: i,
        spec,
        schedule: arrivalSchedule(spec.arrivals, createRandom(seed, 3 * i + 1)),
        urgency: createRandom(seed, 3 * i + 2),
        work: durationSampler(service, createRandom(seed, 3 * i + 3)),
        mode,
        tokenMode: (limiter?.kind === 'token-bucket' ? limiter.mode : undefined) ?? mode,
        shift: 0,
        made: 0,
        since: 0,
        pending: -1,
        arrive: noop,
        tokenReady: noop,
      };
      p.arrive = this.#event(() => this.#arrive(p));
      p.tokenReady = this.#event(() => this.#offer(p, p.pending));
      this.#producers.push(p);
    });
    for (let i = 0; i < scenario.consumers.count; i++) {
      const w: Worker = {
        item: -1,
        permit: undefined,
        hasToken: false,
        finished: noop,
        tokenReady: noop,
      };
      w.finished = this.#event(() => this.#finishService(w));
      w.tokenReady = this.#event(() => {
        this.#pacing--;
        w.hasToken = true;
        this.#take(w);
      });
      this.#workers.push(w);
    }
  }

  /** Runs to the end, reporting progress (share of `durationMs`) after each step. */
  async run(onProgress: ((share: number) => void) | undefined): Promise<void> {
    this.#start();
    const clock = this.#clock;
    const durationMs = this.#scenario.durationMs;
    const step = Math.max(durationMs / 100, 1e-3);
    let target = 0;
    while (!this.#finished) {
      const next = clock.nextTimerAt;
      invariant(next !== undefined && next !== Infinity, 'the lab simulation stalled');
      target = Math.max(target + step, next);
      clock.advanceTo(target);
      onProgress?.(Math.min(clock.now() / durationMs, 1));
      // Let the callbacks of promises settled in this step run (the simulation does not need
      // them; this keeps their number small).
      await Promise.resolve();
    }
    this.#channel.assertInvariants();
    invariant(
      this.#channel.state === 'closed' && this.#channel.size === 0,
      'lab: channel not drained',
    );
    invariant(clock.pendingTimers === 0, () => `lab: ${clock.pendingTimers} timers left`);
    invariant(
      this.#items.length === this.#delivered + this.#droppedTotal,
      () =>
        `lab: ${this.#items.length} made ≠ ${this.#delivered} delivered + ${this.#droppedTotal} dropped`,
    );
  }

  maxLatency(): number {
    let max = 0;
    const { data, length } = this.#latencies;
    for (let i = 0; i < length; i++) if ((data[i] as number) > max) max = data[i] as number;
    return max;
  }

  report(histogramStep: number): ConfigReport {
    const latencies = this.#latencies.sorted();
    const endMs = this.#endMs;
    const series = this.#series.filter(([t]) => t < endMs);
    series.push([endMs, this.#channel.size, this.#delivered, this.#droppedTotal]);
    const dropped: Record<string, number> = {};
    for (const reason of DROP_REASONS) {
      const count = this.#dropped[reason];
      if (count !== undefined) dropped[reason] = count;
    }
    return {
      label: this.#config.label,
      config: this.#config,
      produced: this.#items.length,
      delivered: this.#delivered,
      dropped,
      throughputPerSec: round((this.#delivered * 1000) / endMs),
      latency: summarize(latencies),
      wait: summarize(this.#waits.sorted()),
      maxDepth: this.#channel.stats().highWater,
      producerBlockedMs: round(this.#blockedMs),
      series: series.map(([t, depth, delivered, droppedSoFar]) => [
        round(t),
        depth,
        delivered,
        droppedSoFar,
      ]),
      histogram: histogram(latencies, histogramStep),
    };
  }

  // ---- the run --------------------------------------------------------------------------

  /** Wraps a timer callback: after it, close the channel or end the run when it is time. */
  #event(fn: () => void): () => void {
    return () => {
      fn();
      this.#settle();
    };
  }

  #start(): void {
    this.#sampler = this.#clock.setTimer(this.#sample, 0);
    for (const w of this.#workers) {
      if (this.#limiter === undefined) this.#ready(w);
      else this.#idleWorkers.push(w);
    }
    if (this.#limiter !== undefined) this.#pump();
    this.#producersLeft = this.#producers.length;
    for (const p of this.#producers) this.#scheduleNext(p);
    this.#settle();
  }

  readonly #sample = (): void => {
    const now = this.#clock.now();
    this.#series.push([now, this.#channel.size, this.#delivered, this.#droppedTotal]);
    this.#sampler = this.#clock.setTimer(this.#sample, this.#sampleEveryMs);
  };

  /** After every event: close the channel once every producer is done; end once all is served. */
  #settle(): void {
    const channel = this.#channel;
    if (this.#producersLeft === 0 && channel.state === 'open') {
      channel.close(); // idle receivers are released (their promises reject; nothing is lost)
      while (this.#receivers.length > 0) this.#receivers.shift();
      this.#dispatcherWaiting = false;
    }
    if (
      this.#finished ||
      channel.state === 'open' ||
      channel.size > 0 ||
      this.#busy > 0 ||
      this.#pacing > 0 ||
      this.#backlog.length > 0 ||
      this.#held !== -1
    ) {
      return;
    }
    this.#finished = true;
    this.#clock.clearTimer(this.#sampler);
    this.#endMs = Math.max(this.#scenario.durationMs, this.#endMs);
  }

  // ---- producers ------------------------------------------------------------------------

  #scheduleNext(p: Producer): void {
    const next = p.schedule.next() + p.shift;
    if (p.made >= (p.spec.count ?? Infinity) || !(next < this.#scenario.durationMs)) {
      this.#producersLeft--;
      return;
    }
    this.#clock.setTimer(p.arrive, next - this.#clock.now());
  }

  #arrive(p: Producer): void {
    const now = this.#clock.now();
    const urgentShare = p.spec.urgentShare ?? 0;
    const urgent = urgentShare > 0 && p.urgency() < urgentShare;
    const id = this.#items.add(now, p.work(), urgent, p.index);
    p.made++;
    p.since = now;
    const bucket = this.#bucket;
    if (bucket !== undefined && this.#bucketAtProducers) {
      if (p.tokenMode === 'try') {
        if (!bucket.tryTake().ok) {
          this.#drop(id, 'skipped');
          this.#scheduleNext(p);
          return;
        }
      } else {
        const reservation = bucket.reserve();
        if (reservation.delayMs > 0) {
          p.pending = id;
          this.#clock.setTimer(p.tokenReady, reservation.delayMs);
          return;
        }
      }
    }
    this.#offer(p, id);
  }

  /** Offers item `id` of producer `p` to the channel. */
  #offer(p: Producer, id: number): void {
    const channel = this.#channel;
    const receiversBefore = channel.waitingReceivers;
    const result = channel.trySend(id);
    this.#admitted();
    if (result.ok) {
      if (channel.waitingReceivers < receiversBefore) this.#handedOver(id);
    } else if (result.reason === 'full') {
      if (channel.overflow === 'block' && p.mode === 'wait') {
        // Wait in the channel's own queue of senders; a take admits it (see #admitted).
        channel.send(id).then(noop, noop);
        invariant(
          channel.waitingSenders === this.#blocked.length + 1,
          'lab: a full send did not wait',
        );
        this.#blocked.push(p);
        return;
      }
      this.#drop(id, 'rejected');
    }
    // 'dropped' and 'expired' were reported to onDrop; 'closed' cannot happen: the channel is
    // closed only once every producer is done.
    this.#resume(p);
  }

  /** A producer's wait ended: its schedule moves back by the wait; on to its next item. */
  #resume(p: Producer): void {
    const waited = this.#clock.now() - p.since;
    if (waited > 0) {
      this.#blockedMs += waited;
      p.shift += waited;
    }
    this.#scheduleNext(p);
  }

  /** Resumes the producers whose waiting sends the channel has just admitted (FIFO). */
  #admitted(): void {
    const waiting = this.#channel.waitingSenders;
    while (this.#blocked.length > waiting) this.#resume(this.#blocked.shift());
  }

  // ---- consumers ------------------------------------------------------------------------

  /** A consumer is ready for its next item: its token first, if the consumers are paced. */
  #ready(w: Worker): void {
    const bucket = this.#bucket;
    if (bucket !== undefined && !this.#bucketAtProducers && !w.hasToken) {
      const reservation = bucket.reserve();
      if (reservation.delayMs > 0) {
        this.#pacing++;
        this.#clock.setTimer(w.tokenReady, reservation.delayMs);
        return;
      }
      w.hasToken = true;
    }
    this.#take(w);
  }

  #take(w: Worker): void {
    const channel = this.#channel;
    const result = channel.tryReceive();
    this.#admitted();
    if (result.ok) {
      this.#taken(result.value);
      this.#serve(w, result.value, undefined);
    } else if (result.reason === 'empty') {
      channel.receive().then(noop, noop); // wait as the channel's receiver: see #handedOver
      this.#receivers.push(w);
    }
  }

  /** A send just handed item `id` to the first waiting receiver. */
  #handedOver(id: number): void {
    const receiver = this.#receivers.shift();
    this.#taken(id);
    if (receiver === DISPATCHER) {
      this.#dispatcherWaiting = false;
      const limiter = this.#limiter as AdaptiveLimiter;
      if (limiter.inflight < limiter.limit) this.#dispatch(id);
      else this.#held = id; // the limit dropped while the dispatcher waited
      this.#pump();
    } else {
      this.#serve(receiver, id, undefined);
    }
  }

  /** Item `id` left the channel now. */
  #taken(id: number): void {
    this.#waits.push(this.#clock.now() - (this.#items.producedAt[id] as number));
  }

  #serve(w: Worker, id: number, permit: AdaptivePermit | undefined): void {
    const now = this.#clock.now();
    const slowdown = this.#slowdown;
    let serviceMs = this.#items.work[id] as number;
    if (slowdown !== undefined && now >= slowdown.atMs) serviceMs *= slowdown.factor;
    w.item = id;
    w.permit = permit;
    w.hasToken = false;
    this.#busy++;
    this.#clock.setTimer(w.finished, serviceMs);
  }

  #finishService(w: Worker): void {
    this.#busy--;
    const id = w.item;
    const now = this.#clock.now();
    this.#latencies.push(now - (this.#items.producedAt[id] as number));
    this.#delivered++;
    this.#endMs = now;
    this.#report(id, 'delivered');
    const permit = w.permit;
    if (permit === undefined) {
      this.#ready(w);
      return;
    }
    if (this.#backlog.length > 0) {
      const [next, nextPermit] = this.#backlog.shift();
      this.#serve(w, next, nextPermit);
    } else {
      this.#idleWorkers.push(w);
    }
    permit.success(); // the round trip is a sample; the limit may move
    this.#pump();
  }

  // ---- the adaptive dispatcher ------------------------------------------------------------

  /** Takes items from the channel while the limiter has room. */
  #pump(): void {
    const limiter = this.#limiter as AdaptiveLimiter;
    const channel = this.#channel;
    while (!this.#dispatcherWaiting && limiter.inflight < limiter.limit) {
      if (this.#held !== -1) {
        const id = this.#held;
        this.#held = -1;
        this.#dispatch(id);
        continue;
      }
      const result = channel.tryReceive();
      this.#admitted();
      if (!result.ok) {
        if (result.reason === 'empty') {
          channel.receive().then(noop, noop);
          this.#receivers.push(DISPATCHER);
          this.#dispatcherWaiting = true;
        }
        return;
      }
      this.#taken(result.value);
      this.#dispatch(result.value);
    }
  }

  /** Sends item `id` to the backend under a new permit. */
  #dispatch(id: number): void {
    const permit = (this.#limiter as AdaptiveLimiter).tryAcquire();
    invariant(permit !== undefined, 'lab: dispatched without room under the limit');
    const worker = this.#idleWorkers.pop();
    if (worker === undefined) this.#backlog.push([id, permit]);
    else this.#serve(worker, id, permit);
  }

  // ---- outcomes ---------------------------------------------------------------------------

  readonly #onDrop = (id: number, reason: string): void => this.#drop(id, reason);

  #drop(id: number, reason: string): void {
    this.#dropped[reason] = (this.#dropped[reason] ?? 0) + 1;
    this.#droppedTotal++;
    this.#endMs = this.#clock.now();
    this.#report(id, reason);
  }

  #report(id: number, outcome: string): void {
    const onItem = this.#onItem;
    if (onItem === undefined) return;
    const items = this.#items;
    onItem({
      configuration: this.#config.label,
      id,
      producer: items.producer[id] as number,
      urgent: items.urgent[id] === 1,
      producedAt: items.producedAt[id] as number,
      at: this.#clock.now(),
      outcome,
    });
  }
}

function channelOptions(
  config: PipeConfig,
  clock: ManualClock,
  items: Items,
  onDrop: (id: number, reason: string) => void,
): ChannelOptions<number> {
  const { capacity, overflow, priorities, maxWaitMs, codel, order } = config;
  return {
    capacity,
    overflow,
    clock,
    onDrop,
    ...(priorities === true ? { priority: (id: number) => items.urgent[id] as number } : {}),
    ...(maxWaitMs === undefined ? {} : { maxWaitMs }),
    ...(codel === undefined ? {} : { codel }),
    ...(order === undefined ? {} : { order }),
  } as ChannelOptions<number>;
}

function algorithmFor(spec: LimiterSpec & { kind: 'adaptive' }, random: Random): LimitAlgorithm {
  const bounds = spec.initialLimit === undefined ? {} : { initialLimit: spec.initialLimit };
  switch (spec.algorithm) {
    case 'aimd':
      return aimd(bounds);
    case 'vegas':
      return vegas({ ...bounds, random });
    case 'gradient2':
      return gradient2(bounds);
    case 'envoy':
      return envoyGradient({ ...bounds, random });
  }
}

/** Rounds to the microsecond (three decimals of a millisecond). */
function round(x: number): number {
  return Math.round(x * 1000) / 1000 + 0; // + 0 turns -0 into 0
}

/** Nearest-rank percentiles of sorted values; zeros when there are none. */
function summarize(sorted: Float64Array): LatencySummary {
  const n = sorted.length;
  if (n === 0) return { p50: 0, p95: 0, p99: 0, max: 0, mean: 0 };
  const at = (q: number): number => round(sorted[Math.min(n - 1, Math.ceil(q * n) - 1)] as number);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i] as number;
  return {
    p50: at(0.5),
    p95: at(0.95),
    p99: at(0.99),
    max: round(sorted[n - 1] as number),
    mean: round(sum / n),
  };
}

/**
 * A round bucket width (1, 2 or 5 × 10ⁿ ms, at least a microsecond, the report's resolution)
 * giving at most 40 buckets up to `max`.
 */
function bucketWidth(max: number): number {
  const raw = max / 40;
  if (!(raw > 0.001)) return 0.001;
  const power = 10 ** Math.floor(Math.log10(raw));
  return ([1, 2, 5].find((m) => m * power >= raw) ?? 10) * power;
}

/** Counts of sorted values in buckets (0, w], (w, 2w], … up to the last value. */
function histogram(sorted: Float64Array, width: number): [number, number][] {
  const n = sorted.length;
  if (n === 0) return [];
  const buckets = Math.max(1, Math.ceil((sorted[n - 1] as number) / width));
  const counts = new Array<number>(buckets).fill(0);
  for (let i = 0; i < n; i++) {
    const k = Math.min(buckets - 1, Math.max(0, Math.ceil((sorted[i] as number) / width) - 1));
    counts[k] = (counts[k] as number) + 1;
  }
  return counts.map((count, k) => [round((k + 1) * width), count]);
}
