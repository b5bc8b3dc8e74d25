/**
 * natsrpc's connections reassemble a message longer than one socket read in one buffer of the
 * message's declared length (src/connection/presized-payloads.ts), instead of the `nats` client's
 * doubling buffer: against a real nats-server with a 1 MB max_payload, long messages with and
 * without a header block arrive whole and in buffers of exactly their length, also after the broker
 * restarted (the client makes a new parser then); a declared size beyond max_payload is left to the
 * client (nothing allocated up front).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as natsConnect, headers, type Msg, type NatsConnection } from 'nats';
// The client's own parser, fed directly to check the bound.
import { Parser } from 'nats/lib/nats-base-client/parser.js';
import { openConnection } from '../src/connection/options.js';
import { presizeLongMessages } from '../src/connection/presized-payloads.js';
import { pattern } from './fixtures/bodies.js';
import { closing, startNats } from './helpers/nats.js';
import { waitFor } from './helpers/load.js';

const ONE_MB_BROKER = { configText: 'max_payload: 1048576\n' };

/** The bytes the message's reassembly buffer holds: its header block and payload. */
function rawLength(msg: Msg): number {
  const raw = (msg as unknown as { _rdata: Uint8Array })._rdata;
  return raw.length;
}

test('long messages reach a natsrpc connection whole, each in a buffer of its own length, before and after a broker restart', async () => {
  await using nats = await startNats(ONE_MB_BROKER);
  await using nc = closing(await openConnection({ servers: nats.url }), (c) => c.close());
  await using pub = closing(await natsConnect({ servers: nats.url, reconnectTimeWait: 100, maxReconnectAttempts: -1 }), (c) => c.close());
  const got: Msg[] = [];
  nc.subscribe('long.>', { callback: (_err, msg) => got.push(msg) });
  await nc.flush();

  const sent: Array<{ data: Uint8Array; header: boolean }> = [
    { data: pattern(1_000_000, 1), header: false },
    { data: pattern(100, 2), header: false },
    { data: pattern(1_048_000, 3), header: true },
    { data: pattern(700_001, 4), header: false },
  ];
  const publish = (c: NatsConnection, items: typeof sent) => {
    for (const [i, item] of items.entries()) {
      const h = headers();
      h.set('Natsrpc-Test', `item ${i}`);
      c.publish(`long.${i}`, item.data, item.header ? { headers: h } : undefined);
    }
  };
  const check = (msgs: Msg[], items: typeof sent) => {
    assert.equal(msgs.length, items.length);
    for (const [i, msg] of msgs.entries()) {
      assert.ok(Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.length).equals(items[i]!.data), `message ${i} arrived whole`);
      if (items[i]!.data.length > 65_536) assert.equal(msg.data.buffer.byteLength, rawLength(msg), `message ${i} reassembled in a buffer of its length`);
    }
  };
  publish(pub, sent);
  await pub.flush();
  await waitFor(() => got.length === sent.length, 10_000);
  check(got, sent);

  // A reconnect gives the client a new parser: it presizes too.
  await nats.restart();
  await waitFor(async () => {
    try {
      await nc.flush();
      await pub.flush();
      return true;
    } catch {
      return false;
    }
  }, 10_000);
  got.length = 0;
  publish(pub, sent.slice(0, 1));
  await pub.flush();
  await waitFor(() => got.length === 1, 10_000);
  check(got, sent.slice(0, 1));
});

test('a declared size beyond the broker max_payload is not allocated up front; one within it is, once', () => {
  const dispatched: unknown[] = [];
  const parser = new Parser({ push: (e: unknown) => dispatched.push(e) });
  const protocol = { parser, info: { max_payload: 1_048_576 } };
  assert.equal(presizeLongMessages({ protocol } as unknown as NatsConnection), true);
  const p = protocol.parser as unknown as { parse(b: Uint8Array): void; msgBuf?: { capacity: number; length: number } };
  const enc = (s: string) => new TextEncoder().encode(s);

  p.parse(enc('MSG a 1 2000000\r\n'));
  p.parse(new Uint8Array(1000));
  assert.ok(p.msgBuf !== undefined && p.msgBuf.capacity < 2_000_000, 'a size over max_payload is left to grow as bytes arrive');

  const q = new Parser({ push: (e: unknown) => dispatched.push(e) });
  const protocol2 = { parser: q, info: { max_payload: 1_048_576 } };
  presizeLongMessages({ protocol: protocol2 } as unknown as NatsConnection);
  const r = protocol2.parser as unknown as typeof p;
  r.parse(enc('MSG b 1 500000\r\n'));
  r.parse(new Uint8Array(1000).fill(9));
  assert.equal(r.msgBuf?.capacity, 500_000);
  for (let sent = 1000; sent < 500_000; sent += 65_536) r.parse(new Uint8Array(Math.min(65_536, 500_000 - sent)).fill(9));
  r.parse(enc('\r\n'));
  const msg = dispatched.at(-1) as { data: Uint8Array };
  assert.equal(msg.data.length, 500_000);
  assert.equal(msg.data.buffer.byteLength, 500_000);
  assert.ok(msg.data.every((b) => b === 9));
  // Not a client connection: nothing to change.
  assert.equal(presizeLongMessages({} as NatsConnection), false);
});
