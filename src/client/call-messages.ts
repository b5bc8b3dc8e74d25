/**
 * What a call sends besides its payload's bytes: the request envelope of each attempt (which ack
 * it asks for, whether workers index it for cancellation) and the cancel of attempts still out.
 */
import { encode } from '../protocol/codec.js';
import { MAX_CANCEL_REPLIES, PROTOCOL_VERSION, type RequestEnvelope } from '../protocol/envelope.js';
import { cancelSubject } from '../protocol/subjects.js';
import type { CallSpec } from './client-options.js';
import type { CallTransport } from './transport.js';

/** The request of attempt `no` of call `id`; `payload` undefined when it travels as a body. */
export function requestEnvelope(s: CallSpec, id: string, no: number, budgetMs: number, payload: unknown): RequestEnvelope {
  return {
    v: PROTOCOL_VERSION,
    id,
    method: s.target.method,
    budgetMs,
    attempt: no,
    sentAt: Date.now(),
    headers: s.headers,
    payload,
    // A first attempt, idempotent or not, is acked only when its handler did not finish at once
    // (late ack), so a fast call costs no ack. An ack before every idempotent handler cost an
    // extra message per socket read and caller: 1-8 µs more CPU (client + workers) per call than
    // a plain call at 64 and 256 in flight, 48-89 µs at 1, and 0.80-0.82 of plain calls'
    // throughput on a quiet machine (bench scenario 1, docs/benchmarks.md *Acks of idempotent
    // calls*). Later attempts of an idempotent call are acked before their handler, so that a
    // request that kills its workers is counted (query of death).
    ack: s.idempotent && no > 1 ? true : undefined,
    lateAck: s.idempotent && no > 1 ? undefined : true,
    // Hedge losers, per-attempt timeouts and aborts are cancelled by id. Any other cancel (a
    // plain call's at its deadline, the other attempt of an idempotent call resent without an
    // ack) finds its handler without the index (docs/protocol.md, *Cancellation*); indexing
    // every idempotent request cost the worker a Map and a Set entry per request.
    cancellable: s.hedge !== undefined || s.signal !== undefined || s.retry.perAttemptTimeoutMs !== undefined ? true : undefined,
  };
}

/**
 * Tells the workers to abort the handlers of these attempts of call `id` (`deadline` when that is
 * why). A cancel names each attempt by the random token of its reply subject, which only this
 * caller and the worker holding the attempt know: nobody else can cancel it. While the connection
 * is down, the cancel goes once it is back within `waitMs` (0: not at all).
 */
export function publishCancel(t: CallTransport, service: string, id: string, tokens: readonly string[], deadline: boolean | undefined, waitMs = 0): void {
  if (tokens.length === 0) return;
  if (!t.isConnected()) {
    // The connection dropped with attempts out: after a reconnect their workers' probes find the
    // caller's inbox subscribed again, so they would run on to their budget unless told.
    if (waitMs > 0) void t.whenConnected(waitMs).then((up) => up && publishCancel(t, service, id, tokens, deadline));
    return;
  }
  const subject = cancelSubject(t.prefix, service);
  try {
    for (let i = 0; i < tokens.length; i += MAX_CANCEL_REPLIES) {
      t.publish(subject, encode({ v: PROTOCOL_VERSION, id, replies: tokens.slice(i, i + MAX_CANCEL_REPLIES), deadline }));
    }
  } catch {
    // best effort: the worker's own deadline still bounds the handler
  }
}
