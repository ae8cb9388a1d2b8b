/**
 * What counts as an OpenRouter model id in a document: the whole content of a one-line string literal shaped
 * `provider/model[:variant]`, all lowercase. The shape alone cannot tell `react/jsx-key` from `openai/gpt-4o`;
 * the catalog decides that (model-index.ts). The shape's job is to keep paths, URLs and MIME types out cheaply.
 */

const PROVIDER = String.raw`(?=[a-z0-9-]*[a-z])[a-z0-9]+(?:-[a-z0-9]+)*`;
// A dot only between digits (`claude-3.5-haiku`, `v0.3`): that is what keeps `index.ts` and `config.json` out.
const SLUG = String.raw`(?=[a-z0-9._-]*[a-z])[a-z0-9]+(?:(?:[-_]|(?<=\d)\.(?=\d))[a-z0-9]+)*`;
const VARIANT = String.raw`[a-z]+(?:-[a-z0-9]+)*`;
const ID = String.raw`(${PROVIDER})\/${SLUG}(?::(${VARIANT}))?`;

// An opening quote: not escaped and not glued to a word (`it's`), except a Python prefix (`f"…"`, `rb'…'`).
const OPENS = String.raw`(?<=^|[^\w\\]|(?:^|\W)[rRuUbBfF]{1,2})`;

const LITERAL = new RegExp(String.raw`${OPENS}(["'\x60])(${ID})\1(?!\w)`, 'g');
// A value written without quotes, the usual way in YAML (`model: openai/gpt-4o`, `- openai/gpt-4o`) and in .env,
// .properties and .ini files (`MODEL=openai/gpt-4o`): the whole value of its line, before any comment.
const UNQUOTED = new RegExp(
  String.raw`(?<=^[ \t]*(?:-[ \t]+)?(?:[\w.$-]+[ \t]*[:=][ \t]*)?)(${ID})(?=[ \t]*(?:[#;].*)?$)`,
  'gm',
);
/** Languages whose values go unquoted (VS Code language ids). */
const UNQUOTED_LANGUAGES = new Set(['yaml', 'dotenv', 'properties', 'ini']);
const WHOLE_ID = new RegExp(String.raw`^${ID}$`);
const PARTIAL_AT_END = new RegExp(String.raw`${OPENS}(["'\x60])([a-z0-9._:/-]*)$`);
const PARTIAL_SHAPE = /^(?:[a-z0-9][a-z0-9-]*(?:\/[a-z0-9._-]*(?::[a-z0-9-]*)?)?)?$/;
const ID_CHARS_AHEAD = /^[a-z0-9._:/-]*/;

/** IANA top-level media types: `text/plain` and `image/png` have the shape of an id and are never one. */
const MEDIA_TYPES = new Set([
  'application',
  'audio',
  'example',
  'font',
  'haptics',
  'image',
  'message',
  'model',
  'multipart',
  'text',
  'video',
]);

export interface ModelIdMatch {
  id: string;
  provider: string;
  /** `free`, `beta`, `nitro`, … or null. */
  variant: string | null;
  /** Offsets of the id in the scanned text (the quotes excluded); `end` is exclusive. */
  start: number;
  end: number;
}

/**
 * Every string literal in `text` whose whole content is shaped like a model id, and in languages that write values
 * without quotes (`languageId`: yaml, dotenv, properties, ini), every such unquoted value; in text order.
 */
export function findModelIds(text: string, languageId?: string): ModelIdMatch[] {
  const out: ModelIdMatch[] = [];
  for (const m of text.matchAll(LITERAL)) {
    const provider = m[3]!;
    if (MEDIA_TYPES.has(provider)) continue;
    const start = m.index + 1;
    out.push({ id: m[2]!, provider, variant: m[4] ?? null, start, end: start + m[2]!.length });
  }
  if (languageId === undefined || !UNQUOTED_LANGUAGES.has(languageId)) return out;
  for (const m of text.matchAll(UNQUOTED)) {
    const provider = m[2]!;
    if (MEDIA_TYPES.has(provider)) continue;
    out.push({ id: m[1]!, provider, variant: m[3] ?? null, start: m.index, end: m.index + m[1]!.length });
  }
  return out.sort((a, b) => a.start - b.start);
}

export function isModelIdShape(text: string): boolean {
  const m = WHOLE_ID.exec(text);
  return m !== null && !MEDIA_TYPES.has(m[1]!);
}

export interface PartialModelId {
  /** What is typed between the opening quote and the cursor. */
  typed: string;
  /** Offsets in the line: the partial id starts after the quote and ends past the cursor over id characters. */
  start: number;
  end: number;
  /** The line up to the opening quote (to see whether it is about a model: `"model": "`). */
  lead: string;
}

/**
 * The start of a model id the cursor is in, inside a string literal opened on this line; null when the text before
 * the cursor cannot begin one (not in a string, or not id characters).
 */
export function partialModelIdAt(line: string, character: number): PartialModelId | null {
  const before = line.slice(0, character);
  const m = PARTIAL_AT_END.exec(before);
  if (!m) return null;
  const quoteAt = m.index;
  // `""|`: the quote just closed an empty string; the cursor is after a string, not in one.
  if (quoteAt > 0 && line[quoteAt - 1] === m[1]) return null;
  const typed = m[2]!;
  if (!PARTIAL_SHAPE.test(typed)) return null;
  const ahead = ID_CHARS_AHEAD.exec(line.slice(character))![0];
  return { typed, start: quoteAt + 1, end: character + ahead.length, lead: line.slice(0, quoteAt) };
}
