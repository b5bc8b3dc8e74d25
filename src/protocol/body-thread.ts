/**
 * Assembly of large bodies on a second thread. A receiver's thread is the slowest stage of a
 * transfer (it parses every chunk message), while the broker and the sender leave room on another
 * core; writing a chunk into a fresh body buffer (page faults) and its CRC-32 cost that thread about
 * as much again. So for a body of at least {@link BODY_THREAD_MIN_BYTES}, the receiving thread only
 * copies each chunk, hot in cache, into a reused shared ring; one assembly thread per process
 * allocates the body, copies each slot into it at its offset and folds it into the CRC-32, and at
 * the end moves the body's memory back (transferred, not copied) with its CRC-32. When the ring is
 * full, a chunk goes to the thread as a copy of its own. The bytes and the CRC-32 are those the
 * receiving thread would have produced (docs/protocol.md, *Large bodies*).
 */
import { Worker } from 'node:worker_threads';

/** Bodies shorter than this are assembled on the receiving thread (a hand-off is not worth it). */
export const BODY_THREAD_MIN_BYTES = 4 * 1024 * 1024;
/** Bytes of one ring slot: a chunk is handed to the thread in pieces of at most this. */
const SLOT_BYTES = 1024 * 1024;
/** Slots in the ring (its memory, SLOTS × SLOT_BYTES, is allocated once per process, with the thread). */
const SLOTS = 8;

/** Messages to the thread: [OPEN, id, bytes], [SLOT, id, slot, offset, length], [COPY, id, offset, bytes], [END, id], [DROP, id]. */
const OPEN = 0;
const SLOT = 1;
const COPY = 2;
const END = 3;
const DROP = 4;

/**
 * The thread's code (CommonJS, run from this string so that it needs no file of its own). It
 * answers END with [id, body's ArrayBuffer (transferred) or null when it could not be allocated, crc].
 */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { crc32 } = require('node:zlib');
const ring = new Uint8Array(workerData.ring);
const busy = new Int32Array(workerData.busy);
const bodies = new Map();
function put(id, offset, bytes) {
  const b = bodies.get(id);
  if (b === undefined || b === null) return;
  b.body.set(bytes, offset);
  b.crc = crc32(bytes, b.crc);
}
parentPort.on('message', (m) => {
  switch (m[0]) {
    case ${OPEN}:
      try { bodies.set(m[1], { body: new Uint8Array(m[2]), crc: 0 }); } catch { bodies.set(m[1], null); }
      break;
    case ${SLOT}: {
      const from = m[2] * ${SLOT_BYTES};
      put(m[1], m[3], ring.subarray(from, from + m[4]));
      Atomics.store(busy, m[2], 0);
      break;
    }
    case ${COPY}:
      put(m[1], m[2], m[3]);
      break;
    case ${END}: {
      const b = bodies.get(m[1]);
      bodies.delete(m[1]);
      if (b) parentPort.postMessage([m[1], b.body.buffer, b.crc], [b.body.buffer]);
      else parentPort.postMessage([m[1], null, 0]);
      break;
    }
    case ${DROP}:
      bodies.delete(m[1]);
      break;
  }
});`;

/** A body assembled by the thread, with its CRC-32. */
export interface AssembledBody {
  readonly body: Uint8Array;
  readonly crc: number;
}

interface Ending {
  resolve(body: AssembledBody): void;
  reject(err: Error): void;
}

/** The process's assembly thread and the ring of shared slots it copies from. */
class AssemblyThread {
  readonly #ring = new Uint8Array(new SharedArrayBuffer(SLOTS * SLOT_BYTES));
  /** 1 while a slot holds a piece the thread has not copied yet; the thread sets it back to 0. */
  readonly #busy = new Int32Array(new SharedArrayBuffer(SLOTS * 4));
  readonly #ending = new Map<number, Ending>();
  #next = 0;
  #id = 0;
  #worker: Worker | undefined;

  constructor() {
    const worker = new Worker(THREAD_SOURCE, { eval: true, workerData: { ring: this.#ring.buffer, busy: this.#busy.buffer } });
    worker.on('message', ([id, buffer, crc]: [number, ArrayBuffer | null, number]) => this.#ended(id, buffer, crc));
    const gone = () => this.#gone();
    worker.once('error', gone);
    worker.once('exit', gone);
    worker.unref(); // after the listeners, which would ref it: only a body being ended keeps the process alive
    this.#worker = worker;
  }

  get alive(): boolean {
    return this.#worker !== undefined;
  }

  /** Starts a body of `bytes`; its id. */
  open(bytes: number): number {
    const id = ++this.#id;
    this.#worker?.postMessage([OPEN, id, bytes]);
    return id;
  }

  /** Bytes `offset .. offset + data.length` of body `id`. */
  put(id: number, offset: number, data: Uint8Array): void {
    const worker = this.#worker;
    if (worker === undefined) return;
    for (let p = 0; p < data.length; p += SLOT_BYTES) {
      const piece = data.length <= SLOT_BYTES ? data : data.subarray(p, p + SLOT_BYTES);
      const slot = this.#next;
      if (Atomics.load(this.#busy, slot) === 0) {
        this.#next = (slot + 1) % SLOTS;
        this.#busy[slot] = 1;
        this.#ring.set(piece, slot * SLOT_BYTES);
        worker.postMessage([SLOT, id, slot, offset + p, piece.length]);
      } else {
        const copy = new Uint8Array(piece); // the ring is full: a copy of its own, moved to the thread
        worker.postMessage([COPY, id, offset + p, copy], [copy.buffer]);
      }
    }
  }

  /** Body `id` once all of it was put: its bytes and CRC-32. */
  end(id: number): Promise<AssembledBody> {
    const worker = this.#worker;
    if (worker === undefined) return Promise.reject(new Error('the body assembly thread stopped'));
    worker.postMessage([END, id]);
    if (this.#ending.size === 0) worker.ref();
    return new Promise((resolve, reject) => this.#ending.set(id, { resolve, reject }));
  }

  /** Forgets body `id` (its transfer ended early). */
  drop(id: number): void {
    this.#worker?.postMessage([DROP, id]);
  }

  #ended(id: number, buffer: ArrayBuffer | null, crc: number): void {
    const ending = this.#ending.get(id);
    if (ending === undefined) return;
    this.#ending.delete(id);
    if (this.#ending.size === 0) this.#worker?.unref();
    if (buffer === null) ending.reject(new Error('the body assembly thread could not allocate the body'));
    else ending.resolve({ body: new Uint8Array(buffer), crc });
  }

  #gone(): void {
    this.#worker = undefined;
    thread = null; // bodies are assembled on the receiving thread from now on
    for (const ending of this.#ending.values()) ending.reject(new Error('the body assembly thread stopped'));
    this.#ending.clear();
  }
}

let thread: AssemblyThread | null | undefined;

/** The process's assembly thread, started on first use; null when none can run here. */
function assemblyThread(): AssemblyThread | null {
  if (thread === undefined) {
    try {
      thread = new AssemblyThread();
    } catch {
      thread = null;
    }
  }
  return thread;
}

/** One body being assembled on the thread. */
export class ThreadedBody {
  readonly #thread: AssemblyThread;
  readonly #id: number;
  #open = true;

  /** A body of `bytes` on the assembly thread; null when it is too short for one or no thread can run. */
  static open(bytes: number): ThreadedBody | null {
    const t = bytes >= BODY_THREAD_MIN_BYTES ? assemblyThread() : null;
    return t === null ? null : new ThreadedBody(t, t.open(bytes));
  }

  private constructor(t: AssemblyThread, id: number) {
    this.#thread = t;
    this.#id = id;
  }

  /** Whether the thread still holds the body (it stops only on a fatal error). */
  get alive(): boolean {
    return this.#thread.alive;
  }

  put(offset: number, data: Uint8Array): void {
    this.#thread.put(this.#id, offset, data);
  }

  /** The body and its CRC-32, once all its bytes were put. */
  end(): Promise<AssembledBody> {
    this.#open = false;
    return this.#thread.end(this.#id);
  }

  /** Frees the body on the thread (idempotent; nothing after {@link end}). */
  drop(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#thread.drop(this.#id);
  }
}
