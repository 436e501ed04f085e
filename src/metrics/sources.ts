/**
 * The primitives an exporter reads, by kind and name; shared by both exporters.
 *
 * Invariants:
 * 1. A name appears at most once per kind (it is the `name` label: two would make one series).
 * 2. Every primitive held passed its kind's `accepts` check.
 * 3. `onKind` is called once per kind, the first time a primitive of that kind is added, so
 *    an exporter registers only the metrics of kinds in use.
 * 4. Once closed, it holds nothing and accepts nothing.
 */
import { describe } from '../internal/describe.js';
import { checkOptions } from '../internal/validate.js';
import {
  type SluiceSources,
  SOURCE_KINDS,
  type SourceKind,
  type SourceKindSpec,
  type SourceOf,
} from './readings.js';

/** What `registerSluiceMetrics` and `observeSluiceMetrics` return. */
export interface SluiceMetrics {
  /**
   * Starts exporting `primitive` under `name` (its `name` label) from the next scrape on.
   * Throws a RangeError if `name` is already used for that kind, a TypeError for an unknown
   * kind or a primitive of the wrong shape, an Error after `unregister()`.
   */
  add<K extends SourceKind>(kind: K, name: string, primitive: SourceOf<K>): void;
  /** Stops exporting the primitive of `kind` named `name`; false if there was none. */
  remove(kind: SourceKind, name: string): boolean;
  /**
   * Stops exporting: the Prometheus metrics leave the registry; the OpenTelemetry callbacks
   * are removed. Idempotent.
   */
  unregister(): void;
}

const KIND_NAMES = SOURCE_KINDS.map((spec) => spec.kind);

/** The handle an exporter returns: `add`/`remove` go to `set`; `unregister` closes it, then runs `release`. */
export function metricsHandle(set: SourceSet, release: () => void): SluiceMetrics {
  return {
    add(kind, name, primitive) {
      set.add(kind, name, primitive);
    },
    remove(kind, name) {
      return set.remove(kind, name);
    },
    unregister() {
      set.close();
      release();
    },
  };
}

export class SourceSet {
  readonly #byKind = new Map<SourceKind, Map<string, unknown>>();
  readonly #onKind: (spec: SourceKindSpec) => void;
  #closed = false;

  /** Validates and adds every primitive of `sources` (none on a bad argument). */
  constructor(sources: SluiceSources | undefined, onKind: (spec: SourceKindSpec) => void) {
    checkOptions('sources', sources);
    const pending: [SourceKindSpec, string, unknown][] = [];
    for (const [kind, record] of Object.entries(sources ?? {})) {
      const spec = specOf(kind);
      if (record === undefined) continue;
      checkOptions(kind, record);
      for (const [name, primitive] of Object.entries(record as Record<string, unknown>)) {
        checkSource(spec, name, primitive);
        pending.push([spec, name, primitive]);
      }
    }
    this.#onKind = onKind;
    for (const [spec, name, primitive] of pending) this.#add(spec, name, primitive);
  }

  add(kind: string, name: unknown, primitive: unknown): void {
    if (this.#closed) throw new Error('These sluice metrics were unregistered');
    const spec = specOf(kind);
    checkSource(spec, name, primitive);
    this.#add(spec, name as string, primitive);
  }

  remove(kind: string, name: unknown): boolean {
    specOf(kind);
    return this.#byKind.get(kind as SourceKind)?.delete(name as string) ?? false;
  }

  /** The primitives of `kind`, by name, in the order they were added. */
  entries(kind: SourceKind): Iterable<[string, unknown]> {
    return this.#byKind.get(kind) ?? [];
  }

  /** Forgets every primitive; later `add` calls throw. */
  close(): void {
    this.#closed = true;
    this.#byKind.clear();
  }

  #add(spec: SourceKindSpec, name: string, primitive: unknown): void {
    let named = this.#byKind.get(spec.kind);
    if (named?.has(name)) {
      throw new RangeError(`\`${spec.kind}.${name}\` is already exported; remove it first`);
    }
    if (named === undefined) {
      named = new Map();
      this.#byKind.set(spec.kind, named);
      this.#onKind(spec);
    }
    named.set(name, primitive);
  }
}

function specOf(kind: string): SourceKindSpec {
  const spec = SOURCE_KINDS.find((s) => s.kind === kind);
  if (spec !== undefined) return spec;
  throw new TypeError(
    `Expected a kind of primitive, one of ${KIND_NAMES.map((k) => `'${k}'`).join(', ')}, got ${describe(kind)}`,
  );
}

function checkSource(spec: SourceKindSpec, name: unknown, primitive: unknown): void {
  if (typeof name !== 'string' || name === '') {
    throw new TypeError(
      `Expected the name of a ${spec.kind} entry to be a non-empty string, got ${describe(name)}`,
    );
  }
  if (!spec.accepts(primitive)) {
    throw new TypeError(
      `Expected \`${spec.kind}.${name}\` to be ${spec.expects}, got ${describe(primitive)}`,
    );
  }
}
