/**
 * The supervisor: watches worker heartbeats, judges health with the policy, drains sick workers
 * out of their queue group and resumes them after their ejection period, while another
 * supervisor may stand by. I/O lives here; every judgement is in policy.ts, ejection.ts and
 * election.ts.
 */
import { randomBytes } from 'node:crypto';
import type { Msg, NatsConnection, Subscription } from 'nats';
import { openConnection, type ConnectionOptions } from '../connection/options.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { encode } from '../protocol/codec.js';
import { PROTOCOL_VERSION } from '../protocol/envelope.js';
import { assertPrefix, DEFAULT_PREFIX, eventSubject, heartbeatWildcard, statusSubject, supervisorHeartbeatSubject } from '../protocol/subjects.js';
import { checkDeadlinePolicy, type DeadlinePolicy, type EventKind, type SupervisorEvent, type SupervisorHeartbeat } from '../protocol/supervisor-envelopes.js';
import { checkInt } from '../options/number-option.js';
import { CommandSender, type CommandSigner } from './commands.js';
import { decide, type Decision } from './ejection.js';
import { electLeader, type Candidate } from './election.js';
import { resolvePolicy, type HealthPolicy } from './policy.js';
import { WorkerRegistry } from './registry.js';
import { buildViews } from './views.js';
import { buildStatus } from './status.js';
import { parseSupervisorHeartbeat, parseWorkerHeartbeat } from './inputs.js';
import { SupervisorFollower } from './follower.js';

export const DEFAULT_SUPERVISOR_INTERVAL_MS = 1_000;
const MALFORMED_LOG_PERIOD_MS = 1_000;
/** A worker gets this many supervisor intervals, and at least MIN_ACK_WAIT_MS, to acknowledge a command. */
const ACK_WAIT_INTERVALS = 2;
const MIN_ACK_WAIT_MS = 1_000;

export interface SupervisorOptions extends ConnectionOptions {
  prefix?: string;
  /** Supervisor heartbeat and election interval in ms. Default 1,000. */
  intervalMs?: number;
  policy?: Partial<HealthPolicy>;
  /** Deadline policy by service; `*` for every other service. */
  deadlines?: Record<string, DeadlinePolicy>;
  logger?: Logger;
  connection?: NatsConnection;
  /** Signs control commands before they are sent. */
  signCommand?: CommandSigner;
}

/**
 * Starts a supervisor and resolves once it listens.
 *
 * @example
 * ```ts
 * const sup = await startSupervisor({ servers: 'nats://127.0.0.1:4222', policy: { maxDrainPercent: 30 } });
 * process.on('SIGTERM', () => sup.close());
 * ```
 */
export async function startSupervisor(options: SupervisorOptions = {}): Promise<Supervisor> {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  assertPrefix(prefix);
  const intervalMs = checkInt('intervalMs', options.intervalMs ?? DEFAULT_SUPERVISOR_INTERVAL_MS, 10, 3_600_000);
  const policy = resolvePolicy(options.policy);
  const deadlines = options.deadlines ?? {};
  for (const [service, d] of Object.entries(deadlines)) {
    const reason = checkDeadlinePolicy(d);
    if (reason !== null) throw new TypeError(`deadlines.${service}: ${reason}`);
  }
  const id = `sup-${randomBytes(6).toString('hex')}`;
  const logger = (options.logger ?? createLogger('natsrpc-supervisor')).child({ supervisorId: id });
  const nc = options.connection ?? (await openConnection({ name: id, ...options }));
  const sup = new Supervisor(nc, { id, prefix, intervalMs, policy, deadlines, logger, ownsConnection: options.connection === undefined, sign: options.signCommand });
  await nc.flush();
  logger.info({ prefix, intervalMs, policy, deadlines }, 'supervisor ready');
  return sup;
}

interface Resolved {
  id: string;
  prefix: string;
  intervalMs: number;
  policy: HealthPolicy;
  deadlines: Record<string, DeadlinePolicy>;
  logger: Logger;
  ownsConnection: boolean;
  sign: CommandSigner | undefined;
}

export class Supervisor {
  readonly id: string;
  readonly startedAt = Date.now();
  readonly registry: WorkerRegistry;
  readonly #nc: NatsConnection;
  readonly #o: Resolved;
  readonly #log: Logger;
  readonly #subs: Subscription[] = [];
  readonly #peers = new Map<string, Candidate>();
  readonly #commands: CommandSender;
  readonly #busy = new Set<string>();
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #follower: SupervisorFollower;
  #leaderId = '';
  readonly #tickMs: number;
  /** How long to wait for a command's ack, and before sending a drain again. */
  readonly #resendAfterMs: number;
  #lastTick = Date.now();
  #lastMalformedLog = 0;
  #malformed = 0;
  #closing: Promise<void> | null = null;

  /** @internal use {@link startSupervisor} */
  constructor(nc: NatsConnection, o: Resolved) {
    this.#nc = nc;
    this.#o = o;
    this.id = o.id;
    this.#log = o.logger;
    this.registry = new WorkerRegistry(o.policy);
    this.#resendAfterMs = Math.max(MIN_ACK_WAIT_MS, ACK_WAIT_INTERVALS * o.intervalMs);
    this.#commands = new CommandSender(nc, o.prefix, o.id, this.#resendAfterMs, o.sign);
    this.#follower = new SupervisorFollower(this.registry, o.id);
    this.registry.onEvent((event, rec, figures) => this.#event(event, rec.service, rec.id, `worker ${event}`, figures));
    this.#subs.push(
      nc.subscribe(heartbeatWildcard(o.prefix), { callback: (err, msg) => err || this.#onHeartbeat(msg) }),
      nc.subscribe(supervisorHeartbeatSubject(o.prefix), { callback: (err, msg) => err || this.#onPeer(msg) }),
      nc.subscribe(statusSubject(o.prefix), { callback: (err, msg) => err || this.#onStatus(msg) }),
      nc.subscribe(`${o.prefix}._evt.>`, { callback: (err, msg) => err || this.#follower.onEvent(msg.data) }),
    );
    this.#tickMs = Math.max(20, Math.floor(o.intervalMs / 4));
    this.#timers.push(setInterval(() => this.#tick(), this.#tickMs));
    this.#timers.push(setInterval(() => this.#publishHeartbeat(), o.intervalMs));
    this.#publishHeartbeat();
  }

  /** Whether this supervisor leads (and so sends commands and answers status). */
  get leader(): boolean {
    return this.#leaderId === this.id;
  }

  get policy(): HealthPolicy {
    return this.#o.policy;
  }

  /** Stops supervising; closes the connection if it opened it. Calling it again returns the same promise. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const t of this.#timers) clearInterval(t);
      if (this.#nc.isClosed()) return;
      for (const s of this.#subs) s.unsubscribe();
      if (this.#o.ownsConnection) {
        await this.#nc.flush().catch(() => undefined);
        await this.#nc.close();
      }
      this.#log.info('supervisor stopped');
    })();
    return this.#closing;
  }

  #onHeartbeat(msg: Msg): void {
    const hb = parseWorkerHeartbeat(this.#o.prefix, msg.subject, msg.data);
    if (typeof hb === 'string') return this.#malformedInput('heartbeat', msg.subject, hb);
    this.registry.ingest(hb, Date.now());
  }

  #onPeer(msg: Msg): void {
    const hb = parseSupervisorHeartbeat(msg.data);
    if (typeof hb === 'string') return this.#malformedInput('supervisor heartbeat', msg.subject, hb);
    if (hb.id === this.id) return;
    if (!this.#peers.has(hb.id) && this.#peers.size >= 64) return;
    this.#peers.set(hb.id, { id: hb.id, startedAt: hb.startedAt, intervalMs: hb.intervalMs, lastSeen: Date.now() });
  }

  #onStatus(msg: Msg): void {
    if (!this.leader || !msg.reply) return;
    const status = buildStatus(
      this.registry.records(),
      Date.now(),
      { id: this.id, leader: true, leaderId: this.#leaderId, startedAt: this.startedAt, intervalMs: this.#o.intervalMs },
      this.#o.policy,
      this.#o.deadlines,
    );
    try {
      msg.respond(encode(status));
    } catch (err) {
      this.#log.warn({ err }, 'status reply not sent');
    }
  }

  #tick(): void {
    if (this.#nc.isClosed()) return;
    const now = Date.now();
    const late = now - this.#lastTick > 2 * this.#tickMs;
    this.#lastTick = now;
    // After a stall of this process, timers run before the heartbeats waiting in the socket are
    // read: judge nobody (workers lost, a leader gone) until those have been taken in.
    if (late) return;
    this.registry.sweep(now);
    for (const [id, p] of this.#peers) if (now - p.lastSeen > p.intervalMs * 10) this.#peers.delete(id);
    // A new supervisor listens for one and a half intervals before it may lead, to hear any
    // older one first.
    const warm = now - this.startedAt >= this.#o.intervalMs * 1.5;
    const self: Candidate = { id: this.id, startedAt: this.startedAt, lastSeen: now, intervalMs: this.#o.intervalMs };
    const leaderId = warm ? electLeader(self, this.#peers.values(), now, this.#o.policy.lostAfterIntervals) : '';
    if (leaderId !== this.#leaderId) {
      const was = this.#leaderId;
      this.#leaderId = leaderId;
      if (leaderId === this.id) {
        this.#log.warn({ decision: 'leader', previous: was || null, peers: this.#peers.size }, 'supervisor leads');
        this.#publishEvent('leader', '_sup', undefined, `supervisor ${this.id} leads`, { previous: was || null, peers: this.#peers.size });
        this.#publishHeartbeat();
      } else {
        this.#log.info({ leader: leaderId }, 'supervisor stands by');
      }
    }
    const views = buildViews(this.registry, now, this.#o.policy, this.#busy);
    if (!this.leader) return;
    for (const d of decide(views, now, this.#o.policy, this.#resendAfterMs)) this.#apply(d, now);
  }

  #apply(d: Decision, now: number): void {
    const rec = this.registry.get(d.workerId);
    if (rec === undefined || this.#busy.has(d.workerId)) return;
    if (d.kind === 'withheld') {
      if (!rec.withheldLogged) this.#event('withheld', d.service, d.workerId, d.reason, d.figures);
      rec.withheldLogged = true;
      return;
    }
    if (d.kind === 'drain' || d.kind === 'shutdown') {
      rec.ejection = { since: now, until: d.until, count: d.count, reason: d.reason, sentAt: now, acked: false };
      rec.ejections.push(now);
      rec.lastDrainReason = d.reason;
      rec.shutdownSent = d.kind === 'shutdown';
      rec.returnedAt = null;
      this.registry.resetWindow(rec);
      this.#event(d.kind, d.service, d.workerId, d.reason, { ...d.figures, until: d.until });
    } else if (d.kind === 'resend') {
      rec.ejection!.sentAt = now;
      this.#log.warn({ decision: 'resend', service: d.service, workerId: d.workerId }, d.reason);
    } else {
      this.#event('resume', d.service, d.workerId, d.reason, d.figures);
    }
    const cmd = d.kind === 'resend' ? 'drain' : d.kind;
    this.#busy.add(d.workerId);
    let holdMs = 0;
    this.#commands.send(d.workerId, cmd, d.reason).then(
      (ack) => {
        if (!ack.ok) throw new Error(ack.error ?? 'refused');
        if (cmd === 'resume') {
          rec.ejection = null;
          rec.outOfServiceSince = null;
          rec.resumedAt = Date.now();
          this.registry.resetWindow(rec);
        } else if (rec.ejection !== null) rec.ejection.acked = true;
      },
    ).catch((err: unknown) => {
      this.#event('command-failed', d.service, d.workerId, `${cmd} failed: ${(err as Error).message}`, { command: cmd });
      // Not again at every tick: a worker that refuses (it is stopping, say) would flood the events.
      holdMs = this.#resendAfterMs;
    }).finally(() => {
      const release = () => this.#busy.delete(d.workerId);
      if (holdMs === 0) release();
      else setTimeout(release, holdMs).unref();
    });
  }

  /** A structured log line for every decision and liveness change; an event too when leading. */
  #event(kind: EventKind, service: string, workerId: string, reason: string, figures: Record<string, unknown>): void {
    const level = kind === 'joined' || kind === 'returned' || kind === 'forgotten' ? 'info' : 'warn';
    this.#log[level]({ decision: kind, service, workerId, reason, figures, leader: this.leader }, `${kind} ${workerId}`);
    if (this.leader) this.#publishEvent(kind, service, workerId, reason, figures);
  }

  #publishEvent(kind: EventKind, service: string, workerId: string | undefined, reason: string, figures: Record<string, unknown>): void {
    if (this.#nc.isClosed()) return;
    const ev: SupervisorEvent = { v: PROTOCOL_VERSION, ts: Date.now(), supervisor: this.id, kind, service, reason, figures };
    if (workerId !== undefined) ev.workerId = workerId;
    this.#nc.publish(eventSubject(this.#o.prefix, service), encode(ev));
  }

  #publishHeartbeat(): void {
    if (this.#nc.isClosed()) return;
    const hb: SupervisorHeartbeat = {
      v: PROTOCOL_VERSION,
      id: this.id,
      startedAt: this.startedAt,
      ts: Date.now(),
      intervalMs: this.#o.intervalMs,
      leader: this.leader,
      deadlines: this.#o.deadlines,
      policy: { ...this.#o.policy },
    };
    this.#nc.publish(supervisorHeartbeatSubject(this.#o.prefix), encode(hb));
  }

  #malformedInput(what: string, subject: string, reason: string): void {
    const now = Date.now();
    if (now - this.#lastMalformedLog < MALFORMED_LOG_PERIOD_MS) {
      this.#malformed++;
      return;
    }
    this.#log.warn({ subject, reason, suppressed: this.#malformed }, `malformed ${what} ignored`);
    this.#lastMalformedLog = now;
    this.#malformed = 0;
  }
}
