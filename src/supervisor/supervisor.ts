/**
 * The supervisor: watches worker heartbeats, judges health with the policy, drains sick workers
 * out of their queue group and resumes them after their ejection period, while another
 * supervisor may stand by. It is started by start-supervisor.ts. I/O lives here; every judgement
 * is in policy.ts, ejection.ts, election.ts and hearing.ts, decisions are carried out by
 * actions.ts, and what it publishes is built by announcer.ts.
 */
import type { Msg, NatsConnection, Subscription } from 'nats';
import type { Logger } from '../logging/logger.js';
import { LogThrottle } from '../logging/log-throttle.js';
import { encode } from '../protocol/codec.js';
import { checkHeaderBlock } from '../protocol/nats-headers.js';
import { heartbeatWildcard, statusSubject, supervisorHeartbeatSubject } from '../protocol/subjects.js';
import type { DeadlinePolicy, EventKind, SupervisorEvent } from '../protocol/supervisor-envelopes.js';
import { CommandSender, type CommandSigner } from './commands.js';
import { decide } from './ejection.js';
import { DecisionRunner, type EventFields } from './actions.js';
import { Leadership } from './election.js';
import type { HealthPolicy } from './policy.js';
import { WorkerRegistry, type WorkerRecord } from './registry.js';
import { Hearing, RECONNECT_GRACE_INTERVALS } from './hearing.js';
import { buildViews } from './views.js';
import { buildStatus } from './status.js';
import { StatusReplies } from './status-replies.js';
import { parseSupervisorHeartbeat, parseWorkerHeartbeat } from './inputs.js';
import { SupervisorFollower } from './follower.js';
import { SupervisorAnnouncer } from './announcer.js';
import type { NkeyCommandSigner, NkeyCommandVerifier } from '../security/signed-commands.js';
import type { MemberCheck } from './member-check.js';

const MALFORMED_LOG_PERIOD_MS = 1_000;
/** A worker gets this many supervisor intervals, and at least MIN_ACK_WAIT_MS, to acknowledge a command. */
const ACK_WAIT_INTERVALS = 2;
const MIN_ACK_WAIT_MS = 1_000;

/** What kicking lost workers came to (fencing.ts): closed, refused (the connection is not that worker's now), failed (the broker did not answer or refused). */
export interface KickCounts {
  kicked: number;
  refused: number;
  failed: number;
}

/** What runs beside the supervisor's connection (operations.ts), as far as the supervisor needs it. */
interface Operations {
  readonly metricsPort: number | null;
  readonly kicks: KickCounts | null;
  close(): Promise<void>;
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
  /** Signs this supervisor's heartbeats and events. */
  nkey: NkeyCommandSigner | null;
  /** Checks the heartbeats and events of other supervisors. */
  verifier: NkeyCommandVerifier | null;
  operations: Operations;
  /** Workers are checked against the broker (a system-account connection is configured). */
  verifying: boolean;
}

export class Supervisor {
  readonly id: string;
  readonly startedAt = Date.now();
  readonly registry: WorkerRegistry;
  readonly #nc: NatsConnection;
  readonly #o: Resolved;
  readonly #log: Logger;
  readonly #subs: Subscription[] = [];
  readonly #leadership: Leadership;
  readonly #announcer: SupervisorAnnouncer;
  readonly #actions: DecisionRunner;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #follower: SupervisorFollower;
  readonly #tickMs: number;
  /** How long to wait for a command's ack, and before sending a drain again. */
  readonly #resendAfterMs: number;
  #lastTick = Date.now();
  readonly #malformed = new LogThrottle(MALFORMED_LOG_PERIOD_MS);
  #closing: Promise<void> | null = null;
  readonly #hearing: Hearing;
  readonly #lostHooks: ((records: WorkerRecord[]) => void)[] = [];
  #members: MemberCheck | null = null;
  readonly #statusReplies = new StatusReplies();

  /** @internal use {@link startSupervisor} */
  constructor(nc: NatsConnection, o: Resolved) {
    this.#nc = nc;
    this.#o = o;
    this.id = o.id;
    this.#log = o.logger;
    this.registry = new WorkerRegistry(o.policy, o.verifying);
    this.#leadership = new Leadership(o.id, this.startedAt, o.intervalMs);
    this.#announcer = new SupervisorAnnouncer(nc, { id: o.id, prefix: o.prefix, startedAt: this.startedAt, intervalMs: o.intervalMs, policy: o.policy, deadlines: o.deadlines, nkey: o.nkey });
    this.#resendAfterMs = Math.max(MIN_ACK_WAIT_MS, ACK_WAIT_INTERVALS * o.intervalMs);
    const commands = new CommandSender(nc, o.prefix, o.id, this.#resendAfterMs, o.sign);
    this.#actions = new DecisionRunner(this.registry, commands, this.#resendAfterMs, (...e) => this.#event(...e), o.logger);
    // A standby still warming up follows the supervisor it would elect; a leader follows nobody.
    const verifier = o.verifier;
    const authentic = verifier && ((subject: string, ev: SupervisorEvent) => {
      const verdict = verifier.verifyMessage(subject, ev.supervisor, ev);
      return verdict.ok ? null : verdict.reason;
    });
    this.#follower = new SupervisorFollower(this.registry, o.id, () => (this.leader ? this.id : this.#leadership.elected), authentic);
    this.#hearing = new Hearing(this.startedAt, RECONNECT_GRACE_INTERVALS * o.intervalMs);
    void this.#watchConnection();
    // A lost worker's event goes out the moment the verdict is taken: clients end the calls it held.
    this.registry.onEvent((event, rec, figures, code) => this.#event(event, rec.service, rec.id, code === 'connection_closed' ? 'worker lost: its connection closed' : `worker ${event}`, figures, code && { code }));
    this.#subs.push(
      nc.subscribe(heartbeatWildcard(o.prefix), { callback: (err, msg) => err || this.#onHeartbeat(msg) }),
      nc.subscribe(supervisorHeartbeatSubject(o.prefix), { callback: (err, msg) => err || this.#onPeer(msg) }),
      nc.subscribe(statusSubject(o.prefix), { callback: (err, msg) => err || this.#onStatus(msg) }),
      nc.subscribe(`${o.prefix}._evt.>`, { callback: (err, msg) => err || this.#follower.onEvent(msg.subject, msg.data) }),
    );
    this.#tickMs = Math.max(20, Math.floor(o.intervalMs / 4));
    this.#timers.push(setInterval(() => this.#tick(), this.#tickMs));
    this.#timers.push(setInterval(() => this.#announcer.heartbeat(this.leader), o.intervalMs));
    this.#announcer.heartbeat(this.leader);
  }

  /** Whether this supervisor leads (and so sends commands and answers status). */
  get leader(): boolean {
    return this.#leadership.leads;
  }

  get policy(): HealthPolicy {
    return this.#o.policy;
  }

  /** Checks every worker's heartbeat against the broker from now on (see member-check.ts). */
  checkMembers(check: MemberCheck): void {
    this.#members = check;
  }

  /** Asks the broker about `rec` unless it is being asked already; false when the check's queue is full. */
  #check(rec: WorkerRecord): boolean {
    const check = this.#members;
    if (check === null) return true;
    const { serverId, clientId } = rec.hb;
    return check.enqueue({ id: rec.id, service: rec.service, serverId, clientId }, (standing) => this.registry.checked(rec, serverId, clientId, standing));
  }

  /** Calls `hook` with the workers each sweep declares lost (fencing attaches here). */
  onLost(hook: (records: WorkerRecord[]) => void): void {
    this.#lostHooks.push(hook);
  }

  /** The port of the metrics endpoint (`metrics` option), or null without one. */
  get metricsPort(): number | null {
    return this.#o.operations.metricsPort;
  }

  /** How many lost workers' connections it closed at the broker, refused to (not that worker's) or failed to; null when it does not kick (`kickLost`). */
  get kicks(): KickCounts | null {
    return this.#o.operations.kicks;
  }

  /** Stops supervising; closes the connection if it opened it. Calling it again returns the same promise. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const t of this.#timers) clearInterval(t);
      await this.#o.operations.close();
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
    const badHeaders = checkHeaderBlock(msg);
    if (badHeaders !== null) return this.#malformedInput('heartbeat', msg.subject, badHeaders);
    const hb = parseWorkerHeartbeat(this.#o.prefix, msg.subject, msg.data);
    if (typeof hb === 'string') return this.#malformedInput('heartbeat', msg.subject, hb);
    const now = Date.now();
    this.registry.ingest(hb, now);
    const rec = this.registry.get(hb.id);
    if (rec?.member === 'unchecked' && rec.hb === hb) this.#check(rec);
    // Sent out of schedule (a fault streak, a change of state): judge its service now, not at the next tick.
    if (hb.early === true) this.#judge(now, hb.service);
  }

  #onPeer(msg: Msg): void {
    const badHeaders = checkHeaderBlock(msg);
    if (badHeaders !== null) return this.#malformedInput('supervisor heartbeat', msg.subject, badHeaders);
    const hb = parseSupervisorHeartbeat(msg.data);
    if (typeof hb === 'string') return this.#malformedInput('supervisor heartbeat', msg.subject, hb);
    if (hb.id === this.id) return;
    const verdict = this.#o.verifier?.verifyMessage(msg.subject, hb.id, hb);
    if (verdict !== undefined && !verdict.ok) return this.#malformedInput('supervisor heartbeat', msg.subject, `not believed: ${verdict.reason}`);
    this.#leadership.heard(hb.id, hb.startedAt, hb.intervalMs, Date.now());
  }

  #onStatus(msg: Msg): void {
    if (!this.leader || !msg.reply) return;
    const now = Date.now();
    const reply = this.#statusReplies.take(now, () => {
      const supervisor = { id: this.id, leader: true, leaderId: this.#leadership.leaderId, startedAt: this.startedAt, intervalMs: this.#o.intervalMs };
      return encode(buildStatus(this.registry.records(), now, supervisor, this.#o.policy, this.#o.deadlines, (w) => encode(w).length));
    });
    if (reply === null) return;
    try {
      msg.respond(reply);
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
    if (late || !this.#hearing.judging(now)) return;
    const heardSince = this.#hearing.heardSince;
    const lost = this.registry.sweep(now, heardSince);
    if (lost.length > 0) for (const hook of this.#lostHooks) hook(lost);
    if (this.#members !== null) for (const rec of this.registry.unchecked()) if (!this.#check(rec)) break;
    const was = this.#leadership.elect(now, heardSince, this.#o.policy.lostAfterIntervals);
    if (was !== null) {
      const peers = this.#leadership.peers;
      if (this.leader) {
        this.#log.warn({ decision: 'leader', previous: was || null, peers }, 'supervisor leads');
        this.#announcer.event('leader', '_sup', undefined, `supervisor ${this.id} leads`, { previous: was || null, peers });
        this.#announcer.heartbeat(true);
      } else {
        this.#log.info({ leader: this.#leadership.leaderId }, 'supervisor stands by');
      }
    }
    this.#judge(now);
  }

  /** Judges every worker (of `service` only, when given) and, when leading, carries out the decisions. */
  #judge(now: number, service?: string): void {
    if (this.#nc.isClosed() || !this.#hearing.judging(now)) return;
    const views = buildViews(this.registry, now, this.#o.policy, this.#actions.busy, service);
    if (!this.leader) return;
    for (const d of decide(views, now, this.#o.policy, this.#resendAfterMs)) this.#actions.apply(d, now);
  }

  /**
   * The broker closed connection `clientId` of server `serverId` (a `$SYS` disconnect advisory, see
   * loss-relay.ts): when it is a known worker's serving connection, that worker is lost now.
   */
  connectionClosed(serverId: string, clientId: number): void {
    const rec = this.registry.byConnection(serverId, clientId);
    if (rec !== undefined) this.registry.connectionClosed(rec, Date.now());
  }

  /** A structured log line for every decision and liveness change; an event too when leading. */
  #event(kind: EventKind, service: string, workerId: string, reason: string, figures: Record<string, unknown>, fields?: EventFields): void {
    const level = kind === 'joined' || kind === 'returned' || kind === 'forgotten' ? 'info' : 'warn';
    this.#log[level]({ decision: kind, service, workerId, reason, figures, ...fields, leader: this.leader }, `${kind} ${workerId}`);
    if (this.leader) this.#announcer.event(kind, service, workerId, reason, figures, fields);
  }

  async #watchConnection(): Promise<void> {
    for await (const s of this.#nc.status()) {
      if (this.#closing !== null) return;
      if (s.type === 'disconnect') {
        this.#hearing.disconnected();
        this.#log.warn('supervisor disconnected: judging no worker until it hears the bus again');
      } else if (s.type === 'reconnect') {
        this.#hearing.reconnected(Date.now());
        this.#log.warn({ graceMs: RECONNECT_GRACE_INTERVALS * this.#o.intervalMs }, 'supervisor reconnected: judging workers again after the grace period');
      }
    }
  }

  #malformedInput(what: string, subject: string, reason: string): void {
    const suppressed = this.#malformed.take(Date.now());
    if (suppressed !== null) this.#log.warn({ subject, reason, suppressed }, `malformed ${what} ignored`);
  }
}
