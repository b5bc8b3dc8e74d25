/**
 * The caller's side of a stream's credit (docs/protocol.md, *Streams*): the items that arrived
 * and are not read yet, frame by frame, and the window's accounting: what arrived, what the worker
 * was granted, and what the loop read since the last grant. Pure: the stream call sends the credit.
 */
import type { StreamWindow } from '../protocol/envelope.js';

interface Frame {
  readonly items: unknown[];
  pos: number;
  readonly bytes: number;
}

export class StreamCredit {
  readonly #frames: Frame[] = [];
  /** Runs each time the loop has read a whole frame: credit may be due. */
  readonly #onFrameRead: () => void;
  #window: StreamWindow = { items: 0, bytes: 0 };
  #received = 0;
  #receivedBytes = 0;
  #grantedItems = 0;
  #grantedBytes = 0;
  #readItems = 0;
  #readBytes = 0;

  constructor(onFrameRead: () => void) {
    this.#onFrameRead = onFrameRead;
  }

  /** The request went out granting `window`. */
  open(window: StreamWindow): void {
    this.#window = window;
    this.#grantedItems = window.items;
    this.#grantedBytes = window.bytes;
  }

  /** Items arrived so far. */
  get received(): number {
    return this.#received;
  }

  /** Items read since the last grant. */
  get readItems(): number {
    return this.#readItems;
  }

  /** Bytes of frames read since the last grant. */
  get readBytes(): number {
    return this.#readBytes;
  }

  /** Whether an item is waiting to be read. */
  get hasItem(): boolean {
    return this.#frames.length > 0;
  }

  /** Whether half a window of items or bytes has been read since the last grant. */
  get due(): boolean {
    return this.#readItems * 2 >= this.#window.items || this.#readBytes * 2 >= this.#window.bytes;
  }

  /**
   * Takes in a frame of `bytes` bytes holding `items` (at least one); false, taking nothing, when
   * it goes beyond the credit granted. Before this frame the worker had to have credit: it may
   * overrun the byte credit by its last frame only.
   */
  add(items: unknown[], bytes: number): boolean {
    if (this.#received + items.length > this.#grantedItems || this.#receivedBytes >= this.#grantedBytes) return false;
    this.#received += items.length;
    this.#receivedBytes += bytes;
    this.#frames.push({ items, pos: 0, bytes });
    return true;
  }

  /** The next item; only when {@link hasItem}. */
  take(): unknown {
    const frame = this.#frames[0]!;
    const item = frame.items[frame.pos++];
    if (frame.pos === frame.items.length) {
      this.#frames.shift();
      this.#readItems += frame.items.length;
      this.#readBytes += frame.bytes;
      this.#onFrameRead();
    }
    return item;
  }

  /** Drops the items not read yet. */
  drop(): void {
    this.#frames.length = 0;
  }

  /** Credit for what was read went out to the worker. */
  granted(): void {
    this.#grantedItems += this.#readItems;
    this.#grantedBytes += this.#readBytes;
    this.#readItems = 0;
    this.#readBytes = 0;
  }
}
