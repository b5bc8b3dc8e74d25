/**
 * Reads the fleet from the bus into the model: worker and supervisor heartbeats, supervisor
 * events, the leading supervisor's status (polled), `$SRV` stats while no supervisor leads, and the
 * connection's own state. The bus is hostile: every message is bounded in size, then decoded with
 * limits, then validated, before the model sees it.
 */
import type { Msg, NatsConnection, Subscription } from 'nats';
import type { Logger } from '../logging/logger.js';
import { requestOnce } from '../connection/request.js';
import { decodeChecked } from '../protocol/codec.js';
import { checkHeartbeat, type WorkerHeartbeat } from '../protocol/heartbeat.js';
import { DEFAULT_MAX_DEPTH } from '../protocol/msgpack-guard.js';
import { heartbeatWildcard, statusSubject, supervisorHeartbeatSubject } from '../protocol/subjects.js';
import { checkStatusReply, checkSupervisorEvent, checkSupervisorHeartbeat, type SupervisorEvent, type SupervisorHeartbeat } from '../protocol/supervisor-envelopes.js';
import type { StatusReply } from '../supervisor/status.js';
import type { FleetModel } from './fleet-model.js';
import { pollSrvStats } from './srv-stats.js';
import { NO_RESPONDERS } from './supervisor-watch.js';
import type { EventView } from './view.js';

/** Heartbeats and events larger than this are dropped unread. */
export const MAX_BUS_MESSAGE_BYTES = 64 * 1024;
/** Status replies larger than this are dropped unread (2,000 workers fit well within it). */
export const MAX_STATUS_BYTES = 4 * 1024 * 1024;
const STATUS_LIMITS = { maxDepth: DEFAULT_MAX_DEPTH, maxElements: 1_000_000 };

export interface BusReaderOptions {
  prefix: string;
  statusEveryMs: number;
  srvEveryMs: number;
  onEvent: (e: EventView) => void;
}

function decode(msg: Msg, maxBytes: number, limits?: typeof STATUS_LIMITS): unknown {
  if (msg.data.length > maxBytes) return undefined;
  try {
    return decodeChecked(msg.data, limits);
  } catch {
    return undefined;
  }
}

export class BusReader {
  readonly #nc: NatsConnection;
  readonly #model: FleetModel;
  readonly #options: BusReaderOptions;
  readonly #log: Logger;
  readonly #subs: Subscription[];
  readonly #timers: NodeJS.Timeout[] = [];
  #statusBusy = false;
  #srvBusy = false;
  #closed = false;

  constructor(nc: NatsConnection, model: FleetModel, options: BusReaderOptions, log: Logger) {
    this.#nc = nc;
    this.#model = model;
    this.#options = options;
    this.#log = log;
    const p = options.prefix;
    model.bus(!nc.isClosed(), nc.getServer(), Date.now());
    this.#subs = [
      nc.subscribe(heartbeatWildcard(p), { callback: (err, msg) => err || this.#onHeartbeat(msg) }),
      nc.subscribe(supervisorHeartbeatSubject(p), { callback: (err, msg) => err || this.#onSupervisor(msg) }),
      nc.subscribe(`${p}._evt.>`, { callback: (err, msg) => err || this.#onEvent(msg) }),
    ];
    this.#timers.push(setInterval(() => void this.#pollStatus(), options.statusEveryMs));
    this.#timers.push(setInterval(() => void this.#pollSrv(), options.srvEveryMs));
    void this.#pollStatus();
    void this.#watchConnection();
  }

  #onHeartbeat(msg: Msg): void {
    const value = decode(msg, MAX_BUS_MESSAGE_BYTES);
    if (checkHeartbeat(value) !== null) return this.#model.rejected('heartbeat');
    this.#model.heartbeat(value as WorkerHeartbeat, Date.now());
  }

  #onSupervisor(msg: Msg): void {
    const value = decode(msg, MAX_BUS_MESSAGE_BYTES);
    if (checkSupervisorHeartbeat(value) !== null) return this.#model.rejected('supervisor');
    this.#model.supervisorHeartbeat(value as SupervisorHeartbeat, Date.now());
  }

  #onEvent(msg: Msg): void {
    const value = decode(msg, MAX_BUS_MESSAGE_BYTES);
    if (checkSupervisorEvent(value) !== null) return this.#model.rejected('event');
    this.#options.onEvent(this.#model.event(value as SupervisorEvent));
  }

  async #pollStatus(): Promise<void> {
    if (this.#statusBusy || this.#closed || this.#nc.isClosed()) return;
    this.#statusBusy = true;
    try {
      const reply = await requestOnce(this.#nc, statusSubject(this.#options.prefix), new Uint8Array(0), this.#options.statusEveryMs);
      const value = decode(reply, MAX_STATUS_BYTES, STATUS_LIMITS);
      if (checkStatusReply(value) !== null || !Array.isArray((value as StatusReply).services)) {
        this.#model.rejected('status');
        this.#model.statusFailed('invalid status reply');
      } else {
        this.#model.statusReply(validStatus(value as StatusReply), Date.now());
      }
    } catch (err) {
      const code = (err as { code?: string }).code;
      this.#model.statusFailed(code === 'NO_RESPONDERS' ? NO_RESPONDERS : code === 'TIMEOUT' ? 'no reply in time' : (err as Error).message);
    } finally {
      this.#statusBusy = false;
    }
  }

  async #pollSrv(): Promise<void> {
    if (this.#srvBusy || this.#closed || this.#nc.isClosed()) return;
    if (this.#model.supervisorLeading(Date.now())) return;
    this.#srvBusy = true;
    try {
      this.#model.srv(await pollSrvStats(this.#nc, Math.min(1_000, this.#options.srvEveryMs / 2)));
    } catch (err) {
      this.#log.debug({ err }, '$SRV.STATS poll failed');
    } finally {
      this.#srvBusy = false;
    }
  }

  async #watchConnection(): Promise<void> {
    for await (const s of this.#nc.status()) {
      if (s.type === 'disconnect') this.#model.bus(false, null, Date.now());
      else if (s.type === 'reconnect') this.#model.bus(true, this.#nc.getServer(), Date.now());
    }
    this.#model.bus(false, null, Date.now());
  }

  close(): void {
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    for (const s of this.#subs) s.unsubscribe();
  }
}

/** Keeps only the workers of a status reply whose shape the page relies on. */
function validStatus(reply: StatusReply): StatusReply {
  const services = reply.services
    .filter((s) => typeof s?.service === 'string' && Array.isArray(s.workers))
    .map((s) => ({
      ...s,
      workers: s.workers.filter((w) => typeof w?.id === 'string' && typeof w.state === 'string' && typeof w.heartbeatAgeMs === 'number' && Array.isArray(w.reasons)),
    }));
  return { ...reply, services };
}
