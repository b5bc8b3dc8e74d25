/**
 * The one options resolver: every option of clients, workers and the supervisor is a row of one
 * table (name, default, bounds, environment variable, flag); explicit options (and the CLI's flags,
 * which become explicit options) beat the environment, which beats the default; a bad value names
 * the option, where it came from and what was received. And no module but options/env.ts reads
 * the process environment.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as natsConnect } from 'nats';
import { ALL_OPTIONS, CLIENT_OPTIONS, CONNECTION_OPTIONS, HEALTH_POLICY_OPTIONS, LOST_WORKER_OPTIONS, WORKER_OPTIONS } from '../src/options/table.js';
import { envNameOf, resolveBoolean, resolveChoice, resolveNumber, resolveString } from '../src/options/resolve.js';
import { CONNECTION_FLAGS, CONNECTION_HELP, connectionFrom, optionFlag, UsageError } from '../src/cli/flags.js';
import { resolvePolicy } from '../src/supervisor/policy.js';
import { resolveLostWorkerPolicy } from '../src/client/call-options.js';
import { withEnvDefaults } from '../src/connection/options.js';
import { decodeChecked } from '../src/protocol/codec.js';
import { heartbeatWildcard } from '../src/protocol/subjects.js';
import { startNats } from './helpers/nats.js';
import { processGroup, ROOT, spawnWorker } from './helpers/processes.js';
import { optionDocRow } from './options-doc-row.js';

test('every row has a unique name and environment variable, a default within its bounds', () => {
  const names = new Set<string>();
  const envs = new Set<string>();
  for (const spec of ALL_OPTIONS) {
    assert.ok(!names.has(spec.name), `duplicate option ${spec.name}`);
    names.add(spec.name);
    if (spec.env !== null) {
      assert.ok(!envs.has(spec.env), `duplicate variable ${spec.env}`);
      envs.add(spec.env);
    }
    if (spec.kind === 'number' && spec.default !== undefined) {
      assert.ok(spec.default >= spec.min && spec.default <= spec.max, `${spec.name} default ${spec.default} outside ${spec.min}..${spec.max}`);
    }
  }
  assert.equal(envNameOf('retry.maxAttempts'), 'NATSRPC_RETRY_MAX_ATTEMPTS');
  assert.equal(WORKER_OPTIONS.drainTimeoutMs.env, 'NATSRPC_DRAIN_TIMEOUT_MS');
  assert.equal(CONNECTION_OPTIONS.servers.env, 'NATS_URL');
});

test('docs/options.md lists every row as it is', () => {
  const doc = readFileSync(join(ROOT, 'docs/options.md'), 'utf8');
  for (const spec of ALL_OPTIONS) assert.ok(doc.includes(optionDocRow(spec)), `docs/options.md lacks or misstates ${spec.name} (run node --import tsx scripts/options-doc.ts):\n${optionDocRow(spec)}`);
});

test('explicit beats environment beats default', () => {
  const spec = CLIENT_OPTIONS.timeoutMs;
  assert.equal(resolveNumber(spec, undefined, {}), 5_000);
  assert.equal(resolveNumber(spec, undefined, { NATSRPC_TIMEOUT_MS: '750' }), 750);
  assert.equal(resolveNumber(spec, 1_200, { NATSRPC_TIMEOUT_MS: '750' }), 1_200);
  assert.equal(resolveNumber(spec, undefined, { NATSRPC_TIMEOUT_MS: '' }), 5_000, 'an empty variable counts as unset');
  assert.equal(resolveString(CONNECTION_OPTIONS.servers, undefined, { NATS_URL: 'nats://a:1' }), 'nats://a:1');
  assert.equal(resolveString(CONNECTION_OPTIONS.servers, 'nats://b:2', { NATS_URL: 'nats://a:1' }), 'nats://b:2');
  assert.equal(resolveBoolean(WORKER_OPTIONS.discovery, undefined, { NATSRPC_DISCOVERY: 'false' }), false);
  assert.equal(resolveChoice(WORKER_OPTIONS.routing, undefined, { NATSRPC_ROUTING: 'leave-when-full' }), 'leave-when-full');
  assert.equal(withEnvDefaults({ user: 'me' }, { NATS_USER: 'them', NATS_PASS: 'p' }).user, 'me');
  assert.equal(withEnvDefaults({}, { NATS_USER: 'them', NATS_PASS: 'p' }).pass, 'p');
  // Nested policies resolve field by field.
  assert.equal(resolveLostWorkerPolicy({ probeAfterMs: 40 }, { NATSRPC_LOST_WORKER_PROBE_AFTER_MS: '30', NATSRPC_LOST_WORKER_ACK_TIMEOUT_MS: '90' }).probeAfterMs, 40);
  assert.equal(resolveLostWorkerPolicy({}, { NATSRPC_LOST_WORKER_ACK_TIMEOUT_MS: '90' }).ackTimeoutMs, 90);
  assert.equal(resolvePolicy({}, { NATSRPC_POLICY_MAX_DRAIN_PERCENT: '20' }).maxDrainPercent, 20);
  assert.equal(resolvePolicy({ maxDrainPercent: 30 }, { NATSRPC_POLICY_MAX_DRAIN_PERCENT: '20' }).maxDrainPercent, 30);
});

test('a flag is an explicit option: it beats the environment, with the same bounds', () => {
  const spec = WORKER_OPTIONS.concurrency;
  const env = { NATSRPC_CONCURRENCY: '3' };
  assert.equal(resolveNumber(spec, optionFlag(spec, '5'), env), 5);
  assert.equal(resolveNumber(spec, optionFlag(spec, undefined), env), 3);
  assert.throws(() => optionFlag(spec, '0'), (e: unknown) => e instanceof UsageError && e.message === '--concurrency (concurrency) must be an integer from 1 to 100000, received 0');
  assert.throws(() => optionFlag(spec, 'lots'), (e: unknown) => e instanceof UsageError && /--concurrency \(concurrency\) .* received "lots"/.test(e.message));
});

test('the connection flags of the CLI are the rows of the table: each flag is parsed, mapped and documented with its variable', () => {
  for (const spec of Object.values(CONNECTION_OPTIONS)) {
    assert.ok(spec.flag! in CONNECTION_FLAGS, `--${spec.flag} is a flag`);
    assert.match(CONNECTION_HELP, new RegExp(`--${spec.flag} [^\\n]*env ${spec.env}`), `--${spec.flag} help names ${spec.env}`);
    assert.deepEqual(connectionFrom({ [spec.flag!]: 'x' }), { [spec.name]: 'x' });
  }
});

test('bad values name the option, where they came from and the value', () => {
  const t = CLIENT_OPTIONS.timeoutMs;
  assert.throws(() => resolveNumber(t, 0, {}), { name: 'TypeError', message: 'timeoutMs must be an integer from 1 to 86400000, received 0' });
  assert.throws(() => resolveNumber(t, '100', {}), { message: 'timeoutMs must be an integer from 1 to 86400000, received "100"' });
  assert.throws(() => resolveNumber(t, 1.5, {}), /timeoutMs must be an integer .* received 1.5/);
  assert.throws(() => resolveNumber(t, undefined, { NATSRPC_TIMEOUT_MS: 'soon' }), {
    name: 'TypeError',
    message: 'NATSRPC_TIMEOUT_MS (timeoutMs) must be an integer from 1 to 86400000, received "soon"',
  });
  for (const text of ['0x10', '1e3', '12ms', ' ']) {
    if (text.trim() === '') continue;
    assert.throws(() => resolveNumber(t, undefined, { NATSRPC_TIMEOUT_MS: text }), /NATSRPC_TIMEOUT_MS \(timeoutMs\)/, text);
  }
  assert.throws(() => resolveNumber(t, undefined, { NATSRPC_TIMEOUT_MS: '0' }), /NATSRPC_TIMEOUT_MS \(timeoutMs\) must be an integer from 1 to 86400000, received 0/);
  assert.throws(() => resolveNumber(LOST_WORKER_OPTIONS.ackTimeoutMs, -1, {}), /lostWorker.ackTimeoutMs must be an integer from 1/);
  assert.throws(() => resolveNumber(HEALTH_POLICY_OPTIONS.minFaultRate, undefined, { NATSRPC_POLICY_MIN_FAULT_RATE: '1.5' }), /NATSRPC_POLICY_MIN_FAULT_RATE \(policy.minFaultRate\) must be a number from 0 to 1, received 1.5/);
  assert.throws(() => resolveNumber(WORKER_OPTIONS.lowWater, 8, {}, { max: 7 }), /lowWater must be an integer from 0 to 7, received 8/);
  assert.throws(() => resolveChoice(WORKER_OPTIONS.routing, 'random', {}), /routing must be one of overload-reply, leave-when-full, received "random"/);
  assert.throws(() => resolveChoice(WORKER_OPTIONS.routing, undefined, { NATSRPC_ROUTING: 'x' }), /NATSRPC_ROUTING \(routing\) must be one of/);
  assert.throws(() => resolveBoolean(WORKER_OPTIONS.discovery, undefined, { NATSRPC_DISCOVERY: 'yes' }), /NATSRPC_DISCOVERY \(discovery\) must be true, false, 1 or 0, received "yes"/);
  assert.throws(() => resolveBoolean(CLIENT_OPTIONS.waitForWorkers, 'true', {}), /waitForWorkers must be a boolean, received "true"/);
  assert.throws(() => resolvePolicy({}, { NATSRPC_POLICY_MAX_DRAIN_PERCENT: '120' }), /NATSRPC_POLICY_MAX_DRAIN_PERCENT \(policy.maxDrainPercent\) must be an integer from 0 to 100, received 120/);
});

test('only src/options/env.ts reads the process environment', () => {
  const offenders: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && path !== join(ROOT, 'src/options/env.ts') && /process\.env\b/.test(readFileSync(path, 'utf8'))) offenders.push(path);
    }
  };
  walk(join(ROOT, 'src'));
  assert.deepEqual(offenders, []);
});

test('a worker process takes its concurrency from the flag over the environment, else from the environment', async () => {
  await using nats = await startNats();
  const nc = await natsConnect({ servers: nats.url });
  try {
    const seen = new Map<string, number>();
    const sub = nc.subscribe(heartbeatWildcard('rpc'), {
      callback: (_err, msg) => {
        const hb = decodeChecked(msg.data) as { id: string; concurrency: number };
        seen.set(hb.id, hb.concurrency);
      },
    });
    await using workers = processGroup();
    const echo = join(ROOT, 'workers/echo.ts');
    workers.push(await spawnWorker(echo, nats.url, ['--concurrency', '5', '--heartbeat', '100'], { NATSRPC_CONCURRENCY: '3' }));
    workers.push(await spawnWorker(echo, nats.url, ['--heartbeat', '100'], { NATSRPC_CONCURRENCY: '3' }));
    const deadline = Date.now() + 10_000;
    while (seen.size < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    sub.unsubscribe();
    assert.deepEqual([...seen.values()].sort(), [3, 5]);
  } finally {
    await nc.close();
  }
});
