/**
 * The rules every sluice rate limiter of the GCRA family keeps, in-process or on Redis, as one
 * suite run against each implementation (test/redis/rate-limiter.contract.test.ts), so their
 * semantics cannot drift apart.
 *
 * A subject is a limit of `rate` per second and `burst`, full at the start, with its own idea
 * of time: a manual clock (exact) or the real one (then `toleranceMs` says how far a measured
 * time may stray in the direction time passing can move it: a refusal's `retryAfterMs` a
 * little short, a grant a little late — never a grant early).
 */
import { describe, expect, it } from 'vitest';
import { TimeoutError } from '../../../src/errors.js';
import type { TakeOptions, TakeResult } from '../../../src/limit/types.js';

export interface ContractSubject {
  /** The limiter's `tryTake`, as a promise (misuse still throws synchronously). */
  tryTake(n?: number): Promise<TakeResult>;
  take(n?: number, options?: TakeOptions): Promise<void>;
  /** The time, in ms, on the clock `take` sleeps on. */
  now(): number;
  /** Lets `ms` pass (a manual clock moves; on the real clock, a sleep). */
  advance(ms: number): Promise<void>;
  /** How far a measured time may stray (see the file comment); 0 on a manual clock. */
  readonly toleranceMs: number;
  close(): Promise<void>;
}

/** Makes a fresh subject: `rate` per second, `burst`, full. */
export type ContractFactory = (limit: {
  readonly rate: number;
  readonly burst: number;
}) => Promise<ContractSubject>;

const RATE = 4;
/** One token's time at RATE, in ms. */
const T = 1000 / RATE;

/** Takes the whole burst at once (the bucket is then empty). */
async function drain(s: ContractSubject, burst: number): Promise<void> {
  expect(await s.tryTake(burst)).toMatchObject({ ok: true });
}

function expectRetry(s: ContractSubject, result: TakeResult, ms: number): void {
  expect(result.ok).toBe(false);
  const retry = (result as { retryAfterMs: number }).retryAfterMs;
  expect(retry).toBeLessThanOrEqual(ms + 1e-6);
  expect(retry).toBeGreaterThanOrEqual(ms - s.toleranceMs);
}

/** Records when (on the subject's clock) and in what order promises settle. */
function recorder(s: ContractSubject) {
  const settled: { label: string; at: number; error?: unknown }[] = [];
  const watch = (label: string, promise: Promise<void>): Promise<void> =>
    promise.then(
      () => {
        settled.push({ label, at: s.now() });
      },
      (error: unknown) => {
        settled.push({ label, at: s.now(), error });
      },
    );
  return { settled, watch };
}

function expectAt(s: ContractSubject, at: number, expected: number): void {
  expect(at).toBeGreaterThanOrEqual(expected - 1e-6); // never early
  expect(at).toBeLessThanOrEqual(expected + s.toleranceMs);
}

export function rateLimiterContract(name: string, factory: ContractFactory): void {
  describe(`rate limiter contract: ${name}`, () => {
    const withSubject =
      (burst: number, body: (s: ContractSubject) => Promise<void>) => async () => {
        const s = await factory({ rate: RATE, burst });
        try {
          await body(s);
        } finally {
          await s.close();
        }
      };

    it(
      'a full limit admits burst at once; the next is refused for about one interval',
      withSubject(3, async (s) => {
        for (let i = 0; i < 3; i++) expect(await s.tryTake()).toMatchObject({ ok: true });
        expectRetry(s, await s.tryTake(), T);
        expectRetry(s, await s.tryTake(), T); // a refusal took nothing
      }),
    );

    it(
      'cost n: n at once from a full limit; a refusal for n says n intervals',
      withSubject(3, async (s) => {
        expect(await s.tryTake(2)).toMatchObject({ ok: true });
        expectRetry(s, await s.tryTake(2), T);
        expect(await s.tryTake(1)).toMatchObject({ ok: true });
        expectRetry(s, await s.tryTake(3), 3 * T);
        expectRetry(s, await s.tryTake(1), T);
      }),
    );

    it(
      'after one interval, exactly one more',
      withSubject(2, async (s) => {
        await drain(s, 2);
        await s.advance(T);
        expect(await s.tryTake()).toMatchObject({ ok: true });
        expectRetry(s, await s.tryTake(), T);
      }),
    );

    it(
      'waiting takes are served first come, first served, each at its slot',
      withSubject(2, async (s) => {
        const start = s.now();
        await drain(s, 2);
        const { settled, watch } = recorder(s);
        const all = [watch('a', s.take()), watch('b', s.take(2)), watch('c', s.take())];
        await s.advance(T / 2);
        expectRetry(s, await s.tryTake(), 4.5 * T); // it never jumps the queue
        await s.advance(3.5 * T + s.toleranceMs);
        await Promise.all(all);
        expect(settled.map((x) => x.label)).toEqual(['a', 'b', 'c']);
        expectAt(s, settled[0]!.at - start, T);
        expectAt(s, settled[1]!.at - start, 3 * T);
        expectAt(s, settled[2]!.at - start, 4 * T);
      }),
    );

    it(
      'a wait longer than timeoutMs is refused at once and reserves nothing',
      withSubject(1, async (s) => {
        const start = s.now();
        await drain(s, 1);
        const error = await s.take(1, { timeoutMs: T / 2 }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(TimeoutError);
        expect((error as TimeoutError).timeoutMs).toBe(T / 2);
        const { settled, watch } = recorder(s);
        const next = watch('next', s.take(1, { timeoutMs: T }));
        await s.advance(T + s.toleranceMs);
        await next;
        expectAt(s, settled[0]!.at - start, T); // not 2T: the refused take took nothing
      }),
    );

    it(
      'abort while waiting rejects with the reason and gives the slot back',
      withSubject(1, async (s) => {
        const start = s.now();
        await drain(s, 1);
        const controller = new AbortController();
        const { settled, watch } = recorder(s);
        const aborted = watch('aborted', s.take(1, { signal: controller.signal }));
        await s.advance(T / 4);
        const reason = new Error('gone');
        controller.abort(reason);
        await aborted;
        expect(settled[0]!.error).toBe(reason);
        const next = watch('next', s.take());
        await s.advance((3 * T) / 4 + s.toleranceMs);
        await next;
        expectAt(s, settled[1]!.at - start, T); // not 2T: the slot came back
      }),
    );

    it(
      'an already-aborted signal rejects at once and takes nothing',
      withSubject(1, async (s) => {
        const reason = new Error('before');
        await expect(s.take(1, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
        expect(await s.tryTake()).toMatchObject({ ok: true });
      }),
    );

    it(
      'n that is not an integer from 1 to burst throws a RangeError at once',
      withSubject(2, async (s) => {
        for (const n of [0, -1, 1.5, Number.NaN, 3]) {
          expect(() => s.tryTake(n)).toThrow(RangeError);
          expect(() => s.take(n)).toThrow(RangeError);
        }
        expect(await s.tryTake(2)).toMatchObject({ ok: true });
      }),
    );
  });
}
