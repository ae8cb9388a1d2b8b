/**
 * Vectors on disk: per embedder, numbered append-only binary segments (`<slug>-<hash>.<seq>.vec`). Each segment
 * starts with a header and holds records; all integers and floats little-endian:
 *
 *   header  "CRVL" · u16 version (2) · u16 flags (bit 0: BASE) · u32 dims · u16 id length · embedder id (UTF-8)
 *           · u32 CRC-32 of the header bytes before it
 *   record  u8 op (1 put, 2 delete) · u16 id length · id (UTF-8) · u32 dims (0 for delete) · f32 × dims
 *           · u32 CRC-32 of the record bytes before it
 *
 * The checksums make any damage visible (a zeroed block inside a vector is otherwise a valid run of 0.0s): a record
 * that fails its checksum is refused with the file, record and byte named, and the file is left as it is. Only the
 * end of the segment being appended to may be a write that never finished (cut short, or zeros to the end of the
 * file from inside its last record's checksum on): that is dropped. Version 1 segments (no checksums, written
 * before them) are still read; new writes never go into one, and the store rewrites them as version 2 in the
 * background as soon as it opens them (a compaction, so a crash during it loses nothing).
 *
 * Floats are copied as bytes, never through a Number, so a vector reads back bit for bit. A compaction writes the
 * live set, as of a cut of the log (see SegmentWriter.cut), into a temp file and renames it over the sealed segment
 * `through`, flagged BASE: a BASE segment holds everything up to it, so the load starts at the newest BASE and
 * deletes older segments. A crash before the rename leaves the old segments whole; after it, the BASE segment.
 *
 * In memory each embedder has one growable Float32Array and an id → row map, so 100,000 vectors are one allocation,
 * not 100,000. Rows are written once and never changed (a replaced or deleted vector leaves a hole, reclaimed by
 * copying the live rows into a new array), so the views handed out stay valid and unchanged for as long as they
 * are held.
 */
import { createHash } from 'node:crypto';
import fs, { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeAll } from '../append-io';
import { crc32 } from '../crc32';
import { syncDir } from '../durable-file';
import { files } from '../fs-layer';
import type { VectorRepository } from '../repositories';
import {
  ensureDir,
  listSegments,
  MemoryStoreCorrupt,
  removeTemps,
  SegmentWriter,
  toError,
  unlinkAll,
} from './segment-io';

const MAGIC = 'CRVL';
const VERSION = 2;
/** Segments written before checksums; read, never appended to, rewritten by the next compaction. */
const LEGACY_VERSION = 1;
const CRC_BYTES = 4;
const FLAG_BASE = 1;
const OP_PUT = 1;
const OP_DEL = 2;
const HEADER_FIXED = 14;
const FILE = /^[a-z0-9-]*-[0-9a-f]{12}\.(\d{6})\.vec$/;
const stemOf = (file: string) => path.basename(file).slice(0, -'.000000.vec'.length);
const LITTLE_ENDIAN = os.endianness() === 'LE';
/** Reclaim holes once there are this many and more than live rows. */
const REPACK_MIN_HOLES = 1024;
const READ_CHUNK = 16 << 20;

/** The file-name stem for an embedder: readable, safe on every filesystem, and unique by the hash. */
export function embedderFileStem(embedderId: string): string {
  const slug =
    embedderId
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40) || 'embedder';
  return `${slug}-${createHash('sha256').update(embedderId).digest('hex').slice(0, 12)}`;
}

const segName = (stem: string, seq: number) => `${stem}.${String(seq).padStart(6, '0')}.vec`;

function encodeHeader(embedderId: string, dims: number, flags: number): Buffer {
  const id = Buffer.from(embedderId, 'utf8');
  const b = Buffer.alloc(HEADER_FIXED + id.length + CRC_BYTES);
  b.write(MAGIC, 0, 'latin1');
  b.writeUInt16LE(VERSION, 4);
  b.writeUInt16LE(flags, 6);
  b.writeUInt32LE(dims, 8);
  b.writeUInt16LE(id.length, 12);
  id.copy(b, HEADER_FIXED);
  sealCrc(b);
  return b;
}

/** Writes the CRC-32 of everything before a buffer's last 4 bytes into them. */
function sealCrc(b: Buffer): void {
  b.writeUInt32LE(crc32(b.subarray(0, b.length - CRC_BYTES)), b.length - CRC_BYTES);
}

/** Copies f32 values as bytes between native order and the file's little-endian order (the same on LE hosts). */
function copyF32(src: Uint8Array, dst: Uint8Array, dstOffset: number): void {
  if (LITTLE_ENDIAN) {
    dst.set(src, dstOffset);
    return;
  }
  for (let i = 0; i < src.length; i += 4) {
    dst[dstOffset + i] = src[i + 3]!;
    dst[dstOffset + i + 1] = src[i + 2]!;
    dst[dstOffset + i + 2] = src[i + 1]!;
    dst[dstOffset + i + 3] = src[i]!;
  }
}

const bytesOf = (v: Float32Array) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

function encodePut(id: Buffer, vector: Float32Array): Buffer {
  const b = Buffer.allocUnsafe(putBytes(id.length, vector.length));
  b[0] = OP_PUT;
  b.writeUInt16LE(id.length, 1);
  id.copy(b, 3);
  b.writeUInt32LE(vector.length, 3 + id.length);
  copyF32(bytesOf(vector), b, 7 + id.length);
  sealCrc(b);
  return b;
}

function encodeDel(id: string): Buffer {
  const idb = Buffer.from(id, 'utf8');
  const b = Buffer.alloc(7 + idb.length + CRC_BYTES);
  b[0] = OP_DEL;
  b.writeUInt16LE(idb.length, 1);
  idb.copy(b, 3);
  sealCrc(b);
  return b;
}

/** A put record's bytes in the current format. */
const putBytes = (idBytes: number, dims: number) => 7 + idBytes + dims * 4 + CRC_BYTES;

/** One embedder's vectors: rows in one Float32Array, plus its log. */
class Shelf {
  data: Float32Array;
  /** Rows used, holes included. */
  rows = 0;
  readonly rowOf = new Map<string, number>();
  holes = 0;
  /** What the live vectors take as records (compaction runs when the files outgrow twice this). */
  liveBytes = 0;
  /** Bytes in this embedder's segments from the newest BASE on. */
  fileBytes = 0;
  writer: SegmentWriter;
  compacting: Promise<void> | undefined;
  /** Some of its records are in version 1 segments (no checksums): the next compaction rewrites them. */
  legacy = false;

  constructor(
    readonly embedderId: string,
    readonly dims: number,
    readonly stem: string,
    readonly dir: string,
    seq: number,
    capacity: number,
  ) {
    this.data = new Float32Array(Math.max(16, capacity) * dims);
    this.writer = new SegmentWriter({
      dir,
      name: (s) => segName(stem, s),
      seq,
      header: () => encodeHeader(embedderId, dims, 0),
    });
  }

  get live(): number {
    return this.rowOf.size;
  }

  view(row: number): Float32Array {
    return this.data.subarray(row * this.dims, (row + 1) * this.dims);
  }

  /** A new row for `id` whose bytes the caller fills in (little-endian f32) via the returned byte view. */
  private nextRow(id: string, idBytes: number): Uint8Array {
    if ((this.rows + 1) * this.dims > this.data.length) {
      // A new array: the old one (and every view into it) stays as it was.
      const grown = new Float32Array(Math.ceil((this.data.length / this.dims) * 1.5 + 16) * this.dims);
      grown.set(this.data.subarray(0, this.rows * this.dims));
      this.data = grown;
    }
    const old = this.rowOf.get(id);
    if (old !== undefined) this.holes++;
    else this.liveBytes += putBytes(idBytes, this.dims);
    const row = this.rows++;
    this.rowOf.set(id, row);
    return new Uint8Array(this.data.buffer, row * this.dims * 4, this.dims * 4);
  }

  putVector(id: string, idBytes: number, v: Float32Array): void {
    // Through bytes, not values: a NaN's payload survives.
    this.nextRow(id, idBytes).set(bytesOf(v));
  }

  putFileBytes(id: string, idBytes: number, src: Uint8Array): void {
    copyF32(src, this.nextRow(id, idBytes), 0);
  }

  remove(id: string): boolean {
    if (!this.rowOf.delete(id)) return false;
    this.holes++;
    this.liveBytes -= putBytes(Buffer.byteLength(id), this.dims);
    return true;
  }

  repackIfSparse(): void {
    if (this.holes < REPACK_MIN_HOLES || this.holes <= this.live) return;
    const packed = new Float32Array(Math.max(16, Math.ceil(this.live * 1.25)) * this.dims);
    let r = 0;
    for (const [id, row] of this.rowOf) {
      packed.set(this.view(row), r * this.dims);
      this.rowOf.set(id, r++);
    }
    this.data = packed;
    this.rows = r;
    this.holes = 0;
  }
}

export interface VectorFileOptions {
  onError?(message: string): void;
  /** Compact an embedder's files once they exceed this (default 1 MiB) and twice its live set. */
  compactMinBytes?: number;
}

export class FileVectorRepository implements VectorRepository {
  private readonly shelves = new Map<string, Shelf>();
  private paused = 0;
  private closed = false;
  private readonly onError: (message: string) => void;
  private readonly compactMinBytes: number;

  private constructor(
    readonly dir: string,
    opts: VectorFileOptions,
  ) {
    this.onError = (message) => opts.onError?.(message);
    this.compactMinBytes = opts.compactMinBytes ?? 1 << 20;
  }

  static async open(dir: string, opts: VectorFileOptions = {}): Promise<FileVectorRepository> {
    await ensureDir(dir);
    const repo = new FileVectorRepository(dir, opts);
    await repo.load();
    // Version 1 segments have no checksums: rewrite them now (in the background) rather than at some later
    // compaction, so damage to them cannot go unnoticed for long.
    for (const shelf of repo.shelves.values())
      if (shelf.legacy)
        repo
          .compactShelf(shelf)
          .catch((e: unknown) =>
            repo.onError(`vector upgrade to version ${VERSION} (${shelf.embedderId}) failed: ${toError(e).message}`),
          );
    return repo;
  }

  private async load(): Promise<void> {
    await removeTemps(this.dir);
    const byStem = new Map<string, { seq: number; file: string }[]>();
    for (const s of await listSegments(this.dir, FILE)) {
      const stem = stemOf(s.file);
      let list = byStem.get(stem);
      if (!list) byStem.set(stem, (list = []));
      list.push(s);
    }
    for (const [stem, segs] of byStem) await this.loadStem(stem, segs);
  }

  private async loadStem(stem: string, segs: { seq: number; file: string }[]): Promise<void> {
    const heads: (Header | undefined)[] = [];
    for (let i = 0; i < segs.length; i++) heads.push(await readHeader(segs[i]!.file, i === segs.length - 1));
    let start = 0;
    for (let i = 0; i < segs.length; i++) if (heads[i] && heads[i]!.flags & FLAG_BASE) start = i;
    // Older than the newest BASE: left behind by a crash between a compaction's rename and its cleanup.
    await unlinkAll(segs.slice(0, start).map((s) => s.file));
    const first = heads.slice(start).find((h) => h !== undefined);
    if (!first) {
      // Only a header that never finished: nothing was ever acknowledged here.
      await unlinkAll(segs.map((s) => s.file));
      return;
    }
    let totalBytes = 0;
    for (let i = start; i < segs.length; i++) {
      const h = heads[i];
      if (h && (h.embedderId !== first.embedderId || h.dims !== first.dims))
        throw new MemoryStoreCorrupt(
          segs[i]!.file,
          'header',
          `names ${h.embedderId}/${h.dims}, not ${first.embedderId}/${first.dims}`,
        );
      totalBytes += (await fsp.stat(segs[i]!.file)).size;
    }
    if (this.shelves.has(first.embedderId))
      throw new MemoryStoreCorrupt(segs[start]!.file, 'header', `a second set of files for ${first.embedderId}`);
    const rowBytes = putBytes(8, first.dims);
    const last = segs.length - 1;
    // New records never go into a version 1 segment: they would be the only checksummed records in it.
    const lastIsLegacy = heads[last]?.version === LEGACY_VERSION;
    const shelf = new Shelf(
      first.embedderId,
      first.dims,
      stem,
      this.dir,
      segs[last]!.seq + (lastIsLegacy ? 1 : 0),
      Math.ceil(totalBytes / rowBytes),
    );
    for (let i = start; i < segs.length; i++) {
      if (!heads[i]) continue;
      shelf.fileBytes += await this.readRecords(segs[i]!.file, heads[i]!, shelf, i === last);
    }
    shelf.repackIfSparse();
    shelf.legacy = heads.slice(start).some((h) => h?.version === LEGACY_VERSION);
    this.shelves.set(first.embedderId, shelf);
  }

  /** Applies a segment's records; returns the bytes kept (after cutting off a torn tail). */
  private async readRecords(file: string, head: Header, shelf: Shelf, tornAllowed: boolean): Promise<number> {
    const checksummed = head.version !== LEGACY_VERSION;
    const crcBytes = checksummed ? CRC_BYTES : 0;
    const fh = await fsp.open(file, 'r');
    try {
      const size = (await fh.stat()).size;
      let buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, Math.max(size, 1)));
      let bufStart = head.length; // file offset of buf[0]
      let have = 0;
      let pos = 0;
      let eof = false;
      let record = 0;
      /** Makes `n` bytes from `pos` available; false if the file ends first. */
      const need = async (n: number): Promise<boolean> => {
        while (have - pos < n && !eof) {
          if (pos > 0) {
            buf.copy(buf, 0, pos, have);
            bufStart += pos;
            have -= pos;
            pos = 0;
          }
          if (n > buf.length) {
            const bigger = Buffer.allocUnsafe(n);
            buf.copy(bigger, 0, 0, have);
            buf = bigger;
          }
          const { bytesRead } = await fh.read(buf, have, buf.length - have, bufStart + have);
          if (bytesRead === 0) eof = true;
          have += bytesRead;
        }
        return have - pos >= n;
      };
      const where = () => `byte ${bufStart + pos} (record ${record})`;
      /** Damage at the record starting at `pos`, unless the file is zeros from `zerosAt` on (an unfinished write). */
      const bad = async (why: string, zerosAt = bufStart + pos): Promise<number> => {
        const at = bufStart + pos;
        if (tornAllowed && (await zerosFrom(fh, zerosAt, size))) return await this.cutTail(file, at, size);
        throw new MemoryStoreCorrupt(file, where(), why);
      };
      for (;;) {
        if (!(await need(1))) return bufStart + pos;
        record++;
        if (!(await need(7))) return await this.tornOrCorrupt(file, where(), bufStart + pos, size, tornAllowed);
        const op = buf[pos]!;
        if (op !== OP_PUT && op !== OP_DEL) return await bad(`unknown record type ${op}`);
        const idLen = buf.readUInt16LE(pos + 1);
        if (!(await need(7 + idLen))) return await this.tornOrCorrupt(file, where(), bufStart + pos, size, tornAllowed);
        const dims = buf.readUInt32LE(pos + 3 + idLen);
        if (op === OP_DEL && dims !== 0) return await bad('a delete record with values');
        if (op === OP_PUT && dims !== head.dims)
          return await bad(`a ${dims}-dimension vector among ${head.dims}-dimension ones`);
        const len = 7 + idLen + dims * 4 + crcBytes;
        if (!(await need(len))) return await this.tornOrCorrupt(file, where(), bufStart + pos, size, tornAllowed);
        if (checksummed && crc32(buf.subarray(pos, pos + len - CRC_BYTES)) !== buf.readUInt32LE(pos + len - CRC_BYTES))
          return await bad(
            'fails its checksum (the bytes on disk are not the ones written)',
            bufStart + pos + len - CRC_BYTES,
          );
        const id = buf.toString('utf8', pos + 3, pos + 3 + idLen);
        if (op === OP_DEL) shelf.remove(id);
        else shelf.putFileBytes(id, idLen, buf.subarray(pos + 7 + idLen, pos + 7 + idLen + dims * 4));
        pos += len;
      }
    } finally {
      await fh.close();
    }
  }

  private async tornOrCorrupt(
    file: string,
    where: string,
    at: number,
    size: number,
    tornAllowed: boolean,
  ): Promise<number> {
    if (!tornAllowed) throw new MemoryStoreCorrupt(file, where, 'ends inside a record');
    return this.cutTail(file, at, size);
  }

  private async cutTail(file: string, at: number, size: number): Promise<number> {
    await fsp.truncate(file, at);
    this.onError(`${file}: dropped ${size - at} bytes of a write that never finished (from byte ${at})`);
    return at;
  }

  get(id: string, embedderId: string): Float32Array | undefined {
    const shelf = this.shelves.get(embedderId);
    const row = shelf?.rowOf.get(id);
    return row === undefined ? undefined : shelf!.view(row);
  }

  /**
   * Copies the vectors in; resolves once they are on disk. All vectors of one embedder must have one length (the
   * first vector stored fixes it); a call that breaks this is refused whole, before anything changes.
   */
  put(entries: { id: string; embedderId: string; vector: Float32Array }[]): Promise<void> {
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    const dimsOf = new Map<string, number>();
    for (const e of entries) {
      if (!(e.vector instanceof Float32Array) || e.vector.length === 0)
        return Promise.reject(new RangeError(`vector for ${e.id} is not a non-empty Float32Array`));
      if (typeof e.embedderId !== 'string' || e.embedderId === '' || Buffer.byteLength(e.embedderId) > 0xffff)
        return Promise.reject(new RangeError(`bad embedder id for ${e.id}`));
      if (Buffer.byteLength(e.id) > 0xffff)
        return Promise.reject(new RangeError(`memory id too long: ${e.id.slice(0, 40)}…`));
      const dims = this.shelves.get(e.embedderId)?.dims ?? dimsOf.get(e.embedderId) ?? e.vector.length;
      if (e.vector.length !== dims)
        return Promise.reject(
          new RangeError(`${e.embedderId} vectors have ${dims} dimensions; ${e.id} has ${e.vector.length}`),
        );
      dimsOf.set(e.embedderId, dims);
    }
    const bufs = new Map<Shelf, Buffer[]>();
    for (const e of entries) {
      const shelf = this.shelf(e.embedderId, e.vector.length);
      const id = Buffer.from(e.id, 'utf8');
      shelf.putVector(e.id, id.length, e.vector);
      let list = bufs.get(shelf);
      if (!list) bufs.set(shelf, (list = []));
      list.push(encodePut(id, e.vector));
    }
    return this.appendAll(bufs);
  }

  delete(ids: string[]): Promise<void> {
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    const bufs = new Map<Shelf, Buffer[]>();
    for (const shelf of this.shelves.values()) {
      const recs = ids.filter((id) => shelf.remove(id)).map(encodeDel);
      if (recs.length) bufs.set(shelf, recs);
    }
    return this.appendAll(bufs);
  }

  /** After a failed write memory may be ahead of disk; refuse before changing memory any further. */
  private refusal(): Error | undefined {
    if (this.closed) return new Error(`the vector store ${this.dir} is closed`);
    for (const s of this.shelves.values()) if (s.writer.error) return s.writer.error;
    return undefined;
  }

  private async appendAll(bufs: Map<Shelf, Buffer[]>): Promise<void> {
    const writes: Promise<void>[] = [];
    for (const [shelf, list] of bufs) {
      const buf = list.length === 1 ? list[0]! : Buffer.concat(list);
      shelf.fileBytes += buf.length;
      writes.push(shelf.writer.append(buf));
      shelf.repackIfSparse();
      this.maybeCompact(shelf);
    }
    await Promise.all(writes);
  }

  private shelf(embedderId: string, dims: number): Shelf {
    let shelf = this.shelves.get(embedderId);
    if (!shelf) {
      shelf = new Shelf(embedderId, dims, embedderFileStem(embedderId), this.dir, 1, 16);
      this.shelves.set(embedderId, shelf);
    }
    return shelf;
  }

  /** Views into the store, valid and unchanged for as long as they are held; never write into them. */
  *entries(embedderId: string): Iterable<[string, Float32Array]> {
    const shelf = this.shelves.get(embedderId);
    if (!shelf) return;
    for (const [id, row] of shelf.rowOf) yield [id, shelf.view(row)];
  }

  embedderIds(): string[] {
    return [...this.shelves.values()].filter((s) => s.live > 0).map((s) => s.embedderId);
  }

  count(embedderId: string): number {
    return this.shelves.get(embedderId)?.live ?? 0;
  }

  private maybeCompact(shelf: Shelf): void {
    if (shelf.compacting || this.paused || this.closed || shelf.writer.error) return;
    if (shelf.fileBytes <= this.compactMinBytes || shelf.fileBytes <= 2 * shelf.liveBytes) return;
    this.compactShelf(shelf).catch((e: unknown) =>
      this.onError(`vector compaction (${shelf.embedderId}) failed: ${toError(e).message}`),
    );
  }

  /** Compacts every embedder's files as of now (tests, maintenance). */
  async compact(): Promise<void> {
    for (const s of this.shelves.values()) {
      await s.compacting?.catch(() => undefined);
      await this.compactShelf(s);
    }
  }

  private compactShelf(shelf: Shelf): Promise<void> {
    shelf.compacting ??= this.doCompact(shelf).finally(() => {
      shelf.compacting = undefined;
      this.maybeCompact(shelf);
    });
    return shelf.compacting;
  }

  private async doCompact(shelf: Shelf): Promise<void> {
    // Captured in the same synchronous step as the cut. Rows are never rewritten, so `data` keeps these values
    // even if the shelf grows or repacks meanwhile.
    const rows = [...shelf.rowOf];
    const data = shelf.data;
    const dims = shelf.dims;
    const bytesAtCut = shelf.fileBytes;
    const through = await shelf.writer.cut();

    const name = segName(shelf.stem, through);
    const tmp = path.join(this.dir, `.${name}.tmp`);
    const io = files();
    const fd = await io.open(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o600);
    let bytes = 0;
    try {
      let parts: Buffer[] = [encodeHeader(shelf.embedderId, dims, FLAG_BASE)];
      let pending = parts[0]!.length;
      const emit = async () => {
        const buf = Buffer.concat(parts, pending);
        await writeAll(fd, buf);
        bytes += buf.length;
        parts = [];
        pending = 0;
      };
      for (const [id, row] of rows) {
        const rec = encodePut(Buffer.from(id, 'utf8'), data.subarray(row * dims, (row + 1) * dims));
        parts.push(rec);
        pending += rec.length;
        if (pending >= 4 << 20) await emit();
      }
      if (pending) await emit();
      await io.fsync(fd);
    } finally {
      await io.close(fd);
    }
    await io.rename(tmp, path.join(this.dir, name));
    await syncDir(this.dir);
    shelf.legacy = false;
    shelf.fileBytes = bytes + (shelf.fileBytes - bytesAtCut);
    const stale = (await listSegments(this.dir, FILE)).filter((s) => s.seq < through && stemOf(s.file) === shelf.stem);
    await unlinkAll(stale.map((s) => s.file));
  }

  /** As FileMemoryRepository.pauseCompaction: a backup holds compaction off while it reads the folder. */
  async pauseCompaction(): Promise<() => void> {
    this.paused++;
    for (const s of this.shelves.values()) await s.compacting?.catch(() => undefined);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.paused--;
      for (const s of this.shelves.values()) this.maybeCompact(s);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.shelves.values()) await s.writer.drain();
    for (const s of this.shelves.values()) await s.compacting?.catch(() => undefined);
    for (const s of this.shelves.values()) await s.writer.close();
  }
}

interface Header {
  version: number;
  embedderId: string;
  dims: number;
  flags: number;
  /** header bytes */
  length: number;
}

/** The segment's header; undefined for a segment whose header was never completely written (a torn first write). */
async function readHeader(file: string, tornAllowed: boolean): Promise<Header | undefined> {
  const fh = await fsp.open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const fixed = Buffer.alloc(HEADER_FIXED);
    const { bytesRead } = await fh.read(fixed, 0, HEADER_FIXED, 0);
    const whole = bytesRead === HEADER_FIXED;
    const version = whole ? fixed.readUInt16LE(4) : 0;
    const idLen = whole ? fixed.readUInt16LE(12) : 0;
    const length = HEADER_FIXED + idLen + (version === LEGACY_VERSION ? 0 : CRC_BYTES);
    // A first write (header + first records) that never finished: too short for its header, or zeros only.
    // Anything else wrong with a header is damage, refused with the file left as it is.
    const torn = !whole || (fixed.toString('latin1', 0, 4) !== MAGIC && (await zerosFrom(fh, 0, size)));
    if (whole && !torn) {
      if (fixed.toString('latin1', 0, 4) !== MAGIC)
        throw new MemoryStoreCorrupt(file, 'header', 'is not a vector file');
      if (version !== VERSION && version !== LEGACY_VERSION)
        throw new MemoryStoreCorrupt(
          file,
          'header',
          `has format version ${version}; this build reads ${LEGACY_VERSION} and ${VERSION}`,
        );
    }
    if (torn || size < length) {
      if (!tornAllowed) throw new MemoryStoreCorrupt(file, 'header', 'is cut short');
      await fsp.truncate(file, 0); // (fh is read-only)
      return undefined;
    }
    const head = Buffer.alloc(length);
    await fh.read(head, 0, length, 0);
    if (
      version !== LEGACY_VERSION &&
      crc32(head.subarray(0, length - CRC_BYTES)) !== head.readUInt32LE(length - CRC_BYTES)
    )
      throw new MemoryStoreCorrupt(file, 'header', 'fails its checksum');
    if (fixed.readUInt32LE(8) === 0) throw new MemoryStoreCorrupt(file, 'header', 'has zero dimensions');
    return {
      version,
      embedderId: head.toString('utf8', HEADER_FIXED, HEADER_FIXED + idLen),
      dims: fixed.readUInt32LE(8),
      flags: fixed.readUInt16LE(6),
      length,
    };
  } finally {
    await fh.close();
  }
}

/** Whether the file holds only zero bytes from `at` on (what a crash mid-append can leave behind). */
async function zerosFrom(fh: fsp.FileHandle, at: number, size: number): Promise<boolean> {
  const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, Math.max(1, size - at)));
  for (let off = at; off < size;) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - off), off);
    if (bytesRead === 0) break;
    for (let i = 0; i < bytesRead; i++) if (buf[i] !== 0) return false;
    off += bytesRead;
  }
  return true;
}
