/**
 * Vectors at rest: Float32 little-endian, as base64 (one vector inside a JSON record) or as a binary sidecar (many
 * vectors beside the JSON). Never JSON decimal arrays: a 512-d vector is 2 KB here and ~10 KB as decimals, and
 * decimals do not round-trip bit-exactly through every writer.
 *
 * Sidecar layout (all integers little-endian):
 *   0  magic    "CRVE"
 *   4  u16      version (1)
 *   6  u16      flags (0; reserved)
 *   8  u32      dims
 *   12 u32      count
 *   16 u16      byte length of the embedder id
 *   18 …        embedder id, UTF-8, then zero padding to a multiple of 4
 *   …  f32[]    count × dims values, row after row
 * The header names the embedder so a sidecar can never be read as another embedder's vectors.
 */

const MAGIC = 'CRVE';
export const SIDECAR_VERSION = 1;
const FIXED_HEADER = 18;

// Every platform Node ships for is little-endian; the DataView path keeps the format honest if that ever changes.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export interface DecodedSidecar {
  embedderId: string;
  dims: number;
  /** Views into one contiguous buffer, one per row. */
  vectors: Float32Array[];
}

/** A copy of `v` with unit L2 norm. The zero vector stays zero: it has no direction to keep. */
export function normalize(v: ArrayLike<number>): Float32Array {
  // Scaling by the largest magnitude first keeps the sum of squares finite for any finite input.
  let max = 0;
  for (let i = 0; i < v.length; i++) max = Math.max(max, Math.abs(v[i]!));
  if (!Number.isFinite(max)) throw new RangeError('cannot normalise a vector with non-finite values');
  const out = new Float32Array(v.length);
  if (max === 0) return out;
  let sq = 0;
  for (let i = 0; i < v.length; i++) sq += (v[i]! / max) ** 2;
  const inv = 1 / (Math.sqrt(sq) * max);
  for (let i = 0; i < v.length; i++) out[i] = v[i]! * inv;
  return out;
}

/** The dot product; equals the cosine for the unit vectors embedders return, and costs half as much. */
export function dot(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new RangeError(`vector lengths differ: ${a.length} vs ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Cosine similarity in [-1, 1]; 0 when either vector is zero (a blank text resembles nothing). */
export function cosine(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new RangeError(`vector lengths differ: ${a.length} vs ${b.length}`);
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  if (aa === 0 || bb === 0) return 0;
  return Math.max(-1, Math.min(1, ab / Math.sqrt(aa * bb)));
}

export function vectorToBase64(v: Float32Array): string {
  return Buffer.from(float32Bytes(v)).toString('base64');
}

export function vectorFromBase64(text: string, dims?: number): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length % 4 !== 0)
    throw new RangeError(`a base64 vector must hold whole float32s, got ${bytes.length} bytes`);
  if (dims !== undefined && bytes.length !== dims * 4)
    throw new RangeError(`expected a ${dims}-dimensional vector, got ${bytes.length / 4} dimensions`);
  return readFloat32(bytes, 0, bytes.length / 4);
}

export function encodeSidecar(embedderId: string, vectors: readonly Float32Array[], dims?: number): Buffer {
  const d = dims ?? vectors[0]?.length;
  if (d === undefined) throw new RangeError('an empty sidecar needs its dims given explicitly');
  if (!Number.isInteger(d) || d <= 0 || d > 0xffff_ffff) throw new RangeError(`invalid dims ${d}`);
  const id = Buffer.from(embedderId, 'utf8');
  if (id.length === 0 || id.length > 0xffff) throw new RangeError('the embedder id must be 1 to 65535 bytes of UTF-8');
  const dataOffset = align4(FIXED_HEADER + id.length);
  const out = Buffer.alloc(dataOffset + vectors.length * d * 4);
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt16LE(SIDECAR_VERSION, 4);
  out.writeUInt16LE(0, 6);
  out.writeUInt32LE(d, 8);
  out.writeUInt32LE(vectors.length, 12);
  out.writeUInt16LE(id.length, 16);
  id.copy(out, FIXED_HEADER);
  let at = dataOffset;
  for (const [i, v] of vectors.entries()) {
    if (v.length !== d) throw new RangeError(`vector ${i} has ${v.length} dimensions, the sidecar ${d}`);
    out.set(float32Bytes(v), at);
    at += d * 4;
  }
  return out;
}

export function decodeSidecar(buf: Uint8Array): DecodedSidecar {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < FIXED_HEADER || b.toString('latin1', 0, 4) !== MAGIC) throw new Error('not a vector sidecar');
  const version = b.readUInt16LE(4);
  if (version !== SIDECAR_VERSION) throw new Error(`vector sidecar version ${version} is not supported`);
  const dims = b.readUInt32LE(8);
  const count = b.readUInt32LE(12);
  const idLength = b.readUInt16LE(16);
  if (dims === 0) throw new Error('vector sidecar has 0 dims');
  if (b.length < FIXED_HEADER + idLength) throw new Error('vector sidecar header is truncated');
  const embedderId = b.toString('utf8', FIXED_HEADER, FIXED_HEADER + idLength);
  const dataOffset = align4(FIXED_HEADER + idLength);
  const expected = dataOffset + count * dims * 4;
  if (b.length !== expected)
    throw new Error(`vector sidecar should be ${expected} bytes for ${count}×${dims}, it is ${b.length}`);
  const all = readFloat32(b, dataOffset, count * dims);
  const vectors: Float32Array[] = [];
  for (let i = 0; i < count; i++) vectors.push(all.subarray(i * dims, (i + 1) * dims));
  return { embedderId, dims, vectors };
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

function float32Bytes(v: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  const out = new Uint8Array(v.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < v.length; i++) view.setFloat32(i * 4, v[i]!, true);
  return out;
}

/** Copies into a fresh, aligned Float32Array (a Buffer's offset into its pool need not be a multiple of 4). */
function readFloat32(bytes: Uint8Array, offset: number, n: number): Float32Array {
  const out = new Float32Array(n);
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(bytes.subarray(offset, offset + n * 4));
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, n * 4);
  for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}
