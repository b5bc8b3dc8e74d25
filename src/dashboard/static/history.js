// The page's copy of the histories: seeded by the stream's snapshot, then one point appended per
// sample (the server's `sample` counter) from the live figures.
export const WORKER_POINTS = 60;
export const SERVICE_POINTS = 180;

function push(list, value, cap) {
  list.push(value);
  if (list.length > cap) list.splice(0, list.length - cap);
}

export class Histories {
  constructor() {
    this.workers = new Map();
    this.services = new Map();
    this.sample = -1;
  }

  seed(history, sample) {
    this.workers = new Map(Object.entries(history.workers));
    this.services = new Map(Object.entries(history.services));
    this.sample = sample;
  }

  /** Appends the fleet's figures when the server took a new sample. */
  append(fleet) {
    if (fleet.sample === this.sample) return;
    this.sample = fleet.sample;
    const liveIds = new Set();
    for (const w of fleet.workers) {
      liveIds.add(w.id);
      let h = this.workers.get(w.id);
      if (!h) this.workers.set(w.id, (h = { callsPerSec: [], p99Ms: [], loopDelayMs: [], rssMb: [] }));
      const live = w.state !== 'lost' && w.state !== 'stopped';
      push(h.callsPerSec, live ? w.callsPerSec : 0, WORKER_POINTS);
      push(h.p99Ms, live ? w.p99Ms : 0, WORKER_POINTS);
      push(h.loopDelayMs, live ? w.loopDelayMs : 0, WORKER_POINTS);
      push(h.rssMb, live ? w.rssBytes / 1_048_576 : 0, WORKER_POINTS);
    }
    for (const id of this.workers.keys()) if (!liveIds.has(id)) this.workers.delete(id);
    const names = new Set();
    for (const s of fleet.services) {
      names.add(s.service);
      let h = this.services.get(s.service);
      if (!h) this.services.set(s.service, (h = { callsPerSec: [], errorRate: [], p99Ms: [], inFlight: [], loopDelayMs: [], rssMb: [] }));
      push(h.callsPerSec, s.callsPerSec, SERVICE_POINTS);
      push(h.errorRate, s.errorRate, SERVICE_POINTS);
      push(h.p99Ms, s.p99Ms, SERVICE_POINTS);
      push(h.inFlight, s.inFlight, SERVICE_POINTS);
      push(h.loopDelayMs, s.loopDelayMs, SERVICE_POINTS);
      push(h.rssMb, s.rssBytes / 1_048_576, SERVICE_POINTS);
    }
    for (const name of this.services.keys()) if (!names.has(name)) this.services.delete(name);
  }
}
