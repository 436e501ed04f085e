/**
 * Settings shared by the property tests.
 */

/** Runs per property: SLUICE_PROP_RUNS if set, else `defaultRuns`. */
export function propRuns(defaultRuns: number): number {
  const { SLUICE_PROP_RUNS } = process.env;
  return Number(SLUICE_PROP_RUNS ?? defaultRuns);
}

/** Tolerance for floating-point sums of tokens and times. */
export const EPS = 1e-6;
