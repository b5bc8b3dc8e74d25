/**
 * Encoding and decoding of envelopes. One encoder and one decoder are reused for the life of the
 * process: both are synchronous, so sharing them is safe and saves their buffers per message.
 */
import { Encoder } from '@msgpack/msgpack';
import { defaultRetryable, RpcError } from './errors.js';
import { asAck, checkReply, checkRequest, PROTOCOL_VERSION, type AckEnvelope, type ReplyEnvelope, type RequestEnvelope } from './envelope.js';
import { checkMsgpack, DEFAULT_MSGPACK_LIMITS, type MsgpackLimits } from './msgpack-guard.js';
import { encodeEnvelopeGeneric, encodeOkReply, encodeRequestEnvelope } from './envelope-writer.js';
import { parseReply, parseRequest } from './envelope-reader.js';
import { decodeValue, plainBytes } from './value-decoder.js';
import { asBodyPull, type BodyPull } from './body.js';

const encoder = new Encoder({ ignoreUndefined: true });

/** Encodes any msgpack-able value; the result is a fresh copy the caller may keep. */
export function encode(value: unknown): Uint8Array {
  return encoder.encode(value);
}

/**
 * Decodes hostile bytes: checks structure and limits first, then decodes. Throws
 * `RpcError('BAD_REQUEST')` for anything malformed, never another kind of error.
 */
export function decodeChecked(bytes: Uint8Array, limits: MsgpackLimits = DEFAULT_MSGPACK_LIMITS): unknown {
  const reason = checkMsgpack(bytes, limits);
  if (reason !== null) throw new RpcError('BAD_REQUEST', `malformed message: ${reason}`);
  try {
    return decodeValue(plainBytes(bytes));
  } catch (cause) {
    throw new RpcError('BAD_REQUEST', `malformed message: ${(cause as Error).message}`, { cause });
  }
}

/** Checks, then parses the known top-level keys directly; anything unusual goes to the decoder. */
function decodeEnvelope<T>(bytes: Uint8Array, limits: MsgpackLimits, parse: (b: Uint8Array) => T | undefined): T | unknown {
  const reason = checkMsgpack(bytes, limits);
  if (reason !== null) throw new RpcError('BAD_REQUEST', `malformed message: ${reason}`);
  const plain = plainBytes(bytes);
  try {
    return parse(plain) ?? decodeValue(plain);
  } catch (cause) {
    throw new RpcError('BAD_REQUEST', `malformed message: ${(cause as Error).message}`, { cause });
  }
}

/** Decodes and validates a request envelope; throws `RpcError('BAD_REQUEST')` when invalid. */
export function decodeRequest(bytes: Uint8Array, limits: MsgpackLimits = DEFAULT_MSGPACK_LIMITS): RequestEnvelope {
  const value = decodeEnvelope(bytes, limits, parseRequest);
  const reason = checkRequest(value);
  if (reason !== null) throw new RpcError('BAD_REQUEST', `invalid request: ${reason}`);
  return value as RequestEnvelope;
}

/** Decodes and validates a reply envelope; throws `RpcError('BAD_REQUEST')` when invalid. */
export function decodeReply(bytes: Uint8Array, limits: MsgpackLimits = DEFAULT_MSGPACK_LIMITS): ReplyEnvelope {
  const value = decodeEnvelope(bytes, limits, parseReply);
  const reason = checkReply(value);
  if (reason !== null) throw new RpcError('BAD_REQUEST', `invalid reply: ${reason}`);
  return value as ReplyEnvelope;
}

/**
 * Decodes what a caller's inbox receives on a reply subject as msgpack: a reply, an ack, or a
 * worker's pull of a request body (a reply body's chunks carry a NATS header instead, see
 * protocol/body.ts). Throws `RpcError('BAD_REQUEST')` for anything else.
 */
export function decodeInboxMessage(bytes: Uint8Array, limits: MsgpackLimits = DEFAULT_MSGPACK_LIMITS): ReplyEnvelope | AckEnvelope | BodyPull {
  const value = decodeEnvelope(bytes, limits, parseReply);
  const reason = checkReply(value);
  if (reason === null) return value as ReplyEnvelope;
  const other = asAck(value) ?? asBodyPull(value);
  if (other !== null) return other;
  throw new RpcError('BAD_REQUEST', `invalid reply: ${reason}`);
}

export { encodeBodyParts } from './envelope-writer.js';

export function encodeRequest(envelope: RequestEnvelope): Uint8Array {
  return encodeRequestEnvelope(envelope);
}

/** An ack in the batch form: worker `worker` took the requests whose reply subjects end in `replies` (see {@link AckEnvelope}). */
export function encodeAck(worker: string, replies: string[]): Uint8Array {
  return encode({ v: PROTOCOL_VERSION, ack: true, worker, replies });
}

export function encodeReply(envelope: ReplyEnvelope): Uint8Array {
  return envelope.ok ? encodeOkReply(envelope.id, envelope.result) : encodeEnvelopeGeneric(envelope, envelope.error.details, 'error.details');
}

/**
 * Turns a wire error into the {@link RpcError} the caller sees. A refusal code that normally means
 * "nothing was processed" (`OVERLOADED`, `DRAINING`...) but arrives with `retryable: false` came
 * from a handler that had already started: the request may have been processed.
 */
export function errorFromWire(error: { code: string; message: string; retryable: boolean; details?: unknown }): RpcError {
  const maybeProcessed = defaultRetryable(error.code) ? !error.retryable : undefined;
  return new RpcError(error.code, error.message, { retryable: error.retryable, details: error.details, maybeProcessed });
}
