/** Discovery answers as tables for people (`natsrpc ls`, `info`, `stats`); text from the bus escaped. */
import { escapeControl } from '../escape.js';
import { textTable } from '../text-table.js';
import type { InfoAnswer, PingAnswer, StatsAnswer } from './answers.js';

const state = (a: PingAnswer) => a.metadata['natsrpc.state'] ?? '-';
const host = (a: PingAnswer) => a.metadata['natsrpc.host'] ?? '-';
/** How the worker checks control commands; loud when it obeys unsigned ones in production. */
const control = (a: PingAnswer) =>
  a.metadata['natsrpc.warning'] === 'unsigned-control-in-production' ? 'UNSIGNED IN PRODUCTION' : (a.metadata['natsrpc.control'] ?? '-');
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function renderList(answers: PingAnswer[]): string {
  if (answers.length === 0) return 'no services answered';
  const services = new Set(answers.map((a) => a.name)).size;
  const table = textTable(['SERVICE', 'WORKER', 'VERSION', 'STATE', 'HOST', 'CONTROL'], answers.map((a) => [a.name, a.id, a.version, state(a), host(a), control(a)]));
  return `${table}\n\n${plural(answers.length, 'worker')} of ${plural(services, 'service')}`;
}

export function renderInfo(service: string, answers: InfoAnswer[]): string {
  const versions = [...new Set(answers.map((a) => a.version))].join(', ');
  const out = [`service ${escapeControl(service)}: ${plural(answers.length, 'worker')}, version ${escapeControl(versions)}`];
  const descriptions = [...new Set(answers.map((a) => a.description).filter((d) => d !== ''))];
  if (descriptions.length > 0) out.push(escapeControl(descriptions.join(' / ')));
  out.push('', textTable(['WORKER', 'VERSION', 'STATE', 'HOST'], answers.map((a) => [a.id, a.version, state(a), host(a)])));
  const endpoints = new Map<string, { subject: string; queue: string; workers: number }>();
  for (const a of answers) {
    for (const e of a.endpoints) {
      const key = `${e.name}\u0000${e.subject}\u0000${e.queue_group}`;
      const seen = endpoints.get(key);
      if (seen) seen.workers++;
      else endpoints.set(key, { subject: e.subject, queue: e.queue_group, workers: 1 });
    }
  }
  const rows = [...endpoints.entries()].map(([key, e]) => [key.split('\u0000')[0]!, e.subject, e.queue, String(e.workers)]);
  out.push('', textTable(['ENDPOINT', 'SUBJECT', 'QUEUE GROUP', 'WORKERS'], rows));
  return out.join('\n');
}

const NS_PER_MS = 1_000_000;

export function renderStats(answers: StatsAnswer[]): string {
  if (answers.length === 0) return 'no services answered';
  const rows = answers.flatMap((a) =>
    a.endpoints.map((e) => [
      a.name,
      a.id,
      e.name,
      String(e.num_requests),
      String(e.num_errors),
      (e.average_processing_time / NS_PER_MS).toFixed(2),
      e.last_error === '' ? '-' : e.last_error,
    ]),
  );
  return textTable(['SERVICE', 'WORKER', 'ENDPOINT', 'REQUESTS', 'ERRORS', 'AVG MS', 'LAST ERROR'], rows);
}
