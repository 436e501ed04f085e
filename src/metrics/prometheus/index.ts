export type { PrometheusMetricsOptions } from '../prometheus.js';
export { registerSluiceMetrics } from '../prometheus.js';
export type {
  HasStats,
  LimiterStats,
  SluiceSources,
  SourceKind,
  SourceOf,
} from '../readings.js';
export type { SluiceMetrics } from '../sources.js';
