import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { DeadlinePolicy } from '../../protocol/supervisor-envelopes.js';
import type { HealthPolicy } from '../../supervisor/policy.js';
import { startSupervisor } from '../../supervisor/start-supervisor.js';
import { reaching } from '../broker-connection.js';
import { CONNECTION_FLAGS, CONNECTION_HELP, connectionFrom, optionFlag, UsageError } from '../flags.js';
import { resolveString } from '../../options/resolve.js';
import { HEALTH_POLICY_OPTIONS, PROCESS_OPTIONS, SUPERVISOR_OPTIONS } from '../../options/table.js';

export const SUPERVISOR_HELP = `Usage: natsrpc supervisor [options]

Watches worker heartbeats, drains unhealthy workers out of their queue group, resumes them after
their ejection period, publishes the deadline policy and answers "natsrpc status". Run two for
availability: the older one leads, the other stands by. SIGTERM or SIGINT stops it.

Options:
  --interval <ms>               supervisor heartbeat and election interval (default 1000)
  --policy <file.json>          health policy fields (see README), e.g. {"maxDrainPercent": 30}
  --max-drain-percent <n>       never drain more than n% of a service's workers (default 50)
  --base-ejection <ms>          first ejection period (default 10000; grows with each repeat)
  --max-consecutive-faults <n>  consecutive INTERNAL failures that make a worker unhealthy (default 5)
  --deadline <svc=def:max>      timeout policy of a service in ms, e.g. math=2000:10000;
                                "*=..." for every other service (repeatable)
  --metrics-port <port>         serve Prometheus metrics on http://<host>:<port>/metrics
  --metrics-host <addr>         address the metrics listen on (default 127.0.0.1)
  --signing-seed <file>         sign control commands with this nkey seed (workers started with
                                --trusted-key <its public key> obey only signed commands)
                                env NATSRPC_SIGNING_SEED (the seed or its file)
  --sys-user <name>             a system-account user: kick the connection of lost workers, and
                                declare a worker lost the moment the broker sees its connection close
  --sys-pass <secret>           its password                  env NATSRPC_SYS_USER, NATSRPC_SYS_PASS
  --no-loss-relay               with --sys-user, do not declare a worker lost when its connection
                                closes; wait for heartbeat silence  env NATSRPC_LOSS_RELAY=false
  --no-kick-lost                with --sys-user, do not close the broker connection of a worker
                                declared lost by heartbeat silence  env NATSRPC_KICK_LOST=false
${CONNECTION_HELP}`;

/** Parses `service=defaultMs:maxMs`. */
export function parseDeadline(text: string): [string, DeadlinePolicy] {
  const m = /^([A-Za-z0-9*][A-Za-z0-9_-]{0,63})=(\d+):(\d+)$/.exec(text);
  if (m === null) throw new UsageError(`--deadline must be service=defaultMs:maxMs, received ${JSON.stringify(text)}`);
  return [m[1]!, { defaultMs: Number(m[2]), maxMs: Number(m[3]) }];
}

export async function supervisorCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...CONNECTION_FLAGS,
      interval: { type: 'string' },
      policy: { type: 'string' },
      'max-drain-percent': { type: 'string' },
      'base-ejection': { type: 'string' },
      'max-consecutive-faults': { type: 'string' },
      deadline: { type: 'string', multiple: true },
      'metrics-port': { type: 'string' },
      'metrics-host': { type: 'string' },
      'signing-seed': { type: 'string' },
      'sys-user': { type: 'string' },
      'sys-pass': { type: 'string' },
      'no-loss-relay': { type: 'boolean' },
      'no-kick-lost': { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(SUPERVISOR_HELP + '\n');
    return 0;
  }
  let policy: Partial<HealthPolicy> = {};
  if (values.policy !== undefined) {
    try {
      policy = JSON.parse(readFileSync(values.policy, 'utf8')) as Partial<HealthPolicy>;
    } catch (err) {
      throw new UsageError(`--policy ${values.policy}: ${(err as Error).message}`);
    }
  }
  const pct = optionFlag(HEALTH_POLICY_OPTIONS.maxDrainPercent, values['max-drain-percent']);
  if (pct !== undefined) policy.maxDrainPercent = pct;
  const base = optionFlag(HEALTH_POLICY_OPTIONS.baseEjectionMs, values['base-ejection']);
  if (base !== undefined) policy.baseEjectionMs = base;
  const faults = optionFlag(HEALTH_POLICY_OPTIONS.maxConsecutiveFaults, values['max-consecutive-faults']);
  if (faults !== undefined) policy.maxConsecutiveFaults = faults;
  const deadlines = Object.fromEntries((values.deadline ?? []).map(parseDeadline));
  const metricsPort = optionFlag(SUPERVISOR_OPTIONS.metricsPort, values['metrics-port']);
  const sysUser = resolveString(PROCESS_OPTIONS.sysUser, values['sys-user']);
  const signingSeed = resolveString(PROCESS_OPTIONS.signingSeed, values['signing-seed']);
  const sup = await reaching(() => startSupervisor({
    ...connectionFrom(values),
    ...(values.prefix ? { prefix: values.prefix } : {}),
    intervalMs: optionFlag(SUPERVISOR_OPTIONS.intervalMs, values.interval),
    policy,
    deadlines,
    ...(signingSeed ? { signing: { seed: signingSeed } } : {}),
    ...(metricsPort !== undefined ? { metrics: { port: metricsPort, ...(values['metrics-host'] !== undefined ? { host: values['metrics-host'] } : {}) } } : {}),
    // The same servers and TLS as the supervisor's own connection, another identity.
    ...(sysUser ? { fencing: { user: sysUser, pass: resolveString(PROCESS_OPTIONS.sysPass, values['sys-pass']) } } : {}),
    ...(values['no-loss-relay'] ? { lossRelay: false } : {}),
    ...(values['no-kick-lost'] ? { kickLost: false } : {}),
  }));
  if (sup.metricsPort !== null) process.stdout.write(JSON.stringify({ msg: 'metrics listening', port: sup.metricsPort }) + '\n');
  return new Promise<number>((done) => {
    const stop = () => void sup.close().then(() => done(0), () => done(1));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
