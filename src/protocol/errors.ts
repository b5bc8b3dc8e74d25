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
} as const;

/** A framework error code. */
export type FrameworkErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * Any error code: a framework code, or an application code of the handler's own
 * (upper case, digits and underscores, e.g. `INSUFFICIENT_FUNDS`).
 */
export type RpcErrorCode = FrameworkErrorCode | (string & {});

/** Whether a framework code is safe to retry by default (nothing was processed, or transient). */
const RETRYABLE: Readonly<Record<FrameworkErrorCode, boolean>> = {
  TIMEOUT: false,
  NO_RESPONDERS: true,
  UNAVAILABLE: true,
  OVERLOADED: true,
  DRAINING: true,
  BAD_REQUEST: false,
  METHOD_NOT_FOUND: false,
  PAYLOAD_TOO_LARGE: false,
  CANCELLED: false,
  INTERNAL: false,
  QUERY_OF_DEATH: false,
};

const APP_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

/** True when `code` is one of the framework codes. */
export function isFrameworkCode(code: string): code is FrameworkErrorCode {
  return Object.hasOwn(RETRYABLE, code);
}

/** Whether `code` is retryable unless said otherwise: application codes never are. */
export function defaultRetryable(code: string): boolean {
  return isFrameworkCode(code) ? RETRYABLE[code] : false;
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

/**
 * The error every natsrpc call rejects with, and the error a handler throws to reject a request
 * for a business reason.
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
    this.code = code;
    this.business = !framework;
    this.retryable = options.retryable ?? (framework ? RETRYABLE[code] : false);
    this.details = options.details;
    this.maybeProcessed = options.maybeProcessed ?? (code === 'TIMEOUT');
  }
}

/** True when `err` is an {@link RpcError}, optionally with the given code. */
export function isRpcError(err: unknown, code?: RpcErrorCode): err is RpcError {
  return err instanceof RpcError && (code === undefined || err.code === code);
}
