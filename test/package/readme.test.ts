/**
 * Every code example in README.md runs as written, in README order, in a scratch app, against a
 * broker started by the README's own `npx natsrpc broker` line (on a free port: NATS_PORT, and
 * NATS_URL for everything that dials, are the variables the README documents). Each block is
 * named by a `<!-- readme-test: <name> -->` line above it and has an entry below: files to write,
 * commands to run with what they must print, or the reason it is not run. A block without an
 * entry fails the test, so a new example cannot go untested by accident.
 * It lives in test/package/ (npm test's second step) for that step's time budget: some 25 process
 * starts through npx take longer than the first step's 120 s per file on a busy machine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from 'nats';
import { freePort } from '../../src/broker/local-server.js';
import { collectAnswers } from '../../src/cli/discovery/collect.js';
import { openConnection } from '../../src/connection/options.js';
import { DASHBOARD_OPTIONS } from '../../src/options/table.js';
import { statusSubject } from '../../src/protocol/subjects.js';
import { waitFor } from '../helpers/load.js';
import { ROOT } from '../helpers/processes.js';
import { BackgroundCommand, commandsOf, filesOf, readmeBlocks, runCommand, scratchApp, writeFiles, type CommandRun } from '../helpers/readme.js';

type Entry =
  | { kind: 'skip'; reason: string }
  | { kind: 'files' }
  /** Commands: servers (broker, worker, supervisor, dashboard) keep running; `check` gets the others' runs. */
  | { kind: 'commands'; check: (runs: CommandRun[]) => void };

const lines = (run: CommandRun) => run.stdout.trimEnd().split('\n');

const ENTRIES: Record<string, Entry> = {
  'quick-start': { kind: 'skip', reason: 'clones the repository; npm start is test/roundtrip.test.ts (natsrpc dev --once) and npm test is CI itself' },
  'example-files': { kind: 'files' },
  'app-install': { kind: 'skip', reason: 'installs from the registry; test/package/consumer.test.ts installs the packed tarball into a fresh app' },
  'app-worker': { kind: 'skip', reason: 'test/package/consumer.test.ts writes this worker into its app and runs it' },
  'app-run': { kind: 'skip', reason: 'test/package/consumer.test.ts runs npx natsrpc worker my-worker.js and npx natsrpc call greeter.hello against its own broker' },
  'example-run': {
    kind: 'commands',
    check: ([client]) => assert.equal(client!.stdout, '3\nDIVIDE_BY_ZERO true\n'),
  },
  cli: {
    kind: 'commands',
    check: ([add, piped, file, failed, ls, info, stats]) => {
      assert.equal(add!.stdout, '3\n');
      assert.equal(piped!.stdout, '42\n');
      assert.equal(file!.stdout, '0.25\n');
      assert.equal(failed!.stdout, 'exit 1\n');
      assert.equal(failed!.stderr, 'DIVIDE_BY_ZERO: cannot divide 1 by zero\n');
      assert.match(lines(ls!)[0]!, /^SERVICE\s+WORKER\s+VERSION\s+STATE\s+HOST\s+CONTROL$/);
      assert.ok(lines(ls!).some((l) => /^math\s+math-\w+\s+0\.0\.0\s+serving\s/.test(l)), ls!.stdout);
      const answers = JSON.parse(info!.stdout) as { name: string; endpoints: { name: string; subject: string }[] }[];
      assert.ok(answers.length >= 1 && answers.every((a) => a.name === 'math'));
      assert.deepEqual(answers[0]!.endpoints.map((e) => e.subject).sort(), ['rpc.math.add', 'rpc.math.div']);
      assert.match(lines(stats!)[0]!, /^SERVICE\s+WORKER\s+ENDPOINT\s+REQUESTS\s+ERRORS\s+AVG MS\s+LAST ERROR$/);
      assert.ok(lines(stats!).some((l) => /^math\s+\S+\s+div\s+\d+\s+[1-9]\d*\s+[\d.]+\s+DIVIDE_BY_ZERO: cannot divide 1 by zero$/.test(l)), stats!.stdout);
    },
  },
  'streams-files': { kind: 'files' },
  'streams-run': {
    kind: 'commands',
    check: ([tail, call]) => {
      assert.equal(tail!.stdout, 'line 1\nline 2\nline 3\n');
      assert.equal(call!.stdout, '"line 1"\n"line 2"\n');
    },
  },
  'contracts-files': { kind: 'files' },
  'contracts-run': {
    kind: 'commands',
    check: ([client]) => {
      const out = lines(client!);
      assert.equal(out[0], '9');
      assert.match(out[1]!, /^BAD_REQUEST \{/);
      assert.match(client!.stdout, /issues: \[/);
      assert.equal(out.at(-1), 'DISCONTINUED B-7 is no longer sold');
    },
  },
  supervisor: {
    kind: 'commands',
    check: ([table, json]) => {
      assert.match(table!.stdout, /^supervisor \S+ \(leader, started /);
      const status = JSON.parse(json!.stdout) as { supervisor: { leader: boolean } };
      assert.equal(status.supervisor.leader, true);
    },
  },
  dashboard: { kind: 'commands', check: () => undefined }, // it runs and serves its page: see ready() below
};

/** The servers a command line starts, which keep running while the next lines run. */
const SERVER = /\bnatsrpc (broker|worker|supervisor|dashboard)\b/;

test('every README example runs as written', { timeout: 600_000 }, async () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const blocks = readmeBlocks(readme);
  for (const b of blocks) {
    const where = `README.md line ${b.line} (\`\`\`${b.lang} ${JSON.stringify(b.body.split('\n')[0])})`;
    assert.ok(b.name !== null, `${where} has no <!-- readme-test: <name> --> line above it; add one, and an entry in test/readme.test.ts`);
    const entry = ENTRIES[b.name];
    assert.ok(entry !== undefined, `${where} is named ${b.name}, which has no entry in test/readme.test.ts`);
    if (entry.kind === 'files') assert.equal(b.lang, 'ts', `${where}: files come from ts blocks`);
    if (entry.kind === 'commands') assert.equal(b.lang, 'sh', `${where}: commands come from sh blocks`);
  }
  assert.deepEqual(blocks.map((b) => b.name).sort(), Object.keys(ENTRIES).sort(), 'every entry has its README block');

  const port = await freePort();
  const dashboardPort = await freePort();
  const app = scratchApp();
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(npm_|NATS_(?!SERVER_BIN))/.test(k)) env[k] = v;
  Object.assign(env, {
    PATH: `${join(app, 'node_modules', '.bin')}:${process.env.PATH}`,
    NATS_PORT: String(port),
    NATS_URL: `nats://127.0.0.1:${port}`,
    [DASHBOARD_OPTIONS.port.env!]: String(dashboardPort),
  });

  const servers: BackgroundCommand[] = [];
  let bus: NatsConnection | null = null;
  const workersAnswering = async () => {
    bus ??= await openConnection({ servers: env.NATS_URL });
    return (await collectAnswers(bus, 'PING', undefined, 300)).answers.length;
  };
  /** Resolves once what `command` starts answers; a server that exits instead fails the test. */
  const ready = async (kind: string, server: BackgroundCommand, before: number) => {
    const answers = async (): Promise<boolean> => {
      if (!server.running) throw new Error(`"${server.command}" exited:\n${server.output}`);
      try {
        if (kind === 'broker') return (await openConnection({ servers: env.NATS_URL }).then((nc) => nc.close().then(() => true)));
        if (kind === 'worker') return (await workersAnswering()) > before;
        if (kind === 'supervisor') return (await bus!.request(statusSubject('rpc'), new Uint8Array(0), { timeout: 500 })) !== null;
        return (await fetch(`http://127.0.0.1:${dashboardPort}/`)).status === 200;
      } catch (err) {
        if (err instanceof Error && err.message.includes('exited')) throw err;
        return false;
      }
    };
    assert.ok(await waitFor(answers, 90_000), `"${server.command}" was not ready within 90 s:\n${server.output}`);
  };

  try {
    for (const block of blocks) {
      const entry = ENTRIES[block.name!]!;
      if (entry.kind === 'skip') continue;
      if (entry.kind === 'files') {
        writeFiles(app, filesOf(block));
        continue;
      }
      const runs: CommandRun[] = [];
      for (const command of commandsOf(block)) {
        const kind = SERVER.exec(command)?.[1];
        if (kind === undefined) {
          const run = await runCommand(command, app, env);
          assert.equal(run.code, 0, `README line ${block.line}: "${command}" exited ${run.code}:\n${run.stdout}\n${run.stderr}`);
          runs.push(run);
          continue;
        }
        const before = kind === 'worker' ? await workersAnswering() : 0;
        const server = new BackgroundCommand(command, app, env);
        servers.push(server);
        await ready(kind, server, before);
      }
      entry.check(runs);
    }
  } finally {
    await (bus as NatsConnection | null)?.close();
    // Servers stop in reverse order: the broker last.
    for (const server of servers.reverse()) await server[Symbol.asyncDispose]();
  }
});
