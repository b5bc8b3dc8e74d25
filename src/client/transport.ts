/**
 * What the call engine (call-engine.ts, liveness.ts) needs from the client: its reply inbox,
 * publishing, the connection's state, a clock and the shared deadline timer. The client
 * implements it over its one connection; tests implement it with a fake broker and a fake clock.
 */
import type { MsgHdrs } from 'nats';
import type { Logger } from '../logging/logger.js';
import type { BodyChunk, BodyPull } from '../protocol/body.js';
import type { ReplyEnvelope } from '../protocol/envelope.js';
import type { MsgpackLimits } from '../protocol/msgpack-guard.js';
import type { RpcError } from '../protocol/errors.js';
import type { Clock } from '../timing/clock.js';
import type { Expiring } from '../timing/deadline-queue.js';
import type { LatencyTracker } from './hedging.js';
import type { RetryBudget } from './retry-budget.js';
import type { Target } from './target.js';

/**
 * Something waiting on a reply subject of the client's inbox. The inbox classifies each message
 * once (503, ack, reply, unreadable) and calls the matching method.
 */
export interface InboxEntry {
  /** The broker answered 503: no subscriber for the subject the request went to. */
  noResponders(): void;
  /** A worker acknowledged the attempt: it holds it. */
  acked(workerId: string): void;
  /** The reply (decoded and checked). */
  replied(reply: ReplyEnvelope): void;
  /** Something unreadable arrived on the reply subject. */
  unreadable(err: RpcError): void;
  /** The connection dropped: no message can reach it any more. */
  lost(): void;
  /**
   * Worker `workerId` of `service` was found lost at `lostAt` (clock time): by the supervisor's
   * verdict or a disconnect it relays (`verdict` true), or by a probe's 503 (`verdict` false: its
   * connection is closed, which a drained worker's is too).
   */
  workerLost(service: string, workerId: string, lostAt: number, verdict: boolean): void;
  /**
   * A census of `service` ended (census.ts): every worker of it this client knows answered after
   * the acks of what it holds, or is gone, and a worker was lost. An attempt of the service sent
   * before `before` that no worker acknowledged or answered was with a lost worker.
   */
  census?(service: string, before: number): void;
  /**
   * When present, the entry reads its own messages (a stream's item frames and final reply): the
   * inbox hands it the bytes undecoded, whether the broker answered 503, and the message itself when
   * it has a header block (checked: read it with headerValue).
   */
  frame?(data: Uint8Array, noResponders: boolean, withHeaders?: object): void;
  /** A worker pulls the request body of the attempt (docs/protocol.md, *Large bodies*). */
  bodyPull?(pull: BodyPull): void;
  /** A chunk of the attempt's reply body. */
  bodyChunk?(chunk: BodyChunk): void;
  /** The inbox's periodic look at what waits: an attempt notes here that its ack is overdue. */
  checkAck(now: number): void;
}

/** A call target with what the client keeps per target and per service. */
export interface ResolvedTarget extends Target {
  readonly budget: RetryBudget;
  readonly latency: LatencyTracker;
}

/** Something with a deadline in the client's shared deadline queue. */
export interface Expirable extends Expiring {
  /** Its deadline passed. */
  expire(): void;
}

/** One timer for the deadlines of many calls (a `DeadlineQueue` in the client). */
export interface Deadlines {
  /** Queues `item` to expire at `expiresAt` (clock time). */
  add(item: Expirable, expiresAt: number): void;
  delete(item: Expirable): boolean;
}

export interface CallTransport {
  readonly prefix: string;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly deadlines: Deadlines;
  /** Decoding limits of replies (a reply body is decoded with them too). */
  readonly limits: MsgpackLimits;
  /** The largest body a call sends or takes, in bytes (`maxBodyBytes`). */
  readonly maxBodyBytes: number;
  /** The broker's max_payload: a request longer than it goes as a body in chunks. */
  maxPayload(): number;
  isConnected(): boolean;
  /** Resolves true once connected, false if `timeoutMs` passes or the client closes first. */
  whenConnected(timeoutMs: number): Promise<boolean>;
  /**
   * Registers `entry` under a fresh reply subject and returns its token: random, unguessable, the
   * last token of the subject (reply-token.ts). Only what arrives on it reaches the entry.
   */
  open(entry: InboxEntry): string;
  replySubject(token: string): string;
  /** Forgets the entry of `token`; later messages for it are dropped unread. */
  close(token: string): void;
  /** Publishes (with NATS `headers`: a body chunk's); throws what `nats` throws (MAX_PAYLOAD_EXCEEDED, closed connection...). */
  publish(subject: string, data: Uint8Array, reply?: string, headers?: MsgHdrs): void;
  /** Tells every entry that a worker was lost (`verdict`: the supervisor said so; else a probe's 503). */
  workerLost(service: string, workerId: string, verdict: boolean): void;
  /** A worker of `service` acknowledged an attempt. */
  sawWorker(service: string, workerId: string): void;
  /** An attempt of `service` has had no ack and no reply for `SUSPECT_AFTER_MS` (census.ts): count its workers. */
  suspect(service: string): void;
}
