/**
 * The ordered census: which worker of a service holds the attempts nobody has acknowledged, found
 * within milliseconds of a worker's loss (docs/protocol.md, *Census*).
 *
 * NATS delivers the messages of one connection to another in the order they were published,
 * across subjects. A worker answers a liveness probe only after sending the acks of every request
 * of the prober it holds (received, held in its backlog or running); its answer says so
 * (`census: true`). So once worker W's answer to a probe arrives, every attempt this client sent
 * before that probe is answered, acknowledged by W, or not on W. A census round probes every
 * worker of the service this client has heard from: when each answered so or proved gone (the
 * broker's 503), an attempt still unacknowledged and unanswered that was sent before the round and
 * before a worker's loss sat with a lost worker. A worker that does not answer (frozen, busy) or
 * answers without the promise leaves the round without a verdict: a delay, never a false loss.
 *
 * Rounds start when a worker is found lost, when an attempt has been silent for
 * {@link SUSPECT_AFTER_MS} (at most one round per service per that time; rounds do not wait for
 * each other, so one held up by a worker that does not answer delays nothing), and a worker that has
 * gone quiet while its peers still serve this client is probed alone (so a worker that drained and
 * left is known to be gone before another worker joins in its place). A worker whose answer says it
 * is outside its queue group (draining) is noted: if it is found gone later, its loss covers only
 * what was sent before the note, so a drained worker's closing ends nothing sent after it left.
 *
 * The one hole: a worker this client has never heard from (it joined a moment ago, or fell out of
 * the bounded memory below) is not probed. A request it has not read yet when a round ends looks
 * like one lost with the lost worker. Workers acknowledge the first request of every caller they
 * have not acknowledged for 100 ms at once, so a new worker is heard from as soon as it reads one.
 */
import type { Clock } from '../timing/clock.js';
import type { Liveness } from './liveness.js';

/** An attempt with no ack and no reply for this long makes its client count its service's workers. */
export const SUSPECT_AFTER_MS = 50;
/**
 * A worker silent this long while another worker of its service acknowledged this client since is
 * probed alone. Three times the workers' presence interval (100 ms): a worker serving this client
 * acknowledges it at least that often.
 */
export const QUIET_AFTER_MS = 300;
/**
 * A worker found gone held, at most, what was sent before its last ack to this client plus this
 * long. A worker serving a client acknowledges it at least every 100 ms (presence acks), so one
 * killed while serving sent its last ack at most ~100 ms before it died; one that left long
 * before it was found gone (drained and stopped, a fleet replaced) cannot end calls sent to its
 * successors since. Under very little traffic a worker may go longer without an ack: a call lost
 * with it then waits (supervisor's verdict, deadline) instead.
 */
export const LOSS_HORIZON_MS = 500;
/** Workers remembered per service (and probed per round). */
export const MAX_WORKERS_PER_SERVICE = 64;
/** Services whose workers are remembered. */
export const MAX_SIGHTED_SERVICES = 256;
/**
 * Rounds of one service out at once. Each round is independent (its own fresh probes), so a round
 * held up by a worker that does not answer (killed with the probe unread, frozen) does not hold up
 * the next one; beyond this many, a wanted round starts when one ends.
 */
export const MAX_ROUNDS_PER_SERVICE = 4;
/** Losses remembered per service: a round ends the attempts sent before one of them. */
export const MAX_RECENT_LOSSES = 8;

/** What a round needs to probe a worker: a fresh probe, published after every attempt sent so far. */
export interface CensusProber {
  probe(service: string, workerId: string, timeoutMs: number, fresh: boolean): Promise<Liveness>;
}

export interface CensusEvents {
  /** A probe answered 503: the worker's connection is gone. */
  gone(service: string, workerId: string): void;
  /**
   * Every worker of `service` this client knows answered a round (or is gone): an attempt of the
   * service that no worker acknowledged or answered and that was sent before `before` was lost.
   */
  concluded(service: string, before: number): void;
}

interface Sighting {
  /** The last ack from it. */
  seen: number;
  /**
   * When a probe found it outside its queue group (draining, drained): what this client sent
   * later was not routed to it. Cleared when it is heard from again (it rejoined).
   */
  outsideAt: number | undefined;
  /** When it was last probed alone for being quiet. */
  quietProbeAt: number;
  /** A quiet probe of it is out. */
  probing: boolean;
}

interface Round {
  startedAt: number;
  /** A worker answered without the census promise, or not at all, or a new worker was heard from. */
  inconclusive: boolean;
}

class ServiceCensus {
  readonly workers = new Map<string, Sighting>();
  /** When each recent loss happened (at the latest): attempts sent before it may have been with it. */
  readonly losses: number[] = [];
  readonly running = new Set<Round>();
  lastRoundAt = -Infinity;
  /** A round was wanted while {@link MAX_ROUNDS_PER_SERVICE} ran: one starts when one ends. */
  wanted = false;
}

export class WorkerCensus {
  readonly #services = new Map<string, ServiceCensus>();
  readonly #clock: Clock;
  readonly #prober: CensusProber;
  readonly #probeTimeoutMs: number;
  readonly #events: CensusEvents;
  #rounds = 0;

  constructor(clock: Clock, prober: CensusProber, probeTimeoutMs: number, events: CensusEvents) {
    this.#clock = clock;
    this.#prober = prober;
    this.#probeTimeoutMs = probeTimeoutMs;
    this.#events = events;
  }

  /** Rounds started, for tests and metrics. */
  get rounds(): number {
    return this.#rounds;
  }

  /** An ack from `workerId` of `service` arrived. */
  saw(service: string, workerId: string): void {
    const now = this.#clock.now();
    let s = this.#services.get(service);
    if (s === undefined) {
      if (this.#services.size >= MAX_SIGHTED_SERVICES) return;
      s = new ServiceCensus();
      this.#services.set(service, s);
    }
    const w = s.workers.get(workerId);
    if (w !== undefined) {
      w.seen = now;
      w.outsideAt = undefined;
      return;
    }
    if (s.workers.size >= MAX_WORKERS_PER_SERVICE) {
      // Forget the one heard from longest ago.
      let oldest: string | undefined;
      let oldestAt = Infinity;
      for (const [id, v] of s.workers) if (v.seen < oldestAt) [oldest, oldestAt] = [id, v.seen];
      s.workers.delete(oldest!);
    }
    s.workers.set(workerId, { seen: now, outsideAt: undefined, quietProbeAt: -Infinity, probing: false });
    // A worker the running rounds did not probe may hold what they count: one that does, now.
    if (s.running.size > 0) {
      for (const round of s.running) round.inconclusive = true;
      this.#start(service, s);
    }
  }

  /**
   * Worker `workerId` of `service` was found lost (a probe's 503, or the supervisor's verdict):
   * a round counts the others at once.
   */
  lost(service: string, workerId: string): void {
    const s = this.#services.get(service);
    if (s === undefined) return;
    const w = s.workers.get(workerId);
    if (w === undefined) return; // never heard from, or its loss is known already
    s.workers.delete(workerId);
    this.#addLoss(s, w, this.#clock.now());
    this.#start(service, s);
  }

  /** An attempt of `service` has had no ack and no reply for {@link SUSPECT_AFTER_MS}. */
  suspect(service: string): void {
    const s = this.#services.get(service);
    // A round just started: the attempt, still silent, suspects again later.
    if (s === undefined || this.#clock.now() - s.lastRoundAt < SUSPECT_AFTER_MS) return;
    this.#start(service, s);
  }

  /** Probes, alone, each worker gone quiet while its peers still acknowledge this client. */
  sweep(): void {
    const now = this.#clock.now();
    for (const [service, s] of this.#services) {
      let latest = -Infinity;
      for (const w of s.workers.values()) if (w.seen > latest) latest = w.seen;
      for (const [workerId, w] of s.workers) {
        // Once per silence: quiet, and another worker acknowledged this client well after it did.
        if (w.probing || w.quietProbeAt > w.seen || now - w.seen < QUIET_AFTER_MS || latest - w.seen < QUIET_AFTER_MS / 3) continue;
        w.probing = true;
        w.quietProbeAt = now;
        void this.#prober.probe(service, workerId, this.#probeTimeoutMs, false).then((state) => {
          w.probing = false;
          if (s.workers.get(workerId) !== w) return;
          if (state === 'gone') {
            this.lost(service, workerId);
            this.#events.gone(service, workerId);
          } else if (state === 'outside') {
            w.outsideAt ??= now;
          }
        });
      }
    }
  }

  /**
   * Records the loss of `w`, found at `foundAt`: it may have held what was sent before then, before
   * its last ack plus {@link LOSS_HORIZON_MS}, and before it was found outside its queue group.
   */
  #addLoss(s: ServiceCensus, w: Sighting, foundAt: number): void {
    s.losses.push(Math.min(foundAt, w.seen + LOSS_HORIZON_MS, w.outsideAt ?? Infinity));
    if (s.losses.length > MAX_RECENT_LOSSES) s.losses.shift();
  }

  #start(service: string, s: ServiceCensus): void {
    if (s.running.size >= MAX_ROUNDS_PER_SERVICE) {
      s.wanted = true;
      return;
    }
    const round: Round = { startedAt: this.#clock.now(), inconclusive: false };
    s.running.add(round);
    s.lastRoundAt = round.startedAt;
    this.#rounds++;
    const probes: Promise<void>[] = [];
    for (const workerId of [...s.workers.keys()]) {
      probes.push(
        this.#prober.probe(service, workerId, this.#probeTimeoutMs, true).then((state) => {
          if (state === 'gone') {
            const w = s.workers.get(workerId);
            if (w === undefined) return;
            s.workers.delete(workerId);
            this.#addLoss(s, w, round.startedAt);
            this.#events.gone(service, workerId);
          } else if (state === 'outside') {
            const w = s.workers.get(workerId);
            if (w !== undefined) w.outsideAt ??= round.startedAt;
          } else if (state !== 'alive') {
            round.inconclusive = true;
          }
        }),
      );
    }
    void Promise.all(probes).then(() => this.#end(service, s, round));
  }

  #end(service: string, s: ServiceCensus, round: Round): void {
    s.running.delete(round);
    if (!round.inconclusive && s.losses.length > 0) {
      const before = Math.min(round.startedAt, Math.max(...s.losses));
      this.#events.concluded(service, before);
    }
    if (s.wanted) {
      s.wanted = false;
      this.#start(service, s);
    }
  }
}
