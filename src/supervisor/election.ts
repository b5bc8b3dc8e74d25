/**
 * Leader election between supervisors, over their heartbeats: the leader is the live supervisor
 * that started first (ties broken by id). A supervisor is live while its heartbeats keep coming;
 * when the leader misses `lostAfterIntervals` of them, the next oldest takes over. Pure.
 */

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
