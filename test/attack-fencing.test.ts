/**
 * Attack: with fencing on (the supervisor holds a system-account connection, as docker-compose.yml
 * ships it), the `math` credential sends heartbeats naming other connections' client ids (the
 * supervisor's own, an echo worker's, a caller's, its own made-up ids and a real echo worker's
 * id), then goes silent, so the supervisor declares those "workers" lost and would kick them.
 *
 * Holds when: every connection named is still open at the broker after the supervisor declared
 * the forged workers lost, and the echo worker and the caller still work.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, RpcError } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { connectionInfo } from '../src/security/connection-info.js';
import { sleep, waitFor } from './helpers/load.js';
import { processGroup } from './helpers/processes.js';
import { INTERVAL_MS } from './helpers/supervision.js';
import { connectAs, forgedHeartbeat, Observer, publishHeartbeat, spawnServiceWorker, spawnShippedSupervisor, startShippedBroker } from './helpers/attack.js';

test('fencing abuse: heartbeats naming other connections, then silence, get none of them kicked', async (t) => {
  await using broker = await startShippedBroker();
  await using group = processGroup();
  const math = await spawnServiceWorker(broker.url, 'math');
  const echo = await spawnServiceWorker(broker.url, 'echo');
  group.push(math, echo);
  const sup = await spawnShippedSupervisor(broker.url);
  group.push(sup);
  await using observer = await Observer.start(broker.url);
  assert.ok(await observer.waitVerified([math.id, echo.id]), 'the supervisor verifies the real workers');
  const status = await observer.status();
  const echoRow = status.services.find((s) => s.service === 'echo')!.workers[0]!;
  const serverId = echoRow.serverId;
  await using sys = await connectAs(broker.url, 'sys');
  await using callerNc = await connectAs(broker.url, 'caller', 'victim-caller');
  const client = await connect({ connection: callerNc, logger: createLogger('test', 'silent') });
  try {
    // The victims: every connection at this server but the attacker's and the real math worker's.
    const victims: { what: string; cid: number }[] = [{ what: 'echo worker', cid: echoRow.clientId }];
    const connz = await sys.request(`$SYS.REQ.SERVER.${serverId}.CONNZ`, new TextEncoder().encode(JSON.stringify({ limit: 1024 })));
    const all = (JSON.parse(new TextDecoder().decode(connz.data)) as { data: { connections: { cid: number; name?: string }[] } }).data.connections;
    for (const c of all) if (c.name?.startsWith(sup.id)) victims.push({ what: `supervisor connection ${c.name}`, cid: c.cid });
    victims.push({ what: 'caller', cid: callerNc.info!.client_id });
    await using attacker = await connectAs(broker.url, 'math', 'attacker');
    const claims = victims.flatMap((v, i) => [
      { id: `math-forged${String(i).padStart(6, '0')}`, cid: v.cid },
      // The victim's own name as the id, where it would pass a name-only check.
      { id: all.find((c) => c.cid === v.cid)?.name ?? `math-noname${i}`, cid: v.cid },
    ]).filter((c) => /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(c.id));
    for (let seq = 1; seq <= 3; seq++) {
      for (const c of claims) publishHeartbeat(attacker, forgedHeartbeat('math', c.id, { serverId, clientId: c.cid, seq, startedAt: 1 }));
      await sleep(INTERVAL_MS / 2);
    }
    await attacker.flush();
    // Silence: each forged "worker" is declared lost after 3 intervals, when a kick would follow.
    // (An id a real worker of another service holds is refused outright: an id cannot change service.)
    const losable = claims.filter((c) => c.id !== echo.id);
    assert.ok(await waitFor(() => losable.every((c) => observer.eventsOf('lost', c.id).length > 0), 10_000), `the forged workers are declared lost: ${losable.filter((c) => observer.eventsOf('lost', c.id).length === 0).map((c) => c.id)}`);
    await sleep(2 * INTERVAL_MS);
    const open = await Promise.all(victims.map(async (v) => ({ ...v, open: (await connectionInfo(sys, serverId, v.cid)) !== null })));
    let echoOk = false;
    try {
      echoOk = (await client.call('echo.echo', 'still here', { timeoutMs: 2_000 })) !== undefined;
    } catch (err) {
      if (!(err instanceof RpcError)) throw err;
    }
    t.diagnostic(`fencing abuse: ${JSON.stringify({ claims: claims.length, lost: claims.filter((c) => observer.eventsOf('lost', c.id).length > 0).length, victims: open, echoOk })}`);
    assert.deepEqual(open.filter((v) => !v.open).map((v) => v.what), [], 'no victim connection was kicked');
    assert.ok(echoOk, 'the echo worker still answers');
    assert.ok((await observer.status()).supervisor.id === sup.id, 'the supervisor still answers status');
  } finally {
    await client.close();
  }
});
