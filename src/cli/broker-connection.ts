/**
 * How CLI commands reach the broker: within a bound (`--timeout` covers connecting too), and
 * with a failure to connect told apart from a failed call (exit 3, not 1).
 */
import type { NatsConnection } from 'nats';
import { openConnection, type ConnectionOptions } from '../connection/options.js';
import { RpcError } from '../protocol/errors.js';
import { BrokerUnreachableError } from './exit-codes.js';

/** Pause between two attempts while waiting for a broker to come up. */
export const BROKER_RETRY_MS = 250;

/** `options` with connecting bounded by `timeoutMs` (the `nats` client's own connect timeout). */
export function boundedConnect<T extends ConnectionOptions>(options: T, timeoutMs: number | undefined): T {
  if (timeoutMs === undefined) return options;
  return { ...options, nats: { ...options.nats, timeout: timeoutMs } };
}

/** Runs `open` (which connects); a broker that cannot be reached becomes a BrokerUnreachableError. */
export async function reaching<T>(open: () => Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (err) {
    if (err instanceof RpcError && err.code === 'UNAVAILABLE') throw new BrokerUnreachableError(err.message, { cause: err });
    throw err;
  }
}

/** Opens a connection; BrokerUnreachableError when it cannot. */
export function connectOrFail(options: ConnectionOptions): Promise<NatsConnection> {
  return reaching(() => openConnection(options));
}

/**
 * Resolves once a broker accepts a connection, trying every BROKER_RETRY_MS for at most
 * `waitMs`; throws BrokerUnreachableError with the last reason after that.
 */
export async function waitForBroker(options: ConnectionOptions, waitMs: number, onRetry: (reason: string) => void = () => undefined): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (let attempt = 1; ; attempt++) {
    const left = deadline - Date.now();
    try {
      const nc = await openConnection(boundedConnect(options, Math.max(1, Math.min(left, 2_000))));
      await nc.close();
      return;
    } catch (err) {
      if (!(err instanceof RpcError) || err.code !== 'UNAVAILABLE') throw err;
      if (Date.now() + BROKER_RETRY_MS >= deadline) {
        throw new BrokerUnreachableError(`no broker within ${waitMs} ms (${attempt} attempts): ${err.message}`, { cause: err });
      }
      if (attempt === 1) onRetry(err.message);
      await new Promise((r) => setTimeout(r, BROKER_RETRY_MS));
    }
  }
}
