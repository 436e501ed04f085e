/**
 * Internal consistency checks.
 *
 * An {@link InvariantError} means sluice itself is broken, never that it was called wrongly:
 * misuse throws `TypeError` or `RangeError` instead.
 */

/** Thrown when one of sluice's own invariants does not hold. It always indicates a bug in sluice. */
export class InvariantError extends Error {
  /** Stable error code. */
  readonly code = 'ERR_SLUICE_INVARIANT' as const;

  constructor(message: string) {
    super(`sluice bug: ${message} (please report it with the code that led here)`);
    this.name = 'InvariantError';
  }
}

/** Throws an {@link InvariantError} with `message` unless `condition` holds. */
export function invariant(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new InvariantError(typeof message === 'function' ? message() : message);
}
