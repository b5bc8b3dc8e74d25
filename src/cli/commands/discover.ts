/**
 * `natsrpc ls`, `natsrpc info <service>` and `natsrpc stats [service]`: what the workers
 * themselves answer to NATS service discovery ($SRV), so no supervisor is needed.
 */
import { parseArgs } from 'node:util';
import { withEnvDefaults } from '../../connection/options.js';
import { assertName } from '../../protocol/subjects.js';
import { boundedConnect, connectOrFail } from '../broker-connection.js';
import type { AnswerOf, DiscoveryVerb } from '../discovery/answers.js';
import { collectAnswers, DEFAULT_DISCOVERY_WINDOW_MS } from '../discovery/collect.js';
import { renderInfo, renderList, renderStats } from '../discovery/render.js';
import { CONNECTION_FLAGS, CONNECTION_HELP, connectionFrom, intFlag, UsageError } from '../flags.js';
import { escapeLines } from '../escape.js';

const COMMON_HELP = `Options:
  --json            print the answers as a JSON array
  --timeout <ms>    how long to gather answers (default ${DEFAULT_DISCOVERY_WINDOW_MS}); also bounds connecting
${CONNECTION_HELP}`;

export const LS_HELP = `Usage: natsrpc ls [--json] [options]

Lists every worker that answers NATS service discovery ($SRV.PING): service, worker id, version,
state and host. No supervisor is needed. Exits 0, also when nobody answers.

${COMMON_HELP}`;

export const INFO_HELP = `Usage: natsrpc info <service> [--json] [options]

Shows a service's workers and endpoints (subject, queue group) from $SRV.INFO. Exits 1 when no
worker of the service answers.

${COMMON_HELP}`;

export const STATS_HELP = `Usage: natsrpc stats [service] [--json] [options]

Shows each worker's counters per endpoint from $SRV.STATS: requests and errors since the worker
started, average processing time, last error. Exits 1 when a service is named and none of its
workers answers.

${COMMON_HELP}`;

interface Gathered<V extends DiscoveryVerb> {
  service: string | undefined;
  answers: AnswerOf[V][];
  json: boolean;
}

/** Parses the shared flags, connects within --timeout, gathers answers within --timeout. */
async function gather<V extends DiscoveryVerb>(argv: string[], verb: V, help: string, serviceArg: 'none' | 'optional' | 'required'): Promise<Gathered<V> | null> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...CONNECTION_FLAGS, json: { type: 'boolean' }, timeout: { type: 'string' } },
  });
  if (values.help) {
    process.stdout.write(help + '\n');
    return null;
  }
  const max = serviceArg === 'none' ? 0 : 1;
  if (positionals.length > max || (serviceArg === 'required' && positionals.length === 0)) {
    throw new UsageError(serviceArg === 'none' ? 'takes no arguments' : serviceArg === 'required' ? 'expected <service>' : 'expected at most one [service]');
  }
  const service = positionals[0];
  if (service !== undefined) {
    try {
      assertName('service', service);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const windowMs = intFlag('timeout', values.timeout) ?? DEFAULT_DISCOVERY_WINDOW_MS;
  const connection = { ...connectionFrom(values), name: `natsrpc-${verb.toLowerCase()}` };
  const nc = await connectOrFail(boundedConnect(connection, windowMs));
  try {
    const { answers, invalid, dropped } = await collectAnswers(nc, verb, service, windowMs, withEnvDefaults(connection).inboxPrefix);
    if (invalid > 0) process.stderr.write(`natsrpc: ignored ${invalid} answer(s) that are not service API ${verb} answers\n`);
    if (dropped > 0) process.stderr.write(`natsrpc: dropped ${dropped} answer(s) (repeated worker ids or too many answers)\n`);
    return { service, answers, json: values.json === true };
  } finally {
    await nc.close();
  }
}

const printJson = (value: unknown) => process.stdout.write(escapeLines(JSON.stringify(value, null, 2)) + '\n');

function noneAnswered(service: string): number {
  process.stderr.write(`natsrpc: no worker of service ${JSON.stringify(service)} answered $SRV discovery\n`);
  return 1;
}

export async function lsCommand(argv: string[]): Promise<number> {
  const got = await gather(argv, 'PING', LS_HELP, 'none');
  if (got === null) return 0;
  if (got.json) printJson(got.answers);
  else process.stdout.write(renderList(got.answers) + '\n');
  return 0;
}

export async function infoCommand(argv: string[]): Promise<number> {
  const got = await gather(argv, 'INFO', INFO_HELP, 'required');
  if (got === null) return 0;
  if (got.answers.length === 0) return noneAnswered(got.service!);
  if (got.json) printJson(got.answers);
  else process.stdout.write(renderInfo(got.service!, got.answers) + '\n');
  return 0;
}

export async function statsCommand(argv: string[]): Promise<number> {
  const got = await gather(argv, 'STATS', STATS_HELP, 'optional');
  if (got === null) return 0;
  if (got.service !== undefined && got.answers.length === 0) return noneAnswered(got.service);
  if (got.json) printJson(got.answers);
  else process.stdout.write(renderStats(got.answers) + '\n');
  return 0;
}
