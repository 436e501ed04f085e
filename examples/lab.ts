/**
 * The lab from code: simulate a workload under several configurations and print the comparison
 * (what `npx sluice lab` does from the command line). Runs in well under a second.
 *
 * A bursty producer (2,000 items a second for one second in four) against four consumers of
 * about 3 ms each: the bursts overrun them, so something has to give. Three ways to choose what.
 */
import { formatReport, type Scenario, simulate } from 'sluice/lab';

const scenario: Scenario = {
  name: 'bursts against four consumers',
  durationMs: 60_000,
  producers: [{ arrivals: { kind: 'bursts', ratePerSec: 2000, onMs: 1000, offMs: 3000 } }],
  consumers: { count: 4, service: { kind: 'exponential', meanMs: 3 } },
  configurations: [
    { label: 'wait', capacity: 500, overflow: 'block' },
    { label: 'freshest', capacity: 500, overflow: 'drop-oldest' },
    { label: 'deadline', capacity: 5000, overflow: 'reject', maxWaitMs: 250 },
  ],
};

const report = await simulate(scenario);
console.log(formatReport(report));

const best = [...report.configurations].sort((a, b) => a.latency.p99 - b.latency.p99)[0];
console.log(`lowest p99 latency: ${best?.label} (${best?.latency.p99} ms)`);
