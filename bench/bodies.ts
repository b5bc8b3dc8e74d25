/**
 * Large bodies against plain `nats`: a 50 MB body moved between two processes through a broker
 * with a 1 MB max_payload, by a natsrpc call (request body: `client.call` with the bytes; reply
 * body: a handler returning them; chunked, pulled, CRC-32 checked, assembled into one buffer) and
 * by plain `nats` publishing the same chunks (a flush, i.e. a wait for the broker, after each natsrpc
 * window of 16 MiB) to a subscriber that copies them
 * into one buffer. Each pair runs interleaved, 3 rounds in one run; the report gives the ratio's
 * range, the CPU time each process spent per body (medians: on a shared machine it varies much
 * less than the wall time), its main thread's (a receiver's main thread is the slowest stage of a
 * transfer; natsrpc assembles large bodies on another thread) and nats-server's, and both
 * processes' memory.
 *
 *   node --import tsx bench/bodies.ts [--mb 50] [--rounds 3] [--only natsrpc|plain] [--case request|reply] [--profile <dir>]
 *
 * `--only` runs one side in both slots of each pair and `--case` one direction, to profile them
 * (`node --cpu-prof` for this process, `--profile <dir>` for the worker's: bench/profile-summary.ts).
 */
import { parseArgs } from 'node:util';
import { connect as natsConnect } from 'nats';
import { LocalNatsServer } from '../src/broker/local-server.js';
import { connect } from '../src/index.js';
import { BODY_WINDOW_BYTES, chunkBytes } from '../src/protocol/body.js';
import { createLogger } from '../src/logging/logger.js';
import { BenchChild } from './lib/ipc.js';
import { cpuMs, mainThreadCpuMs, processCpuMs } from './lib/cpu.js';

const { values } = parseArgs({ options: { mb: { type: 'string' }, rounds: { type: 'string' }, only: { type: 'string' }, case: { type: 'string' }, profile: { type: 'string' } } });
const ONLY = values.only;
const PEER_ARGV = values.profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${values.profile}`];
const ROUNDS = Number(values.rounds ?? 3);
const MB = 1024 * 1024;
const BYTES = Number(values.mb ?? 50) * MB;
const MAX_PAYLOAD = MB;
const CHUNK = chunkBytes(MAX_PAYLOAD); // the same chunks natsrpc sends

await using nats = await LocalNatsServer.start({ configText: `max_payload: ${MAX_PAYLOAD}\n` });
await using peer = new BenchChild('body-peer.ts', { url: nats.url, chunk: CHUNK }, PEER_ARGV);
await peer.ready;
const client = await connect({ servers: nats.url, logger: createLogger('bench', 'warn') });
const nc = await natsConnect({ servers: nats.url });
const body = new Uint8Array(BYTES).fill(7);
const subject = () => `plain.${Math.random().toString(36).slice(2)}`;

const timed = async (run: () => Promise<void>): Promise<number> => {
  const started = performance.now();
  await run();
  return performance.now() - started;
};

/** Worker to caller: a handler's result, pulled in chunks. */
const natsrpcReply = (): Promise<number> =>
  timed(async () => {
    const got = await client.call<Uint8Array>('bench.make', { bytes: BYTES }, { timeoutMs: 120_000 });
    if (got.length !== BYTES) throw new Error('wrong reply length');
  });

/**
 * Worker to caller, plain: the peer publishes the chunks, this process copies them into one buffer.
 * Subscribing is set up before the clock starts (natsrpc's inbox exists before a call, too); the
 * clock covers asking the peer (as natsrpc's request does), the transfer and the copy.
 */
const plainReply = async (): Promise<number> => {
  const buffer = new Uint8Array(BYTES);
  let received = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const s = nc.subscribe(subject(), {
    callback: (_err, msg) => {
      buffer.set(msg.data, received);
      received += msg.data.length;
      if (received === BYTES) done();
    },
  });
  await nc.flush();
  const ms = await timed(async () => {
    await Promise.all([peer.request('publish', { subject: s.getSubject(), bytes: BYTES }), all]);
  });
  s.unsubscribe();
  return ms;
};

/** Caller to worker: the call's payload, pushed in chunks as the worker pulls. */
const natsrpcRequest = () =>
  timed(async () => {
    if ((await client.call<number>('bench.sink', body, { timeoutMs: 120_000 })) !== BYTES) throw new Error('wrong request length');
  });

/** Caller to worker, plain: this process publishes the chunks, the peer copies them and says when all arrived. */
const plainRequest = async () => {
  const target = subject();
  const doneSubject = subject();
  const done = new Promise<void>((resolve) => nc.subscribe(doneSubject, { max: 1, callback: () => resolve() }));
  await nc.flush();
  await peer.request('expect', { subject: target, bytes: BYTES, done: doneSubject });
  return timed(async () => {
    for (let o = 0; o < BYTES; o += CHUNK) {
      nc.publish(target, body.subarray(o, Math.min(BYTES, o + CHUNK)));
      if (Math.floor((o + CHUNK) / BODY_WINDOW_BYTES) > Math.floor(o / BODY_WINDOW_BYTES)) await nc.flush();
    }
    await done;
  });
};

/** CPU time nats-server has spent so far, in ms. */
const brokerCpuMs = (): number => processCpuMs(nats.pid);

interface Measured {
  ms: number;
  /** CPU ms of the caller's and the worker's process (all threads), their main threads', and nats-server's. */
  caller: number;
  worker: number;
  callerMain: number;
  workerMain: number;
  broker: number;
}

/** One run of `run` (which returns its own wall time) with the CPU time the three processes spent on it, in ms. */
const measured = async (run: () => Promise<number>): Promise<Measured> => {
  const [caller0, callerMain0] = [cpuMs(), mainThreadCpuMs()];
  const [worker0, workerMain0] = await peer.request<[number, number]>('cpu');
  const broker0 = brokerCpuMs();
  const ms = await run();
  const [caller, callerMain] = [cpuMs() - caller0, mainThreadCpuMs() - callerMain0];
  const broker = brokerCpuMs() - broker0;
  const [worker1, workerMain1] = await peer.request<[number, number]>('cpu');
  return { ms, caller, worker: worker1 - worker0, callerMain, workerMain: workerMain1 - workerMain0, broker };
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const CASES = [
  { label: `${BYTES / MB} MB request body (caller -> worker)`, natsrpc: natsrpcRequest, plain: plainRequest },
  { label: `${BYTES / MB} MB reply body (worker -> caller)`, natsrpc: natsrpcReply, plain: plainReply },
];
for (const c of CASES.filter((_, i) => values.case === undefined || values.case === ['request', 'reply'][i])) {
  if (ONLY !== 'plain') await c.natsrpc(); // warm both paths
  if (ONLY !== 'natsrpc') await c.plain();
  const ratios: number[] = [];
  const runs = { natsrpc: [] as Measured[], plain: [] as Measured[] };
  for (let r = 0; r < ROUNDS; r++) {
    const plain = await measured(ONLY === 'natsrpc' ? c.natsrpc : c.plain);
    const natsrpc = await measured(ONLY === 'plain' ? c.plain : c.natsrpc);
    runs.plain.push(plain);
    runs.natsrpc.push(natsrpc);
    const rate = (ms: number) => `${(BYTES / MB / (ms / 1000)).toFixed(0)} MB/s (${ms.toFixed(0)} ms)`;
    ratios.push(plain.ms / natsrpc.ms);
    console.log(`${c.label} round ${r + 1}: natsrpc ${rate(natsrpc.ms)}, plain nats ${rate(plain.ms)}, ratio ${(plain.ms / natsrpc.ms).toFixed(2)}`);
  }
  console.log(`${c.label}: ratio natsrpc/plain ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}, median ${median(ratios).toFixed(2)} (goal >= 0.8)`);
  for (const side of ['natsrpc', 'plain'] as const) {
    const r = runs[side];
    const ms = (key: keyof Measured) => median(r.map((x) => x[key])).toFixed(0);
    console.log(`  ${side} CPU per body (median): caller ${ms('caller')} ms (main thread ${ms('callerMain')}), worker ${ms('worker')} ms (main thread ${ms('workerMain')}), nats-server ${ms('broker')} ms`);
  }
}
const mem = await peer.request<{ rss: number; maxRss: number }>('memory');
const mb = (n: number) => `${(n / MB).toFixed(0)} MB`;
console.log(`memory: worker RSS ${mb(mem.rss)}, peak ${mb(mem.maxRss)}; caller RSS ${mb(process.memoryUsage().rss)}, peak ${mb(process.resourceUsage().maxRSS * 1024)}`);
await client.close();
await nc.close();
