/**
 * A worker process for the isolation measurement (bench/isolation.ts): a natsrpc worker with
 * supervision on (heartbeats, control) whose one method answers at once, or fails with an
 * unexpected error (INTERNAL, a worker fault) from the moment it is told to.
 */
import { defineWorker, startWorker } from '../../src/index.js';
import { createLogger } from '../../src/logging/logger.js';
import { serveCommands } from '../lib/ipc.js';

const config = JSON.parse(process.argv[2]!) as { url: string; service: string; heartbeatIntervalMs?: number };
let failing = false;

async function main(): Promise<void> {
  const definition = defineWorker({
    service: config.service,
    methods: {
      work: () => {
        if (failing) throw new Error('simulated crash');
        return { pid: process.pid };
      },
    },
  });
  const worker = await startWorker(definition, {
    servers: config.url,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    logger: createLogger('bench-failing-worker', 'warn'),
  });
  serveCommands(
    {
      id: () => worker.id,
      fail: () => {
        failing = true;
        return worker.id;
      },
      state: () => worker.state,
    },
    () => worker.stop(),
  );
}

main().catch((err) => {
  process.stderr.write(`bench failing worker failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
