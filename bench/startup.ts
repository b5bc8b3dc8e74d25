/**
 * `npm run bench:startup`: what natsrpc costs a process before it does any work, against the
 * `nats` package alone, from the compiled package (dist/, no TypeScript loader), as ratios within
 * one run. Each round, in alternating order, measures in fresh Node processes:
 *   - the time `import()` takes: `natsrpc` against `nats` (wall and CPU time);
 *   - for information, the same with the client and worker runtimes that `connect` and
 *     `startWorker` load on their first call (what a process that calls and serves has loaded
 *     once it is ready);
 *   - the resident memory of an idle worker process (`natsrpc worker dist/workers/echo.js`, with
 *     its heartbeat thread) against a plain `nats` queue subscriber answering the same subject,
 *     both read a while after they report ready.
 * Goals (issue 9): both ratios at most 1.5. Not a test: the figures depend on the machine.
 *
 *   npm run bench:startup                  5 rounds
 *   npm run bench:startup -- --rounds 9
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { LocalNatsServer } from '../src/broker/local-server.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CLI = fileURLToPath(new URL('../bin/natsrpc.js', import.meta.url));
const EXAMPLE_WORKER = 'dist/workers/echo.js';
/** natsrpc with the runtimes its entry points load on first call (src/entry/runtime.ts). */
const WITH_RUNTIMES = ['natsrpc', ...['client/client.js', 'worker/start-worker.js'].map((m) => pathToFileURL(fileURLToPath(new URL(`../dist/src/${m}`, import.meta.url))).href)];
/** How long an idle process runs after it reports ready before its memory is read. */
const SETTLE_MS = 2_000;
const CHILD_TIMEOUT_MS = 30_000;
const GOAL_RATIO = 1.5;

/** Imports modules in turn and prints how long it took. Runs from the package root, so `natsrpc` resolves to its own dist/. */
const IMPORT_PROBE = `
const c0 = process.cpuUsage(); const t0 = performance.now();
for (const specifier of process.argv.slice(1)) await import(specifier);
const wallMs = performance.now() - t0; const c = process.cpuUsage(c0);
process.stdout.write(JSON.stringify({ wallMs, cpuMs: (c.user + c.system) / 1000 }) + '\\n');
process.exit(0);`;

/** The baseline worker: a plain nats queue subscriber that answers what the echo worker serves. */
const PLAIN_SUBSCRIBER = `
import { connect } from 'nats';
const nc = await connect({ servers: process.argv[1] });
nc.subscribe('rpc.echo.*', { queue: 'echo', callback: (err, m) => { if (!err) m.respond(m.data); } });
await nc.flush();
process.stdout.write('ready\\n');`;

interface ImportTime {
  wallMs: number;
  cpuMs: number;
}

function child(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

async function importTime(...specifiers: string[]): Promise<ImportTime> {
  const proc = child(['--input-type=module', '-e', IMPORT_PROBE, ...specifiers]);
  let out = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => proc.kill('SIGKILL'), CHILD_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`import('${specifiers.join("', '")}') failed (exit ${code}): ${err}`);
  return JSON.parse(out) as ImportTime;
}

/** Resident set size of a process, in MB (Linux /proc; elsewhere ps). */
async function rssMb(pid: number): Promise<number> {
  const status = `/proc/${pid}/status`;
  if (existsSync(status)) {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(status, 'utf8'))?.[1];
    if (kb !== undefined) return Number(kb) / 1024;
  }
  const ps = spawn('ps', ['-o', 'rss=', '-p', String(pid)]);
  let out = '';
  ps.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((resolve) => ps.once('exit', resolve));
  return Number(out.trim()) / 1024;
}

/** Starts an idle process, waits for its ready line and SETTLE_MS more, reads its RSS, kills it. */
async function idleRss(args: string[], ready: RegExp): Promise<number> {
  const proc = child(args, { LOG_LEVEL: 'info' });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not ready within ${CHILD_TIMEOUT_MS} ms: ${args.join(' ')}`)), CHILD_TIMEOUT_MS);
      createInterface({ input: proc.stdout }).on('line', (line) => {
        if (!ready.test(line)) return;
        clearTimeout(timer);
        resolve();
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`exited (${code}) before ready: ${args.join(' ')}`));
      });
    });
    await sleep(SETTLE_MS);
    return await rssMb(proc.pid!);
  } finally {
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await exited;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const range = (xs: number[], digits = 2) => `${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)}`;

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, out: { type: 'string' } } });
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 50) throw new Error(`--rounds must be 1-50, received ${values.rounds}`);
  if (!existsSync(new URL('../dist/src/index.js', import.meta.url))) throw new Error('dist/ is missing: run npm run build');

  const server = await LocalNatsServer.start();
  const rows: Array<{ round: number; natsrpc: ImportTime; nats: ImportTime; withRuntimes: ImportTime; workerMb: number; plainMb: number }> = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      // Alternate which side goes first, so a drift in machine load does not favour one side.
      const first = round % 2 === 1;
      const imports = first
        ? [await importTime('natsrpc'), await importTime('nats'), await importTime(...WITH_RUNTIMES)]
        : [await importTime(...WITH_RUNTIMES), await importTime('nats'), await importTime('natsrpc')].reverse();
      const worker = () => idleRss([CLI, 'worker', EXAMPLE_WORKER, '--servers', server.url], /"worker ready"/);
      const plain = () => idleRss(['--input-type=module', '-e', PLAIN_SUBSCRIBER, server.url], /^ready$/);
      const rss = first ? [await worker(), await plain()] : [await plain(), await worker()].reverse();
      rows.push({ round, natsrpc: imports[0]!, nats: imports[1]!, withRuntimes: imports[2]!, workerMb: rss[0]!, plainMb: rss[1]! });
      const r = rows.at(-1)!;
      process.stdout.write(
        `round ${round}: import natsrpc ${r.natsrpc.wallMs.toFixed(0)} ms (cpu ${r.natsrpc.cpuMs.toFixed(0)}), ` +
          `nats ${r.nats.wallMs.toFixed(0)} ms (cpu ${r.nats.cpuMs.toFixed(0)}), ` +
          `natsrpc with runtimes ${r.withRuntimes.wallMs.toFixed(0)} ms (cpu ${r.withRuntimes.cpuMs.toFixed(0)}); ` +
          `idle RSS worker ${r.workerMb.toFixed(1)} MB, plain subscriber ${r.plainMb.toFixed(1)} MB\n`,
      );
    }
  } finally {
    await server.stop();
  }
  const wall = rows.map((r) => r.natsrpc.wallMs / r.nats.wallMs);
  const cpu = rows.map((r) => r.natsrpc.cpuMs / r.nats.cpuMs);
  const full = rows.map((r) => r.withRuntimes.cpuMs / r.nats.cpuMs);
  const mem = rows.map((r) => r.workerMb / r.plainMb);
  const verdict = (x: number) => (x <= GOAL_RATIO ? 'within' : 'ABOVE');
  process.stdout.write(
    `\n${rounds} rounds, node ${process.version}, load average ${loadavg()[0]!.toFixed(2)} (a shared machine makes wall times noisy)\n` +
      `import('natsrpc') / import('nats'): wall median ${median(wall).toFixed(2)}x (range ${range(wall)}), ` +
      `CPU median ${median(cpu).toFixed(2)}x (range ${range(cpu)}) - ${verdict(median(cpu))} the ${GOAL_RATIO}x goal\n` +
      `(for information) natsrpc with its client and worker runtimes / import('nats'): CPU median ${median(full).toFixed(2)}x (range ${range(full)})\n` +
      `idle worker RSS / plain nats subscriber RSS: median ${median(mem).toFixed(2)}x (range ${range(mem)}; ` +
      `worker ${range(rows.map((r) => r.workerMb), 1)} MB, plain ${range(rows.map((r) => r.plainMb), 1)} MB) - ${verdict(median(mem))} the ${GOAL_RATIO}x goal\n`,
  );
  const out = values.out ?? fileURLToPath(new URL(`./results/startup-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url));
  mkdirSync(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
  writeFileSync(out, JSON.stringify({ node: process.version, rows, ratios: { importWall: wall, importCpu: cpu, withRuntimesCpu: full, idleRss: mem } }, null, 2));
  process.stdout.write(`written to ${out}\n`);
  return 0;
}

process.exitCode = await main();
