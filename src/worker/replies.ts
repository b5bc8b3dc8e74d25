/**
 * Building reply bytes. Handler errors become wire errors here: an `RpcError` travels as it is;
 * anything else is an `INTERNAL` whose message and stack stay in the worker's log.
 */
import { encodeReply } from '../protocol/codec.js';
import { PROTOCOL_VERSION, type WireError } from '../protocol/envelope.js';
import { defaultRetryable, RpcError, type FrameworkErrorCode } from '../protocol/errors.js';

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
