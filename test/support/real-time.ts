/**
 * Helpers for the few tests that run on real time (the Redis tier, where Redis's clock decides
 * leases): every wait is short and bounded. Everything else uses a ManualClock and never sleeps.
 */

/** Resolves after `ms` of real time. */
export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` passes, or rethrows its last failure after `ms` (the code under test never polls). */
export async function eventually(check: () => Promise<void> | void, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > end) throw error;
      await sleep(10);
    }
  }
}

/** True if `promise` has settled (either way) after `ms` of real time. */
export async function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await sleep(ms);
  return settled;
}
