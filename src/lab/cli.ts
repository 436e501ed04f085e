/**
 * The `sluice` command: `sluice lab [scenario.json] [options]` simulates a workload (the design
 * note's, or a scenario file's, changed by the options) and prints the comparison, writes the
 * HTML report, or prints the report as JSON. `npm start` runs it from source with tsx; the
 * `sluice` bin runs the built copy.
 *
 * Promises:
 * 1. Bad input — an unknown option or policy, a value out of range, an unreadable or invalid
 *    scenario file — prints one line saying what is wrong and exits with status 2; never a
 *    stack trace. Anything else that fails prints one line and exits with 1.
 * 2. `--json` prints only the report on stdout: the same scenario and seed give the same bytes.
 * 3. `main` never calls `process.exit` and writes only through the streams it is given, so it
 *    runs in-process in tests.
 */
import { realpathSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_SCENARIO } from './default-scenario.js';
import { formatReport } from './format-terminal.js';
import { rateOf } from './random.js';
import { renderHtml } from './report-html.js';
import { OVERFLOW_POLICIES, parseScenarioJson, ScenarioError } from './scenario.js';
import { simulate } from './simulate.js';
import type {
  Arrivals,
  ConsumerSpec,
  Duration,
  LabReport,
  LimiterSpec,
  PipeConfig,
  ProducerSpec,
  Scenario,
} from './types.js';
import { VERSION } from './version.js';

/** Where `main` writes, reads time and renders; tests pass their own. */
export interface CliIo {
  readonly stdout: {
    write(text: string): unknown;
    readonly isTTY?: boolean;
    readonly columns?: number;
  };
  readonly stderr: {
    write(text: string): unknown;
    readonly isTTY?: boolean;
    readonly columns?: number;
  };
  /** The directory relative paths are read from and the default report written to. */
  readonly cwd?: string | undefined;
  /** Renders the HTML report. Default: the lab's `renderHtml`. */
  readonly renderHtml?: ((report: LabReport) => string) | undefined;
  /** Wall-clock milliseconds, for the progress bar only. Default: `performance.now`. */
  readonly now?: (() => number) | undefined;
}

/** The default HTML report's file name, in the working directory. */
export const DEFAULT_REPORT_FILE = 'lab-report.html';

/** Bad input: the message is shown as is, and the exit status is 2. */
export class UsageError extends Error {
  override readonly name: string = 'UsageError';
}

const TOP_HELP = `Usage: sluice <command> [options]

Commands
  lab        simulate a producer/consumer workload under several backpressure policies

Run \`sluice lab --help\` for its options; \`sluice --version\` prints the version.
`;

/** The help of `sluice lab`: every option. */
export const LAB_HELP: string = `Usage: sluice lab [scenario.json] [options]

Simulates producers and consumers joined by a sluice Channel, on a virtual clock with the real
sluice primitives, under each configuration side by side. Prints what each does — items delivered
and dropped (and why), throughput, latency, queue depth, time producers spent blocked — and
writes an HTML report with charts. Without a scenario file it runs the design note's workload: a
producer every 100 ms, a consumer taking 300 ms, a channel of 5 under block, drop-newest and
drop-oldest, and a token bucket of 5 refilled every 200 ms in front of the producer.
Options change the scenario (the file's, or the default one).

Times are milliseconds, or a number with ms, s, m or h: 300, 300ms, 1.5s, 2m.

Run
  --duration <time>          simulated time; the producers stop then and the pipe drains (60s)
  --seed <n>                 seed of every random draw (default 1)
  --sample-every <time>      step of the queue depth time series (default: duration / 200)

Producers (applies to every producer)
  --producers <n>            how many producers, all alike (copies of the first)
  --rate <n>                 items per second, per producer (during a burst, for bursts)
  --arrivals <kind>          constant | poisson | bursts[:<on>/<off>] (default 1s/1s) |
                             trace:<file.csv> (one time in ms per line)
  --count <n>                each producer stops after n items
  --urgent <share>           share of items that are urgent, 0 to 1 (first with --priorities)
  --producer-mode <mode>     wait | try: when a block channel is full, wait for room (default)
                             or drop the item (rejected)

Consumers
  --consumers <n>            consumers working in parallel
  --service <time|dist>      service time per item: 300ms | exp:<mean> | uniform:<min>-<max> |
                             lognormal:<median>,<sigma>
  --slowdown <at>:<factor>   from time <at> on, service takes <factor> times as long (30s:3)

The pipe (applies to every configuration)
  --compare <policies>       one configuration per policy, comma-separated, from the first one:
                             block, drop-newest, drop-oldest, reject, drop-lowest
  --capacity <n>             items the channel holds (0: a rendezvous; drop policies need 1 up)
  --priorities               serve urgent items first (drop-lowest turns it on)
  --max-wait <time>          an item that waited this long in the channel expires
  --codel                    CoDel load shedding (target 5 ms, interval 100 ms)
  --codel-target <time>      CoDel's target delay (turns CoDel on)
  --codel-interval <time>    CoDel's interval (turns CoDel on)
  --codel-mode <mode>        rfc | requests (turns CoDel on)
  --order <order>            fifo | adaptive-lifo
  --limiter <spec>           token-bucket:<rate>,<burst>[,consumers|producers[,try|wait]]
                               tokens per second and bucket size; it paces the consumers, or
                               admits the producers' items (try: skip an item without a token)
                             adaptive:<aimd|vegas|gradient2|envoy>[,<initial limit>]
                               an adaptive concurrency limit; the consumers are its backend
                             none: no limiter

Output
  --json                     print the report as JSON (no table; no HTML unless --report)
  --report <file.html>       write the HTML report there (default: ./${DEFAULT_REPORT_FILE})
  --no-report                do not write the HTML report
  -h, --help                 show this help

Exit status: 0 done, 2 bad input (the message says which), 1 anything else.
Guide: docs/guides/lab.md
`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  report: { type: 'string' },
  'no-report': { type: 'boolean' },
  duration: { type: 'string' },
  seed: { type: 'string' },
  'sample-every': { type: 'string' },
  producers: { type: 'string' },
  rate: { type: 'string' },
  arrivals: { type: 'string' },
  count: { type: 'string' },
  urgent: { type: 'string' },
  'producer-mode': { type: 'string' },
  consumers: { type: 'string' },
  service: { type: 'string' },
  slowdown: { type: 'string' },
  compare: { type: 'string' },
  capacity: { type: 'string' },
  priorities: { type: 'boolean' },
  'max-wait': { type: 'string' },
  codel: { type: 'boolean' },
  'codel-target': { type: 'string' },
  'codel-interval': { type: 'string' },
  'codel-mode': { type: 'string' },
  order: { type: 'string' },
  limiter: { type: 'string' },
} as const;

/** The names of `sluice lab`'s options (each is in {@link LAB_HELP}). */
export const LAB_OPTIONS: readonly string[] = Object.keys(OPTIONS);

type Flags = {
  -readonly [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean'
    ? boolean
    : string;
};

/**
 * Runs `sluice <argv>` (`argv` without the node and script paths: `['lab', '--json']`) and
 * resolves with the exit status. Never throws, never exits the process.
 */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '-h' || command === '--help') {
      (command === undefined ? io.stderr : io.stdout).write(TOP_HELP);
      return command === undefined ? 2 : 0;
    }
    if (command === '-v' || command === '--version') {
      io.stdout.write(`${VERSION}\n`);
      return 0;
    }
    if (command !== 'lab') {
      throw new UsageError(
        `unknown command ${JSON.stringify(command)}; the command is \`sluice lab\` (see sluice --help)`,
      );
    }
    return await lab(rest, io);
  } catch (error) {
    const where = command === 'lab' ? 'sluice lab' : 'sluice';
    if (error instanceof UsageError || error instanceof ScenarioError) {
      io.stderr.write(`${where}: ${error.message}\n`);
      return 2;
    }
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(`${where}: ${message.split('\n')[0]}\n`);
    return 1;
  }
}

async function lab(argv: readonly string[], io: CliIo): Promise<number> {
  const { flags, positionals } = parseFlags(argv);
  if (flags.help === true) {
    io.stdout.write(LAB_HELP);
    return 0;
  }
  if (positionals.length > 1) {
    throw new UsageError(
      `expected at most one scenario file, got ${positionals.length}: ${positionals.join(', ')}`,
    );
  }
  if (flags['no-report'] === true && flags.report !== undefined) {
    throw new UsageError('--report and --no-report cannot both be given');
  }
  const cwd = io.cwd ?? process.cwd();
  const file = positionals[0];
  const base = file === undefined ? DEFAULT_SCENARIO : await readScenario(resolve(cwd, file), file);
  const scenario = await applyFlags(base, flags, cwd);

  const progress = progressBar(io);
  let report: LabReport;
  try {
    report = await simulate(scenario, { onProgress: progress.update });
  } finally {
    progress.done();
  }

  const reportFile =
    flags['no-report'] === true || (flags.json === true && flags.report === undefined)
      ? undefined
      : resolve(cwd, flags.report ?? DEFAULT_REPORT_FILE);
  if (flags.json === true) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else
    io.stdout.write(
      formatReport(report, { width: io.stdout.isTTY === true ? io.stdout.columns : undefined }),
    );
  if (reportFile !== undefined) {
    const html = (io.renderHtml ?? renderHtml)(report);
    try {
      await writeFile(reportFile, html);
    } catch (error) {
      io.stderr.write(
        `sluice lab: cannot write the HTML report to ${reportFile}: ${(error as Error).message}\n`,
      );
      return 1;
    }
    (flags.json === true ? io.stderr : io.stdout).write(`\nHTML report: ${reportFile}\n`);
  }
  return 0;
}

function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr };
}

// ---- options ----------------------------------------------------------------------------------

function parseFlags(argv: readonly string[]): { flags: Flags; positionals: string[] } {
  // `--rate -5` reads as a missing value to parseArgs; pass it as `--rate=-5` so the range
  // check can say what is wrong with it.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const next = argv[i + 1];
    const name = arg.startsWith('--') ? arg.slice(2) : undefined;
    if (
      name !== undefined &&
      (OPTIONS as Record<string, { type: string }>)[name]?.type === 'string' &&
      next !== undefined &&
      /^-[\d.]/.test(next)
    ) {
      args.push(`${arg}=${next}`);
      i++;
    } else args.push(arg);
  }
  try {
    const { values, positionals } = parseArgs({
      args,
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    });
    return { flags: values as Flags, positionals };
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    const option = /'(-[^' ]+)/.exec(message)?.[1] ?? '';
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      throw new UsageError(`unknown option ${option} (see sluice lab --help)`);
    }
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      throw new UsageError(
        message.includes('does not take')
          ? `${option} takes no value`
          : `${option} needs a value (see sluice lab --help)`,
      );
    }
    throw new UsageError((message.split('\n')[0] as string).trim());
  }
}

async function readScenario(path: string, shown: string): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read the scenario file ${shown}: ${reason(error)}`);
  }
  try {
    return parseScenarioJson(text, shown);
  } catch (error) {
    if (error instanceof ScenarioError && error.path !== '') {
      throw new ScenarioError('', `${shown}: ${error.message}`);
    }
    throw error;
  }
}

/** What a file-system error says, without the path and syscall Node adds. */
function reason(error: unknown): string {
  const { code, message } = error as { code?: string; message?: string };
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return message ?? String(error);
}

/** The scenario changed by the command's options. */
async function applyFlags(base: Scenario, flags: Flags, cwd: string): Promise<Scenario> {
  const scenario: { -readonly [K in keyof Scenario]: Scenario[K] } = { ...base };
  if (flags.duration !== undefined) scenario.durationMs = time('--duration', flags.duration, true);
  if (flags.seed !== undefined)
    scenario.seed = integer('--seed', flags.seed, Number.MIN_SAFE_INTEGER, 'a safe integer');
  if (flags['sample-every'] !== undefined) {
    scenario.sampleEveryMs = time('--sample-every', flags['sample-every'], true);
  }
  scenario.producers = await producers(base.producers, flags, cwd);
  scenario.consumers = consumers(base.consumers, flags);
  scenario.configurations = configurations(base.configurations, flags);
  // The base's description no longer describes what runs: say what changed it instead.
  const changes = Object.entries(flags)
    .filter(([name]) => !OUTPUT_OPTIONS.includes(name))
    .map(([name, value]) => (value === true ? `--${name}` : `--${name} ${value}`));
  if (changes.length > 0) scenario.description = `Changed by the options ${changes.join(' ')}.`;
  return scenario;
}

/** Options that change what is printed or written, not what is simulated. */
const OUTPUT_OPTIONS: readonly string[] = ['help', 'json', 'report', 'no-report'];

async function producers(
  base: readonly ProducerSpec[],
  flags: Flags,
  cwd: string,
): Promise<readonly ProducerSpec[]> {
  const n =
    flags.producers === undefined ? base.length : integer('--producers', flags.producers, 1);
  let list =
    base.length === n
      ? base
      : Array.from({ length: n }, (_, i) => base[i] ?? (base[0] as ProducerSpec));
  const rate =
    flags.rate === undefined
      ? undefined
      : positive('--rate', flags.rate, 'a number of items per second above 0');
  const kind = flags.arrivals;
  const trace =
    kind?.startsWith('trace:') === true
      ? await readTrace(resolve(cwd, kind.slice(6)), kind.slice(6))
      : undefined;
  if (trace !== undefined && rate !== undefined) {
    throw new UsageError(
      '--rate cannot be combined with --arrivals trace:… (the trace sets the times)',
    );
  }
  if (kind !== undefined || rate !== undefined) {
    list = list.map((p) => ({ ...p, arrivals: trace ?? arrivals(kind, rate, p.arrivals) }));
  }
  const count = flags.count === undefined ? undefined : integer('--count', flags.count, 0);
  const urgent = flags.urgent === undefined ? undefined : shareOf('--urgent', flags.urgent);
  const mode =
    flags['producer-mode'] === undefined
      ? undefined
      : oneOf('--producer-mode', flags['producer-mode'], ['wait', 'try'] as const);
  return list.map((p) => {
    const out: { -readonly [K in keyof ProducerSpec]: ProducerSpec[K] } = { ...p };
    if (count !== undefined) out.count = count;
    if (urgent !== undefined) out.urgentShare = urgent;
    if (mode !== undefined) out.mode = mode;
    return out;
  });
}

/** The arrivals `--arrivals kind` and `--rate` ask for, keeping what they leave unsaid. */
function arrivals(kind: string | undefined, rate: number | undefined, was: Arrivals): Arrivals {
  const [name = '', spec] = (kind ?? was.kind).split(/:(.*)/s);
  const wasRate = was.kind === 'trace' ? 0 : rateOf(was);
  const perSec = rate ?? (was.kind === 'bursts' ? was.ratePerSec : wasRate > 0 ? wasRate : 10);
  switch (name) {
    case 'constant':
      if (spec !== undefined) break;
      return { kind: 'constant', intervalMs: 1000 / perSec };
    case 'poisson':
      if (spec !== undefined) break;
      return { kind: 'poisson', ratePerSec: perSec };
    case 'bursts': {
      let onMs = was.kind === 'bursts' ? was.onMs : 1000;
      let offMs = was.kind === 'bursts' ? was.offMs : 1000;
      if (spec !== undefined) {
        const parts = spec.split('/');
        if (parts.length !== 2) {
          throw new UsageError(
            `--arrivals: expected bursts:<on>/<off> such as bursts:2s/8s, got ${JSON.stringify(kind)}`,
          );
        }
        onMs = time('--arrivals bursts <on>', parts[0] as string, true);
        offMs = time('--arrivals bursts <off>', parts[1] as string, false);
      }
      return { kind: 'bursts', ratePerSec: perSec, onMs, offMs };
    }
    case 'trace':
      if (was.kind === 'trace' && spec === undefined) return was;
      throw new UsageError(
        '--arrivals: expected trace:<file.csv>, naming the file of arrival times',
      );
  }
  throw new UsageError(
    `--arrivals: expected constant, poisson, bursts[:<on>/<off>] or trace:<file.csv>, got ${JSON.stringify(kind)}`,
  );
}

/** Arrival times from a CSV file: the first field of each line, in ms, made relative to the first. */
async function readTrace(path: string, shown: string): Promise<Arrivals> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read the trace file ${shown}: ${reason(error)}`);
  }
  const times: number[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    const field = (line.split(/[,;\t]/)[0] as string).trim().replace(/^"(.*)"$/, '$1');
    if (field === '' || field.startsWith('#')) return;
    const t = Number(field);
    if (!Number.isFinite(t)) {
      if (times.length === 0 && i === lines.findIndex((l) => l.trim() !== '')) return; // a header
      throw new UsageError(
        `${shown} line ${i + 1}: expected a time in ms, got ${JSON.stringify(field)}`,
      );
    }
    times.push(t);
  });
  if (times.length === 0) throw new UsageError(`${shown}: no arrival times in it`);
  times.sort((a, b) => a - b);
  const first = times[0] as number;
  return { kind: 'trace', timesMs: times.map((t) => t - first) };
}

function consumers(base: ConsumerSpec, flags: Flags): ConsumerSpec {
  const out: { -readonly [K in keyof ConsumerSpec]: ConsumerSpec[K] } = { ...base };
  if (flags.consumers !== undefined) out.count = integer('--consumers', flags.consumers, 1);
  if (flags.service !== undefined) out.service = service(flags.service);
  if (flags.slowdown !== undefined) {
    const at = flags.slowdown.lastIndexOf(':');
    if (at < 0)
      throw new UsageError(
        `--slowdown: expected <at>:<factor> such as 30s:3, got ${JSON.stringify(flags.slowdown)}`,
      );
    out.slowdown = {
      atMs: time('--slowdown <at>', flags.slowdown.slice(0, at), false),
      factor: positive('--slowdown <factor>', flags.slowdown.slice(at + 1), 'a number above 0'),
    };
  }
  return out;
}

function service(text: string): Duration {
  const [name, spec] = text.includes(':')
    ? (text.split(/:(.*)/s) as [string, string])
    : ['constant', text];
  const flag = '--service';
  switch (name) {
    case 'constant':
    case 'const':
      return { kind: 'constant', ms: time(flag, spec, false) };
    case 'exp':
    case 'exponential':
      return { kind: 'exponential', meanMs: time(`${flag} exp:<mean>`, spec, true) };
    case 'uniform': {
      const parts = spec.split('-');
      if (parts.length !== 2)
        throw new UsageError(
          `${flag}: expected uniform:<min>-<max> such as uniform:10-30, got ${JSON.stringify(text)}`,
        );
      const minMs = time(`${flag} uniform <min>`, parts[0] as string, false);
      const maxMs = time(`${flag} uniform <max>`, parts[1] as string, false);
      if (maxMs < minMs)
        throw new UsageError(
          `${flag}: uniform:<min>-<max> needs min ≤ max, got ${JSON.stringify(text)}`,
        );
      return { kind: 'uniform', minMs, maxMs };
    }
    case 'lognormal': {
      const parts = spec.split(',');
      if (parts.length !== 2)
        throw new UsageError(
          `${flag}: expected lognormal:<median>,<sigma> such as lognormal:20,0.5, got ${JSON.stringify(text)}`,
        );
      return {
        kind: 'lognormal',
        medianMs: time(`${flag} lognormal <median>`, parts[0] as string, true),
        sigma: fromZero(`${flag} lognormal <sigma>`, parts[1] as string),
      };
    }
  }
  throw new UsageError(
    `${flag}: expected a time (300ms), exp:<mean>, uniform:<min>-<max> or lognormal:<median>,<sigma>, got ${JSON.stringify(text)}`,
  );
}

function configurations(base: readonly PipeConfig[], flags: Flags): readonly PipeConfig[] {
  let list = base;
  const capacity =
    flags.capacity === undefined ? undefined : integer('--capacity', flags.capacity, 0);
  if (flags.compare !== undefined) {
    const policies = flags.compare
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '');
    if (policies.length === 0)
      throw new UsageError('--compare: expected one or more policies, such as block,drop-oldest');
    const seen = new Set<string>();
    for (const p of policies) {
      if (!(OVERFLOW_POLICIES as readonly string[]).includes(p)) {
        throw new UsageError(
          `--compare: unknown policy ${JSON.stringify(p)}; expected ${OVERFLOW_POLICIES.join(', ')}`,
        );
      }
      if (seen.has(p)) throw new UsageError(`--compare: ${JSON.stringify(p)} is listed twice`);
      seen.add(p);
    }
    const first = base[0] as PipeConfig;
    list = policies.map((p) => {
      const config: { -readonly [K in keyof PipeConfig]: PipeConfig[K] } = {
        ...first,
        label: p,
        overflow: p as PipeConfig['overflow'],
      };
      if (p === 'drop-lowest') config.priorities = true;
      return config;
    });
  }
  const limiterSpec = flags.limiter === undefined ? undefined : limiter(flags.limiter);
  const codel = codelOf(flags);
  const order =
    flags.order === undefined
      ? undefined
      : oneOf('--order', flags.order, ['fifo', 'adaptive-lifo'] as const);
  const maxWaitMs =
    flags['max-wait'] === undefined ? undefined : time('--max-wait', flags['max-wait'], true);
  return list.map((c) => {
    const out: { -readonly [K in keyof PipeConfig]: PipeConfig[K] } = { ...c };
    if (capacity !== undefined) out.capacity = capacity;
    if (out.capacity === 0 && out.overflow.startsWith('drop-')) {
      const which =
        out.label === out.overflow ? '' : ` (configuration ${JSON.stringify(out.label)})`;
      throw new UsageError(
        `--capacity: ${out.overflow}${which} needs a capacity from 1 up, got "${capacity ?? 0}"`,
      );
    }
    if (flags.priorities === true) out.priorities = true;
    if (maxWaitMs !== undefined) out.maxWaitMs = maxWaitMs;
    if (codel !== undefined) out.codel = codel;
    if (order !== undefined) out.order = order;
    if (limiterSpec === null) delete out.limiter;
    else if (limiterSpec !== undefined) out.limiter = limiterSpec;
    return out;
  });
}

function codelOf(flags: Flags): PipeConfig['codel'] {
  const target = flags['codel-target'];
  const interval = flags['codel-interval'];
  const mode = flags['codel-mode'];
  if (target === undefined && interval === undefined && mode === undefined) {
    return flags.codel === true ? true : undefined;
  }
  const out: { targetMs?: number; intervalMs?: number; mode?: 'rfc' | 'requests' } = {};
  if (target !== undefined) out.targetMs = time('--codel-target', target, true);
  if (interval !== undefined) out.intervalMs = time('--codel-interval', interval, true);
  if (mode !== undefined) out.mode = oneOf('--codel-mode', mode, ['rfc', 'requests'] as const);
  return out;
}

/** A `--limiter` spec; `null` for `none`. */
function limiter(text: string): LimiterSpec | null {
  if (text === 'none') return null;
  const [name = '', spec = ''] = text.split(/:(.*)/s);
  const parts = spec.split(',').map((p) => p.trim());
  if (name === 'token-bucket') {
    if (parts.length < 2 || parts.length > 4) {
      throw new UsageError(
        `--limiter: expected token-bucket:<rate>,<burst>[,consumers|producers[,try|wait]], got ${JSON.stringify(text)}`,
      );
    }
    const [rate = '', burst = '', where, mode] = parts;
    const spec = {
      kind: 'token-bucket' as const,
      rate: positive(
        '--limiter token-bucket <rate>',
        rate,
        'a number of tokens per second above 0',
      ),
      burst: integer('--limiter token-bucket <burst>', burst, 1),
    };
    if (where === undefined) return spec;
    const at = oneOf('--limiter token-bucket <where>', where, ['consumers', 'producers'] as const);
    if (mode === undefined) return { ...spec, at };
    if (at !== 'producers') {
      throw new UsageError('--limiter: try|wait applies to a token bucket at the producers only');
    }
    return {
      ...spec,
      at,
      mode: oneOf('--limiter token-bucket <mode>', mode, ['try', 'wait'] as const),
    };
  }
  if (name === 'adaptive') {
    if (parts.length > 2 || parts[0] === '') {
      throw new UsageError(
        `--limiter: expected adaptive:<aimd|vegas|gradient2|envoy>[,<initial limit>], got ${JSON.stringify(text)}`,
      );
    }
    const algorithm = oneOf(
      '--limiter adaptive <algorithm>',
      parts[0] as string,
      ['aimd', 'vegas', 'gradient2', 'envoy'] as const,
    );
    return parts[1] === undefined
      ? { kind: 'adaptive', algorithm }
      : {
          kind: 'adaptive',
          algorithm,
          initialLimit: integer('--limiter adaptive <initial limit>', parts[1], 1),
        };
  }
  throw new UsageError(
    `--limiter: expected token-bucket:<rate>,<burst>[,…], adaptive:<algorithm>[,<initial limit>] or none, got ${JSON.stringify(text)}`,
  );
}

// ---- values -----------------------------------------------------------------------------------

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A time such as `300`, `300ms`, `1.5s`, `2m`, in ms; above 0 when `positiveOnly`. */
function time(flag: string, text: string, positiveOnly: boolean): number {
  const match = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*$/.exec(text);
  const value =
    match === null ? Number.NaN : Number(match[1]) * (UNITS[match[2] ?? 'ms'] as number);
  if (!Number.isFinite(value) || (positiveOnly && value <= 0)) {
    throw new UsageError(
      `${flag}: expected a time ${positiveOnly ? 'above 0' : 'from 0 up'} such as 300ms, 2s or 1m, got ${JSON.stringify(text)}`,
    );
  }
  return value;
}

function number(text: string): number {
  return /^\s*[-+]?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?\s*$/i.test(text) ? Number(text) : Number.NaN;
}

function positive(flag: string, text: string, what: string): number {
  const value = number(text);
  if (!(value > 0 && Number.isFinite(value)))
    throw new UsageError(`${flag}: expected ${what}, got ${JSON.stringify(text)}`);
  return value;
}

function fromZero(flag: string, text: string): number {
  const value = number(text);
  if (!(value >= 0 && Number.isFinite(value)))
    throw new UsageError(`${flag}: expected a number from 0 up, got ${JSON.stringify(text)}`);
  return value;
}

function shareOf(flag: string, text: string): number {
  const value = number(text);
  if (!(value >= 0 && value <= 1))
    throw new UsageError(`${flag}: expected a share from 0 to 1, got ${JSON.stringify(text)}`);
  return value;
}

function integer(flag: string, text: string, min: number, what?: string): number {
  const value = number(text);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new UsageError(
      `${flag}: expected ${what ?? `an integer from ${min} up`}, got ${JSON.stringify(text)}`,
    );
  }
  return value;
}

function oneOf<const A extends readonly string[]>(
  flag: string,
  text: string,
  allowed: A,
): A[number] {
  if (allowed.includes(text)) return text;
  throw new UsageError(`${flag}: expected ${allowed.join(' or ')}, got ${JSON.stringify(text)}`);
}

// ---- progress ---------------------------------------------------------------------------------

/** A bar on stderr while a long simulation runs: only on a terminal, and only after 300 ms. */
function progressBar(io: CliIo): {
  update: ((done: number, label: string) => void) | undefined;
  done: () => void;
} {
  const stderr = io.stderr;
  if (stderr.isTTY !== true) return { update: undefined, done: () => {} };
  const now = io.now ?? (() => performance.now());
  const started = now();
  let drawnAt = -Infinity;
  let drawn = false;
  return {
    update: (done, label) => {
      const t = now();
      if (t - started < 300 || t - drawnAt < 100) return;
      drawnAt = t;
      drawn = true;
      const width = 30;
      const filled = Math.round(done * width);
      stderr.write(
        `\r  simulating ${label.slice(0, 24).padEnd(24)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(done * 100)).padStart(3)} %`,
      );
    },
    done: () => {
      if (drawn) stderr.write('\r\x1b[K');
    },
  };
}

// ---- run as a command -------------------------------------------------------------------------

/**
 * Runs `sluice` as a command: `main` on the process's arguments and streams, with the exit
 * status set on the process. A reader that goes away (`sluice lab --json | head`) ends the
 * command quietly instead of with an EPIPE error.
 */
export async function run(): Promise<void> {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
  process.exitCode = await main(process.argv.slice(2));
}

/** True when this file is the script node was started with (`tsx src/lab/cli.ts lab`). */
function isMain(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isMain()) await run();
