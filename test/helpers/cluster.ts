/**
 * A 3-node NATS cluster on free loopback ports, started from the shipped config/nats/cluster.conf
 * (the file docker-compose.yml mounts), disposable: `await using cluster = await startCluster()`.
 */
import { join } from 'node:path';
import { freePort, LocalNatsServer } from '../../src/broker/local-server.js';
import { ROOT } from './processes.js';
import { sleep } from './load.js';

export const CLUSTER_CONFIG = join(ROOT, 'config/nats/cluster.conf');
export const FORM_TIMEOUT_MS = 20_000;

/** Passwords of the shipped identities (config/nats/accounts.conf), for tests only. */
export const TEST_PASSWORDS = {
  NATS_CALLER_PASS: 'caller-test-secret',
  NATS_CALLER_B_PASS: 'caller-b-test-secret',
  NATS_MATH_PASS: 'math-test-secret',
  NATS_ECHO_PASS: 'echo-test-secret',
  NATS_SLOW_PASS: 'slow-test-secret',
  NATS_SUPERVISOR_PASS: 'supervisor-test-secret',
  NATS_SYS_PASS: 'sys-test-secret',
} as const;

/** Connection options of a shipped identity: `identity('math')`, `identity('caller')`... */
export function identity(user: 'caller' | 'caller_b' | 'math' | 'echo' | 'slow' | 'supervisor' | 'sys'): { user: string; pass: string; inboxPrefix?: string } {
  const pass = TEST_PASSWORDS[`NATS_${user.toUpperCase()}_PASS` as keyof typeof TEST_PASSWORDS];
  if (user === 'caller' || user === 'caller_b' || user === 'supervisor') return { user, pass, inboxPrefix: `_INBOX_${user}` };
  return { user, pass };
}

interface NodePorts {
  client: number;
  cluster: number;
  http: number;
}

export class Cluster {
  readonly nodes: LocalNatsServer[];
  readonly #ports: NodePorts[];

  constructor(nodes: LocalNatsServer[], ports: NodePorts[]) {
    this.nodes = nodes;
    this.#ports = ports;
  }

  /** Client URLs of every node, node 1 first. */
  get urls(): string[] {
    return this.nodes.map((n) => n.url);
  }

  /** The URLs with node `i` first, so a connection made with `noRandomize` attaches to it. */
  urlsFrom(i: number): string[] {
    const urls = this.urls;
    return [...urls.slice(i), ...urls.slice(0, i)];
  }

  /** GETs a monitoring endpoint of node `i` (`/routez`, `/connz`...). */
  async monitor<T = Record<string, unknown>>(i: number, path: string): Promise<T> {
    const res = await fetch(`http://127.0.0.1:${this.#ports[i]!.http}${path}`, { signal: AbortSignal.timeout(2_000) });
    return (await res.json()) as T;
  }

  /** Names of the peers node `i` has routes to. */
  async peersOf(i: number): Promise<Set<string>> {
    const routez = await this.monitor<{ routes?: { remote_name?: string; remote_id: string }[] }>(i, '/routez');
    return new Set((routez.routes ?? []).map((r) => r.remote_name ?? r.remote_id));
  }

  /** Resolves once every running node has a route to every other running node. */
  async waitFormed(timeoutMs = FORM_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const running = this.nodes.map((n, i) => (n.running ? i : -1)).filter((i) => i >= 0);
    for (;;) {
      const peers = await Promise.all(running.map((i) => this.peersOf(i).catch(() => new Set<string>())));
      if (peers.every((p) => p.size >= running.length - 1)) return;
      if (Date.now() > deadline) {
        throw new Error(`cluster not formed after ${timeoutMs} ms: ${peers.map((p, k) => `n${running[k]! + 1}→[${[...p]}]`).join(' ')}`);
      }
      await sleep(100);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop('SIGKILL')));
  }
}

/** Environment of node `i` for the shipped cluster.conf. */
export function nodeEnv(i: number, ports: NodePorts[]): Record<string, string> {
  const env: Record<string, string> = {
    ...TEST_PASSWORDS,
    NATS_SERVER_NAME: `n${i + 1}`,
    NATS_HOST: '127.0.0.1',
    NATS_PORT: String(ports[i]!.client),
    NATS_HTTP_PORT: String(ports[i]!.http),
    NATS_CLUSTER_PORT: String(ports[i]!.cluster),
  };
  ports.forEach((p, k) => (env[`NATS_ROUTE_${k + 1}`] = `nats://127.0.0.1:${p.cluster}`));
  return env;
}

/** Starts three nodes from `config` and waits until the cluster is formed. */
export async function startCluster(config = CLUSTER_CONFIG): Promise<Cluster> {
  const ports: NodePorts[] = [];
  const taken = new Set<number>();
  while (ports.length < 3) {
    const p = { client: await freePort(), cluster: await freePort(), http: await freePort() };
    if ([p.client, p.cluster, p.http].some((x) => taken.has(x)) || new Set([p.client, p.cluster, p.http]).size < 3) continue;
    [p.client, p.cluster, p.http].forEach((x) => taken.add(x));
    ports.push(p);
  }
  const started = await Promise.allSettled(ports.map((p, i) => LocalNatsServer.start({ port: p.client, config, env: nodeEnv(i, ports) })));
  const nodes = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const cluster = new Cluster(nodes, ports);
  try {
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    await cluster.waitFormed();
  } catch (err) {
    await cluster[Symbol.asyncDispose]();
    throw err;
  }
  return cluster;
}

/** Resolves once node `i` has heard over its routes of a subscription to `subject` on every peer in `peers`. */
export async function waitForRemoteInterest(cluster: Cluster, i: number, subject: string, peers: string[], timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const routez = await cluster.monitor<{ routes?: { remote_name?: string; subscriptions_list?: string[] | null }[] }>(i, '/routez?subs=1');
    const seen = new Set((routez.routes ?? []).filter((r) => r.subscriptions_list?.includes(subject)).map((r) => r.remote_name));
    if (peers.every((p) => seen.has(p))) return;
    if (Date.now() > deadline) throw new Error(`n${i + 1} saw ${subject} only on [${[...seen]}], expected [${peers}]`);
    await sleep(50);
  }
}

/** One node started from a cluster configuration (its routes all point at itself), for single-broker tests of the shipped files. */
export async function startSingleNode(config = CLUSTER_CONFIG, env: Record<string, string> = {}): Promise<LocalNatsServer> {
  const port = { client: await freePort(), cluster: await freePort(), http: await freePort() };
  return LocalNatsServer.start({ port: port.client, config, env: { ...nodeEnv(0, [port, port, port]), ...env } });
}
