import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { checkClock, MAX_TIMER_DELAY_MS, systemClock } from '../src/clock.js';
import { ManualClock } from '../src/testing/manual-clock.js';

const MAX = MAX_TIMER_DELAY_MS;

describe('MAX_TIMER_DELAY_MS', () => {
  it('is 2^31 - 1, the largest delay setTimeout accepts', () => {
    expect(MAX_TIMER_DELAY_MS).toBe(2_147_483_647);
  });
});

describe('systemClock.now (real timers)', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('reads performance.now()', () => {
    const spy = vi.spyOn(performance, 'now').mockReturnValue(1234.5);
    expect(systemClock.now()).toBe(1234.5);
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it('never goes backwards between consecutive reads', () => {
    let previous = systemClock.now();
    let backwards = 0;
    for (let i = 0; i < 10_000; i++) {
      const current = systemClock.now();
      if (current < previous) backwards++;
      previous = current;
    }
    expect(backwards).toBe(0);
  });

  it('is frozen, so nobody can swap its methods', () => {
    expect(Object.isFrozen(systemClock)).toBe(true);
  });
});

describe('systemClock timers (fake setTimeout and performance)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });

  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  it('now() follows the faked performance clock', () => {
    const start = systemClock.now();
    vi.advanceTimersByTime(250);
    expect(systemClock.now() - start).toBe(250);
  });

  it('fires once at the delay, not before', () => {
    const callback = vi.fn();
    systemClock.setTimer(callback, 100);
    vi.advanceTimersByTime(99);
    expect(callback).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(callback).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1000);
    expect(callback).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('fires a zero delay on the next tick', () => {
    const callback = vi.fn();
    systemClock.setTimer(callback, 0);
    expect(callback).not.toHaveBeenCalled();
    vi.advanceTimersByTime(0);
    expect(callback).toHaveBeenCalledTimes(1);
  });

  it('treats a negative delay as "now"', () => {
    const callback = vi.fn();
    systemClock.setTimer(callback, -50);
    vi.advanceTimersByTime(1);
    expect(callback).toHaveBeenCalledTimes(1);
  });

  // ManualClock documents "a negative or NaN delay counts as 0", and Node's setTimeout does the
  // same for NaN; the system clock must not disagree (a NaN delay goes down the chunked path,
  // where `NaN <= MAX_TIMER_DELAY_MS` is false forever, so the timer never fires).
  it('treats a NaN delay as "now", like ManualClock and setTimeout', () => {
    const callback = vi.fn();
    const handle = systemClock.setTimer(callback, Number.NaN);
    vi.advanceTimersByTime(1);
    expect(callback).toHaveBeenCalledTimes(1);
    systemClock.clearTimer(handle);
  });

  it('fires timers in due order', () => {
    const order: string[] = [];
    systemClock.setTimer(() => order.push('c'), 30);
    systemClock.setTimer(() => order.push('a'), 10);
    systemClock.setTimer(() => order.push('b'), 20);
    vi.advanceTimersByTime(30);
    expect(order).toEqual(['a', 'b', 'c']);
  });

  it('clearTimer cancels a pending timer', () => {
    const callback = vi.fn();
    const handle = systemClock.setTimer(callback, 100);
    vi.advanceTimersByTime(50);
    systemClock.clearTimer(handle);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1000);
    expect(callback).not.toHaveBeenCalled();
  });

  it('clearTimer after firing, or twice, is harmless and leaves other timers alone', () => {
    const first = vi.fn();
    const second = vi.fn();
    const handle = systemClock.setTimer(first, 10);
    systemClock.setTimer(second, 20);
    vi.advanceTimersByTime(10);
    systemClock.clearTimer(handle);
    systemClock.clearTimer(handle);
    vi.advanceTimersByTime(10);
    expect(first).toHaveBeenCalledTimes(1);
    expect(second).toHaveBeenCalledTimes(1);
  });

  describe('delays above MAX_TIMER_DELAY_MS', () => {
    it('arms a delay of exactly the maximum as one plain timer', () => {
      const callback = vi.fn();
      systemClock.setTimer(callback, MAX);
      expect(vi.getTimerCount()).toBe(1);
      vi.advanceTimersByTime(MAX - 1);
      expect(callback).not.toHaveBeenCalled();
      vi.advanceTimersByTime(1);
      expect(callback).toHaveBeenCalledTimes(1);
    });

    it('does not fire early (setTimeout alone would clamp the delay to 1 ms)', () => {
      const callback = vi.fn();
      systemClock.setTimer(callback, MAX + 1);
      vi.advanceTimersByTime(1);
      expect(callback).not.toHaveBeenCalled();
      vi.advanceTimersByTime(MAX - 1); // at MAX: the first chunk ran and re-armed
      expect(callback).not.toHaveBeenCalled();
      expect(vi.getTimerCount()).toBe(1);
      vi.advanceTimersByTime(1); // at MAX + 1
      expect(callback).toHaveBeenCalledTimes(1);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('fires at the right total time after several chunks, holding one timer at a time', () => {
      const callback = vi.fn();
      const total = 3 * MAX + 12_345;
      const start = systemClock.now();
      let firedAt: number | undefined;
      systemClock.setTimer(() => {
        firedAt = systemClock.now();
        callback();
      }, total);
      for (let chunk = 1; chunk <= 3; chunk++) {
        vi.advanceTimersByTime(MAX);
        expect(callback).not.toHaveBeenCalled();
        expect(vi.getTimerCount()).toBe(1);
      }
      vi.advanceTimersByTime(12_344);
      expect(callback).not.toHaveBeenCalled();
      vi.advanceTimersByTime(1);
      expect(callback).toHaveBeenCalledTimes(1);
      expect(firedAt! - start).toBe(total);
      vi.advanceTimersByTime(10 * MAX);
      expect(callback).toHaveBeenCalledTimes(1);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('measures what is left from the clock, so a late chunk does not push the deadline out', () => {
      // Let performance.now() run ahead of the timer queue, as when the event loop was blocked
      // or the machine slept: the re-armed chunk must aim at the original deadline.
      const fakeNow = performance.now.bind(performance);
      let skewMs = 0;
      vi.spyOn(performance, 'now').mockImplementation(() => fakeNow() + skewMs);
      const callback = vi.fn();
      const start = systemClock.now();
      systemClock.setTimer(callback, 2 * MAX);
      vi.advanceTimersByTime(MAX - 1);
      skewMs = 1000;
      vi.advanceTimersByTime(1); // the first chunk runs 1000 ms "late"
      expect(callback).not.toHaveBeenCalled();
      vi.advanceTimersByTime(MAX - 1001);
      expect(callback).not.toHaveBeenCalled();
      vi.advanceTimersByTime(1);
      expect(callback).toHaveBeenCalledTimes(1);
      expect(systemClock.now() - start).toBe(2 * MAX);
    });

    it('clearTimer before the first chunk ends cancels it', () => {
      const callback = vi.fn();
      const handle = systemClock.setTimer(callback, 2 * MAX);
      vi.advanceTimersByTime(1000);
      systemClock.clearTimer(handle);
      expect(vi.getTimerCount()).toBe(0);
      vi.advanceTimersByTime(3 * MAX);
      expect(callback).not.toHaveBeenCalled();
    });

    it('clearTimer cancels a chunked timer mid-way, after a re-arm', () => {
      const callback = vi.fn();
      const handle = systemClock.setTimer(callback, 2 * MAX + 100);
      vi.advanceTimersByTime(MAX + 50); // first chunk done, second armed
      expect(vi.getTimerCount()).toBe(1);
      systemClock.clearTimer(handle);
      expect(vi.getTimerCount()).toBe(0);
      vi.advanceTimersByTime(3 * MAX);
      expect(callback).not.toHaveBeenCalled();
    });

    it('clearTimer in the last chunk cancels it', () => {
      const callback = vi.fn();
      const handle = systemClock.setTimer(callback, MAX + 100);
      vi.advanceTimersByTime(MAX + 99);
      systemClock.clearTimer(handle);
      vi.advanceTimersByTime(MAX);
      expect(callback).not.toHaveBeenCalled();
      expect(vi.getTimerCount()).toBe(0);
    });

    it('clearTimer after a long timer fired is harmless', () => {
      const callback = vi.fn();
      const handle = systemClock.setTimer(callback, MAX + 1);
      vi.advanceTimersByTime(MAX + 1);
      systemClock.clearTimer(handle);
      systemClock.clearTimer(handle);
      expect(callback).toHaveBeenCalledTimes(1);
    });

    it('keeps independent long timers independent', () => {
      const order: string[] = [];
      const a = systemClock.setTimer(() => order.push('a'), MAX + 10);
      systemClock.setTimer(() => order.push('b'), MAX + 20);
      systemClock.setTimer(() => order.push('c'), 2 * MAX);
      vi.advanceTimersByTime(MAX + 5);
      systemClock.clearTimer(a);
      vi.advanceTimersByTime(2 * MAX);
      expect(order).toEqual(['b', 'c']);
    });
  });
});

describe('checkClock', () => {
  it('returns the system clock for undefined', () => {
    expect(checkClock(undefined)).toBe(systemClock);
  });

  it('returns a ManualClock unchanged', () => {
    const clock = new ManualClock();
    expect(checkClock(clock)).toBe(clock);
  });

  it('returns systemClock and any object with the three methods unchanged', () => {
    expect(checkClock(systemClock)).toBe(systemClock);
    const custom = { now: () => 0, setTimer: () => ({}), clearTimer: () => {} };
    expect(checkClock(custom)).toBe(custom);
  });

  const message = (shown: string): string =>
    `Expected \`clock\` to be a Clock (an object with now, setTimer and clearTimer), got ${shown}`;

  it.each([
    [null, '`null` (null)'],
    [42, '`42` (number)'],
    ['system', '`"system"` (string)'],
    [{}, '`{}` (object)'],
    [{ now: 1, setTimer: 2, clearTimer: 3 }, '`{"now":1,"setTimer":2,"clearTimer":3}` (object)'],
    [[], '`[]` (array)'],
  ])('rejects %o with a TypeError naming the value', (value, shown) => {
    expect(() => checkClock(value)).toThrow(new TypeError(message(shown)));
  });

  it('rejects an object missing any one of the methods', () => {
    const full = { now: () => 0, setTimer: () => ({}), clearTimer: () => {} };
    for (const key of ['now', 'setTimer', 'clearTimer'] as const) {
      const { [key]: _dropped, ...partial } = full;
      expect(() => checkClock(partial)).toThrow(TypeError);
    }
  });

  it('rejects a function, even one carrying the methods', () => {
    const fn = Object.assign(() => 0, { now: () => 0, setTimer: () => ({}), clearTimer: () => {} });
    expect(() => checkClock(fn)).toThrow(TypeError);
    expect(() => checkClock(performance.now)).toThrow(/got `function now` \(function\)/);
  });
});
