/**
 * Profiling helper for the channel benchmarks: runs ONE workload of channel.bench.ts in a loop
 * for a few seconds (so a CPU profile is dominated by it), or summarises a `.cpuprofile` as the
 * frames with the most self time, with their file and line.
 *
 *   cd bench
 *   node --cpu-prof --cpu-prof-dir=prof --import tsx profile.ts pipe sluice 1 1 16
 *   node --cpu-prof --cpu-prof-dir=prof --import tsx profile.ts sync sluice 1024
 *   node --cpu-prof --cpu-prof-dir=prof --import tsx profile.ts drop drop-oldest
 *   npx tsx profile.ts --summary prof/*.cpuprofile [frames]
 *
 * Contender names are matched as a prefix of the names in channel.peers.ts ("sluice",
 * "minimal", "ts-chan", …). Profiles land in bench/prof/ (ignored by git: `*.cpuprofile`).
 */
import { readFileSync } from 'node:fs';
import { Channel } from '../dist/index.js';
import { contenders } from './channel.peers.js';

const SECONDS = 5;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

function summarise(file: string, top: number): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: ProfileNode[];
    samples: number[];
  };
  const total = profile.samples.length;
  const self = new Map<string, number>();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const where =
      url === ''
        ? ''
        : ` ${url.replace(/^.*\/(dist|bench|node_modules)\//, '$1/')}:${lineNumber + 1}`;
    const name = `${functionName || '(anonymous)'}${where}`;
    self.set(name, (self.get(name) ?? 0) + (node.hitCount ?? 0));
  }
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  console.log(`${total} samples; top ${top} frames by self time:`);
  for (const [name, hits] of rows) {
    console.log(`${((100 * hits) / total).toFixed(1).padStart(5)}%  ${name}`);
  }
}

async function workload(args: string[]): Promise<() => unknown> {
  const [kind, who = '', ...rest] = args;
  const numbers = rest.map(Number);
  if (kind === 'drop') {
    const overflow = who as 'drop-oldest' | 'drop-newest' | 'plain';
    const ch =
      overflow === 'plain'
        ? new Channel<number>({ capacity: 1 << 30 })
        : new Channel<number>({ capacity: 1024, overflow });
    for (let i = 0; i < 1024; i++) ch.trySend(i);
    return () => {
      for (let i = 0; i < 8000; i++) ch.trySend(i);
      if (overflow === 'plain') while (ch.size > 1024) ch.tryReceive();
    };
  }
  const contender = contenders.find((c) => c.name.startsWith(who));
  if (contender === undefined) throw new Error(`no contender named ${who}…`);
  if (kind === 'pipe') {
    const [producers = 1, consumers = 1, capacity = 16] = numbers;
    return () => contender.pipe(capacity, producers, consumers, 10_000);
  }
  if (kind === 'sync') {
    const [capacity = 1024] = numbers;
    return () => contender.sync(capacity, 100_000);
  }
  throw new Error(`unknown workload ${kind}: use pipe, sync or drop`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--summary') {
    // tsx's loader thread writes a second, nearly empty profile: take the busiest file given.
    const files = args.slice(1).filter((a) => a.endsWith('.cpuprofile'));
    const count = (f: string) =>
      (JSON.parse(readFileSync(f, 'utf8')) as { samples: [] }).samples.length;
    const file = files.sort((a, b) => count(b) - count(a))[0];
    if (file === undefined) throw new Error('give the .cpuprofile file(s) to summarise');
    const top = args.find((a) => /^\d+$/.test(a));
    summarise(file, top === undefined ? 25 : Number(top));
    return;
  }
  const step = await workload(args);
  const end = Date.now() + SECONDS * 1000;
  let iterations = 0;
  while (Date.now() < end) {
    await step();
    iterations++;
  }
  console.log(`${args.join(' ')}: ${iterations} iterations in ${SECONDS} s`);
}

await main();
