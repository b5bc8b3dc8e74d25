/**
 * The worker's side of bodies larger than the broker's max_payload (docs/protocol.md, *Large
 * bodies*). A request that declares a body is held (its concurrency slot taken) while the worker
 * pulls the chunks from its caller into one buffer of the declared length, then verified and
 * decoded and only then handed to the handler. A result too large for one reply is offered as a
 * body that the caller pulls. Both directions meet on the worker's own subject
 * `<prefix>._body.<service>.<workerId>` (chunks of requests, pulls of replies); anything there that names no
 * transfer, breaks the order or the bounds is dropped and counted, or ends its transfer typed.
 */
import { randomInt } from 'node:crypto';
import { headers, type Msg, type NatsConnection, type Subscription } from 'nats';
import { decodeChecked, encode } from '../protocol/codec.js';
import { asBodyPull, BodyAssembly, BodySource, BODY_CHUNK_HEADER, BODY_STALL_TIMEOUT_MS, BODY_WINDOW_BYTES, chunkBytes, DEFAULT_MAX_PAYLOAD_BYTES, encodeBodyPull, MAX_BODY_TOKEN, readBodyChunk } from '../protocol/body.js';
import { checkHeaderBlock, headerBlockLength } from '../protocol/nats-headers.js';
import { PROTOCOL_VERSION, type BodyDescriptor } from '../protocol/envelope.js';
import { RpcError } from '../protocol/errors.js';
import type { MsgpackLimits } from '../protocol/msgpack-guard.js';
import { bodySubject, isLastToken } from '../protocol/subjects.js';
import type { Logger } from '../logging/logger.js';
import type { CallContext } from './context.js';

/** Request bodies being received at once hold at most this many times `maxBodyBytes`. */
export const BODY_MEMORY_FACTOR = 4;

interface Incoming {
  readonly assembly: BodyAssembly;
  readonly ctx: CallContext;
  readonly reply: string;
  readonly onBody: (payload: unknown) => void;
  readonly onFail: (err: RpcError) => void;
  readonly onAbort: () => void;
  readonly timer: NodeJS.Timeout;
}

interface Outgoing {
  readonly source: BodySource;
  readonly reply: string;
  /** Bytes sent so far. */
  sent: number;
  readonly timer: NodeJS.Timeout;
}

export class WorkerBodies {
  readonly #nc: NatsConnection;
  readonly #workerId: string;
  readonly #limits: MsgpackLimits;
  readonly #log: Logger;
  readonly #sub: Subscription;
  readonly #incoming = new Map<number, Incoming>();
  readonly #outgoing = new Map<number, Outgoing>();
  #token = randomInt(1, MAX_BODY_TOKEN / 2);
  #incomingBytes = 0;
  #outgoingBytes = 0;
  readonly maxBodyBytes: number;
  /** Chunks and pulls that named no open transfer or could not be read. */
  #ignored = 0;
  get ignored(): number {
    return this.#ignored;
  }

  constructor(nc: NatsConnection, prefix: string, service: string, workerId: string, maxBodyBytes: number, limits: MsgpackLimits, log: Logger) {
    this.#nc = nc;
    this.#workerId = workerId;
    this.maxBodyBytes = maxBodyBytes;
    this.#limits = limits;
    this.#log = log;
    this.#sub = nc.subscribe(bodySubject(prefix, service, workerId), { callback: (err, msg) => err === null && this.#onMessage(msg) });
  }

  /** Transfers open now, both ways. */
  get size(): number {
    return this.#incoming.size + this.#outgoing.size;
  }

  /** The broker's max_payload: a reply longer than it goes as a body. */
  maxPayload(): number {
    return this.#nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD_BYTES;
  }

  /** Whether a request body of `bytes` may be received now: null, or the code to refuse it with. */
  refusal(bytes: number): 'PAYLOAD_TOO_LARGE' | 'OVERLOADED' | null {
    if (bytes > this.maxBodyBytes) return 'PAYLOAD_TOO_LARGE';
    return this.#incomingBytes + bytes > BODY_MEMORY_FACTOR * this.maxBodyBytes ? 'OVERLOADED' : null;
  }

  close(): void {
    this.#sub.unsubscribe();
    for (const t of [...this.#incoming.keys()]) this.#endIncoming(t);
    for (const t of [...this.#outgoing.keys()]) this.#endOutgoing(t);
  }

  #nextToken(): number {
    this.#token = this.#token >= MAX_BODY_TOKEN - 1 ? 1 : this.#token + 1;
    return this.#token;
  }

  /**
   * Pulls the request body of `ctx` from its caller; `onBody` gets the decoded payload once the
   * whole body arrived and matched its CRC-32, `onFail` the reason it did not (the signal fired,
   * the sender stalled or broke the protocol). One of the two is called, once.
   */
  receive(ctx: CallContext, reply: string, descriptor: BodyDescriptor, onBody: (payload: unknown) => void, onFail: (err: RpcError) => void): void {
    if (ctx.aborted) return onFail(ctx.abortReason as RpcError); // cancelled or expired before it began
    const t = this.#nextToken();
    const stalled = () => this.#fail(t, new RpcError('TIMEOUT', `request body stalled: no chunk for ${BODY_STALL_TIMEOUT_MS} ms`));
    const onAbort = () => this.#fail(t, ctx.abortReason as RpcError);
    const entry: Incoming = { assembly: new BodyAssembly(descriptor), ctx, reply, onBody, onFail, onAbort, timer: setTimeout(stalled, BODY_STALL_TIMEOUT_MS) };
    this.#incoming.set(t, entry);
    this.#incomingBytes += descriptor.bytes;
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    this.#pull(t, entry);
  }

  /**
   * The reply that offers a result, encoded as `parts`, as a body its caller pulls; null when the
   * result exceeds `maxBodyBytes` (or the room for reply bodies held), and is then refused
   * PAYLOAD_TOO_LARGE like any reply over max_payload.
   */
  offer(reply: string, id: string, parts: Uint8Array[]): Uint8Array | null {
    const source = new BodySource(parts);
    const bytes = source.bytes;
    if (bytes > this.maxBodyBytes || this.#outgoingBytes + bytes > BODY_MEMORY_FACTOR * this.maxBodyBytes) return null;
    const t = this.#nextToken();
    this.#outgoing.set(t, { source, reply, sent: 0, timer: setTimeout(() => this.#endOutgoing(t), BODY_STALL_TIMEOUT_MS) });
    this.#outgoingBytes += bytes;
    return encode({ v: PROTOCOL_VERSION, id, ok: true, body: { ...source.descriptor, t, w: this.#workerId } });
  }

  #pull(t: number, entry: Incoming): void {
    const next = entry.assembly.nextPull();
    if (next === null || this.#nc.isClosed()) return;
    try {
      this.#nc.publish(entry.reply, encodeBodyPull(t, next[0], next[1], { w: this.#workerId }));
    } catch (cause) {
      this.#fail(t, new RpcError('INTERNAL', `cannot pull the request body: ${(cause as Error).message}`, { cause }));
    }
  }

  /** A chunk of a request body (metadata in its NATS header, bytes in its payload) or a pull of a reply body (msgpack). */
  #onMessage(msg: Msg): void {
    const data = msg.data;
    if (headerBlockLength(msg) > 0) {
      const chunk = checkHeaderBlock(msg) === null ? readBodyChunk(msg) : null;
      const entry = chunk === null ? undefined : this.#incoming.get(chunk.t);
      // Only the call's caller knows the random token of its reply subject.
      if (entry === undefined || chunk!.reply === undefined || !isLastToken(entry.reply, chunk!.reply)) return this.#ignore(data.length);
      return this.#onChunk(chunk!.t, entry, chunk!.o, chunk!.d, chunk!.crc32);
    }
    let value: unknown;
    try {
      value = decodeChecked(data, this.#limits);
    } catch {
      value = null;
    }
    const pull = asBodyPull(value);
    const out = pull === null ? undefined : this.#outgoing.get(pull.t);
    if (pull === null || out === undefined || pull.reply == null || !isLastToken(out.reply, pull.reply)) return this.#ignore(data.length);
    this.#onPull(pull.t, out, pull.o, pull.n);
  }

  #ignore(bytes: number): void {
    this.#ignored++;
    if (this.#log.isLevelEnabled('debug')) this.#log.debug({ bytes }, 'body message for no open transfer ignored');
  }

  #onChunk(t: number, entry: Incoming, offset: number, data: Uint8Array, crc: number | undefined): void {
    const a = entry.assembly;
    const refused = a.add(offset, data);
    if (refused !== null) return this.#fail(t, new RpcError('BAD_REQUEST', `request body broke the protocol: ${refused}`, { details: { reason: 'chunk' } }));
    entry.timer.refresh();
    if (!a.complete) return this.#pull(t, entry);
    let payload: unknown;
    try {
      payload = decodeChecked(a.verified(crc), this.#limits);
    } catch (cause) {
      const reason = cause instanceof RpcError ? 'undecodable' : 'checksum';
      return this.#fail(t, new RpcError('BAD_REQUEST', `request body refused: ${(cause as Error).message}`, { details: { reason }, cause }));
    }
    this.#endIncoming(t);
    entry.onBody(payload);
  }

  #fail(t: number, err: RpcError): void {
    const entry = this.#incoming.get(t);
    if (entry === undefined) return;
    this.#endIncoming(t);
    entry.onFail(err);
  }

  /** Frees a request body's buffer and timer (its memory goes with the entry). */
  #endIncoming(t: number): void {
    const entry = this.#incoming.get(t);
    if (entry === undefined) return;
    this.#incoming.delete(t);
    this.#incomingBytes -= entry.assembly.declared;
    clearTimeout(entry.timer);
    entry.ctx.signal.removeEventListener('abort', entry.onAbort);
  }

  /** Sends the chunks the caller pulled: from what was sent up to `offset + n`, never beyond one window. */
  #onPull(t: number, out: Outgoing, offset: number, n: number): void {
    if (n === 0) return this.#endOutgoing(t); // the caller abandons the body
    if (offset > out.sent) return this.#ignore(0); // a pull ahead of what was sent: not from the caller
    out.timer.refresh();
    const to = Math.min(out.source.bytes, offset + Math.min(n, BODY_WINDOW_BYTES));
    if (to <= out.sent) return;
    try {
      for (const chunk of out.source.chunks(t, out.sent, to, chunkBytes(this.maxPayload()))) {
        const h = headers();
        h.set(BODY_CHUNK_HEADER, chunk.header);
        this.#nc.publish(out.reply, chunk.data, { headers: h });
      }
    } catch (err) {
      this.#log.warn({ err }, 'reply body chunk could not be sent');
      return this.#endOutgoing(t);
    }
    out.sent = to;
    if (to === out.source.bytes) this.#endOutgoing(t);
  }

  #endOutgoing(t: number): void {
    const out = this.#outgoing.get(t);
    if (out === undefined) return;
    this.#outgoing.delete(t);
    this.#outgoingBytes -= out.source.bytes;
    clearTimeout(out.timer);
  }
}
