export { observeSluiceMetrics } from '../otel.js';
export type {
  HasStats,
  LimiterStats,
  SluiceSources,
  SourceKind,
  SourceOf,
} from '../readings.js';
export type { SluiceMetrics } from '../sources.js';
