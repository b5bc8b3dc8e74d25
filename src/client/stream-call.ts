/**
 * The caller's side of a server stream: an async iterator over the items a worker yields. The
 * request goes through the queue group like a call; the worker that took it answers on the
 * request's own reply subject with item frames, then the ordinary reply (the item count, or the
 * error). Credit for more items goes to that worker's credit subject as items are read, so the
 * worker never runs more than one window ahead. Every way a stream can end is told apart: a
 * completed stream ends the loop, anything else (a gap, a count that does not match, a lost
 * worker, a deadline, idleness) throws an {@link RpcError}. See docs/protocol.md, *Streams*.
 */
import { decodeChecked, encode, encodeRequest, errorFromWire } from '../protocol/codec.js';
import { checkReply, isUnattributedError, PROTOCOL_VERSION, type ReplyEnvelope } from '../protocol/envelope.js';
import { RpcError } from '../protocol/errors.js';
import { asItemFrame, encodeCredit } from '../protocol/stream.js';
import { cancelSubject, creditSubject } from '../protocol/subjects.js';
import { DEADLINE_BUCKET, DEADLINE_NEXT, DEADLINE_PREV, type Expiring } from '../timing/deadline-queue.js';
import type { RpcStream, StreamSpec } from './stream-options.js';
import type { LivenessProber } from './liveness.js';
import type { CallTransport, Expirable, InboxEntry } from './transport.js';

/**
 * The broker lets a worker answer a request for a while only (`allow_responses` `expires`, 1 minute
 * in the shipped config; a message delivered with the same reply subject does not renew it). So
 * every this often an open stream moves to a fresh reply subject of its inbox: credit (of what was
 * read, maybe nothing) published with that subject as its NATS reply, whose delivery opens the
 * worker's permission there (docs/protocol.md, *Streams*).
 */
export const STREAM_REPLY_MOVE_MS = 20_000;

interface Frame {
  readonly items: unknown[];
  pos: number;
  readonly bytes: number;
}

export class StreamCall<T> implements InboxEntry, Expirable, RpcStream<T> {
  /** Owned by the client's deadline queue. */
  [DEADLINE_BUCKET] = 0;
  [DEADLINE_PREV]: Expiring | null = null;
  [DEADLINE_NEXT]: Expiring | null = null;
  readonly #t: CallTransport;
  readonly #prober: LivenessProber;
  readonly #s: StreamSpec | RpcError;
  readonly #id: string;
  readonly #onStart: () => boolean;
  readonly #onDone: () => void;
  #started = false;
  /** The random last token of its reply subject. */
  #token = '';
  #workerId: string | undefined = undefined;
  readonly #frames: Frame[] = [];
  #received = 0;
  #receivedBytes = 0;
  #grantedItems = 0;
  #grantedBytes = 0;
  #readItems = 0;
  #readBytes = 0;
  /** Set once the stream has ended: `null` for a complete stream, else the error still to throw. */
  #end: RpcError | null | undefined = undefined;
  #waiter: ((r: IteratorResult<T>) => void) | null = null;
  #waiterFail: ((err: RpcError) => void) | null = null;
  #idleTimer: unknown = undefined;
  #probeTimer: unknown = undefined;
  #moveTimer: unknown = undefined;
  /** The reply token the stream was last moved to (the request's own while empty), and the one before it. */
  #moved: string[] = [];
  #onAbort: (() => void) | undefined = undefined;

  /** `onStart` says whether the client still takes calls; `onDone` runs once when a started stream ends. */
  constructor(t: CallTransport, prober: LivenessProber, spec: StreamSpec | RpcError, id: string, onStart: () => boolean, onDone: () => void) {
    this.#t = t;
    this.#prober = prober;
    this.#s = spec;
    this.#id = id;
    this.#onStart = onStart;
    this.#onDone = onDone;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The worker serving the stream, once its first frame arrived. */
  get workerId(): string | undefined {
    return this.#workerId;
  }

  next(): Promise<IteratorResult<T>> {
    if (!this.#started) this.#start();
    const frame = this.#frames[0];
    if (frame !== undefined) return Promise.resolve({ value: this.#take(frame), done: false });
    if (this.#end !== undefined) {
      const err = this.#end;
      this.#end = null; // thrown once; after that the iterator is simply done
      return err === null ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(err);
    }
    if (this.#waiter !== null) return Promise.reject(new RpcError('BAD_REQUEST', 'next() called again before the previous next() settled'));
    return new Promise<IteratorResult<T>>((resolve, reject) => {
      this.#waiter = resolve;
      this.#waiterFail = reject;
      const s = this.#s as StreamSpec;
      this.#idleTimer = this.#t.clock.setTimer(() => this.#fail(this.#timeout(`no item within the idle timeout of ${s.idleTimeoutMs} ms`, 'idle')), s.idleTimeoutMs);
      if (this.#workerId !== undefined) this.#probeTimer = this.#t.clock.setTimer(this.#probe, s.lostWorker.probeAfterMs);
    });
  }

  /** The loop left (`break`, `return`): the worker's generator is cancelled. */
  return(): Promise<IteratorResult<T>> {
    if (this.#started && this.#end === undefined) this.#close(null, true);
    this.#frames.length = 0;
    this.#end = null;
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(err?: unknown): Promise<IteratorResult<T>> {
    void this.return();
    return Promise.reject(err);
  }

  #start(): void {
    this.#started = true;
    const s = this.#s;
    if (s instanceof RpcError) return void (this.#end = s);
    if (s.signal?.aborted) return void (this.#end = new RpcError('CANCELLED', 'stream aborted before it was sent', { cause: s.signal.reason }));
    if (!this.#onStart()) return void (this.#end = new RpcError('UNAVAILABLE', 'client is closed'));
    const t = this.#t;
    if (!t.isConnected()) return this.#close(new RpcError('UNAVAILABLE', 'not connected to NATS'), false);
    let data: Uint8Array;
    try {
      data = encodeRequest({
        v: PROTOCOL_VERSION, id: this.#id, method: s.target.method, budgetMs: s.timeoutMs, attempt: 1, sentAt: Date.now(),
        headers: s.headers, payload: s.payload ?? null, cancellable: true, stream: s.window,
      });
    } catch (cause) {
      return this.#close(new RpcError('BAD_REQUEST', `payload cannot be encoded: ${(cause as Error).message}`, { cause }), false);
    }
    this.#grantedItems = s.window.items;
    this.#grantedBytes = s.window.bytes;
    this.#token = t.open(this);
    try {
      t.publish(s.target.subject, data, t.replySubject(this.#token));
    } catch (cause) {
      const tooLarge = (cause as { code?: string }).code === 'MAX_PAYLOAD_EXCEEDED';
      const err = tooLarge
        ? new RpcError('PAYLOAD_TOO_LARGE', `request of ${data.length} bytes exceeds the broker's max_payload`, { cause })
        : new RpcError('UNAVAILABLE', `cannot publish: ${(cause as Error).message}`, { cause });
      return this.#close(err, false);
    }
    t.deadlines.add(this, t.clock.now() + s.timeoutMs);
    if (s.signal !== undefined) {
      this.#onAbort = () => this.#fail(new RpcError('CANCELLED', 'stream aborted by the caller', { cause: s.signal!.reason }));
      s.signal.addEventListener('abort', this.#onAbort, { once: true });
    }
  }

  #take(frame: Frame): T {
    const item = frame.items[frame.pos++] as T;
    if (frame.pos === frame.items.length) {
      this.#frames.shift();
      this.#readItems += frame.items.length;
      this.#readBytes += frame.bytes;
      this.#grant();
    }
    return item;
  }

  /** Returns credit for what was read, once half a window of items or bytes has been. */
  #grant(moveTo?: string): void {
    const s = this.#s as StreamSpec;
    if (this.#end !== undefined || this.#workerId === undefined) return;
    if (moveTo === undefined && this.#readItems * 2 < s.window.items && this.#readBytes * 2 < s.window.bytes) return;
    const t = this.#t;
    try {
      const credit = encodeCredit(this.#id, this.#token, this.#readItems, this.#readBytes);
      t.publish(creditSubject(t.prefix, s.target.service, this.#workerId), credit, moveTo === undefined ? undefined : t.replySubject(moveTo));
    } catch {
      return; // not connected: the stream's own timers end it
    }
    this.#grantedItems += this.#readItems;
    this.#grantedBytes += this.#readBytes;
    this.#readItems = 0;
    this.#readBytes = 0;
  }

  /** @internal a message on the stream's reply subject, undecoded */
  frame(data: Uint8Array, noResponders: boolean): void {
    if (this.#end !== undefined) return;
    if (noResponders) return this.#close(new RpcError('NO_RESPONDERS', `no worker serves ${this.#name()}`), false);
    let value: unknown;
    try {
      value = decodeChecked(data, (this.#s as StreamSpec).limits);
    } catch (cause) {
      return this.#violation(`unreadable message: ${(cause as Error).message}`);
    }
    const frame = asItemFrame(value);
    if (frame !== null) return this.#onFrame(frame.id, frame.w, frame.s, frame.items, data.length);
    if (checkReply(value) !== null) return this.#violation('a message that is neither an item frame nor a reply');
    const reply = value as ReplyEnvelope;
    if (reply.id !== this.#id && !isUnattributedError(reply)) return this.#violation('a reply for another request');
    if (!reply.ok) return this.#close(errorFromWire(reply.error), false);
    if (reply.result !== this.#received) return this.#violation(`the worker ended the stream after ${String(reply.result)} items, ${this.#received} arrived`);
    this.#close(null, false);
  }

  #onFrame(id: string, worker: string, first: number, items: unknown[], bytes: number): void {
    if (id !== this.#id) return this.#violation('an item frame for another stream');
    if (this.#workerId !== undefined && worker !== this.#workerId) return this.#violation(`an item frame from worker ${worker}, the stream is served by ${this.#workerId}`);
    if (this.#workerId === undefined) this.#moveTimer = this.#t.clock.setTimer(this.#move, STREAM_REPLY_MOVE_MS);
    this.#workerId = worker;
    if (first !== this.#received) return this.#violation(`items from index ${first} when ${this.#received} had arrived (a gap or a repeat)`);
    if (items.length === 0) return;
    // Before this frame the worker had credit: it may overrun the byte credit by its last frame only.
    if (this.#received + items.length > this.#grantedItems || this.#receivedBytes >= this.#grantedBytes) {
      return this.#violation('the worker sent beyond the credit it was granted');
    }
    this.#received += items.length;
    this.#receivedBytes += bytes;
    const f: Frame = { items, pos: 0, bytes };
    this.#frames.push(f);
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#clearWait();
      waiter({ value: this.#take(f), done: false });
    }
  }

  /** Moves the stream to a fresh reply token; frames may still arrive on the one before. */
  readonly #move = (): void => {
    const t = this.#t;
    const token = t.open(this);
    this.#moved.push(token);
    if (this.#moved.length > 2) t.close(this.#moved.shift()!);
    this.#grant(token);
    this.#moveTimer = t.clock.setTimer(this.#move, STREAM_REPLY_MOVE_MS);
  };

  readonly #probe = (): void => {
    this.#probeTimer = undefined;
    const s = this.#s as StreamSpec;
    const workerId = this.#workerId!;
    void this.#prober.probe(s.target.service, workerId, s.lostWorker.probeTimeoutMs).then((state) => {
      if (this.#end !== undefined || this.#waiter === null) return;
      // Every call and stream that worker held learns it at once, this one included.
      if (state === 'gone') this.#t.workerLost(s.target.service, workerId, false);
      else this.#probeTimer = this.#t.clock.setTimer(this.#probe, s.lostWorker.probeIntervalMs);
    });
  };

  #timeout(message: string, reason: 'deadline' | 'idle'): RpcError {
    return new RpcError('TIMEOUT', `${this.#name()}: ${message}`, { details: { reason }, maybeProcessed: true });
  }

  #violation(what: string): void {
    this.#fail(new RpcError('INTERNAL', `stream ${this.#name()} broke the protocol: ${what}`, { maybeProcessed: true }));
  }

  /** Ends the stream on this side: the worker is told to stop, the loop throws `err` at once. */
  #fail(err: RpcError): void {
    if (this.#end !== undefined) return;
    this.#frames.length = 0;
    this.#close(err, true);
  }

  /** @internal ends the stream from this side with `err` (the client closes) */
  end(err: RpcError): void {
    this.#fail(err);
  }

  /** @internal the deadline passed */
  expire(): void {
    this.#fail(this.#timeout(`did not end within ${(this.#s as StreamSpec).timeoutMs} ms`, 'deadline'));
  }

  /** @internal */
  noResponders(): void {
    this.#close(new RpcError('NO_RESPONDERS', `no worker serves ${this.#name()}`), false);
  }
  /** @internal */
  acked(): void {}
  /** @internal */
  replied(): void {}
  /** @internal */
  unreadable(err: RpcError): void {
    this.#fail(err);
  }
  /** @internal the connection dropped */
  lost(): void {
    this.#fail(new RpcError('UNAVAILABLE', `connection to NATS lost during stream ${this.#name()}`, { maybeProcessed: true }));
  }
  /** @internal a stream's attempt needs no ack sweep: its worker is known from its first frame */
  checkAck(): void {}
  /** @internal */
  workerLost(_service: string, workerId: string): void {
    if (workerId !== this.#workerId || this.#end !== undefined) return;
    this.#close(new RpcError('WORKER_LOST', `worker ${workerId} was lost during stream ${this.#name()}`, { maybeProcessed: true }), false);
  }

  #name(): string {
    const s = this.#s as StreamSpec;
    return `${s.target.service}.${s.target.method}`;
  }

  #clearWait(): void {
    this.#waiter = null;
    this.#waiterFail = null;
    this.#t.clock.clearTimer(this.#idleTimer);
    this.#t.clock.clearTimer(this.#probeTimer);
    this.#idleTimer = this.#probeTimer = undefined;
  }

  /**
   * The stream ended: `null` complete (or left by the loop), else with `err`, marked partial when
   * items had arrived. Items already here are still read before the error unless `cancel` (the
   * caller's own ending: the worker is told to stop).
   */
  #close(err: RpcError | null, cancel: boolean): void {
    if (this.#end !== undefined) return;
    const s = this.#s as StreamSpec;
    if (err !== null && this.#received > 0) {
      const details = { ...(typeof err.details === 'object' && err.details !== null ? err.details : {}), partial: true, received: this.#received };
      err = new RpcError(err.code, err.message, { details, retryable: false, maybeProcessed: true, cause: err });
    }
    this.#end = err;
    const t = this.#t;
    t.close(this.#token);
    for (const token of this.#moved) t.close(token);
    t.clock.clearTimer(this.#moveTimer);
    this.#moveTimer = undefined;
    t.deadlines.delete(this);
    if (this.#onAbort !== undefined) s.signal!.removeEventListener('abort', this.#onAbort);
    if (cancel) this.#cancel(err?.code === 'TIMEOUT');
    this.#onDone();
    const waiter = this.#waiter;
    const fail = this.#waiterFail;
    if (waiter === null) return;
    this.#clearWait();
    const frame = this.#frames[0];
    if (frame !== undefined) waiter({ value: this.#take(frame), done: false });
    else {
      this.#end = null;
      if (err === null) waiter({ value: undefined, done: true });
      else fail!(err);
    }
  }

  /** Tells the worker to return the generator (TIMEOUT when a deadline is why, else CANCELLED). */
  #cancel(deadline: boolean): void {
    if (!this.#t.isConnected()) return;
    try {
      const body = { v: PROTOCOL_VERSION, id: this.#id, replies: [this.#token], deadline: deadline || undefined };
      this.#t.publish(cancelSubject(this.#t.prefix, (this.#s as StreamSpec).target.service), encode(body));
    } catch {
      // best effort: the worker's own deadline still bounds the generator
    }
  }
}
