/**
 * NATS Service API discovery (ADR-32, "micro"): every worker answers `$SRV.PING`, `$SRV.INFO` and
 * `$SRV.STATS`, for all services, by service name, and by name and worker id, so standard NATS
 * tooling (`nats micro ls`, `nc.services.client()`) finds natsrpc workers. Each method is one
 * endpoint (`<prefix>.<service>.<method>` in the service's queue group) with its own counters.
 * Discovery subscriptions have no queue group: every worker answers for itself.
 */
import type { Msg, NatsConnection, Subscription } from 'nats';
import type { Logger } from '../logging/logger.js';
import { queueGroup, requestSubject } from '../protocol/subjects.js';
import type { ControlSecurity } from './control-auth.js';

export const SERVICE_API_PREFIX = '$SRV';
const MS_TO_NS = 1_000_000;

export interface DiscoveredWorker {
  service: string;
  id: string;
  version: string;
  prefix: string;
  description?: string;
  methods: string[];
  /** Read at each answer: the worker's state and host, as string metadata. */
  metadata: () => Record<string, string>;
}

/** A worker's discovery metadata: how it checks control commands (and the warning when unsigned in production), its state now, its host. */
export function workerMetadata(security: Readonly<ControlSecurity>, host: string, state: () => string): () => Record<string, string> {
  const fixed: Record<string, string> = { 'natsrpc.control': security.control };
  if (security.warning !== undefined) fixed['natsrpc.warning'] = security.warning;
  return () => ({ 'natsrpc.state': state(), 'natsrpc.host': host, ...fixed });
}

class EndpointStats {
  requests = 0;
  errors = 0;
  processingMs = 0;
  lastError = '';
  constructor(readonly name: string, readonly subject: string) {}
}

export class ServiceDiscovery {
  readonly #worker: DiscoveredWorker;
  readonly #log: Logger;
  readonly #endpoints = new Map<string, EndpointStats>();
  readonly #subs: Subscription[];
  readonly #started = new Date().toISOString();
  readonly #encoder = new TextEncoder();

  constructor(nc: NatsConnection, worker: DiscoveredWorker, log: Logger) {
    this.#worker = worker;
    this.#log = log;
    for (const m of worker.methods) this.#endpoints.set(m, new EndpointStats(m, requestSubject(worker.prefix, worker.service, m)));
    const subjects = [`${SERVICE_API_PREFIX}.*`, `${SERVICE_API_PREFIX}.*.${worker.service}`, `${SERVICE_API_PREFIX}.*.${worker.service}.${worker.id}`];
    this.#subs = subjects.map((s) => nc.subscribe(s, { callback: this.#onRequest }));
  }

  /** Counts one handled call of `method`; `error` is `code: message` when it failed. */
  record(method: string, elapsedMs: number, error: string | null): void {
    const e = this.#endpoints.get(method);
    if (e === undefined) return;
    e.requests++;
    e.processingMs += elapsedMs;
    if (error !== null) {
      e.errors++;
      e.lastError = error;
    }
  }

  /** Stops answering (the worker is stopping). */
  close(): void {
    for (const s of this.#subs) s.unsubscribe();
  }

  readonly #onRequest = (err: Error | null, msg: Msg): void => {
    if (err !== null || !msg.reply) return;
    const verb = msg.subject.split('.', 2)[1];
    let body: object;
    if (verb === 'PING') body = this.#ping();
    else if (verb === 'INFO') body = this.#info();
    else if (verb === 'STATS') body = this.#stats();
    else return;
    try {
      msg.respond(this.#encoder.encode(JSON.stringify(body)));
    } catch (e) {
      this.#log.warn({ err: e }, 'service discovery reply failed');
    }
  };

  #identity(type: string) {
    const w = this.#worker;
    return { type: `io.nats.micro.v1.${type}`, name: w.service, id: w.id, version: w.version, metadata: w.metadata() };
  }

  #ping(): object {
    return this.#identity('ping_response');
  }

  #info(): object {
    const queue = queueGroup(this.#worker.service);
    return {
      ...this.#identity('info_response'),
      description: this.#worker.description ?? '',
      endpoints: [...this.#endpoints.values()].map((e) => ({ name: e.name, subject: e.subject, queue_group: queue, metadata: null })),
    };
  }

  #stats(): object {
    const queue = queueGroup(this.#worker.service);
    return {
      ...this.#identity('stats_response'),
      started: this.#started,
      endpoints: [...this.#endpoints.values()].map((e) => ({
        name: e.name,
        subject: e.subject,
        queue_group: queue,
        num_requests: e.requests,
        num_errors: e.errors,
        last_error: e.lastError,
        processing_time: Math.round(e.processingMs * MS_TO_NS),
        average_processing_time: e.requests === 0 ? 0 : Math.round((e.processingMs * MS_TO_NS) / e.requests),
      })),
    };
  }
}
