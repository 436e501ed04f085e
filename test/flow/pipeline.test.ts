/**
 * pipeline(): stages over bounded buffers. Type chaining, sources (arrays, sync and async
 * generators, channels, another pipeline) and sinks (`for await`, `run(sink)`), input order
 * with concurrency and the reorder window, backpressure (items alive bounded with a fast source
 * and a slow sink), errors from a stage, the source or the sink stopping everything, the
 * `signal` option, the consumer leaving, dropped items, bad input, and leaks. Nothing sleeps:
 * time is a ManualClock and `flush()` lets promise callbacks run.
 */
import { describe, expect, it } from 'vitest';
import {
  type DropSite,
  type Pipeline,
  pipeline,
  type StageContext,
  stage,
} from '../../src/flow/pipeline.js';
import { Channel } from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { advanceTo, flush } from '../support/clock.js';
import { caught, rejection } from '../support/errors.js';
import { observe } from '../support/outcome.js';
import { listeners } from '../support/signals.js';

// ---- helpers ---------------------------------------------------------------------------------

function sleep(clock: ManualClock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimer(resolve, ms));
}

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

/** A sync generator over 0..n-1 that records whether it was returned. */
function counting(n: number, log: { returned: boolean; yielded: number }): Iterable<number> {
  return {
    *[Symbol.iterator]() {
      try {
        for (let i = 0; i < n; i++) {
          log.yielded++;
          yield i;
        }
      } finally {
        log.returned = true;
      }
    },
  };
}

/** A handler that never settles until its signal aborts, then rejects with the reason. */
function untilAborted(_item: unknown, { signal }: StageContext): Promise<never> {
  return new Promise((_, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

// ---- types and basics ------------------------------------------------------------------------

describe('pipeline: building and types', () => {
  it("chains stages' types, and each through() makes a new pipeline", async () => {
    const base = pipeline([1, 2, 3]);
    const strings: Pipeline<string> = base.through(stage((n: number) => `#${n}`));
    const lengths: Pipeline<number> = strings.through(stage(async (s: string) => s.length));
    // @ts-expect-error a stage for strings does not fit a pipeline of numbers
    expect(() => base.through(stage((s: string) => s.length))).not.toThrow();
    expect(await collect(strings)).toEqual(['#1', '#2', '#3']);
    expect(await collect(lengths)).toEqual([2, 2, 2]);
    // A description runs afresh each time it is iterated.
    expect(await collect(lengths)).toEqual([2, 2, 2]);
  });

  it('a stage is reusable and exposes its settings', () => {
    const double = stage((n: number) => n * 2, { concurrency: 3 });
    expect([double.concurrency, double.capacity, double.ordered]).toEqual([3, 3, true]);
    const s = stage((n: number) => n, { capacity: 0, ordered: false });
    expect([s.concurrency, s.capacity, s.ordered]).toEqual([1, 0, false]);
  });

  it('run(sink) hands every result to the sink in order, one call at a time', async () => {
    const seen: number[] = [];
    let active = 0;
    let most = 0;
    await pipeline([1, 2, 3, 4])
      .through(stage(async (n: number) => n * 10, { concurrency: 4 }))
      .run(async (n, { signal }) => {
        expect(signal.aborted).toBe(false);
        most = Math.max(most, ++active);
        await flush();
        seen.push(n);
        active--;
      });
    expect(seen).toEqual([10, 20, 30, 40]);
    expect(most).toBe(1);
  });

  it('run() without a sink drains and discards', async () => {
    const calls: number[] = [];
    await pipeline([1, 2, 3])
      .through(stage((n: number) => calls.push(n)))
      .run();
    expect(calls).toEqual([1, 2, 3]);
  });

  it('an empty source ends at once', async () => {
    expect(await collect(pipeline([]).through(stage((n: number) => n)))).toEqual([]);
  });
});

describe('pipeline: sources and sinks', () => {
  it('takes an async generator and is consumed by for await', async () => {
    async function* numbers(): AsyncGenerator<number> {
      for (let i = 0; i < 5; i++) {
        await flush();
        yield i;
      }
    }
    const out = await collect(
      pipeline(numbers()).through(stage((n: number) => n + 1, { concurrency: 2 })),
    );
    expect(out).toEqual([1, 2, 3, 4, 5]);
  });

  it('takes a channel (ends when it is closed and drained) and never closes it on a stop', async () => {
    const ch = new Channel<number>({ capacity: 2 });
    const run = observe(collect(pipeline(ch).through(stage((n: number) => n * 2))));
    await ch.send(1);
    await ch.send(2);
    await ch.send(3);
    ch.close();
    await flush();
    expect(run.value).toEqual([2, 4, 6]);

    const open = new Channel<number>({ capacity: 1 });
    const controller = new AbortController();
    const stopped = observe(
      pipeline(open, { signal: controller.signal })
        .through(stage((n: number) => n))
        .run(),
    );
    await flush();
    expect(open.waitingReceivers).toBe(1);
    controller.abort('bye');
    await flush();
    expect(stopped.error).toBe('bye');
    expect(open.isClosed).toBe(false);
    expect(open.waitingReceivers).toBe(0); // the pending receive was withdrawn by return()
  });

  it('a pipeline is an async iterable source for another pipeline', async () => {
    const first = pipeline([1, 2, 3]).through(stage((n: number) => n + 1));
    const second = pipeline(first).through(stage((n: number) => n * n));
    expect(await collect(second)).toEqual([4, 9, 16]);
  });
});

// ---- ordering --------------------------------------------------------------------------------

describe('pipeline: ordering', () => {
  const delays = [50, 10, 40, 0, 30, 20];

  async function runWith(ordered: boolean): Promise<{ out: number[]; at: number[] }> {
    const clock = new ManualClock();
    const out: number[] = [];
    const at: number[] = [];
    const done = observe(
      pipeline(delays.keys())
        .through(
          stage(
            async (i: number) => {
              await sleep(clock, delays[i] as number);
              return i;
            },
            { concurrency: 6, ordered },
          ),
        )
        .run((i) => {
          out.push(i);
          at.push(clock.now());
        }),
    );
    await clock.runAllAsync();
    await flush();
    expect(done.state).toBe('resolved');
    return { out, at };
  }

  it('ordered (default): results in input order even with concurrency > 1', async () => {
    const { out, at } = await runWith(true);
    expect(out).toEqual([0, 1, 2, 3, 4, 5]);
    // Item 0 holds back the rest until it finishes at 50.
    expect(at).toEqual([50, 50, 50, 50, 50, 50]);
  });

  it('unordered: results in finish order', async () => {
    const { out } = await runWith(false);
    expect(out).toEqual([3, 1, 5, 4, 2, 0]);
  });

  it('an ordered stage never starts item k + concurrency + capacity while item k runs', async () => {
    const clock = new ManualClock();
    const started: number[] = [];
    const it = pipeline(Array.from({ length: 10 }, (_, i) => i))
      .through(
        stage(
          async (i: number) => {
            started.push(i);
            await sleep(clock, i === 0 ? 100 : 1);
            return i;
          },
          { concurrency: 2, capacity: 1 },
        ),
      )
      [Symbol.asyncIterator]();
    const first = observe(it.next());
    await advanceTo(clock, 50);
    // Window 3: items 0, 1, 2 only, though 1 and 2 finished long ago.
    expect(started).toEqual([0, 1, 2]);
    expect(it.stats().stages[0]).toMatchObject({ running: 1, buffered: 2 });
    it.assertInvariants();
    await advanceTo(clock, 100);
    expect(first.value).toEqual({ done: false, value: 0 });
    expect(started).toEqual([0, 1, 2, 3]);
    const returned = observe(it.return());
    await clock.runAllAsync(); // the aborted handlers ignore their signals
    expect(returned.value).toEqual({ done: true, value: undefined });
  });
});

// ---- backpressure ----------------------------------------------------------------------------

describe('pipeline: backpressure', () => {
  it('a slow sink holds back every stage and the source: items alive ≤ Σ(c + b) + 1', async () => {
    const clock = new ManualClock();
    let alive = 0;
    let most = 0;
    let produced = 0;
    function* fast(): Generator<number> {
      for (let i = 0; i < 200; i++) {
        produced++;
        most = Math.max(most, ++alive);
        yield i;
      }
    }
    const stages = [
      { concurrency: 3, capacity: 2 },
      { concurrency: 2, capacity: 0 },
      { concurrency: 4, capacity: 5, ordered: false },
    ];
    let p: Pipeline<number> = pipeline(fast());
    for (const options of stages) {
      p = p.through(
        stage(async (n: number) => {
          await sleep(clock, 1);
          return n;
        }, options),
      );
    }
    const it = p[Symbol.asyncIterator]();
    const out: number[] = [];
    const reading = (async () => {
      for (;;) {
        const step = await it.next();
        if (step.done) return;
        it.assertInvariants();
        await sleep(clock, 100); // the slow sink
        out.push(step.value);
        alive--;
      }
    })();
    await advanceTo(clock, 1000);
    const bound = 5 + 2 + 9 + 1;
    expect(most).toBeLessThanOrEqual(bound);
    expect(produced).toBeLessThan(bound + 12); // far from the 200 a buffer-less design reads
    await clock.runAllAsync();
    await reading;
    expect(out).toHaveLength(200);
    expect(most).toBeLessThanOrEqual(bound);
  });

  it('capacity 0 and concurrency 1 hold one item per stage', async () => {
    const log = { returned: false, yielded: 0 };
    const it = pipeline(counting(100, log))
      .through(stage((n: number) => n, { capacity: 0 }))
      .through(stage((n: number) => n, { capacity: 0 }))
      [Symbol.asyncIterator]();
    await flush();
    expect(log.yielded).toBe(2);
    expect(it.stats().stages.map((s) => s.buffered)).toEqual([1, 1]);
    await it.return();
    expect(log.returned).toBe(true);
  });
});

// ---- errors ----------------------------------------------------------------------------------

describe('pipeline: errors stop everything', () => {
  it('a stage error aborts every running handler, returns the source, rejects once', async () => {
    const log = { returned: false, yielded: 0 };
    const boom = new Error('boom');
    const reasons: unknown[] = [];
    const dropped: [unknown, DropSite][] = [];
    const signal = new AbortController().signal;
    const first = stage(
      (n: number, ctx: StageContext) => {
        if (n === 0) return n;
        ctx.signal.addEventListener('abort', () => reasons.push(ctx.signal.reason));
        return untilAborted(n, ctx);
      },
      { concurrency: 2 },
    );
    const failing = stage(async (_n: number) => {
      await flush();
      throw boom;
    });
    const run = pipeline(counting(100, log), { signal, onDrop: (i, s) => dropped.push([i, s]) })
      .through(first)
      .through(failing)
      .run();
    expect(await rejection(run)).toBe(boom);
    expect(log.returned).toBe(true);
    expect(reasons).toEqual([boom, boom]); // items 1 and 2 were running in stage 0
    expect(dropped).toEqual([
      [1, { stage: 0, started: true }],
      [2, { stage: 0, started: true }],
    ]);
    expect(listeners(signal)).toBe(0);
  });

  it("next() rejects with the error once, then reports done; the failed item isn't dropped", async () => {
    const boom = new Error('boom');
    const dropped: unknown[] = [];
    const it = pipeline([1, 2, 3], { onDrop: (item) => dropped.push(item) })
      .through(
        stage(
          (n: number) => {
            if (n === 2) throw boom;
            return n;
          },
          { concurrency: 3 },
        ),
      )
      [Symbol.asyncIterator]();
    await flush();
    expect(await rejection(it.next())).toBe(boom);
    expect(await it.next()).toEqual({ done: true, value: undefined });
    // Item 1 was finished and 3 too: both dropped; 2 failed.
    expect(dropped).toEqual([1, 3]);
    expect(it.stats()).toMatchObject({ pulled: 3, delivered: 0, failed: 1, dropped: 2 });
    it.assertInvariants();
  });

  it('the first error wins; later ones (from aborted handlers) are ignored', async () => {
    const first = new Error('first');
    const run = pipeline([1, 2, 3])
      .through(
        stage(
          async (n: number, { signal }: StageContext) => {
            if (n === 1) {
              await flush();
              throw first;
            }
            await new Promise((r) => signal.addEventListener('abort', r));
            throw new Error(`late ${n}`);
          },
          { concurrency: 3 },
        ),
      )
      .run();
    expect(await rejection(run)).toBe(first);
  });

  it('the run settles only after aborted handlers return', async () => {
    const clock = new ManualClock();
    const boom = new Error('boom');
    const run = observe(
      pipeline([1, 2])
        .through(
          stage(
            async (n: number) => {
              if (n === 1) {
                await sleep(clock, 5);
                throw boom;
              }
              await sleep(clock, 30); // ignores its signal
              return n;
            },
            { concurrency: 2 },
          ),
        )
        .run(),
    );
    await advanceTo(clock, 5);
    expect(run.state).toBe('pending');
    await advanceTo(clock, 30);
    expect(run.error).toBe(boom);
  });

  it('a source error rejects the run and the source is not returned', async () => {
    const bad = new Error('source');
    let returned = false;
    const source: AsyncIterable<number> = {
      [Symbol.asyncIterator]: () => ({
        i: 0,
        next(this: { i: number }) {
          return this.i++ < 2 ? Promise.resolve({ value: this.i }) : Promise.reject(bad);
        },
        return() {
          returned = true;
          return Promise.resolve({ done: true, value: undefined });
        },
      }),
    };
    const out: number[] = [];
    const run = pipeline(source)
      .through(stage((n: number) => n))
      .run((n) => {
        out.push(n);
      });
    expect(await rejection(run)).toBe(bad);
    expect(returned).toBe(false);
  });

  it('a source whose [Symbol.asyncIterator] throws, or yields a non-object, fails the run', async () => {
    const bad = new Error('open');
    const throwing = {
      [Symbol.asyncIterator]: (): AsyncIterator<number> => {
        throw bad;
      },
    };
    expect(
      await rejection(
        pipeline(throwing)
          .through(stage((n: number) => n))
          .run(),
      ),
    ).toBe(bad);
    const weird = {
      [Symbol.asyncIterator]: () => ({ next: () => Promise.resolve(42) }),
    } as unknown as AsyncIterable<number>;
    const error = await rejection(
      pipeline(weird)
        .through(stage((n: number) => n))
        .run(),
    );
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toContain('`42` (number)');
  });

  it('a sink error aborts the stages and rejects the run with it', async () => {
    const log = { returned: false, yielded: 0 };
    const bad = new Error('sink');
    const reasons: unknown[] = [];
    const run = pipeline(counting(100, log))
      .through(
        stage(
          (n: number, ctx: StageContext) => {
            if (n === 0) return n;
            ctx.signal.addEventListener('abort', () => reasons.push(ctx.signal.reason));
            return untilAborted(n, ctx);
          },
          { concurrency: 2 },
        ),
      )
      .run(async () => {
        await flush(); // meanwhile items 1 and 2 start
        throw bad;
      });
    expect(await rejection(run)).toBe(bad);
    expect(reasons).toEqual([bad, bad]);
    expect(log.returned).toBe(true);
  });

  it("a stage error aborts the sink's signal and waits for the sink to return", async () => {
    const clock = new ManualClock();
    const boom = new Error('boom');
    let sinkReason: unknown;
    const run = observe(
      pipeline([1, 2])
        .through(
          stage(
            async (n: number) => {
              if (n === 2) {
                await sleep(clock, 10);
                throw boom;
              }
              return n;
            },
            { concurrency: 2 },
          ),
        )
        .run(async (_n, { signal }) => {
          await sleep(clock, 50);
          sinkReason = signal.reason;
        }),
    );
    await advanceTo(clock, 10);
    expect(run.state).toBe('pending');
    await advanceTo(clock, 50);
    expect(run.error).toBe(boom);
    expect(sinkReason).toBe(boom);
  });
});

// ---- cancellation ----------------------------------------------------------------------------

describe('pipeline: the signal option and the consumer leaving', () => {
  it('an abort stops every stage and rejects with signal.reason untouched', async () => {
    const log = { returned: false, yielded: 0 };
    const controller = new AbortController();
    const reason = { why: 'shutdown' };
    const seen: unknown[] = [];
    const dropped: DropSite[] = [];
    const run = observe(
      pipeline(counting(100, log), {
        signal: controller.signal,
        onDrop: (_i, site) => dropped.push(site),
      })
        .through(stage((n: number) => n, { concurrency: 1, capacity: 1 }))
        .through(
          stage(
            (n: number, ctx: StageContext) => {
              ctx.signal.addEventListener('abort', () => seen.push(ctx.signal.reason));
              return untilAborted(n, ctx);
            },
            { concurrency: 2 },
          ),
        )
        .run(),
    );
    await flush();
    expect(listeners(controller.signal)).toBe(1);
    controller.abort(reason);
    await flush();
    expect(run.error).toBe(reason);
    expect(seen).toEqual([reason, reason]);
    expect(log.returned).toBe(true);
    expect(listeners(controller.signal)).toBe(0);
    // Two running in stage 1; stage 0 held one finished result plus its next item.
    expect(dropped.filter((s) => s.stage === 1 && s.started)).toHaveLength(2);
    expect(dropped.length).toBeGreaterThanOrEqual(3);
  });

  it('an already-aborted signal rejects without opening the source', async () => {
    let opened = false;
    const source = {
      [Symbol.iterator]: () => {
        opened = true;
        return [1][Symbol.iterator]();
      },
    };
    const reason = new Error('early');
    const p = pipeline(source, { signal: AbortSignal.abort(reason) }).through(
      stage((n: number) => n),
    );
    expect(await rejection(p.run())).toBe(reason);
    const it = p[Symbol.asyncIterator]();
    expect(await rejection(it.next())).toBe(reason);
    expect(await it.next()).toEqual({ done: true, value: undefined });
    expect(opened).toBe(false);
  });

  it('no listener is left on the signal after a normal end', async () => {
    const controller = new AbortController();
    await pipeline([1, 2], { signal: controller.signal })
      .through(stage((n: number) => n))
      .run();
    expect(listeners(controller.signal)).toBe(0);
  });

  it('break aborts running handlers with an AbortError and returns the source', async () => {
    const log = { returned: false, yielded: 0 };
    const reasons: unknown[] = [];
    const p = pipeline(counting(100, log)).through(
      stage(
        (n: number, ctx: StageContext) => {
          if (n === 0) return n;
          ctx.signal.addEventListener('abort', () => reasons.push(ctx.signal.reason));
          return untilAborted(n, ctx);
        },
        { concurrency: 3 },
      ),
    );
    for await (const n of p) {
      expect(n).toBe(0);
      await flush();
      break;
    }
    expect(log.returned).toBe(true);
    expect(reasons).toHaveLength(3);
    expect((reasons[0] as DOMException).name).toBe('AbortError');
  });

  it('return() waits for aborted handlers; pending next() calls end with done', async () => {
    const clock = new ManualClock();
    const it = pipeline([1])
      .through(stage(() => sleep(clock, 20)))
      [Symbol.asyncIterator]();
    const pending = observe(it.next());
    await flush();
    const returned = observe(it.return());
    await flush();
    expect(returned.state).toBe('pending');
    await advanceTo(clock, 20);
    expect(returned.value).toEqual({ done: true, value: undefined });
    expect(pending.value).toEqual({ done: true, value: undefined });
    expect(await it.return()).toEqual({ done: true, value: undefined });
    it.assertInvariants();
  });

  it('an item from a next() under way at the stop arrives late and is reported dropped', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let returned = false;
    const source: AsyncIterable<string> = {
      [Symbol.asyncIterator]: () => ({
        next: async () => {
          await gate;
          return { value: 'late' };
        },
        return: async () => {
          returned = true;
          throw new Error('ignored');
        },
      }),
    };
    const dropped: [unknown, DropSite][] = [];
    const controller = new AbortController();
    const it = pipeline(source, {
      signal: controller.signal,
      onDrop: (i, s) => dropped.push([i, s]),
    })
      .through(stage((s: string) => s))
      [Symbol.asyncIterator]();
    const next = observe(it.next());
    await flush();
    controller.abort('stop');
    await flush();
    expect(next.error).toBe('stop'); // does not wait for the source
    expect(returned).toBe(true);
    release();
    await flush();
    expect(dropped).toEqual([['late', { stage: 0, started: false }]]);
    it.assertInvariants();
    expect(it.stats()).toMatchObject({ pulled: 1, dropped: 1 });
  });

  it('items not yet given to their function are dropped as not started', async () => {
    const dropped: [unknown, DropSite][] = [];
    const controller = new AbortController();
    const calls: number[] = [];
    const it = pipeline([1, 2, 3], {
      signal: controller.signal,
      onDrop: (i, s) => dropped.push([i, s]),
    })
      .through(stage((n: number) => n * 10, { concurrency: 1, capacity: 3 }))
      .through(
        stage(
          async (n: number) => {
            calls.push(n);
            await flush();
            return n;
          },
          { capacity: 0 },
        ),
      )
      [Symbol.asyncIterator]();
    // The first result's callback runs before stage 1 calls its function with 20.
    const first = it.next().then((step) => {
      controller.abort('now');
      return step;
    });
    expect(await first).toEqual({ done: false, value: 10 });
    await flush();
    expect(calls).toEqual([10]);
    // Stage by stage from the source: stage 0's result 30, then 20, which stage 1 had taken.
    expect(dropped).toEqual([
      [30, { stage: 1, started: false }],
      [20, { stage: 1, started: false }],
    ]);
    expect(await rejection(it.next())).toBe('now');
    expect(it.stats()).toMatchObject({ pulled: 3, delivered: 1, dropped: 2 });
  });

  it('an onDrop that throws is rethrown on a microtask; every item is still reported', async () => {
    const errors: unknown[] = [];
    const onError = (error: unknown): void => {
      errors.push(error);
    };
    process.on('uncaughtException', onError);
    try {
      let count = 0;
      const boom = new Error('boom');
      const run = pipeline([1, 2, 3], {
        onDrop: () => {
          count++;
          throw new Error('hook');
        },
      })
        .through(
          stage(
            async (n: number) => {
              if (n === 3) throw boom;
              return n;
            },
            { concurrency: 3 },
          ),
        )
        .run(() => new Promise(() => {}));
      await flush();
      expect(count).toBe(1); // item 1 went to the sink that never returns; item 2 waited
      expect(errors).toHaveLength(1);
      expect(observe(run).state).toBe('pending');
    } finally {
      process.off('uncaughtException', onError);
    }
  });
});

// ---- bad input -------------------------------------------------------------------------------

describe('pipeline: bad input throws synchronously, naming the value', () => {
  const id = (n: number): number => n;

  it.each([
    [0, '`concurrency`', '`0` (number)'],
    [-1, '`concurrency`', '`-1` (number)'],
    [1.5, '`concurrency`', '`1.5` (number)'],
    [Infinity, '`concurrency`', '`Infinity` (number)'],
  ])('concurrency %s', (value, name, shown) => {
    const error = caught(() => stage(id, { concurrency: value }));
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toContain(name);
    expect(error.message).toContain(shown);
  });

  it('capacity, ordered, fn and options', () => {
    expect(caught(() => stage(id, { capacity: -1 })).message).toContain('`capacity`');
    expect(caught(() => stage(id, { capacity: 0.5 })).message).toContain('`0.5` (number)');
    const ordered = caught(() => stage(id, { ordered: 'yes' as unknown as boolean }));
    expect(ordered).toBeInstanceOf(TypeError);
    expect(ordered.message).toContain('`ordered`');
    const fn = caught(() => stage('x' as unknown as typeof id));
    expect(fn).toBeInstanceOf(TypeError);
    expect(fn.message).toBe('Expected `fn` to be a function, got `"x"` (string)');
    expect(caught(() => stage(id, 3 as unknown as object)).message).toContain('`options`');
  });

  it('source, signal, onDrop, a stage that is not one, run(sink)', () => {
    expect(caught(() => pipeline(42 as unknown as number[])).message).toBe(
      'Expected `source` to be an iterable or an async iterable, got `42` (number)',
    );
    expect(caught(() => pipeline(null as unknown as number[])).message).toContain('`null`');
    expect(caught(() => pipeline([], { signal: {} as AbortSignal })).message).toContain('`signal`');
    expect(caught(() => pipeline([], { onDrop: 1 as unknown as () => void })).message).toContain(
      '`onDrop`',
    );
    const p = pipeline([1]);
    const notStage = caught(() => p.through(id as never));
    expect(notStage).toBeInstanceOf(TypeError);
    expect(notStage.message).toContain('function id');
    const withStage = p.through(stage(id));
    expect(caught(() => withStage.run('x' as never)).message).toContain('`sink`');
  });

  it('no stages: run() and iterating throw', () => {
    const p = pipeline([1, 2]);
    const error = caught(() => p.run());
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toContain('at least one stage');
    expect(() => p[Symbol.asyncIterator]()).toThrow(TypeError);
  });
});

describe('pipeline: synchronous stages and sinks (the fast path)', () => {
  it('sync stages keep order, bounds and invariants; functions never run inside run()', async () => {
    let alive = 0;
    let most = 0;
    let inRun = false;
    function* source(): Generator<number> {
      for (let i = 0; i < 500; i++) {
        most = Math.max(most, ++alive);
        yield i;
      }
    }
    let it: { assertInvariants(): void } | undefined;
    const check = (n: number): number => {
      expect(inRun).toBe(false);
      it?.assertInvariants(); // never called in the middle of a state change
      return n;
    };
    const p = pipeline({ [Symbol.iterator]: source }) // a fresh generator per run
      .through(stage((n: number) => check(n) + 1, { concurrency: 2, capacity: 1 }))
      .through(stage(async (n: number) => check(n) * 2, { concurrency: 3, capacity: 0 }))
      .through(stage((n: number) => check(n) - 1));
    const iterator = p[Symbol.asyncIterator]();
    it = iterator;
    const out: number[] = [];
    for await (const n of iterator) {
      out.push(n);
      alive--;
    }
    expect(out).toEqual(Array.from({ length: 500 }, (_, i) => 2 * (i + 1) - 1));
    expect(most).toBeLessThanOrEqual(3 + 3 + 2 + 1);

    const seen: number[] = [];
    alive = 0;
    most = 0;
    inRun = true;
    const running = p.run((n) => {
      expect(alive).toBeGreaterThan(0);
      seen.push(n);
      alive--;
    });
    inRun = false;
    await running;
    expect(seen).toEqual(out);
    expect(most).toBeLessThanOrEqual(3 + 3 + 2 + 1);
  });

  it('a sync throw in a stage stops the run like a rejection; every item is accounted', async () => {
    const boom = new Error('boom');
    const dropped: unknown[] = [];
    const sunk: number[] = [];
    const p = pipeline(
      Array.from({ length: 50 }, (_, i) => i),
      { onDrop: (item) => dropped.push(item) },
    )
      .through(stage((n: number) => n, { concurrency: 2 }))
      .through(
        stage((n: number) => {
          if (n === 20) throw boom;
          return n;
        }),
      );
    expect(await rejection(p.run((n) => sunk.push(n)))).toBe(boom);
    expect(sunk).toEqual(Array.from({ length: sunk.length }, (_, i) => i));
    expect(sunk.length + dropped.length + 1).toBeLessThanOrEqual(50);
    expect(sunk).not.toContain(20);
    expect(dropped).not.toContain(20);

    const it = p[Symbol.asyncIterator]();
    expect(await rejection(collect(it))).toBe(boom);
    const stats = it.stats();
    expect(stats.failed).toBe(1);
    expect(stats.pulled).toBe(stats.delivered + stats.failed + stats.dropped);
    it.assertInvariants();
  });

  it('a sync sink that throws stops sync stages; an abort from a sync stage rejects', async () => {
    const bad = new Error('sink');
    let calls = 0;
    const p = pipeline([1, 2, 3, 4, 5]).through(stage((n: number) => n));
    expect(
      await rejection(
        p.run(() => {
          if (++calls === 2) throw bad;
        }),
      ),
    ).toBe(bad);
    expect(calls).toBe(2);

    const controller = new AbortController();
    const reason = new Error('stop');
    const started: number[] = [];
    const aborting = pipeline([1, 2, 3, 4, 5], { signal: controller.signal }).through(
      stage((n: number) => {
        started.push(n);
        if (n === 3) controller.abort(reason);
        return n;
      }),
    );
    expect(await rejection(aborting.run())).toBe(reason);
    expect(started).toEqual([1, 2, 3]);
    expect(listeners(controller.signal)).toBe(0);
  });
});
