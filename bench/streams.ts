/**
 * Stream throughput against plain `nats`: the same items (100 B, then 64 KB) moved from one
 * process to another, by a natsrpc stream (`client.stream`, credit flow control, ordered and
 * complete or an error) and by a plain publisher/subscriber (publish, flush every 256 KB, count on
 * arrival). Each pair runs 3 times interleaved in one run; the report gives the ratio's range and
 * median, the CPU time each process (and nats-server) spent per item (100 B) or per MB (64 KB),
 * medians (on a shared machine it varies much less than the wall time), and both processes' memory.
 * A round moves 1,000,000 small items (about 95 MB) or 8,000 large ones (500 MB): long enough, at
 * hundreds of thousands of items or MB a second, that start-up and scheduling hiccups do not decide it.
 *
 *   node --import tsx bench/streams.ts [--items 1000000] [--big-items 8000] [--rounds 3]
 *
 * To profile one side: `--only natsrpc` (or `plain`) runs that side alone, and `--prof-dir DIR`
 * starts the producing process with `--cpu-prof` into DIR (run this one with `node --cpu-prof`).
 */
import { parseArgs } from 'node:util';
import { connect as natsConnect } from 'nats';
import { LocalNatsServer } from '../src/broker/local-server.js';
import { connect } from '../src/index.js';
import { createLogger } from '../src/logging/logger.js';
import { BenchChild } from './lib/ipc.js';
import { withCpu, type CpuMeasured } from './lib/cpu.js';
import { median } from './lib/context.js';

const { values } = parseArgs({
  options: { items: { type: 'string' }, 'big-items': { type: 'string' }, rounds: { type: 'string' }, only: { type: 'string' }, 'prof-dir': { type: 'string' } },
});
const ROUNDS = Number(values.rounds ?? 3);
const ONLY = values.only;
if (ONLY !== undefined && ONLY !== 'natsrpc' && ONLY !== 'plain') throw new TypeError(`--only must be natsrpc or plain, not ${ONLY}`);
const CASES = [
  { label: '100 B items', size: 100, n: Number(values.items ?? 1_000_000) },
  { label: '64 KB items', size: 64 * 1024, n: Number(values['big-items'] ?? 8_000) },
];
const MB = 1024 * 1024;

await using nats = await LocalNatsServer.start();
const profArgs = values['prof-dir'] === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', values['prof-dir']];
await using peer = new BenchChild('stream-peer.ts', { url: nats.url }, profArgs);
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
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`plain got ${count} of ${n} (slow consumer drops)`)), 60_000)));
  await Promise.race([all, late]).finally(() => clearTimeout(timer));
  const ms = performance.now() - started;
  s.unsubscribe();
  return ms;
}

for (const c of CASES.filter((x) => x.n > 0)) {
  if (ONLY !== 'plain') await viaStream(Math.min(c.n, 1_000), c.size); // warm both paths
  if (ONLY !== 'natsrpc') await viaPlain(Math.min(c.n, 1_000), c.size);
  const big = c.size >= 1024;
  const mbs = (c.n * c.size) / MB;
  const rate = (ms: number) => (big ? `${(mbs / (ms / 1000)).toFixed(0)} MB/s` : `${Math.round(c.n / (ms / 1000))} items/s`);
  /** CPU per unit: µs per item for small items, ms per MB for large ones. */
  const perUnit = (cpuMs: number) => (big ? `${(cpuMs / mbs).toFixed(2)} ms/MB` : `${((cpuMs * 1000) / c.n).toFixed(2)} µs/item`);
  const ratios: number[] = [];
  const runs = { natsrpc: [] as CpuMeasured[], plain: [] as CpuMeasured[] };
  for (let r = 0; r < ROUNDS; r++) {
    if (ONLY !== 'natsrpc') runs.plain.push(await withCpu(peer, nats.pid, () => viaPlain(c.n, c.size)));
    if (ONLY !== 'plain') runs.natsrpc.push(await withCpu(peer, nats.pid, () => viaStream(c.n, c.size)));
    const [plain, natsrpc] = [runs.plain.at(-1), runs.natsrpc.at(-1)];
    const parts = [natsrpc && `natsrpc stream ${rate(natsrpc.ms)}`, plain && `plain nats ${rate(plain.ms)}`];
    if (plain !== undefined && natsrpc !== undefined) {
      ratios.push(plain.ms / natsrpc.ms);
      parts.push(`ratio ${(plain.ms / natsrpc.ms).toFixed(2)}`);
    }
    console.log(`${c.label} round ${r + 1}: ${parts.filter(Boolean).join(', ')}`);
  }
  if (ratios.length > 0) {
    console.log(`${c.label}: ratio natsrpc/plain ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}, median ${median(ratios).toFixed(2)} (goal >= 0.8)`);
  }
  for (const side of ['natsrpc', 'plain'] as const) {
    const r = runs[side];
    if (r.length === 0) continue;
    const cpu = (key: 'self' | 'peer' | 'broker') => perUnit(median(r.map((x) => x[key])));
    console.log(`  ${side} CPU (median): consumer (caller) ${cpu('self')}, producer (worker) ${cpu('peer')}, nats-server ${cpu('broker')}`);
  }
}
const mem = await peer.request<{ rss: number; maxRss: number }>('memory');
console.log(`memory: producer (worker) RSS ${(mem.rss / MB).toFixed(0)} MB, peak ${(mem.maxRss / MB).toFixed(0)} MB; consumer (caller) RSS ${(process.memoryUsage().rss / MB).toFixed(0)} MB, peak ${((process.resourceUsage().maxRSS * 1024) / MB).toFixed(0)} MB`);
await client.close();
await sub.close();
