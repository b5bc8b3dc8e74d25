/**
 * What a header bomb costs its receiver: a message with a ~1 MB NATS header block in 30,000 lines,
 * delivered by a real nats-server, then read the way natsrpc reads it (the bounded check of
 * protocol/nats-headers.ts, which drops it) and the way `msg.headers` of the `nats` package does
 * (its parser, quadratic in lines). Also the whole delivery: from the publish to the subscription
 * callback having run, bomb against a plain message of the same size.
 *
 *   node --import tsx bench/header-bomb.ts
 */
import type { Msg } from 'nats';
import { LocalNatsServer } from '../src/broker/local-server.js';
import { openConnection } from '../src/connection/options.js';
import { checkHeaderBlock, headerStatus } from '../src/protocol/nats-headers.js';
import { headerBomb, RawNats } from '../test/helpers/raw-nats.js';

const ROUNDS = 5;
const bomb = headerBomb(1_000_000, 30_000);
const server = await LocalNatsServer.start();
const nc = await openConnection({ servers: server.url });
const raw = await RawNats.open(server.url);
let waiting: ((m: Msg, at: number) => void) | null = null;
nc.subscribe('bomb.*', { callback: (_e, msg) => waiting?.(msg, performance.now()) });
await nc.flush();

function deliver(header: Uint8Array, body: Uint8Array): Promise<{ msg: Msg; ms: number }> {
  return new Promise((resolve) => {
    const sent = performance.now();
    waiting = (msg, at) => resolve({ msg, ms: at - sent });
    raw.publish('bomb.x', header, body);
  });
}

const rows: Record<string, number[]> = { 'delivery, bomb (ms)': [], 'delivery, plain 1 MB body (ms)': [], 'natsrpc check + status (µs)': [], 'nats msg.headers (ms)': [] };
for (let i = 0; i < ROUNDS; i++) {
  const plain = await deliver(new TextEncoder().encode('NATS/1.0\r\n\r\n'), new Uint8Array(bomb.length));
  rows['delivery, plain 1 MB body (ms)']!.push(plain.ms);
  const { msg, ms } = await deliver(bomb, new Uint8Array(0));
  rows['delivery, bomb (ms)']!.push(ms);
  let t = performance.now();
  const dropped = checkHeaderBlock(msg) !== null || headerStatus(msg) === 503;
  rows['natsrpc check + status (µs)']!.push((performance.now() - t) * 1_000);
  if (!dropped) throw new Error('the bomb was not dropped');
  if (i < 2) {
    t = performance.now();
    void msg.headers;
    rows['nats msg.headers (ms)']!.push(performance.now() - t);
  }
}
console.log(`header block: ${bomb.length} bytes, ${bomb.toString('latin1').split('\r\n').length - 1} lines; ${ROUNDS} rounds (msg.headers: 2)`);
for (const [name, values] of Object.entries(rows)) console.log(`${name.padEnd(34)} ${values.map((v) => v.toFixed(2)).join('  ')}`);
await raw[Symbol.asyncDispose]();
await nc.close();
await server.stop();
