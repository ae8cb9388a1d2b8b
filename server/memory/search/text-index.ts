/**
 * BM25 over memory text, via minisearch (BM25+ with k1 1.2, b 0.7, δ 0.5 unless overridden). Exact terms only by
 * default — no fuzzy, no prefix — because this side of relevance exists to catch the exact identifiers, names and
 * error codes an embedding blurs; fuzziness is the vector's job.
 *
 * Two departures from minisearch's own `score`, both so the number is plain BM25 and documented:
 *   - minisearch multiplies a result's score by the number of query terms it matched; we divide that back out.
 *   - a short English stop-word list is dropped at indexing and query time. Besides being noise for BM25, the
 *     words in nearly every memory make minisearch score nearly every memory (~1.5 µs per matching document
 *     measured), which alone would blow the 10 ms search budget at 100,000 memories.
 * Per query, scores are normalised to 0..1 by the best hit among the documents the caller accepts.
 */
import MiniSearch from 'minisearch';
import { TopK, type Scored } from './top-k';

export interface TextIndexOptions {
  /** minisearch fuzziness (edit distance, or a fraction of term length); off by default. */
  fuzzy?: number | false;
  /** Match query terms as prefixes; off by default. */
  prefix?: boolean;
  /** Words never indexed or searched (lower case). `false` keeps every word. Default: `STOP_WORDS`. */
  stopWords?: Iterable<string> | false;
  /** BM25 parameters (minisearch's BM25+): k1 saturation, b length normalisation, d the BM25+ floor. */
  bm25?: { k: number; b: number; d: number };
}

export interface TextHit {
  id: string;
  /** Raw BM25 summed over the query's terms. */
  bm25: number;
  /** bm25 / the best bm25 of this query's accepted hits: 0..1, the best hit is 1. */
  score: number;
}

export interface TextSearchOptions {
  /** Keep only the best `limit` hits (ties at the cut are broken by id, deterministically). */
  limit?: number;
  /** Documents that may be hit at all (a crew filter); rejected ones never reach scoring. */
  accept?: (id: string) => boolean;
}

export const STOP_WORDS: readonly string[] = [
  'a', 'about', 'after', 'all', 'also', 'am', 'an', 'and', 'any', 'are', 'as', 'at', 'be', 'because', 'been',
  'before', 'being', 'but', 'by', 'can', 'could', 'did', 'do', 'does', 'doing', 'for', 'from', 'had', 'has', 'have',
  'having', 'he', 'her', 'here', 'hers', 'him', 'his', 'how', 'i', 'if', 'in', 'into', 'is', 'it', 'its', 'just',
  'me', 'more', 'most', 'my', 'no', 'nor', 'of', 'on', 'once', 'only', 'or', 'other', 'our', 'ours', 'out', 'over',
  's', 'she', 'should', 'so', 'some', 'such', 't', 'than', 'that', 'the', 'their', 'theirs', 'them', 'then', 'there',
  'these', 'they', 'this', 'those', 'through', 'to', 'too', 'under', 'until', 'up', 'very', 'was', 'we', 'were',
  'what', 'when', 'where', 'which', 'while', 'who', 'whom', 'why', 'will', 'with', 'would', 'you', 'your', 'yours',
]; // prettier-ignore

interface Doc {
  id: string;
  text: string;
}

/** minisearch's own default split (whitespace, separators, punctuation), named so `terms` uses the same one. */
const SPACE_OR_PUNCTUATION = /[\n\r\p{Z}\p{P}]+/u;

export class TextIndex {
  private readonly ms: MiniSearch<Doc>;
  private readonly fuzzy: number | false;
  private readonly prefix: boolean;
  private readonly processTerm: (term: string) => string | null;

  constructor(options: TextIndexOptions = {}) {
    const stop = options.stopWords === false ? new Set<string>() : new Set(options.stopWords ?? STOP_WORDS);
    this.fuzzy = options.fuzzy ?? false;
    this.prefix = options.prefix ?? false;
    this.processTerm = (term) => {
      const t = term.toLowerCase();
      return t === '' || stop.has(t) ? null : t;
    };
    this.ms = new MiniSearch<Doc>({
      idField: 'id',
      fields: ['text'],
      storeFields: [],
      tokenize: (text) => text.split(SPACE_OR_PUNCTUATION),
      processTerm: this.processTerm,
      ...(options.bm25 ? { searchOptions: { bm25: options.bm25 } } : {}),
    });
  }

  get size(): number {
    return this.ms.documentCount;
  }

  has(id: string): boolean {
    return this.ms.has(id);
  }

  add(id: string, text: string): void {
    if (this.ms.has(id)) throw new Error(`text index: ${id} is already indexed`);
    this.ms.add({ id, text });
  }

  /**
   * Replace a document's text. Uses minisearch's discard (by id, no need for the old text): the old version
   * disappears from results at once; its postings are vacuumed later in the background.
   */
  update(id: string, text: string): void {
    if (!this.ms.has(id)) throw new Error(`text index: ${id} is not indexed`);
    this.ms.discard(id);
    this.ms.add({ id, text });
  }

  remove(id: string): boolean {
    if (!this.ms.has(id)) return false;
    this.ms.discard(id);
    return true;
  }

  /** The terms a query is searched by (after splitting, lower-casing and stop words); none means no lexical side. */
  terms(query: string): string[] {
    const out: string[] = [];
    for (const raw of query.split(SPACE_OR_PUNCTUATION)) {
      const t = this.processTerm(raw);
      if (t !== null) out.push(t);
    }
    return out;
  }

  search(query: string, options: TextSearchOptions = {}): TextHit[] {
    const accept = options.accept;
    const raw = this.ms.search(query, {
      fuzzy: this.fuzzy,
      prefix: this.prefix,
      combineWith: 'OR',
      // A falsy boost skips the document before minisearch builds a result for it (documented behaviour).
      ...(accept ? { boostDocument: (id: unknown) => (accept(id as string) ? 1 : 0) } : {}),
    });
    // Undoing the match-count factor can reorder hits, so select on our own key (bounded, with the id tie-break)
    // rather than trusting minisearch's order.
    const top = new TopK<Scored>(Math.min(options.limit ?? raw.length, raw.length));
    for (const r of raw) {
      const id = r.id as string;
      const bm25 = r.score / Math.max(1, r.queryTerms.length);
      if (top.accepts(bm25, id)) top.offer({ id, score: bm25 });
    }
    const kept = top.drain();
    const best = kept[0]?.score ?? 0;
    return kept.map((h) => ({ id: h.id, bm25: h.score, score: best > 0 ? h.score / best : 0 }));
  }
}
