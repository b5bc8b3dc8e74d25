/**
 * The one error class of natsrpc and the closed table of framework codes.
 *
 * Every failure a caller sees is an {@link RpcError}. Callers match on `err.code`; `retryable`
 * says whether the same request may safely be sent again (nothing was processed, or the failure
 * is transient); `business` marks a rejection the handler chose on purpose, which says nothing
 * about the health of the worker.
 */

/** Framework error codes. The wire carries the string; the table in docs/protocol.md mirrors this. */
export const ErrorCode = {
  /** The deadline passed with no reply. The request may or may not have been processed. */
  TIMEOUT: 'TIMEOUT',
  /** No worker is subscribed to the subject right now. Nothing was processed. */
  NO_RESPONDERS: 'NO_RESPONDERS',
  /** The broker connection is down or closed. */
  UNAVAILABLE: 'UNAVAILABLE',
  /** The worker is at its concurrency limit and refused the request unprocessed. */
  OVERLOADED: 'OVERLOADED',
  /** The worker is leaving and refused the request unprocessed. */
  DRAINING: 'DRAINING',
  /** The request could not be decoded or is invalid. Sending it again will not help. */
  BAD_REQUEST: 'BAD_REQUEST',
  /** The service has no such method. */
  METHOD_NOT_FOUND: 'METHOD_NOT_FOUND',
  /** The request or the reply is larger than the broker's max_payload. */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** The caller aborted the call. */
  CANCELLED: 'CANCELLED',
  /** The handler failed unexpectedly; details are in the worker's log, never on the wire. */
  INTERNAL: 'INTERNAL',
  /**
   * The request's attempts coincided with the loss of two workers: it is presumed to kill the
   * workers that take it, so it is not sent again. It may have been processed.
   */
  QUERY_OF_DEATH: 'QUERY_OF_DEATH',
  /**
   * The worker that held the request was lost (its connection closed, or the supervisor declared
   * it lost) before it replied. The request may have been processed; an idempotent call is sent
   * again instead of failing with this code.
   */
  WORKER_LOST: 'WORKER_LOST',
} as const;

/** A framework error code. */
export type FrameworkErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * Any error code: a framework code, or an application code of the handler's own
 * (upper case, digits and underscores, e.g. `INSUFFICIENT_FUNDS`).
 */
export type RpcErrorCode = FrameworkErrorCode | (string & {});

/** What an error code means, for every part of natsrpc that has to act on it. */
export interface CodeMeaning {
  /**
   * Retryable by default: nothing was processed, or the failure is transient, so the same request
   * may be sent again whether or not the call is idempotent (unless `maybeProcessed` says a
   * handler had started). It is the `retryable` a worker puts on the wire for a code it chooses.
   */
  readonly retryable: boolean;
  /**
   * Sending the request again may succeed although it may have been processed: an idempotent call
   * is sent again after it (a lost worker, a timed-out attempt, a dropped connection).
   */
  readonly transient: boolean;
  /**
   * A refusal: a worker that answers with this code before any handler ran processed nothing. The
   * call counts neither for nor against the worker's health, nor as a call it served.
   */
  readonly refusal: boolean;
  /** A worker fault: the failure speaks against the worker that answered (health, drains). */
  readonly workerFault: boolean;
  /** Whether the request may have been processed, unless the error says otherwise. */
  readonly maybeProcessed: boolean;
}

function meaning(retryable: boolean, transient: boolean, refusal: boolean, workerFault: boolean, maybeProcessed: boolean): CodeMeaning {
  return Object.freeze({ retryable, transient, refusal, workerFault, maybeProcessed });
}

/**
 * The one table of what each framework code means. The retry policy, the worker's replies and
 * counters, the supervisor's health policy and docs/protocol.md (*Error codes*) all follow it.
 *
 * `PAYLOAD_TOO_LARGE` is no refusal: a worker sends it when the handler's reply was too large,
 * after the handler ran (a caller raises it before sending, with `maybeProcessed: false`). It is
 * no worker fault either: every worker would fail the same request the same way.
 */
export const CODE_MEANING: Readonly<Record<FrameworkErrorCode, CodeMeaning>> = Object.freeze({
  //                 retryable transient refusal workerFault maybeProcessed
  TIMEOUT: meaning(false, true, false, false, true),
  NO_RESPONDERS: meaning(true, true, true, false, false),
  UNAVAILABLE: meaning(true, true, false, false, false),
  OVERLOADED: meaning(true, true, true, false, false),
  DRAINING: meaning(true, true, true, false, false),
  BAD_REQUEST: meaning(false, false, true, false, false),
  METHOD_NOT_FOUND: meaning(false, false, true, false, false),
  PAYLOAD_TOO_LARGE: meaning(false, false, false, false, false),
  CANCELLED: meaning(false, false, false, false, false),
  INTERNAL: meaning(false, false, false, true, false),
  QUERY_OF_DEATH: meaning(false, false, false, false, true),
  WORKER_LOST: meaning(false, true, false, false, true),
});

/** What application (business) codes mean: a handler's deliberate answer, not retried, no fault. */
const APPLICATION_MEANING = meaning(false, false, false, false, false);

const APP_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

/** True when `code` is one of the framework codes. */
export function isFrameworkCode(code: string): code is FrameworkErrorCode {
  return Object.hasOwn(CODE_MEANING, code);
}

/** The meaning of any code; application codes (and unknown strings) mean {@link APPLICATION_MEANING}. */
export function codeMeaning(code: string): CodeMeaning {
  return isFrameworkCode(code) ? CODE_MEANING[code] : APPLICATION_MEANING;
}

/** Whether `code` is retryable unless said otherwise: application codes never are. */
export function defaultRetryable(code: string): boolean {
  return codeMeaning(code).retryable;
}

/** Codes that are refusals: the call never ran, so they count neither for nor against a worker. */
export function isRefusal(code: string): boolean {
  return codeMeaning(code).refusal;
}

/** Codes that speak against the worker when they fail a call. */
export function isWorkerFault(code: string): boolean {
  return codeMeaning(code).workerFault;
}

/** True when `code` is a well-formed application (business) code. */
export function isApplicationCode(code: string): boolean {
  return APP_CODE.test(code) && !isFrameworkCode(code);
}

export interface RpcErrorOptions {
  /** The underlying error, kept for logs and debugging. */
  cause?: unknown;
  /** Overrides the default retryability of the code. */
  retryable?: boolean;
  /** Structured, serialisable details sent to the caller (e.g. validation issues). */
  details?: unknown;
  /** Set by the framework: the request may have been processed before the failure. */
  maybeProcessed?: boolean;
}

/** The brand every copy of natsrpc puts on its RpcError prototype, so `instanceof` works across copies. */
const BRAND: unique symbol = Symbol.for('natsrpc.RpcError') as never;

/**
 * The error every natsrpc call rejects with, and the error a handler throws to reject a request
 * for a business reason.
 *
 * `instanceof RpcError` holds for an RpcError made by any copy of natsrpc in the process (two
 * versions installed side by side, or a bundled copy): the check reads a `Symbol.for` brand.
 *
 * @example
 * ```ts
 * // in a handler
 * throw new RpcError('INSUFFICIENT_FUNDS', 'balance is 3, need 5', { details: { balance: 3 } });
 * // in a caller
 * try { await client.call('bank.withdraw', { amount: 5 }); }
 * catch (err) { if (err instanceof RpcError && err.code === 'INSUFFICIENT_FUNDS') { ... } }
 * ```
 */
export class RpcError extends Error {
  override readonly name = 'RpcError';
  readonly code: RpcErrorCode;
  readonly retryable: boolean;
  /** True for application codes: the handler rejected the request on purpose. */
  readonly business: boolean;
  readonly details: unknown;
  /** True when the request may have reached a worker and been processed. */
  readonly maybeProcessed: boolean;

  constructor(code: RpcErrorCode, message: string, options: RpcErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const framework = isFrameworkCode(code);
    if (!framework && !APP_CODE.test(code)) {
      throw new TypeError(
        `RpcError code must be a framework code or match ${APP_CODE}, received ${JSON.stringify(code)}`,
      );
    }
    const m = codeMeaning(code);
    this.code = code;
    this.business = !framework;
    this.retryable = options.retryable ?? m.retryable;
    this.details = options.details;
    this.maybeProcessed = options.maybeProcessed ?? m.maybeProcessed;
  }

  /** True for an RpcError of any copy of natsrpc (subclasses keep the ordinary prototype check). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== RpcError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
  }

  /**
   * `err` as an RpcError: an RpcError (of any copy of natsrpc) as it is, anything else as an
   * `INTERNAL` error that keeps `err` as its cause.
   */
  static from(err: unknown): RpcError {
    if (err instanceof RpcError) return err;
    const message = err instanceof Error ? err.message : typeof err === 'string' ? err : 'unexpected failure';
    return new RpcError('INTERNAL', message, { cause: err });
  }
}
Object.defineProperty(RpcError.prototype, BRAND, { value: true });

/** True when `err` is an {@link RpcError}, optionally with the given code. */
export function isRpcError(err: unknown, code?: RpcErrorCode): err is RpcError {
  return err instanceof RpcError && (code === undefined || err.code === code);
}
