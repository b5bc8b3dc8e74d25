/**
 * The caller's side of bodies larger than the broker's max_payload, for one attempt of a call
 * (docs/protocol.md, *Large bodies*): the request body's chunks sent as the worker holding the
 * attempt pulls them, and the reply body pulled from that worker into one buffer of its declared
 * length, verified (length and CRC-32) and only then decoded. The call engine owns the attempt;
 * this only moves bytes and says how a transfer ended.
 */
import { headers } from 'nats';
import { decodeChecked, encodeBodyParts } from '../protocol/codec.js';
import { BodyAssembly, BodySource, BODY_CHUNK_HEADER, chunkBytes, encodeBodyPull, type BodyChunk, type BodyPull } from '../protocol/body.js';
import type { ReplyBody } from '../protocol/envelope.js';
import { RpcError } from '../protocol/errors.js';
import { bodySubject } from '../protocol/subjects.js';
import type { CallTransport } from './transport.js';

/** The body of a payload too long for one message; PAYLOAD_TOO_LARGE (nothing sent) beyond `maxBodyBytes`. */
export function requestBody(payload: unknown, maxBodyBytes: number): BodySource {
  if (payload instanceof Uint8Array && payload.length > maxBodyBytes) throw tooLarge(payload.length, maxBodyBytes);
  const body = new BodySource(encodeBodyParts(payload, 'payload'));
  if (body.bytes > maxBodyBytes) throw tooLarge(body.bytes, maxBodyBytes);
  return body;
}

function tooLarge(bytes: number, max: number): RpcError {
  return new RpcError('PAYLOAD_TOO_LARGE', `request body of ${bytes} bytes exceeds maxBodyBytes (${max}); nothing was sent`);
}

export class AttemptBodies {
  readonly #t: CallTransport;
  readonly #service: string;
  /** The random last token of the attempt's reply subject: it proves to the worker who sends and pulls. */
  readonly #reply: string;
  /** The worker's transfer token of the request body, and the bytes of it sent so far. */
  #sendToken = 0;
  #sent = 0;
  #inbound: BodyAssembly | undefined = undefined;
  #inboundToken = 0;
  #inboundWorker = '';

  constructor(t: CallTransport, service: string, reply: string) {
    this.#t = t;
    this.#service = service;
    this.#reply = reply;
  }

  /** Sends the chunks `pull` asks for (never again what was sent); an error when they cannot go. */
  send(body: BodySource, pull: BodyPull): RpcError | null {
    if (pull.n === 0) return null;
    if (this.#sendToken === 0) this.#sendToken = pull.t;
    else if (pull.t !== this.#sendToken || pull.o > this.#sent) return null; // not a pull of this transfer
    const to = Math.min(body.bytes, pull.o + pull.n);
    if (to <= this.#sent) return null;
    const t = this.#t;
    try {
      const subject = bodySubject(t.prefix, this.#service, pull.w!);
      for (const chunk of body.chunks(pull.t, this.#sent, to, chunkBytes(t.maxPayload()), this.#reply)) {
        const h = headers();
        h.set(BODY_CHUNK_HEADER, chunk.header);
        t.publish(subject, chunk.data, undefined, h);
      }
    } catch (cause) {
      return new RpcError('UNAVAILABLE', `cannot send the request body: ${(cause as Error).message}`, { cause, maybeProcessed: true });
    }
    this.#sent = to;
    return null;
  }

  /** Starts pulling the reply body offered; PAYLOAD_TOO_LARGE (and the worker told to drop it) beyond `maxBodyBytes`. */
  receive(offer: ReplyBody): RpcError | null {
    const t = this.#t;
    if (this.#inbound !== undefined) return null;
    this.#inboundToken = offer.t;
    this.#inboundWorker = offer.w;
    if (offer.bytes > t.maxBodyBytes) {
      this.#pull(0, 0);
      return new RpcError('PAYLOAD_TOO_LARGE', `reply body of ${offer.bytes} bytes exceeds maxBodyBytes (${t.maxBodyBytes})`, { maybeProcessed: true });
    }
    this.#inbound = new BodyAssembly(offer);
    return this.#pullMore();
  }

  /** A chunk of the reply body: undefined while more is due, the decoded result at the end, or why it failed. */
  chunk(chunk: BodyChunk): { value: unknown } | RpcError | undefined {
    const a = this.#inbound;
    if (a === undefined || chunk.t !== this.#inboundToken) return undefined;
    const refused = a.add(chunk.o, chunk.d);
    if (refused !== null) return this.#failed(`reply body broke the protocol: ${refused}`);
    if (!a.complete) return this.#pullMore() ?? undefined;
    this.#inbound = undefined;
    try {
      return { value: decodeChecked(a.verified(chunk.crc32), this.#t.limits) };
    } catch (cause) {
      return new RpcError('INTERNAL', `reply body refused: ${(cause as Error).message}`, { cause, maybeProcessed: true });
    }
  }

  /** The attempt ended with a reply body still coming: the worker may free it now. */
  abandon(): void {
    if (this.#inbound === undefined) return;
    this.#inbound = undefined;
    this.#pull(0, 0);
  }

  #failed(message: string): RpcError {
    this.abandon();
    return new RpcError('INTERNAL', message, { maybeProcessed: true });
  }

  #pullMore(): RpcError | null {
    const next = this.#inbound!.nextPull();
    if (next === null) return null;
    return this.#pull(next[0], next[1]) ? null : this.#failed('cannot pull the reply body: not connected');
  }

  #pull(offset: number, n: number): boolean {
    const t = this.#t;
    if (!t.isConnected()) return false;
    try {
      t.publish(bodySubject(t.prefix, this.#service, this.#inboundWorker), encodeBodyPull(this.#inboundToken, offset, n, { reply: this.#reply }));
      return true;
    } catch {
      return false;
    }
  }
}
