/**
 * Seeded randomness for the lab: a small PRNG, the service-time distributions (`Duration`) and
 * the arrival processes (`Arrivals`) of a scenario.
 *
 * Promises:
 * 1. The same seed and stream give the same numbers, on every run and every platform that runs
 *    the same JavaScript engine (only integer arithmetic, `Math.log`, `Math.exp`, `Math.cos` and
 *    `Math.sqrt`).
 * 2. Streams are independent: the lab gives each producer its own streams for arrivals, urgency
 *    and service times, so changing one knob (the urgent share, say) does not move the others'
 *    draws, and every configuration of a scenario sees the same items.
 * 3. Nothing here reads the clock or `Math.random`.
 */
import type { Arrivals, Duration } from './types.js';

/** Numbers in [0, 1), from a seeded generator. */
export type Random = () => number;

const TWO_32 = 4294967296;

/** One step of splitmix32 from `state`; used only to spread a seed into the generator's state. */
function mix32(state: number): number {
  let z = state | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * A seeded generator (sfc32, whose 128-bit state passes PractRand) for stream `stream` of
 * `seed`. `seed` is any safe integer; different `(seed, stream)` pairs give unrelated sequences.
 */
export function createRandom(seed: number, stream = 0): Random {
  if (!Number.isSafeInteger(seed)) {
    throw new RangeError(`Expected \`seed\` to be a safe integer, got ${String(seed)}`);
  }
  const low = seed >>> 0;
  const high = Math.floor(seed / TWO_32) >>> 0;
  let a = mix32(low ^ 0x9e3779b9);
  let b = mix32(high + 0x6a09e667);
  let c = mix32((stream >>> 0) ^ 0xbb67ae85);
  let d = mix32(a ^ b ^ c ^ 0x3c6ef372) | 1;
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / TWO_32;
  };
  for (let i = 0; i < 12; i++) next(); // let the state mix before the first draw
  return next;
}

/** An exponential draw with mean `mean` (u in [0, 1), so 1 − u is never 0). */
function exponential(random: Random, mean: number): number {
  return -mean * Math.log(1 - random());
}

/** A standard normal draw (Box–Muller, one of the pair). */
function normal(random: Random): number {
  const r = Math.sqrt(-2 * Math.log(1 - random()));
  return r * Math.cos(2 * Math.PI * random());
}

/**
 * A function that draws one duration (ms) from `duration` with `random`: constant, uniform on
 * [minMs, maxMs], exponential with mean `meanMs`, or log-normal with median `medianMs` and shape
 * `sigma` (the standard deviation of its logarithm).
 */
export function durationSampler(duration: Duration, random: Random): () => number {
  switch (duration.kind) {
    case 'constant': {
      const { ms } = duration;
      return () => ms;
    }
    case 'uniform': {
      const { minMs, maxMs } = duration;
      return () => minMs + (maxMs - minMs) * random();
    }
    case 'exponential': {
      const { meanMs } = duration;
      return () => exponential(random, meanMs);
    }
    case 'lognormal': {
      const { medianMs, sigma } = duration;
      return () => medianMs * Math.exp(sigma * normal(random));
    }
  }
}

/** The mean of a duration distribution, in ms (for estimates and summaries). */
export function meanOf(duration: Duration): number {
  switch (duration.kind) {
    case 'constant':
      return duration.ms;
    case 'uniform':
      return (duration.minMs + duration.maxMs) / 2;
    case 'exponential':
      return duration.meanMs;
    case 'lognormal':
      return duration.medianMs * Math.exp((duration.sigma * duration.sigma) / 2);
  }
}

/**
 * The arrival times of one producer, in ms from the start, before any waiting shifts them:
 * `next()` returns the next time (never less than the one before), or Infinity when the
 * process has no more (a trace that ran out).
 */
export interface ArrivalSchedule {
  next(): number;
}

/**
 * The schedule of `arrivals`: constant from 0 (0, i, 2i, …); Poisson with exponential gaps from
 * 0 (the first arrival one gap in); bursts evenly spaced from the start of each on-period; a
 * trace in its own order.
 */
export function arrivalSchedule(arrivals: Arrivals, random: Random): ArrivalSchedule {
  switch (arrivals.kind) {
    case 'constant': {
      const { intervalMs } = arrivals;
      let k = 0;
      return { next: () => k++ * intervalMs };
    }
    case 'poisson': {
      const mean = 1000 / arrivals.ratePerSec;
      let t = 0;
      return {
        next: () => {
          t += exponential(random, mean);
          return t;
        },
      };
    }
    case 'bursts': {
      const { onMs, offMs } = arrivals;
      const gap = 1000 / arrivals.ratePerSec;
      const period = onMs + offMs;
      let cycle = 0;
      let j = 0;
      return {
        next: () => {
          if (j * gap >= onMs) {
            cycle++;
            j = 0;
          }
          return cycle * period + j++ * gap;
        },
      };
    }
    case 'trace': {
      const { timesMs } = arrivals;
      let i = 0;
      return { next: () => (i < timesMs.length ? (timesMs[i++] as number) : Infinity) };
    }
  }
}

/** The mean arrival rate of `arrivals`, in items per second (a trace: over its own span). */
export function rateOf(arrivals: Arrivals): number {
  switch (arrivals.kind) {
    case 'constant':
      return 1000 / arrivals.intervalMs;
    case 'poisson':
      return arrivals.ratePerSec;
    case 'bursts':
      return (arrivals.ratePerSec * arrivals.onMs) / (arrivals.onMs + arrivals.offMs);
    case 'trace': {
      const times = arrivals.timesMs;
      const span =
        times.length > 1 ? (times[times.length - 1] as number) - (times[0] as number) : 0;
      return span > 0 ? ((times.length - 1) * 1000) / span : 0;
    }
  }
}
