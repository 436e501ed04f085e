import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO } from '../../src/lab/default-scenario.js';
import {
  parseScenario,
  parseScenarioJson,
  SCENARIO_FIELDS,
  ScenarioError,
} from '../../src/lab/scenario.js';
import type { Scenario } from '../../src/lab/types.js';

const SCHEMA_FILE = join(import.meta.dirname, '../../docs/guides/lab-scenario.schema.json');
const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as JsonSchema;

/** A valid scenario with every optional field set, to mutate in the tables below. */
const FULL: Scenario = {
  name: 'full',
  description: 'every field',
  durationMs: 10_000,
  seed: 7,
  producers: [
    { arrivals: { kind: 'poisson', ratePerSec: 50 }, count: 100, urgentShare: 0.2, mode: 'try' },
    { arrivals: { kind: 'bursts', ratePerSec: 100, onMs: 500, offMs: 1500 } },
    { arrivals: { kind: 'trace', timesMs: [0, 10, 10, 250] } },
    { arrivals: { kind: 'constant', intervalMs: 100 } },
  ],
  consumers: {
    count: 2,
    service: { kind: 'lognormal', medianMs: 20, sigma: 0.5 },
    slowdown: { atMs: 5000, factor: 2 },
  },
  configurations: [
    {
      label: 'a',
      capacity: 10,
      overflow: 'drop-lowest',
      priorities: true,
      maxWaitMs: 500,
      codel: { targetMs: 5, intervalMs: 100, mode: 'requests' },
      limiter: { kind: 'token-bucket', rate: 40, burst: 5, at: 'producers', mode: 'wait' },
    },
    {
      label: 'b',
      capacity: 0,
      overflow: 'block',
      codel: true,
      order: 'adaptive-lifo',
      limiter: { kind: 'adaptive', algorithm: 'gradient2', initialLimit: 4 },
    },
    { label: 'c', capacity: 3, overflow: 'reject', order: 'fifo' },
  ],
  sampleEveryMs: 50,
};

/** `FULL` with the value at `path` (dot and [i] segments) replaced, or deleted for `undefined`. */
function withField(path: string, value: unknown): unknown {
  const copy = structuredClone(FULL) as unknown as Record<string, unknown>;
  const keys = path.replace(/\[(\d+)\]/g, '.$1').split('.');
  let target = copy as Record<string, unknown>;
  for (const key of keys.slice(0, -1)) target = target[key] as Record<string, unknown>;
  const last = keys.at(-1) as string;
  if (value === undefined) delete target[last];
  else target[last] = value;
  return copy;
}

function errorOf(value: unknown): ScenarioError {
  try {
    parseScenario(value);
  } catch (error) {
    expect(error).toBeInstanceOf(ScenarioError);
    return error as ScenarioError;
  }
  throw new Error('expected a ScenarioError');
}

describe('parseScenario', () => {
  it('accepts the default scenario and a scenario with every field, unchanged', () => {
    expect(parseScenario(DEFAULT_SCENARIO)).toEqual(DEFAULT_SCENARIO);
    expect(parseScenario(FULL)).toEqual(FULL);
  });

  it('keeps only the scenario fields and fills nothing in', () => {
    const minimal = {
      $schema: './lab-scenario.schema.json',
      name: 'm',
      durationMs: 1000,
      producers: [{ arrivals: { kind: 'constant', intervalMs: 10 } }],
      consumers: { count: 1, service: { kind: 'constant', ms: 5 } },
      configurations: [{ label: 'x', capacity: 1, overflow: 'block' }],
    };
    const { $schema: _, ...rest } = minimal;
    expect(parseScenario(minimal)).toEqual(rest);
  });

  // [path, value, the message after "path: "]
  it.each([
    ['configurations[1].capacity', -3, 'expected an integer from 0 up, got -3'],
    ['configurations[2].capacity', 2.5, 'expected an integer from 0 up, got 2.5'],
    [
      'configurations[0].capacity',
      0,
      "expected an integer from 1 up (overflow 'drop-lowest' needs room for one item), got 0",
    ],
    [
      'configurations[0].overflow',
      'drop',
      'expected one of "block", "drop-newest", "drop-oldest", "reject", "drop-lowest", got "drop"',
    ],
    ['configurations[0].priorities', 'yes', 'expected true or false, got "yes"'],
    [
      'configurations[0].priorities',
      false,
      "expected true with overflow 'drop-lowest' (it evicts the lowest priority), got false",
    ],
    ['configurations[1].order', 'lifo', 'expected one of "fifo", "adaptive-lifo", got "lifo"'],
    ['configurations[0].maxWaitMs', 0, 'expected a number of ms above 0, got 0'],
    [
      'configurations[0].codel',
      'on',
      'expected true, false or an object { targetMs?, intervalMs?, mode? }, got "on"',
    ],
    ['configurations[0].codel.mode', 'fast', 'expected one of "rfc", "requests", got "fast"'],
    ['configurations[0].codel.targetMs', -1, 'expected a number of ms above 0, got -1'],
    ['configurations[0].label', '', 'expected a non-empty string, got ""'],
    ['configurations[0].label', undefined, 'expected a non-empty string, but it is missing'],
    [
      'configurations[0].limiter.kind',
      'leaky',
      'expected one of "token-bucket", "adaptive", got "leaky"',
    ],
    ['configurations[0].limiter.rate', 0, 'expected a number of tokens per second above 0, got 0'],
    ['configurations[0].limiter.burst', 0, 'expected an integer from 1 up, got 0'],
    [
      'configurations[0].limiter.at',
      'middle',
      'expected one of "producers", "consumers", got "middle"',
    ],
    [
      'configurations[1].limiter.algorithm',
      'bbr',
      'expected one of "aimd", "vegas", "gradient2", "envoy", got "bbr"',
    ],
    ['configurations[1].limiter.initialLimit', 0, 'expected an integer from 1 up, got 0'],
    ['configurations', [], 'expected an array of configurations (at least one), got an array'],
    ['configurations', {}, 'expected an array of configurations (at least one), got an object'],
    [
      'configurations[2]',
      null,
      'expected a configuration object { label, capacity, overflow, … }, got null',
    ],
    ['producers', undefined, 'expected an array of producers (at least one), but it is missing'],
    [
      'producers[0].arrivals.kind',
      'poison',
      'expected one of "constant", "poisson", "bursts", "trace", got "poison"',
    ],
    ['producers[0].arrivals.ratePerSec', -2, 'expected a rate per second above 0, got -2'],
    ['producers[3].arrivals.intervalMs', '100', 'expected a number of ms above 0, got "100"'],
    ['producers[1].arrivals.offMs', -1, 'expected a number of ms from 0 up, got -1'],
    [
      'producers[2].arrivals.timesMs[2]',
      5,
      'expected a time from 10 up (times must not decrease), got 5',
    ],
    ['producers[2].arrivals.timesMs[0]', -1, 'expected a time in ms from 0 up, got -1'],
    ['producers[0].count', -1, 'expected an integer from 0 up, got -1'],
    ['producers[0].urgentShare', 1.5, 'expected a share from 0 to 1, got 1.5'],
    ['producers[0].mode', 'block', 'expected one of "wait", "try", got "block"'],
    ['consumers.count', 0, 'expected an integer from 1 up, got 0'],
    ['consumers.service', 300, 'expected a duration object { kind, … }, got 300'],
    [
      'consumers.service.kind',
      'normal',
      'expected one of "constant", "uniform", "exponential", "lognormal", got "normal"',
    ],
    ['consumers.service.sigma', -0.5, 'expected a number from 0 up, got -0.5'],
    ['consumers.slowdown.factor', 0, 'expected a number above 0, got 0'],
    ['durationMs', 0, 'expected a number of ms above 0, got 0'],
    ['durationMs', Number.POSITIVE_INFINITY, 'expected a number of ms above 0, got Infinity'],
    ['seed', 1.5, 'expected a safe integer, got 1.5'],
    ['sampleEveryMs', -5, 'expected a number of ms above 0, got -5'],
    ['name', 42, 'expected a non-empty string, got 42'],
    ['description', false, 'expected a string, got false'],
  ])('%s = %j: "%s"', (path, value, message) => {
    const error = errorOf(withField(path, value));
    expect(error.path).toBe(path);
    expect(error.message).toBe(`${path}: ${message}`);
  });

  it('names unknown fields, with the ones it knows', () => {
    const error = errorOf(withField('configurations[1].capcity', 5));
    expect(error.message).toBe(
      'configurations[1].capcity: unknown field; expected one of label, capacity, overflow, priorities, maxWaitMs, codel, order, limiter',
    );
    expect(errorOf(withField('producers[0].arrivals.rate', 5)).path).toBe(
      'producers[0].arrivals.rate',
    );
    expect(errorOf(withField('extra', 1)).path).toBe('extra');
  });

  it('checks combinations the channel and the limiters would refuse', () => {
    expect(
      errorOf(withField('consumers.service', { kind: 'uniform', minMs: 30, maxMs: 10 })).message,
    ).toBe('consumers.service.maxMs: expected a number of ms from minMs (30) up, got 10');
    const lifoWithPriorities = withField('configurations[1].priorities', true);
    expect(errorOf(lifoWithPriorities).message).toBe(
      'configurations[1].order: expected \'fifo\' with priorities (adaptive LIFO serves by arrival only), got "adaptive-lifo"',
    );
    expect(
      errorOf(
        withField('configurations[2].limiter', {
          kind: 'token-bucket',
          rate: 1,
          burst: 1,
          mode: 'try',
        }),
      ).path,
    ).toBe('configurations[2].limiter.mode');
    expect(errorOf(withField('configurations[2].label', 'a')).message).toBe(
      'configurations[2].label: expected a label no other configuration has, got "a"',
    );
  });

  it('says what the whole value is when it is not an object', () => {
    expect(errorOf([]).message).toBe('scenario: expected a scenario object, got an array');
    expect(errorOf(undefined).message).toBe(
      'scenario: expected a scenario object, but it is missing',
    );
  });
});

describe('parseScenarioJson', () => {
  it('parses JSON text', () => {
    expect(parseScenarioJson(JSON.stringify(FULL))).toEqual(FULL);
  });

  it('names the file for a syntax error', () => {
    expect(() => parseScenarioJson('{ "name": ', 'mine.json')).toThrow(
      /^mine\.json: not valid JSON: /,
    );
  });

  it('names the field for a bad value', () => {
    expect(() => parseScenarioJson('{"name": 1}')).toThrow(
      'name: expected a non-empty string, got 1',
    );
  });
});

// ---- the JSON Schema agrees with the parser -------------------------------------------------

interface JsonSchema {
  readonly $ref?: string;
  readonly type?: string;
  readonly const?: unknown;
  readonly enum?: readonly unknown[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly minLength?: number;
  readonly minItems?: number;
  readonly items?: JsonSchema;
  readonly required?: readonly string[];
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly additionalProperties?: boolean;
  readonly oneOf?: readonly JsonSchema[];
  readonly anyOf?: readonly JsonSchema[];
  readonly $defs?: Readonly<Record<string, JsonSchema>>;
}

/** The keywords the schema file uses, checked as JSON Schema 2020-12 does. */
function valid(value: unknown, s: JsonSchema): boolean {
  if (s.$ref !== undefined) {
    return valid(value, schema.$defs?.[s.$ref.replace('#/$defs/', '')] as JsonSchema);
  }
  if (s.oneOf !== undefined && s.oneOf.filter((o) => valid(value, o)).length !== 1) return false;
  if (s.anyOf !== undefined && !s.anyOf.some((o) => valid(value, o))) return false;
  if (s.const !== undefined && value !== s.const) return false;
  if (s.enum !== undefined && !s.enum.includes(value)) return false;
  switch (s.type) {
    case 'string':
      return typeof value === 'string' && value.length >= (s.minLength ?? 0);
    case 'boolean':
      return typeof value === 'boolean';
    case 'integer':
    case 'number':
      return (
        typeof value === 'number' &&
        Number.isFinite(value) &&
        (s.type === 'number' || Number.isInteger(value)) &&
        value >= (s.minimum ?? -Infinity) &&
        value <= (s.maximum ?? Infinity) &&
        value > (s.exclusiveMinimum ?? -Infinity)
      );
    case 'array':
      return (
        Array.isArray(value) &&
        value.length >= (s.minItems ?? 0) &&
        value.every((v) => s.items === undefined || valid(v, s.items))
      );
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
      const o = value as Record<string, unknown>;
      if (!(s.required ?? []).every((k) => k in o)) return false;
      return Object.entries(o).every(([k, v]) => {
        const p = s.properties?.[k];
        return p === undefined ? s.additionalProperties !== false : valid(v, p);
      });
    }
    default:
      return true;
  }
}

describe('the JSON Schema (docs/guides/lab-scenario.schema.json)', () => {
  it('lists the same fields as the parser, object by object', () => {
    for (const [kind, fields] of Object.entries(SCENARIO_FIELDS)) {
      const s = kind === 'scenario' ? schema : schema.$defs?.[kind];
      expect(s, kind).toBeDefined();
      const names = Object.keys(s?.properties ?? {}).filter((k) => k !== '$schema');
      expect(names.sort(), kind).toEqual([...fields].sort());
    }
  });

  it('accepts what the parser accepts', () => {
    expect(valid(DEFAULT_SCENARIO, schema)).toBe(true);
    expect(valid(FULL, schema)).toBe(true);
  });

  it('rejects what the parser rejects on its own (types, ranges, unknown fields)', () => {
    for (const [path, value] of [
      ['configurations[1].capacity', -3],
      ['configurations[0].overflow', 'drop'],
      ['configurations[0].codel.mode', 'fast'],
      ['configurations[1].limiter.algorithm', 'bbr'],
      ['producers[0].arrivals.kind', 'poison'],
      ['producers[0].urgentShare', 1.5],
      ['producers[2].arrivals.timesMs[0]', -1],
      ['consumers.count', 0],
      ['consumers.service.kind', 'normal'],
      ['durationMs', 0],
      ['seed', 1.5],
      ['configurations[1].capcity', 5],
      ['configurations', []],
      ['name', ''],
    ] as const) {
      const value2 = withField(path, value);
      expect(() => parseScenario(value2)).toThrow(ScenarioError);
      expect(valid(value2, schema), path).toBe(false);
    }
  });
});
