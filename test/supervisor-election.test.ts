/**
 * Two supervisors: the older leads, the other takes over when it dies and keeps acting. Real
 * nats-server, real processes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { startNats } from './helpers/nats.js';
import { sleep, waitFor } from './helpers/load.js';
import { decodeChecked } from '../src/protocol/codec.js';
import type { SupervisorHeartbeat } from '../src/protocol/supervisor-envelopes.js';
import { supervisorHeartbeatSubject } from '../src/protocol/subjects.js';
import { BROKER_CONFIG, INTERVAL_MS, Recorder, spawnSupervisor, spawnWard } from './helpers/supervision.js';

const quiet = createLogger('test', 'silent');

test('supervisor item 8: two supervisors: the older leads; kill it and the other takes over within 3 intervals and keeps acting', async (t) => {
  const BASE_EJECTION_MS = 3_000;
  // Up to 2 of the 3 workers may be out, so the new leader may drain a second one.
  const POLICY = { baseEjectionMs: BASE_EJECTION_MS, maxDrainPercent: 100 };
  await using nats = await startNats({ config: BROKER_CONFIG });
  await using rec = await Recorder.start(nats.url);
  // Who claims to lead, from each supervisor's own heartbeats (the typed signal of standing by).
  const leads = new Map<string, boolean>();
  rec.nc.subscribe(supervisorHeartbeatSubject('rpc'), {
    callback: (_e, m) => {
      const hb = decodeChecked(m.data) as SupervisorHeartbeat;
      leads.set(hb.id, hb.leader);
    },
  });
  await using w1 = await spawnWard(nats.url);
  await using w2 = await spawnWard(nats.url);
  await using w3 = await spawnWard(nats.url);
  await using first = await spawnSupervisor(nats.url, POLICY);
  await using second = await spawnSupervisor(nats.url, POLICY);
  assert.ok(await rec.waitServing('ward', 3), 'the fleet is seen');
  await sleep(4 * INTERVAL_MS); // the second has heard the first
  assert.equal((await rec.status()).supervisor.id, first.id, 'the older supervisor leads and answers status');
  assert.ok(await waitFor(() => leads.get(second.id) === false && leads.get(first.id) === true, 5_000), 'the younger stands by: its heartbeats say leader: false');
  assert.equal(rec.eventsOf('leader', undefined, second.id).length, 0);

  const client = await connect({ servers: nats.url, logger: quiet });
  const sickUntilDrained = async (id: string) => {
    for (let i = 0; i < 100 && rec.eventsOf('drain', id).length === 0; i++) await Promise.allSettled(Array.from({ length: 8 }, () => client.call('ward.work', null)));
  };
  try {
    // The leader drains a sick worker (which then heals); the standby follows that decision.
    w1.setMode('fail');
    await sickUntilDrained(w1.id);
    const drain1 = await rec.waitEvent('drain', w1.id, 3_000);
    assert.equal(drain1?.value.supervisor, first.id, 'the leader drained the sick worker');
    w1.setMode('ok');

    first.signal('SIGKILL');
    const killedAt = Date.now();
    assert.equal(rec.eventsOf('leader', undefined, second.id).length, 0, 'the standby never led while the leader lived');
    const takeover = await rec.waitEvent('leader', undefined, 10 * INTERVAL_MS, second.id);
    assert.ok(takeover, `the standby takes over: ${second.lines.slice(-3).join('\n')}`);
    const takeoverMs = takeover.value.ts - killedAt; // by the new leader's clock (same host)
    const bound = 3 * INTERVAL_MS + INTERVAL_MS / 4 + 100;
    assert.ok(takeoverMs <= bound, `took over ${takeoverMs} ms after the leader was killed (bound: 3 intervals + one sweep + 100 ms = ${bound} ms)`);
    const status = await rec.status();
    assert.equal(status.supervisor.id, second.id, 'the new leader answers status');
    assert.equal(status.services[0]!.workers.find((w) => w.id === w1.id)!.health, 'ejected', 'the new leader knows the worker the old one drained');

    // It keeps acting: it drains a newly sick worker...
    w2.setMode('fail');
    await sickUntilDrained(w2.id);
    const drain2 = await rec.waitEvent('drain', w2.id, 3_000);
    assert.equal(drain2?.value.supervisor, second.id, 'the new leader drains a newly sick worker');
    // ...and resumes the healed worker the old leader drained once its ejection period is over.
    const resume = await rec.waitEvent('resume', w1.id, BASE_EJECTION_MS + 3_000);
    assert.equal(resume?.value.supervisor, second.id, 'the new leader resumes the worker drained by the old one');
    const until = drain1!.value.figures!.until as number;
    assert.equal(until - drain1!.value.ts <= BASE_EJECTION_MS, true, 'the drain event states the end of the ejection period');
    assert.ok(resume.value.ts >= until, `after its ejection period: ${JSON.stringify({ drain: drain1!.value, resume: resume.value })}`);
    t.diagnostic(`item 8: leader SIGKILL -> standby leads ${takeoverMs} ms (interval ${INTERVAL_MS} ms)`);
    void w3;
  } finally {
    await client.close();
  }
});
