/**
 * Signed control commands from the command line: the supervisor's signing seed and the public
 * keys workers trust, from flags or the environment.
 */
import { signerForSeed, verifierForKeys } from '../security/command-keys.js';
import type { CommandSigner } from '../supervisor/commands.js';
import type { ControlVerifier } from '../worker/control.js';
import { UsageError } from './flags.js';
import { processEnv, type Env } from '../options/env.js';
import { resolveString } from '../options/resolve.js';
import { PROCESS_OPTIONS } from '../options/table.js';

/** Env: the supervisor's nkey seed, or a file holding it. */
export const SIGNING_SEED_ENV = PROCESS_OPTIONS.signingSeed.env!;
/** Env: comma-separated public keys whose commands workers obey. */
export const TRUSTED_KEYS_ENV = PROCESS_OPTIONS.trustedKeys.env!;

/** A signer from `--signing-seed` or NATSRPC_SIGNING_SEED (a seed or a file), or none. */
export function commandSignerFrom(flag: string | undefined, env: Env = processEnv()): CommandSigner | undefined {
  const value = resolveString(PROCESS_OPTIONS.signingSeed, flag, env);
  if (value === undefined || value === '') return undefined;
  return asUsageError(() => signerForSeed(value, '--signing-seed'));
}

/** A verifier that obeys only commands signed by `--trusted-key` (repeatable) or NATSRPC_TRUSTED_KEYS, or none. */
export function controlVerifierFrom(flags: string[] | undefined, env: Env = processEnv()): ControlVerifier | undefined {
  const keys = (flags !== undefined && flags.length > 0 ? flags : (resolveString(PROCESS_OPTIONS.trustedKeys, undefined, env) ?? '').split(','))
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
  if (keys.length === 0) return undefined;
  return asUsageError(() => verifierForKeys(keys, '--trusted-key'));
}

function asUsageError<T>(make: () => T): T {
  try {
    return make();
  } catch (err) {
    throw err instanceof TypeError ? new UsageError(err.message) : err;
  }
}
