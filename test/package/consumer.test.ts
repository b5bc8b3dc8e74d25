/**
 * natsrpc as a user gets it: `npm pack`, the tarball installed into a fresh `"type": "module"` app
 * with no TypeScript loader, under npm's linked (strict, non-hoisted) node_modules, so the package
 * can reach only the dependencies it declares. Then, against a real nats-server:
 * - it exports the names src/index.ts does (listed in test/public-api.test.ts), and its .d.ts
 *   imports and source maps resolve inside the package (the maps carry their sources);
 * - a plain .mjs imports natsrpc, starts a worker and calls it;
 * - CommonJS code `require`s it where Node can require ES modules (20.19+, 22.12+), and anywhere
 *   else fails with Node's own ERR_REQUIRE_ESM, as the README says;
 * - the app's TypeScript type-checks under strict consumer flags, and a deliberate type error in
 *   a second file is reported (types flow from a worker definition to the typed proxy);
 * - `npx natsrpc worker my-worker.ts` with no TypeScript loader says what to install;
 * - `npx natsrpc --version`, and `npx natsrpc worker my-worker.js` runs that file (not the .ts
 *   beside it) and answers `npx natsrpc call`.
 * The pack runs on a copy of the package's inputs, so the working tree's dist/ is never rebuilt
 * under other tests. Installs use the npm cache first (`--prefer-offline`), the registry on a
 * miss. The file lives in test/package/ because packing and installing take most of a minute on
 * a busy machine: `npm test` runs it as its own step, with its own time budget.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { dieWithThisProcess } from '../../src/broker/child-watchdog.js';
import { ROOT } from '../helpers/processes.js';
import { startNats, type LocalNatsServer } from '../helpers/nats.js';
import { exportedNames, importedSpecifiers } from '../helpers/module-syntax.js';

const run = promisify(execFile);
/** natsrpc's own compiler type-checks the app (the app installs only natsrpc and Node's types). */
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
/** Packing builds the package (tsc) and installing may fetch from the registry on a cold cache. */
const SETUP_TIMEOUT_MS = 240_000;
const STEP_TIMEOUT_MS = 60_000;
/** What the package ships to the app; everything else in the repository stays home. */
const PACKAGE_INPUTS = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'LICENSE', 'README.md', 'bin', 'config', 'scripts', 'src', 'workers'];
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; devDependencies: Record<string, string> };
const installed = (name: string) => (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

const APP_FILES: Record<string, string> = {
  'package.json': JSON.stringify({ name: 'consumer-app', version: '1.0.0', private: true, type: 'module' }, null, 2),
  // The README's "Use natsrpc in your app" worker (checked to match it below) and, beside it, a
  // TypeScript file of the same name serving another service: `natsrpc worker my-worker.js` must run the .js.
  'my-worker.js': `// my-worker.js
import { defineWorker, RpcError } from 'natsrpc';

export default defineWorker({
  service: 'greeter',
  methods: {
    hello: (name) => {
      if (typeof name !== 'string') throw new RpcError('BAD_NAME', 'name must be a string');
      return \`hello \${name}\`;
    },
  },
});
`,
  'my-worker.ts': `import { defineWorker } from 'natsrpc';
export default defineWorker({ service: 'not-the-js-file', methods: { hello: (): string => 'wrong file' } });
`,
  'in-process.mjs': `import { connect, defineWorker, startWorker, RpcError } from 'natsrpc';
const servers = process.argv[2];
const worker = await startWorker(defineWorker({
  service: 'calc',
  methods: {
    add: ({ a, b }) => a + b,
    fail: () => { throw new RpcError('NOPE', 'refused on purpose'); },
  },
}), { servers });
const client = await connect({ servers });
const sum = await client.call('calc.add', { a: 2, b: 40 }, { timeoutMs: 5000 });
const refused = await client.call('calc.fail', {}, { timeoutMs: 5000 }).then(() => null, (err) => [err instanceof RpcError, err.code, err.business]);
await client.close();
await worker.stop();
process.stdout.write('RESULT ' + JSON.stringify({ sum, refused }) + '\\n');
`,
  // CommonJS code (a .cjs file; the same as any file of an app without "type": "module").
  'commonjs.cjs': `const servers = process.argv[2];
let natsrpc;
try {
  natsrpc = require('natsrpc');
} catch (err) {
  process.stdout.write('REQUIRE-FAILED ' + JSON.stringify({ code: err.code, message: err.message }) + '\\n');
  process.exit(0);
}
const { connect, defineWorker, startWorker } = natsrpc;
(async () => {
  const worker = await startWorker(defineWorker({ service: 'cjs', methods: { twice: (n) => 2 * n } }), { servers });
  const client = await connect({ servers });
  const twice = await client.call('cjs.twice', 21, { timeoutMs: 5000 });
  await client.close();
  await worker.stop();
  process.stdout.write('RESULT ' + JSON.stringify({ twice }) + '\\n');
})().catch((err) => {
  process.stderr.write(String(err && err.stack) + '\\n');
  process.exit(1);
});
`,
  'math.ts': `import { defineWorker, RpcError } from 'natsrpc';
export interface Operands { a: number; b: number }
export default defineWorker({
  service: 'math',
  methods: {
    add: ({ a, b }: Operands) => a + b,
    div: ({ a, b }: Operands) => {
      if (b === 0) throw new RpcError('DIVIDE_BY_ZERO', 'cannot divide by zero');
      return a / b;
    },
    label: async (n: number, ctx): Promise<{ text: string; remainingMs: number }> => ({ text: String(n), remainingMs: ctx.remainingMs }),
  },
});
`,
  'client.ts': `import { connect, isRpcError, RpcError, type ApiOf, type CallOptions } from 'natsrpc';
import type math from './math.js';

export async function main(servers: string): Promise<number> {
  const client = await connect({ servers });
  const m = client.service<ApiOf<typeof math>>('math');
  const options: CallOptions = { timeoutMs: 1_000 };
  const sum: number = await m.add({ a: 1, b: 2 }, options);
  const label: { text: string; remainingMs: number } = await m.label(sum);
  try {
    await m.div({ a: 1, b: 0 });
  } catch (err) {
    if (err instanceof RpcError && err.business) console.log(err.code);
    if (isRpcError(err, 'TIMEOUT')) console.log('timed out');
  }
  await client.close();
  return label.text.length;
}
`,
  'wrong.ts': `import { connect, type ApiOf } from 'natsrpc';
import type math from './math.js';

const client = await connect({ servers: 'nats://127.0.0.1:4222' });
const m = client.service<ApiOf<typeof math>>('math');
export const notAString: string = await m.add({ a: 1, b: 2 });
`,
  'tsconfig.json': JSON.stringify(
    {
      compilerOptions: {
        target: 'ES2022',
        module: 'nodenext',
        moduleResolution: 'nodenext',
        strict: true,
        exactOptionalPropertyTypes: true,
        noPropertyAccessFromIndexSignature: true,
        noUncheckedIndexedAccess: true,
        skipLibCheck: true,
        noEmit: true,
        types: ['node'],
      },
      files: ['math.ts', 'client.ts'],
    },
    null,
    2,
  ),
  // The planted error, with natsrpc's own declarations checked too (skipLibCheck off) under the same flags.
  'tsconfig.wrong.json': JSON.stringify({ extends: './tsconfig.json', compilerOptions: { skipLibCheck: false }, files: ['math.ts', 'wrong.ts'] }, null, 2),
};

let work = '';
let app = '';
let nats: LocalNatsServer | null = null;
const spawned = new Set<ChildProcess>();

/** Runs a command in the app, bounded; resolves with its output and exit code (never rejects on exit code). */
async function inApp(cmd: string, args: string[], timeout = STEP_TIMEOUT_MS): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(cmd, args, { cwd: app, timeout, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; killed?: boolean };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: `${e.stderr ?? ''}${e.killed ? ' (killed at timeout)' : ''}` };
  }
}

/** Starts a long-running command in the app; it is killed when the test file ends, pass or fail. */
function startInApp(cmd: string, args: string[]): { child: ChildProcess; lines: string[]; ready: (pattern: RegExp) => Promise<string> } {
  const child = spawn(cmd, args, { cwd: app, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  spawned.add(child);
  dieWithThisProcess(child, true);
  child.once('exit', () => spawned.delete(child));
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
  createInterface({ input: child.stderr! }).on('line', (l) => lines.push(l));
  const ready = async (pattern: RegExp) => {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const hit = lines.find((l) => pattern.test(l));
      if (hit !== undefined) return hit;
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no line matching ${pattern} (exit ${child.exitCode}):\n${lines.slice(-20).join('\n')}`);
  };
  return { child, lines, ready };
}

/** Stops a process started with startInApp and its children (npx runs node under it). */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  try {
    process.kill(-child.pid!, 'SIGKILL'); // its own process group (detached)
  } catch {
    child.kill('SIGKILL');
  }
  await exited;
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'natsrpc-consumer-'));
  // Pack a copy of the package's inputs, so nothing here rebuilds the working tree's dist/ under
  // tests running beside it. The copy starts from the working tree's build (when there is one),
  // so tsc's incremental build only redoes what changed since; then the copy is packed as built.
  const source = join(work, 'natsrpc');
  mkdirSync(source);
  for (const entry of PACKAGE_INPUTS) cpSync(join(ROOT, entry), join(source, entry), { recursive: true });
  if (existsSync(join(ROOT, 'dist'))) cpSync(join(ROOT, 'dist'), join(source, 'dist'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(source, 'node_modules'), 'dir');
  await run('npm', ['run', 'build', '--silent'], { cwd: source, timeout: SETUP_TIMEOUT_MS });
  const packed = await run('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', work], { cwd: source, timeout: SETUP_TIMEOUT_MS });
  const tarball = join(work, packed.stdout.trim().split('\n').at(-1)!);
  assert.ok(existsSync(tarball), `npm pack wrote ${tarball}`);

  app = join(work, 'app');
  mkdirSync(app);
  for (const [name, text] of Object.entries(APP_FILES)) writeFileSync(join(app, name), text);
  await run(
    'npm',
    [
      'install', '--no-audit', '--no-fund', '--prefer-offline', '--install-strategy=linked',
      tarball, `@types/node@${installed('@types/node')}`,
    ],
    { cwd: app, timeout: SETUP_TIMEOUT_MS },
  );
  nats = await startNats();
}, { timeout: SETUP_TIMEOUT_MS * 2 });

after(async () => {
  await Promise.all([...spawned].map(stop));
  await nats?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the tarball holds the compiled package and no TypeScript sources, tests or bench; the app has no TypeScript loader and a strict node_modules', () => {
  const pkg = join(app, 'node_modules', 'natsrpc');
  const files = readdirSync(pkg, { recursive: true, encoding: 'utf8' });
  assert.ok(files.includes(join('dist', 'src', 'index.js')) && files.includes(join('dist', 'src', 'index.d.ts')));
  assert.ok(files.includes('LICENSE'));
  const sources = files.filter((f) => /\.[mc]?ts$/.test(f) && !f.endsWith('.d.ts'));
  assert.deepEqual(sources, [], 'no .ts sources shipped');
  assert.ok(!files.some((f) => f.startsWith('test') || f.startsWith('bench') || f.startsWith('.ci')), 'no tests, bench or CI files');
  assert.ok(!existsSync(join(app, 'node_modules', 'tsx')), 'the app has no tsx');
  // Linked layout: natsrpc's own dependencies are not visible from the app's top level.
  assert.ok(!existsSync(join(app, 'node_modules', 'nats')) && !existsSync(join(app, 'node_modules', 'pino')), 'dependencies are not hoisted');
  const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  assert.equal(manifest.dependencies['tsx'], undefined, 'tsx is not a runtime dependency');
});

test('the installed package checksums bodies with the native CRC-32 it resolves from its own dependencies', { skip: process.arch !== 'x64' && process.arch !== 'arm64' && 'no prebuilt @node-rs/crc32 binary' }, async () => {
  // Under the strict layout natsrpc reaches @node-rs/crc32 and its platform package only as its dependencies.
  const crc = join(app, 'node_modules', 'natsrpc', 'dist', 'src', 'protocol', 'crc32.js');
  const r = await inApp('node', ['--input-type=module', '-e', `const m = await import(${JSON.stringify(pathToFileURL(crc).href)}); process.stdout.write(String(m.pickCrc32() !== m.zlibCrc32 && m.crc32(Buffer.from('123456789'), 0)))`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, String(0xcbf43926), 'the native CRC-32 loaded and gives the IEEE check value');
});

test('the installed package exports the names of src/index.ts, its .d.ts imports and source maps resolve inside the package', async () => {
  const pkg = join(app, 'node_modules', 'natsrpc');
  // The surface: test/public-api.test.ts lists src/index.ts; the built declarations say the same.
  const source = exportedNames(join(ROOT, 'src', 'index.ts'));
  assert.deepEqual(exportedNames(join(pkg, 'dist', 'src', 'index.d.ts')), source);
  const loaded = await inApp('node', ['--input-type=module', '-e', "process.stdout.write(JSON.stringify(Object.keys(await import('natsrpc')).sort()))"]);
  assert.equal(loaded.code, 0, loaded.stderr);
  assert.deepEqual(JSON.parse(loaded.stdout), source.values, 'import("natsrpc") gives the values of src/index.ts');
  const files = readdirSync(pkg, { recursive: true, encoding: 'utf8' }).filter((f) => f.startsWith('dist'));
  // Every relative import of a shipped declaration file names a shipped declaration file.
  const declarations = files.filter((f) => f.endsWith('.d.ts'));
  const unresolved: string[] = [];
  for (const f of declarations) {
    for (const spec of importedSpecifiers(join(pkg, f))) {
      if (spec.startsWith('.') && !existsSync(join(pkg, dirname(f), spec.replace(/\.js$/, '.d.ts')))) unresolved.push(`${f}: ${spec}`);
    }
  }
  assert.ok(declarations.length > 50, `declarations shipped (${declarations.length})`);
  assert.deepEqual(unresolved, []);
  // Every compiled module (a .js beside its .d.ts; the dashboard's static files are shipped as
  // written) names its source map, the map is shipped, and it carries its sources (the .ts files
  // themselves are not shipped), so stack traces and debuggers reach them.
  const broken: string[] = [];
  const compiled = files.filter((f) => f.endsWith('.js') && files.includes(f.replace(/\.js$/, '.d.ts')));
  assert.ok(compiled.length > 50, `compiled modules shipped (${compiled.length})`);
  for (const f of compiled) {
    const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(join(pkg, f), 'utf8'))?.[1];
    const map = url === undefined ? undefined : join(pkg, dirname(f), url);
    if (map === undefined || !existsSync(map)) {
      broken.push(`${f}: no shipped source map`);
      continue;
    }
    const { sources, sourcesContent } = JSON.parse(readFileSync(map, 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
    if (sources.length === 0 || sources.some((_, i) => typeof sourcesContent?.[i] !== 'string' || sourcesContent[i] === '')) broken.push(`${f}: the map does not carry its sources`);
  }
  assert.deepEqual(broken, []);
});

test('a plain .mjs imports natsrpc, starts a worker and calls it against a real nats-server', async () => {
  const { code, stdout, stderr } = await inApp(process.execPath, ['in-process.mjs', nats!.url]);
  assert.equal(code, 0, stderr);
  const result = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  assert.ok(result !== undefined, stdout);
  assert.deepEqual(JSON.parse(result.slice('RESULT '.length)), { sum: 42, refused: [true, 'NOPE', true] });
});

test('CommonJS code requires natsrpc where Node can require ES modules, and gets ERR_REQUIRE_ESM where it cannot', async () => {
  const { code, stdout, stderr } = await inApp(process.execPath, ['commonjs.cjs', nats!.url]);
  assert.equal(code, 0, stderr);
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT ') || l.startsWith('REQUIRE-FAILED '));
  assert.ok(line !== undefined, stdout);
  if (process.features.require_module === true) {
    assert.deepEqual(JSON.parse(line.slice('RESULT '.length)), { twice: 42 }, 'required, served and called');
  } else {
    // Node without require(esm): its own clear error, which the README's install section names.
    assert.equal((JSON.parse(line.slice('REQUIRE-FAILED '.length)) as { code: string }).code, 'ERR_REQUIRE_ESM');
  }
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  assert.match(readme, /require\('natsrpc'\)/, 'the README says how CommonJS code loads natsrpc');
  assert.match(readme, /ERR_REQUIRE_ESM/, 'and which error older Node versions give');
});

test('tsc --noEmit passes on typed client code under strict consumer flags, and reports a deliberate type error', async () => {
  // Checking against Node's own types takes a while on a busy machine.
  const tsc = (config: string) => inApp(process.execPath, [TSC, '-p', config], SETUP_TIMEOUT_MS);
  const [good, wrong] = await Promise.all([tsc('tsconfig.json'), tsc('tsconfig.wrong.json')]);
  assert.equal(good.code, 0, `typed client code type-checks:\n${good.stdout}${good.stderr}`);
  assert.ok(wrong.code > 0, `the wrong file fails to type-check (exit ${wrong.code}): ${wrong.stderr}`);
  const errors = wrong.stdout.split('\n').filter((l) => /error TS\d+/.test(l));
  // In the app's own files, the only error is the planted one: the proxy's add() returns number.
  const appErrors = errors.filter((l) => !l.includes('node_modules'));
  assert.equal(appErrors.length, 1, wrong.stdout);
  assert.match(appErrors[0]!, /^wrong\.ts\(6,14\): error TS2322: Type 'number' is not assignable to type 'string'/);
  // With skipLibCheck off, none lies in natsrpc's .d.ts files (other packages' are theirs).
  assert.deepEqual(errors.filter((l) => /natsrpc[\\/]dist[\\/]/.test(l)), [], wrong.stdout);
});

test('npx natsrpc worker my-worker.ts without a TypeScript loader says what to install, or runs it where Node strips types', async () => {
  // A port nobody listens on: the worker gets as far as connecting only if its module loaded.
  const r = await inApp('npx', ['--no', '--', 'natsrpc', 'worker', 'my-worker.ts', '--servers', 'nats://127.0.0.1:1']);
  if ((process.features as { typescript?: unknown }).typescript) {
    assert.equal(r.code, 3, `loaded by Node's type stripping, then no broker: ${r.stderr}`);
  } else {
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /my-worker\.ts is TypeScript, and this Node\.js \(v[\d.]+\) cannot run it by itself/);
    assert.match(r.stderr, /npm install --save-dev tsx/);
  }
});

test('npx natsrpc --version prints the package version', async () => {
  const { code, stdout, stderr } = await inApp('npx', ['--no', '--', 'natsrpc', '--version']);
  assert.equal(code, 0, stderr);
  assert.match(stdout.trim(), new RegExp(`(^|\\s)v?${PKG.version.replace(/\./g, '\\.')}$`));
});

test('npx natsrpc worker my-worker.js runs exactly that file and answers npx natsrpc call', async () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const block = /<!-- readme-test: app-worker -->\n```js\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.equal(block, APP_FILES['my-worker.js'], "the README's worker is the one run here");
  const worker = startInApp('npx', ['--no', '--', 'natsrpc', 'worker', 'my-worker.js', '--servers', nats!.url]);
  try {
    const ready = await worker.ready(/"worker ready"/);
    assert.equal((JSON.parse(ready) as { service: string }).service, 'greeter', 'the .js file, not my-worker.ts');
    const ok = await inApp('npx', ['--no', '--', 'natsrpc', 'call', 'greeter.hello', '"consumer"', '--servers', nats!.url, '--timeout', '5000']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.trim(), '"hello consumer"');
    const refused = await inApp('npx', ['--no', '--', 'natsrpc', 'call', 'greeter.hello', '42', '--servers', nats!.url, '--timeout', '5000']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^BAD_NAME: name must be a string/m);
  } finally {
    await stop(worker.child);
  }
});
