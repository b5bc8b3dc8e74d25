/**
 * Carrying out ejection decisions: the registry's ejection bookkeeping and the control command
 * that goes with each decision, one command per worker at a time.
 */
import type { EventKind, SupervisorEvent } from '../protocol/supervisor-envelopes.js';
import type { Logger } from '../logging/logger.js';
import type { CommandSender } from './commands.js';
import type { Decision } from './ejection.js';
import type { WorkerRegistry } from './registry.js';

/** The typed fields of an event beside its reason and figures. */
export type EventFields = Pick<SupervisorEvent, 'code' | 'ejectionMs' | 'ejection'>;

/** Publishes an event (when leading) and logs the decision. */
export type DecisionEvent = (kind: EventKind, service: string, workerId: string, reason: string, figures: Record<string, unknown>, fields?: EventFields) => void;

export class DecisionRunner {
  readonly #registry: WorkerRegistry;
  readonly #commands: CommandSender;
  readonly #retryAfterMs: number;
  readonly #event: DecisionEvent;
  readonly #log: Logger;
  readonly #busy = new Set<string>();

  /** `retryAfterMs`: how long a worker whose command failed is left alone. */
  constructor(registry: WorkerRegistry, commands: CommandSender, retryAfterMs: number, event: DecisionEvent, log: Logger) {
    this.#registry = registry;
    this.#commands = commands;
    this.#retryAfterMs = retryAfterMs;
    this.#event = event;
    this.#log = log;
  }

  /** Workers with a command in flight (or just failed): their ejection state waits for the outcome. */
  get busy(): ReadonlySet<string> {
    return this.#busy;
  }

  apply(d: Decision, now: number): void {
    const rec = this.#registry.get(d.workerId);
    if (rec === undefined || this.#busy.has(d.workerId)) return;
    if (d.kind === 'withheld') {
      if (this.#registry.withheld(rec)) this.#event('withheld', d.service, d.workerId, d.reason, d.figures, { code: d.code });
      return;
    }
    if (d.kind === 'drain' || d.kind === 'shutdown') {
      this.#registry.ejected(rec, now, { periodMs: d.periodMs, count: d.count, reason: d.reason, code: d.code, shutdown: d.kind === 'shutdown', commanded: true, since: now });
      this.#event(d.kind, d.service, d.workerId, d.reason, { ...d.figures, until: d.until }, { code: d.code, ejectionMs: d.periodMs, ejection: d.count });
    } else if (d.kind === 'resend') {
      this.#registry.drainResent(rec, now);
      this.#log.warn({ decision: 'resend', service: d.service, workerId: d.workerId }, d.reason);
    } else {
      this.#event('resume', d.service, d.workerId, d.reason, d.figures, { code: d.code });
    }
    const cmd = d.kind === 'resend' ? 'drain' : d.kind;
    this.#busy.add(d.workerId);
    let holdMs = 0;
    this.#commands.send(d.service, d.workerId, cmd, d.reason).then(
      (ack) => {
        if (!ack.ok) throw new Error(ack.error ?? 'refused');
        if (cmd === 'resume') this.#registry.resumed(rec, Date.now());
        else this.#registry.drainAcknowledged(rec);
      },
    ).catch((err: unknown) => {
      this.#event('command-failed', d.service, d.workerId, `${cmd} failed: ${(err as Error).message}`, { command: cmd }, { code: `${cmd}_failed` });
      // Not again at every tick: a worker that refuses (it is stopping, say) would flood the events.
      holdMs = this.#retryAfterMs;
    }).finally(() => {
      const release = () => this.#busy.delete(d.workerId);
      if (holdMs === 0) release();
      else setTimeout(release, holdMs).unref();
    });
  }
}
