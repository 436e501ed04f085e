/**
 * FeedbackRateLimiter on a manual clock: the CUBIC curve checked point by point against AWS's
 * formula, AWS's measured-rate cap, AIMD's steps, clamping, the Retry-After pause (nothing
 * before it, waiters moved behind it in order, timeouts and aborts still working), and bad
 * input. `assertInvariants()` runs after every step that changes state.
 */
import { getEventListeners } from 'node:events';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AimdFeedbackOptions,
  type CubicFeedbackOptions,
  FeedbackRateLimiter,
  type FeedbackRateLimiterOptions,
} from '../../src/adaptive/feedback-rate.js';
import { TimeoutError } from '../../src/errors.js';
import { ManualClock } from '../../src/testing/index.js';
import { advanceTo, checkedClock, flush } from '../support/clock.js';
import { caught } from '../support/errors.js';
import { watch } from '../support/outcome.js';
import { propRuns } from '../support/prop.js';
import { type AbortStep, NO_REQUESTS, type TakeStep, type TryStep } from '../support/schedule.js';
import { listeners } from '../support/signals.js';

type Options = Omit<CubicFeedbackOptions, 'clock'> | Omit<AimdFeedbackOptions, 'clock'>;

function make(options: Options, start = 0): { clock: ManualClock; limiter: FeedbackRateLimiter } {
  const clock = new ManualClock({ start });
  const limiter = new FeedbackRateLimiter({ ...options, clock } as FeedbackRateLimiterOptions);
  limiter.assertInvariants();
  return { clock, limiter };
}

/** Calls `onSuccess()` every `everyMs` from `from` to `to` inclusive; returns the last rate. */
function successes(
  clock: ManualClock,
  limiter: FeedbackRateLimiter,
  from: number,
  to: number,
  everyMs: number,
): number {
  let rate = limiter.rate;
  for (let t = from; t <= to; t += everyMs) {
    clock.advanceTo(t);
    rate = limiter.onSuccess();
    limiter.assertInvariants();
  }
  return rate;
}

// ---- construction and bad input --------------------------------------------------------------

describe('FeedbackRateLimiter: construction', () => {
  it('starts at initialRate with a full bucket of 1, CUBIC, no pause, idle', () => {
    const { limiter } = make({ initialRate: 10 });
    expect(limiter.rate).toBe(10);
    expect(limiter.burst).toBe(1);
    expect(limiter.idle).toBe(true);
    expect(limiter.stats()).toEqual({
      ...NO_REQUESTS,
      algorithm: 'cubic',
      rate: 10,
      burst: 1,
      available: 1,
      measuredRate: 0,
      pausedForMs: 0,
      throttles: 0,
      successes: 0,
    });
  });

  it('has no setRate, setBurst or pause: only feedback moves the rate, within its bounds', () => {
    const { limiter } = make({ initialRate: 10 });
    for (const name of ['setRate', 'setBurst', 'pause', 'pauseUntil']) {
      expect(name in limiter, name).toBe(false);
    }
  });

  it('minRate defaults to 0.5, or initialRate if lower', () => {
    const { limiter } = make({ initialRate: 1 });
    for (let i = 0; i < 20; i++) limiter.onThrottle();
    expect(limiter.rate).toBe(0.5);
    const low = make({ initialRate: 0.2 }).limiter;
    for (let i = 0; i < 20; i++) low.onThrottle();
    expect(low.rate).toBe(0.2);
    low.assertInvariants();
  });

  const bad: [string, Record<string, unknown>, string][] = [
    [
      'negative initialRate',
      { initialRate: -1 },
      'Expected `initialRate` to be a finite number of tokens per second above 0, got `-1` (number)',
    ],
    [
      'NaN initialRate',
      { initialRate: Number.NaN },
      'Expected `initialRate` to be a finite number of tokens per second above 0, got `NaN` (number)',
    ],
    [
      'zero initialRate',
      { initialRate: 0 },
      'Expected `initialRate` to be a finite number of tokens per second above 0, got `0` (number)',
    ],
    [
      'infinite initialRate',
      { initialRate: Number.POSITIVE_INFINITY },
      'Expected `initialRate` to be a finite number of tokens per second above 0, got `Infinity` (number)',
    ],
    [
      'missing initialRate',
      {},
      'Expected `initialRate` to be a finite number of tokens per second above 0, got `undefined` (undefined)',
    ],
    [
      'string initialRate',
      { initialRate: '5' },
      'Expected `initialRate` to be a finite number of tokens per second above 0, got `"5"` (string)',
    ],
    [
      'negative minRate',
      { initialRate: 5, minRate: -1 },
      'Expected `minRate` to be a finite number of tokens per second above 0, got `-1` (number)',
    ],
    [
      'zero minRate',
      { initialRate: 5, minRate: 0 },
      'Expected `minRate` to be a finite number of tokens per second above 0, got `0` (number)',
    ],
    [
      'NaN maxRate',
      { initialRate: 5, maxRate: Number.NaN },
      'Expected `maxRate` to be a number of tokens per second above 0 (or Infinity), got `NaN` (number)',
    ],
    [
      'negative maxRate',
      { initialRate: 5, maxRate: -3 },
      'Expected `maxRate` to be a number of tokens per second above 0 (or Infinity), got `-3` (number)',
    ],
    [
      'minRate above maxRate',
      { initialRate: 5, minRate: 10, maxRate: 2 },
      'Expected `minRate` (10) to be at most `maxRate` (2)',
    ],
    [
      'initialRate above maxRate',
      { initialRate: 50, minRate: 1, maxRate: 10 },
      'Expected `initialRate` to be within [1, 10], got `50` (number)',
    ],
    [
      'initialRate below minRate',
      { initialRate: 1, minRate: 2 },
      'Expected `initialRate` to be within [2, Infinity], got `1` (number)',
    ],
    [
      'zero burst',
      { initialRate: 5, burst: 0 },
      'Expected `burst` to be an integer from 1 up, got `0` (number)',
    ],
    [
      'fractional burst',
      { initialRate: 5, burst: 1.5 },
      'Expected `burst` to be an integer from 1 up, got `1.5` (number)',
    ],
    [
      'negative maxPauseMs',
      { initialRate: 5, maxPauseMs: -1 },
      'Expected `maxPauseMs` to be a number of milliseconds from 0 up (or Infinity), got `-1` (number)',
    ],
    [
      'unknown algorithm',
      { initialRate: 5, algorithm: 'bbr' },
      "Expected `algorithm` to be one of 'cubic', 'aimd', got `\"bbr\"` (string)",
    ],
    [
      'beta 1',
      { initialRate: 5, beta: 1 },
      'Expected `beta` to be a number between 0 and 1 (exclusive), got `1` (number)',
    ],
    [
      'beta 0',
      { initialRate: 5, beta: 0 },
      'Expected `beta` to be a number between 0 and 1 (exclusive), got `0` (number)',
    ],
    [
      'zero scaleConstant',
      { initialRate: 5, scaleConstant: 0 },
      'Expected `scaleConstant` to be a finite number above 0, got `0` (number)',
    ],
    [
      'zero AIMD increase',
      { initialRate: 5, algorithm: 'aimd', increase: 0 },
      'Expected `increase` to be a finite number above 0, got `0` (number)',
    ],
    [
      'AIMD decreaseFactor 1',
      { initialRate: 5, algorithm: 'aimd', decreaseFactor: 1 },
      'Expected `decreaseFactor` to be a number between 0 and 1 (exclusive), got `1` (number)',
    ],
    [
      'AIMD windowMs 0',
      { initialRate: 5, algorithm: 'aimd', windowMs: 0 },
      'Expected `windowMs` to be a finite number above 0, got `0` (number)',
    ],
  ];
  it.each(bad)(
    'rejects a %s with a RangeError naming option and value',
    (_name, options, message) => {
      const error = caught(
        () => new FeedbackRateLimiter({ clock: new ManualClock(), ...options } as never),
      );
      expect(error).toBeInstanceOf(RangeError);
      expect(error.message).toBe(message);
    },
  );

  it('rejects missing or non-object options and a bad clock with a TypeError', () => {
    expect(() => new FeedbackRateLimiter(undefined as never)).toThrow(TypeError);
    expect(() => new FeedbackRateLimiter(5 as never)).toThrowError(/`5` \(number\)/);
    expect(() => new FeedbackRateLimiter({ initialRate: 1, clock: {} } as never)).toThrowError(
      /`clock`/,
    );
  });

  it.each([
    [-1, '`-1` (number)'],
    [Number.NaN, '`NaN` (number)'],
    [Number.POSITIVE_INFINITY, '`Infinity` (number)'],
    ['5', '`"5"` (string)'],
  ])(
    'onThrottle rejects retryAfterMs %s, naming it, and changes nothing',
    (retryAfterMs, shown) => {
      const { limiter } = make({ initialRate: 10 });
      const error = caught(() => limiter.onThrottle({ retryAfterMs } as never));
      expect(error).toBeInstanceOf(RangeError);
      expect(error.message).toBe(
        `Expected \`retryAfterMs\` to be a finite number of milliseconds from 0 up, got ${shown}`,
      );
      expect(limiter.stats()).toMatchObject({ rate: 10, throttles: 0, pausedForMs: 0 });
    },
  );

  it('n must be an integer from 1 up to burst', () => {
    const { limiter } = make({ initialRate: 10, burst: 2 });
    expect(() => limiter.tryTake(0)).toThrowError(/`n`.*`0` \(number\)/);
    expect(() => limiter.take(1.5)).toThrowError(/`n`.*`1.5`/);
    expect(() => limiter.reserve(3)).toThrowError(/Cannot take 3 tokens from a bucket of burst 2/);
    expect(() => limiter.peek(3)).toThrow(RangeError);
  });
});

// ---- CUBIC -----------------------------------------------------------------------------------

describe('FeedbackRateLimiter: CUBIC (AWS adaptive retry mode)', () => {
  const C = 0.4;
  const BETA = 0.7;

  it('before any throttle, successes probe upwards from initialRate along C·t³', () => {
    const { clock, limiter } = make({ initialRate: 10, maxRate: 100 });
    clock.advanceTo(500);
    expect(limiter.onSuccess()).toBeCloseTo(10 + C * 0.5 ** 3, 12);
    clock.advanceTo(2000);
    expect(limiter.onSuccess()).toBeCloseTo(10 + C * 2 ** 3, 12);
    clock.advanceTo(10_000);
    expect(limiter.onSuccess()).toBe(100); // 10 + 400 > maxRate
    limiter.assertInvariants();
  });

  it('a throttle multiplies the base by β; successes follow C·(t − W)³ + base, W = ∛(base·(1−β)/C)', () => {
    const { clock, limiter } = make({ initialRate: 10, maxRate: 100 });
    // 20 responses a second for a second: the measured rate (≈ 19.5) stays above the rate.
    expect(successes(clock, limiter, 0, 1000, 50)).toBeCloseTo(10.4, 12); // 10 + C·1³
    expect(limiter.stats().measuredRate).toBeCloseTo(19.52, 12); // 0.8·20 + 0.2·(0.8·22)
    const base = 10.4; // min(measured, rate)
    expect(limiter.onThrottle()).toBeCloseTo(base * BETA, 12);
    limiter.assertInvariants();
    const W = Math.cbrt((base * (1 - BETA)) / C);
    expect(W).toBeCloseTo(1.983, 3);
    const curve = (x: number): number => C * (x - W) ** 3 + base;
    // Keep 20 responses a second coming (2·measured ≈ 40 stays above the curve) and read the
    // rate at a few points x seconds after the throttle.
    const expected: [number, number][] = [
      [0.05, 7.51],
      [0.5, 9.095],
      [1, 10.02],
      [2, 10.4],
      [3, 10.821],
      [4, 13.681],
    ];
    let from = 1050;
    for (const [x, approx] of expected) {
      const at = 1000 + x * 1000;
      const rate = successes(clock, limiter, from, at, 50);
      from = at + 50;
      expect(rate, `x = ${x}`).toBeCloseTo(curve(x), 9);
      expect(rate, `x = ${x}`).toBeCloseTo(approx, 3);
    }
  });

  it('the curve passes the base exactly W after the throttle', () => {
    const { clock, limiter } = make({ initialRate: 10, maxRate: 100 });
    limiter.onThrottle(); // nothing measured yet: base = rate = 10
    expect(limiter.rate).toBe(7);
    const W = Math.cbrt((10 * (1 - BETA)) / C); // ≈ 1.957 s
    successes(clock, limiter, 50, 1950, 50); // 20 a second keeps 2·measured above the curve
    clock.advanceTo(W * 1000);
    expect(limiter.onSuccess()).toBeCloseTo(10, 9);
  });

  it('the base is the measured rate when the client sends below its rate', () => {
    const { clock, limiter } = make({ initialRate: 10, maxRate: 100 });
    successes(clock, limiter, 0, 1000, 250); // 4 a second
    // Buckets: 3 calls by 500 → 6/s → 4.8; 2 more by 1000 → 4/s → 0.8·4 + 0.2·4.8 = 4.16.
    expect(limiter.stats().measuredRate).toBeCloseTo(4.16, 12);
    expect(limiter.rate).toBeCloseTo(10.4, 12);
    expect(limiter.onThrottle()).toBeCloseTo(4.16 * BETA, 12);
  });

  it('after a throttle, the rate never runs ahead of twice the measured rate', () => {
    const { clock, limiter } = make({ initialRate: 10, maxRate: 100 });
    successes(clock, limiter, 0, 1000, 50);
    limiter.onThrottle(); // measured 19.52; 1 call in the bucket from 1000
    clock.advanceTo(11_000); // the curve would be ≈ 216 here
    // 2 calls over 10 s: 0.8·0.2 + 0.2·19.52 = 4.064 measured, so 8.128 at most.
    expect(limiter.onSuccess()).toBeCloseTo(2 * 4.064, 9);
    expect(limiter.stats().measuredRate).toBeCloseTo(4.064, 12);
    limiter.assertInvariants();
  });

  it('throttles compound (as AWS) down to minRate, and successes climb back to maxRate', () => {
    const { clock, limiter } = make({ initialRate: 10, minRate: 1, maxRate: 12 });
    const rates = [1, 2, 3, 4, 5, 6, 7].map(() => limiter.onThrottle());
    expect(rates.slice(0, 6)).toEqual(
      [7, 4.9, 3.43, 2.401, 1.6807, 1.17649].map((r) => expect.closeTo(r, 9)),
    );
    expect(rates[6]).toBe(1); // 0.82… clamped
    limiter.assertInvariants();
    successes(clock, limiter, 50, 60_000, 50);
    expect(limiter.rate).toBe(12);
    expect(limiter.stats()).toMatchObject({ throttles: 7, successes: 1200 });
  });

  it('custom beta and scaleConstant', () => {
    const { clock, limiter } = make({ initialRate: 10, maxRate: 100, beta: 0.5, scaleConstant: 1 });
    expect(limiter.onThrottle()).toBe(5);
    // W = ∛(10·0.5/1); the rate at x = 1: (1 − W)³ + 10 (responses keep the cap out of it).
    expect(successes(clock, limiter, 50, 1000, 50)).toBeCloseTo((1 - Math.cbrt(5)) ** 3 + 10, 9);
  });
});

// ---- AIMD ------------------------------------------------------------------------------------

describe('FeedbackRateLimiter: AIMD', () => {
  it('adds `increase` per window of successes, halves on a throttle, once per window', () => {
    const { clock, limiter } = make({ initialRate: 10, algorithm: 'aimd' });
    const rows: [number, 'success' | 'throttle', number][] = [
      [500, 'success', 10], // a window has not passed since construction
      [1000, 'success', 11],
      [1500, 'success', 11],
      [2000, 'success', 12],
      [2100, 'throttle', 6],
      [2500, 'throttle', 6], // an echo of the same overload
      [3000, 'success', 6], // a throttle within the last window
      [3100, 'throttle', 3], // a window after the last cut
      [3500, 'success', 3],
      [4100, 'success', 4],
      [4600, 'success', 4],
      [5100, 'success', 5],
    ];
    for (const [at, kind, rate] of rows) {
      clock.advanceTo(at);
      const got = kind === 'success' ? limiter.onSuccess() : limiter.onThrottle();
      expect(got, `${kind} at ${at}`).toBe(rate);
      expect(limiter.rate).toBe(rate);
      limiter.assertInvariants();
    }
    expect(limiter.stats()).toMatchObject({ algorithm: 'aimd', throttles: 3, successes: 9 });
  });

  it('custom constants, clamped to [minRate, maxRate]', () => {
    const { clock, limiter } = make({
      initialRate: 8,
      minRate: 3,
      maxRate: 9,
      algorithm: 'aimd',
      increase: 5,
      decreaseFactor: 0.25,
      windowMs: 100,
    });
    expect(limiter.onThrottle()).toBe(3); // 2 → minRate
    clock.advanceTo(100);
    expect(limiter.onSuccess()).toBe(8);
    clock.advanceTo(200);
    expect(limiter.onSuccess()).toBe(9); // 13 → maxRate
    limiter.assertInvariants();
  });
});

// ---- waiting callers and rate changes -----------------------------------------------------------

describe('FeedbackRateLimiter: waiters follow the rate', () => {
  it('a rate increase moves waiters earlier', async () => {
    const { clock, limiter } = make({ initialRate: 1, algorithm: 'aimd', windowMs: 100 });
    expect(limiter.tryTake().ok).toBe(true);
    const a = watch(clock, limiter.take()); // 1000 at 1/s
    await advanceTo(clock, 200);
    expect(limiter.onSuccess()).toBe(2); // 0.8 token short at 2/s: 400 ms
    limiter.assertInvariants();
    expect(clock.nextTimerAt).toBe(600);
    await advanceTo(clock, 2000);
    expect(a).toMatchObject({ state: 'resolved', at: 600 });
    expect(clock.pendingTimers).toBe(0);
  });

  it('a rate decrease moves waiters later, in order; one pushed past its timeout rejects', async () => {
    const { clock, limiter } = make({ initialRate: 10 });
    limiter.tryTake();
    const a = watch(clock, limiter.take(1, { timeoutMs: 150 })); // 100
    const b = watch(clock, limiter.take()); // 200
    const c = watch(clock, limiter.take(1, { timeoutMs: 250 })); // 300
    await advanceTo(clock, 50);
    expect(limiter.onThrottle()).toBe(7); // nothing measured yet: 0.7 × 10
    limiter.assertInvariants();
    await flush();
    // a: 0.5 token short at 7/s; b: a whole token later; c would act past 250.
    expect(c.state).toBe('rejected');
    expect(c.error).toBeInstanceOf(TimeoutError);
    expect((c.error as TimeoutError).timeoutMs).toBe(250);
    await advanceTo(clock, 1000);
    expect(a.state).toBe('resolved');
    expect(a.at).toBeCloseTo(50 + 500 / 7, 6);
    expect(b.state).toBe('resolved');
    expect(b.at).toBeCloseTo(50 + 1500 / 7, 6);
    expect(b.seq).toBeGreaterThan(a.seq);
    expect(limiter.stats()).toMatchObject({ timedOut: 1, waiting: 0 });
    expect(clock.pendingTimers).toBe(0);
  });
});

// ---- Retry-After --------------------------------------------------------------------------------

describe('FeedbackRateLimiter: Retry-After pause', () => {
  it('nothing is granted before the pause ends, even from a full bucket', () => {
    const { clock, limiter } = make({ initialRate: 10, burst: 5 });
    expect(limiter.onThrottle({ retryAfterMs: 1000 })).toBe(7);
    limiter.assertInvariants();
    expect(limiter.stats().pausedForMs).toBe(1000);
    expect(limiter.idle).toBe(false);
    expect(limiter.peek()).toEqual({ ok: false, retryAfterMs: 1000 });
    expect(limiter.tryTake()).toEqual({ ok: false, retryAfterMs: 1000 });
    clock.advanceTo(999);
    expect(limiter.tryTake()).toEqual({ ok: false, retryAfterMs: 1 });
    expect(limiter.stats().pausedForMs).toBe(1);
    clock.advanceTo(1000);
    for (let i = 0; i < 5; i++) expect(limiter.tryTake().ok, `take ${i}`).toBe(true);
    const refused = limiter.tryTake();
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.retryAfterMs).toBeCloseTo(1000 / 7, 6);
    expect(limiter.stats()).toMatchObject({ pausedForMs: 0, granted: 5, refused: 3 });
    expect(clock.pendingTimers).toBe(0);
    limiter.assertInvariants();
  });

  it('waiting take() callers resume at the pause end, then at the new rate, in order', async () => {
    const { clock, limiter } = make({ initialRate: 2 });
    limiter.tryTake();
    const a = watch(clock, limiter.take()); // 500 at 2/s
    const b = watch(clock, limiter.take()); // 1000
    const c = watch(clock, limiter.take(1, { timeoutMs: 1500 })); // 1500
    await advanceTo(clock, 100);
    expect(limiter.onThrottle({ retryAfterMs: 2000 })).toBeCloseTo(1.4, 12);
    limiter.assertInvariants();
    expect(clock.pendingTimers).toBe(1);
    expect(clock.nextTimerAt).toBe(2100);
    await flush();
    // c would now act at 2100 + 2·(1000/1.4) ms, past its timeout.
    expect(c.state).toBe('rejected');
    expect((c.error as TimeoutError).message).toBe(
      'The wait would take 3528.571 ms, more than the timeout of 1500 ms',
    );
    await advanceTo(clock, 2099.999);
    expect(a.state).toBe('pending');
    expect(b.state).toBe('pending');
    await advanceTo(clock, 2100);
    expect(a).toMatchObject({ state: 'resolved', at: 2100 });
    expect(b.state).toBe('pending');
    await advanceTo(clock, 5000);
    expect(b.state).toBe('resolved');
    expect(b.at).toBeCloseTo(2100 + 1000 / 1.4, 6);
    expect(limiter.stats()).toMatchObject({ granted: 3, timedOut: 1, waiting: 0 });
    expect(clock.pendingTimers).toBe(0);
    limiter.assertInvariants();
  });

  it('a waiter placed at the pause end and then aborted gives back its token and what the cap took', async () => {
    const { clock, limiter } = make({ initialRate: 10 });
    limiter.onThrottle({ retryAfterMs: 1000 }); // 7/s; the full bucket would pass its cap by 1000
    const controller = new AbortController();
    const a = watch(clock, limiter.take(1, { signal: controller.signal })); // 1000
    limiter.assertInvariants();
    await advanceTo(clock, 500);
    controller.abort();
    await flush();
    expect(a.state).toBe('rejected');
    limiter.assertInvariants();
    expect(limiter.available).toBe(1); // the bucket is as full as it would be without a
    limiter.onThrottle(); // a slower rate now must not leave it short at the pause end
    await advanceTo(clock, 1000);
    expect(limiter.available).toBe(1);
    expect(limiter.tryTake().ok).toBe(true);
    expect(limiter.tryTake().ok).toBe(false);
  });

  it('a take() during a pause waits for it, or refuses at once if its timeout is shorter', async () => {
    const { clock, limiter } = make({ initialRate: 10 });
    limiter.onThrottle({ retryAfterMs: 3000 });
    await advanceTo(clock, 1000);
    const short = watch(clock, limiter.take(1, { timeoutMs: 1999 }));
    const long = watch(clock, limiter.take(1, { timeoutMs: 2000 }));
    await flush();
    expect(short.state).toBe('rejected');
    expect((short.error as TimeoutError).message).toBe(
      'The wait would take 2000 ms, more than the timeout of 1999 ms',
    );
    await advanceTo(clock, 5000);
    expect(long).toMatchObject({ state: 'resolved', at: 3000 });
  });

  it('aborting a waiter during a pause: rejects with the reason, listener removed, others stay behind the pause', async () => {
    const { clock, limiter } = make({ initialRate: 10 });
    limiter.onThrottle({ retryAfterMs: 1000 });
    const controller = new AbortController();
    const a = watch(clock, limiter.take(1, { signal: controller.signal })); // 1000
    const b = watch(clock, limiter.take()); // 1000 + 1000/7
    expect(listeners(controller.signal)).toBe(1);
    await advanceTo(clock, 500);
    const reason = new Error('gone');
    controller.abort(reason);
    await flush();
    expect(a).toMatchObject({ state: 'rejected', error: reason });
    expect(listeners(controller.signal)).toBe(0);
    limiter.assertInvariants();
    expect(clock.nextTimerAt).toBe(1000); // b moves up to the pause end, not before it
    await advanceTo(clock, 2000);
    expect(b).toMatchObject({ state: 'resolved', at: 1000 });
    expect(limiter.stats()).toMatchObject({ cancelled: 1, granted: 1 });
  });

  it('an already-aborted signal rejects at once during a pause and takes nothing', async () => {
    const { clock, limiter } = make({ initialRate: 10 });
    limiter.onThrottle({ retryAfterMs: 1000 });
    const reason = new Error('already');
    const a = watch(clock, limiter.take(1, { signal: AbortSignal.abort(reason) }));
    await flush();
    expect(a).toMatchObject({ state: 'rejected', error: reason });
    expect(clock.pendingTimers).toBe(0);
  });

  it('a shorter Retry-After does not shorten a pause; a longer one extends it; successes do not end it', () => {
    const { clock, limiter } = make({ initialRate: 10, burst: 3 });
    limiter.onThrottle({ retryAfterMs: 2000 });
    clock.advanceTo(500);
    limiter.onThrottle({ retryAfterMs: 100 });
    limiter.onSuccess();
    expect(limiter.stats().pausedForMs).toBe(1500);
    limiter.onThrottle({ retryAfterMs: 4000 });
    expect(limiter.stats().pausedForMs).toBe(4000);
    clock.advanceTo(4499);
    expect(limiter.tryTake().ok).toBe(false);
    clock.advanceTo(4500);
    expect(limiter.tryTake().ok).toBe(true);
    limiter.assertInvariants();
  });

  it('retryAfterMs 0 or absent lowers the rate without pausing; maxPauseMs caps a pause', () => {
    const { clock, limiter } = make({ initialRate: 10, maxPauseMs: 5000 });
    limiter.onThrottle({ retryAfterMs: 0 });
    limiter.onThrottle({});
    expect(limiter.stats().pausedForMs).toBe(0);
    expect(limiter.tryTake().ok).toBe(true);
    limiter.onThrottle({ retryAfterMs: 3_600_000 });
    expect(limiter.stats().pausedForMs).toBe(5000);
    clock.advanceTo(10_000);
    expect(limiter.tryTake().ok).toBe(true);
  });

  it('a reserve() made before the throttle keeps its time, and so do waiters while it is outstanding', async () => {
    const { clock, limiter } = make({ initialRate: 10 });
    limiter.tryTake();
    const r = limiter.reserve(); // 100
    expect(r.timeToAct).toBe(100);
    const a = watch(clock, limiter.take()); // 200
    await advanceTo(clock, 50);
    limiter.onThrottle({ retryAfterMs: 1000 });
    // Requests made from now on wait for the pause.
    expect(limiter.peek()).toEqual({ ok: false, retryAfterMs: 1000 });
    await advanceTo(clock, 300);
    expect(a).toMatchObject({ state: 'resolved', at: 200 });
    limiter.assertInvariants();
  });
});

// ---- idle and stats ---------------------------------------------------------------------------

describe('FeedbackRateLimiter: idle', () => {
  it('is not idle below initialRate, and is again once the rate has recovered', () => {
    const { clock, limiter } = make({ initialRate: 10, algorithm: 'aimd', increase: 5 });
    limiter.onThrottle();
    expect(limiter.rate).toBe(5);
    clock.advanceTo(1000);
    expect(limiter.idle).toBe(false);
    limiter.onSuccess();
    expect(limiter.rate).toBe(10);
    expect(limiter.idle).toBe(true);
  });

  it('is not idle while a take() waits, and is again once the bucket has refilled', async () => {
    const { clock, limiter } = make({ initialRate: 10 });
    limiter.tryTake();
    const a = watch(clock, limiter.take()); // 100
    expect(limiter.idle).toBe(false);
    await advanceTo(clock, 100);
    expect(a.state).toBe('resolved');
    expect(limiter.idle).toBe(false); // the bucket is empty again
    await advanceTo(clock, 200);
    expect(limiter.idle).toBe(true);
  });
});

// ---- property --------------------------------------------------------------------------------

type Step =
  | TakeStep
  | TryStep
  | AbortStep
  | { readonly kind: 'throttle'; readonly dt: number; readonly retryAfterMs: number | undefined }
  | { readonly kind: 'success'; readonly dt: number };

const dtArb = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1500 }));
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('take' as const),
      dt: dtArb,
      n: fc.integer({ min: 1, max: 4 }),
      abortable: fc.boolean(),
      timeoutMs: fc.option(fc.integer({ min: 0, max: 4000 }), { nil: undefined }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('try' as const),
      dt: dtArb,
      n: fc.integer({ min: 1, max: 4 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('abort' as const), dt: dtArb, pick: fc.nat() }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('throttle' as const),
      dt: dtArb,
      retryAfterMs: fc.option(fc.integer({ min: 0, max: 3000 }), { nil: undefined }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('success' as const), dt: dtArb }) },
);

describe('FeedbackRateLimiter: property', () => {
  it('random traffic and feedback: nothing granted inside a pause, FIFO takes, all settle, nothing left behind', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('cubic' as const, 'aimd' as const),
        fc.double({ min: 0.5, max: 50, noNaN: true }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(stepArb, { minLength: 1, maxLength: 50 }),
        async (algorithm, initialRate, burst, steps) => {
          const manual = new ManualClock();
          let limiter: FeedbackRateLimiter | undefined;
          const clock = checkedClock(manual, () => limiter?.assertInvariants());
          limiter = new FeedbackRateLimiter({ initialRate, burst, algorithm, clock });
          const l = limiter;
          const grants: number[] = [];
          const pauses: [from: number, until: number][] = [];
          const takes: {
            controller: AbortController | undefined;
            state: 'pending' | 'resolved' | 'rejected';
            seq: number;
          }[] = [];
          let seq = 0;
          for (const step of steps) {
            await manual.advanceAsync(step.dt);
            const n = 'n' in step ? ((step.n - 1) % burst) + 1 : 1;
            switch (step.kind) {
              case 'take': {
                const controller = step.abortable ? new AbortController() : undefined;
                const record = {
                  controller,
                  state: 'pending' as const,
                  seq: -1,
                } as (typeof takes)[0];
                takes.push(record);
                l.take(n, { signal: controller?.signal, timeoutMs: step.timeoutMs }).then(
                  () => {
                    record.state = 'resolved';
                    record.seq = seq++;
                    grants.push(manual.now());
                  },
                  () => {
                    record.state = 'rejected';
                  },
                );
                break;
              }
              case 'try':
                if (l.tryTake(n).ok) grants.push(manual.now());
                break;
              case 'abort': {
                const pending = takes.filter((t) => t.state === 'pending' && t.controller);
                pending[step.pick % Math.max(1, pending.length)]?.controller?.abort();
                break;
              }
              case 'throttle':
                l.onThrottle({ retryAfterMs: step.retryAfterMs });
                if (step.retryAfterMs)
                  pauses.push([manual.now(), manual.now() + step.retryAfterMs]);
                break;
              case 'success':
                l.onSuccess();
                break;
            }
            l.assertInvariants();
          }
          await manual.advanceAsync(1e7);
          for (const t of grants) {
            for (const [from, until] of pauses) {
              expect(t > from && t < until, `grant at ${t} inside pause (${from}, ${until})`).toBe(
                false,
              );
            }
          }
          expect(takes.every((t) => t.state !== 'pending')).toBe(true);
          const resolved = takes.filter((t) => t.state === 'resolved').map((t) => t.seq);
          expect(resolved).toEqual([...resolved].sort((a, b) => a - b));
          expect(manual.pendingTimers).toBe(0);
          for (const t of takes) {
            if (t.controller)
              expect(getEventListeners(t.controller.signal, 'abort')).toHaveLength(0);
          }
          expect(l.waiting).toBe(0);
        },
      ),
      { numRuns: propRuns(100) },
    );
  });
});
