/**
 * What the call orchestration (attempts.ts, liveness.ts) needs from the client: its reply inbox,
 * publishing, and the connection's state. The client implements it over its one connection.
 */
import type { Msg } from 'nats';
import type { MsgpackLimits } from '../protocol/msgpack-guard.js';
import type { Logger } from '../logging/logger.js';
import type { LatencyTracker } from './hedging.js';
import type { RetryBudget } from './retry-budget.js';
import type { Target } from './target.js';

/** Something waiting on a reply subject of the client's inbox. */
export interface InboxEntry {
  /** A message arrived on its reply subject. */
  deliver(msg: Msg): void;
  /** The connection dropped: no message can reach it any more. */
  lost(): void;
}

/** A call target with what the client keeps per target and per service. */
export interface ResolvedTarget extends Target {
  readonly budget: RetryBudget;
  readonly latency: LatencyTracker;
}

export interface CallTransport {
  readonly prefix: string;
  readonly limits: MsgpackLimits;
  readonly logger: Logger;
  isConnected(): boolean;
  /** Resolves true once connected, false if `timeoutMs` passes or the client closes first. */
  whenConnected(timeoutMs: number): Promise<boolean>;
  /** Registers `entry` under a fresh reply subject and returns its sequence number. */
  open(entry: InboxEntry): number;
  replySubject(seq: number): string;
  /** Forgets the entry of `seq`; later messages for it count as late replies. */
  close(seq: number): void;
  /** Publishes; throws what `nats` throws (MAX_PAYLOAD_EXCEEDED, closed connection...). */
  publish(subject: string, data: Uint8Array, reply?: string): void;
}
