/**
 * Text → hashed features for the hashing embedder: word unigrams and bigrams (plurals folded), and character
 * 3–5-grams of each word.
 * Everything here is part of `hash-tfidf`'s vectors: a change to normalisation, tokens, stop-words or the hash must
 * bump HASH_TFIDF_VERSION in hashing.ts, or old and new vectors would share an id and be compared.
 */

/** Feature counts keyed by their 32-bit hash (collisions at 32 bits merge two features; harmless at this scale). */
export type FeatureCounts = Map<number, number>;

export interface TextFeatures {
  unigrams: FeatureCounts;
  /** Bigram hash → [count, hash of first word, hash of second word], so IDF can look at both words. */
  bigrams: Map<number, [number, number, number]>;
  /** Gram hash → [count, hash of the (first) word it came from], so a gram weighs what its word weighs. */
  chars: Map<number, [number, number]>;
}

// Function words carry no topic. Small on purpose: a text made only of them keeps them (see contentWords).
const STOP_WORDS = new Set(
  (
    'a an and are as at be been being but by can could did do does doing done for from had has have having he her ' +
    'here hers him his how i if in into is it its itself just me my no nor not of off on once only or other our ' +
    'ours out over own same she should so some such than that the their theirs them then there these they this ' +
    'those through to too under until up very was we were what when where which while who whom why will with ' +
    'would you your yours yourself about above after again against all am any because before below between both ' +
    'down during each few further more most s t ll re ve d m o y also let lets via per get got us'
  ).split(' '),
);

/**
 * Compatibility-normalise (full-width letters, ligatures), drop Latin combining accents so "café" meets "cafe",
 * recompose (so Hangul and other scripts keep their syllables), and lowercase with Unicode's locale-free mapping.
 */
export function normalizeText(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .normalize('NFC')
    .toLowerCase();
}

const WORD = /[\p{L}\p{N}]+/gu;

/** Words in order, minus stop-words and lone ASCII letters — unless that would leave nothing. */
export function contentWords(text: string): string[] {
  const words = normalizeText(text).match(WORD) ?? [];
  const kept = words.filter((w) => !STOP_WORDS.has(w) && !/^[a-z]$/.test(w));
  return kept.length > 0 ? kept : words;
}

/**
 * English plural folding ("indexes" → "index", "queries" → "query", "agents" → "agent") for word features only;
 * character grams see the word as written. Deliberately tiny: a real stemmer would be another thing to version.
 */
export function foldPlural(word: string): string {
  if (word.length <= 3 || !/^[a-z]+$/.test(word)) return word;
  if (word.endsWith('ies') && word.length > 4) return `${word.slice(0, -3)}y`;
  if (/(x|z|ch|sh|ss)es$/.test(word)) return word.slice(0, -2);
  if (word.endsWith('s') && !/(ss|us|is)$/.test(word)) return word.slice(0, -1);
  return word;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const KIND_UNIGRAM = 1;
const KIND_BIGRAM = 2;
const KIND_CHAR = 3;

function mixCode(h: number, code: number): number {
  return Math.imul(h ^ code, FNV_PRIME);
}

function mix(h: number, s: string, start: number, end: number): number {
  for (let i = start; i < end; i++) h = mixCode(h, s.charCodeAt(i));
  return h;
}

/** Murmur3's finaliser: FNV's low bits are weak, and we take buckets and signs from them. */
function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function wordHash(word: string): number {
  return finish(mix(mixCode(FNV_OFFSET, KIND_UNIGRAM), word, 0, word.length));
}

function count(map: FeatureCounts, key: number): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

export function extractFeatures(text: string): TextFeatures {
  const words = contentWords(text);
  const unigrams: FeatureCounts = new Map();
  const bigrams = new Map<number, [number, number, number]>();
  const chars = new Map<number, [number, number]>();
  const folded = words.map(foldPlural);
  const hashes = folded.map(wordHash);
  for (const h of hashes) count(unigrams, h);
  for (let i = 0; i + 1 < words.length; i++) {
    const a = folded[i]!;
    const b = folded[i + 1]!;
    let h = mix(mixCode(FNV_OFFSET, KIND_BIGRAM), a, 0, a.length);
    h = finish(mix(mixCode(h, 0x20), b, 0, b.length));
    const seen = bigrams.get(h);
    if (seen) seen[0]++;
    else bigrams.set(h, [1, hashes[i]!, hashes[i + 1]!]);
  }
  words.forEach((w, k) => {
    // Boundary marks make prefixes and suffixes their own grams; tokens never contain '<' or '>'.
    const padded = `<${w}>`;
    for (let n = 3; n <= 5; n++) {
      for (let i = 0; i + n <= padded.length; i++) {
        const h = finish(mix(mixCode(FNV_OFFSET, KIND_CHAR), padded, i, i + n));
        const seen = chars.get(h);
        if (seen) seen[0]++;
        else chars.set(h, [1, hashes[k]!]);
      }
    }
  });
  return { unigrams, bigrams, chars };
}

/** Bucket and sign come from disjoint bits of the hash, so colliding features cancel out on average. */
export function bucketOf(hash: number, dims: number): number {
  return (hash >>> 1) % dims;
}

export function signOf(hash: number): 1 | -1 {
  return (hash & 1) === 0 ? 1 : -1;
}

/** A 32-bit FNV-1a of bytes, as 8 hex digits: fingerprints, not security. */
export function fingerprint(bytes: Uint8Array): string {
  let h = FNV_OFFSET;
  for (const b of bytes) h = mixCode(h, b);
  return finish(h).toString(16).padStart(8, '0');
}
