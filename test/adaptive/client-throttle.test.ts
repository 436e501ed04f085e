/**
 * ClientThrottle (Google SRE, "Handling Overload"): the formula at exact points, the local
 * rejection draw against an injected random, the sliding window on a manual clock, `run`, bad
 * input, and a fast-check property against a naive model of the window.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClientThrottle, ThrottledError } from '../../src/adaptive/client-throttle.js';
import { SluiceError } from '../../src/errors.js';
import { ManualClock } from '../../src/testing/index.js';
import { caught, rejection } from '../support/errors.js';
import { propRuns } from '../support/prop.js';

/** A `random` that returns the given values in turn (then the last one forever). */
function scripted(...values: number[]): () => number {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)]!;
}

/** Just below 1: never rejects, since p < 1 always. */
const NEVER = scripted(1 - Number.EPSILON);

/** Puts `requests` attempts and `accepts` accepts into the window (the attempts all allowed). */
function load(throttle: ClientThrottle, requests: number, accepts: number): void {
  for (let i = 0; i < requests; i++) expect(throttle.tryRequest()).toBe(true);
  for (let i = 0; i < accepts; i++) throttle.record(true);
  throttle.assertInvariants();
}

describe('ClientThrottle: the formula', () => {
  it('starts with nothing in the window and p = 0', () => {
    const throttle = new ClientThrottle({ clock: new ManualClock() });
    expect(throttle.k).toBe(2);
    expect(throttle.windowMs).toBe(120_000);
    expect(throttle.rejectProbability).toBe(0);
    expect(throttle.stats()).toEqual({
      requests: 0,
      accepts: 0,
      rejectProbability: 0,
      totalRequests: 0,
      totalRejectedLocally: 0,
      totalAccepted: 0,
      totalNotAccepted: 0,
    });
  });

  it.each([
    // [k, requests, accepts, p]
    [2, 0, 0, 0],
    [2, 10, 0, 10 / 11],
    [2, 10, 4, 2 / 11],
    [2, 10, 5, 0], // K·accepts = requests
    [2, 10, 8, 0], // max(0, …)
    [2, 100, 10, 80 / 101],
    [2, 1, 0, 1 / 2],
    [1, 3, 1, 2 / 4],
    [1.5, 10, 6, 1 / 11],
    [1.1, 100, 50, 45 / 101],
  ])('K = %d, %d requests, %d accepts: p = %d', (k, requests, accepts, p) => {
    const throttle = new ClientThrottle({ k, clock: new ManualClock(), random: NEVER });
    load(throttle, requests, accepts);
    expect(throttle.rejectProbability).toBeCloseTo(p, 15);
    expect(throttle.stats()).toMatchObject({ requests, accepts });
  });

  it('tryRequest rejects when random() < p, and counts every attempt, rejected ones too', () => {
    // The first attempt (p = 0) draws nothing; the next nine draw 0.99 and pass.
    const throttle = new ClientThrottle({
      clock: new ManualClock(),
      random: scripted(...Array<number>(9).fill(0.99), 0.9, 0.92, 0.923, 0.93),
    });
    load(throttle, 10, 0);
    expect(throttle.tryRequest()).toBe(false); // 0.9 < 10/11 ≈ 0.9091
    expect(throttle.rejectProbability).toBe(11 / 12); // the rejected attempt counts
    expect(throttle.tryRequest()).toBe(true); // 0.92 ≥ 11/12 ≈ 0.9167
    expect(throttle.tryRequest()).toBe(false); // 0.923 < 12/13 ≈ 0.9231
    expect(throttle.tryRequest()).toBe(true); // 0.93 ≥ 13/14 ≈ 0.9286
    expect(throttle.stats()).toMatchObject({
      requests: 14,
      accepts: 0,
      totalRequests: 14,
      totalRejectedLocally: 2,
    });
    throttle.assertInvariants();
  });

  it('p is read before the attempt: random() equal to p lets it through', () => {
    const throttle = new ClientThrottle({ clock: new ManualClock(), random: scripted(0.5) });
    expect(throttle.tryRequest()).toBe(true); // p = 0: never rejects (random() is not drawn)
    expect(throttle.rejectProbability).toBe(0.5);
    expect(throttle.tryRequest()).toBe(true); // 0.5 is not < 0.5
  });

  it('record(false) adds no accept; record checks its argument', () => {
    const throttle = new ClientThrottle({ clock: new ManualClock(), random: NEVER });
    load(throttle, 4, 0);
    throttle.record(false);
    throttle.record(true);
    expect(throttle.stats()).toMatchObject({
      requests: 4,
      accepts: 1,
      totalAccepted: 1,
      totalNotAccepted: 1,
      rejectProbability: 2 / 5,
    });
    const error = caught(() => throttle.record('yes' as never));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe('Expected `accepted` to be a boolean, got `"yes"` (string)');
  });
});

describe('ClientThrottle: the sliding window', () => {
  it('forgets a bucket once the window has moved past it', () => {
    const clock = new ManualClock();
    const throttle = new ClientThrottle({ windowMs: 1000, buckets: 10, clock, random: NEVER });
    load(throttle, 10, 0); // bucket [0, 100)
    clock.advanceTo(500);
    load(throttle, 5, 1); // bucket [500, 600)
    expect(throttle.rejectProbability).toBe((15 - 2) / 16);
    clock.advanceTo(999);
    expect(throttle.stats()).toMatchObject({ requests: 15, accepts: 1 });
    clock.advanceTo(1000); // the window is now the buckets from [100, 200) to [1000, 1100)
    expect(throttle.stats()).toMatchObject({ requests: 5, accepts: 1 });
    expect(throttle.rejectProbability).toBe(3 / 6);
    clock.advanceTo(1499);
    expect(throttle.stats()).toMatchObject({ requests: 5, accepts: 1 });
    clock.advanceTo(1500); // [500, 600) leaves: the window is [600, 700) to [1500, 1600)
    expect(throttle.stats()).toMatchObject({ requests: 0, accepts: 0, rejectProbability: 0 });
    expect(throttle.stats()).toMatchObject({ totalRequests: 15, totalAccepted: 1 });
    throttle.assertInvariants();
  });

  it('a jump of many windows clears everything; lifetime totals stay', () => {
    const clock = new ManualClock({ start: 1_000_000 });
    const throttle = new ClientThrottle({ clock, random: NEVER });
    load(throttle, 50, 3);
    clock.advance(119_999); // still within the two minutes (same 2 s bucket boundaries)
    expect(throttle.stats().requests).toBe(50);
    clock.advance(10 * 120_000);
    expect(throttle.stats()).toMatchObject({ requests: 0, accepts: 0, totalRequests: 50 });
    throttle.assertInvariants();
  });

  it('one bucket: the window is a fixed one, reset at each boundary', () => {
    const clock = new ManualClock();
    const throttle = new ClientThrottle({ windowMs: 100, buckets: 1, clock, random: NEVER });
    load(throttle, 3, 0);
    clock.advanceTo(99);
    expect(throttle.stats().requests).toBe(3);
    clock.advanceTo(100);
    expect(throttle.stats().requests).toBe(0);
  });
});

describe('ClientThrottle.run', () => {
  it('calls fn, returns its value and records an accept', async () => {
    const throttle = new ClientThrottle({ clock: new ManualClock(), random: NEVER });
    expect(await throttle.run(async () => 42)).toBe(42);
    expect(await throttle.run(() => 'sync')).toBe('sync');
    expect(throttle.stats()).toMatchObject({ requests: 2, accepts: 2, totalAccepted: 2 });
  });

  it('passes a rejection through unchanged and records it as not accepted', async () => {
    const throttle = new ClientThrottle({ clock: new ManualClock(), random: NEVER });
    const failure = new Error('503');
    expect(await rejection(throttle.run(() => Promise.reject(failure)))).toBe(failure);
    expect(
      await rejection(
        throttle.run(() => {
          throw failure;
        }),
      ),
    ).toBe(failure);
    expect(throttle.stats()).toMatchObject({ requests: 2, accepts: 0, totalNotAccepted: 2 });
  });

  it('rejected locally: fn is not called and the promise rejects with a ThrottledError', async () => {
    const throttle = new ClientThrottle({
      clock: new ManualClock(),
      random: scripted(0.99, 0.99, 0),
    });
    load(throttle, 3, 0); // p = 3/4
    let called = false;
    const error = (await rejection(
      throttle.run(() => {
        called = true;
      }),
    )) as ThrottledError;
    expect(called).toBe(false);
    expect(error).toBeInstanceOf(ThrottledError);
    expect(error).toBeInstanceOf(SluiceError);
    expect(error.code).toBe('ERR_SLUICE_THROTTLED');
    expect(error.name).toBe('ThrottledError');
    expect(error.rejectProbability).toBe(0.75);
    expect(error.message).toBe(
      'Rejected locally by adaptive throttling (reject probability 0.75): the backend has been refusing requests',
    );
    expect(throttle.stats()).toMatchObject({ requests: 4, totalRejectedLocally: 1 });
  });

  it('isAccepted decides from the settled outcome (a fetch-style 503 is not an accept)', async () => {
    const throttle = new ClientThrottle({ clock: new ManualClock(), random: NEVER });
    const isAccepted = (o: PromiseSettledResult<{ status: number }>) =>
      o.status === 'fulfilled' && o.value.status !== 503;
    expect(await throttle.run(async () => ({ status: 503 }), { isAccepted })).toEqual({
      status: 503,
    });
    await throttle.run(async () => ({ status: 200 }), { isAccepted });
    expect(throttle.stats()).toMatchObject({ requests: 2, accepts: 1, totalNotAccepted: 1 });
  });

  it('isAccepted throwing: counted as not accepted, and the call rejects with its error', async () => {
    const throttle = new ClientThrottle({ clock: new ManualClock(), random: NEVER });
    const bug = new Error('classifier bug');
    const got = await rejection(
      throttle.run(async () => 1, {
        isAccepted: () => {
          throw bug;
        },
      }),
    );
    expect(got).toBe(bug);
    expect(throttle.stats()).toMatchObject({ accepts: 0, totalNotAccepted: 1 });
  });

  it('misuse throws synchronously', () => {
    const throttle = new ClientThrottle({ clock: new ManualClock() });
    expect(() => throttle.run(5 as never)).toThrowError(
      'Expected `fn` to be a function, got `5` (number)',
    );
    expect(() => throttle.run(() => 1, { isAccepted: true as never })).toThrowError(
      'Expected `isAccepted` to be a function, got `true` (boolean)',
    );
    expect(throttle.stats().totalRequests).toBe(0);
  });
});

describe('ClientThrottle: bad options', () => {
  it.each([
    [{ k: 0.5 }, RangeError, 'Expected `k` to be a finite number from 1 up, got `0.5` (number)'],
    [
      { k: Number.NaN },
      RangeError,
      'Expected `k` to be a finite number from 1 up, got `NaN` (number)',
    ],
    [
      { k: Number.POSITIVE_INFINITY },
      RangeError,
      'Expected `k` to be a finite number from 1 up, got `Infinity` (number)',
    ],
    [
      { windowMs: 0 },
      RangeError,
      'Expected `windowMs` to be a finite number of milliseconds above 0, got `0` (number)',
    ],
    [
      { windowMs: -5 },
      RangeError,
      'Expected `windowMs` to be a finite number of milliseconds above 0, got `-5` (number)',
    ],
    [
      { windowMs: Number.POSITIVE_INFINITY },
      RangeError,
      'Expected `windowMs` to be a finite number of milliseconds above 0, got `Infinity` (number)',
    ],
    [{ buckets: 0 }, RangeError, 'Expected `buckets` to be an integer from 1 up, got `0` (number)'],
    [
      { buckets: 2.5 },
      RangeError,
      'Expected `buckets` to be an integer from 1 up, got `2.5` (number)',
    ],
    [{ random: 0.5 }, TypeError, 'Expected `random` to be a function, got `0.5` (number)'],
    [{ clock: {} }, TypeError, /`clock`.*`\{\}` \(object\)/],
  ] as [Record<string, unknown>, ErrorConstructor, string | RegExp][])(
    '%j throws, naming the option and value',
    (options, type, message) => {
      const error = caught(() => new ClientThrottle(options as never));
      expect(error).toBeInstanceOf(type);
      if (typeof message === 'string') expect(error.message).toBe(message);
      else expect(error.message).toMatch(message);
    },
  );

  it('a non-object options argument is a TypeError', () => {
    expect(() => new ClientThrottle(5 as never)).toThrow(TypeError);
  });
});

// ---- property -------------------------------------------------------------------------------

type Step =
  | { readonly kind: 'try'; readonly draw: number }
  | { readonly kind: 'record'; readonly accepted: boolean }
  | { readonly kind: 'wait'; readonly ms: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('try' as const),
    draw: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
  }),
  fc.record({ kind: fc.constant('record' as const), accepted: fc.boolean() }),
  fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 3000 }) }),
);

describe('ClientThrottle: property', () => {
  it('p is in [0, 1), is 0 when K·accepts ≥ requests, and matches a naive window model', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1, max: 5, noNaN: true }),
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(step, { maxLength: 200 }),
        (k, windowMs, buckets, steps) => {
          const clock = new ManualClock();
          let draw = 0;
          const throttle = new ClientThrottle({ k, windowMs, buckets, clock, random: () => draw });
          // The model: every event with its bucket index; live while index > current − buckets.
          const bucketMs = windowMs / buckets;
          const events: { index: number; accept: boolean }[] = [];
          for (const s of steps) {
            const index = Math.floor(clock.now() / bucketMs);
            const live = events.filter((e) => e.index > index - buckets);
            const requests = live.filter((e) => !e.accept).length;
            const accepts = live.filter((e) => e.accept).length;
            const p = throttle.rejectProbability;
            expect(p).toBeGreaterThanOrEqual(0);
            expect(p).toBeLessThan(1);
            if (k * accepts >= requests) expect(p).toBe(0);
            expect(p).toBe(Math.max(0, (requests - k * accepts) / (requests + 1)));
            expect(throttle.stats()).toMatchObject({ requests, accepts });
            if (s.kind === 'try') {
              draw = s.draw;
              expect(throttle.tryRequest()).toBe(!(s.draw < p));
              events.push({ index, accept: false });
            } else if (s.kind === 'record') {
              throttle.record(s.accepted);
              if (s.accepted) events.push({ index, accept: true });
            } else {
              clock.advance(s.ms);
            }
            throttle.assertInvariants();
          }
        },
      ),
      { numRuns: propRuns(200) },
    );
  });
});
