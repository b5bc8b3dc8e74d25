/**
 * How a worker checks control commands, as a typed fact others can read: `verified` (signatures
 * or a custom verifier), `unsigned` (any command that reaches its control subject is obeyed) or
 * `off` (no control endpoint). A worker that runs unsigned where it should not (NODE_ENV is
 * `production`, or its broker requires authentication, as the shipped production configuration
 * does) says so with a warning: in its log, and in its discovery metadata (see worker.ts).
 */
import type { NatsConnection } from 'nats';
import { readEnv, type Env } from '../options/env.js';

export type ControlAuth = 'verified' | 'unsigned' | 'off';

/** The warning a worker carries while it obeys unsigned control in production. */
export const UNSIGNED_CONTROL_IN_PRODUCTION = 'unsigned-control-in-production';

export interface ControlSecurity {
  control: ControlAuth;
  /** Set when the worker runs unsigned in production. */
  warning?: typeof UNSIGNED_CONTROL_IN_PRODUCTION;
}

/** Why this process counts as production: NODE_ENV, or a broker that requires authentication. */
export function productionSigns(nc: NatsConnection, env: Env): { nodeEnv: boolean; brokerAuth: boolean } {
  return { nodeEnv: readEnv('NODE_ENV', env) === 'production', brokerAuth: nc.info?.auth_required === true };
}

export function controlSecurity(control: ControlAuth, production: { nodeEnv: boolean; brokerAuth: boolean }): ControlSecurity {
  return control === 'unsigned' && (production.nodeEnv || production.brokerAuth) ? { control, warning: UNSIGNED_CONTROL_IN_PRODUCTION } : { control };
}
