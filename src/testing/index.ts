export type { ManualClockOptions } from './manual-clock.js';
export { ManualClock } from './manual-clock.js';
