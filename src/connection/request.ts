/**
 * One request and its first answer, for the few request/reply exchanges outside the call engine
 * (control commands, a stream's probe of its caller, `natsrpc status`). Unlike `nc.request()`,
 * which parses the answer's NATS headers (the `nats` parser is quadratic in their lines), the
 * answer's header block is bounded first (protocol/nats-headers.ts): an answer over the limits is
 * dropped and the request keeps waiting for a valid one until its timeout.
 */
import { createInbox, nuid, type Msg, type NatsConnection } from 'nats';
import { RpcError } from '../protocol/errors.js';
import { checkHeaderBlock, headerStatus, NO_RESPONDERS_STATUS } from '../protocol/nats-headers.js';

/**
 * Publishes `data` to `subject` with a reply subject of its own and resolves with the first answer
 * whose header block is within the limits. Rejects with `RpcError` `NO_RESPONDERS` (the broker's
 * 503), `TIMEOUT` (no valid answer within `timeoutMs`) or `UNAVAILABLE` (the publish failed).
 * The reply subject is `inbox` when given (a fresh subject the connection may subscribe to), else a
 * fresh inbox under the connection's prefix.
 */
export function requestOnce(nc: NatsConnection, subject: string, data: Uint8Array, timeoutMs: number, inbox?: string): Promise<Msg> {
  return new Promise<Msg>((resolve, reject) => {
    const replyTo = inbox ?? createInbox((nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix);
    let settled = false;
    const done = (err: RpcError | null, msg?: Msg): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sub.unsubscribe();
      if (err === null) resolve(msg!);
      else reject(err);
    };
    const sub = nc.subscribe(replyTo, {
      callback: (err, msg) => {
        if (err !== null) return done(new RpcError('UNAVAILABLE', `no answer on ${subject}: ${err.message}`, { cause: err }));
        if (checkHeaderBlock(msg) !== null) return; // dropped unread
        if (headerStatus(msg) === NO_RESPONDERS_STATUS) return done(new RpcError('NO_RESPONDERS', `nobody listens on ${subject}`));
        done(null, msg);
      },
    });
    const timer = setTimeout(() => done(new RpcError('TIMEOUT', `no answer on ${subject} within ${timeoutMs} ms`)), timeoutMs);
    try {
      nc.publish(subject, data, { reply: replyTo });
    } catch (cause) {
      done(new RpcError('UNAVAILABLE', `cannot publish to ${subject}: ${(cause as Error).message}`, { cause }));
    }
  });
}

/**
 * Whether anybody still reads `subject`: `data` goes there as a request answered on `answers` plus
 * a random token (a subject space the connection may subscribe to without an inbox of its own), and
 * only the broker's 503 within `waitMs` says nobody does (true). An answer, no answer or a failed
 * publish is no verdict (false). How a worker notices that the caller of a stream or a long call is
 * gone (docs/protocol.md, *Liveness, both ways* and *Cancellation*).
 */
export async function readerGone(nc: NatsConnection, subject: string, data: Uint8Array, waitMs: number, answers: string): Promise<boolean> {
  try {
    await requestOnce(nc, subject, data, waitMs, answers + nuid.next());
    return false;
  } catch (e) {
    return (e as { code?: string }).code === 'NO_RESPONDERS';
  }
}

/**
 * Publishes `data` to `subject` with a reply subject of its own (under `inboxPrefix`, else the
 * connection's) and hands `onAnswer` each answer that arrives within `waitMs`, until it returns
 * true; for requests many may answer (`$SRV` discovery). Answers whose header block is over the
 * limits, and the broker's 503 (nobody listens), are left out unread. Rejects with `RpcError`
 * `UNAVAILABLE` when the publish fails.
 */
export function gatherAnswers(nc: NatsConnection, subject: string, data: Uint8Array, waitMs: number, onAnswer: (msg: Msg) => boolean, inboxPrefix?: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const inbox = createInbox(inboxPrefix ?? (nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix);
    let timer: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearTimeout(timer);
      sub.unsubscribe();
      resolve();
    };
    const sub = nc.subscribe(inbox, {
      callback: (err, msg) => {
        if (err !== null || checkHeaderBlock(msg) !== null || headerStatus(msg) === NO_RESPONDERS_STATUS) return;
        if (onAnswer(msg)) done();
      },
    });
    try {
      nc.publish(subject, data, { reply: inbox });
    } catch (cause) {
      sub.unsubscribe();
      return reject(new RpcError('UNAVAILABLE', `cannot publish to ${subject}: ${(cause as Error).message}`, { cause }));
    }
    timer = setTimeout(done, waitMs);
  });
}
