/**
 * The JSON event lines test/fixtures/resilient.ts prints, read from worker processes' stdout.
 */
import type { ChildHandle } from './processes.js';

export interface WorkerEvent {
  event: string;
  pid: number;
  service: string;
  at: number;
  id?: string;
  attempt?: number;
  code?: string;
  [key: string]: unknown;
}

export function eventsOf(handles: ChildHandle[], name?: string): WorkerEvent[] {
  const out: WorkerEvent[] = [];
  for (const h of handles) {
    for (const line of h.lines) {
      if (!line.startsWith('{"event"')) continue;
      const e = JSON.parse(line) as WorkerEvent;
      if (name === undefined || e.event === name) out.push(e);
    }
  }
  return out;
}
