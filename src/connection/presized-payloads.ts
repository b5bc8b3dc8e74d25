/**
 * A message longer than one socket read (64 KiB) is reassembled by the `nats` client's parser in a
 * buffer that starts as the bytes of its first read and doubles (2 × capacity + the next read) as
 * the rest arrives: a 1 MB body chunk costs 1.7-3.7 MB of ArrayBuffers, depending on where it
 * starts in a read, and copies of all of them. Those ArrayBuffers are what V8 counts as external
 * memory, and a 50 MB body made the receiving process run about one more full collection than
 * plain `nats` with the same chunks (the chunks' header moved where they start in a read).
 *
 * On natsrpc's own connections, the parser's reassembly buffer is allocated once at the message's
 * declared size (its control line says it) as soon as it is created, so the rest of the message is
 * copied in without growing. Bounded: only a size within the broker's `max_payload` (from its
 * INFO) is allocated up front; anything else is left to the client as it was. This reaches into
 * the client's internals (nats 2.x: `protocol.parser`, its `msgBuf` DenoBuffer and `ma.size`); when
 * they are not there, nothing changes and the client works as it always did.
 */
import type { NatsConnection } from 'nats';

/** The parts of nats.js's DenoBuffer this touches. */
interface ReassemblyBuffer {
  _buf: Uint8Array;
  _off: number;
}

interface Parser {
  parse(buf: Uint8Array): void;
  msgBuf?: ReassemblyBuffer;
  ma?: { size?: number };
}

interface Protocol {
  parser?: Parser;
  info?: { max_payload?: number };
}

const WRAPPED = Symbol('natsrpc.presized');

function isParser(value: unknown): value is Parser {
  return typeof value === 'object' && value !== null && typeof (value as Parser).parse === 'function';
}

/** Moves a just-created reassembly buffer into one of `size` bytes, the message's declared length. */
function presize(buffer: ReassemblyBuffer, size: number): void {
  const { _buf: held, _off: off } = buffer;
  if (!(held instanceof Uint8Array) || off !== 0 || held.buffer.byteLength >= size || held.length > size) return;
  const whole = new Uint8Array(size);
  whole.set(held);
  buffer._buf = new Uint8Array(whole.buffer, 0, held.length);
}

function wrap(parser: Parser, protocol: Protocol): Parser {
  if ((parser as { [WRAPPED]?: true })[WRAPPED]) return parser;
  const parse = parser.parse;
  parser.parse = function (this: Parser, buf: Uint8Array): void {
    const before = this.msgBuf;
    parse.call(this, buf);
    const after = this.msgBuf;
    if (after === undefined || after === before) return;
    const size = this.ma?.size;
    const max = protocol.info?.max_payload;
    if (typeof size === 'number' && typeof max === 'number' && size <= max) presize(after, size);
  };
  (parser as { [WRAPPED]?: true })[WRAPPED] = true;
  return parser;
}

/**
 * Makes `nc`'s parser (and the one it makes after each reconnect) allocate a long message's
 * reassembly buffer once at its declared size; false when the client's internals are not as
 * expected (nothing changed then).
 */
export function presizeLongMessages(nc: NatsConnection): boolean {
  const protocol = (nc as unknown as { protocol?: Protocol }).protocol;
  if (typeof protocol !== 'object' || protocol === null || !isParser(protocol.parser)) return false;
  let current = wrap(protocol.parser, protocol);
  Object.defineProperty(protocol, 'parser', {
    configurable: true,
    enumerable: true,
    get: () => current,
    set: (next: unknown) => {
      current = isParser(next) ? wrap(next, protocol) : (next as Parser);
    },
  });
  return true;
}
