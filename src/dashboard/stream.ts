/**
 * The live stream (`/api/stream`, server-sent events): a snapshot on connect, then `fleet` at every
 * tick and `event` as each supervisor decision arrives. Each message is serialized once for all
 * clients; a client that cannot keep up is disconnected rather than buffered without bound.
 */
import type { ServerResponse } from 'node:http';

/** Clients streamed to at most. */
export const MAX_STREAM_CLIENTS = 64;
/** A client whose unsent backlog exceeds this is disconnected. */
export const MAX_STREAM_BACKLOG_BYTES = 8 * 1024 * 1024;
/** Tells the browser how soon to reconnect after a drop. */
const RETRY_MS = 1_000;

export class StreamHub {
  readonly #clients = new Set<ServerResponse>();

  get size(): number {
    return this.#clients.size;
  }

  /** Starts streaming to `res` with `first` as its opening messages; false when full. */
  add(res: ServerResponse, first: [event: string, data: unknown][]): boolean {
    if (this.#clients.size >= MAX_STREAM_CLIENTS) return false;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(`retry: ${RETRY_MS}\n\n`);
    for (const [event, data] of first) res.write(frame(event, data));
    this.#clients.add(res);
    res.once('close', () => this.#clients.delete(res));
    return true;
  }

  broadcast(event: string, data: unknown): void {
    if (this.#clients.size === 0) return;
    const text = frame(event, data);
    for (const res of this.#clients) {
      if (res.writableLength > MAX_STREAM_BACKLOG_BYTES) {
        this.#clients.delete(res);
        res.destroy();
        continue;
      }
      res.write(text);
    }
  }

  close(): void {
    for (const res of this.#clients) res.end();
    this.#clients.clear();
  }
}

function frame(event: string, data: unknown): string {
  // JSON has no raw newlines, so one data line carries the whole message.
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
