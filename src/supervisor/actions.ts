/**
 * Carrying out ejection decisions: the registry's ejection bookkeeping and the control command
 * that goes with each decision, one command per worker at a time.
 */
import type { EventKind } from '../protocol/supervisor-envelopes.js';
import type { Logger } from '../logging/logger.js';
import type { CommandSender } from './commands.js';
import type { Decision } from './ejection.js';
import type { WorkerRegistry } from './registry.js';

/** Publishes an event (when leading) and logs the decision. */
export type DecisionEvent = (kind: EventKind, service: string, workerId: string, reason: string, figures: Record<string, unknown>) => void;

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
      if (!rec.withheldLogged) this.#event('withheld', d.service, d.workerId, d.reason, d.figures);
      rec.withheldLogged = true;
      return;
    }
    if (d.kind === 'drain' || d.kind === 'shutdown') {
      rec.ejection = { since: now, until: d.until, count: d.count, reason: d.reason, sentAt: now, acked: false };
      rec.shutdownSent = d.kind === 'shutdown';
      rec.returnedAt = null;
      this.#registry.recordEjection(rec, now, d.reason, true);
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
          this.#registry.resetWindow(rec);
        } else if (rec.ejection !== null) rec.ejection.acked = true;
      },
    ).catch((err: unknown) => {
      this.#event('command-failed', d.service, d.workerId, `${cmd} failed: ${(err as Error).message}`, { command: cmd });
      // Not again at every tick: a worker that refuses (it is stopping, say) would flood the events.
      holdMs = this.#retryAfterMs;
    }).finally(() => {
      const release = () => this.#busy.delete(d.workerId);
      if (holdMs === 0) release();
      else setTimeout(release, holdMs).unref();
    });
  }
}
