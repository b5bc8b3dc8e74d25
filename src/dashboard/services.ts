/**
 * Per-service figures, aggregated from the workers' views, and their histories. Pure apart from
 * the history store.
 */
import type { DeadlinePolicy } from '../protocol/supervisor-envelopes.js';
import { History, round } from './history.js';
import type { ServiceHistory, ServiceView, WorkerView } from './view.js';

/** Samples kept per service history (one per sample period: 3 minutes at 1 s). */
export const SERVICE_HISTORY_SAMPLES = 180;
/** Services tracked at most (histories included). */
export const MAX_SERVICES = 1_000;

export function aggregateServices(workers: WorkerView[], deadlineOf: (service: string) => DeadlinePolicy | null): ServiceView[] {
  const byService = new Map<string, ServiceView & { weighted: number; p50Sum: number; live: number }>();
  for (const w of workers) {
    let s = byService.get(w.service);
    if (s === undefined) {
      s = { service: w.service, deadline: deadlineOf(w.service), workers: 0, serving: 0, callsPerSec: 0, errorsPerSec: {}, errorRate: 0, p50Ms: 0, p99Ms: 0, inFlight: 0, concurrency: 0, loopDelayMs: 0, rssBytes: 0, weighted: 0, p50Sum: 0, live: 0 };
      byService.set(w.service, s);
    }
    s.workers++;
    if (w.state === 'lost' || w.state === 'stopped') continue;
    if (w.state === 'serving') {
      s.serving++;
      s.concurrency += w.concurrency;
      s.p99Ms = Math.max(s.p99Ms, w.p99Ms);
    }
    s.inFlight += w.inFlight;
    s.live++;
    s.loopDelayMs = Math.max(s.loopDelayMs, w.loopDelayMs);
    s.rssBytes += w.rssBytes;
    s.p50Sum += w.p50Ms;
    s.callsPerSec += w.callsPerSec;
    s.weighted += w.p50Ms * w.callsPerSec;
    for (const code in w.errorsPerSec) s.errorsPerSec[code] = (s.errorsPerSec[code] ?? 0) + w.errorsPerSec[code]!;
  }
  const out: ServiceView[] = [];
  for (const { weighted, p50Sum, live, ...s } of byService.values()) {
    let errors = 0;
    for (const code in s.errorsPerSec) {
      errors += s.errorsPerSec[code]!;
      s.errorsPerSec[code] = round(s.errorsPerSec[code]!);
    }
    s.errorRate = s.callsPerSec > 0 ? Math.round((Math.min(errors, s.callsPerSec) / s.callsPerSec) * 10_000) / 10_000 : 0;
    // Without calls, the plain mean of what the workers last reported.
    s.p50Ms = round(s.callsPerSec > 0 ? weighted / s.callsPerSec : live > 0 ? p50Sum / live : 0);
    s.callsPerSec = round(s.callsPerSec);
    out.push(s);
  }
  return out.sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0));
}

export class ServiceHistories {
  readonly #histories = new Map<string, Record<keyof ServiceHistory, History>>();

  sample(services: ServiceView[]): void {
    for (const s of services) {
      let h = this.#histories.get(s.service);
      if (h === undefined) {
        if (this.#histories.size >= MAX_SERVICES) continue;
        const n = () => new History(SERVICE_HISTORY_SAMPLES);
        h = { callsPerSec: n(), errorRate: n(), p99Ms: n(), inFlight: n(), loopDelayMs: n(), rssMb: n() };
        this.#histories.set(s.service, h);
      }
      h.callsPerSec.push(s.callsPerSec);
      h.errorRate.push(s.errorRate);
      h.p99Ms.push(s.p99Ms);
      h.inFlight.push(s.inFlight);
      h.loopDelayMs.push(s.loopDelayMs);
      h.rssMb.push(s.rssBytes / 1_048_576);
    }
    const present = new Set(services.map((s) => s.service));
    for (const name of this.#histories.keys()) if (!present.has(name)) this.#histories.delete(name);
  }

  toJSON(): Record<string, ServiceHistory> {
    const out: Record<string, ServiceHistory> = {};
    for (const [name, h] of this.#histories) {
      out[name] = {
        callsPerSec: h.callsPerSec.toArray(),
        errorRate: h.errorRate.toArray(),
        p99Ms: h.p99Ms.toArray(),
        inFlight: h.inFlight.toArray(),
        loopDelayMs: h.loopDelayMs.toArray(),
        rssMb: h.rssMb.toArray(),
      };
    }
    return out;
  }
}
