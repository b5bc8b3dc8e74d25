/**
 * The bodies' checksum alone: the CRC-32 of a 50 MB body in the chunks natsrpc sends (1 MB
 * max_payload), by @node-rs/crc32's native binding and by `zlib.crc32` (src/protocol/crc32.ts picks
 * the first when it loads), alternated, with each one's wall and CPU time per body. Not a test.
 *
 *   node --import tsx bench/crc32.ts [--mb 50] [--rounds 5]
 */
import { randomFillSync } from 'node:crypto';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { chunkBytes, DEFAULT_MAX_PAYLOAD_BYTES } from '../src/protocol/body.js';
import { pickCrc32, zlibCrc32, type Crc32 } from '../src/protocol/crc32.js';

const { values } = parseArgs({ options: { mb: { type: 'string' }, rounds: { type: 'string' } } });
const BYTES = Number(values.mb ?? 50) * 1024 * 1024;
const ROUNDS = Number(values.rounds ?? 5);
const CHUNK = chunkBytes(DEFAULT_MAX_PAYLOAD_BYTES);
const body = randomFillSync(new Uint8Array(BYTES));
const native = pickCrc32();
if (native === zlibCrc32) console.log('@node-rs/crc32 did not load here: both rows are zlib.crc32');

/** `[crc, wall ms, cpu ms]` of one pass over the body, chunk by chunk. */
function pass(f: Crc32): [number, number, number] {
  const cpu = process.cpuUsage();
  const start = performance.now();
  let crc = 0;
  for (let o = 0; o < BYTES; o += CHUNK) crc = f(body.subarray(o, o + CHUNK), crc);
  const wall = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return [crc, wall, (used.user + used.system) / 1000];
}

const rows: Record<string, [number, number][]> = { native: [], zlib: [] };
pass(native);
pass(zlibCrc32);
for (let r = 0; r < ROUNDS; r++) {
  const [a, ...n] = pass(native);
  const [b, ...z] = pass(zlibCrc32);
  if (a !== b) throw new Error(`the two CRC-32s differ: ${a} and ${b}`);
  rows.native!.push(n as [number, number]);
  rows.zlib!.push(z as [number, number]);
}
const range = (xs: number[]) => `${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)}`;
console.log(`CRC-32 of ${BYTES / 1024 / 1024} MB in ${CHUNK}-byte chunks, ${ROUNDS} alternated rounds, load ${loadavg()[0]!.toFixed(1)}`);
for (const [name, xs] of Object.entries(rows)) console.log(`  ${name.padEnd(7)} wall ${range(xs.map((x) => x[0]))} ms, cpu ${range(xs.map((x) => x[1]))} ms`);
