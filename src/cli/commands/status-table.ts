/** Renders a status reply as one text table per service (text from the bus escaped). */
import type { StatusReply } from '../../supervisor/status.js';
import { escapeControl } from '../escape.js';
import { textTable } from '../text-table.js';

const COLUMNS = ['WORKER', 'HOST/PID', 'STATE', 'HEALTH', 'INFLIGHT', 'CALLS/S', 'P99 MS', 'ERRORS', 'HB AGE', 'LAST DRAIN REASON'];

export function renderStatus(status: StatusReply): string {
  const s = status.supervisor;
  const out = [`supervisor ${escapeControl(s.id)} (leader, started ${new Date(s.startedAt).toISOString()})`];
  if (status.services.length === 0) out.push('', 'no workers seen');
  for (const svc of status.services) {
    const d = svc.deadline ? `  timeout default ${svc.deadline.defaultMs} ms, max ${svc.deadline.maxMs} ms` : '';
    out.push('', `service ${escapeControl(svc.service)} (${svc.workers.length} workers)${d}`);
    out.push(
      textTable(
        COLUMNS,
        svc.workers.map((w) => [
          w.id,
          `${w.host}/${w.pid}`,
          w.state,
          w.health,
          `${w.inFlight}/${w.concurrency}`,
          String(w.callsPerSec),
          String(w.p99Ms),
          String(w.errors),
          `${(w.heartbeatAgeMs / 1_000).toFixed(1)}s`,
          w.lastDrainReason ?? '-',
        ]),
      ),
    );
  }
  if (status.truncated) out.push('', '(truncated: too many workers for one reply)');
  return out.join('\n');
}
