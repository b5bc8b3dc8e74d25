/**
 * Answers to NATS service API discovery (`$SRV.PING`, `$SRV.INFO`, `$SRV.STATS`; ADR-32, see
 * docs/protocol.md "Service discovery"), checked field by field before use: anything on the bus
 * may answer, so an answer of the wrong shape is counted and left out, never trusted.
 */

export type DiscoveryVerb = 'PING' | 'INFO' | 'STATS';

export interface PingAnswer {
  type: string;
  name: string;
  id: string;
  version: string;
  metadata: Record<string, string>;
}

export interface EndpointInfo {
  name: string;
  subject: string;
  queue_group: string;
}

export interface InfoAnswer extends PingAnswer {
  description: string;
  endpoints: EndpointInfo[];
}

export interface EndpointStats extends EndpointInfo {
  num_requests: number;
  num_errors: number;
  last_error: string;
  processing_time: number;
  average_processing_time: number;
}

export interface StatsAnswer extends PingAnswer {
  started: string;
  endpoints: EndpointStats[];
}

export interface AnswerOf {
  PING: PingAnswer;
  INFO: InfoAnswer;
  STATS: StatsAnswer;
}

/** At most this many endpoints are read from one answer. */
export const MAX_ENDPOINTS_PER_ANSWER = 1_000;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function metadataOf(v: unknown): Record<string, string> | null {
  if (v === null || v === undefined) return {};
  if (!isObject(v)) return null;
  const out: Record<string, string> = {};
  for (const [k, value] of Object.entries(v)) {
    if (typeof value !== 'string') return null;
    out[k] = value;
  }
  return out;
}

function identityOf(v: Record<string, unknown>): PingAnswer | null {
  const [type, name, id, version] = [str(v.type), str(v.name), str(v.id), str(v.version)];
  const metadata = metadataOf(v.metadata);
  if (type === null || name === null || id === null || version === null || metadata === null || name === '' || id === '') return null;
  return { type, name, id, version, metadata };
}

function endpointOf(v: unknown): EndpointInfo | null {
  if (!isObject(v)) return null;
  const [name, subject] = [str(v.name), str(v.subject)];
  if (name === null || subject === null) return null;
  return { name, subject, queue_group: str(v.queue_group) ?? '' };
}

function endpointStatsOf(v: unknown): EndpointStats | null {
  const e = endpointOf(v);
  if (e === null || !isObject(v)) return null;
  const [requests, errors, time, avg] = [num(v.num_requests), num(v.num_errors), num(v.processing_time), num(v.average_processing_time)];
  if (requests === null || errors === null) return null;
  return { ...e, num_requests: requests, num_errors: errors, last_error: str(v.last_error) ?? '', processing_time: time ?? 0, average_processing_time: avg ?? 0 };
}

function listOf<T>(v: unknown, item: (x: unknown) => T | null): T[] | null {
  if (!Array.isArray(v) || v.length > MAX_ENDPOINTS_PER_ANSWER) return null;
  const out: T[] = [];
  for (const x of v) {
    const checked = item(x);
    if (checked === null) return null;
    out.push(checked);
  }
  return out;
}

/** The answer checked for `verb`, or null when it does not have that shape. */
export function checkAnswer<V extends DiscoveryVerb>(verb: V, value: unknown): AnswerOf[V] | null {
  if (!isObject(value)) return null;
  const identity = identityOf(value);
  if (identity === null) return null;
  if (verb === 'PING') return identity as AnswerOf[V];
  if (verb === 'INFO') {
    const endpoints = listOf(value.endpoints ?? [], endpointOf);
    return endpoints === null ? null : ({ ...identity, description: str(value.description) ?? '', endpoints } as AnswerOf[V]);
  }
  const endpoints = listOf(value.endpoints ?? [], endpointStatsOf);
  return endpoints === null ? null : ({ ...identity, started: str(value.started) ?? '', endpoints } as AnswerOf[V]);
}
