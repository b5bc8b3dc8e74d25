/**
 * Subject names. Requests go to `<prefix>.<service>.<method>`; everything the framework itself
 * publishes lives under `<prefix>._<kind>...`, which no service can collide with because service
 * names cannot start with an underscore.
 */

export const DEFAULT_PREFIX = 'rpc';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const PREFIX = /^[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64}){0,7}$/;

/** Returns `null` when `name` is a valid service or method name, else the reason. */
export function checkName(name: unknown): string | null {
  if (typeof name !== 'string') return 'must be a string';
  if (!NAME.test(name)) {
    return 'must be 1-64 characters of letters, digits, "_" or "-", not starting with "_" or "-" (no dots, wildcards or spaces)';
  }
  return null;
}

/** Throws a TypeError naming `what` when `name` is not a valid service or method name. */
export function assertName(what: string, name: unknown): asserts name is string {
  const reason = checkName(name);
  if (reason) throw new TypeError(`${what} ${reason}, received ${JSON.stringify(name)}`);
}

/** Throws a TypeError when `prefix` is not a valid subject prefix. */
export function assertPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw new TypeError(`prefix must be dot-separated tokens of letters, digits, "_" or "-", received ${JSON.stringify(prefix)}`);
  }
}

/** `<prefix>.<service>.<method>`: where a caller sends a request. */
export function requestSubject(prefix: string, service: string, method: string): string {
  return `${prefix}.${service}.${method}`;
}

/** `<prefix>.<service>.*`: what every worker of a service subscribes to. */
export function serviceWildcard(prefix: string, service: string): string {
  return `${prefix}.${service}.*`;
}

/** The queue group of a service's workers: the service name itself. */
export function queueGroup(service: string): string {
  return service;
}

/**
 * `<prefix>._ping.<service>.<workerId>`: a worker answers any request here at once; see
 * docs/protocol.md. It names the service so that broker permissions can confine each service's
 * identity to its own workers' probes.
 */
export function pingSubject(prefix: string, service: string, workerId: string): string {
  return `${prefix}._ping.${service}.${workerId}`;
}

/** `<prefix>._cancel.<service>`: every worker of a service hears the cancels of its requests. */
export function cancelSubject(prefix: string, service: string): string {
  return `${prefix}._cancel.${service}`;
}

/** `<prefix>._hb.<service>.<workerId>`: where a worker publishes its heartbeats. */
export function heartbeatSubject(prefix: string, service: string, workerId: string): string {
  return `${prefix}._hb.${service}.${workerId}`;
}

/** `<prefix>._hb.>`: every worker heartbeat, for the supervisor. */
export function heartbeatWildcard(prefix: string): string {
  return `${prefix}._hb.>`;
}

/** `<prefix>._ctl.<service>.<workerId>`: a worker's control subject (request/reply), confined per service like pings. */
export function controlSubject(prefix: string, service: string, workerId: string): string {
  return `${prefix}._ctl.${service}.${workerId}`;
}

/** The service a natsrpc worker id names (`<service>-<suffix>`, the suffix without `-`), or null. */
export function serviceOfWorkerId(id: string): string | null {
  const dash = id.lastIndexOf('-');
  const service = id.slice(0, Math.max(0, dash));
  return dash > 0 && dash < id.length - 1 && checkName(service) === null ? service : null;
}

/** `<prefix>._sup.hb`: supervisor heartbeats, carrying the policy and the election state. */
export function supervisorHeartbeatSubject(prefix: string): string {
  return `${prefix}._sup.hb`;
}

/** `<prefix>._sup.status`: fleet status, request/reply, answered by the leading supervisor. */
export function statusSubject(prefix: string): string {
  return `${prefix}._sup.status`;
}

/** `<prefix>._evt.<service>`: the supervisor's decisions about a service's workers. */
export function eventSubject(prefix: string, service: string): string {
  return `${prefix}._evt.${service}`;
}

/** Worker ids are subject tokens: `<service>-<hex>` by default. */
export function checkWorkerId(id: unknown): string | null {
  if (typeof id !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(id)) return 'invalid worker id';
  return null;
}

/**
 * `<prefix>._credit.<service>.<workerId>`: where callers grant a worker credit for the streams it
 * serves. The service in it lets broker permissions give each service's workers their own credit
 * only (`<prefix>._credit.<service>.*`), like bodies and probes.
 */
export function creditSubject(prefix: string, service: string, workerId: string): string {
  return `${prefix}._credit.${service}.${workerId}`;
}

/**
 * True when `token` is the last token of `subject` (`<anything>.<token>`): how a worker checks that
 * a cancel or credit names the reply subject of the request it holds. Reply tokens are random and
 * known only to the caller, the worker that took the request and the broker (docs/protocol.md,
 * *Reply subjects*).
 */
export function isLastToken(subject: string, token: string): boolean {
  const at = subject.length - token.length;
  return token.length > 0 && at > 0 && subject.charCodeAt(at - 1) === 0x2e && subject.endsWith(token);
}

/**
 * True when `a` and `b` differ in their last token only (two reply subjects of one inbox): where a
 * caller may move a stream or a long call (docs/protocol.md, *Moving the stream*, *Long calls*).
 */
export function sameInbox(a: string, b: string): boolean {
  const dot = b.lastIndexOf('.');
  return dot > 0 && a.length > dot + 1 && a.startsWith(b.slice(0, dot + 1)) && a.indexOf('.', dot + 1) === -1;
}

/**
 * `<prefix>._body.<service>.<workerId>`: where a worker takes the chunks of request bodies and the
 * pulls of reply bodies (docs/protocol.md, *Large bodies*). The service in it lets broker
 * permissions give each service's workers their own bodies only (`<prefix>._body.<service>.*`).
 */
export function bodySubject(prefix: string, service: string, workerId: string): string {
  return `${prefix}._body.${service}.${workerId}`;
}
