import { describe, expect, it } from 'vitest';
import { describe as describeValue } from '../../src/internal/describe.js';
import {
  checkCount,
  checkDuration,
  checkOneOf,
  checkOptionalFunction,
  checkOptions,
} from '../../src/internal/validate.js';
import { caught } from '../support/errors.js';

describe('describe()', () => {
  it.each([
    [-1, '`-1` (number)'],
    [0, '`0` (number)'],
    [1.5, '`1.5` (number)'],
    [Number.NaN, '`NaN` (number)'],
    [Number.POSITIVE_INFINITY, '`Infinity` (number)'],
    [Number.NEGATIVE_INFINITY, '`-Infinity` (number)'],
    ['x', '`"x"` (string)'],
    ['', '`""` (string)'],
    ['say "hi"\n', '`"say \\"hi\\"\\n"` (string)'],
    ['5', '`"5"` (string)'],
    [null, '`null` (null)'],
    [undefined, '`undefined` (undefined)'],
    [true, '`true` (boolean)'],
    [10n, '`10n` (bigint)'],
    [-3n, '`-3n` (bigint)'],
    [[], '`[]` (array)'],
    [[1, 'a', null], '`[1,"a",null]` (array)'],
    [{}, '`{}` (object)'],
    [{ a: 1, b: 'x' }, '`{"a":1,"b":"x"}` (object)'],
  ])('describe(%o) is %s', (value, expected) => {
    expect(describeValue(value)).toBe(expected);
  });

  it('names a named function', () => {
    function onDrop(): void {}
    expect(describeValue(onDrop)).toBe('`function onDrop` (function)');
  });

  it('calls an unnamed function anonymous', () => {
    const make = (): (() => void) => () => {};
    expect(describeValue(make())).toBe('`function (anonymous)` (function)');
  });

  it('names a class by its name', () => {
    class Widget {}
    expect(describeValue(Widget)).toBe('`function Widget` (function)');
  });

  it('shows a symbol', () => {
    expect(describeValue(Symbol('s'))).toBe('`Symbol(s)` (symbol)');
  });

  it('falls back to the object tag for a cyclic object', () => {
    const cyclic: { a: number; self?: unknown } = { a: 1 };
    cyclic.self = cyclic;
    expect(describeValue(cyclic)).toBe('`[object Object]` (object)');
  });

  it('falls back to the object tag for a cyclic array, still typed as array', () => {
    const cyclic: unknown[] = [1];
    cyclic.push(cyclic);
    expect(describeValue(cyclic)).toBe('`[object Array]` (array)');
  });

  it('falls back for an object holding a bigint (JSON cannot encode it)', () => {
    expect(describeValue({ n: 1n })).toBe('`[object Object]` (object)');
  });

  it('falls back when a getter throws', () => {
    const hostile = {
      get boom(): never {
        throw new Error('boom');
      },
    };
    expect(describeValue(hostile)).toBe('`[object Object]` (object)');
  });

  it('does not throw for a null-prototype object whose toJSON returns undefined', () => {
    const odd = Object.assign(Object.create(null) as object, { toJSON: () => undefined });
    expect(describeValue(odd)).toBe('`[object Object]` (object)');
  });

  it('uses String() when JSON gives nothing', () => {
    const odd = { toJSON: () => undefined, toString: () => 'odd thing' };
    expect(describeValue(odd)).toBe('`odd thing` (object)');
  });

  it('shows a Date through its JSON form', () => {
    expect(describeValue(new Date(0))).toBe('`"1970-01-01T00:00:00.000Z"` (object)');
  });
});

describe('checkCount', () => {
  it.each([0, 1, 42, Number.MAX_SAFE_INTEGER])('accepts the integer %d from min 0', (n) => {
    expect(checkCount('capacity', n, 0)).toBe(n);
  });

  it('accepts min itself and rejects one below it', () => {
    expect(checkCount('concurrency', 1, 1)).toBe(1);
    expect(() => checkCount('concurrency', 0, 1)).toThrow(
      new RangeError('Expected `concurrency` to be an integer from 1 up, got `0` (number)'),
    );
  });

  it('names the option and shows the received value', () => {
    const error = caught(() => checkCount('capacity', -1, 0));
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toBe('Expected `capacity` to be an integer from 0 up, got `-1` (number)');
  });

  it.each([
    [1.5, '`1.5` (number)'],
    [Number.NaN, '`NaN` (number)'],
    [Number.POSITIVE_INFINITY, '`Infinity` (number)'],
    [Number.NEGATIVE_INFINITY, '`-Infinity` (number)'],
    ['3', '`"3"` (string)'],
    [null, '`null` (null)'],
    [undefined, '`undefined` (undefined)'],
    [3n, '`3n` (bigint)'],
    [[3], '`[3]` (array)'],
  ])('rejects %o', (value, shown) => {
    expect(() => checkCount('capacity', value, 0)).toThrow(
      new RangeError(`Expected \`capacity\` to be an integer from 0 up, got ${shown}`),
    );
  });

  it('accepts Infinity only when allowed, and says so in the message', () => {
    expect(checkCount('capacity', Number.POSITIVE_INFINITY, 0, true)).toBe(
      Number.POSITIVE_INFINITY,
    );
    expect(checkCount('capacity', 7, 0, true)).toBe(7);
    expect(() => checkCount('capacity', -1, 0, true)).toThrow(
      new RangeError(
        'Expected `capacity` to be an integer from 0 up, or Infinity, got `-1` (number)',
      ),
    );
    expect(() => checkCount('capacity', Number.NEGATIVE_INFINITY, 0, true)).toThrow(RangeError);
    expect(() => checkCount('capacity', Number.NaN, 0, true)).toThrow(RangeError);
    expect(() => checkCount('capacity', 2.5, 0, true)).toThrow(RangeError);
  });
});

describe('checkDuration', () => {
  it.each([0, 1, 2.5, 1e12, Number.POSITIVE_INFINITY])('accepts %d', (ms) => {
    expect(checkDuration('timeoutMs', ms)).toBe(ms);
  });

  it.each([
    [-1, '`-1` (number)'],
    [-0.001, '`-0.001` (number)'],
    [Number.NaN, '`NaN` (number)'],
    [Number.NEGATIVE_INFINITY, '`-Infinity` (number)'],
    ['10', '`"10"` (string)'],
    [null, '`null` (null)'],
    [{ ms: 5 }, '`{"ms":5}` (object)'],
  ])('rejects %o, naming the option and the value', (value, shown) => {
    expect(() => checkDuration('timeoutMs', value)).toThrow(
      new RangeError(
        `Expected \`timeoutMs\` to be a number of milliseconds from 0 up (or Infinity), got ${shown}`,
      ),
    );
  });
});

describe('checkOneOf', () => {
  const policies = ['block', 'drop-newest', 'drop-oldest'] as const;

  it.each(policies)('accepts %s', (policy) => {
    expect(checkOneOf('overflow', policy, policies)).toBe(policy);
  });

  it('lists the allowed values and shows the received one', () => {
    const error = caught(() => checkOneOf('overflow', 'drop', policies));
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toBe(
      "Expected `overflow` to be one of 'block', 'drop-newest', 'drop-oldest', got `\"drop\"` (string)",
    );
  });

  it.each([
    [undefined, '`undefined` (undefined)'],
    [null, '`null` (null)'],
    [0, '`0` (number)'],
    [['block'], '`["block"]` (array)'],
  ])('rejects the non-string %o', (value, shown) => {
    expect(() => checkOneOf('overflow', value, policies)).toThrow(
      new RangeError(
        `Expected \`overflow\` to be one of 'block', 'drop-newest', 'drop-oldest', got ${shown}`,
      ),
    );
  });

  it('is case-sensitive and does not accept inherited names', () => {
    expect(() => checkOneOf('overflow', 'BLOCK', policies)).toThrow(RangeError);
    expect(() => checkOneOf('overflow', 'toString', policies)).toThrow(RangeError);
    expect(() => checkOneOf('overflow', 'length', policies)).toThrow(RangeError);
  });
});

describe('checkOptionalFunction', () => {
  it('returns undefined for undefined and the same function otherwise', () => {
    const fn = (): void => {};
    expect(checkOptionalFunction('onDrop', undefined)).toBeUndefined();
    expect(checkOptionalFunction('onDrop', fn)).toBe(fn);
  });

  it.each([
    [null, '`null` (null)'],
    ['fn', '`"fn"` (string)'],
    [0, '`0` (number)'],
    [{ call: 1 }, '`{"call":1}` (object)'],
  ])('rejects %o with a TypeError naming the option', (value, shown) => {
    expect(() => checkOptionalFunction('onDrop', value)).toThrow(
      new TypeError(`Expected \`onDrop\` to be a function, got ${shown}`),
    );
  });
});

describe('checkOptions', () => {
  it('accepts undefined and objects', () => {
    expect(() => checkOptions('options', undefined)).not.toThrow();
    expect(() => checkOptions('options', {})).not.toThrow();
    expect(() => checkOptions('options', { timeoutMs: 5 })).not.toThrow();
    expect(() => checkOptions('options', new AbortController())).not.toThrow();
  });

  it.each([
    [5, '`5` (number)'],
    [null, '`null` (null)'],
    ['fast', '`"fast"` (string)'],
    [true, '`true` (boolean)'],
  ])('rejects %o with a TypeError naming the argument', (value, shown) => {
    const error = caught(() => checkOptions('options', value));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe(`Expected \`options\` to be an options object, got ${shown}`);
  });

  it('rejects a function passed where options belong', () => {
    function later(): void {}
    expect(() => checkOptions('options', later)).toThrow(
      new TypeError('Expected `options` to be an options object, got `function later` (function)'),
    );
  });
});

describe('edge cases of the shared checks', () => {
  it('shows negative zero as -0', () => {
    expect(describeValue(-0)).toBe('`-0` (number)');
  });

  it('checkOptions rejects an array', () => {
    expect(() => checkOptions('options', [1])).toThrow(/`\[1\]` \(array\)/);
  });
});
