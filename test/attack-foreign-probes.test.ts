/**
 * Attacks on another service's probes and control, shipped configuration: a `math` worker
 * subscribes to every liveness probe subject and stays silent (so no 503 tells callers a worker is
 * gone: ping blinding), and subscribes to every control subject to answer another service's
 * control requests with a forged `ok: false`.
 *
 * Holds when: the broker refuses those subscriptions (probe and control subjects name the service,
 * and each service's identity may hear only its own), so a probe of a gone echo worker still gets
 * its 503 and the operator's resume of an echo worker gets the worker's own ack.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '../src/protocol/codec.js';
import { controlSubject, pingSubject } from '../src/protocol/subjects.js';
import { CommandSender } from '../src/supervisor/commands.js';
import { sleep } from './helpers/load.js';
import { processGroup } from './helpers/processes.js';
import { connectAs, spawnServiceWorker, startShippedBroker } from './helpers/attack.js';


/** Every subscription a worker of another service would use to hear echo's probes or control. */
const GREEDY = ['rpc._ping.>', 'rpc._ping.*', 'rpc._ping.*.*', 'rpc._ping.echo.*', 'rpc._ctl.>', 'rpc._ctl.*', 'rpc._ctl.*.*', 'rpc._ctl.echo.*'];

test('ping blinding and answering control across services: a math worker hears neither echo\'s probes nor its control', async (t) => {
  await using broker = await startShippedBroker();
  await using group = processGroup();
  const echo = await spawnServiceWorker(broker.url, 'echo');
  group.push(echo);
  await using attacker = await connectAs(broker.url, 'math', 'attacker');
  let heard = 0;
  const heardOn: string[] = [];
  for (const subject of GREEDY) {
    attacker.subscribe(subject, {
      callback: (err, m) => {
        if (err) return; // the broker's permissions violation, reported on the subscription
        heard++;
        heardOn.push(m.subject);
        // What a blinding or forging worker would do: stay silent on probes, answer control with a refusal.
        if (m.subject.startsWith('rpc._ctl.') && m.reply) m.respond(encode({ v: 1, id: '', ok: false, error: 'forged' }));
      },
    });
  }
  await attacker.flush().catch(() => undefined);
  await sleep(200);

  // A probe of an echo worker that is gone: the broker answers 503 when nobody listens.
  await using caller = await connectAs(broker.url, 'caller');
  let probe: string;
  try {
    await caller.request(pingSubject('rpc', 'echo', 'echo-00000000dead'), new Uint8Array(0), { timeout: 2_000 });
    probe = 'answered';
  } catch (err) {
    probe = (err as { code?: string }).code === '503' ? 'no responders' : `timeout: ${(err as Error).message}`;
  }
  // The live echo worker answers its own probe.
  const live = await caller.request(pingSubject('rpc', 'echo', echo.id), new Uint8Array(0), { timeout: 2_000 }).then(() => 'answered', (err: Error) => err.message);

  await using supervisor = await connectAs(broker.url, 'supervisor');
  const ack = await new CommandSender(supervisor, 'rpc', 'operator', 2_000).send('echo', echo.id, 'resume', 'attack test').catch((err: Error) => ({ ok: false, state: undefined, error: err.message }));
  t.diagnostic(`foreign probes and control: ${JSON.stringify({ probeOfGoneWorker: probe, probeOfLiveWorker: live, resumeAck: ack, heardByAttacker: heard, heardOn, controlSubject: controlSubject('rpc', 'echo', echo.id) })}`);
  assert.equal(probe, 'no responders', 'the probe of a gone worker still gets the broker\'s 503');
  assert.equal(live, 'answered');
  assert.equal(ack.ok, true, 'the resume is acknowledged by the echo worker itself');
  assert.equal(ack.state, 'serving');
  assert.equal(heard, 0, 'the math identity heard no probe and no control command of echo');
});
