/**
 * What can be checked of the shipped deployment without Docker: docker-compose.yml parses, runs
 * real CLI commands on real files, gives every NATS node what its configuration reads, and can
 * scale workers, runs with signed control commands; the Dockerfile is multi-stage and non-root;
 * every NATS configuration file under config/nats passes `nats-server -t`; the single-node
 * configuration listens on loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { requireNatsServer } from '../src/broker/find-nats-server.js';
import { freePort } from '../src/broker/local-server.js';
import { NkeyCommandSigner, NkeyCommandVerifier } from '../src/security/signed-commands.js';
import { nodeEnv } from './helpers/cluster.js';
import { hasOpenssl, makeCerts, tlsEnv } from './helpers/certs.js';
import { waitFor } from './helpers/load.js';
import { dieWithThisProcess } from '../src/broker/child-watchdog.js';
import { ROOT, runCli } from './helpers/processes.js';

const run = promisify(execFile);

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  volumes?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  container_name?: string;
  profiles?: string[];
}

const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true, maxAliasCount: 1_000 }) as {
  services: Record<string, ComposeService>;
};
const services = Object.entries(compose.services);
const natsNodes = services.filter(([, s]) => s.image?.startsWith('nats:'));
const natsrpcServices = services.filter(([, s]) => s.build !== undefined);

/** The $VARIABLES a NATS configuration file reads, following its includes. */
function configVariables(file: string): Set<string> {
  // Quoted strings are literal ("$SRV.>"); only bare $NAMES are variables.
  const text = readFileSync(file, 'utf8').replace(/#.*$/gm, '').replace(/"[^"]*"/g, '""');
  const vars = new Set([...text.matchAll(/\$([A-Z_][A-Z0-9_]*)/g)].map((m) => m[1]!));
  for (const m of text.matchAll(/^\s*include\s+(\S+)/gm)) {
    for (const v of configVariables(join(file, '..', m[1]!))) vars.add(v);
  }
  return vars;
}

test('compose: three NATS nodes on the official image 2.10+, each given every variable its mounted config reads', () => {
  assert.equal(natsNodes.length, 3);
  for (const [name, node] of natsNodes) {
    const [major, minor] = node.image!.slice('nats:'.length).split(/[.-]/).map(Number);
    assert.ok(major! > 2 || (major === 2 && minor! >= 10), `${name}: nats image ${node.image} must be 2.10 or newer`);
    const mount = node.volumes?.find((v) => v.endsWith(':/etc/nats:ro'));
    assert.ok(mount, `${name} mounts config/nats read-only`);
    const hostDir = join(ROOT, mount.split(':')[0]!);
    assert.deepEqual(node.command?.slice(0, 1), ['-c']);
    const conf = join(hostDir, node.command![1]!.replace('/etc/nats/', ''));
    assert.ok(existsSync(conf), `${name}: ${conf} exists`);
    const missing = [...configVariables(conf)].filter((v) => node.environment?.[v] === undefined);
    assert.deepEqual(missing, [], `${name} sets every variable of ${conf}`);
    for (let i = 1; i <= 3; i++) assert.match(node.environment!['NATS_ROUTE_' + i]!, /^nats:\/\/nats-\d:6222$/);
  }
  assert.deepEqual(new Set(natsNodes.map(([, n]) => n.environment!.NATS_SERVER_NAME)).size, 3, 'server names are unique');
});

test('compose: every natsrpc service runs a real CLI command on files that exist, with flags the CLI accepts', async (t) => {
  const help = await runCli(['--help']);
  const commands = new Set([...help.stdout.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]!));
  assert.ok(commands.has('worker'));
  assert.ok(natsrpcServices.length >= 4);
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  // Where each COPY puts its files in the image (the last argument), from the context or a build stage.
  const copied = [...dockerfile.matchAll(/^COPY .* (\S+)$/gm)].map((m) => m[1]!.replace(/^\.\//, '').replace(/\/$/, ''));
  for (const [name, svc] of natsrpcServices) {
    const command = svc.command ?? [];
    assert.ok(command.length > 0, `${name} has a command`);
    if (command[0] === '--help') continue;
    if (!commands.has(command[0]!)) {
      // The supervisor command comes with the supervisor; until then the service is only declared.
      if (command[0] === 'supervisor') {
        t.diagnostic('natsrpc supervisor is not a CLI command on this branch yet');
        continue;
      }
      assert.fail(`${name}: "${command[0]}" is not a natsrpc command (${[...commands]})`);
    }
    for (const arg of command.slice(1).filter((a) => /\.(ts|js)$/.test(a))) {
      assert.ok(existsSync(join(ROOT, arg)), `${name}: ${arg} exists`);
      assert.ok(copied.some((c) => arg.startsWith(c + '/')), `${name}: ${arg} is copied into the image`);
    }
    const checked = await runCli([...command, '--help']);
    assert.equal(checked.code, 0, `${name}: natsrpc ${command.join(' ')} is accepted:\n${checked.stderr}`);
    assert.ok(svc.environment?.NATS_URL?.split(',').length === 3, `${name} knows all three nodes`);
  }
});

test('compose: workers scale (no fixed name or host port) and every identity has its password variable', () => {
  for (const name of ['math', 'echo', 'slow']) {
    const svc = compose.services[name]!;
    assert.equal(svc.container_name, undefined, `${name} has no container_name`);
    assert.equal(svc.ports, undefined, `${name} publishes no host port`);
    assert.equal(svc.environment?.NATS_USER, name, `${name} connects as its own identity`);
  }
  const example = readFileSync(join(ROOT, '.env.example'), 'utf8');
  const referenced = new Set([...readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8').matchAll(/\$\{([A-Z_0-9]+)/g)].map((m) => m[1]!));
  for (const v of referenced) assert.match(example, new RegExp(`^${v}=`, 'm'), `.env.example sets ${v}`);
});

test('Dockerfile: multi-stage, runs as a non-root user, natsrpc is the entry point', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  assert.ok([...dockerfile.matchAll(/^FROM /gm)].length >= 2, 'multi-stage');
  const user = [...dockerfile.matchAll(/^USER (\S+)/gm)].at(-1)?.[1];
  assert.ok(user !== undefined && user !== 'root' && user !== '0', `runs as ${user}`);
  assert.match(dockerfile, /^ENTRYPOINT \["natsrpc"\]$/m);
  assert.ok(existsSync(join(ROOT, 'bin/natsrpc.js')));
});

test('every shipped NATS configuration passes nats-server -t', { skip: !hasOpenssl() && 'openssl is not installed' }, async () => {
  const bin = requireNatsServer().path;
  using certs = makeCerts();
  const ports = [0, 1, 2].map((i) => ({ client: 4222 + i, cluster: 6222 + i, http: 8222 + i }));
  const env = { ...process.env, ...nodeEnv(0, ports), ...tlsEnv(certs) };
  const dir = join(ROOT, 'config/nats');
  const files = readdirSync(join(ROOT, 'config'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.conf'));
  for (const f of ['nats/cluster.conf', 'nats/accounts.conf', 'nats/cluster-tls.conf', 'nats-server.conf']) assert.ok(files.includes(f), f);
  for (const f of files) {
    const { stderr, stdout } = await run(bin, ['-t', '-c', join(ROOT, 'config', f)], { env }).catch((e: { stderr: string; stdout: string }) => {
      assert.fail(`${f} fails nats-server -t:\n${e.stderr}${e.stdout}`);
    });
    assert.match(stderr + stdout, /is valid/, f);
  }
  // The check is real: a configuration that reads an unset variable fails it.
  const { NATS_CALLER_PASS: _, ...without } = env;
  await assert.rejects(run(bin, ['-t', '-c', join(dir, 'cluster.conf')], { env: without }), /NATS_CALLER_PASS/);
});

test('compose runs signed: the supervisor needs a signing seed and every natsrpc service the trusted keys, both required', () => {
  const text = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
  const required = (name: string) => new RegExp(`\\$\\{${name}:\\?`).test(text);
  assert.ok(required('NATSRPC_SIGNING_SEED'), 'NATSRPC_SIGNING_SEED is required (${VAR:?...}), not defaulted to empty');
  assert.ok(required('NATSRPC_TRUSTED_KEYS'), 'NATSRPC_TRUSTED_KEYS is required');
  assert.match(compose.services.supervisor!.environment!.NATSRPC_SIGNING_SEED!, /^\$\{NATSRPC_SIGNING_SEED:\?/);
  for (const [name, svc] of natsrpcServices) assert.match(svc.environment?.NATSRPC_TRUSTED_KEYS ?? '', /^\$\{NATSRPC_TRUSTED_KEYS:\?/, `${name} trusts the keys`);
  // Metrics are on the host's loopback only: bound to every address inside the container, published on 127.0.0.1.
  const sup = compose.services.supervisor!;
  assert.deepEqual(sup.ports, ['127.0.0.1:9464:9464']);
  assert.equal(sup.command![sup.command!.indexOf('--metrics-host') + 1], '0.0.0.0');
});

test('natsrpc signing-key --env-file completes .env.example with a pair that signs and verifies, and keeps it when run again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'natsrpc-keys-'));
  try {
    const env = join(dir, '.env');
    copyFileSync(join(ROOT, '.env.example'), env);
    const made = await runCli(['signing-key', '--env-file', env]);
    assert.equal(made.code, 0, made.stderr);
    const read = () => Object.fromEntries([...readFileSync(env, 'utf8').matchAll(/^([A-Z_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
    const first = read();
    assert.match(first.NATSRPC_SIGNING_SEED!, /^SU/);
    assert.equal(first.NATSRPC_TRUSTED_KEYS, made.stdout.trim());
    assert.equal(first.NATS_CALLER_PASS, 'change-me-caller', 'other lines are kept');
    assert.equal(statSync(env).mode & 0o077, 0, '.env is readable by its owner only');
    // The pair works: what the seed signs, the trusted key verifies.
    const signed = new NkeyCommandSigner(first.NATSRPC_SIGNING_SEED!).signCommand({ id: 'cmd-00000001', ts: Date.now(), target: 'w1', type: 'drain' });
    assert.deepEqual(new NkeyCommandVerifier(first.NATSRPC_TRUSTED_KEYS!.split(',')).verifyCommand(signed), { ok: true, signer: first.NATSRPC_TRUSTED_KEYS });
    const again = await runCli(['signing-key', '--env-file', env]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(read(), first, 'a second run keeps the pair');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('config/nats-server.conf listens on 127.0.0.1 unless -a overrides it', async () => {
  const bin = requireNatsServer().path;
  const varzHost = async (extra: string[]) => {
    const [port, http] = [await freePort(), await freePort()];
    const child = spawn(bin, ['-c', join(ROOT, 'config/nats-server.conf'), '-p', String(port), '-m', String(http), ...extra], { stdio: 'ignore' });
    dieWithThisProcess(child);
    try {
      let host: string | undefined;
      const answered = await waitFor(async () => {
        const res = await fetch(`http://127.0.0.1:${http}/varz`).catch(() => null);
        if (res?.ok) host = ((await res.json()) as { host: string }).host;
        return host !== undefined;
      }, 15_000);
      assert.ok(answered, 'nats-server monitoring answers');
      return host;
    } finally {
      child.kill('SIGKILL');
    }
  };
  assert.equal(await varzHost([]), '127.0.0.1');
  assert.equal(await varzHost(['-a', '0.0.0.0']), '0.0.0.0', 'the documented override');
});
