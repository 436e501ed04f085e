import { afterEach, describe, expect, it, vi } from 'vitest';
import { reportHookError } from '../../src/internal/report.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('reportHookError', () => {
  it('does not throw synchronously, and queues a microtask that rethrows the same value', () => {
    const queued: (() => void)[] = [];
    const spy = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((callback) => {
      queued.push(callback);
    });
    const error = new Error('hook failed');
    expect(() => reportHookError(error)).not.toThrow();
    expect(spy).toHaveBeenCalledTimes(1);
    expect(queued).toHaveLength(1);
    let rethrown: unknown;
    try {
      queued[0]!();
    } catch (e) {
      rethrown = e;
    }
    expect(rethrown).toBe(error);
  });

  it('rethrows non-Error values untouched', () => {
    const queued: (() => void)[] = [];
    vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((callback) => {
      queued.push(callback);
    });
    const value = { reason: 'not an Error' };
    reportHookError(value);
    expect(() => queued[0]!()).toThrow(expect.objectContaining({ reason: 'not an Error' }));
  });

  it('surfaces as an uncaught exception on a later turn, after the current code finishes', async () => {
    // Take over 'uncaughtException' for one turn so the error reaches this test instead of
    // vitest's reporter; restore vitest's handlers whatever happens.
    const saved = process.listeners('uncaughtException');
    const caught: unknown[] = [];
    const order: string[] = [];
    const error = new Error('reported');
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', (e) => {
      order.push('uncaught');
      caught.push(e);
    });
    try {
      reportHookError(error);
      order.push('after call');
      await new Promise<void>((resolve) => setImmediate(resolve));
    } finally {
      process.removeAllListeners('uncaughtException');
      for (const listener of saved) process.on('uncaughtException', listener);
    }
    expect(caught).toHaveLength(1);
    expect(caught[0]).toBe(error);
    expect(order).toEqual(['after call', 'uncaught']);
  });
});
