/**
 * Decoding what the supervisor hears on the bus. Every body is hostile until proven otherwise:
 * size-capped, decoded with the request limits, validated, and checked against its subject.
 */
import { decodeChecked } from '../protocol/codec.js';
import { checkHeartbeat, type WorkerHeartbeat } from '../protocol/heartbeat.js';
import { checkSupervisorHeartbeat, type SupervisorHeartbeat } from '../protocol/supervisor-envelopes.js';

/** Heartbeats are small; anything larger is refused before decoding. */
export const MAX_HEARTBEAT_BYTES = 16_384;

function decode(data: Uint8Array): unknown {
  if (data.length > MAX_HEARTBEAT_BYTES) throw new Error(`${data.length} bytes exceed ${MAX_HEARTBEAT_BYTES}`);
  return decodeChecked(data);
}

/** The worker heartbeat on `subject`, or the reason it is refused. */
export function parseWorkerHeartbeat(prefix: string, subject: string, data: Uint8Array): WorkerHeartbeat | string {
  try {
    const value = decode(data);
    const reason = checkHeartbeat(value);
    if (reason !== null) return reason;
    const hb = value as WorkerHeartbeat;
    if (subject !== `${prefix}._hb.${hb.service}.${hb.id}`) return 'subject does not match service and id';
    return hb;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The supervisor heartbeat, or the reason it is refused. */
export function parseSupervisorHeartbeat(data: Uint8Array): SupervisorHeartbeat | string {
  try {
    const value = decode(data);
    return checkSupervisorHeartbeat(value) ?? (value as SupervisorHeartbeat);
  } catch (err) {
    return (err as Error).message;
  }
}
