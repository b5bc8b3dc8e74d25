/**
 * Worker losses the supervisor announces. For each service this client calls (at most
 * {@link MAX_WATCHED_SERVICES}, subscribed on first use), the client hears `lost` events on
 * `<prefix>._evt.<service>`: the supervisor's verdict on a silent or frozen worker, or a broker
 * disconnect it relays. The calls that worker held end at once instead of at their deadlines.
 */
import type { NatsConnection, Subscription } from 'nats';
import { decodeChecked } from '../protocol/codec.js';
import type { MsgpackLimits } from '../protocol/msgpack-guard.js';
import { eventSubject } from '../protocol/subjects.js';
import { checkSupervisorEvent, type SupervisorEvent } from '../protocol/supervisor-envelopes.js';

/** Services whose loss events one client follows; calls to services beyond it rely on probes. */
export const MAX_WATCHED_SERVICES = 256;

export class LossWatch {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #limits: MsgpackLimits;
  readonly #onLost: (service: string, workerId: string) => void;
  readonly #subs = new Map<string, Subscription>();

  constructor(nc: NatsConnection, prefix: string, limits: MsgpackLimits, onLost: (service: string, workerId: string) => void) {
    this.#nc = nc;
    this.#prefix = prefix;
    this.#limits = limits;
    this.#onLost = onLost;
  }

  /** Follows the loss events of `service` from now on (once; bounded). */
  watch(service: string): void {
    if (this.#subs.has(service) || this.#subs.size >= MAX_WATCHED_SERVICES || this.#nc.isClosed()) return;
    const sub = this.#nc.subscribe(eventSubject(this.#prefix, service), {
      callback: (err, msg) => {
        if (err === null) this.#onEvent(service, msg.data);
      },
    });
    this.#subs.set(service, sub);
  }

  /** Hostile bytes and other kinds of events are ignored. */
  #onEvent(service: string, data: Uint8Array): void {
    let value: unknown;
    try {
      value = decodeChecked(data, this.#limits);
    } catch {
      return;
    }
    if (checkSupervisorEvent(value) !== null) return;
    const event = value as SupervisorEvent;
    if (event.kind !== 'lost' || event.workerId === undefined || event.service !== service) return;
    this.#onLost(service, event.workerId);
  }

  close(): void {
    for (const sub of this.#subs.values()) sub.unsubscribe();
    this.#subs.clear();
  }
}
