/**
 * Signed control commands from nkeys given as options: a supervisor's signing seed (the seed, or
 * the path of a file holding it) and the public keys a worker trusts. A bad value throws a
 * TypeError that names the option (`label`) and the value.
 */
import { readFileSync } from 'node:fs';
import type { ControlCommand } from '../protocol/control.js';
import type { CommandSigner } from '../supervisor/commands.js';
import type { ControlVerifier } from '../worker/control.js';
import { NkeyCommandSigner, NkeyCommandVerifier } from './signed-commands.js';

const SEED = /^S[UAO]/;

/** An nkey seed, given as itself or as the path of a file holding it. */
export function readSeed(seedOrFile: string, label: string): string {
  const value = seedOrFile.trim();
  if (SEED.test(value)) return value;
  try {
    return readFileSync(value, 'utf8').trim();
  } catch {
    throw new TypeError(`${label} is neither an nkey seed nor a readable file: ${JSON.stringify(seedOrFile)}`);
  }
}

/** The nkey signer whose seed (or seed file) is `seedOrFile`: it signs commands and supervisor messages. */
export function nkeySignerForSeed(seedOrFile: string, label: string): NkeyCommandSigner {
  const seed = readSeed(seedOrFile, label);
  try {
    return new NkeyCommandSigner(seed);
  } catch (err) {
    throw new TypeError(`${label}: ${(err as Error).message}`);
  }
}

/** Signs each control command with the nkey whose seed (or seed file) is `seedOrFile`. */
export function signerForSeed(seedOrFile: string, label: string): CommandSigner {
  const signer = nkeySignerForSeed(seedOrFile, label);
  return (command: ControlCommand) => signer.signCommand(command);
}

/** The verifier of supervisor messages signed by one of `keys` (nkey public keys). */
export function messageVerifierForKeys(keys: readonly string[], label: string): NkeyCommandVerifier {
  try {
    return new NkeyCommandVerifier([...keys]);
  } catch (err) {
    throw new TypeError(`${label}: ${(err as Error).message}`);
  }
}

/** Accepts only control commands signed by one of `keys` (nkey public keys). */
export function verifierForKeys(keys: readonly string[], label: string): ControlVerifier {
  let verifier: NkeyCommandVerifier;
  try {
    verifier = new NkeyCommandVerifier([...keys]);
  } catch (err) {
    throw new TypeError(`${label}: ${(err as Error).message}`);
  }
  return (command) => {
    const verdict = verifier.verifyCommand(command);
    return verdict.ok ? null : verdict.reason;
  };
}
