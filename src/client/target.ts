import { checkName, requestSubject } from '../protocol/subjects.js';

/** A parsed `'service.method'` call target. */
export interface Target {
  readonly service: string;
  readonly method: string;
  readonly subject: string;
}

/** Parses and validates `'service.method'`; throws a TypeError naming what is wrong. */
export function parseTarget(prefix: string, target: string): Target {
  const dot = typeof target === 'string' ? target.indexOf('.') : -1;
  if (dot < 0) throw new TypeError(`target must be "service.method", received ${JSON.stringify(target)}`);
  const service = target.slice(0, dot);
  const method = target.slice(dot + 1);
  const reason = checkName(service) ?? checkName(method);
  if (reason !== null) throw new TypeError(`target ${JSON.stringify(target)}: service and method names ${reason}`);
  return { service, method, subject: requestSubject(prefix, service, method) };
}
