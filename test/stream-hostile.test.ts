/**
 * Hostile credit and stream requests at a real worker process, and `natsrpc call` printing a
 * stream as NDJSON.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '../src/index.js';
import { creditSubject } from '../src/protocol/subjects.js';
import { encode } from '../src/protocol/codec.js';
import { closing, startNats } from './helpers/nats.js';
import { runCli, spawnWorker, workerIdOf } from './helpers/processes.js';
import { close, quiet } from './helpers/streams.js';

test('hostile credit and stream requests: ignored or refused, and the worker keeps serving (test 7)', async () => {
  await using nats = await startNats();
  await using worker = await spawnWorker('test/fixtures/streamer.ts', nats.url);
  await using client = closing(await connect({ servers: nats.url, logger: quiet }), close);
  const nc = client.connection;
  const credit = creditSubject('rpc', 'streamer', workerIdOf(worker));
  // Garbage, a credit for no stream, a credit far beyond any window, a deep structure.
  nc.publish(credit, new Uint8Array([0xc1, 0xff, 0x00]));
  nc.publish(credit, encode({ v: 1, id: 'nobody', items: 5, bytes: 5 }));
  nc.publish(credit, encode({ v: 1, id: 'x', items: 2 ** 40, bytes: -1 }));
  nc.publish(credit, new Uint8Array([...new Array<number>(200).fill(0x91), 0x90]));
  // A stream request asking for a window beyond the bounds.
  const bad = await nc.request('rpc.streamer.count', encode({ v: 1, id: 'h1', method: 'count', budgetMs: 1000, attempt: 1, payload: { n: 3 }, stream: { items: 1e9, bytes: 1 } }));
  assert.match(new TextDecoder().decode(bad.data), /stream window/);
  // While a stream is open, a forged credit for it can never push the worker past its window.
  const stream = client.stream<{ i: number }>('streamer.endless', {}, { window: { items: 4 } });
  await stream.next();
  let read = 1;
  for await (const _ of stream) if (++read === 30) break;
  const items: number[] = [];
  for await (const item of client.stream<{ i: number }>('streamer.count', { n: 3 })) items.push(item.i);
  assert.deepEqual(items, [0, 1, 2]);
});

test('natsrpc call on a streaming method prints NDJSON, one line per item, and exits with the outcome', async () => {
  await using nats = await startNats();
  await using _worker = await spawnWorker('test/fixtures/streamer.ts', nats.url);
  const ok = await runCli(['call', 'streamer.count', '{"n":3}', '--servers', nats.url], {}, 90_000);
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(ok.stdout.split('\n').map((l) => JSON.parse(l) as unknown), [{ i: 0 }, { i: 1 }, { i: 2 }]);
  const broke = await runCli(['call', 'streamer.fail', '{"after":2}', '--servers', nats.url], {}, 90_000);
  assert.equal(broke.code, 1);
  assert.equal(broke.stdout, '0\n1');
  assert.match(broke.stderr, /^STREAM_BROKE: broke after 2 items/m);
  const plain = await runCli(['call', 'streamer.plain', '{"x":4}', '--servers', nats.url], {}, 90_000);
  assert.equal(plain.stdout, '8');
});
