/**
 * The request and reply envelopes: their types and the validation of decoded values.
 * docs/protocol.md is the normative description; keep the two in step.
 */
import { isApplicationCode, isFrameworkCode } from './errors.js';

/** Version of the envelope format, carried in every message as `v`. */
export const PROTOCOL_VERSION = 1;

/** String map for trace context, caller identity and the like. */
export type Headers = Record<string, string>;

export const MAX_HEADERS = 64;
export const MAX_HEADER_KEY_LENGTH = 128;
export const MAX_HEADER_VALUE_LENGTH = 4_096;
export const MAX_ID_LENGTH = 128;
/** Budgets are capped at one day: anything longer is a mistake, not a deadline. */
export const MAX_BUDGET_MS = 86_400_000;
export const MAX_ATTEMPT = 1_000;

export interface RequestEnvelope {
  v: typeof PROTOCOL_VERSION;
  /** Request id, stable across attempts of one call. */
  id: string;
  method: string;
  /** Time the caller still had when it sent this attempt, in milliseconds. */
  budgetMs: number;
  /** 1 for the first attempt. */
  attempt: number;
  /** Caller's wall clock at send time (ms since epoch); a sanity bound only, see protocol.md. */
  sentAt?: number;
  headers?: Headers;
  /** Any msgpack value; absent means nil. */
  payload?: unknown;
  /** Asks the worker for an {@link AckEnvelope} on the reply subject before the handler runs. */
  ack?: boolean;
  /** The caller may send a {@link CancelEnvelope} for this request; the worker indexes it by id. */
  cancellable?: boolean;
  /** Present on a stream request: the caller's credit window (docs/protocol.md, *Streams*). */
  stream?: StreamWindow;
  /** Present instead of `payload` when the payload travels in chunks (docs/protocol.md, *Large bodies*). */
  body?: BodyDescriptor;
  /**
   * Asks the worker for an {@link AckEnvelope} only if the handler is still running once the
   * worker has started it and the requests read with it: fast calls cost nothing, the others are
   * attributed to their worker within the same turn of its event loop.
   */
  lateAck?: boolean;
}

/** The credit window a stream request carries: how far the worker may run ahead of the caller. */
export interface StreamWindow {
  /** Items the worker may send before more credit arrives. */
  items: number;
  /** Bytes of item frames the worker may send before more credit arrives. */
  bytes: number;
}

/** A body sent in chunks: its length (its CRC-32 comes with the last chunk). */
export interface BodyDescriptor {
  bytes: number;
}

/** A reply body offered by worker `w` as transfer `t`. */
export interface ReplyBody extends BodyDescriptor {
  t: number;
  w: string;
}

/** The largest body any receiver accepts, whatever its `maxBodyBytes`: 1 GiB. */
export const MAX_BODY_BYTES = 1024 * 1024 * 1024;

/** Returns `null` when `value` is a valid body descriptor (of a reply when `reply`), else the reason. */
export function checkBody(value: unknown, reply: boolean): string | null {
  if (!isRecord(value)) return 'body must be a map';
  if (!isBoundedInt(value.bytes, 1, MAX_BODY_BYTES)) return `body bytes must be 1..${MAX_BODY_BYTES}`;
  if (!reply) return null;
  if (!isBoundedInt(value.t, 1, 2 ** 32 - 1)) return 'body t must be 1..2^32-1';
  if (typeof value.w !== 'string' || !WORKER_ID.test(value.w)) return 'invalid body worker';
  return null;
}

/** Bounds of a stream's window, and of the credit a worker holds at once. */
export const MAX_STREAM_WINDOW_ITEMS = 65_536;
export const MIN_STREAM_WINDOW_BYTES = 1_024;
export const MAX_STREAM_WINDOW_BYTES = 256 * 1024 * 1024;

/** Returns `null` when `value` is a valid stream window, else the reason. */
export function checkWindow(value: unknown): string | null {
  if (!isRecord(value)) return 'stream window must be a map';
  if (!isBoundedInt(value.items, 1, MAX_STREAM_WINDOW_ITEMS)) return `stream window items must be 1..${MAX_STREAM_WINDOW_ITEMS}`;
  if (!isBoundedInt(value.bytes, MIN_STREAM_WINDOW_BYTES, MAX_STREAM_WINDOW_BYTES)) {
    return `stream window bytes must be ${MIN_STREAM_WINDOW_BYTES}..${MAX_STREAM_WINDOW_BYTES}`;
  }
  return null;
}

/**
 * Sent by a worker before the handlers of requests with `ack` run, on the reply subject of one of
 * them: the worker took the attempts whose reply subjects share that subject's prefix and end in
 * one of `replies` (their last tokens). One ack covers every such request of one caller that the
 * worker read at once. The single form (`id` and `attempt`, no `replies`) covers the attempt of the
 * subject it arrives on; see docs/protocol.md, *Acks and lost workers*.
 */
export interface AckEnvelope {
  v: typeof PROTOCOL_VERSION;
  ack: true;
  /** Id of the worker that took the requests; its liveness subject is `<prefix>._ping.<worker>`. */
  worker: string;
  /** Last tokens of the reply subjects acknowledged (batch form). */
  replies?: string[];
  /** Single form: the request id. */
  id?: string;
  /** Single form: the attempt acknowledged. */
  attempt?: number;
}

/** Reply subjects one ack may name; a worker that took more from one caller sends several acks. */
export const MAX_ACK_REPLIES = 1_024;
export const MAX_REPLY_TOKEN = 128;
/** Attempts one cancel may name; a caller with more to cancel sends several cancels. */
export const MAX_CANCEL_REPLIES = 16;

/**
 * Published by a caller on `<prefix>._cancel.<service>`: abort the handlers serving `id` whose
 * request's reply subject ends in one of `replies`. The reply tokens are the proof: only the
 * caller and the worker that took the attempt know them, so nobody else can cancel it.
 */
export interface CancelEnvelope {
  v: typeof PROTOCOL_VERSION;
  id: string;
  /** The last tokens of the reply subjects of the attempts to abort, 1 to {@link MAX_CANCEL_REPLIES}. */
  replies: string[];
  /** True when the caller's deadline passed: the handler is aborted with `TIMEOUT`, not `CANCELLED`. */
  deadline?: boolean;
}

export interface WireError {
  code: string;
  message: string;
  retryable: boolean;
  /** True for application codes: a deliberate rejection, not a worker fault. */
  business: boolean;
  details?: unknown;
}

export type ReplyEnvelope =
  | { v: typeof PROTOCOL_VERSION; id: string; ok: true; result: unknown; body?: ReplyBody }
  | { v: typeof PROTOCOL_VERSION; id: string; ok: false; error: WireError };

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

export function isBoundedInt(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

function checkHeaders(value: unknown): string | null {
  if (!isRecord(value)) return 'headers must be a map of strings';
  let count = 0;
  for (const key in value) {
    if (++count > MAX_HEADERS) return `more than ${MAX_HEADERS} headers`;
    const v = value[key];
    if (key.length > MAX_HEADER_KEY_LENGTH) return 'header name too long';
    if (typeof v !== 'string') return `header ${JSON.stringify(key.slice(0, 32))} is not a string`;
    if (v.length > MAX_HEADER_VALUE_LENGTH) return 'header value too long';
  }
  return null;
}

/** Returns `null` when `value` is a valid request envelope, else the reason. */
export function checkRequest(value: unknown): string | null {
  if (!isRecord(value)) return 'request is not a map';
  if (value.v !== PROTOCOL_VERSION) return `unsupported protocol version ${String(value.v)}`;
  if (typeof value.id !== 'string' || value.id.length === 0 || value.id.length > MAX_ID_LENGTH) return 'invalid id';
  if (typeof value.method !== 'string') return 'invalid method';
  if (!isBoundedInt(value.budgetMs, 0, MAX_BUDGET_MS)) return 'invalid budgetMs';
  if (!isBoundedInt(value.attempt, 1, MAX_ATTEMPT)) return 'invalid attempt';
  if (value.sentAt !== undefined && value.sentAt !== null && !isBoundedInt(value.sentAt, 0, Number.MAX_SAFE_INTEGER)) {
    return 'invalid sentAt';
  }
  if (value.headers !== undefined && value.headers !== null) {
    const reason = checkHeaders(value.headers);
    if (reason) return reason;
  }
  if (value.stream !== undefined && value.stream !== null) {
    const reason = checkWindow(value.stream);
    if (reason) return reason;
  }
  if (value.body !== undefined && value.body !== null) {
    if (value.payload !== undefined && value.payload !== null) return 'a request with a body has no payload';
    return checkBody(value.body, false);
  }
  return null;
}

const WORKER_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** The ack when `value` is a valid {@link AckEnvelope}, else `null`. */
export function asAck(value: unknown): AckEnvelope | null {
  if (!isRecord(value) || value.ack !== true || value.v !== PROTOCOL_VERSION) return null;
  // The worker id becomes a subject token (`<prefix>._ping.<worker>`): no dots, wildcards or spaces.
  if (typeof value.worker !== 'string' || !WORKER_ID.test(value.worker)) return null;
  const replies = value.replies;
  if (replies !== undefined && replies !== null) {
    if (!isReplyTokens(replies, MAX_ACK_REPLIES)) return null;
    return value as unknown as AckEnvelope;
  }
  if (typeof value.id !== 'string' || !isBoundedInt(value.attempt, 1, MAX_ATTEMPT)) return null;
  return value as unknown as AckEnvelope;
}

/** True for a list of at most `max` reply tokens (strings of 1-128 characters). */
export function isReplyTokens(value: unknown, max: number): value is string[] {
  if (!Array.isArray(value) || value.length > max) return false;
  for (const r of value) if (typeof r !== 'string' || r.length === 0 || r.length > MAX_REPLY_TOKEN) return false;
  return true;
}

/** The cancel when `value` is a valid {@link CancelEnvelope}, else `null`. */
export function asCancel(value: unknown): CancelEnvelope | null {
  if (!isRecord(value) || value.v !== PROTOCOL_VERSION) return null;
  if (typeof value.id !== 'string' || value.id.length === 0 || value.id.length > MAX_ID_LENGTH) return null;
  if (!isReplyTokens(value.replies, MAX_CANCEL_REPLIES) || value.replies.length === 0) return null;
  if (value.deadline !== undefined && value.deadline !== null && typeof value.deadline !== 'boolean') return null;
  return value as unknown as CancelEnvelope;
}

/**
 * True for an error reply with `id: ""`: a worker that could not read a valid id from the request
 * answers so. Reply subjects are unique per attempt and end in a random token nobody else knows,
 * so the reply subject alone says which attempt such an answer belongs to (a caller reads nothing
 * on a subject whose token is not that of a live attempt).
 */
export function isUnattributedError(reply: ReplyEnvelope): boolean {
  return !reply.ok && reply.id === '';
}

/** Returns `null` when `value` is a valid reply envelope, else the reason. */
export function checkReply(value: unknown): string | null {
  if (!isRecord(value)) return 'reply is not a map';
  if (value.v !== PROTOCOL_VERSION) return `unsupported protocol version ${String(value.v)}`;
  if (typeof value.id !== 'string') return 'invalid id';
  if (value.ok === true) return value.body === undefined || value.body === null ? null : checkBody(value.body, true);
  if (value.ok !== false) return 'invalid ok flag';
  const e = value.error;
  if (!isRecord(e)) return 'missing error';
  if (typeof e.code !== 'string' || !(isFrameworkCode(e.code) || isApplicationCode(e.code))) return 'invalid error code';
  if (typeof e.message !== 'string') return 'invalid error message';
  if (typeof e.retryable !== 'boolean' || typeof e.business !== 'boolean') return 'invalid error flags';
  return null;
}
