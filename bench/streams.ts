/**
 * Stream throughput against plain `nats`: the same items (100 B, then 64 KB) moved from one
 * process to another, by a natsrpc stream (`client.stream`, credit flow control, ordered and
 * complete or an error) and by a plain publisher/subscriber (publish, flush every 256 KB, count on
 * arrival). Each pair runs 3 times interleaved in one run; the report gives the ratio's range and
 * both processes' memory.
 *
 *   node --import tsx bench/streams.ts [--items 200000] [--big-items 2000]
 */
import { parseArgs } from 'node:util';
import { connect as natsConnect } from 'nats';
import { LocalNatsServer } from '../src/broker/local-server.js';
import { connect } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { BenchChild } from './lib/ipc.js';

const { values } = parseArgs({ options: { items: { type: 'string' }, 'big-items': { type: 'string' }, rounds: { type: 'string' } } });
const ROUNDS = Number(values.rounds ?? 3);
const CASES = [
  { label: '100 B items', size: 100, n: Number(values.items ?? 200_000) },
  { label: '64 KB items', size: 64 * 1024, n: Number(values['big-items'] ?? 2_000) },
];
const MB = 1024 * 1024;

await using nats = await LocalNatsServer.start();
await using peer = new BenchChild('stream-peer.ts', { url: nats.url });
await peer.ready;
const client = await connect({ servers: nats.url, logger: createLogger('bench', 'warn') });
const sub = await natsConnect({ servers: nats.url });

async function viaStream(n: number, size: number): Promise<number> {
  const started = performance.now();
  let count = 0;
  for await (const item of client.stream<Uint8Array>('bench.items', { n, size })) {
    if (item.length !== size) throw new Error('wrong item size');
    count++;
  }
  if (count !== n) throw new Error(`stream gave ${count} of ${n}`);
  return performance.now() - started;
}

async function viaPlain(n: number, size: number): Promise<number> {
  const subject = `plain.${Math.random().toString(36).slice(2)}`;
  let count = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const s = sub.subscribe(subject, {
    callback: (_err, msg) => {
      if (msg.data.length !== size) throw new Error('wrong item size');
      if (++count === n) done();
    },
  });
  await sub.flush();
  const started = performance.now();
  await peer.request('publish', { subject, n, size });
  await Promise.race([all, new Promise((_, reject) => setTimeout(() => reject(new Error(`plain got ${count} of ${n} (slow consumer drops)`)), 60_000))]);
  const ms = performance.now() - started;
  s.unsubscribe();
  return ms;
}

const lines: string[] = [];
for (const c of CASES) {
  await viaStream(Math.min(c.n, 1_000), c.size); // warm both paths
  await viaPlain(Math.min(c.n, 1_000), c.size);
  const ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const plainMs = await viaPlain(c.n, c.size);
    const streamMs = await viaStream(c.n, c.size);
    const rate = (ms: number) => (c.size >= 1024 ? `${((c.n * c.size) / MB / (ms / 1000)).toFixed(0)} MB/s` : `${Math.round(c.n / (ms / 1000))} items/s`);
    ratios.push(plainMs / streamMs);
    lines.push(`${c.label} round ${r + 1}: natsrpc stream ${rate(streamMs)}, plain nats ${rate(plainMs)}, ratio ${(plainMs / streamMs).toFixed(2)}`);
    console.log(lines.at(-1));
  }
  lines.push(`${c.label}: ratio natsrpc/plain ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)} (goal >= 0.8)`);
  console.log(lines.at(-1));
}
const mem = await peer.request<{ rss: number; maxRss: number }>('memory');
console.log(`memory: producer (worker) RSS ${(mem.rss / MB).toFixed(0)} MB, peak ${(mem.maxRss / MB).toFixed(0)} MB; consumer (caller) RSS ${(process.memoryUsage().rss / MB).toFixed(0)} MB, peak ${((process.resourceUsage().maxRSS * 1024) / MB).toFixed(0)} MB`);
await client.close();
await sub.close();
