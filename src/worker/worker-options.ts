/** The options an {@link RpcWorker} is built with, once `startWorker` (start-worker.ts) has validated and completed them. */
import type { Logger } from '../logging/logger.js';
import type { MsgpackLimits } from '../protocol/msgpack-guard.js';
import type { NkeyCommandVerifier } from '../security/signed-commands.js';
import type { ControlSecurity } from './control-auth.js';
import type { RoutingMode } from './load-aware-routing.js';

/** What {@link RpcWorker} is built with: options validated and completed by `startWorker`. */
export interface ResolvedWorkerOptions {
  id: string;
  concurrency: number;
  drainTimeoutMs: number;
  /** The longest budget granted to a request (see `maxBudgetMs` in start-worker.ts). */
  maxBudgetMs: number;
  prefix: string;
  logger: Logger;
  limits: MsgpackLimits;
  ownsConnection: boolean;
  routing?: RoutingMode;
  lowWater?: number;
  discovery: boolean;
  /** Largest request or reply body (beyond max_payload, sent in chunks), in bytes. */
  maxBodyBytes: number;
  /** How control commands are checked (see control-auth.ts). Default: unsigned. */
  security?: ControlSecurity;
  /** Checks leader heartbeats: only signed ones set the budget cap (built from the keys trusted for control). */
  policyVerifier?: NkeyCommandVerifier;
}
