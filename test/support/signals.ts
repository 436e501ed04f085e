/**
 * Abort-signal helpers shared by the test suites.
 */
import { getEventListeners } from 'node:events';

/** How many 'abort' listeners are registered on `signal` (0 once a waiter has cleaned up). */
export function listeners(signal: AbortSignal): number {
  return getEventListeners(signal, 'abort').length;
}
