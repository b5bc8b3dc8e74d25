/**
 * Leader election between supervisors, over their heartbeats: the leader is the live supervisor
 * that started first (ties broken by id). A supervisor is live while its heartbeats keep coming;
 * when the leader misses `lostAfterIntervals` of them, the next oldest takes over. Pure.
 */

/** Other supervisors tracked at most; heartbeats of further ones are ignored. */
export const MAX_PEERS = 64;
/**
 * The longest interval taken from another supervisor's heartbeat, in ms (or this supervisor's own
 * interval, when longer): a peer silent for `lostAfterIntervals` of it is gone, so one forged
 * heartbeat cannot hold the lead for longer than that.
 */
export const MAX_PEER_INTERVAL_MS = 10_000;
/** A silent supervisor is forgotten after this many of its intervals. */
export const FORGET_PEER_AFTER_INTERVALS = 10;

export interface Candidate {
  id: string;
  startedAt: number;
  /** Local receipt time of its latest heartbeat (for oneself: now). */
  lastSeen: number;
  intervalMs: number;
}

function older(a: Candidate, b: Candidate): boolean {
  return a.startedAt < b.startedAt || (a.startedAt === b.startedAt && a.id < b.id);
}

/** The id of the leader among `self` and the peers still live at `now`. */
export function electLeader(self: Candidate, peers: Iterable<Candidate>, now: number, lostAfterIntervals: number): string {
  let leader = self;
  for (const p of peers) {
    if (p.id === self.id || now - p.lastSeen > p.intervalMs * lostAfterIntervals) continue;
    if (older(p, leader)) leader = p;
  }
  return leader.id;
}

/** The other supervisors heard, bounded in number. Pure: the caller passes the time. */
export class SupervisorPeers {
  readonly #peers = new Map<string, Candidate>();

  get size(): number {
    return this.#peers.size;
  }

  /** Records a heartbeat of another supervisor received at `now`. */
  heard(id: string, startedAt: number, intervalMs: number, now: number): void {
    if (!this.#peers.has(id) && this.#peers.size >= MAX_PEERS) return;
    this.#peers.set(id, { id, startedAt, intervalMs, lastSeen: now });
  }

  /**
   * Forgets long-silent peers and returns the leader's id. Silence counts from `heardSince` at
   * the earliest: before that this supervisor could not hear anyone.
   */
  elect(self: Candidate, now: number, heardSince: number, lostAfterIntervals: number): string {
    const live: Candidate[] = [];
    for (const [id, p] of this.#peers) {
      const lastSeen = Math.max(p.lastSeen, heardSince);
      if (now - lastSeen > p.intervalMs * FORGET_PEER_AFTER_INTERVALS) this.#peers.delete(id);
      else live.push({ ...p, lastSeen });
    }
    return electLeader(self, live, now, lostAfterIntervals);
  }
}

/**
 * This supervisor's side of the election: the peers it heard, the supervisor the latest election
 * chose, and the leader it acts on. A new supervisor listens for one and a half intervals before
 * it may lead (it names no leader until then), to hear any older one first. Pure: the caller
 * passes the time.
 */
export class Leadership {
  readonly #self: Omit<Candidate, 'lastSeen'>;
  readonly #peers = new SupervisorPeers();
  #leaderId = '';
  #elected = '';

  constructor(id: string, startedAt: number, intervalMs: number) {
    this.#self = { id, startedAt, intervalMs };
  }

  /** The leader this supervisor acts on; '' while it is still warming up. */
  get leaderId(): string {
    return this.#leaderId;
  }

  /** The supervisor the latest election chose, warm or not. */
  get elected(): string {
    return this.#elected;
  }

  /** Whether this supervisor leads. */
  get leads(): boolean {
    return this.#leaderId === this.#self.id;
  }

  /** Other supervisors tracked. */
  get peers(): number {
    return this.#peers.size;
  }

  /** Records a (believed) heartbeat of another supervisor received at `now`. */
  heard(id: string, startedAt: number, intervalMs: number, now: number): void {
    // Capped: one heartbeat claiming an hour's interval would otherwise lead (or block) for hours.
    const capped = Math.min(intervalMs, Math.max(MAX_PEER_INTERVAL_MS, this.#self.intervalMs));
    this.#peers.heard(id, startedAt, capped, now);
  }

  /**
   * Elects at `now` (silence counted from `heardSince` at the earliest); returns the previous
   * leader's id ('' for none) when the leader changed, else null.
   */
  elect(now: number, heardSince: number, lostAfterIntervals: number): string | null {
    const warm = now - this.#self.startedAt >= this.#self.intervalMs * 1.5;
    this.#elected = this.#peers.elect({ ...this.#self, lastSeen: now }, now, heardSince, lostAfterIntervals);
    const leaderId = warm ? this.#elected : '';
    if (leaderId === this.#leaderId) return null;
    const was = this.#leaderId;
    this.#leaderId = leaderId;
    return was;
  }
}
