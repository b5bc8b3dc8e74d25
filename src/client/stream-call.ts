/**
 * The caller's side of a server stream: an async iterator over the items a worker yields. The
 * request goes through the queue group like a call; the worker that took it answers on the
 * request's own reply subject with item frames, then the ordinary reply (the item count, or the
 * error). Credit for more items goes to that worker's credit subject as items are read, so the
 * worker never runs more than one window ahead. Every way a stream can end is told apart: a
 * completed stream ends the loop, anything else (a gap, a count that does not match, a lost
 * worker, a deadline, idleness) throws an {@link RpcError}. See docs/protocol.md, *Streams*.
 * The credit's accounting is in stream-credit.ts, the moving of reply subjects in stream-replies.ts.
 */
import { decodeChecked, encodeRequest, errorFromWire } from '../protocol/codec.js';
import { checkReply, isUnattributedError, PROTOCOL_VERSION, type ReplyEnvelope } from '../protocol/envelope.js';
import { RpcError } from '../protocol/errors.js';
import { asItemFrame, BINARY_ITEM_HEADER, encodeCredit, parseBinaryItemHeader } from '../protocol/stream.js';
import { headerValue } from '../protocol/nats-headers.js';
import { plainBytes } from '../protocol/value-decoder.js';
import { creditSubject } from '../protocol/subjects.js';
import { DEADLINE_BUCKET, DEADLINE_NEXT, DEADLINE_PREV, type Expiring } from '../timing/deadline-queue.js';
import type { RpcStream, StreamSpec } from './stream-options.js';
import type { LivenessProber } from './liveness.js';
import type { CallTransport, Expirable, InboxEntry } from './transport.js';
import { StreamCredit } from './stream-credit.js';
import { StreamReplies } from './stream-replies.js';
import { publishCancel } from './call-messages.js';

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
  #workerId: string | undefined = undefined;
  /** Items arrived and not read yet, and the credit accounting. */
  readonly #credit = new StreamCredit(() => this.#grant());
  /** Set once the stream has ended: `null` for a complete stream, else the error still to throw. */
  #end: RpcError | null | undefined = undefined;
  #waiter: ((r: IteratorResult<T>) => void) | null = null;
  #waiterFail: ((err: RpcError) => void) | null = null;
  #idleTimer: unknown = undefined;
  #probeTimer: unknown = undefined;
  /** Its reply subjects, moved to fresh ones while it lasts. */
  readonly #replies: StreamReplies;
  #onAbort: (() => void) | undefined = undefined;

  /** `onStart` says whether the client still takes calls; `onDone` runs once when a started stream ends. */
  constructor(t: CallTransport, prober: LivenessProber, spec: StreamSpec | RpcError, id: string, onStart: () => boolean, onDone: () => void) {
    this.#t = t;
    this.#replies = new StreamReplies(t, this, (token) => this.#grant(token));
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
    if (this.#credit.hasItem) return Promise.resolve({ value: this.#credit.take() as T, done: false });
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
    this.#credit.drop();
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
    this.#credit.open(s.window);
    const token = this.#replies.open();
    try {
      t.publish(s.target.subject, data, t.replySubject(token));
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

  /** Returns credit for what was read, once half a window of items or bytes has been. */
  #grant(moveTo?: string): void {
    const s = this.#s as StreamSpec;
    const c = this.#credit;
    if (this.#end !== undefined || this.#workerId === undefined) return;
    if (moveTo === undefined && !c.due) return;
    const t = this.#t;
    try {
      const credit = encodeCredit(this.#id, this.#replies.token, c.readItems, c.readBytes);
      t.publish(creditSubject(t.prefix, s.target.service, this.#workerId), credit, moveTo === undefined ? undefined : t.replySubject(moveTo));
    } catch {
      return; // not connected: the stream's own timers end it
    }
    c.granted();
  }

  /** @internal a message on the stream's reply subject, undecoded; `withHeaders` when it has a (checked) header block */
  frame(data: Uint8Array, noResponders: boolean, withHeaders?: object): void {
    if (this.#end !== undefined) return;
    if (noResponders) return this.#close(new RpcError('NO_RESPONDERS', `no worker serves ${this.#name()}`), false);
    const binary = withHeaders === undefined ? null : headerValue(withHeaders, BINARY_ITEM_HEADER);
    if (binary !== null) {
      // A binary item frame: one byte-array item, the payload as it is.
      const head = parseBinaryItemHeader(binary);
      if (head === null) return this.#violation(`a binary item frame whose header breaks the rules: ${JSON.stringify(binary.slice(0, 200))}`);
      return this.#onFrame(this.#id, head.w, head.s, [plainBytes(data)], data.length);
    }
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
    if (reply.result !== this.#credit.received) return this.#violation(`the worker ended the stream after ${String(reply.result)} items, ${this.#credit.received} arrived`);
    this.#close(null, false);
  }

  #onFrame(id: string, worker: string, first: number, items: unknown[], bytes: number): void {
    if (id !== this.#id) return this.#violation('an item frame for another stream');
    if (this.#workerId !== undefined && worker !== this.#workerId) return this.#violation(`an item frame from worker ${worker}, the stream is served by ${this.#workerId}`);
    if (this.#workerId === undefined) this.#replies.startMoving();
    this.#workerId = worker;
    if (first !== this.#credit.received) return this.#violation(`items from index ${first} when ${this.#credit.received} had arrived (a gap or a repeat)`);
    if (items.length === 0) return;
    if (!this.#credit.add(items, bytes)) return this.#violation('the worker sent beyond the credit it was granted');
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#clearWait();
      waiter({ value: this.#credit.take() as T, done: false });
    }
  }

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
    this.#credit.drop();
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
    const received = this.#credit.received;
    if (err !== null && received > 0) {
      const details = { ...(typeof err.details === 'object' && err.details !== null ? err.details : {}), partial: true, received };
      err = new RpcError(err.code, err.message, { details, retryable: false, maybeProcessed: true, cause: err });
    }
    this.#end = err;
    this.#replies.close();
    this.#t.deadlines.delete(this);
    if (this.#onAbort !== undefined) s.signal!.removeEventListener('abort', this.#onAbort);
    if (cancel) this.#cancel(err?.code === 'TIMEOUT');
    this.#onDone();
    const waiter = this.#waiter;
    const fail = this.#waiterFail;
    if (waiter === null) return;
    this.#clearWait();
    if (this.#credit.hasItem) waiter({ value: this.#credit.take() as T, done: false });
    else {
      this.#end = null;
      if (err === null) waiter({ value: undefined, done: true });
      else fail!(err);
    }
  }

  /**
   * Tells the worker to return the generator (TIMEOUT when a deadline is why, else CANCELLED). While
   * the connection is down (the stream ended because it dropped: lost()), the cancel goes once it is
   * back, within the stream's timeout: after a reconnect the worker's probes find the inbox
   * subscribed again and would keep the stream open, waiting for credit, until its deadline.
   */
  #cancel(deadline: boolean): void {
    const s = this.#s as StreamSpec;
    publishCancel(this.#t, s.target.service, this.#id, [this.#replies.token], deadline || undefined, s.timeoutMs);
  }
}
