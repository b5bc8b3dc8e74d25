/**
 * The heartbeat a simulated worker sends: the fields the worker heartbeat carries (id, service,
 * version, host, pid, state, in-flight and limit, counters, latency, event-loop delay, RSS,
 * overdue, health check). Kept in one place so the generator follows the wire format of
 * docs/protocol.md when it changes.
 */
import { encode } from '../../src/protocol/codec.js';

export const HEARTBEAT_VERSION = 1;

/** Subject a simulated worker heartbeats on. */
export function heartbeatSubject(prefix: string, service: string, workerId: string): string {
  return `${prefix}._hb.${service}.${workerId}`;
}

export function simulatedHeartbeat(service: string, workerId: string, seq: number, intervalMs: number): Uint8Array {
  return encode({
    v: HEARTBEAT_VERSION,
    id: workerId,
    service,
    version: '1.0.0',
    host: 'sim',
    pid: 100_000 + seq,
    state: 'serving',
    seq,
    intervalMs,
    inFlight: seq % 8,
    concurrency: 64,
    ok: seq * 10,
    failed: {},
    expired: 0,
    p50Ms: 1.5,
    p99Ms: 4.2,
    loopDelayP99Ms: 2.1,
    sinceProgressMs: 3,
    rssBytes: 80_000_000,
    overdue: 0,
    healthy: true,
    sentAt: Date.now(),
  });
}
