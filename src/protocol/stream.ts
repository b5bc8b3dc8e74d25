/**
 * The messages of a server stream besides its request and its final reply: item frames (worker to
 * caller, on the request's reply subject), credit (caller to worker, on the worker's credit
 * subject) and the worker's probe of a caller that stopped granting credit. docs/protocol.md,
 * *Streams*, is the normative description; keep the two in step.
 */
import { Encoder } from '@msgpack/msgpack';
import { decodeChecked } from './codec.js';
import { binHeaderSize, writeBin } from './envelope-writer.js';
import type { MsgpackLimits } from './msgpack-guard.js';
import { MAX_ID_LENGTH, MAX_REPLY_TOKEN, MAX_STREAM_WINDOW_BYTES, MAX_STREAM_WINDOW_ITEMS, PROTOCOL_VERSION } from './envelope.js';

/** Items in one frame at most (also bounded by a quarter of the window). */
export const MAX_FRAME_ITEMS = 1_024;

/**
 * natsrpc's worker cuts a frame before its items pass this many bytes (an item this large goes
 * alone). Larger frames save nothing per byte, and cost the caller more: the nats client gathers
 * a message longer than one socket read into a buffer that grows by copying.
 */
export const FRAME_ITEM_BYTES = 64 * 1024;

/** The NATS header of a binary item frame: one byte-array item, its bytes the payload (docs/protocol.md, *Streams*). */
export const BINARY_ITEM_HEADER = 'Natsrpc-Item';
/** natsrpc's worker sends a byte-array item this large or larger in a binary item frame: published as it is, not copied. */
export const BINARY_ITEM_MIN_BYTES = 32 * 1024;

/** The value of {@link BINARY_ITEM_HEADER} for the item at stream index `s`, sent by worker `w`. */
export function binaryItemHeader(s: number, w: string): string {
  return `v=${PROTOCOL_VERSION} s=${s} w=${w}`;
}

const BINARY_ITEM_VALUE = new RegExp(`^v=${PROTOCOL_VERSION} s=(0|[1-9][0-9]{0,15}) w=([A-Za-z0-9_-]{1,128})$`);

/** The stream index and worker of a {@link BINARY_ITEM_HEADER} value, or `null` when it breaks the rules. */
export function parseBinaryItemHeader(value: string): { s: number; w: string } | null {
  const m = BINARY_ITEM_VALUE.exec(value);
  if (m === null) return null;
  const s = Number(m[1]);
  return Number.isSafeInteger(s) ? { s, w: m[2]! } : null;
}

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

/** The credit in `data` (bounded by `limits` before it is decoded), or `null` when it cannot be read. */
export function readCredit(data: Uint8Array, limits: MsgpackLimits): CreditEnvelope | null {
  try {
    return asCredit(decodeChecked(data, limits));
  } catch {
    return null;
  }
}

const encoder = new Encoder({ ignoreUndefined: true });
/** Items are encoded with their own encoder: a frame's head may be written between an item's {@link ItemFrameWriter.stage} and its append. */
const itemEncoder = new Encoder({ ignoreUndefined: true });

const ITEMS_KEY = new Uint8Array([0xa5, 0x69, 0x74, 0x65, 0x6d, 0x73]); // "items"
/** A frame buffer starts at least this large (bytes); later ones start as large as the last frame. */
const MIN_FRAME_BUFFER = 4_096;

/**
 * Builds a stream's item frames, encoding each item straight into the frame's buffer: no
 * allocation per item (a binary item is copied once, behind its msgpack header; any other item is
 * encoded into the encoder's own buffer and copied from there). The frame's head
 * (`{v, id, w, s, items: [` in msgpack) is written last, into room left at the buffer's front,
 * once the number of items and the first item's index are known. The bytes are those of
 * `encode({ v, id, w, s, items })`.
 */
export class ItemFrameWriter {
  readonly #id: string;
  readonly #worker: string;
  /** Room at the buffer's front for the longest head of this stream. */
  readonly #reserve: number;
  #buf: Uint8Array | null = null;
  #pos: number;
  #count = 0;
  /** Capacity the next buffer starts with: what the last frame took. */
  #nextCapacity = MIN_FRAME_BUFFER;
  /** The item of the last {@link stage}: a binary (written with its header), or its encoded bytes. */
  #staged: Uint8Array | null = null;
  #stagedBinary = false;
  #stagedBytes = 0;

  constructor(id: string, worker: string) {
    this.#id = id;
    this.#worker = worker;
    // The longest head: the largest `s`, the largest array header.
    this.#reserve = encoder.encode({ v: PROTOCOL_VERSION, id, w: worker, s: Number.MAX_SAFE_INTEGER }).length + ITEMS_KEY.length + 5;
    this.#pos = this.#reserve;
  }

  /** Items in the frame being built. */
  get items(): number {
    return this.#count;
  }

  /** Encoded bytes of those items. */
  get itemBytes(): number {
    return this.#pos - this.#reserve;
  }

  /**
   * Encodes `item` (throws what the encoder throws) and returns its encoded size; {@link append}
   * then adds it to the frame. Only the last staged item can be appended, before anything else is
   * encoded with this module's item encoder (so: synchronously).
   */
  stage(item: unknown): number {
    if (item instanceof Uint8Array && item.length < 0x1_0000_0000) {
      this.#staged = item;
      this.#stagedBinary = true;
      return (this.#stagedBytes = binHeaderSize(item.length) + item.length);
    }
    this.#staged = itemEncoder.encodeSharedRef(item);
    this.#stagedBinary = false;
    return (this.#stagedBytes = this.#staged.length);
  }

  /** Adds the staged item to the frame. */
  append(): void {
    const item = this.#staged!;
    this.#staged = null;
    const buf = this.#room(this.#stagedBytes);
    if (this.#stagedBinary) this.#pos = writeBin(buf, this.#pos, item);
    else {
      buf.set(item, this.#pos);
      this.#pos += item.length;
    }
    this.#count++;
  }

  /**
   * The frame of the items appended since the last frame (maybe none), `first` being the stream
   * index of its first item; the next items start a new frame in a new buffer (the one returned
   * is not written again, so it can be handed to a publish that sends it later).
   */
  frame(first: number): Uint8Array {
    const buf = this.#buf ?? new Uint8Array(this.#reserve);
    const head = encoder.encodeSharedRef({ v: PROTOCOL_VERSION, id: this.#id, w: this.#worker, s: first });
    const n = this.#count;
    const arrayHeader = n < 16 ? 1 : n < 0x1_0000 ? 3 : 5;
    const start = this.#reserve - head.length - ITEMS_KEY.length - arrayHeader;
    buf.set(head, start);
    buf[start] = 0x85; // a fixmap of the four keys above and "items"
    let p = start + head.length;
    buf.set(ITEMS_KEY, p);
    p += ITEMS_KEY.length;
    if (n < 16) buf[p] = 0x90 | n;
    else if (n < 0x1_0000) buf.set([0xdc, n >>> 8, n & 0xff], p);
    else buf.set([0xdd, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff], p);
    const out = buf.subarray(start, this.#pos);
    if (n > 0) this.#nextCapacity = Math.max(MIN_FRAME_BUFFER, this.#pos);
    this.#buf = null;
    this.#pos = this.#reserve;
    this.#count = 0;
    return out;
  }

  /** The buffer, with room for `bytes` more: a new one for a new frame, a doubled copy when full. */
  #room(bytes: number): Uint8Array {
    const need = this.#pos + bytes;
    const buf = this.#buf;
    if (buf !== null && need <= buf.length) return buf;
    const grown = new Uint8Array(Math.max(need, buf === null ? this.#nextCapacity : buf.length * 2));
    if (buf !== null) grown.set(buf.subarray(0, this.#pos));
    return (this.#buf = grown);
  }
}

/** An item frame without items, for the probe of a silent caller (a stream's own frames come from {@link ItemFrameWriter}). */
export function encodeEmptyItemFrame(id: string, worker: string, first: number): Uint8Array {
  return encoder.encode({ v: PROTOCOL_VERSION, id, w: worker, s: first, items: [] });
}

export function encodeCredit(id: string, reply: string, items: number, bytes: number): Uint8Array {
  return encoder.encode({ v: PROTOCOL_VERSION, id, reply, items, bytes });
}
