/**
 * A supervisor's keys, from its options: the signer of its control commands and, with `signing`,
 * the nkey that also signs its heartbeats and events, and the verifier of other supervisors'
 * heartbeats and events (docs/protocol.md, *Signed supervisor messages*).
 */
import { nkeySignerForSeed } from '../security/command-keys.js';
import { NkeyCommandVerifier, type NkeyCommandSigner } from '../security/signed-commands.js';
import type { CommandSigner } from './commands.js';

interface SigningOptions {
  signing?: { seed: string } | { seedFile: string };
  signCommand?: CommandSigner;
}

/** The command signer, and with `signing` the nkey that also signs this supervisor's heartbeats and events. */
export function signerOf(options: SigningOptions): { sign: CommandSigner | undefined; nkey: NkeyCommandSigner | null } {
  const { signing, signCommand } = options;
  if (signing === undefined) return { sign: signCommand, nkey: null };
  if (signCommand !== undefined) throw new TypeError('signing and signCommand are exclusive: give one');
  const nkey = 'seed' in signing ? nkeySignerForSeed(signing.seed, 'signing.seed') : nkeySignerForSeed(signing.seedFile, 'signing.seedFile');
  return { sign: (command) => nkey.signCommand(command), nkey };
}

/**
 * With signing, the keys whose supervisor heartbeats and events this supervisor believes: its
 * own and `trustedKeys`. Without, null: it believes any (see docs/deployment.md, threat model).
 */
export function messageVerifierOf(nkey: NkeyCommandSigner | null, trustedKeys: readonly string[] | undefined): NkeyCommandVerifier | null {
  if (nkey === null) {
    if (trustedKeys !== undefined && trustedKeys.length > 0) throw new TypeError('trustedKeys needs signing: a supervisor that signs nothing cannot tell its peers from forgers either');
    return null;
  }
  try {
    return new NkeyCommandVerifier([nkey.publicKey, ...(trustedKeys ?? [])]);
  } catch (err) {
    throw new TypeError(`trustedKeys: ${(err as Error).message}`);
  }
}

