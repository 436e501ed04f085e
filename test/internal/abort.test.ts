import { describe, expect, it, vi } from 'vitest';
import { checkSignal, listenForAbort } from '../../src/internal/abort.js';
import { listeners } from '../support/signals.js';

describe('checkSignal', () => {
  it('passes undefined through', () => {
    expect(checkSignal(undefined)).toBeUndefined();
  });

  it('returns the same AbortSignal, live or already aborted', () => {
    const live = new AbortController().signal;
    const aborted = AbortSignal.abort();
    expect(checkSignal(live)).toBe(live);
    expect(checkSignal(aborted)).toBe(aborted);
  });

  it('accepts a signal-like object (another realm or polyfill)', () => {
    const like = { aborted: false, addEventListener: () => {}, removeEventListener: () => {} };
    expect(checkSignal(like)).toBe(like);
  });

  it.each([
    [null, '`null` (null)'],
    [{}, '`{}` (object)'],
    ['signal', '`"signal"` (string)'],
    [0, '`0` (number)'],
    [true, '`true` (boolean)'],
    [{ aborted: 'no', addEventListener: () => {} }, '`{"aborted":"no"}` (object)'],
    [{ aborted: false }, '`{"aborted":false}` (object)'],
  ])('rejects %o with a TypeError that shows it', (value, shown) => {
    expect(() => checkSignal(value)).toThrow(
      new TypeError(`Expected \`signal\` to be an AbortSignal, got ${shown}`),
    );
  });

  it('rejects the AbortController itself (a common slip)', () => {
    expect(() => checkSignal(new AbortController())).toThrow(TypeError);
  });

  it('rejects a function', () => {
    const fn = Object.assign(() => {}, { aborted: false, addEventListener: () => {} });
    expect(() => checkSignal(fn)).toThrow(TypeError);
  });
});

describe('listenForAbort', () => {
  it('adds exactly one abort listener', () => {
    const controller = new AbortController();
    expect(listeners(controller.signal)).toBe(0);
    listenForAbort(controller.signal, () => {});
    expect(listeners(controller.signal)).toBe(1);
  });

  it('calls onAbort once with signal.reason and removes its own listener', () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    const onAbort = vi.fn();
    listenForAbort(controller.signal, onAbort);
    controller.abort(reason);
    expect(onAbort).toHaveBeenCalledTimes(1);
    expect(onAbort.mock.calls[0]![0]).toBe(reason);
    expect(listeners(controller.signal)).toBe(0);
    // A second abort is ignored by AbortController; dispatching again by hand must not re-call.
    controller.abort(new Error('again'));
    controller.signal.dispatchEvent(new Event('abort'));
    expect(onAbort).toHaveBeenCalledTimes(1);
  });

  it('passes the default AbortError reason untouched', () => {
    const controller = new AbortController();
    let received: unknown;
    listenForAbort(controller.signal, (reason) => {
      received = reason;
    });
    controller.abort();
    expect(received).toBe(controller.signal.reason);
    expect(received).toBeInstanceOf(DOMException);
    expect((received as DOMException).name).toBe('AbortError');
  });

  it('passes a non-error reason untouched', () => {
    const controller = new AbortController();
    const onAbort = vi.fn();
    listenForAbort(controller.signal, onAbort);
    controller.abort('because');
    expect(onAbort).toHaveBeenCalledWith('because');
  });

  it('the remover leaves no listener and prevents the call', () => {
    const controller = new AbortController();
    const onAbort = vi.fn();
    const remove = listenForAbort(controller.signal, onAbort);
    expect(listeners(controller.signal)).toBe(1);
    remove();
    expect(listeners(controller.signal)).toBe(0);
    controller.abort();
    expect(onAbort).not.toHaveBeenCalled();
  });

  it('calling the remover after the abort, or twice, is harmless', () => {
    const controller = new AbortController();
    const onAbort = vi.fn();
    const remove = listenForAbort(controller.signal, onAbort);
    controller.abort();
    remove();
    remove();
    expect(onAbort).toHaveBeenCalledTimes(1);
    expect(listeners(controller.signal)).toBe(0);
  });

  it('removes only its own listener when several share a signal', () => {
    const controller = new AbortController();
    const first = vi.fn();
    const second = vi.fn();
    const removeFirst = listenForAbort(controller.signal, first);
    listenForAbort(controller.signal, second);
    expect(listeners(controller.signal)).toBe(2);
    removeFirst();
    removeFirst();
    expect(listeners(controller.signal)).toBe(1);
    controller.abort();
    expect(first).not.toHaveBeenCalled();
    expect(second).toHaveBeenCalledTimes(1);
    expect(listeners(controller.signal)).toBe(0);
  });

  it('leaves nothing behind on a long-lived signal after many waiters come and go', () => {
    const controller = new AbortController();
    for (let i = 0; i < 1000; i++) listenForAbort(controller.signal, () => {})();
    expect(listeners(controller.signal)).toBe(0);
  });

  it('on an already-aborted signal it never calls (callers check `aborted` first), and the remover still cleans up', () => {
    const signal = AbortSignal.abort();
    const onAbort = vi.fn();
    const remove = listenForAbort(signal, onAbort);
    expect(onAbort).not.toHaveBeenCalled();
    remove();
    expect(listeners(signal)).toBe(0);
  });

  it('a remover called from inside another abort callback still prevents its call', () => {
    const controller = new AbortController();
    const second = vi.fn();
    let removeSecond = (): void => {};
    listenForAbort(controller.signal, () => removeSecond());
    removeSecond = listenForAbort(controller.signal, second);
    controller.abort();
    expect(second).not.toHaveBeenCalled();
    expect(listeners(controller.signal)).toBe(0);
  });
});
