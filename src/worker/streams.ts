/**
 * The worker's side of server streams: a handler that is an async generator runs here, one item
 * per `yield`, sent to its caller in batched item frames while the caller's credit lasts. The
 * generator is not resumed while credit is exhausted, so a slow caller holds the worker back
 * instead of filling memory; a caller that is gone (the broker answers 503 to a probe of its reply
 * subject, sent when the caller has been silent for a while, whether the worker waits for credit or
 * for its generator) aborts the call's signal; that signal (cancel, deadline, drain, caller gone)
 * returns the generator, which runs its `finally`. The stream's end is the call's ordinary reply, sent by the worker: the item count, or
 * the error. See docs/protocol.md, *Streams*.
 */
import { headers, type MsgHdrs, type NatsConnection, type Subscription } from 'nats';
import { readerGone } from '../connection/request.js';
import type { StreamWindow } from '../protocol/envelope.js';
import { RpcError } from '../protocol/errors.js';
import type { MsgpackLimits } from '../protocol/msgpack-guard.js';
import {
  BINARY_ITEM_HEADER, BINARY_ITEM_MIN_BYTES, binaryItemHeader, type CreditEnvelope, encodeEmptyItemFrame, FRAME_ITEM_BYTES, ItemFrameWriter, MAX_FRAME_ITEMS, readCredit,
} from '../protocol/stream.js';
import { creditSubject, isLastToken, sameInbox } from '../protocol/subjects.js';
import type { Logger } from '../logging/logger.js';
import { CallContext } from './context.js';

/**
 * A stream whose caller has sent no credit for this long (waiting for credit, or for a slow
 * generator) has its caller's reply subject probed, and a probe waits this long for the broker's
 * 503 (the caller is gone); so a vanished caller is noticed within about twice this.
 */
export const CALLER_PROBE_INTERVAL_MS = 1_000;

/** How a stream ends: the number of items sent, or the error it ended with. */
export type StreamDone = (count: number | undefined, err: unknown, reply: string) => void;

class StreamRun {
  /** Credit left. */
  items: number;
  bytes: number;
  /** Items sent (in frames published) so far. */
  sent = 0;
  /** The items batched for the next frame. */
  readonly batch: ItemFrameWriter;
  flushQueued = false;
  wake: (() => void) | null = null;
  failure: RpcError | undefined = undefined;
  /** `performance.now()` when the caller was last heard from: the stream's start, then each credit. */
  heardAt = performance.now();
  /** A probe of the caller's reply subject is out. */
  probing = false;
  /** Where frames and the final reply go: the request's reply subject, or the newest the caller moved it to. */
  reply: string;
  readonly maxItems: number;
  readonly maxBytes: number;
  constructor(
    readonly ctx: CallContext,
    /** The stream request's reply subject: its last token authenticates credit. */
    readonly request: string,
    readonly window: StreamWindow,
    maxPayload: number,
    workerId: string,
  ) {
    this.batch = new ItemFrameWriter(ctx.requestId, workerId);
    this.reply = request;
    this.items = window.items;
    this.bytes = window.bytes;
    this.maxItems = Math.max(1, Math.min(MAX_FRAME_ITEMS, Math.floor(window.items / 4)));
    this.maxBytes = Math.max(1, Math.min(Math.floor(window.bytes / 4), Math.floor(maxPayload / 2), FRAME_ITEM_BYTES));
  }
}

export class WorkerStreams {
  readonly #nc: NatsConnection;
  readonly #workerId: string;
  /** `<prefix>._credit.<service>.`: probes of callers take their answer subject here (see #callerGone). */
  readonly #probeAnswers: string;
  /** Probes silent callers while streams are open. */
  #prober: NodeJS.Timeout | undefined = undefined;
  readonly #limits: MsgpackLimits;
  readonly #log: Logger;
  readonly #open = new Map<string, StreamRun>();
  readonly #sub: Subscription;
  /** Credit messages that named no open stream or could not be read. */
  #ignoredCredits = 0;

  /** Credit messages that named no open stream or could not be read. */
  get ignoredCredits(): number {
    return this.#ignoredCredits;
  }

  /** Credit that names no open stream: it may move a long plain call (call-moves.ts); true when it did. */
  readonly #other: (credit: CreditEnvelope, moveTo: string | undefined) => boolean;

  constructor(nc: NatsConnection, prefix: string, service: string, workerId: string, limits: MsgpackLimits, log: Logger, other: (credit: CreditEnvelope, moveTo: string | undefined) => boolean) {
    this.#nc = nc;
    this.#other = other;
    this.#workerId = workerId;
    this.#limits = limits;
    this.#log = log;
    this.#probeAnswers = creditSubject(prefix, service, '');
    this.#sub = nc.subscribe(creditSubject(prefix, service, workerId), { callback: (err, msg) => err === null && this.#onCredit(msg.data, msg.reply) });
  }

  /** Streams open now. */
  get size(): number {
    return this.#open.size;
  }

  close(): void {
    this.#sub.unsubscribe();
    clearInterval(this.#prober);
    this.#prober = undefined;
  }

  /** Runs the generator `gen` for `ctx` and calls `done` once it has ended and its `finally` has run. */
  run(gen: AsyncGenerator<unknown>, ctx: CallContext, reply: string, window: StreamWindow, done: StreamDone): void {
    if (this.#open.has(ctx.requestId)) {
      void gen.return(undefined).catch(() => undefined);
      done(undefined, new RpcError('BAD_REQUEST', `a stream with id ${JSON.stringify(ctx.requestId)} is already open on this worker`), reply);
      return;
    }
    const run = new StreamRun(ctx, reply, window, this.#nc.info?.max_payload ?? 1024 * 1024, this.#workerId);
    this.#open.set(ctx.requestId, run);
    this.#prober ??= setInterval(this.#probeSilentCallers, CALLER_PROBE_INTERVAL_MS).unref();
    void this.#pump(run, gen).then(({ count, err }) => {
      this.#open.delete(ctx.requestId);
      if (this.#open.size === 0) {
        clearInterval(this.#prober);
        this.#prober = undefined;
      }
      done(count, err, run.reply);
    });
  }

  async #pump(run: StreamRun, gen: AsyncGenerator<unknown>): Promise<{ count: number | undefined; err: unknown }> {
    const ctx = run.ctx;
    const onAbort = () => run.wake?.();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    let err: unknown = undefined;
    let finished = false;
    this.#flush(run); // the open frame: no items, names this worker
    try {
      while (!ctx.aborted && run.failure === undefined) {
        if (run.items <= 0 || run.bytes <= 0) {
          this.#flush(run);
          await this.#creditOrAbort(run);
          continue;
        }
        const next = await gen.next();
        if (next.done === true) {
          finished = true;
          break;
        }
        const batch = run.batch;
        if (next.value instanceof Uint8Array && next.value.length >= BINARY_ITEM_MIN_BYTES) {
          if (batch.items > 0) this.#flush(run); // the items before it go first
          this.#sendBinary(run, next.value);
          // The nats client copies a payload when it flushes: at once, or in a microtask queued
          // before this one. Only then may the generator run on and refill the array it yielded.
          await Promise.resolve();
          continue;
        }
        const bytes = batch.stage(next.value);
        if (batch.items > 0 && batch.itemBytes + bytes > run.maxBytes) this.#flush(run);
        batch.append();
        run.items--;
        run.bytes -= bytes;
        if (batch.items >= run.maxItems || batch.itemBytes >= run.maxBytes) this.#flush(run);
        else if (!run.flushQueued) {
          run.flushQueued = true;
          setImmediate(() => this.#flush(run));
        }
      }
    } catch (e) {
      err = e;
    }
    ctx.signal.removeEventListener('abort', onAbort);
    if (!finished) {
      // The caller left, the deadline passed, the worker drains or the generator threw: it is
      // returned, so its `finally` runs before the slot is free.
      try {
        await gen.return(undefined);
      } catch (e) {
        err ??= e;
      }
    }
    if (run.failure === undefined) this.#flush(run);
    err ??= run.failure ?? (ctx.aborted ? ctx.abortReason : undefined);
    return err === undefined ? { count: run.sent, err } : { count: undefined, err };
  }

  /** Sends the batch (or, with nothing batched before the first item, the open frame). */
  #flush(run: StreamRun): void {
    run.flushQueued = false;
    const items = run.batch.items;
    if (items === 0 && run.sent > 0) return;
    if (run.failure !== undefined || this.#nc.isClosed()) return;
    const itemBytes = run.batch.itemBytes;
    const frame = run.batch.frame(run.sent);
    if (!this.#publish(run, frame)) return;
    // The frame's own bytes (map, keys, array header) count against the window too.
    if (items > 0) run.bytes -= frame.length - itemBytes;
    run.sent += items;
  }

  /**
   * Sends a large byte-array item alone, its bytes the payload, its place in a NATS header: the
   * nats client copies it once, as it does any payload, instead of it being copied into a frame
   * first. It is charged its own length.
   */
  #sendBinary(run: StreamRun, item: Uint8Array): void {
    run.items--;
    run.bytes -= item.length;
    if (run.failure !== undefined || this.#nc.isClosed()) return;
    const h = headers();
    h.set(BINARY_ITEM_HEADER, binaryItemHeader(run.sent, this.#workerId));
    if (this.#publish(run, item, h)) run.sent++;
  }

  /** Publishes a frame on the stream's reply subject; false, the stream failed, when it cannot be sent. */
  #publish(run: StreamRun, frame: Uint8Array, h?: MsgHdrs): boolean {
    try {
      this.#nc.publish(run.reply, frame, h === undefined ? undefined : { headers: h });
      return true;
    } catch (cause) {
      const code = (cause as { code?: string }).code === 'MAX_PAYLOAD_EXCEEDED' ? 'PAYLOAD_TOO_LARGE' : 'INTERNAL';
      run.failure = new RpcError(code, `stream item frame of ${frame.length} bytes cannot be sent: ${(cause as Error).message}`, { cause });
      run.wake?.();
      return false;
    }
  }

  /** Waits for credit or the signal (a caller that is gone aborts it: see #probeSilentCallers). */
  async #creditOrAbort(run: StreamRun): Promise<void> {
    while (!run.ctx.aborted && run.failure === undefined && (run.items <= 0 || run.bytes <= 0)) {
      await new Promise<void>((resolve) => (run.wake = resolve));
      run.wake = null;
    }
  }

  /**
   * Every CALLER_PROBE_INTERVAL_MS: each open stream whose caller has sent no credit for that long
   * (the worker waits for credit, or its generator is slow) and has no probe out is probed; a caller
   * that is gone aborts the call's signal with CANCELLED, which returns the generator.
   */
  readonly #probeSilentCallers = (): void => {
    const silentSince = performance.now() - CALLER_PROBE_INTERVAL_MS;
    for (const run of this.#open.values()) {
      if (run.probing || run.heardAt > silentSince || run.ctx.aborted || run.failure !== undefined) continue;
      run.probing = true;
      void this.#callerGone(run).then((gone) => {
        run.probing = false;
        if (gone) CallContext.abort(run.ctx, new RpcError('CANCELLED', 'the caller of the stream is gone (its reply subject has no subscriber)'));
      });
    }
  };

  /**
   * A probe frame (no items) sent to the stream's reply subject as a request: the broker's 503 says
   * nobody reads it any more. Its answer subject is `<prefix>._credit.<service>.<random token>`,
   * which a service's identity may already subscribe to (no inbox of its own is needed, which the
   * shipped identities may not have); the token is random, and only the stream's caller sees it.
   */
  #callerGone(run: StreamRun): Promise<boolean> {
    if (this.#nc.isClosed()) return Promise.resolve(true);
    const probe = encodeEmptyItemFrame(run.ctx.requestId, this.#workerId, run.sent);
    return readerGone(this.#nc, run.reply, probe, CALLER_PROBE_INTERVAL_MS, this.#probeAnswers);
  }

  #onCredit(data: Uint8Array, moveTo: string | undefined): void {
    const credit = readCredit(data, this.#limits);
    const run = credit === null ? undefined : this.#open.get(credit.id);
    // Only the stream's caller knows the random token of its reply subject.
    if (credit === null || run === undefined || !isLastToken(run.request, credit.reply)) {
      if (credit !== null && run === undefined && this.#other(credit, moveTo)) return;
      this.#ignoredCredits++;
      if (this.#log.isLevelEnabled('debug')) this.#log.debug({ bytes: data.length }, 'credit for no open stream ignored');
      return;
    }
    // A credit with a NATS reply moves the stream to that subject of the same inbox (a new token):
    // the broker's permission to answer a request expires (allow_responses), and the delivery
    // of this credit opens a fresh one there (docs/protocol.md, *Streams*).
    if (moveTo !== undefined && moveTo !== '' && moveTo !== run.reply && sameInbox(moveTo, run.request)) run.reply = moveTo;
    run.heardAt = performance.now();
    // Never more than one window ahead of what was sent, whatever a (forged) credit says.
    run.items = Math.min(run.items + credit.items, run.window.items);
    run.bytes = Math.min(run.bytes + credit.bytes, run.window.bytes);
    if (run.items > 0 && run.bytes > 0) run.wake?.();
  }
}
