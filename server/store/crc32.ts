/**
 * CRC-32 (IEEE 802.3, as zlib and gzip compute it) for the checksums of binary store files. node:zlib's native
 * crc32 where the runtime has it (Node 20.15+, 22.2+); a table-driven one otherwise (VS Code's own Node may be
 * older), with the same results.
 */
import zlib from 'node:zlib';

let table: Uint32Array | undefined;

function makeTable(): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}

/** The table-driven CRC-32; exported so a test can check it against zlib's. */
export function crc32Portable(data: Uint8Array, value = 0): number {
  table ??= makeTable();
  let c = ~value >>> 0;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** CRC-32 of `data`, continuing from `value` (the CRC of what came before it). */
export const crc32: (data: Uint8Array, value?: number) => number = native
  ? (data, value = 0) => native(data, value)
  : crc32Portable;
