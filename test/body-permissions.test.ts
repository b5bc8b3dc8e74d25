/**
 * Bodies beyond max_payload under the shipped least-privilege identities (config/nats/cluster.conf
 * + accounts.conf, max_payload 1MB): a caller's 3 MB request to an `echo` worker process travels
 * as a body and its 3 MB reply too, and so does the largest body by default (64 MiB, `maxBodyBytes`'
 * default) each way, the most messages the worker's `allow_responses` must let it send to one
 * reply subject (77: 7 pulls, 68 chunks, the ack and the reply). Another service's credential
 * (`math`) and another caller application (`caller_b`) are refused the echo workers' body subjects
 * by the broker and receive nothing, while a connection allowed there sees the chunks pass.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { NatsConnection } from 'nats';
import { connect } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { connectAs, refusedSubscriptions, spawnServiceWorker } from './helpers/attack.js';
import { identity, startSingleNode } from './helpers/cluster.js';
import { closing } from './helpers/nats.js';
import { waitFor } from './helpers/load.js';

const quiet = createLogger('test', 'silent');
const MB = 1_000_000;


function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

test('3 MB and 64 MiB requests and replies travel as bodies under the shipped identities, and only the service\'s own credential may hear them', async (t) => {
  await using nats = await startSingleNode();
  const url = nats.url;
  await using worker = await spawnServiceWorker(url, 'echo');
  await using caller = closing(await connect({ servers: url, ...identity('caller'), logger: quiet }), (c) => c.close());

  // Spies: another service's credential and another caller application may not hear echo's bodies.
  await using math = await connectAs(url, 'math');
  await using callerB = await connectAs(url, 'caller_b');
  const mathRefused = refusedSubscriptions(math);
  const callerBRefused = refusedSubscriptions(callerB);
  let stolen = 0;
  const steal = (nc: NatsConnection, subject: string) => nc.subscribe(subject, { callback: (err) => void (err === null && stolen++) });
  steal(math, 'rpc._body.echo.*');
  steal(math, `rpc._body.echo.${worker.id}`);
  steal(math, 'rpc._body.>');
  steal(callerB, 'rpc._body.>');
  // Control: the echo credential may subscribe there, so this one sees the request body's chunks.
  await using echoSpy = await connectAs(url, 'echo');
  let seen = 0;
  echoSpy.subscribe(`rpc._body.echo.${worker.id}`, { callback: (err) => void (err === null && seen++) });
  await Promise.all([math.flush(), callerB.flush(), echoSpy.flush()]);
  assert.ok(await waitFor(() => mathRefused.length === 3 && callerBRefused.length === 1, 15_000), `refused: math ${mathRefused}, caller_b ${callerBRefused}`);
  assert.deepEqual(mathRefused.sort(), ['rpc._body.>', 'rpc._body.echo.*', `rpc._body.echo.${worker.id}`].sort());
  assert.deepEqual(callerBRefused, ['rpc._body.>']);

  // 64 MiB - 5 bytes encodes (bin 32) to exactly 64 MiB.
  for (const size of [3 * MB, 64 * 1024 * 1024 - 5]) {
    const sent = randomBytes(size);
    const started = performance.now();
    const back = (await caller.call('echo.echo', sent, { timeoutMs: 60_000 })) as Uint8Array;
    t.diagnostic(`${size} bytes there and back under the shipped config: ${Math.round(performance.now() - started)} ms`);
    assert.ok(back instanceof Uint8Array, 'the echo is bytes');
    assert.equal(back.length, size);
    assert.equal(sha256(back), sha256(sent), `the ${size} bytes reply is the request`);
  }
  // Both went as bodies (chunks on echo's body subject), and the spies got none of them.
  assert.ok(await waitFor(() => seen >= 3 + 65, 15_000), `the echo credential saw the request chunks (${seen})`);
  await Promise.all([math.flush(), callerB.flush()]);
  assert.equal(stolen, 0, 'no body message reached math or caller_b');
});
