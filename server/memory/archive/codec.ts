/**
 * The archive file: memories (plain JSON records, metadata and history included) as brotli-compressed
 * newline-delimited JSON behind a small binary header, checksummed so that damage is found before anything is
 * restored. Pure apart from the two file functions at the end; the memory service decides what goes in and when
 * live memories may go (only after writeArchiveFile has returned and the file has been read back and decoded).
 *
 * Layout (integers big-endian):
 *   0   8   magic        0x89 "CREWARC" — the high first byte catches text-mode mangling, as PNG's does
 *   8   2   version      1
 *   10  2   flags        bit 0 STORED: the payload is the NDJSON as is (brotli did not make it smaller, as
 *                        with one short memory); other bits are reserved and refused
 *   12  4   count        records in the payload
 *   16  8   rawLength    bytes of the NDJSON before compression
 *   24  8   payloadLength bytes of the compressed payload
 *   32  4   metaLength   bytes of the meta JSON
 *   36  32  digest       sha256 over bytes [0, 36) ++ meta ++ payload, i.e. everything but the digest itself
 *   68  …   meta         UTF-8 JSON object (policy, crew, created-at: whatever the service records)
 *   …   …   payload      brotli(records.map(JSON.stringify).join('\n')), or that NDJSON itself when STORED
 * The whole file's sha256 (not the digest above) names the file and goes in the archive index: the file can be
 * checked with `sha256sum`, and the index can tell a renamed or swapped file from the one it wrote.
 *
 * Exactness. Records go through JSON.stringify/JSON.parse, which is exact for strings — quotes, brackets, URLs,
 * newlines, emoji, bodies of any size, and lone surrogates too (since ES2019 JSON.stringify writes a lone
 * surrogate as a \udXXX escape, which JSON.parse turns back into the same code unit). A restored string is
 * the same sequence of UTF-16 code units, so it encodes to the same UTF-8 bytes as the original. What JSON cannot
 * carry (undefined, NaN, ±Infinity, -0, BigInt, Dates, Maps, class instances, functions) is refused at encode
 * time with the record and field named, rather than silently changed — an archive that restores something else
 * than what was archived would be worse than no archive.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { isDeepStrictEqual, promisify } from 'node:util';
import { brotliCompress, brotliDecompress, constants as zc } from 'node:zlib';
import { writeDurably } from '../../store/durable-file';

export const ARCHIVE_VERSION = 1;
export const ARCHIVE_EXTENSION = '.crewarc';
/** Brotli quality: 5 compresses typical memory text ~6× at tens of MB/s; Node's default 11 is ~20× slower. */
export const DEFAULT_QUALITY = 5;

const MAGIC = Buffer.from([0x89, 0x43, 0x52, 0x45, 0x57, 0x41, 0x52, 0x43]); // \x89CREWARC
const FIXED = 36;
const HEADER = FIXED + 32;
/** Header flag: the payload is stored uncompressed. */
const STORED = 1;
/** Records per slice between event-loop yields while serialising or parsing. */
const SLICE = 2000;

const compress = promisify(brotliCompress);
const decompress = promisify(brotliDecompress);

export type ArchiveErrorReason =
  | 'truncated'
  | 'bad-magic'
  | 'unknown-version'
  | 'checksum-mismatch'
  | 'corrupt'
  | 'count-mismatch'
  | 'unsupported-value'
  | 'not-found';

/** Everything that can be wrong with an archive, named. Nothing is returned when one is thrown. */
export class ArchiveError extends Error {
  constructor(
    readonly reason: ArchiveErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'ArchiveError';
  }
}

export type ArchiveMeta = { [key: string]: unknown };

export interface EncodeOptions {
  /** Brotli quality 4–6: the range where brotli is both fast and clearly better than gzip. */
  quality?: number;
}

export interface EncodedArchive {
  bytes: Buffer;
  /** sha256 of `bytes`, hex: the file's name and its index entry's checksum. */
  sha256: string;
  /** UTF-8 bytes of the records as NDJSON. */
  bytesIn: number;
  /** Bytes of the whole file, header included. */
  bytesOut: number;
  /** bytesIn / bytesOut. */
  ratio: number;
  count: number;
}

export interface DecodedArchive {
  meta: ArchiveMeta;
  records: unknown[];
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function encodeArchive(
  records: readonly unknown[],
  meta: ArchiveMeta,
  options: EncodeOptions = {},
): Promise<EncodedArchive> {
  const quality = options.quality ?? DEFAULT_QUALITY;
  if (!Number.isInteger(quality) || quality < 4 || quality > 6)
    throw new RangeError(`brotli quality must be 4, 5 or 6, got ${quality}`);
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta))
    throw new ArchiveError('unsupported-value', 'the archive meta must be a plain object');
  const metaBytes = Buffer.from(strictJson(meta, 'the archive meta'), 'utf8');

  // Serialised in slices of records, each slice one Buffer: no single string has to hold the whole archive (V8
  // caps strings at ~512 M characters), and the event loop gets a turn between slices.
  const chunks: Buffer[] = [];
  for (let start = 0; start < records.length; start += SLICE) {
    const end = Math.min(records.length, start + SLICE);
    const lines = new Array<string>(end - start);
    for (let i = start; i < end; i++) lines[i - start] = strictJson(records[i], describeRecord(records[i], i));
    chunks.push(Buffer.from((start > 0 ? '\n' : '') + lines.join('\n'), 'utf8'));
    if (end < records.length) await yieldToLoop();
  }
  const raw = Buffer.concat(chunks);
  const compressed = await compress(raw, {
    params: {
      [zc.BROTLI_PARAM_QUALITY]: quality,
      [zc.BROTLI_PARAM_MODE]: zc.BROTLI_MODE_TEXT,
      [zc.BROTLI_PARAM_SIZE_HINT]: raw.length,
    },
  });
  // A payload too small to compress (brotli adds its own framing) is kept as it is.
  const stored = compressed.length >= raw.length;
  const payload = stored ? raw : compressed;

  const bytes = Buffer.allocUnsafe(HEADER + metaBytes.length + payload.length);
  MAGIC.copy(bytes, 0);
  bytes.writeUInt16BE(ARCHIVE_VERSION, 8);
  bytes.writeUInt16BE(stored ? STORED : 0, 10);
  bytes.writeUInt32BE(records.length, 12);
  bytes.writeBigUInt64BE(BigInt(raw.length), 16);
  bytes.writeBigUInt64BE(BigInt(payload.length), 24);
  bytes.writeUInt32BE(metaBytes.length, 32);
  metaBytes.copy(bytes, HEADER);
  payload.copy(bytes, HEADER + metaBytes.length);
  digestOf(bytes, metaBytes.length).copy(bytes, FIXED);
  return {
    bytes,
    sha256: sha256Hex(bytes),
    bytesIn: raw.length,
    bytesOut: bytes.length,
    ratio: raw.length / bytes.length,
    count: records.length,
  };
}

/**
 * Verifies everything — file checksum if one is expected, header, internal digest, decompressed length, record
 * count, every line's JSON — before returning anything, and throws an ArchiveError naming the first problem.
 */
export async function decodeArchive(bytes: Uint8Array, expectedSha256?: string): Promise<DecodedArchive> {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < MAGIC.length || !b.subarray(0, MAGIC.length).equals(MAGIC)) {
    if (b.length < MAGIC.length && MAGIC.subarray(0, b.length).equals(b))
      throw new ArchiveError('truncated', `archive truncated: ${b.length} bytes, not even a header`);
    throw new ArchiveError('bad-magic', 'not a crew archive (bad magic number)');
  }
  if (b.length < HEADER)
    throw new ArchiveError('truncated', `archive truncated: ${b.length} bytes of a ${HEADER}-byte header`);
  const version = b.readUInt16BE(8);
  if (version !== ARCHIVE_VERSION)
    throw new ArchiveError(
      'unknown-version',
      `archive format version ${version} is not supported (this build reads version ${ARCHIVE_VERSION})`,
    );
  const flags = b.readUInt16BE(10);
  const count = b.readUInt32BE(12);
  const rawLength = Number(b.readBigUInt64BE(16));
  const payloadLength = Number(b.readBigUInt64BE(24));
  const metaLength = b.readUInt32BE(32);
  const expectedLength = HEADER + metaLength + payloadLength;
  // Lengths are checked before the checksum so that a cut-off file is reported as such, not as a mismatch.
  if (b.length < expectedLength)
    throw new ArchiveError('truncated', `archive truncated: ${b.length} of ${expectedLength} bytes`);
  if (expectedSha256 !== undefined) {
    const actual = sha256Hex(b);
    if (actual !== expectedSha256.toLowerCase())
      throw new ArchiveError(
        'checksum-mismatch',
        `archive checksum mismatch: expected ${expectedSha256}, file has ${actual}`,
      );
  }
  if (b.length > expectedLength)
    throw new ArchiveError('corrupt', `archive has ${b.length - expectedLength} unexpected bytes after its payload`);
  if (!digestOf(b, metaLength).equals(b.subarray(FIXED, HEADER)))
    throw new ArchiveError('checksum-mismatch', 'archive checksum mismatch: its content does not match its digest');
  if ((flags & ~STORED) !== 0)
    throw new ArchiveError('unknown-version', `archive uses flags ${flags} this build does not know`);

  let meta: ArchiveMeta;
  try {
    meta = JSON.parse(b.toString('utf8', HEADER, HEADER + metaLength)) as ArchiveMeta;
  } catch {
    throw new ArchiveError('corrupt', 'archive meta is not valid JSON');
  }
  let raw: Buffer;
  if (flags & STORED) raw = b.subarray(HEADER + metaLength);
  else
    try {
      raw = await decompress(b.subarray(HEADER + metaLength), { maxOutputLength: Math.max(1, rawLength) });
    } catch (e) {
      throw new ArchiveError('corrupt', `archive payload does not decompress: ${(e as Error).message}`);
    }
  if (raw.length !== rawLength)
    throw new ArchiveError('corrupt', `archive payload decompressed to ${raw.length} bytes, header says ${rawLength}`);
  // JSON.stringify escapes newlines inside strings and UTF-8 never uses byte 0x0A inside a character, so every
  // 0x0A separates two records; splitting the bytes avoids one giant string.
  const records: unknown[] = [];
  for (let start = 0; raw.length > 0;) {
    const nl = raw.indexOf(0x0a, start);
    const end = nl < 0 ? raw.length : nl;
    if (records.length === count)
      throw new ArchiveError('count-mismatch', `archive holds more records than the ${count} its header says`);
    try {
      records.push(JSON.parse(raw.toString('utf8', start, end)));
    } catch {
      throw new ArchiveError('corrupt', `archive record ${records.length} is not valid JSON`);
    }
    if (records.length % SLICE === 0) await yieldToLoop();
    if (nl < 0) break;
    start = nl + 1;
  }
  if (records.length !== count)
    throw new ArchiveError('count-mismatch', `archive holds ${records.length} records, header says ${count}`);
  return { meta, records };
}

/**
 * The check before live memories are deleted: decode `bytes` (normally just read back from disk) and require every
 * record to be deep-strictly equal to the one archived — same keys in the same values, -0 and NaN included.
 */
export async function verifyArchive(
  bytes: Uint8Array,
  expectedSha256: string,
  originals: readonly unknown[],
): Promise<DecodedArchive> {
  const decoded = await decodeArchive(bytes, expectedSha256);
  if (decoded.records.length !== originals.length)
    throw new ArchiveError(
      'count-mismatch',
      `archive holds ${decoded.records.length} records, ${originals.length} were archived`,
    );
  for (let i = 0; i < originals.length; i++) {
    if (!isDeepStrictEqual(decoded.records[i], originals[i]))
      throw new ArchiveError('corrupt', `${describeRecord(originals[i], i)} does not read back as it was written`);
    if (i % SLICE === SLICE - 1) await yieldToLoop();
  }
  return decoded;
}

function digestOf(file: Buffer, metaLength: number): Buffer {
  return createHash('sha256')
    .update(file.subarray(0, FIXED))
    .update(file.subarray(HEADER, HEADER + metaLength))
    .update(file.subarray(HEADER + metaLength))
    .digest();
}

function describeRecord(record: unknown, index: number): string {
  const id = (record as { id?: unknown } | null)?.id;
  return typeof id === 'string' ? `record ${index} (id "${id}")` : `record ${index}`;
}

/**
 * JSON.stringify that refuses whatever would not come back the same from JSON.parse. The replacer sees each value
 * after toJSON has run, so Dates are caught through the holder (`this[key]`), which still has the original.
 */
function strictJson(value: unknown, what: string): string {
  const refuse = (key: string, why: string) =>
    new ArchiveError(
      'unsupported-value',
      `${what}: ${key === '' ? 'the value' : `field "${key}"`} ${why}; archives hold plain JSON only`,
    );
  const text = JSON.stringify(value, function (this: unknown, key: string, v: unknown) {
    const original = (this as Record<string, unknown>)[key];
    switch (typeof v) {
      case 'string':
      case 'boolean':
        if (original !== v && typeof original === 'object') throw refuse(key, 'is an object with toJSON');
        return v;
      case 'number':
        if (!Number.isFinite(v)) throw refuse(key, `is ${v}`);
        if (Object.is(v, -0)) throw refuse(key, 'is -0');
        if (original !== v) throw refuse(key, 'is an object with toJSON');
        return v;
      case 'object': {
        if (v === null) return v;
        if (original !== v) throw refuse(key, 'is an object with toJSON');
        const proto = Object.getPrototypeOf(v) as unknown;
        if (!Array.isArray(v) && proto !== Object.prototype && proto !== null)
          throw refuse(key, `is a ${v.constructor?.name ?? 'non-plain object'}`);
        // JSON.stringify skips symbol keys without a word.
        if (Object.getOwnPropertySymbols(v).length > 0) throw refuse(key, 'has symbol keys');
        return v;
      }
      case 'undefined':
        throw refuse(key, 'is undefined');
      default:
        throw refuse(key, `is a ${typeof v}`);
    }
  });
  return text;
}

// ---------------------------------------------------------------------------------------------------------------
// Files: content-addressed, durable.

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function archiveFileName(sha256: string): string {
  if (!SHA256_HEX.test(sha256)) throw new RangeError(`not a sha256 hex digest: ${sha256}`);
  return `${sha256}${ARCHIVE_EXTENSION}`;
}

/**
 * Writes the archive as `<sha256>.crewarc` in `dir` (created 0700 if missing): temp file, fsync, rename, fsync of
 * the directory. When this resolves the file is on disk under its final name. Writing the same bytes twice is
 * harmless — same name, same content.
 */
export async function writeArchiveFile(
  dir: string,
  bytes: Uint8Array,
): Promise<{ path: string; sha256: string; bytes: number }> {
  const sha256 = sha256Hex(bytes);
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, archiveFileName(sha256));
  // Content-addressed: an intact file of that name already holds exactly these bytes.
  const existing = await fsp.readFile(file).catch(() => undefined);
  if (!existing || sha256Hex(existing) !== sha256) await writeDurably(file, bytes);
  return { path: file, sha256, bytes: bytes.length };
}

/** Reads `<sha256>.crewarc` from `dir` and checks its bytes still hash to its name. Decode with decodeArchive. */
export async function readArchiveFile(dir: string, sha256: string): Promise<Buffer> {
  const file = path.join(dir, archiveFileName(sha256.toLowerCase()));
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new ArchiveError('not-found', `archive ${file} is missing`);
    throw e;
  }
  return checkArchiveBytes(bytes, sha256, `archive ${file}`);
}

/**
 * Checks stored archive bytes still hash to `sha256` (ArchiveError `truncated` or `checksum-mismatch`, naming
 * `what`); returns them. Decode with decodeArchive.
 */
export function checkArchiveBytes(bytes: Buffer, sha256: string, what: string): Buffer {
  const actual = sha256Hex(bytes);
  if (actual !== sha256.toLowerCase()) {
    // A short file is most likely a cut-off copy: say so rather than only "mismatch".
    const claimed =
      bytes.length >= HEADER && bytes.subarray(0, MAGIC.length).equals(MAGIC)
        ? HEADER + bytes.readUInt32BE(32) + Number(bytes.readBigUInt64BE(24))
        : undefined;
    if (claimed !== undefined && bytes.length < claimed)
      throw new ArchiveError('truncated', `${what} truncated: ${bytes.length} of ${claimed} bytes`);
    throw new ArchiveError('checksum-mismatch', `${what} is damaged: its content hashes to ${actual}`);
  }
  return bytes;
}
