/**
 * Late acks on the wire (docs/protocol.md, *Acks and lost workers*): a worker acknowledges a
 * `lateAck` request only when its handler is still running once started, plus one presence ack per
 * caller every 100 ms. An async handler that finishes at once returns a promise, and used to be
 * acked for every call; a handler that keeps running is acked for every call.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as natsConnect } from 'nats';
import { defineWorker, startWorker } from '../src/index.js';
import { decodeChecked, encode } from '../src/protocol/codec.js';
import { createLogger } from '../src/logging/logger.js';
import { closing, startNats } from './helpers/nats.js';
import { waitFor } from './helpers/load.js';

const quiet = createLogger('test', 'silent');
const REQUESTS = 20;

const lateAck = defineWorker({
  service: 'lateack',
  methods: {
    fast: async (x: unknown) => x,
    slow: async (x: unknown) => {
      await new Promise((r) => setTimeout(r, 50));
      return x;
    },
  },
});

test('late acks: none for async handlers that finish at once, one for each request still running', async () => {
  await using nats = await startNats();
  await using _worker = closing(await startWorker(lateAck, { servers: nats.url, logger: quiet }), (w) => w.stop());
  await using nc = closing(await natsConnect({ servers: nats.url }), (c) => c.close());
  for (const method of ['fast', 'slow'] as const) {
    const acked = new Set<string>();
    let ackMessages = 0;
    let replies = 0;
    const sub = nc.subscribe(`_INBOX.lateack${method}.*`, {
      callback: (_err, msg) => {
        const value = decodeChecked(msg.data) as { ack?: boolean; replies?: string[] };
        if (value.ack === true) {
          ackMessages++;
          for (const token of value.replies ?? []) acked.add(token);
        } else replies++;
      },
    });
    await nc.flush();
    for (let i = 0; i < REQUESTS; i++) {
      const request = { v: 1, id: `r${i}`, method, budgetMs: 10_000, attempt: 1, lateAck: true, payload: i };
      nc.publish(`rpc.lateack.${method}`, encode(request), { reply: `_INBOX.lateack${method}.t${i}` });
    }
    await nc.flush();
    assert.ok(await waitFor(() => replies === REQUESTS), `${method}: ${replies} replies of ${REQUESTS}`);
    // An ack of a running request is published before its reply: once every reply is in, so is every ack.
    await nc.flush();
    if (method === 'fast') {
      // Presence acks only (one per caller per 100 ms), not one per request.
      assert.ok(acked.size < REQUESTS / 2, `fast: ${acked.size} of ${REQUESTS} requests acked`);
    } else {
      assert.equal(acked.size, REQUESTS, 'every request still running is acked');
      assert.ok(ackMessages >= 1);
    }
    sub.unsubscribe();
  }
});
