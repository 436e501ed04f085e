/**
 * Reading a scenario: from JSON text or any value to a checked {@link Scenario}.
 *
 * Promises:
 * 1. A value that is not a valid scenario throws a {@link ScenarioError} whose message starts
 *    with the field's path and says what was expected and what was found:
 *    `configurations[1].capacity: expected an integer from 0 up, got -3`.
 * 2. Unknown fields are errors too (a typo would otherwise be ignored silently); the one
 *    exception is a top-level `$schema`, which editors read (docs/guides/lab-scenario.schema.json).
 * 3. The result holds only the scenario's own fields, with nothing filled in: what the user
 *    wrote is what the report echoes. Defaults are applied by the simulator.
 * 4. Every check the simulator's primitives would make (a drop policy with capacity 0,
 *    `drop-lowest` without priorities, …) is made here first, so a scenario that parses runs.
 */
import type {
  Arrivals,
  ConsumerSpec,
  Duration,
  LimiterSpec,
  PipeConfig,
  ProducerSpec,
  Scenario,
} from './types.js';

/** A scenario that is not valid: `path` names the field (`configurations[1].capacity`). */
export class ScenarioError extends Error {
  override readonly name: string = 'ScenarioError';
  /** The field at fault, as a path from the scenario's root; `''` for the whole file. */
  readonly path: string;

  constructor(path: string, message: string) {
    super(path === '' ? message : `${path}: ${message}`);
    this.path = path;
  }
}

/** The fields each object of a scenario may have (the JSON Schema lists the same). */
export const SCENARIO_FIELDS: Readonly<Record<string, readonly string[]>> = {
  scenario: [
    'name',
    'description',
    'durationMs',
    'seed',
    'producers',
    'consumers',
    'configurations',
    'sampleEveryMs',
  ],
  producer: ['arrivals', 'count', 'urgentShare', 'mode'],
  'arrivals.constant': ['kind', 'intervalMs'],
  'arrivals.poisson': ['kind', 'ratePerSec'],
  'arrivals.bursts': ['kind', 'ratePerSec', 'onMs', 'offMs'],
  'arrivals.trace': ['kind', 'timesMs'],
  consumers: ['count', 'service', 'slowdown'],
  slowdown: ['atMs', 'factor'],
  'duration.constant': ['kind', 'ms'],
  'duration.uniform': ['kind', 'minMs', 'maxMs'],
  'duration.exponential': ['kind', 'meanMs'],
  'duration.lognormal': ['kind', 'medianMs', 'sigma'],
  configuration: [
    'label',
    'capacity',
    'overflow',
    'priorities',
    'maxWaitMs',
    'codel',
    'order',
    'limiter',
  ],
  codel: ['targetMs', 'intervalMs', 'mode'],
  'limiter.token-bucket': ['kind', 'rate', 'burst', 'at', 'mode'],
  'limiter.adaptive': ['kind', 'algorithm', 'initialLimit'],
};

/** The overflow policies a configuration may name. */
export const OVERFLOW_POLICIES: readonly PipeConfig['overflow'][] = [
  'block',
  'drop-newest',
  'drop-oldest',
  'reject',
  'drop-lowest',
];

/** The adaptive algorithms a configuration may name. */
export const ADAPTIVE_ALGORITHMS: readonly ('aimd' | 'vegas' | 'gradient2' | 'envoy')[] = [
  'aimd',
  'vegas',
  'gradient2',
  'envoy',
];

/**
 * Parses scenario JSON. `source` (a file name) prefixes a syntax error's message; the field
 * errors of {@link parseScenario} name paths within the file.
 */
export function parseScenarioJson(text: string, source = 'scenario'): Scenario {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ScenarioError('', `${source}: not valid JSON: ${(error as Error).message}`);
  }
  return parseScenario(value);
}

/** Checks that `value` is a {@link Scenario} and returns a copy holding only its fields. */
export function parseScenario(value: unknown): Scenario {
  const o = object(value, '', 'a scenario object');
  known(o, '', 'scenario');
  const scenario: Scenario = clean({
    name: text(o.name, 'name', true),
    description: optional(o.description, (v) => text(v, 'description', false)),
    durationMs: positive(o.durationMs, 'durationMs', 'a number of ms above 0'),
    seed: optional(o.seed, (v) => integer(v, 'seed', Number.MIN_SAFE_INTEGER, 'a safe integer')),
    producers: list(o.producers, 'producers', 'an array of producers').map((p, i) =>
      producer(p, `producers[${i}]`),
    ),
    consumers: consumers(o.consumers, 'consumers'),
    configurations: list(o.configurations, 'configurations', 'an array of configurations').map(
      (c, i) => pipeConfig(c, `configurations[${i}]`),
    ),
    sampleEveryMs: optional(o.sampleEveryMs, (v) =>
      positive(v, 'sampleEveryMs', 'a number of ms above 0'),
    ),
  });
  const labels = new Set<string>();
  scenario.configurations.forEach((c, i) => {
    if (labels.has(c.label)) {
      fail(
        `configurations[${i}].label`,
        `expected a label no other configuration has, got ${shown(c.label)}`,
      );
    }
    labels.add(c.label);
  });
  return scenario;
}

function producer(value: unknown, path: string): ProducerSpec {
  const o = object(value, path, 'a producer object { arrivals, count?, urgentShare?, mode? }');
  known(o, path, 'producer');
  return clean({
    arrivals: arrivals(o.arrivals, `${path}.arrivals`),
    count: optional(o.count, (v) => integer(v, `${path}.count`, 0)),
    urgentShare: optional(o.urgentShare, (v) => share(v, `${path}.urgentShare`)),
    mode: optional(o.mode, (v) => oneOf(v, `${path}.mode`, ['wait', 'try'] as const)),
  });
}

function arrivals(value: unknown, path: string): Arrivals {
  const o = object(value, path, 'an arrivals object { kind, … }');
  const kind = oneOf(o.kind, `${path}.kind`, ['constant', 'poisson', 'bursts', 'trace'] as const);
  known(o, path, `arrivals.${kind}`);
  switch (kind) {
    case 'constant':
      return {
        kind,
        intervalMs: positive(o.intervalMs, `${path}.intervalMs`, 'a number of ms above 0'),
      };
    case 'poisson':
      return {
        kind,
        ratePerSec: positive(o.ratePerSec, `${path}.ratePerSec`, 'a rate per second above 0'),
      };
    case 'bursts':
      return {
        kind,
        ratePerSec: positive(o.ratePerSec, `${path}.ratePerSec`, 'a rate per second above 0'),
        onMs: positive(o.onMs, `${path}.onMs`, 'a number of ms above 0'),
        offMs: fromZero(o.offMs, `${path}.offMs`, 'a number of ms from 0 up'),
      };
    case 'trace': {
      const times = list(o.timesMs, `${path}.timesMs`, 'an array of times in ms');
      let previous = 0;
      const timesMs = times.map((t, i) => {
        const at = fromZero(t, `${path}.timesMs[${i}]`, 'a time in ms from 0 up');
        if (at < previous) {
          fail(
            `${path}.timesMs[${i}]`,
            `expected a time from ${previous} up (times must not decrease), got ${shown(t)}`,
          );
        }
        previous = at;
        return at;
      });
      return { kind, timesMs };
    }
  }
}

function consumers(value: unknown, path: string): ConsumerSpec {
  const o = object(value, path, 'a consumers object { count, service, slowdown? }');
  known(o, path, 'consumers');
  return clean({
    count: integer(o.count, `${path}.count`, 1),
    service: duration(o.service, `${path}.service`),
    slowdown: optional(o.slowdown, (v) => {
      const s = object(v, `${path}.slowdown`, 'an object { atMs, factor }');
      known(s, `${path}.slowdown`, 'slowdown');
      return {
        atMs: fromZero(s.atMs, `${path}.slowdown.atMs`, 'a time in ms from 0 up'),
        factor: positive(s.factor, `${path}.slowdown.factor`, 'a number above 0'),
      };
    }),
  });
}

function duration(value: unknown, path: string): Duration {
  const o = object(value, path, 'a duration object { kind, … }');
  const kind = oneOf(o.kind, `${path}.kind`, [
    'constant',
    'uniform',
    'exponential',
    'lognormal',
  ] as const);
  known(o, path, `duration.${kind}`);
  switch (kind) {
    case 'constant':
      return { kind, ms: fromZero(o.ms, `${path}.ms`, 'a number of ms from 0 up') };
    case 'uniform': {
      const minMs = fromZero(o.minMs, `${path}.minMs`, 'a number of ms from 0 up');
      const maxMs = fromZero(o.maxMs, `${path}.maxMs`, 'a number of ms from 0 up');
      if (maxMs < minMs)
        fail(`${path}.maxMs`, `expected a number of ms from minMs (${minMs}) up, got ${maxMs}`);
      return { kind, minMs, maxMs };
    }
    case 'exponential':
      return { kind, meanMs: positive(o.meanMs, `${path}.meanMs`, 'a number of ms above 0') };
    case 'lognormal':
      return {
        kind,
        medianMs: positive(o.medianMs, `${path}.medianMs`, 'a number of ms above 0'),
        sigma: fromZero(o.sigma, `${path}.sigma`, 'a number from 0 up'),
      };
  }
}

function pipeConfig(value: unknown, path: string): PipeConfig {
  const o = object(value, path, 'a configuration object { label, capacity, overflow, … }');
  known(o, path, 'configuration');
  const label = text(o.label, `${path}.label`, true);
  const overflow = oneOf(o.overflow, `${path}.overflow`, OVERFLOW_POLICIES);
  const drops = overflow.startsWith('drop-');
  const capacity = integer(
    o.capacity,
    `${path}.capacity`,
    drops ? 1 : 0,
    drops ? `an integer from 1 up (overflow '${overflow}' needs room for one item)` : undefined,
  );
  const priorities = optional(o.priorities, (v) => bool(v, `${path}.priorities`));
  if (overflow === 'drop-lowest' && priorities !== true) {
    fail(
      `${path}.priorities`,
      `expected true with overflow 'drop-lowest' (it evicts the lowest priority), got ${shown(o.priorities)}`,
    );
  }
  const order = optional(o.order, (v) =>
    oneOf(v, `${path}.order`, ['fifo', 'adaptive-lifo'] as const),
  );
  if (order === 'adaptive-lifo' && priorities === true) {
    fail(
      `${path}.order`,
      `expected 'fifo' with priorities (adaptive LIFO serves by arrival only), got "adaptive-lifo"`,
    );
  }
  return clean({
    label,
    capacity,
    overflow,
    priorities,
    maxWaitMs: optional(o.maxWaitMs, (v) =>
      positive(v, `${path}.maxWaitMs`, 'a number of ms above 0'),
    ),
    codel: optional(o.codel, (v) => codel(v, `${path}.codel`)),
    order,
    limiter: optional(o.limiter, (v) => limiter(v, `${path}.limiter`)),
  });
}

function codel(value: unknown, path: string): NonNullable<PipeConfig['codel']> {
  if (typeof value === 'boolean') return value;
  const o = object(value, path, 'true, false or an object { targetMs?, intervalMs?, mode? }');
  known(o, path, 'codel');
  // `clean` leaves out the fields that are undefined, as the type (without `| undefined`) wants.
  return clean({
    targetMs: optional(o.targetMs, (v) =>
      positive(v, `${path}.targetMs`, 'a number of ms above 0'),
    ),
    intervalMs: optional(o.intervalMs, (v) =>
      positive(v, `${path}.intervalMs`, 'a number of ms above 0'),
    ),
    mode: optional(o.mode, (v) => oneOf(v, `${path}.mode`, ['rfc', 'requests'] as const)),
  }) as NonNullable<PipeConfig['codel']>;
}

function limiter(value: unknown, path: string): LimiterSpec {
  const o = object(value, path, 'a limiter object { kind, … }');
  const kind = oneOf(o.kind, `${path}.kind`, ['token-bucket', 'adaptive'] as const);
  known(o, path, `limiter.${kind}`);
  if (kind === 'token-bucket') {
    const at = optional(o.at, (v) => oneOf(v, `${path}.at`, ['producers', 'consumers'] as const));
    const mode = optional(o.mode, (v) => oneOf(v, `${path}.mode`, ['wait', 'try'] as const));
    if (mode !== undefined && at !== 'producers') {
      fail(
        `${path}.mode`,
        `applies only with at: "producers" (consumers always wait for a token), got ${shown(mode)}`,
      );
    }
    return clean({
      kind,
      rate: positive(o.rate, `${path}.rate`, 'a number of tokens per second above 0'),
      burst: integer(o.burst, `${path}.burst`, 1),
      at,
      mode,
    });
  }
  return clean({
    kind,
    algorithm: oneOf(o.algorithm, `${path}.algorithm`, ADAPTIVE_ALGORITHMS),
    initialLimit: optional(o.initialLimit, (v) => integer(v, `${path}.initialLimit`, 1)),
  });
}

// ---- field checks -------------------------------------------------------------------------

function fail(path: string, message: string): never {
  throw new ScenarioError(path, message);
}

/** How a received value is shown in a message: JSON for primitives, its kind otherwise. */
function shown(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  }
  return String(value);
}

function expected(path: string, what: string, value: unknown): never {
  const where = path === '' ? 'scenario' : path;
  if (value === undefined) throw new ScenarioError(where, `expected ${what}, but it is missing`);
  throw new ScenarioError(where, `expected ${what}, got ${shown(value)}`);
}

/** Every field name a scenario's objects may have, so that `o.capacity` type-checks. */
type FieldName =
  | 'name'
  | 'description'
  | 'durationMs'
  | 'seed'
  | 'producers'
  | 'consumers'
  | 'configurations'
  | 'sampleEveryMs'
  | 'arrivals'
  | 'count'
  | 'urgentShare'
  | 'mode'
  | 'kind'
  | 'intervalMs'
  | 'ratePerSec'
  | 'onMs'
  | 'offMs'
  | 'timesMs'
  | 'service'
  | 'slowdown'
  | 'atMs'
  | 'factor'
  | 'ms'
  | 'minMs'
  | 'maxMs'
  | 'meanMs'
  | 'medianMs'
  | 'sigma'
  | 'label'
  | 'capacity'
  | 'overflow'
  | 'priorities'
  | 'maxWaitMs'
  | 'codel'
  | 'order'
  | 'limiter'
  | 'targetMs'
  | 'rate'
  | 'burst'
  | 'at'
  | 'algorithm'
  | 'initialLimit';

/** An object read from a scenario: any of the known fields, each not yet checked. */
type Fields = { readonly [K in FieldName]?: unknown };

function object(value: unknown, path: string, what: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    expected(path, what, value);
  return value as Fields;
}

function known(o: Fields, path: string, kind: string): void {
  const allowed = SCENARIO_FIELDS[kind] as readonly string[];
  for (const key of Object.keys(o)) {
    // A scenario file may name its JSON Schema for editors; it is not part of the scenario.
    if (!allowed.includes(key) && !(path === '' && key === '$schema')) {
      fail(
        path === '' ? key : `${path}.${key}`,
        `unknown field; expected one of ${allowed.join(', ')}`,
      );
    }
  }
}

function list(value: unknown, path: string, what: string): unknown[] {
  if (!Array.isArray(value) || value.length === 0) expected(path, `${what} (at least one)`, value);
  return value;
}

function text(value: unknown, path: string, nonEmpty: boolean): string {
  if (typeof value !== 'string' || (nonEmpty && value.trim() === '')) {
    expected(path, nonEmpty ? 'a non-empty string' : 'a string', value);
  }
  return value;
}

function bool(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') expected(path, 'true or false', value);
  return value;
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function positive(value: unknown, path: string, what: string): number {
  if (!isNumber(value) || value <= 0) expected(path, what, value);
  return value;
}

function fromZero(value: unknown, path: string, what: string): number {
  if (!isNumber(value) || value < 0) expected(path, what, value);
  return value;
}

function share(value: unknown, path: string): number {
  if (!isNumber(value) || value < 0 || value > 1) expected(path, 'a share from 0 to 1', value);
  return value;
}

function integer(value: unknown, path: string, min: number, what?: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < min) {
    expected(path, what ?? `an integer from ${min} up`, value);
  }
  return value as number;
}

function oneOf<const A extends readonly string[]>(
  value: unknown,
  path: string,
  allowed: A,
): A[number] {
  if (typeof value === 'string' && allowed.includes(value)) return value;
  return expected(path, `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`, value);
}

function optional<T>(value: unknown, check: (value: unknown) => T): T | undefined {
  return value === undefined ? undefined : check(value);
}

/** `o` without its undefined fields, typed as the object it now is. */
function clean<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(o)) if (value !== undefined) out[key] = value;
  return out as T;
}
