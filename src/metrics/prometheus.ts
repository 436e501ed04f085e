/**
 * sluice/metrics/prometheus: every registered primitive's `stats()` as prom-client metrics.
 *
 * Nothing runs between scrapes: each metric's `collect()` reads `stats()` of every primitive
 * of its kind when the registry is read (`registry.metrics()`), and replaces its series with
 * what it read, so a removed primitive's series disappear. prom-client calls every metric's
 * `collect()` in one synchronous pass, so the numbers of one scrape are consistent with each
 * other (the conservation sums of `Channel.stats()` hold across metrics).
 *
 * The names, units and labels are in ./readings.ts and docs/guides/metrics.md.
 */
import { Counter, Gauge, type Registry, type RegistryContentType } from 'prom-client';
import { describe } from '../internal/describe.js';
import { checkOptions } from '../internal/validate.js';
import {
  prometheusName,
  type Reading,
  type SluiceSources,
  type SourceKindSpec,
} from './readings.js';
import { metricsHandle, type SluiceMetrics, SourceSet } from './sources.js';

/** Options for {@link registerSluiceMetrics}. */
export interface PrometheusMetricsOptions {
  /**
   * Put before every metric name. Default `'sluice_'`; set another to register two sets in
   * one registry (though one set, with `add`, is usually what you want).
   */
  readonly prefix?: string | undefined;
}

/**
 * Registers sluice's metrics in a prom-client `registry` and reads them from `sources` at
 * each scrape. Only the kinds of primitive in use get metrics; `add` brings in more.
 *
 * Errors: a TypeError for an unknown kind or a primitive of the wrong shape, a RangeError for
 * a bad `prefix`; prom-client's own error if the registry already has a metric of one of
 * these names (then nothing stays registered).
 *
 * @example
 * ```ts
 * import { register } from 'prom-client';
 * import { registerSluiceMetrics } from 'sluice/metrics/prometheus';
 *
 * const metrics = registerSluiceMetrics(register, {
 *   channels: { jobs },
 *   limiters: { github: githubBucket },
 *   pools: { workers: pool },
 * });
 * metrics.add('channels', 'uploads', uploads); // later: metrics.remove('channels', 'uploads')
 * // GET /metrics → sluice_channel_size{name="jobs"} 3 …
 * ```
 */
export function registerSluiceMetrics(
  registry: Registry<RegistryContentType>,
  sources?: SluiceSources,
  options?: PrometheusMetricsOptions,
): SluiceMetrics {
  if (typeof (registry as { registerMetric?: unknown } | null)?.registerMetric !== 'function') {
    throw new TypeError(
      `Expected \`registry\` to be a prom-client Registry, got ${describe(registry)}`,
    );
  }
  checkOptions('options', options);
  const prefix = options?.prefix ?? 'sluice_';
  if (typeof prefix !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix)) {
    throw new RangeError(
      `Expected \`prefix\` to be the start of a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), got ${describe(prefix)}`,
    );
  }
  const registered: string[] = [];
  const unregister = (): void => {
    for (const name of registered) registry.removeSingleMetric(name);
    registered.length = 0;
  };
  let set: SourceSet;
  const onKind = (spec: SourceKindSpec): void => {
    const names: string[] = [];
    try {
      for (const reading of spec.readings) {
        const name = prometheusName(reading, prefix);
        createMetric(registry, name, spec, reading, () => set.entries(spec.kind));
        names.push(name);
      }
    } catch (error) {
      for (const name of names) registry.removeSingleMetric(name);
      throw error;
    }
    registered.push(...names);
  };
  try {
    set = new SourceSet(sources, onKind);
  } catch (error) {
    unregister();
    throw error;
  }
  return metricsHandle(set, unregister);
}

function createMetric(
  registry: Registry<RegistryContentType>,
  name: string,
  spec: SourceKindSpec,
  reading: Reading,
  entries: () => Iterable<[string, unknown]>,
): void {
  const label = reading.label;
  const labelNames = label === undefined ? ['name'] : ['name', label];
  /** Replaces the metric's series with what `stats()` says now. */
  const collect = (put: (labels: Record<string, string>, value: number) => void): void => {
    for (const [primitiveName, primitive] of entries()) {
      reading.read(spec.snapshot(primitive), (value, labelValue) => {
        put(
          label === undefined
            ? { name: primitiveName }
            : { name: primitiveName, [label]: labelValue ?? '' },
          value,
        );
      });
    }
  };
  const registers = [registry as Registry];
  if (reading.type === 'counter') {
    new Counter({
      name,
      help: reading.description,
      labelNames,
      registers,
      collect(this: Counter) {
        this.reset();
        collect((labels, value) => this.inc(labels, value));
      },
    });
  } else {
    new Gauge({
      name,
      help: reading.description,
      labelNames,
      registers,
      collect(this: Gauge) {
        this.reset();
        collect((labels, value) => this.set(labels, value));
      },
    });
  }
}
