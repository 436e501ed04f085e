/**
 * sluice/metrics/otel: every registered primitive's `stats()` as OpenTelemetry observable
 * instruments (ObservableGauge, ObservableCounter).
 *
 * Nothing runs between collections: one batch callback per kind of primitive reads each
 * primitive's `stats()` once per collection and observes every instrument of that kind from
 * that one snapshot, so the numbers of one collection are consistent with each other. Only
 * types are imported from `@opentelemetry/api`: the meter you pass is the one used.
 *
 * Names: `sluice.channel.size`, `sluice.channel.dropped`… with UCUM units; an OpenTelemetry
 * Prometheus exporter turns them into the names `sluice/metrics/prometheus` uses
 * (`sluice_channel_size`, `sluice_channel_dropped_total`). See docs/guides/metrics.md.
 */
import type { Attributes, BatchObservableCallback, Meter, Observable } from '@opentelemetry/api';
import { describe } from '../internal/describe.js';
import { otelName, type SluiceSources, type SourceKindSpec } from './readings.js';
import { metricsHandle, type SluiceMetrics, SourceSet } from './sources.js';

/**
 * Creates sluice's instruments on `meter` and observes `sources` at each collection. Only the
 * kinds of primitive in use get instruments; `add` brings in more. Call it once per meter.
 *
 * Errors: a TypeError for a `meter` without the observable-instrument API (older than
 * `@opentelemetry/api` 1.3), an unknown kind or a primitive of the wrong shape.
 *
 * @example
 * ```ts
 * import { metrics } from '@opentelemetry/api';
 * import { observeSluiceMetrics } from 'sluice/metrics/otel';
 *
 * const sluiceMetrics = observeSluiceMetrics(metrics.getMeter('my-service'), {
 *   channels: { jobs },
 *   adaptive: { backend: limiter },
 * });
 * // each collection: sluice.channel.size{name="jobs"}, sluice.adaptive.limit{name="backend"} …
 * ```
 */
export function observeSluiceMetrics(meter: Meter, sources?: SluiceSources): SluiceMetrics {
  const m = meter as Partial<Meter> | null;
  if (
    typeof m?.createObservableGauge !== 'function' ||
    typeof m.createObservableCounter !== 'function' ||
    typeof m.addBatchObservableCallback !== 'function'
  ) {
    throw new TypeError(
      `Expected \`meter\` to be an OpenTelemetry Meter (@opentelemetry/api 1.3 or later), got ${describe(meter)}`,
    );
  }
  const callbacks: [BatchObservableCallback, Observable[]][] = [];
  let set: SourceSet;
  const onKind = (spec: SourceKindSpec): void => {
    const instruments = spec.readings.map((reading) => {
      const options = { description: reading.description, unit: reading.unit };
      return reading.type === 'counter'
        ? meter.createObservableCounter(otelName(reading), options)
        : meter.createObservableGauge(otelName(reading), options);
    });
    const callback: BatchObservableCallback = (result) => {
      for (const [name, primitive] of set.entries(spec.kind)) {
        const stats = spec.snapshot(primitive);
        spec.readings.forEach((reading, i) => {
          const instrument = instruments[i] as Observable;
          const label = reading.label;
          reading.read(stats, (value, labelValue) => {
            const attributes: Attributes =
              label === undefined ? { name } : { name, [label]: labelValue ?? '' };
            result.observe(instrument, value, attributes);
          });
        });
      }
    };
    meter.addBatchObservableCallback(callback, instruments);
    callbacks.push([callback, instruments]);
  };
  set = new SourceSet(sources, onKind);
  return metricsHandle(set, () => {
    for (const [callback, instruments] of callbacks) {
      meter.removeBatchObservableCallback(callback, instruments);
    }
    callbacks.length = 0;
  });
}
