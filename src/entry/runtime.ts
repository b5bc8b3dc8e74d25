/**
 * The client's and the worker's entry points for index.ts: `connect` loads the client runtime and
 * `startWorker` the worker runtime (each some thirty modules) on their first call, so importing
 * natsrpc costs little more than importing `nats`, and an application that only calls services
 * never loads the worker. Both are async and connect to the broker anyway: by the time either
 * resolves, everything its calls or handlers need is loaded, so no call pays for it.
 */
import type { RpcClient, ClientOptions } from '../client/client.js';
import type { Handler, WorkerDefinition } from '../worker/definition.js';
import type { WorkerOptions } from '../worker/start-worker.js';
import type { RpcWorker } from '../worker/worker.js';

/**
 * Connects to NATS and returns a client.
 *
 * @example
 * ```ts
 * const client = await connect({ servers: 'nats://127.0.0.1:4222' });
 * const sum = await client.call<number>('math.add', { a: 1, b: 2 });
 * await client.close();
 * ```
 */
export async function connect(options?: ClientOptions): Promise<RpcClient> {
  return (await import('../client/client.js')).connect(options);
}

/**
 * Starts serving a worker definition and resolves once its subscription is live at the broker.
 *
 * @example
 * ```ts
 * const worker = await startWorker(math, { servers: 'nats://127.0.0.1:4222' });
 * process.on('SIGTERM', () => worker.stop().then(() => process.exit(0)));
 * ```
 */
export async function startWorker<M extends Record<string, unknown>>(
  definition: WorkerDefinition<M & Record<string, Handler>> | WorkerDefinition,
  options?: WorkerOptions,
): Promise<RpcWorker> {
  return (await import('../worker/start-worker.js')).startWorker(definition, options);
}
