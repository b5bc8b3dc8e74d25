/**
 * How a call's outcome leaves the worker: counted, recorded for service discovery, turned into
 * reply bytes (or, for a result too long for one message, a body offer) and published. Handler
 * errors become wire errors here: an `RpcError` travels as it is; anything else is an `INTERNAL`
 * whose message and stack stay in the worker's log.
 */
import type { NatsConnection } from 'nats';
import { encodeBodyParts, encodeReply } from '../protocol/codec.js';
import { PROTOCOL_VERSION, type WireError } from '../protocol/envelope.js';
import { defaultRetryable, RpcError, type FrameworkErrorCode } from '../protocol/errors.js';
import type { Logger } from '../logging/logger.js';
import type { WorkerBodies } from './bodies.js';
import type { CallContext } from './context.js';
import type { ServiceDiscovery } from './service-discovery.js';
import type { WorkerStats } from './stats.js';

/** The codes a worker answers with before any handler runs. */
export type RefusalCode = 'BAD_REQUEST' | 'METHOD_NOT_FOUND' | 'OVERLOADED' | 'DRAINING' | 'PAYLOAD_TOO_LARGE';

export function okReply(id: string, result: unknown): Uint8Array {
  return encodeReply({ v: PROTOCOL_VERSION, id, ok: true, result });
}

export function errorReply(id: string, error: WireError): Uint8Array {
  return encodeReply({ v: PROTOCOL_VERSION, id, ok: false, error });
}

/** A wire error for a framework-chosen code. */
export function frameworkError(code: FrameworkErrorCode, message: string): WireError {
  return { code, message, retryable: defaultRetryable(code), business: false };
}

/** The wire form of what a handler threw, or `null` when it is not an RpcError (an INTERNAL). */
export function wireErrorOf(err: unknown): WireError | null {
  if (!(err instanceof RpcError)) return null;
  const wire: WireError = { code: err.code, message: err.message, retryable: err.retryable, business: err.business };
  if (err.details !== undefined) wire.details = err.details;
  return wire;
}

export function internalError(requestId: string): WireError {
  return frameworkError('INTERNAL', `internal error in handler (request ${requestId}); see the worker log`);
}

/** One worker's replies: what each outcome counts as, and the bytes that go back to the caller. */
export class WorkerReplies {
  readonly #nc: NatsConnection;
  readonly #stats: WorkerStats;
  readonly #discovery: ServiceDiscovery | null;
  /** Where a result too long for one message goes: offered as a body its caller pulls in chunks. */
  readonly #bodies: WorkerBodies;
  readonly #log: Logger;

  constructor(nc: NatsConnection, stats: WorkerStats, discovery: ServiceDiscovery | null, bodies: WorkerBodies, log: Logger) {
    this.#nc = nc;
    this.#stats = stats;
    this.#discovery = discovery;
    this.#bodies = bodies;
    this.#log = log;
  }

  /** The reply to a handler that returned `result`; a result too long for one message is offered as a body on `reply`. */
  succeeded(ctx: CallContext, reply: string, elapsedMs: number, result: unknown): Uint8Array {
    const maxPayload = this.#bodies.maxPayload();
    if (result instanceof Uint8Array && result.length > maxPayload) {
      // A binary is offered as it is, not copied into a reply first.
      const offer = this.#bodies.offer(reply, ctx.requestId, encodeBodyParts(result, 'result'));
      if (offer !== null) {
        this.#countSuccess(ctx, elapsedMs);
        return offer;
      }
    }
    const data = this.#okReply(ctx, elapsedMs, result);
    if (data.length <= maxPayload) return data;
    // The result is the ok reply's last value: its bytes are the body, not copied.
    return this.#bodies.offer(reply, ctx.requestId, [data.subarray(okReply(ctx.requestId, null).length - 1)]) ?? data;
  }

  /** The ok reply to a handler that returned `result`, in one message. */
  #okReply(ctx: CallContext, elapsedMs: number, result: unknown): Uint8Array {
    try {
      const data = okReply(ctx.requestId, result);
      this.#countSuccess(ctx, elapsedMs);
      return data;
    } catch (err) {
      // A result that cannot travel unchanged (value-check.ts) names its path and type: that goes to
      // the log and to the endpoint's last error in $SRV.STATS, never to the caller.
      this.#log.error({ err, reqId: ctx.requestId, method: ctx.method }, 'result cannot be encoded');
      this.#stats.fail('INTERNAL');
      this.#discovery?.record(ctx.method, elapsedMs, `INTERNAL: result cannot be encoded: ${(err as Error).message}`);
      return errorReply(ctx.requestId, internalError(ctx.requestId));
    }
  }

  /** Counts a handler that succeeded. */
  #countSuccess(ctx: CallContext, elapsedMs: number): void {
    this.#stats.succeed();
    this.#discovery?.record(ctx.method, elapsedMs, null);
  }

  /** The reply to a handler that failed with `err`, or null when its caller cancelled (nobody listens). */
  failed(ctx: CallContext, elapsedMs: number, err: unknown): Uint8Array | null {
    // A handler that gave up because its signal fired reports why it was aborted.
    let wire = wireErrorOf(err) ?? (ctx.aborted ? wireErrorOf(ctx.abortReason) : null);
    if (wire === null) {
      this.#log.error({ err, reqId: ctx.requestId, method: ctx.method }, 'handler failed');
      wire = internalError(ctx.requestId);
    }
    // The handler started, so it may have done part of its work: a framework code it ends with
    // (DRAINING when a drain timed out, OVERLOADED passed on from a call it made...) must not
    // read as "nothing was processed". Callers then retry it only when the call is idempotent.
    if (!wire.business) wire.retryable = false;
    this.#stats.fail(wire.code);
    this.#discovery?.record(ctx.method, elapsedMs, `${wire.code}: ${wire.message}`);
    if (ctx.aborted && (ctx.abortReason as RpcError).code === 'CANCELLED') return null;
    try {
      return errorReply(ctx.requestId, wire);
    } catch {
      return errorReply(ctx.requestId, internalError(ctx.requestId)); // details not encodable
    }
  }

  /** Refuses a request before any handler ran: nothing was processed. */
  refuse(reply: string, id: string, code: RefusalCode, message: string, details?: unknown): void {
    this.#stats.fail(code);
    if (code === 'BAD_REQUEST' && this.#log.isLevelEnabled('debug')) this.#log.debug({ reason: message }, 'bad request');
    const error = frameworkError(code, message);
    if (details !== undefined) error.details = details;
    this.send(reply, id, errorReply(id, error));
  }

  /** Publishes `data` on `reply`; a reply over the broker's max_payload becomes PAYLOAD_TOO_LARGE. */
  send(reply: string, id: string, data: Uint8Array): void {
    if (this.#nc.isClosed()) return;
    try {
      this.#nc.publish(reply, data);
    } catch (err) {
      if ((err as { code?: string }).code === 'MAX_PAYLOAD_EXCEEDED') {
        this.#stats.fail('PAYLOAD_TOO_LARGE');
        const message = `reply of ${data.length} bytes exceeds the broker's max_payload`;
        this.#nc.publish(reply, errorReply(id, frameworkError('PAYLOAD_TOO_LARGE', message)));
      } else {
        this.#log.warn({ err, reqId: id }, 'reply could not be sent');
      }
    }
  }
}
