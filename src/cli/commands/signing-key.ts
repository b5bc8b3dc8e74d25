/**
 * `natsrpc signing-key`: makes the nkey pair that signs control commands (docs/deployment.md,
 * *Signed control commands*): the seed for the supervisor (NATSRPC_SIGNING_SEED), its public key
 * for the workers (NATSRPC_TRUSTED_KEYS). With `--env-file` it completes a compose `.env` in place
 * and keeps a pair that is already there.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { nkeys } from 'nats';
import { NkeyCommandSigner } from '../../security/signed-commands.js';
import { SIGNING_SEED_ENV, TRUSTED_KEYS_ENV } from '../control-signing.js';
import { UsageError } from '../flags.js';

export const SIGNING_KEY_HELP = `Usage: natsrpc signing-key [--env-file <file>]

Makes an nkey pair for signed control commands. The supervisor signs with the seed
(${SIGNING_SEED_ENV} or --signing-seed); workers obey only commands signed by its public key
(${TRUSTED_KEYS_ENV} or --trusted-key).

Without options, prints both as lines for an env file:
  ${SIGNING_SEED_ENV}=SU...
  ${TRUSTED_KEYS_ENV}=U...
Options:
  --env-file <file>  set both in this file (a compose .env) unless it has a seed already: an
                     existing seed is kept and its public key added to ${TRUSTED_KEYS_ENV} if
                     missing. The file is left readable by its owner only. Prints the public key.`;

/** What {@link completeEnvFile} did. */
export interface SigningKeyOutcome {
  text: string;
  publicKey: string;
  created: boolean;
}

/** A fresh pair: the seed (secret) and its public key. */
export function newSigningKey(): { seed: string; publicKey: string } {
  const pair = nkeys.createUser();
  return { seed: new TextDecoder().decode(pair.getSeed()), publicKey: pair.getPublicKey() };
}

/**
 * `text` (an env file) with a signing seed and its public key among the trusted keys: an existing
 * seed is kept, an empty or missing one is made. Throws a UsageError when the seed present is not
 * an nkey seed.
 */
export function completeEnvFile(text: string, make = newSigningKey): SigningKeyOutcome {
  const current = (name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
  const set = (body: string, name: string, value: string) => {
    const line = new RegExp(`^${name}=.*$`, 'm');
    return line.test(body) ? body.replace(line, () => `${name}=${value}`) : `${body}${body === '' || body.endsWith('\n') ? '' : '\n'}${name}=${value}\n`;
  };
  let seed = current(SIGNING_SEED_ENV);
  let publicKey: string;
  const created = seed === '';
  if (created) {
    ({ seed, publicKey } = make());
  } else {
    try {
      publicKey = new NkeyCommandSigner(seed).publicKey;
    } catch {
      throw new UsageError(`${SIGNING_SEED_ENV} in the env file is not an nkey seed (SU...); empty it to make a new pair`);
    }
  }
  const trusted = current(TRUSTED_KEYS_ENV).split(',').map((k) => k.trim()).filter((k) => k !== '');
  if (!trusted.includes(publicKey)) trusted.push(publicKey);
  return { text: set(set(text, SIGNING_SEED_ENV, seed), TRUSTED_KEYS_ENV, trusted.join(',')), publicKey, created };
}

export async function signingKeyCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { 'env-file': { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(SIGNING_KEY_HELP + '\n');
    return 0;
  }
  const file = values['env-file'];
  if (file === undefined) {
    const { seed, publicKey } = newSigningKey();
    process.stdout.write(`${SIGNING_SEED_ENV}=${seed}\n${TRUSTED_KEYS_ENV}=${publicKey}\n`);
    return 0;
  }
  const outcome = completeEnvFile(existsSync(file) ? readFileSync(file, 'utf8') : '');
  writeFileSync(file, outcome.text, { mode: 0o600 });
  chmodSync(file, 0o600);
  process.stderr.write(`${outcome.created ? 'made a signing key in' : 'kept the signing key of'} ${file}; workers trust ${outcome.publicKey}\n`);
  process.stdout.write(outcome.publicKey + '\n');
  return 0;
}
