/**
 * `npm run bench`: starts its own nats-server, a client process and worker processes, and runs
 * the scenarios, each natsrpc measurement interleaved with the plain-`nats` baseline so that every
 * figure is a ratio within one run. Prints a table and writes JSON under bench/results/.
 *
 *   npm run bench                 full run (about 8 minutes)
 *   npm run bench -- --quick      shorter trials, one round (under 2 minutes)
 *   npm run bench -- --smoke      a few seconds: checks the harness starts and stops
 *   npm run bench -- --only 1,3   chosen scenarios
 *   npm run bench -- --only 1 --cells 256x100 --profile
 *                                 CPU profiles of the client and workers in bench/results/profiles/
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LocalNatsServer } from '../src/broker/local-server.js';
import { requireNatsServer } from '../src/broker/find-nats-server.js';
import { makeCtx, PROFILES, type Profile } from './lib/context.js';
import { BenchChild } from './lib/ipc.js';
import { Progress } from './lib/progress.js';
import { machine, renderResults } from './lib/report.js';
import { failover } from './scenarios/failover.js';
import { heterogeneous } from './scenarios/heterogeneous.js';
import { scaling } from './scenarios/scaling.js';
import { supervisorScale } from './scenarios/supervisor.js';
import { throughput } from './scenarios/throughput.js';
import { decomposition } from './scenarios/decomposition.js';
import type { Scenario, ScenarioResult } from './scenarios/types.js';

const SCENARIOS: Scenario[] = [throughput, scaling, heterogeneous, failover, supervisorScale, decomposition];
/** Room for 256 calls of 500 KB queued at one connection without the broker calling it slow. */
const BROKER_CONFIG = 'max_payload: 1048576\nmax_pending: 536870912\n';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      only: { type: 'string' },
      out: { type: 'string' },
      profile: { type: 'boolean', default: false },
      cells: { type: 'string' },
      rounds: { type: 'string' },
    },
  });
  const profile: Profile = { ...PROFILES[values.smoke ? 'smoke' : values.quick ? 'quick' : 'full'] };
  if (values.cells) {
    // e.g. --cells 1x100,256x100: only these scenario 1 and 6 cells (in flight x payload bytes)
    profile.throughputCells = values.cells.split(',').map((c) => c.split('x').map(Number) as [number, number]);
    profile.decompositionCells = profile.throughputCells;
  }
  if (values.rounds) profile.rounds = Number(values.rounds);
  // --profile: every client and worker process writes a CPU profile on exit (node --cpu-prof)
  const profileDir = fileURLToPath(new URL('./results/profiles/', import.meta.url));
  const execArgv = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const only = values.only ? new Set(values.only.split(',').map(Number)) : null;
  const chosen = SCENARIOS.filter((s) => (only === null ? profile.scenarios.includes(s.id) : only.has(s.id)) && s.steps(profile) > 0);
  const progress = new Progress(chosen.reduce((n, s) => n + s.steps(profile), 0));
  const started = new Date();
  const env = machine(requireNatsServer().path);
  process.stderr.write(`natsrpc bench (${profile.name}): ${env.cpu as string}, ${env.cores as number} cores, node ${process.version}\n`);

  await using nats = await LocalNatsServer.start({ configText: BROKER_CONFIG });
  await using client = new BenchChild('client.ts', { url: nats.url }, execArgv);
  await client.ready;
  const ctx = { ...makeCtx(nats.url, profile, progress, client, execArgv), brokerPid: nats.pid };

  const results: ScenarioResult[] = [];
  for (const scenario of chosen) {
    results.push(await scenario.run(ctx));
  }
  progress.finish();

  const report = renderResults(results);
  process.stdout.write(`\n${report}\n\n`);
  const out = values.out ?? fileURLToPath(new URL(`./results/bench-${profile.name}-${started.toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url));
  mkdirSync(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify({ profile, startedAt: started.toISOString(), finishedAt: new Date().toISOString(), machine: { ...env, loadAverageAtEnd: loadavg().map((l) => l.toFixed(2)) }, results }, null, 2),
  );
  process.stdout.write(`results: ${out}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`\nbench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
