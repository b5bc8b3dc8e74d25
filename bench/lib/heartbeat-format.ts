/**
 * The heartbeat a simulated worker sends: a valid worker heartbeat envelope (see "Worker
 * heartbeats" in docs/protocol.md), built from fixed figures so that the supervisor judges every
 * simulated worker healthy and only silence makes one lost.
 */
import { encode } from '../../src/protocol/codec.js';
import { PROTOCOL_VERSION } from '../../src/protocol/envelope.js';
import type { WorkerHeartbeat } from '../../src/protocol/heartbeat.js';

export { heartbeatSubject } from '../../src/protocol/subjects.js';

export function simulatedHeartbeat(service: string, workerId: string, seq: number, intervalMs: number, startedAt: number): Uint8Array {
  const hb: WorkerHeartbeat = {
    v: PROTOCOL_VERSION,
    id: workerId,
    service,
    version: '1.0.0',
    host: 'simulated',
    pid: 100_000,
    serverId: 'simulated',
    clientId: 0,
    state: 'serving',
    seq,
    ts: Date.now(),
    startedAt,
    intervalMs,
    inFlight: seq % 8,
    concurrency: 64,
    received: seq * 10,
    ok: seq * 10,
    failed: {},
    expired: 0,
    overruns: 0,
    consecutiveFaults: 0,
    p50Ms: 1.5,
    p99Ms: 4.2,
    loopDelayP99Ms: 2.1,
    stalledMs: 3,
    rssBytes: 80_000_000,
    overdue: 0,
    healthy: null,
  };
  return encode(hb);
}
