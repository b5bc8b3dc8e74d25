/**
 * NATS service discovery stats (`$SRV.STATS`, ADR-32): asked of every service instance on the bus
 * when no supervisor leads, so the page still shows who serves what. Replies are JSON from any
 * service on the bus, natsrpc or not: bounded in size and count, fields checked one by one.
 */
import type { Msg, NatsConnection } from 'nats';
import { gatherAnswers } from '../connection/request.js';
import type { SrvEndpointView } from './view.js';

/** Replies read per poll at most. */
export const MAX_SRV_REPLIES = 2_000;
/** A reply larger than this is skipped. */
const MAX_SRV_REPLY_BYTES = 64 * 1024;
const MAX_TEXT = 256;
const decoder = new TextDecoder();

const text = (v: unknown): string => (typeof v === 'string' ? v.slice(0, MAX_TEXT) : '');
const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);

export async function pollSrvStats(nc: NatsConnection, maxWaitMs: number): Promise<SrvEndpointView[]> {
  const out: SrvEndpointView[] = [];
  const replies: Msg[] = [];
  // Not nc.requestMany(): it parses an empty answer's NATS headers before anything bounds them.
  // A publish that fails (the connection is closing) is a poll with no replies.
  await gatherAnswers(nc, '$SRV.STATS', new Uint8Array(0), maxWaitMs, (msg) => replies.push(msg) >= MAX_SRV_REPLIES).catch(() => undefined);
  for (const msg of replies) {
    if (msg.data.length > MAX_SRV_REPLY_BYTES) continue;
    let body: unknown;
    try {
      body = JSON.parse(decoder.decode(msg.data));
    } catch {
      continue;
    }
    if (typeof body !== 'object' || body === null) continue;
    const b = body as Record<string, unknown>;
    const endpoints = Array.isArray(b.endpoints) ? b.endpoints.slice(0, 64) : [];
    for (const e of endpoints) {
      if (typeof e !== 'object' || e === null) continue;
      const ep = e as Record<string, unknown>;
      out.push({
        service: text(b.name),
        instance: text(b.id),
        endpoint: text(ep.name),
        requests: count(ep.num_requests),
        errors: count(ep.num_errors),
        lastError: text(ep.last_error),
        averageMs: Math.round(count(ep.average_processing_time) / 1_000) / 1_000,
      });
    }
  }
  return out.sort((a, b) => (a.service + a.instance + a.endpoint < b.service + b.instance + b.endpoint ? -1 : 1));
}
