/**
 * Damage in a store file, and how store files are read back: a file that cannot be read exactly as it was written
 * is refused, never repaired by guessing. The one exception is a torn tail: the last write into the file being
 * appended to, cut short before it ended (a JSON line without its newline). It was never acknowledged (an append is
 * answered only once it is on disk, newline included), so it may be dropped.
 */
import { promises as fsp } from 'node:fs';

/** A store file that cannot be read back as written. Names the file and where in it the damage starts. */
export class StoreFileCorrupt extends Error {
  constructor(
    readonly file: string,
    /** "line 3", "byte 1208", "header", "as a whole". */
    readonly where: string,
    readonly problem: string,
  ) {
    super(`${file} ${where}: ${problem}`);
    this.name = 'StoreFileCorrupt';
  }
}

/**
 * Reads a JSON-lines file and hands each line to `each` with its 1-based number and text (for its size). An empty
 * line is skipped; a complete line that is not JSON is damage (StoreFileCorrupt naming the line). A last line
 * without its newline is a torn write: with `tornAllowed` (the file being appended to) it is cut off the file and
 * reported through `onTorn`, otherwise it is damage. Nothing else ever changes the file.
 */
export async function scanJsonLines(
  file: string,
  opts: { tornAllowed: boolean; onTorn: (message: string) => void },
  each: (value: unknown, n: number, line: string) => void,
): Promise<void> {
  const buf = await fsp.readFile(file);
  const end = buf.lastIndexOf(10) + 1; // bytes of complete lines
  const text = buf.toString('utf8', 0, end);
  let n = 0;
  let pos = 0;
  while (pos < text.length) {
    n++;
    const nl = text.indexOf('\n', pos);
    const line = text.slice(pos, nl);
    pos = nl + 1;
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new StoreFileCorrupt(file, `line ${n}`, 'is not valid JSON');
    }
    each(value, n, line);
  }
  if (end === buf.length) return;
  if (!opts.tornAllowed) throw new StoreFileCorrupt(file, `line ${n + 1}`, 'is cut short (no newline)');
  await fsp.truncate(file, end);
  opts.onTorn(`${file}: dropped ${buf.length - end} bytes of a write that never finished (line ${n + 1})`);
}

/** A JSON document read whole (a snapshot, a side file); damage names the file "as a whole". */
export function parseJsonDocument(file: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new StoreFileCorrupt(file, 'as a whole', `is not valid JSON (${(e as Error).message})`);
  }
}

/** Shape checks for records read back: each returns a problem, or undefined when the value fits. */
export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
export const isNonNegInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
export const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
export const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The keys of `v` that are not in `known`, for "has unexpected fields" messages. */
export function unknownKeys(v: Record<string, unknown>, known: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const k in v) if (!known.has(k)) out.push(k);
  return out;
}
