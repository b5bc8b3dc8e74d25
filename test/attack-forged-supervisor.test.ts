/**
 * Attack: one forged supervisor heartbeat (`leader: true`, the oldest `startedAt`, an interval of
 * an hour, deadlines `{ '*': 5 ms }`) on a broker where anyone may publish it. Real worker and
 * supervisor processes, a real client.
 *
 * Holds when: clients ignore the policy (below the floor), so their calls succeed; an unsigned
 * supervisor stands by for at most lostAfterIntervals x MAX_PEER_INTERVAL_MS; a signing
 * supervisor ignores the forged heartbeat altogether and keeps leading.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectNats, nkeys } from 'nats';
import { DeadlinePolicyCache } from '../src/client/deadline-policy.js';
import { NkeyCommandSigner, NkeyCommandVerifier } from '../src/security/signed-commands.js';
import { connect, RpcError } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { encode } from '../src/protocol/codec.js';
import type { SupervisorHeartbeat } from '../src/protocol/supervisor-envelopes.js';
import { MAX_PEER_INTERVAL_MS } from '../src/supervisor/election.js';
import { sleep, waitFor } from './helpers/load.js';
import { startNats } from './helpers/nats.js';
import { processGroup, spawnWorker } from './helpers/processes.js';
import { BROKER_CONFIG, INTERVAL_MS, Recorder, spawnSupervisor } from './helpers/supervision.js';

const LOST_AFTER_INTERVALS = 3;
const forged: SupervisorHeartbeat = { v: 1, id: 'sup-forged000000', startedAt: 0, ts: Date.now(), intervalMs: 3_600_000, leader: true, deadlines: { '*': { defaultMs: 5, maxMs: 5 } } };

async function scenario(t: { diagnostic(s: string): void; after(fn: () => unknown): void }, signed: boolean): Promise<{ leadsAgainMs: number | null; ok: number; failed: string[]; ledThroughout: boolean }> {
  const args: string[] = [];
  if (signed) {
    const dir = mkdtempSync(join(tmpdir(), 'natsrpc-seed-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'seed'), new TextDecoder().decode(nkeys.createUser().getSeed()));
    args.push('--signing-seed', join(dir, 'seed'));
  }
  await using nats = await startNats({ config: BROKER_CONFIG });
  await using rec = await Recorder.start(nats.url);
  await using group = processGroup();
  // A handler of 30 ms: well within any sane policy, far beyond the forged 5 ms.
  const wardDir = mkdtempSync(join(tmpdir(), 'natsrpc-ward-'));
  t.after(() => rmSync(wardDir, { recursive: true, force: true }));
  writeFileSync(join(wardDir, 'mode'), 'busy');
  group.push(await spawnWorker('test/fixtures/ward.ts', nats.url, ['--heartbeat', String(INTERVAL_MS)], { WARD_DIR: wardDir, WARD_BUSY_MS: '30' }));
  const sup = await spawnSupervisor(nats.url, { lostAfterIntervals: LOST_AFTER_INTERVALS }, args);
  group.push(sup);
  assert.ok(await rec.waitServing('ward', 1), 'the supervisor leads and sees the worker');
  const client = await connect({ servers: nats.url, logger: createLogger('test', 'silent') });
  try {
    rec.nc.publish('rpc._sup.hb', encode({ ...forged, ts: Date.now() }));
    await rec.nc.flush();
    const forgedAt = Date.now();
    await sleep(INTERVAL_MS);
    let ok = 0;
    const failed: string[] = [];
    for (let i = 0; i < 10; i++) {
      try {
        await client.call('ward.work', null, { timeoutMs: 2_000 });
        ok++;
      } catch (err) {
        failed.push(err instanceof RpcError ? err.code : String(err));
      }
    }
    const ledThroughout = (await rec.status().catch(() => null))?.supervisor.id === sup.id;
    const bound = LOST_AFTER_INTERVALS * MAX_PEER_INTERVAL_MS;
    const leads = await waitFor(async () => (await rec.status().catch(() => null))?.supervisor.id === sup.id, bound + 10_000);
    return { leadsAgainMs: leads ? Date.now() - forgedAt : null, ok, failed, ledThroughout };
  } finally {
    await client.close();
  }
}

test('a forged supervisor heartbeat: clients ignore its 5 ms policy; an unsigned supervisor stands by for a bounded time', async (t) => {
  const r = await scenario(t, false);
  t.diagnostic(`forged supervisor heartbeat, unsigned: ${JSON.stringify(r)}`);
  assert.equal(r.ok, 10, `calls are not clamped to 5 ms: ${r.failed.join(', ')}`);
  assert.ok(r.leadsAgainMs !== null && r.leadsAgainMs <= LOST_AFTER_INTERVALS * MAX_PEER_INTERVAL_MS + 10_000, `the real supervisor leads again (after ${r.leadsAgainMs} ms)`);
});

test('a forged supervisor heartbeat: a signing supervisor ignores it and keeps leading', async (t) => {
  const r = await scenario(t, true);
  t.diagnostic(`forged supervisor heartbeat, signed: ${JSON.stringify(r)}`);
  assert.equal(r.ok, 10, `calls are not clamped: ${r.failed.join(', ')}`);
  assert.ok(r.ledThroughout, 'the signing supervisor never stood by');
});

test('a worker that trusts supervisor keys takes its budget cap only from signed leader heartbeats', async () => {
  await using nats = await startNats();
  const key = nkeys.createUser();
  const signer = new NkeyCommandSigner(new TextDecoder().decode(key.getSeed()));
  const nc = await connectNats({ servers: nats.url });
  const cache = new DeadlinePolicyCache(nc, 'rpc', undefined, new NkeyCommandVerifier([signer.publicKey]));
  try {
    await nc.flush();
    const hb = (maxMs: number): SupervisorHeartbeat => ({ ...forged, id: 'sup-000000000001', ts: Date.now(), intervalMs: 1_000, deadlines: { '*': { defaultMs: maxMs, maxMs } } });
    nc.publish('rpc._sup.hb', encode(hb(1_500))); // unsigned: a forgery
    await nc.flush();
    await sleep(200);
    assert.equal(cache.maxFor('math'), undefined, 'an unsigned leader heartbeat sets no cap');
    assert.equal(cache.unsigned, 1);
    nc.publish('rpc._sup.hb', encode(signer.signMessage('rpc._sup.hb', 'sup-000000000001', hb(2_500))));
    assert.ok(await waitFor(() => cache.maxFor('math') === 2_500, 15_000), 'a signed one does');
  } finally {
    cache.close();
    await nc.close();
  }
});
