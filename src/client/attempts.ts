/**
 * One call as a series of attempts: retries with backoff, hedges, waiting for workers or for the
 * connection, lost-worker detection, query-of-death protection and cancellation. Plain calls never
 * come here unless their first attempt fails with a retryable code (see client.ts): this path
 * costs timers and, for idempotent calls, an ack per attempt.
 */
import type { Msg } from 'nats';
import { decodeChecked, encodeRequest, errorFromWire } from '../protocol/codec.js';
import { asAck, checkReply, isUnattributedError, PROTOCOL_VERSION, type Headers, type ReplyEnvelope } from '../protocol/envelope.js';
import { RpcError } from '../protocol/errors.js';
import { encode } from '../protocol/codec.js';
import { cancelSubject } from '../protocol/subjects.js';
import type { HedgePolicy, LostWorkerPolicy, RetryPolicy } from './call-options.js';
import { hedgeDelayMs } from './hedging.js';
import type { LivenessProber } from './liveness.js';
import { isRetryable, MIN_ATTEMPT_BUDGET_MS, planRetry } from './retry-policy.js';
import type { CallTransport, InboxEntry, ResolvedTarget } from './transport.js';

/** After this many worker losses during one request, it is presumed to be what kills them. */
export const QUERY_OF_DEATH_LOSSES = 2;

export interface CallSpec {
  readonly target: ResolvedTarget;
  readonly payload: unknown;
  readonly headers: Headers | undefined;
  readonly timeoutMs: number;
  readonly signal: AbortSignal | undefined;
  readonly idempotent: boolean;
  readonly retry: Readonly<RetryPolicy>;
  readonly hedge: Readonly<Required<HedgePolicy>> | undefined;
  readonly waitForWorkers: boolean;
  readonly waitForConnection: boolean;
  readonly lostWorker: Readonly<LostWorkerPolicy>;
}

/** Where a call handed over by the fast path stands: its first attempt failed with `error`. */
export interface Resumed {
  startedAt: number;
  error: RpcError;
}

class Attempt implements InboxEntry {
  seq = 0;
  sentAt = 0;
  workerId: string | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  attemptTimer: ReturnType<typeof setTimeout> | undefined;
  constructor(readonly runner: CallRunner, readonly no: number) {}
  deliver(msg: Msg): void {
    this.runner.onMessage(this, msg);
  }
  lost(): void {
    this.runner.onConnectionLost(this);
  }
}

export function runCall(t: CallTransport, prober: LivenessProber, spec: CallSpec, id: string, resumed?: Resumed): Promise<unknown> {
  return new CallRunner(t, prober, spec, id, resumed).promise;
}

class CallRunner {
  readonly promise: Promise<unknown>;
  #resolve!: (value: unknown) => void;
  #reject!: (err: RpcError) => void;
  readonly #t: CallTransport;
  readonly #prober: LivenessProber;
  readonly #s: CallSpec;
  readonly #id: string;
  readonly #deadline: number;
  readonly #live = new Set<Attempt>();
  #sent = 0;
  #losses = 0;
  #lastError: RpcError | undefined;
  /** Some attempt may have been processed (sent and then lost, abandoned or cut off). */
  #ambiguous = false;
  #connectionLost = false;
  /** Set while the call waits for the connection: the error it ends with if none comes. */
  #waitingForConnection: RpcError | undefined;
  #done = false;
  #deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #hedgeTimer: ReturnType<typeof setTimeout> | undefined;
  #onAbort: (() => void) | undefined;

  constructor(t: CallTransport, prober: LivenessProber, spec: CallSpec, id: string, resumed: Resumed | undefined) {
    this.promise = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#t = t;
    this.#prober = prober;
    this.#s = spec;
    this.#id = id;
    const startedAt = resumed?.startedAt ?? performance.now();
    this.#deadline = startedAt + spec.timeoutMs;
    const signal = spec.signal;
    if (signal?.aborted) {
      this.#finish(new RpcError('CANCELLED', 'call aborted before it was sent', { cause: signal.reason }));
      return;
    }
    this.#deadlineTimer = setTimeout(this.#onDeadline, Math.max(0, this.#deadline - performance.now()));
    if (signal !== undefined) {
      this.#onAbort = () =>
        this.#finish(new RpcError('CANCELLED', 'call aborted by the caller', { cause: signal.reason, maybeProcessed: this.#ambiguous || this.#live.size > 0 }));
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
    if (resumed !== undefined) {
      this.#sent = 1;
      this.#afterFailure(resumed.error);
    } else {
      spec.target.budget.deposit();
      this.#send();
    }
  }

  #remaining(): number {
    return this.#deadline - performance.now();
  }

  readonly #send = (): void => {
    this.#retryTimer = undefined;
    if (this.#done) return;
    const t = this.#t;
    const s = this.#s;
    if (!t.isConnected()) {
      if (s.waitForConnection || (this.#connectionLost && s.idempotent)) {
        // Workers are reconnecting too: once connected, NO_RESPONDERS is waited out as well.
        this.#connectionLost = true;
        // What the call ends with if the connection does not come back in time (or the client closes).
        const unavailable = new RpcError('UNAVAILABLE', 'not connected to NATS (reconnecting) within the deadline', { maybeProcessed: this.#ambiguous });
        this.#waitingForConnection = unavailable;
        void t.whenConnected(this.#remaining()).then((ok) => {
          this.#waitingForConnection = undefined;
          if (ok) this.#send();
          else this.#finish(unavailable);
        });
      } else {
        this.#finish(new RpcError('UNAVAILABLE', 'not connected to NATS (reconnecting)', { maybeProcessed: this.#ambiguous }));
      }
      return;
    }
    const attempt = new Attempt(this, ++this.#sent);
    let data: Uint8Array;
    try {
      data = encodeRequest({
        v: PROTOCOL_VERSION,
        id: this.#id,
        method: s.target.method,
        budgetMs: Math.max(1, Math.floor(this.#remaining())),
        attempt: attempt.no,
        sentAt: Date.now(),
        headers: s.headers,
        payload: s.payload ?? null,
        ack: s.idempotent ? true : undefined,
        cancellable: true,
      });
    } catch (cause) {
      this.#finish(new RpcError('BAD_REQUEST', `payload cannot be encoded: ${(cause as Error).message}`, { cause }));
      return;
    }
    attempt.seq = t.open(attempt);
    try {
      t.publish(s.target.subject, data, t.replySubject(attempt.seq));
    } catch (cause) {
      t.close(attempt.seq);
      if ((cause as { code?: string }).code === 'MAX_PAYLOAD_EXCEEDED') {
        this.#finish(new RpcError('PAYLOAD_TOO_LARGE', `request of ${data.length} bytes exceeds the broker's max_payload`, { cause }));
      } else {
        this.#afterFailure(new RpcError('UNAVAILABLE', `cannot publish: ${(cause as Error).message}`, { cause }));
      }
      return;
    }
    attempt.sentAt = performance.now();
    this.#live.add(attempt);
    if (s.idempotent) attempt.timer = setTimeout(() => this.#onAckTimeout(attempt), s.lostWorker.ackTimeoutMs);
    const perAttempt = s.retry.perAttemptTimeoutMs;
    if (perAttempt !== undefined && perAttempt < this.#remaining()) {
      attempt.attemptTimer = setTimeout(() => this.#onAttemptTimeout(attempt), perAttempt);
    }
    if (s.hedge !== undefined && this.#hedgeTimer === undefined && this.#sent < s.hedge.maxAttempts) {
      this.#hedgeTimer = setTimeout(this.#onHedge, hedgeDelayMs(s.hedge, s.target.latency));
    }
  };

  onMessage(attempt: Attempt, msg: Msg): void {
    if (this.#done || !this.#live.has(attempt)) return;
    if (msg.headers?.code === 503) {
      this.#attemptFailed(attempt, new RpcError('NO_RESPONDERS', `no worker serves ${this.#s.target.service}.${this.#s.target.method}`));
      return;
    }
    let value: unknown;
    try {
      value = decodeChecked(msg.data, this.#t.limits);
    } catch (cause) {
      this.#attemptFailed(attempt, new RpcError('INTERNAL', `invalid reply: ${(cause as Error).message}`, { cause, maybeProcessed: true }));
      return;
    }
    const ack = asAck(value);
    if (ack !== null) {
      if (ack.id === this.#id && attempt.workerId === undefined) this.#onAck(attempt, ack.worker);
      return;
    }
    const reason = checkReply(value);
    if (reason !== null) {
      this.#attemptFailed(attempt, new RpcError('INTERNAL', `invalid reply: ${reason}`, { maybeProcessed: true }));
      return;
    }
    const reply = value as ReplyEnvelope;
    if (reply.id !== this.#id && !isUnattributedError(reply)) return;
    if (reply.ok) {
      this.#s.target.latency.record(performance.now() - attempt.sentAt);
      this.#drop(attempt);
      this.#finish(undefined, reply.result);
    } else {
      this.#attemptFailed(attempt, errorFromWire(reply.error));
    }
  }

  onConnectionLost(attempt: Attempt): void {
    if (this.#done || !this.#live.has(attempt)) return;
    this.#drop(attempt);
    this.#connectionLost = true;
    this.#ambiguous = true;
    if (this.#live.size > 0 || this.#retryTimer !== undefined) return;
    if (this.#s.idempotent) {
      // The load was lost with the connection, not added to a sick service: no budget is spent,
      // and the retry waits for the reconnect within the deadline.
      this.#send();
    } else {
      this.#finish(new RpcError('UNAVAILABLE', 'connection to NATS lost; the request may have been processed', { maybeProcessed: true }));
    }
  }

  #onAck(attempt: Attempt, workerId: string): void {
    attempt.workerId = workerId;
    clearTimeout(attempt.timer);
    attempt.timer = setTimeout(() => this.#probe(attempt), this.#s.lostWorker.probeAfterMs);
  }

  #probe(attempt: Attempt): void {
    const lw = this.#s.lostWorker;
    void this.#prober.probe(attempt.workerId!, lw.probeTimeoutMs).then((state) => {
      if (this.#done || !this.#live.has(attempt)) return;
      if (state === 'gone') this.#onWorkerLost(attempt);
      else attempt.timer = setTimeout(() => this.#probe(attempt), lw.probeIntervalMs);
    });
  }

  /** No ack: the request may sit in a dead worker's socket buffer. Send it again, keep waiting on this one. */
  #onAckTimeout(attempt: Attempt): void {
    attempt.timer = undefined;
    if (this.#done || !this.#live.has(attempt)) return;
    if (this.#sent >= this.#s.retry.maxAttempts || this.#remaining() < MIN_ATTEMPT_BUDGET_MS) return;
    if (this.#live.size === 1 && this.#retryTimer === undefined && this.#s.target.budget.tryWithdraw()) {
      this.#send();
      return;
    }
    // Another attempt is out, a retry is pending or the budget is spent: look again later, so an
    // attempt lost without an ack is never simply waited out.
    attempt.timer = setTimeout(() => this.#onAckTimeout(attempt), this.#s.lostWorker.ackTimeoutMs);
  }

  #onAttemptTimeout(attempt: Attempt): void {
    attempt.attemptTimer = undefined;
    if (this.#done || !this.#live.has(attempt)) return;
    this.#cancel(attempt.no);
    this.#ambiguous = true;
    this.#attemptFailed(attempt, new RpcError('TIMEOUT', `attempt ${attempt.no} took longer than ${this.#s.retry.perAttemptTimeoutMs} ms`));
  }

  #onWorkerLost(attempt: Attempt): void {
    this.#drop(attempt);
    this.#ambiguous = true;
    this.#losses++;
    this.#t.logger.warn({ reqId: this.#id, workerId: attempt.workerId, attempt: attempt.no, losses: this.#losses }, 'worker lost while serving a request');
    this.#afterFailure(
      new RpcError('UNAVAILABLE', `worker ${attempt.workerId} was lost while serving the request; it may have been processed`, { maybeProcessed: true }),
    );
  }

  readonly #onHedge = (): void => {
    this.#hedgeTimer = undefined;
    const hedge = this.#s.hedge!;
    if (this.#done || this.#live.size === 0 || this.#sent >= hedge.maxAttempts) return;
    if (this.#remaining() < MIN_ATTEMPT_BUDGET_MS || !this.#s.target.budget.tryWithdraw()) return;
    this.#send();
  };

  #attemptFailed(attempt: Attempt, err: RpcError): void {
    this.#drop(attempt);
    this.#afterFailure(err);
  }

  #afterFailure(err: RpcError): void {
    this.#lastError = err;
    if (err.maybeProcessed) this.#ambiguous = true;
    const s = this.#s;
    if (!isRetryable(err, s.idempotent)) {
      // A definitive answer ends the call, even while hedges are out: the first reply wins.
      if (this.#live.size === 0 || !err.retryable) this.#finish(err);
      return;
    }
    if (this.#retryTimer !== undefined) return;
    if (this.#losses >= QUERY_OF_DEATH_LOSSES) {
      if (this.#live.size === 0) {
        this.#finish(
          new RpcError('QUERY_OF_DEATH', `the request was being served by ${this.#losses} workers that were lost; it is not sent again`, {
            maybeProcessed: true,
            cause: err,
          }),
        );
      }
      return;
    }
    const plan = planRetry(s.retry, err, {
      attempts: this.#sent,
      idempotent: s.idempotent,
      waitForWorkers: s.waitForWorkers || this.#connectionLost,
      remainingMs: this.#remaining(),
    });
    if (plan.retry && (plan.free || s.target.budget.tryWithdraw())) {
      this.#retryTimer = setTimeout(this.#send, plan.delayMs);
      return;
    }
    if (this.#live.size === 0) this.#finish(err);
  }

  readonly #onDeadline = (): void => {
    this.#deadlineTimer = undefined;
    if (this.#done) return;
    if (this.#waitingForConnection !== undefined) {
      this.#finish(this.#waitingForConnection);
      return;
    }
    const last = this.#lastError;
    if (this.#live.size === 0 && last !== undefined && !last.maybeProcessed) {
      this.#finish(last); // e.g. still NO_RESPONDERS while waiting for workers
      return;
    }
    const target = `${this.#s.target.service}.${this.#s.target.method}`;
    const outstanding = [...this.#live].map((a) => `#${a.no}${a.workerId === undefined ? ' (no ack)' : ` (at ${a.workerId})`}`);
    const detail = this.#sent > 1 || outstanding.length !== 1 ? `; ${this.#sent} attempts, outstanding: ${outstanding.join(', ') || 'none'}` : '';
    this.#finish(new RpcError('TIMEOUT', `${target} did not reply within ${this.#s.timeoutMs} ms${detail}`, { retryable: this.#s.idempotent }));
  };

  #drop(attempt: Attempt): void {
    this.#live.delete(attempt);
    this.#t.close(attempt.seq);
    clearTimeout(attempt.timer);
    clearTimeout(attempt.attemptTimer);
  }

  /** Tells the workers to abort the handlers of this request (of one attempt, or all). */
  #cancel(attempt?: number): void {
    if (!this.#t.isConnected()) return;
    try {
      const body = attempt === undefined ? { v: PROTOCOL_VERSION, id: this.#id } : { v: PROTOCOL_VERSION, id: this.#id, attempt };
      this.#t.publish(cancelSubject(this.#t.prefix, this.#s.target.service), encode(body));
    } catch {
      // best effort: the worker's own deadline still bounds the handler
    }
  }

  #finish(err: RpcError | undefined, result?: unknown): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#deadlineTimer);
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#hedgeTimer);
    if (this.#onAbort !== undefined) this.#s.signal!.removeEventListener('abort', this.#onAbort);
    if (this.#live.size > 0) {
      for (const attempt of [...this.#live]) this.#drop(attempt);
      this.#cancel();
    }
    if (err === undefined) this.#resolve(result);
    else this.#reject(err);
  }
}
