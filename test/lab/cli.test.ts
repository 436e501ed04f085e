import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_REPORT_FILE, LAB_HELP, LAB_OPTIONS, main } from '../../src/lab/cli.js';
import { DEFAULT_SCENARIO } from '../../src/lab/default-scenario.js';
import type { LabReport, Scenario } from '../../src/lab/types.js';
import { VERSION } from '../../src/lab/version.js';

const ROOT = join(import.meta.dirname, '../..');
const dirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-lab-cli-'));
  dirs.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly cwd: string;
}

/** Runs `sluice <argv>` in-process, in a fresh directory, with a stand-in HTML renderer. */
async function sluice(
  argv: readonly string[],
  options: { cwd?: string; tty?: boolean; realHtml?: boolean } = {},
): Promise<Run> {
  const cwd = options.cwd ?? tempDir();
  let stdout = '';
  let stderr = '';
  let clock = 0;
  const code = await main(argv, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text), isTTY: options.tty === true },
    cwd,
    now: () => (clock += 150),
    ...(options.realHtml === true
      ? {}
      : { renderHtml: (r: LabReport) => `<html>${r.scenario.name}</html>` }),
  });
  return { code, stdout, stderr, cwd };
}

/** `sluice lab --json <args>` for a short run; the report it printed. */
async function report(...args: string[]): Promise<LabReport> {
  const run = await sluice(['lab', '--json', '--duration', '2s', ...args]);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as LabReport;
}

function expectUsageError(run: Run, message: string | RegExp): void {
  expect(run.code).toBe(2);
  expect(run.stdout).toBe('');
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1); // one line, never a stack trace
  expect(lines[0]).toMatch(/^sluice( lab)?: /);
  if (typeof message === 'string') expect(lines[0]).toBe(message);
  else expect(lines[0]).toMatch(message);
}

describe('sluice', () => {
  it('shows its commands with --help, and on stderr with exit 2 without a command', async () => {
    const help = await sluice(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('sluice <command>');
    const none = await sluice([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('sluice <command>');
  });

  it('prints its version', async () => {
    expect((await sluice(['--version'])).stdout).toBe(`${VERSION}\n`);
  });

  it('refuses an unknown command', async () => {
    expectUsageError(
      await sluice(['lob']),
      'sluice: unknown command "lob"; the command is `sluice lab` (see sluice --help)',
    );
  });
});

describe('sluice lab --help', () => {
  it('documents every option, and only options that exist', async () => {
    const run = await sluice(['lab', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(LAB_HELP);
    const documented = new Set([...LAB_HELP.matchAll(/--([a-z][a-z-]*)/g)].map((m) => m[1]));
    for (const option of LAB_OPTIONS) expect(documented, option).toContain(option);
    for (const option of documented) expect(LAB_OPTIONS, option).toContain(option);
    expect(LAB_HELP.split('\n').every((line) => line.length <= 100)).toBe(true);
    expect((await sluice(['lab', '-h'])).stdout).toBe(LAB_HELP);
  });
});

describe('sluice lab: the default run', () => {
  it("prints the design note's comparison and writes the HTML report in the working directory", async () => {
    const run = await sluice(['lab'], { realHtml: true });
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('sluice lab: design note');
    expect(run.stdout).toMatch(/block\s+drop-newest\s+drop-oldest\s+token bucket/);
    const file = join(run.cwd, DEFAULT_REPORT_FILE);
    expect(run.stdout.trimEnd().endsWith(`HTML report: ${file}`)).toBe(true);
    const html = readFileSync(file, 'utf8');
    expect(html).toMatch(/^<!doctype html>/i);
    expect(html).toContain('design note');
  });

  it('--report writes the report where asked; --no-report writes none', async () => {
    const dir = tempDir();
    const run = await sluice(['lab', '--duration', '2s', '--report', 'out/r.html'], {
      cwd: dir,
    }).catch((e) => e);
    // The directory does not exist: a failure to write is reported in one line, status 1.
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^sluice lab: cannot write the HTML report to .*r\.html: /);
    mkdirSync(join(dir, 'out'));
    const ok = await sluice(['lab', '--duration', '2s', '--report', 'out/r.html'], { cwd: dir });
    expect(ok.code).toBe(0);
    expect(readFileSync(join(dir, 'out/r.html'), 'utf8')).toBe('<html>design note</html>');
    const none = await sluice(['lab', '--duration', '2s', '--no-report']);
    expect(none.code).toBe(0);
    expect(existsSync(join(none.cwd, DEFAULT_REPORT_FILE))).toBe(false);
    expect(none.stdout).not.toContain('HTML report');
  });

  it('--json prints only the report, the same bytes every time, and writes no HTML', async () => {
    const a = await sluice(['lab', '--json']);
    const b = await sluice(['lab', '--json']);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    const parsed = JSON.parse(a.stdout) as LabReport;
    expect(parsed.scenario).toEqual(DEFAULT_SCENARIO);
    expect(existsSync(join(a.cwd, DEFAULT_REPORT_FILE))).toBe(false);
    // With --report too, the path goes to stderr so stdout stays JSON.
    const both = await sluice(['lab', '--json', '--duration', '1s', '--report', 'r.html']);
    expect(() => JSON.parse(both.stdout)).not.toThrow();
    expect(both.stderr).toContain('HTML report: ');
  });

  it('draws a progress bar on a terminal, and clears it', async () => {
    const run = await sluice(['lab', '--no-report', '--duration', '5s'], { tty: true });
    expect(run.stderr).toContain('simulating');
    expect(run.stderr).toMatch(/\[#+\.*\]/);
    expect(run.stderr.endsWith('\r\x1b[K')).toBe(true);
    const quiet = await sluice(['lab', '--no-report', '--duration', '5s'], { tty: false });
    expect(quiet.stderr).toBe('');
  });
});

describe('sluice lab: every option', () => {
  it('--duration, --seed, --sample-every', async () => {
    const r = await report('--seed', '5', '--sample-every', '100ms', '--duration', '1.5s');
    expect(r.scenario.durationMs).toBe(1500);
    expect(r.seed).toBe(5);
    expect(r.scenario.sampleEveryMs).toBe(100);
    expect((await report('--duration', '2m')).scenario.durationMs).toBe(120_000);
    expect((await report('--duration', '250')).scenario.durationMs).toBe(250);
  });

  it('--rate and --arrivals', async () => {
    expect((await report('--rate', '20')).scenario.producers[0]?.arrivals).toEqual({
      kind: 'constant',
      intervalMs: 50,
    });
    expect((await report('--arrivals', 'poisson')).scenario.producers[0]?.arrivals).toEqual({
      kind: 'poisson',
      ratePerSec: 10, // the default scenario's rate, kept
    });
    expect(
      (await report('--arrivals', 'poisson', '--rate', '50')).scenario.producers[0]?.arrivals,
    ).toEqual({
      kind: 'poisson',
      ratePerSec: 50,
    });
    expect((await report('--arrivals', 'bursts')).scenario.producers[0]?.arrivals).toEqual({
      kind: 'bursts',
      ratePerSec: 10,
      onMs: 1000,
      offMs: 1000,
    });
    expect(
      (await report('--arrivals', 'bursts:200ms/1.8s', '--rate', '100')).scenario.producers[0]
        ?.arrivals,
    ).toEqual({ kind: 'bursts', ratePerSec: 100, onMs: 200, offMs: 1800 });
  });

  it('--arrivals trace:<file.csv> reads arrival times, made relative to the first', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 't.csv'), 'timestamp,user\n1000,a\n1250,b\n\n# a comment\n1100,c\n');
    const run = await sluice(['lab', '--json', '--arrivals', 'trace:t.csv', '--duration', '1s'], {
      cwd: dir,
    });
    expect(run.code).toBe(0);
    const r = JSON.parse(run.stdout) as LabReport;
    expect(r.scenario.producers[0]?.arrivals).toEqual({ kind: 'trace', timesMs: [0, 100, 250] });
    expect(r.configurations[0]?.produced).toBe(3);
  });

  it('--producers, --count, --urgent, --producer-mode', async () => {
    const r = await report(
      '--producers',
      '3',
      '--count',
      '4',
      '--urgent',
      '0.25',
      '--producer-mode',
      'try',
    );
    expect(r.scenario.producers).toHaveLength(3);
    for (const p of r.scenario.producers) {
      expect(p).toEqual({
        arrivals: { kind: 'constant', intervalMs: 100 },
        count: 4,
        urgentShare: 0.25,
        mode: 'try',
      });
    }
    expect(r.configurations[0]?.produced).toBe(12);
  });

  it('--consumers, --service, --slowdown', async () => {
    const r = await report('--consumers', '2', '--service', 'exp:50', '--slowdown', '1s:3');
    expect(r.scenario.consumers).toEqual({
      count: 2,
      service: { kind: 'exponential', meanMs: 50 },
      slowdown: { atMs: 1000, factor: 3 },
    });
    for (const [text, service] of [
      ['250ms', { kind: 'constant', ms: 250 }],
      ['1.5s', { kind: 'constant', ms: 1500 }],
      ['40', { kind: 'constant', ms: 40 }],
      ['uniform:10-30', { kind: 'uniform', minMs: 10, maxMs: 30 }],
      ['lognormal:20,0.5', { kind: 'lognormal', medianMs: 20, sigma: 0.5 }],
      ['exponential:5ms', { kind: 'exponential', meanMs: 5 }],
    ] as const) {
      expect((await report('--service', text)).scenario.consumers.service, text).toEqual(service);
    }
  });

  it('--compare makes one configuration per policy from the first one', async () => {
    const r = await report('--compare', 'block, drop-lowest,reject');
    expect(r.scenario.configurations).toEqual([
      { label: 'block', capacity: 5, overflow: 'block' },
      { label: 'drop-lowest', capacity: 5, overflow: 'drop-lowest', priorities: true },
      { label: 'reject', capacity: 5, overflow: 'reject' },
    ]);
  });

  it('--capacity, --priorities, --max-wait, --order apply to every configuration', async () => {
    const r = await report(
      '--capacity',
      '10',
      '--priorities',
      '--max-wait',
      '2s',
      '--compare',
      'block,drop-oldest',
    );
    for (const c of r.scenario.configurations) {
      expect(c).toMatchObject({ capacity: 10, priorities: true, maxWaitMs: 2000 });
    }
    const lifo = await report('--order', 'adaptive-lifo');
    expect(lifo.scenario.configurations.every((c) => c.order === 'adaptive-lifo')).toBe(true);
  });

  it('--codel and its settings', async () => {
    expect((await report('--codel')).scenario.configurations[0]?.codel).toBe(true);
    expect(
      (
        await report(
          '--codel-target',
          '10ms',
          '--codel-interval',
          '200',
          '--codel-mode',
          'requests',
        )
      ).scenario.configurations[0]?.codel,
    ).toEqual({ targetMs: 10, intervalMs: 200, mode: 'requests' });
  });

  it('--limiter', async () => {
    const limiterOf = async (spec: string) =>
      (await report('--limiter', spec)).scenario.configurations[0]?.limiter;
    expect(await limiterOf('token-bucket:5,5')).toEqual({
      kind: 'token-bucket',
      rate: 5,
      burst: 5,
    });
    expect(await limiterOf('token-bucket:2.5,1,consumers')).toEqual({
      kind: 'token-bucket',
      rate: 2.5,
      burst: 1,
      at: 'consumers',
    });
    expect(await limiterOf('token-bucket:5,5,producers,try')).toEqual({
      kind: 'token-bucket',
      rate: 5,
      burst: 5,
      at: 'producers',
      mode: 'try',
    });
    expect(await limiterOf('adaptive:gradient2')).toEqual({
      kind: 'adaptive',
      algorithm: 'gradient2',
    });
    expect(await limiterOf('adaptive:aimd,10')).toEqual({
      kind: 'adaptive',
      algorithm: 'aimd',
      initialLimit: 10,
    });
    const none = await report('--limiter', 'none');
    expect(none.scenario.configurations.some((c) => c.limiter !== undefined)).toBe(false);
  });

  it('reads a scenario file, and the options change it', async () => {
    const dir = tempDir();
    const scenario: Scenario = {
      name: 'from a file',
      durationMs: 3000,
      seed: 9,
      producers: [{ arrivals: { kind: 'poisson', ratePerSec: 40 } }],
      consumers: { count: 2, service: { kind: 'constant', ms: 40 } },
      configurations: [{ label: 'mine', capacity: 3, overflow: 'drop-oldest' }],
    };
    writeFileSync(join(dir, 's.json'), JSON.stringify(scenario));
    const plain = await sluice(['lab', 's.json', '--json'], { cwd: dir });
    expect(plain.code).toBe(0);
    expect((JSON.parse(plain.stdout) as LabReport).scenario).toEqual(scenario);
    const changed = await sluice(['lab', 's.json', '--json', '--capacity', '7', '--seed', '2'], {
      cwd: dir,
    });
    const r = JSON.parse(changed.stdout) as LabReport;
    expect(r.scenario.configurations[0]?.capacity).toBe(7);
    expect(r.seed).toBe(2);
    expect(r.scenario.name).toBe('from a file');
    // The file's description no longer holds; the report says what changed it.
    expect(r.scenario.description).toBe('Changed by the options --capacity 7 --seed 2.');
  });
});

describe('sluice lab: bad input', () => {
  it.each([
    [
      ['--compare', 'block,drop-new'],
      'sluice lab: --compare: unknown policy "drop-new"; expected block, drop-newest, drop-oldest, reject, drop-lowest',
    ],
    [['--compare', 'block,block'], 'sluice lab: --compare: "block" is listed twice'],
    [
      ['--compare', ','],
      'sluice lab: --compare: expected one or more policies, such as block,drop-oldest',
    ],
    [
      ['--rate', '-5'],
      'sluice lab: --rate: expected a number of items per second above 0, got "-5"',
    ],
    [['--rate', '0'], 'sluice lab: --rate: expected a number of items per second above 0, got "0"'],
    [
      ['--rate', 'fast'],
      'sluice lab: --rate: expected a number of items per second above 0, got "fast"',
    ],
    [['--rate'], 'sluice lab: --rate needs a value (see sluice lab --help)'],
    [['--json=yes'], 'sluice lab: --json takes no value'],
    [['--frobnicate'], 'sluice lab: unknown option --frobnicate (see sluice lab --help)'],
    [['-x'], 'sluice lab: unknown option -x (see sluice lab --help)'],
    [['a.json', 'b.json'], 'sluice lab: expected at most one scenario file, got 2: a.json, b.json'],
    [['missing.json'], 'sluice lab: cannot read the scenario file missing.json: no such file'],
    [
      ['--duration', '0'],
      'sluice lab: --duration: expected a time above 0 such as 300ms, 2s or 1m, got "0"',
    ],
    [
      ['--duration', '-1s'],
      'sluice lab: --duration: expected a time above 0 such as 300ms, 2s or 1m, got "-1s"',
    ],
    [
      ['--duration', '10 days'],
      'sluice lab: --duration: expected a time above 0 such as 300ms, 2s or 1m, got "10 days"',
    ],
    [['--seed', '1.5'], 'sluice lab: --seed: expected a safe integer, got "1.5"'],
    [['--producers', '0'], 'sluice lab: --producers: expected an integer from 1 up, got "0"'],
    [['--consumers', '-2'], 'sluice lab: --consumers: expected an integer from 1 up, got "-2"'],
    [['--count', '2.5'], 'sluice lab: --count: expected an integer from 0 up, got "2.5"'],
    [['--urgent', '2'], 'sluice lab: --urgent: expected a share from 0 to 1, got "2"'],
    [
      ['--producer-mode', 'block'],
      'sluice lab: --producer-mode: expected wait or try, got "block"',
    ],
    [['--capacity', '-3'], 'sluice lab: --capacity: expected an integer from 0 up, got "-3"'],
    [
      ['--capacity', '0'],
      'sluice lab: --capacity: drop-newest needs a capacity from 1 up, got "0"',
    ],
    [
      ['--max-wait', 'soon'],
      'sluice lab: --max-wait: expected a time above 0 such as 300ms, 2s or 1m, got "soon"',
    ],
    [['--order', 'lifo'], 'sluice lab: --order: expected fifo or adaptive-lifo, got "lifo"'],
    [['--codel-mode', 'fast'], 'sluice lab: --codel-mode: expected rfc or requests, got "fast"'],
    [
      ['--codel-target', '0'],
      'sluice lab: --codel-target: expected a time above 0 such as 300ms, 2s or 1m, got "0"',
    ],
    [
      ['--service', 'normal:5'],
      /^sluice lab: --service: expected a time \(300ms\), exp:<mean>, uniform:<min>-<max> or lognormal:<median>,<sigma>, got "normal:5"$/,
    ],
    [
      ['--service', 'uniform:30-10'],
      'sluice lab: --service: uniform:<min>-<max> needs min ≤ max, got "uniform:30-10"',
    ],
    [['--service', 'lognormal:20'], /^sluice lab: --service: expected lognormal:<median>,<sigma>/],
    [
      ['--service', 'exp:0'],
      'sluice lab: --service exp:<mean>: expected a time above 0 such as 300ms, 2s or 1m, got "0"',
    ],
    [['--slowdown', '3'], 'sluice lab: --slowdown: expected <at>:<factor> such as 30s:3, got "3"'],
    [['--slowdown', '1s:0'], 'sluice lab: --slowdown <factor>: expected a number above 0, got "0"'],
    [
      ['--arrivals', 'steady'],
      'sluice lab: --arrivals: expected constant, poisson, bursts[:<on>/<off>] or trace:<file.csv>, got "steady"',
    ],
    [
      ['--arrivals', 'bursts:2s'],
      'sluice lab: --arrivals: expected bursts:<on>/<off> such as bursts:2s/8s, got "bursts:2s"',
    ],
    [
      ['--arrivals', 'trace'],
      'sluice lab: --arrivals: expected trace:<file.csv>, naming the file of arrival times',
    ],
    [
      ['--arrivals', 'trace:none.csv'],
      'sluice lab: cannot read the trace file none.csv: no such file',
    ],
    [
      ['--limiter', 'leaky:5'],
      /^sluice lab: --limiter: expected token-bucket:<rate>,<burst>\[,…\], adaptive:<algorithm>/,
    ],
    [
      ['--limiter', 'token-bucket:5'],
      /^sluice lab: --limiter: expected token-bucket:<rate>,<burst>\[,consumers\|producers/,
    ],
    [
      ['--limiter', 'token-bucket:-1,5'],
      'sluice lab: --limiter token-bucket <rate>: expected a number of tokens per second above 0, got "-1"',
    ],
    [
      ['--limiter', 'token-bucket:5,0'],
      'sluice lab: --limiter token-bucket <burst>: expected an integer from 1 up, got "0"',
    ],
    [
      ['--limiter', 'token-bucket:5,5,consumers,try'],
      'sluice lab: --limiter: try|wait applies to a token bucket at the producers only',
    ],
    [
      ['--limiter', 'adaptive:bbr'],
      'sluice lab: --limiter adaptive <algorithm>: expected aimd or vegas or gradient2 or envoy, got "bbr"',
    ],
    [['--limiter', 'adaptive:envoy,1'], /^sluice lab: configurations\[0\]: .*initialLimit/],
    [
      ['--report', 'r.html', '--no-report'],
      'sluice lab: --report and --no-report cannot both be given',
    ],
    [
      ['--compare', 'drop-lowest', '--order', 'adaptive-lifo'],
      /^sluice lab: configurations\[0\]\.order: expected 'fifo' with priorities/,
    ],
    [
      ['--duration', '100h', '--rate', '1000'],
      /^sluice lab: durationMs: the producers would make about 360,000,001 items/,
    ],
  ])('%j: %s', async (args, message) => {
    expectUsageError(await sluice(['lab', ...args]), message);
  });

  it('a scenario file that is not JSON, not valid, unreadable, or a trace that is not numbers', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'broken.json'), '{ "name": "x", ');
    writeFileSync(
      join(dir, 'invalid.json'),
      JSON.stringify({
        ...DEFAULT_SCENARIO,
        configurations: [{ label: 'x', capacity: -3, overflow: 'block' }],
      }),
    );
    writeFileSync(join(dir, 'bad.csv'), 'time\n10\nsoon\n');
    writeFileSync(join(dir, 'empty.csv'), 'time\n');
    writeFileSync(join(dir, 't.csv'), '0\n10\n');
    mkdirSync(join(dir, 'folder.json'));
    expectUsageError(
      await sluice(['lab', 'broken.json'], { cwd: dir }),
      /^sluice lab: broken\.json: not valid JSON: /,
    );
    expectUsageError(
      await sluice(['lab', 'invalid.json'], { cwd: dir }),
      'sluice lab: invalid.json: configurations[0].capacity: expected an integer from 0 up, got -3',
    );
    expectUsageError(
      await sluice(['lab', 'folder.json'], { cwd: dir }),
      'sluice lab: cannot read the scenario file folder.json: it is a directory',
    );
    expectUsageError(
      await sluice(['lab', '--arrivals', 'trace:bad.csv'], { cwd: dir }),
      'sluice lab: bad.csv line 3: expected a time in ms, got "soon"',
    );
    expectUsageError(
      await sluice(['lab', '--arrivals', 'trace:empty.csv'], { cwd: dir }),
      'sluice lab: empty.csv: no arrival times in it',
    );
    expectUsageError(
      await sluice(['lab', '--arrivals', 'trace:t.csv', '--rate', '5'], { cwd: dir }),
      'sluice lab: --rate cannot be combined with --arrivals trace:… (the trace sets the times)',
    );
  });
});

describe('sluice lab as a command', () => {
  const exec = promisify(execFile);
  const cli = (...args: string[]) =>
    exec(process.execPath, ['--import', 'tsx', 'src/lab/cli.ts', ...args], { cwd: ROOT }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );

  it('runs from source: --help, --json, and bad input without a stack trace', async () => {
    const help = await cli('lab', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toBe(LAB_HELP);
    const json = await cli('lab', '--json', '--duration', '3s');
    expect(json.code).toBe(0);
    expect((JSON.parse(json.stdout) as LabReport).scenario.durationMs).toBe(3000);
    const bad = await cli('lab', '--compare', 'block,sideways');
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toBe(
      'sluice lab: --compare: unknown policy "sideways"; expected block, drop-newest, drop-oldest, reject, drop-lowest\n',
    );
    const missing = await cli('lab', 'nowhere.json');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(
      'sluice lab: cannot read the scenario file nowhere.json: no such file\n',
    );
  });

  it.runIf(existsSync(join(ROOT, 'dist/lab/cli.js')))('runs built, as the sluice bin', async () => {
    const { stdout } = await exec(process.execPath, ['bin/sluice.js', 'lab', '--help'], {
      cwd: ROOT,
    });
    expect(stdout).toBe(LAB_HELP);
  });
});
