/**
 * natsrpc installed from a git URL, as `npm install git+https://...#<commit>` would: the repository
 * holds no dist/, so npm clones it, installs its devDependencies there and runs `prepare` (the tsc
 * build), then installs the result like a packed tarball. Here the URL is `git+file://` to a clone
 * of this repository at the commit under test (no network), installed into a fresh app that then
 * imports natsrpc, starts a worker and calls it against a real nats-server.
 * Lives in test/package/ (npm test's step with a 600 s budget per file): the install builds the
 * package from scratch, which takes minutes on a busy machine.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../helpers/processes.js';
import { startNats, type LocalNatsServer } from '../helpers/nats.js';

const run = promisify(execFile);
/** Cloning, installing the devDependencies (from npm's cache), building and installing. */
const INSTALL_TIMEOUT_MS = 420_000;
const STEP_TIMEOUT_MS = 60_000;
/** A branch in the clone at the commit under test, so npm's clone of the clone fetches it even when this checkout is a detached HEAD. */
const BRANCH = 'natsrpc-under-test';

const APP_MAIN = `import { connect, defineWorker, startWorker } from 'natsrpc';
const servers = process.argv[2];
const worker = await startWorker(defineWorker({ service: 'fromgit', methods: { add: ({ a, b }) => a + b } }), { servers });
const client = await connect({ servers });
const sum = await client.call('fromgit.add', { a: 40, b: 2 }, { timeoutMs: 5000 });
await client.close();
await worker.stop();
process.stdout.write('RESULT ' + JSON.stringify({ sum }) + '\\n');
`;

let work = '';
let app = '';
let commit = '';
let nats: LocalNatsServer | null = null;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'natsrpc-git-install-'));
  commit = (await run('git', ['rev-parse', 'HEAD'], { cwd: ROOT })).stdout.trim();
  const clone = join(work, 'natsrpc.git');
  await run('git', ['clone', '--quiet', '--bare', ROOT, clone], { timeout: STEP_TIMEOUT_MS });
  await run('git', ['update-ref', `refs/heads/${BRANCH}`, commit], { cwd: clone });
  app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'git-app', version: '1.0.0', private: true, type: 'module' }, null, 2));
  writeFileSync(join(app, 'main.mjs'), APP_MAIN);
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', `git+file://${clone}#${commit}`], {
    cwd: app,
    timeout: INSTALL_TIMEOUT_MS,
    maxBuffer: 16 * 1024 * 1024,
  });
  nats = await startNats();
}, { timeout: INSTALL_TIMEOUT_MS + 2 * STEP_TIMEOUT_MS });

after(async () => {
  await nats?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('npm install from a git URL builds the package (prepare) and installs only what it ships', () => {
  const pkg = join(app, 'node_modules', 'natsrpc');
  assert.ok(existsSync(join(pkg, 'dist', 'src', 'index.js')) && existsSync(join(pkg, 'dist', 'src', 'index.d.ts')), 'dist/ built by prepare');
  const files = readdirSync(pkg, { recursive: true, encoding: 'utf8' });
  assert.deepEqual(files.filter((f) => /\.[mc]?ts$/.test(f) && !f.endsWith('.d.ts')), [], 'no .ts sources');
  assert.ok(!files.some((f) => f.startsWith('test') || f.startsWith('bench')), 'no tests or bench');
  // The devDependencies the build needed stayed in npm's clone.
  for (const dev of ['typescript', 'tsx']) assert.ok(!existsSync(join(app, 'node_modules', dev)), `${dev} is not installed into the app`);
});

test('the app imports natsrpc installed from git, starts a worker and calls it against a real nats-server', async () => {
  const { stdout } = await run(process.execPath, ['main.mjs', nats!.url], { cwd: app, timeout: STEP_TIMEOUT_MS });
  const result = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  assert.ok(result !== undefined, stdout);
  assert.deepEqual(JSON.parse(result.slice('RESULT '.length)), { sum: 42 });
});
