/**
 * CoDel (RFC 8289). (a) The `CoDel` class, which decides one candidate at a time, against a
 * reference model that follows the RFC's pseudo-code literally (section 5), driven by the same
 * scripted queues. (b) A Channel with `codel` on a ManualClock: exact shed times, convergence of
 * the standing delay under sustained overload, custom settings and bad options.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CoDel } from '../../src/channel/codel.js';
import { Channel, type ChannelOptions, type DropReason } from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { caught } from '../support/errors.js';
import { propRuns } from '../support/prop.js';

// ---- the reference: RFC 8289, section 5, transcribed ------------------------------------------

interface Packet {
  readonly id: number;
  /** Arrival time (the RFC's `tstamp`). */
  readonly tstamp: number;
}

/** What a dequeue did: the packets dropped (with the time) and the one delivered, if any. */
interface Decision {
  readonly at: number;
  readonly dropped: readonly number[];
  readonly delivered: number | undefined;
}

/**
 * RFC 8289's CoDelQueue, one line per line of its pseudo-code. Times in ms. `bytes() <=
 * MAXPACKET` is read as "at most one item left in the queue after this one". The RFC's
 * `first_above_time_ == 0` sentinel is kept (every time here is ≥ 0 and INTERVAL > 0).
 */
class RfcCoDel {
  readonly queue: Packet[] = [];
  first_above_time_ = 0;
  drop_next_ = 0;
  count_ = 0;
  lastcount_ = 0;
  dropping_ = false;
  /** Every time the dropping state was entered, the count it started with. */
  readonly entries: number[] = [];
  #dropped: number[] = [];

  constructor(
    readonly TARGET: number,
    readonly INTERVAL: number,
  ) {}

  enqueue(p: Packet): void {
    this.queue.push(p);
  }

  dequeue(now: number): Decision {
    this.#dropped = [];
    const p = this.#dequeue(now);
    return { at: now, dropped: this.#dropped, delivered: p?.id };
  }

  #bytesAtMostOnePacket(): boolean {
    return this.queue.length <= 1;
  }

  #dodequeue(now: number): { p: Packet | undefined; ok_to_drop: boolean } {
    const r = { p: this.queue.shift(), ok_to_drop: false };
    if (r.p === undefined) {
      // queue is empty - reset first_above_time
      this.first_above_time_ = 0;
      return r;
    }
    const sojourn_time = now - r.p.tstamp;
    if (sojourn_time < this.TARGET || this.#bytesAtMostOnePacket()) {
      // went below - stay below for at least INTERVAL
      this.first_above_time_ = 0;
    } else {
      if (this.first_above_time_ === 0) {
        // just went above from below. if still above at first_above_time, will say ok to drop.
        this.first_above_time_ = now + this.INTERVAL;
      } else if (now >= this.first_above_time_) {
        r.ok_to_drop = true;
      }
    }
    return r;
  }

  #dequeue(now: number): Packet | undefined {
    let r = this.#dodequeue(now);
    let delta: number;
    if (this.dropping_) {
      if (!r.ok_to_drop) {
        // sojourn time below TARGET - leave drop state
        this.dropping_ = false;
      }
      // Time for the next drop. Drop current packet and dequeue next. If the dequeue doesn't
      // take us out of dropping state, schedule the next drop. A large backlog might result
      // in drop rates so high that the next drop should happen now, hence the 'while' loop.
      while (now >= this.drop_next_ && this.dropping_) {
        this.#drop(r.p as Packet);
        ++this.count_;
        r = this.#dodequeue(now);
        if (!r.ok_to_drop) {
          // leave drop state
          this.dropping_ = false;
        } else {
          // schedule the next drop.
          this.drop_next_ = this.#control_law(this.drop_next_, this.count_);
        }
      }
      // If we get here, we're not in drop state. The 'ok_to_drop' return from dodequeue means
      // that the sojourn time has been above 'TARGET' for 'INTERVAL', so enter drop state.
    } else if (r.ok_to_drop) {
      this.#drop(r.p as Packet);
      r = this.#dodequeue(now);
      this.dropping_ = true;
      // If min went above TARGET close to when it last went below, assume that the drop rate
      // that controlled the queue on the last cycle is a good starting point to control it now.
      delta = this.count_ - this.lastcount_;
      this.count_ = 1;
      if (delta > 1 && now - this.drop_next_ < 16 * this.INTERVAL) this.count_ = delta;
      this.drop_next_ = this.#control_law(now, this.count_);
      this.lastcount_ = this.count_;
      this.entries.push(this.count_);
    }
    return r.p;
  }

  #control_law(t: number, count: number): number {
    return t + this.INTERVAL / Math.sqrt(count);
  }

  #drop(p: Packet): void {
    this.#dropped.push(p.id);
  }
}

/** The same queue, with the class deciding one candidate at a time (as TimedStore does). */
class ClassQueue {
  readonly queue: Packet[] = [];
  readonly codel: CoDel;

  constructor(targetMs: number, intervalMs: number) {
    this.codel = new CoDel(targetMs, intervalMs);
  }

  enqueue(p: Packet): void {
    this.queue.push(p);
  }

  dequeue(now: number): Decision {
    const dropped: number[] = [];
    for (;;) {
      const head = this.queue[0];
      if (head === undefined) {
        this.codel.emptied();
        return { at: now, dropped, delivered: undefined };
      }
      if (this.codel.shed(now - head.tstamp, now, this.queue.length - 1)) {
        dropped.push((this.queue.shift() as Packet).id);
        continue;
      }
      this.queue.shift();
      return { at: now, dropped, delivered: head.id };
    }
  }
}

/** A script: events in time order, each an arrival or a dequeue attempt. */
interface Step {
  readonly at: number;
  readonly arrive: boolean;
}

/** Runs a script through a queue; returns one decision per dequeue. */
function run(queue: RfcCoDel | ClassQueue, script: readonly Step[]): Decision[] {
  const decisions: Decision[] = [];
  let id = 0;
  for (const step of script) {
    if (step.arrive) queue.enqueue({ id: id++, tstamp: step.at });
    else decisions.push(queue.dequeue(step.at));
  }
  return decisions;
}

/** Builds a script from gaps: phases of overload and underload, so CoDel enters and leaves. */
const scriptArb: fc.Arbitrary<Step[]> = fc
  .array(
    fc.record({
      arrive: fc.boolean(),
      gap: fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constantFrom(0.5, 1.5, 10, 40)),
      /** Bias of this run of steps towards arrivals (overload) or dequeues. */
      burst: fc.integer({ min: 1, max: 6 }),
    }),
    { maxLength: 120 },
  )
  .map((parts) => {
    const steps: Step[] = [];
    let t = 0;
    for (const part of parts) {
      t += part.gap;
      for (let i = 0; i < part.burst; i++) {
        steps.push({ at: t, arrive: part.arrive });
        t += part.arrive ? 0 : 1;
      }
    }
    return steps;
  });

const paramsArb = fc.record({
  targetMs: fc.constantFrom(1, 2, 5, 0.5),
  intervalMs: fc.constantFrom(3, 10, 20, 100),
});

/** A script of steady overload: one arrival every `sendEvery`, a dequeue every `takeEvery`. */
function steady(sendEvery: number, takeEvery: number, until: number): Step[] {
  const steps: Step[] = [];
  for (let t = 0; t <= until; t++) {
    if (t % sendEvery === 0) steps.push({ at: t, arrive: true });
    if (t % takeEvery === 0) steps.push({ at: t, arrive: false });
  }
  return steps;
}

describe('CoDel class against the literal RFC 8289 pseudo-code', () => {
  it('a hand-checked steady overload: first drops at 110, 210, 282', () => {
    // One arrival per ms, one dequeue every 2 ms: the item dequeued at 2k arrived at k.
    // At 10 the head (arrived 5) has waited 5 = target: first_above_time = 110. At 110 it
    // drops the head (arrived 55) and enters dropping with count 1: drop_next = 210. At 210 it
    // drops again (count 2), drop_next = 210 + 100/√2 ≈ 280.7, so the next drop is at 282.
    const script = steady(1, 2, 400);
    const rfc = run(new RfcCoDel(5, 100), script);
    const ours = run(new ClassQueue(5, 100), script);
    const drops = (ds: Decision[]): [number, number][] =>
      ds.flatMap((d) => d.dropped.map((id): [number, number] => [id, d.at]));
    expect(drops(rfc).slice(0, 3)).toEqual([
      [55, 110],
      [106, 210],
      [143, 282],
    ]);
    expect(drops(ours)).toEqual(drops(rfc));
    expect(ours).toEqual(rfc);
  });

  it('never sheds below target, nor with at most one item left after the candidate', () => {
    const codel = new CoDel(5, 10);
    for (let now = 0; now < 1000; now += 7) {
      expect(codel.shed(4.999, now, 100)).toBe(false);
      expect(codel.shed(1e6, now + 1, 1)).toBe(false);
      expect(codel.shed(1e6, now + 2, 0)).toBe(false);
    }
    expect(codel.dropping).toBe(false);
  });

  it('sheds only after the delay stayed at or above target for a whole interval', () => {
    const codel = new CoDel(5, 10);
    expect(codel.shed(5, 0, 5)).toBe(false); // first above: first_above_time = 10
    expect(codel.shed(6, 9.999, 5)).toBe(false);
    expect(codel.shed(6, 10, 5)).toBe(true); // enters dropping
    expect(codel.dropping).toBe(true);
    expect(codel.shed(6, 10, 4)).toBe(false); // the packet after entering is delivered
  });

  it('matches the RFC model decision for decision on random scripts', () => {
    let drops = 0;
    fc.assert(
      fc.property(scriptArb, paramsArb, (script, { targetMs, intervalMs }) => {
        const rfc = run(new RfcCoDel(targetMs, intervalMs), script);
        const ours = run(new ClassQueue(targetMs, intervalMs), script);
        expect(ours).toEqual(rfc);
        drops += rfc.reduce((n, d) => n + d.dropped.length, 0);
      }),
      { numRuns: propRuns(500) },
    );
    expect(drops).toBeGreaterThan(0); // the scripts do exercise shedding
  });

  it('matches the RFC model through re-entries of the dropping state (count restarts near its last value)', () => {
    // Overload, a short calm, overload again: the second spell starts with count = delta > 1.
    const script: Step[] = [];
    let t = 0;
    for (let phase = 0; phase < 6; phase++) {
      for (let i = 0; i < 600; i++, t++) {
        script.push({ at: t, arrive: true });
        if (i % 2 === 0) script.push({ at: t, arrive: false });
      }
      for (let i = 0; i < 400; i++, t++) script.push({ at: t, arrive: false }); // drain
    }
    const model = new RfcCoDel(5, 100);
    const rfc = run(model, script);
    expect(model.entries.some((count) => count > 1)).toBe(true);
    expect(run(new ClassQueue(5, 100), script)).toEqual(rfc);
  });

  it('the dropping flag agrees with the RFC’s dropping_ after every dequeue', () => {
    fc.assert(
      fc.property(scriptArb, paramsArb, (script, { targetMs, intervalMs }) => {
        const rfc = new RfcCoDel(targetMs, intervalMs);
        const ours = new ClassQueue(targetMs, intervalMs);
        let id = 0;
        for (const step of script) {
          if (step.arrive) {
            const p = { id: id++, tstamp: step.at };
            rfc.enqueue(p);
            ours.enqueue(p);
          } else {
            expect(ours.dequeue(step.at)).toEqual(rfc.dequeue(step.at));
            expect(ours.codel.dropping).toBe(rfc.dropping_);
          }
        }
      }),
      { numRuns: propRuns(300) },
    );
  });
});

// ---- the Channel with codel ---------------------------------------------------------------

interface Shed {
  readonly id: number;
  readonly at: number;
}

/** A channel of numbers (each the time it was sent) with CoDel on a ManualClock. */
function codelChannel(codel: ChannelOptions<number>['codel'] = true): {
  ch: Channel<number>;
  clock: ManualClock;
  shed: Shed[];
  reasons: DropReason[];
} {
  const clock = new ManualClock();
  const shed: Shed[] = [];
  const reasons: DropReason[] = [];
  const ch = new Channel<number>({
    capacity: Number.POSITIVE_INFINITY,
    clock,
    codel,
    onDrop: (item, reason) => {
      reasons.push(reason);
      shed.push({ id: item, at: clock.now() });
    },
  });
  return { ch, clock, shed, reasons };
}

/** Plays a script on a channel (trySend the arrival index, tryReceive for a dequeue). */
function playOnChannel(ch: Channel<number>, clock: ManualClock, script: readonly Step[]): void {
  let id = 0;
  for (const step of script) {
    clock.advanceTo(step.at);
    if (step.arrive) expect(ch.trySend(id++)).toStrictEqual({ ok: true });
    else ch.tryReceive();
    ch.assertInvariants();
  }
}

function rfcDrops(script: readonly Step[], targetMs: number, intervalMs: number): Shed[] {
  return run(new RfcCoDel(targetMs, intervalMs), script).flatMap((d) =>
    d.dropped.map((id) => ({ id, at: d.at })),
  );
}

describe('Channel with codel', () => {
  it('sheds at the times the RFC model gives, with reason shed', () => {
    const script = steady(1, 2, 1000);
    const { ch, clock, shed, reasons } = codelChannel();
    playOnChannel(ch, clock, script);
    expect(shed.slice(0, 3)).toEqual([
      { id: 55, at: 110 },
      { id: 106, at: 210 },
      { id: 143, at: 282 },
    ]);
    expect(shed).toEqual(rfcDrops(script, 5, 100));
    expect(new Set(reasons)).toEqual(new Set(['shed']));
    const s = ch.stats();
    expect(s.dropped.shed).toBe(shed.length);
    expect(s.sent).toBe(s.received + s.dropped.shed + s.size);
    expect(clock.pendingTimers).toBe(0);
  });

  it('sheds exactly as the RFC model on random scripts', () => {
    fc.assert(
      fc.property(scriptArb, paramsArb, (script, params) => {
        const { ch, clock, shed } = codelChannel(params);
        playOnChannel(ch, clock, script);
        expect(shed).toEqual(rfcDrops(script, params.targetMs, params.intervalMs));
      }),
      { numRuns: propRuns(200) },
    );
  });

  it('custom targetMs and intervalMs: shedding starts one interval after the delay reaches target', () => {
    const script = steady(1, 2, 400);
    const { ch, clock, shed } = codelChannel({ targetMs: 2, intervalMs: 20 });
    playOnChannel(ch, clock, script);
    // The head taken at 4 arrived at 2: first above at 4, so the first drop is at 24 (item 12).
    expect(shed[0]).toEqual({ id: 12, at: 24 });
    expect(shed).toEqual(rfcDrops(script, 2, 20));
    // the defaults are 5 and 100
    const d = codelChannel({});
    playOnChannel(d.ch, d.clock, script);
    expect(d.shed[0]).toEqual({ id: 55, at: 110 });
  });

  it('a short burst passes untouched', () => {
    const { ch, clock, shed } = codelChannel();
    for (let i = 0; i < 50; i++) ch.trySend(i); // a burst at 0
    for (let t = 1; t <= 50; t++) {
      clock.advanceTo(t);
      expect(ch.tryReceive().ok).toBe(true); // drains within 50 ms < interval
    }
    expect(shed).toEqual([]);
  });

  /**
   * Sustained 10% overload for 20 s: one item per ms, the consumer takes 10 per 11 ms (the
   * producer does not slow down when items are shed). Returns [time, sojourn] for every item
   * delivered in the last 10 s.
   */
  function overload(codel: ChannelOptions<number>['codel']): [number, number][] {
    const clock = new ManualClock();
    const ch = new Channel<number>({ capacity: Number.POSITIVE_INFINITY, clock, codel });
    const late: [number, number][] = [];
    for (let t = 0; t < 20_000; t++) {
      clock.advanceTo(t);
      ch.trySend(t);
      if (t % 11 !== 10) {
        const r = ch.tryReceive();
        if (r.ok && t >= 10_000) late.push([t, t - r.value]);
      }
    }
    ch.assertInvariants();
    return late;
  }

  it('under sustained overload the delay stops growing and is cut back to target again and again', () => {
    const delivered = overload(true);
    const sojourns = delivered.map(([, s]) => s);
    // bounded: far below one interval, and no higher in the last 5 s than in the 5 s before
    expect(Math.max(...sojourns)).toBeLessThan(50);
    const firstHalf = delivered.filter(([t]) => t < 15_000).map(([, s]) => s);
    const secondHalf = delivered.filter(([t]) => t >= 15_000).map(([, s]) => s);
    expect(Math.max(...secondHalf)).toBeLessThanOrEqual(Math.max(...firstHalf) + 1);
    // each dropping spell brings the delay under target: never 2 s without an item under 5 ms
    const underTarget = delivered.filter(([, s]) => s < 5).map(([t]) => t);
    expect(underTarget.length).toBeGreaterThan(10);
    const times = [10_000, ...underTarget, 20_000];
    const longestGap = Math.max(...times.slice(1).map((t, i) => t - (times[i] as number)));
    expect(longestGap).toBeLessThan(2_000);
  });

  it('without codel the delay keeps growing', () => {
    const sojourns = overload(undefined).map(([, s]) => s);
    expect(sojourns.filter((s) => s < 5)).toEqual([]);
    expect(sojourns.at(-1)).toBeGreaterThan(1000);
    expect(sojourns.at(-1)).toBeGreaterThan(sojourns[0] as number);
  });

  it('codel: false is the same as no codel', () => {
    const { ch, clock, shed } = codelChannel(false);
    playOnChannel(ch, clock, steady(1, 2, 1000));
    expect(shed).toEqual([]);
  });

  it('bad options: non-positive or non-finite targetMs/intervalMs, a codel that is not an object', () => {
    const make = (codel: unknown): unknown =>
      new Channel<number>({ capacity: 4, codel } as ChannelOptions<number>);
    for (const targetMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '5']) {
      const error = caught(() => make({ targetMs }));
      expect(error).toBeInstanceOf(RangeError);
      expect(error.message).toMatch(/codel\.targetMs/);
    }
    for (const intervalMs of [Number.POSITIVE_INFINITY, 0, -5, Number.NaN]) {
      const error = caught(() => make({ intervalMs }));
      expect(error).toBeInstanceOf(RangeError);
      expect(error.message).toMatch(/codel\.intervalMs/);
    }
    for (const codel of ['yes', 1, null]) {
      const error = caught(() => make(codel));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(/codel/);
    }
  });
});
