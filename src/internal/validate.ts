/**
 * Argument checks shared by every primitive. Each throws synchronously with a message that
 * names the option and shows the value received.
 */
import { describe } from './describe.js';

/** An integer ≥ `min`, or `Infinity` when `allowInfinity`. */
export function checkCount(
  name: string,
  value: unknown,
  min: number,
  allowInfinity = false,
): number {
  if (
    typeof value === 'number' &&
    value >= min &&
    (Number.isInteger(value) || (allowInfinity && value === Number.POSITIVE_INFINITY))
  ) {
    return value;
  }
  const range = allowInfinity
    ? `an integer from ${min} up, or Infinity`
    : `an integer from ${min} up`;
  throw new RangeError(`Expected \`${name}\` to be ${range}, got ${describe(value)}`);
}

/** A number ≥ 0 (Infinity allowed: it means "no limit"). */
export function checkDuration(name: string, value: unknown): number {
  if (typeof value === 'number' && value >= 0) return value;
  throw new RangeError(
    `Expected \`${name}\` to be a number of milliseconds from 0 up (or Infinity), got ${describe(value)}`,
  );
}

/** A finite number above 0; `unit` (e.g. `'milliseconds'`) is named in the error. */
export function checkPositive(name: string, value: unknown, unit?: string): number {
  if (typeof value === 'number' && value > 0 && Number.isFinite(value)) return value;
  const what = unit === undefined ? 'a finite number' : `a finite number of ${unit}`;
  throw new RangeError(`Expected \`${name}\` to be ${what} above 0, got ${describe(value)}`);
}

/** One of `allowed`. */
export function checkOneOf<const A extends readonly string[]>(
  name: string,
  value: unknown,
  allowed: A,
): A[number] {
  if (typeof value === 'string' && allowed.includes(value)) return value;
  throw new RangeError(
    `Expected \`${name}\` to be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describe(value)}`,
  );
}

/** A function, or `undefined`. */
export function checkOptionalFunction<F extends Function>(
  name: string,
  value: unknown,
): F | undefined {
  if (value === undefined || typeof value === 'function') return value as F | undefined;
  throw new TypeError(`Expected \`${name}\` to be a function, got ${describe(value)}`);
}

/** An object (or `undefined`, read as `{}`): catches `send(item, 5)` style mistakes. */
export function checkOptions(name: string, value: unknown): void {
  if (
    value !== undefined &&
    (typeof value !== 'object' || value === null || Array.isArray(value))
  ) {
    throw new TypeError(`Expected \`${name}\` to be an options object, got ${describe(value)}`);
  }
}
