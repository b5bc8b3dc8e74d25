/**
 * Publishes the broker refused to the worker's connection: nats-server answers a publish outside
 * the identity's permissions with an asynchronous permissions violation, and the message is gone
 * (a reply to a request whose `allow_responses` permission expired: docs/protocol.md, *Long
 * calls*). The worker counts each one (`refusedPublishes` in its stats) and logs it, at most once
 * a minute with the number left out, so a lost reply is never silent.
 */
import type { NatsConnection } from 'nats';
import type { Logger } from '../logging/logger.js';
import { LogThrottle } from '../logging/log-throttle.js';
import type { WorkerStats } from './stats.js';

const REFUSAL_LOG_PERIOD_MS = 60_000;

export function watchPublishRefusals(nc: NatsConnection, stats: WorkerStats, log: Logger): void {
  const throttle = new LogThrottle(REFUSAL_LOG_PERIOD_MS);
  void (async () => {
    for await (const s of nc.status()) {
      const refused = (s as { permissionContext?: { operation?: string; subject?: string } }).permissionContext;
      if (s.type !== 'error' || refused?.operation !== 'publish') continue;
      stats.refusedPublishes++;
      const suppressed = throttle.take(performance.now());
      if (suppressed !== null) log.warn({ subject: refused.subject, suppressed }, 'the broker refused a publish (a reply sent after allow_responses expired?)');
    }
  })().catch(() => undefined);
}
