/**
 * Misuse of Channel throws synchronously, with a RangeError or TypeError whose message names
 * the option and shows the value received (`` got `-1` (number) ``).
 */
import { describe, expect, it } from 'vitest';
import { Channel, type ChannelOptions } from '../../src/index.js';
import { ManualClock } from '../../src/testing/index.js';
import { thrown } from '../support/errors.js';
import { check } from './channel.helpers.js';

type ErrorClass = typeof RangeError | typeof TypeError;

function expectMisuse(fn: () => unknown, classes: ErrorClass[], ...fragments: string[]): void {
  const error = thrown(fn);
  expect(
    classes.some((c) => error instanceof c),
    `${String(error)} is not a ${classes.map((c) => c.name).join(' or ')}`,
  ).toBe(true);
  for (const fragment of fragments) expect((error as Error).message).toContain(fragment);
}

function construct(options: unknown): Channel<unknown> {
  return new Channel(options as ChannelOptions<unknown>);
}

describe('new Channel(options) rejects bad options', () => {
  const rows: [string, unknown, ErrorClass[], string[]][] = [
    ['capacity -1', { capacity: -1 }, [RangeError], ['capacity', 'got `-1` (number)']],
    ['capacity 1.5', { capacity: 1.5 }, [RangeError], ['capacity', 'got `1.5` (number)']],
    ['capacity NaN', { capacity: Number.NaN }, [RangeError], ['capacity', 'got `NaN` (number)']],
    [
      'capacity "3"',
      { capacity: '3' },
      [RangeError, TypeError],
      ['capacity', 'got `"3"` (string)'],
    ],
    [
      'capacity -Infinity',
      { capacity: Number.NEGATIVE_INFINITY },
      [RangeError],
      ['capacity', '`-Infinity` (number)'],
    ],
    ['capacity null', { capacity: null }, [RangeError, TypeError], ['capacity', '`null` (null)']],
    [
      'capacity Infinity with drop-newest',
      { capacity: Number.POSITIVE_INFINITY, overflow: 'drop-newest' },
      [RangeError],
      ['capacity', 'got `Infinity` (number)'],
    ],
    [
      'capacity Infinity with drop-oldest',
      { capacity: Number.POSITIVE_INFINITY, overflow: 'drop-oldest' },
      [RangeError],
      ['capacity', 'got `Infinity` (number)'],
    ],
    [
      'capacity 0 with drop-newest',
      { capacity: 0, overflow: 'drop-newest' },
      [RangeError],
      ['capacity', 'got `0` (number)'],
    ],
    [
      'capacity 0 with drop-oldest',
      { capacity: 0, overflow: 'drop-oldest' },
      [RangeError],
      ['capacity', 'got `0` (number)'],
    ],
    [
      'no capacity with drop-newest',
      { overflow: 'drop-newest' },
      [RangeError, TypeError],
      ['capacity', '`undefined` (undefined)'],
    ],
    [
      'overflow "drop"',
      { capacity: 1, overflow: 'drop' },
      [RangeError, TypeError],
      ['overflow', 'got `"drop"` (string)'],
    ],
    [
      'overflow "drop-lowest" without a priority',
      { capacity: 1, overflow: 'drop-lowest' },
      [RangeError],
      ['drop-lowest', 'priority'],
    ],
    [
      'overflow "BLOCK"',
      { overflow: 'BLOCK' },
      [RangeError, TypeError],
      ['overflow', '`"BLOCK"` (string)'],
    ],
    ['overflow null', { overflow: null }, [RangeError, TypeError], ['overflow', '`null` (null)']],
    ['overflow 1', { overflow: 1 }, [RangeError, TypeError], ['overflow', '`1` (number)']],
    ['onDrop 42', { capacity: 1, onDrop: 42 }, [TypeError], ['onDrop', 'got `42` (number)']],
    ['onDrop "log"', { capacity: 1, onDrop: 'log' }, [TypeError], ['onDrop', '`"log"` (string)']],
    ['clock {}', { clock: {} }, [TypeError], ['clock', 'got `{}` (object)']],
    ['clock "system"', { clock: 'system' }, [TypeError], ['clock', '`"system"` (string)']],
    ['clock null', { clock: null }, [TypeError], ['clock', '`null` (null)']],
    ['options 5', 5, [TypeError], ['options', 'got `5` (number)']],
    ['options "big"', 'big', [TypeError], ['options', '`"big"` (string)']],
    ['options null', null, [TypeError], ['options', '`null` (null)']],
  ];
  it.each(rows)('%s', (_, options, classes, fragments) => {
    expectMisuse(() => construct(options), classes, ...fragments);
  });

  it('accepts every valid configuration', () => {
    for (const capacity of [0, 1, 2, 16, Number.POSITIVE_INFINITY]) {
      for (const overflow of ['block', 'reject', undefined] as const) {
        expect(construct({ capacity, overflow }).capacity).toBe(capacity);
      }
    }
    for (const overflow of ['drop-newest', 'drop-oldest'] as const) {
      expect(construct({ capacity: 1, overflow }).overflow).toBe(overflow);
    }
    expect(construct({ clock: new ManualClock(), onDrop: () => {} }).capacity).toBe(0);
    expect(construct(undefined).capacity).toBe(0);
  });

  it('rejects a drop policy without capacity at the type level', () => {
    expect(() => {
      // @ts-expect-error a drop policy needs an explicit capacity
      new Channel<number>({ overflow: 'drop-newest' });
    }).toThrow(RangeError);
    expect(() => {
      // @ts-expect-error a drop policy needs an explicit capacity
      new Channel<number>({ overflow: 'drop-oldest', onDrop: () => {} });
    }).toThrow(RangeError);
    // The valid forms type-check.
    expect(new Channel<number>({ capacity: 1, overflow: 'drop-newest' }).capacity).toBe(1);
    expect(new Channel<number>({ overflow: 'reject' }).capacity).toBe(0);
  });
});

interface State {
  readonly name: string;
  readonly make: () => Channel<string>;
}

/** A capacity-1 channel holding `items`, closed if asked. */
function channel(items: string[], closed = false): Channel<string> {
  const ch = new Channel<string>({ capacity: 1, clock: new ManualClock() });
  for (const item of items) ch.trySend(item);
  if (closed) ch.close();
  return ch;
}

/** Every state a send can meet: it would wait, it would complete at once, the channel is closed. */
const SEND_STATES: State[] = [
  { name: 'would wait (full)', make: () => channel(['buffered']) },
  { name: 'would complete at once (room)', make: () => channel([]) },
  { name: 'meets a closed channel', make: () => channel([], true) },
];

/** The same for receive. */
const RECEIVE_STATES: State[] = [
  { name: 'would wait (empty)', make: () => channel([]) },
  { name: 'would complete at once (item ready)', make: () => channel(['buffered']) },
  { name: 'meets a closed, drained channel', make: () => channel([], true) },
];

const badWaitOptions: [string, unknown, ErrorClass[], string[]][] = [
  ['options 5', 5, [TypeError], ['options', 'got `5` (number)']],
  ['options "fast"', 'fast', [TypeError], ['options', '`"fast"` (string)']],
  ['options null', null, [TypeError], ['options', '`null` (null)']],
  ['timeoutMs -1', { timeoutMs: -1 }, [RangeError], ['timeoutMs', 'got `-1` (number)']],
  ['timeoutMs NaN', { timeoutMs: Number.NaN }, [RangeError], ['timeoutMs', 'got `NaN` (number)']],
  [
    'timeoutMs "10"',
    { timeoutMs: '10' },
    [RangeError, TypeError],
    ['timeoutMs', '`"10"` (string)'],
  ],
  ['signal "abort"', { signal: 'abort' }, [TypeError], ['signal', 'got `"abort"` (string)']],
  ['signal {}', { signal: {} }, [TypeError], ['signal', 'got `{}` (object)']],
  ['signal -1', { signal: -1 }, [TypeError], ['signal', 'got `-1` (number)']],
  ['signal null', { signal: null }, [TypeError], ['signal', '`null` (null)']],
];

describe.each(SEND_STATES)('send(item, options) where the send $name', ({ make }) => {
  it.each(badWaitOptions)(
    '%s throws synchronously and sends nothing',
    (_, options, classes, fragments) => {
      const ch = make();
      const before = ch.stats();
      expectMisuse(() => ch.send('x', options as never), classes, ...fragments);
      expect(ch.stats()).toEqual(before);
      check(ch);
    },
  );
});

describe.each(RECEIVE_STATES)('receive(options) where the receive $name', ({ make }) => {
  it.each(badWaitOptions)(
    '%s throws synchronously and consumes nothing',
    (_, options, classes, fragments) => {
      const ch = make();
      const before = ch.stats();
      expectMisuse(() => ch.receive(options as never), classes, ...fragments);
      expect(ch.stats()).toEqual(before);
      check(ch);
    },
  );
});

describe('misuse of iterate()', () => {
  it.each([
    ['options 5', 5, ['options', 'got `5` (number)']],
    ['options null', null, ['options', '`null` (null)']],
    ['signal "x"', { signal: 'x' }, ['signal', 'got `"x"` (string)']],
    ['signal {}', { signal: {} }, ['signal', 'got `{}` (object)']],
  ] as [string, unknown, string[]][])(
    'iterate(%s) throws a TypeError synchronously',
    (_, options, fragments) => {
      const ch = new Channel<string>();
      expectMisuse(() => ch.iterate(options as never), [TypeError], ...fragments);
    },
  );
});
