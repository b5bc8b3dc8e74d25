/**
 * The worker-side process of bench/bodies.ts: a natsrpc worker that takes a body (`bench.sink`)
 * and returns one (`bench.make`), and the plain-`nats` baseline moving the same bytes in the same
 * chunks: publishing them to a subject, or receiving them into one buffer and saying when all
 * arrived. Both sides use pre-made `Uint8Array`s, so the work left is what each moves.
 */
import { connect as natsConnect } from 'nats';
import { defineWorker, startWorker } from '../../src/index.js';
import { createLogger } from '../../src/logging/logger.js';
import { BODY_WINDOW_BYTES } from '../../src/protocol/body.js';
import { serveCommands } from '../lib/ipc.js';
import { cpuMs, mainThreadCpuMs } from '../lib/cpu.js';

const { url, chunk } = JSON.parse(process.argv[2]!) as { url: string; chunk: number };
/** The plain publisher flushes (waits for the broker to have taken what it sent) after one natsrpc window. */
const FLUSH_BYTES = BODY_WINDOW_BYTES;
const bodies = new Map<number, Uint8Array>();
const body = (bytes: number) => {
  let b = bodies.get(bytes);
  if (b === undefined) bodies.set(bytes, (b = new Uint8Array(bytes).fill(7)));
  return b;
};

const worker = await startWorker(
  defineWorker({
    service: 'bench',
    methods: {
      sink: (data: Uint8Array) => data.length,
      make: ({ bytes }: { bytes: number }) => body(bytes),
    },
  }),
  { servers: url, logger: createLogger('bench-body', 'warn'), heartbeat: false },
);
const nc = await natsConnect({ servers: url });

serveCommands(
  {
    /** Publishes `bytes` bytes in chunks of `chunk` on `subject`. */
    publish: async ({ subject, bytes }: { subject: string; bytes: number }) => {
      const data = body(bytes);
      for (let o = 0; o < bytes; o += chunk) {
        nc.publish(subject, data.subarray(o, Math.min(bytes, o + chunk)));
        if (Math.floor((o + chunk) / FLUSH_BYTES) > Math.floor(o / FLUSH_BYTES)) await nc.flush();
      }
      await nc.flush();
    },
    /** Receives `bytes` bytes on `subject` into one buffer, then publishes an empty message on `done`. */
    expect: async ({ subject, bytes, done }: { subject: string; bytes: number; done: string }) => {
      const buffer = new Uint8Array(bytes);
      let received = 0;
      const sub = nc.subscribe(subject, {
        callback: (_err, msg) => {
          buffer.set(msg.data, received);
          received += msg.data.length;
          if (received === bytes) {
            nc.publish(done);
            sub.unsubscribe();
          }
        },
      });
      await nc.flush();
    },
    memory: () => ({ rss: process.memoryUsage().rss, maxRss: process.resourceUsage().maxRSS * 1024 }),
    /** CPU time so far, in ms: the process's, and its main thread's. */
    cpu: () => [cpuMs(), mainThreadCpuMs()],
  },
  async () => {
    await worker.stop();
    await nc.close();
  },
);
