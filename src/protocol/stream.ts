/**
 * The messages of a server stream besides its request and its final reply: item frames (worker to
 * caller, on the request's reply subject), credit (caller to worker, on the worker's credit
 * subject) and the worker's probe of a caller that stopped granting credit. docs/protocol.md,
 * *Streams*, is the normative description; keep the two in step.
 */
import { Encoder } from '@msgpack/msgpack';
import { MAX_ID_LENGTH, MAX_REPLY_TOKEN, MAX_STREAM_WINDOW_BYTES, MAX_STREAM_WINDOW_ITEMS, PROTOCOL_VERSION } from './envelope.js';

/** Items in one frame at most (also bounded by a quarter of the window). */
export const MAX_FRAME_ITEMS = 1_024;

/** A batch of items: `s` is the stream index of the first item, `w` the worker sending them. */
export interface ItemFrame {
  v: typeof PROTOCOL_VERSION;
  id: string;
  w: string;
  s: number;
  items: unknown[];
}

/**
 * Caller to worker: `items` and `bytes` more may be sent for stream `id`. `reply` is the random last
 * token of the stream request's reply subject: only its caller (and the worker) know it, so nobody
 * else can grant credit.
 */
export interface CreditEnvelope {
  v: typeof PROTOCOL_VERSION;
  id: string;
  reply: string;
  items: number;
  bytes: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function isInt(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** The item frame when `value` (decoded, checked msgpack) is one, else `null`. */
export function asItemFrame(value: unknown): ItemFrame | null {
  if (!isRecord(value) || value.v !== PROTOCOL_VERSION || !Array.isArray(value.items)) return null;
  if (typeof value.id !== 'string' || typeof value.w !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(value.w)) return null;
  if (!isInt(value.s, 0, Number.MAX_SAFE_INTEGER) || value.items.length > MAX_FRAME_ITEMS) return null;
  return value as unknown as ItemFrame;
}

/** The credit when `value` is a valid {@link CreditEnvelope}, else `null`. */
export function asCredit(value: unknown): CreditEnvelope | null {
  if (!isRecord(value) || value.v !== PROTOCOL_VERSION) return null;
  if (typeof value.id !== 'string' || value.id.length === 0 || value.id.length > MAX_ID_LENGTH) return null;
  if (typeof value.reply !== 'string' || value.reply.length === 0 || value.reply.length > MAX_REPLY_TOKEN) return null;
  if (!isInt(value.items, 0, MAX_STREAM_WINDOW_ITEMS) || !isInt(value.bytes, 0, MAX_STREAM_WINDOW_BYTES)) return null;
  return value as unknown as CreditEnvelope;
}

const encoder = new Encoder({ ignoreUndefined: true });

/** Encodes one item on its own; the frame is assembled from these bytes without encoding them again. */
export function encodeItem(item: unknown): Uint8Array {
  return encoder.encode(item);
}

const ITEMS_KEY = new Uint8Array([0xa5, 0x69, 0x74, 0x65, 0x6d, 0x73]); // "items"

function arrayHeader(n: number): Uint8Array {
  if (n < 16) return new Uint8Array([0x90 | n]);
  if (n < 0x10000) return new Uint8Array([0xdc, n >>> 8, n & 0xff]);
  return new Uint8Array([0xdd, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

/**
 * One item frame from already encoded items: a msgpack map `{v, id, w, s, items}` whose items are
 * the given bytes, copied once into the frame.
 */
export function encodeItemFrame(id: string, worker: string, first: number, items: readonly Uint8Array[], itemBytes: number): Uint8Array {
  // The four scalar keys through the encoder (fixmap of 4), then the map header patched to 5.
  const head = encoder.encodeSharedRef({ v: PROTOCOL_VERSION, id, w: worker, s: first });
  const arr = arrayHeader(items.length);
  const out = new Uint8Array(head.length + ITEMS_KEY.length + arr.length + itemBytes);
  out.set(head, 0);
  out[0] = 0x85;
  let p = head.length;
  out.set(ITEMS_KEY, p);
  p += ITEMS_KEY.length;
  out.set(arr, p);
  p += arr.length;
  for (const item of items) {
    out.set(item, p);
    p += item.length;
  }
  return out;
}

export function encodeCredit(id: string, reply: string, items: number, bytes: number): Uint8Array {
  return encoder.encode({ v: PROTOCOL_VERSION, id, reply, items, bytes });
}
