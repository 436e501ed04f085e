/**
 * feedbackFetch against a fake fetch that answers from a script (status, Retry-After, or a
 * network error) and records when each request went out, on a manual clock.
 */
import { describe, expect, it } from 'vitest';
import { feedbackFetch, type ResponseLike } from '../../src/adaptive/feedback-fetch.js';
import { FeedbackRateLimiter } from '../../src/adaptive/feedback-rate.js';
import { TimeoutError } from '../../src/errors.js';
import { ManualClock } from '../../src/testing/index.js';
import { advanceTo, flush } from '../support/clock.js';
import { caught } from '../support/errors.js';
import { observe } from '../support/outcome.js';
import { listeners } from '../support/signals.js';

/** One scripted answer: a status (with an optional Retry-After), or a network error. */
type Answer = { readonly status: number; readonly retryAfter?: string } | Error;

interface FakeInit {
  readonly signal?: AbortSignal | null;
  readonly method?: string;
}

interface Sent {
  readonly input: unknown;
  readonly init: FakeInit | undefined;
  readonly at: number;
}

/** A fetch-shaped function answering from `script` in order, recording what was sent when. */
function fakeFetch(clock: ManualClock, script: Answer[]) {
  const sent: Sent[] = [];
  const fetchFn = async (input: string | { url: string; signal: AbortSignal }, init?: FakeInit) => {
    sent.push({ input, init, at: clock.now() });
    const answer = script.shift();
    if (answer === undefined) throw new Error('script ran out');
    if (answer instanceof Error) throw answer;
    const response: ResponseLike & { readonly body: string } = {
      status: answer.status,
      body: `answer ${sent.length}`,
      headers: {
        get: (name: string) =>
          name.toLowerCase() === 'retry-after' ? (answer.retryAfter ?? null) : null,
      },
    };
    return response;
  };
  return { fetchFn, sent };
}

function setup(script: Answer[], initialRate = 10) {
  const clock = new ManualClock();
  const limiter = new FeedbackRateLimiter({ initialRate, clock });
  const { fetchFn, sent } = fakeFetch(clock, script);
  return { clock, limiter, sent, fetchFn };
}

describe('feedbackFetch', () => {
  it('keeps the type of the function it wraps (global fetch included)', () => {
    const limiter = new FeedbackRateLimiter({ initialRate: 1, clock: new ManualClock() });
    const wrapped: typeof fetch = feedbackFetch(fetch, limiter);
    expect(typeof wrapped).toBe('function');
  });

  it('takes a token before each call: requests go out at the limiter rate', async () => {
    const { clock, limiter, sent, fetchFn } = setup([
      { status: 200 },
      { status: 200 },
      { status: 200 },
    ]);
    const wrapped = feedbackFetch(fetchFn, limiter);
    const results = ['/a', '/b', '/c'].map((url) => observe(wrapped(url), clock));
    await flush();
    expect(sent.map((s) => s.at)).toEqual([0]);
    await advanceTo(clock, 500);
    // 100 ms apart at 10 a second (the successes nudge CUBIC's rate up by a hair).
    expect(sent.map((s) => s.input)).toEqual(['/a', '/b', '/c']);
    expect(sent[1]!.at).toBe(100);
    expect(sent[2]!.at).toBeCloseTo(200, 1);
    expect(results.map((r) => r.state)).toEqual(['resolved', 'resolved', 'resolved']);
    expect(results.map((r) => r.value?.body)).toEqual(['answer 1', 'answer 2', 'answer 3']);
  });

  it('returns the response unchanged, whatever its status', async () => {
    const { limiter, fetchFn } = setup([{ status: 429 }]);
    const response = await feedbackFetch(fetchFn, limiter)('/x');
    expect(response.status).toBe(429);
    expect(response.body).toBe('answer 1');
  });

  it('any status but 429 and 503 is a success', async () => {
    const statuses = [200, 204, 301, 400, 404, 500, 502];
    const { clock, limiter, fetchFn } = setup(
      statuses.map((status) => ({ status })),
      1000,
    );
    const wrapped = feedbackFetch(fetchFn, limiter);
    for (const _ of statuses) {
      await wrapped('/x');
      await advanceTo(clock, clock.now() + 10);
    }
    expect(limiter.stats()).toMatchObject({ successes: statuses.length, throttles: 0 });
  });

  it('429 with Retry-After in seconds: lowers the rate and pauses; the next request waits for it', async () => {
    const { clock, limiter, sent, fetchFn } = setup([
      { status: 429, retryAfter: '2' },
      { status: 200 },
    ]);
    const wrapped = feedbackFetch(fetchFn, limiter);
    const first = await wrapped('/a');
    expect(first.status).toBe(429);
    expect(limiter.stats()).toMatchObject({ throttles: 1, successes: 0, pausedForMs: 2000 });
    expect(limiter.rate).toBe(7);
    const second = observe(wrapped('/b'), clock);
    await advanceTo(clock, 1999);
    expect(sent).toHaveLength(1);
    await advanceTo(clock, 3000);
    expect(second.state).toBe('resolved');
    expect(sent.map((s) => s.at)).toEqual([0, 2000]);
    expect(limiter.stats()).toMatchObject({ throttles: 1, successes: 1 });
  });

  it('503 with Retry-After as an HTTP-date, against the injected wall clock', async () => {
    const wall = Date.UTC(2025, 5, 1, 12, 0, 0);
    const { limiter, fetchFn } = setup([
      { status: 503, retryAfter: 'Sun, 01 Jun 2025 12:00:03 GMT' },
    ]);
    await feedbackFetch(fetchFn, limiter, { now: () => wall })('/a');
    expect(limiter.stats()).toMatchObject({ throttles: 1, pausedForMs: 3000 });
  });

  it('a throttle without Retry-After, or with garbage in it, lowers the rate without pausing', async () => {
    const { clock, limiter, fetchFn } = setup([
      { status: 429 },
      { status: 503, retryAfter: 'later' },
    ]);
    const wrapped = feedbackFetch(fetchFn, limiter);
    await wrapped('/a');
    await advanceTo(clock, 1000);
    await wrapped('/b');
    expect(limiter.stats()).toMatchObject({ throttles: 2, pausedForMs: 0 });
    // 10 → 7; then the measured rate (2 responses in the first second: 0.8·2) is the base.
    expect(limiter.rate).toBeCloseTo(1.6 * 0.7, 9);
  });

  it('throttleStatuses replaces the default set', async () => {
    const { clock, limiter, fetchFn } = setup([{ status: 503 }, { status: 418 }]);
    const wrapped = feedbackFetch(fetchFn, limiter, { throttleStatuses: [418] });
    await wrapped('/a');
    await advanceTo(clock, 1000);
    await wrapped('/b');
    expect(limiter.stats()).toMatchObject({ successes: 1, throttles: 1 });
  });

  it('a network error passes through unchanged and counts as neither success nor throttle', async () => {
    const failure = new TypeError('fetch failed');
    const { clock, limiter, sent, fetchFn } = setup([failure, { status: 200 }]);
    const wrapped = feedbackFetch(fetchFn, limiter);
    const first = observe(wrapped('/a'), clock);
    await flush();
    expect(first).toMatchObject({ state: 'rejected', error: failure });
    expect(limiter.stats()).toMatchObject({ successes: 0, throttles: 0, granted: 1 });
    expect(limiter.rate).toBe(10);
    await advanceTo(clock, 100);
    await wrapped('/b');
    expect(sent).toHaveLength(2);
  });

  it("the caller's init.signal aborts the wait; nothing is sent and the listener is removed", async () => {
    const { clock, limiter, sent, fetchFn } = setup([{ status: 200 }, { status: 200 }]);
    const wrapped = feedbackFetch(fetchFn, limiter);
    await wrapped('/a'); // empties the bucket
    const controller = new AbortController();
    const waiting = observe(wrapped('/b', { signal: controller.signal }), clock);
    await flush();
    expect(listeners(controller.signal)).toBe(1);
    const reason = new Error('user left');
    controller.abort(reason);
    await flush();
    expect(waiting).toMatchObject({ state: 'rejected', error: reason });
    expect(listeners(controller.signal)).toBe(0);
    expect(sent).toHaveLength(1);
    expect(limiter.stats()).toMatchObject({ cancelled: 1, waiting: 0 });
    await advanceTo(clock, 1000);
    expect(sent).toHaveLength(1);
  });

  it('the signal also reaches fetch; a Request-like input carries its own signal', async () => {
    const { clock, limiter, sent, fetchFn } = setup([{ status: 200 }]);
    const wrapped = feedbackFetch(fetchFn, limiter);
    await wrapped('/a', { signal: null, method: 'GET' }); // a null signal is no signal
    expect(sent[0]!.init).toEqual({ signal: null, method: 'GET' });
    const reason = new Error('request aborted');
    const request = { url: '/b', signal: AbortSignal.abort(reason) };
    const aborted = observe(wrapped(request), clock);
    await flush();
    expect(aborted).toMatchObject({ state: 'rejected', error: reason });
    expect(sent).toHaveLength(1);
  });

  it('timeoutMs: a wait longer than it (behind a pause) rejects at once with a TimeoutError', async () => {
    const { clock, limiter, sent, fetchFn } = setup([{ status: 429, retryAfter: '60' }]);
    const wrapped = feedbackFetch(fetchFn, limiter, { timeoutMs: 5000 });
    await wrapped('/a');
    const second = observe(wrapped('/b'), clock);
    await flush();
    expect(second.state).toBe('rejected');
    expect(second.error).toBeInstanceOf(TimeoutError);
    expect((second.error as TimeoutError).message).toBe(
      'The wait would take 60000 ms, more than the timeout of 5000 ms',
    );
    expect(sent).toHaveLength(1);
  });

  it.each([
    [
      'fetchFn',
      () => feedbackFetch(5 as never, new FeedbackRateLimiter({ initialRate: 1 })),
      TypeError,
      'Expected `fetchFn` to be a function, got `5` (number)',
    ],
    [
      'limiter',
      () => feedbackFetch(fetch, {} as never),
      TypeError,
      'Expected `limiter` to be a FeedbackRateLimiter (take, onThrottle, onSuccess), got `{}` (object)',
    ],
    [
      'throttleStatuses',
      () =>
        feedbackFetch(fetch, new FeedbackRateLimiter({ initialRate: 1 }), {
          throttleStatuses: ['429'] as never,
        }),
      TypeError,
      'Expected `throttleStatuses` to be an array of integer statuses, got `["429"]` (array)',
    ],
    [
      'now',
      () => feedbackFetch(fetch, new FeedbackRateLimiter({ initialRate: 1 }), { now: 5 as never }),
      TypeError,
      'Expected `now` to be a function, got `5` (number)',
    ],
    [
      'timeoutMs',
      () => feedbackFetch(fetch, new FeedbackRateLimiter({ initialRate: 1 }), { timeoutMs: -1 }),
      RangeError,
      'Expected `timeoutMs` to be a number of milliseconds from 0 up (or Infinity), got `-1` (number)',
    ],
  ])('a bad %s throws at once, naming it', (_name, call, type, message) => {
    const error = caught(call);
    expect(error).toBeInstanceOf(type);
    expect(error.message).toBe(message);
  });
});
