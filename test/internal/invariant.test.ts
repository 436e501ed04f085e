import { describe, expect, it, vi } from 'vitest';
import { InvariantError, invariant } from '../../src/internal/invariant.js';

describe('InvariantError', () => {
  it('says it is a bug, with a stable code and name', () => {
    const error = new InvariantError('buffer length went negative');
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(InvariantError);
    expect(error.name).toBe('InvariantError');
    expect(error.code).toBe('ERR_SLUICE_INVARIANT');
    expect(error.message).toBe(
      'sluice bug: buffer length went negative (please report it with the code that led here)',
    );
    expect(String(error)).toMatch(/^InvariantError: sluice bug: buffer length went negative/);
    expect(error.stack).toContain('invariant.test.ts');
  });
});

describe('invariant', () => {
  it.each([true, 1, 'x', {}, [], -1, 1n])('does not throw for the truthy %o', (condition) => {
    expect(() => invariant(condition, 'unreachable')).not.toThrow();
  });

  it.each([false, 0, '', null, undefined, Number.NaN, 0n])(
    'throws an InvariantError for the falsy %o',
    (condition) => {
      expect(() => invariant(condition, 'head must be set')).toThrow(InvariantError);
      expect(() => invariant(condition, 'head must be set')).toThrow(
        'sluice bug: head must be set (please report it with the code that led here)',
      );
    },
  );

  it('builds a lazy message only when the check fails', () => {
    const message = vi.fn(() => 'length 3 != 4');
    invariant(true, message);
    expect(message).not.toHaveBeenCalled();
    let caught: unknown;
    try {
      invariant(false, message);
    } catch (error) {
      caught = error;
    }
    expect(message).toHaveBeenCalledTimes(1);
    expect(caught).toBeInstanceOf(InvariantError);
    expect((caught as InvariantError).message).toBe(
      'sluice bug: length 3 != 4 (please report it with the code that led here)',
    );
  });

  it('narrows the type after a passing check', () => {
    const value: string | undefined = ['a'][0];
    invariant(value !== undefined, 'value must be set');
    // Compiles only because `invariant` is an assertion function.
    const length: number = value.length;
    expect(length).toBe(1);
  });
});
