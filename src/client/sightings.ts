/**
 * Which workers of each service this client has heard from (acks name them), and when. When an
 * attempt goes unacknowledged for `lostWorker.ackTimeoutMs`, the workers of its service that have
 * been silent as long are probed: a killed worker's probe is answered 503 by the broker, and the
 * calls it held end at once (see docs/protocol.md, *Worker losses*). Bounded per service and in
 * services; what falls out is only probed less.
 */

/** Workers remembered per service. */
export const MAX_WORKERS_PER_SERVICE = 64;
/** Services whose workers are remembered. */
export const MAX_SIGHTED_SERVICES = 256;
/** Silent workers probed at most per suspicion. */
export const MAX_SUSPECT_PROBES = 8;

export class WorkerSightings {
  readonly #byService = new Map<string, Map<string, number>>();
  /** When each service was last suspected, so that one stuck batch of calls probes once. */
  readonly #suspectedAt = new Map<string, number>();

  /** An ack from `workerId` of `service` arrived at `now`. */
  saw(service: string, workerId: string, now: number): void {
    let workers = this.#byService.get(service);
    if (workers === undefined) {
      if (this.#byService.size >= MAX_SIGHTED_SERVICES) return;
      workers = new Map();
      this.#byService.set(service, workers);
    }
    if (!workers.has(workerId) && workers.size >= MAX_WORKERS_PER_SERVICE) {
      // Forget the one heard from longest ago.
      let oldest: string | undefined;
      let oldestAt = Infinity;
      for (const [id, at] of workers) if (at < oldestAt) [oldest, oldestAt] = [id, at];
      workers.delete(oldest!);
    }
    workers.set(workerId, now);
  }

  /** The worker was found lost: it is not probed again. */
  forget(service: string, workerId: string): void {
    this.#byService.get(service)?.delete(workerId);
  }

  /**
   * The workers of `service` to probe because an attempt went unacknowledged for `silenceMs`:
   * those silent at least that long, at most {@link MAX_SUSPECT_PROBES}; none when the service
   * was suspected within the last `silenceMs`.
   */
  suspects(service: string, now: number, silenceMs: number): string[] {
    const last = this.#suspectedAt.get(service);
    if (last !== undefined && now - last < silenceMs) return [];
    if (last === undefined && this.#suspectedAt.size >= MAX_SIGHTED_SERVICES) this.#suspectedAt.clear();
    this.#suspectedAt.set(service, now);
    const out: string[] = [];
    const workers = this.#byService.get(service);
    if (workers === undefined) return out;
    for (const [id, at] of workers) {
      if (now - at >= silenceMs) out.push(id);
      if (out.length >= MAX_SUSPECT_PROBES) break;
    }
    return out;
  }
}
