/**
 * Checks shared by every adaptive algorithm: the limit's bounds and the numeric knobs, each
 * error naming the option and the value received.
 */
import { describe } from '../internal/describe.js';
import { checkCount, checkOptions } from '../internal/validate.js';
import type { LimitAlgorithm, LimitBounds } from './types.js';

/** Checked bounds: `1 <= minLimit <= initialLimit <= maxLimit`, all integers. */
export interface Bounds {
  readonly initialLimit: number;
  readonly minLimit: number;
  readonly maxLimit: number;
}

/**
 * Reads `initialLimit`, `minLimit` and `maxLimit` from `options` (an algorithm's options object,
 * named `name` in errors), filling in `defaults`. A default initial limit outside the given
 * bounds is moved inside them; an explicit one outside them is an error.
 */
export function checkBounds(
  name: string,
  options: LimitBounds | undefined,
  defaults: Bounds,
): Bounds {
  checkOptions(name, options);
  const minLimit = checkCount(`${name}.minLimit`, options?.minLimit ?? defaults.minLimit, 1);
  const maxLimit = checkCount(`${name}.maxLimit`, options?.maxLimit ?? defaults.maxLimit, 1);
  if (minLimit > maxLimit) {
    throw new RangeError(
      `Expected \`${name}.minLimit\` (${minLimit}) to be at most \`${name}.maxLimit\` (${maxLimit})`,
    );
  }
  const given = options?.initialLimit;
  if (given === undefined) {
    return { minLimit, maxLimit, initialLimit: clamp(defaults.initialLimit, minLimit, maxLimit) };
  }
  const initialLimit = checkCount(`${name}.initialLimit`, given, 1);
  if (initialLimit < minLimit || initialLimit > maxLimit) {
    throw new RangeError(
      `Expected \`${name}.initialLimit\` to be within [${minLimit}, ${maxLimit}], got ${describe(given)}`,
    );
  }
  return { minLimit, maxLimit, initialLimit };
}

/** A finite number in `(low, high]` (`inclusiveLow`: `[low, high]`). */
export function checkRange(
  name: string,
  value: unknown,
  low: number,
  high: number,
  inclusiveLow = false,
): number {
  if (
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (inclusiveLow ? value >= low : value > low) &&
    value <= high
  ) {
    return value;
  }
  const range = `${inclusiveLow ? '[' : '('}${low}, ${high}]`;
  throw new RangeError(`Expected \`${name}\` to be a number in ${range}, got ${describe(value)}`);
}

/** `value` moved into `[low, high]`. */
export function clamp(value: number, low: number, high: number): number {
  return Math.max(low, Math.min(value, high));
}

/** An object that looks like a {@link LimitAlgorithm}: a `name`, an integer `limit` ≥ 1, `update`. */
export function checkAlgorithm(name: string, algorithm: unknown): LimitAlgorithm {
  const a = algorithm as Partial<LimitAlgorithm> | null | undefined;
  if (
    typeof a === 'object' &&
    a !== null &&
    typeof a.update === 'function' &&
    typeof a.name === 'string' &&
    Number.isInteger(a.limit) &&
    (a.limit as number) >= 1
  ) {
    return a as LimitAlgorithm;
  }
  throw new TypeError(
    `Expected \`${name}\` to be a limit algorithm (an object with \`name\`, \`limit\` and \`update\`, like aimd()), got ${describe(algorithm)}`,
  );
}
