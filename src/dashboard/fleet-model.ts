/**
 * Everything the dashboard knows, fed by the bus reader and read by the HTTP server: workers,
 * services, supervisors, decisions, the bus connection and `$SRV` stats. Holds no connection and
 * no timer; every input is already validated.
 */
import type { WorkerHeartbeat } from '../protocol/heartbeat.js';
import type { SupervisorEvent, SupervisorHeartbeat } from '../protocol/supervisor-envelopes.js';
import type { StatusReply } from '../supervisor/status.js';
import { EventLog } from './event-log.js';
import { aggregateServices, ServiceHistories } from './services.js';
import { SupervisorWatch } from './supervisor-watch.js';
import { FLEET_VIEW_VERSION, type BusView, type EventView, type FleetHistory, type FleetView, type RejectedCounts, type SrvEndpointView } from './view.js';
import { WorkerTable } from './worker-table.js';

export interface FleetModelOptions {
  maxWorkers: number;
  sampleMs: number;
  actions: boolean;
}

export class FleetModel {
  readonly #workers: WorkerTable;
  readonly #supervisors: SupervisorWatch;
  readonly #serviceHistories = new ServiceHistories();
  readonly #events = new EventLog();
  readonly #options: FleetModelOptions;
  #bus: BusView;
  #srv: SrvEndpointView[] = [];
  readonly #rejected: RejectedCounts = { heartbeat: 0, supervisor: 0, event: 0, status: 0 };
  #sample = 0;

  constructor(options: FleetModelOptions, now: number) {
    this.#options = options;
    this.#workers = new WorkerTable(options.maxWorkers);
    this.#supervisors = new SupervisorWatch(now);
    this.#bus = { connected: false, server: null, since: now };
  }

  heartbeat(hb: WorkerHeartbeat, now: number): void {
    this.#workers.heartbeat(hb, now);
  }

  supervisorHeartbeat(hb: SupervisorHeartbeat, now: number): void {
    this.#supervisors.heartbeat(hb, now);
  }

  statusReply(reply: StatusReply, now: number): void {
    this.#supervisors.statusReply(reply, now);
    this.#workers.status(
      reply.services.flatMap((s) => s.workers.map((w) => ({ ...w, service: s.service }))),
      now,
    );
  }

  statusFailed(reason: string): void {
    this.#supervisors.statusFailed(reason);
  }

  event(e: SupervisorEvent): EventView {
    if (e.kind === 'drain' && e.workerId !== undefined) this.#workers.drainEvent(e.workerId, e.reason);
    return this.#events.add(e);
  }

  bus(connected: boolean, server: string | null, now: number): void {
    if (connected !== this.#bus.connected) this.#bus = { connected, server, since: now };
    else this.#bus = { ...this.#bus, server };
  }

  /** Counts a message dropped as invalid: a hostile or broken publisher shows as a count, never in the page. */
  rejected(kind: keyof RejectedCounts): void {
    this.#rejected[kind]++;
  }

  supervisorLeading(now: number): boolean {
    return this.#supervisors.view(now).state === 'leading';
  }

  srv(endpoints: SrvEndpointView[]): void {
    this.#srv = endpoints;
  }

  events(since?: number, limit?: number): EventView[] {
    return this.#events.list(since, limit);
  }

  view(now: number): FleetView {
    const supervisor = this.#supervisors.view(now);
    // A supervisor that stopped answering leaves no verdicts behind that look current.
    if (this.#supervisors.liveStatus(now) === null) this.#workers.clearStatus();
    const workers = this.#workers.views(now);
    const services = aggregateServices(workers, (s) => this.#supervisors.deadlineOf(s, now));
    return {
      v: FLEET_VIEW_VERSION,
      ts: now,
      bus: this.#bus,
      supervisor,
      services,
      workers,
      srv: supervisor.state === 'leading' ? [] : this.#srv,
      dropped: this.#workers.dropped,
      rejected: { ...this.#rejected },
      sampleMs: this.#options.sampleMs,
      sample: this.#sample,
      actions: this.#options.actions,
    };
  }

  /** Appends one point to every history; returns the view the point was taken from. */
  sample(now: number): FleetView {
    this.#sample++;
    const view = this.view(now);
    this.#workers.sample(view.workers);
    this.#serviceHistories.sample(view.services);
    return view;
  }

  history(): FleetHistory {
    return { workers: this.#workers.histories(), services: this.#serviceHistories.toJSON() };
  }
}
