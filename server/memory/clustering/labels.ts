/**
 * Cluster labels by class-based TF-IDF (c-TF-IDF), as in BERTopic: all texts of a cluster are treated as one
 * document, and a term scores high when it is frequent in that cluster and rare across clusters.
 *
 *   W(t, c) = tf(t, c) · log(1 + A / f(t))
 *
 * where tf(t, c) is the frequency of term t in cluster c, L1-normalised over the cluster's terms; f(t) the
 * frequency of t summed over all clusters; A the average number of words per cluster. Source: M. Grootendorst,
 * "BERTopic: Neural topic modeling with a class-based TF-IDF procedure", arXiv:2203.05794 (2022), §3.3, and
 * BERTopic's ClassTfidfTransformer (idf = log(avg_nr_samples / df + 1), rows normalised with norm='l1').
 *
 * The tokeniser is our own, not the hashing embedder's: labels are read by people, so they keep accents and a
 * longer stop list, and changing them never invalidates a stored vector.
 */

export interface LabelTerm {
  term: string;
  weight: number;
}

// English function words plus words too generic to name a topic ("using", "new", "thing").
const STOP_WORDS = new Set(
  (
    'a about above across after again against all almost along already also although always am among an and ' +
    'another any anyone anything are around as at back be became because become been before being below between ' +
    'both but by can cannot could did do does doing done down during each either else enough etc even ever every ' +
    'few first for from further get gets getting got had has have having he her here hers herself him himself his ' +
    'how however i if in into is it its itself just last least less let lets like made make makes many may me ' +
    'might more most much must my myself neither never new next no nor not now of off often on once one only ' +
    'onto or other others our ours ourselves out over own per perhaps quite rather really same see seen she ' +
    'should since so some something still such than that the their theirs them themselves then there these they ' +
    'thing things this those though through thus to too two under until up upon us use used uses using very via ' +
    'was way we well were what whatever when where whether which while who whom whose why will with within ' +
    'without would yet you your yours yourself yourselves ll re ve don doesn didn isn wasn aren won can t s d m'
  ).split(' '),
);

// Hyphenated words stay whole ("k-means"); apostrophes split, so "team's" gives "team" and a stop-word "s".
const WORD = /[\p{L}\p{N}]+(?:-[\p{L}\p{N}]+)*/gu;

/** Lower-cased words, minus stop-words, one-character words and plain numbers. */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  for (const m of text.toLowerCase().matchAll(WORD)) {
    const w = m[0];
    if (w.length < 2 || STOP_WORDS.has(w) || /^[\d-]+$/u.test(w)) continue;
    out.push(w);
  }
  return out;
}

export interface ClassTfIdfOptions {
  /** Terms kept per cluster. */
  topN?: number;
}

/**
 * Top terms per cluster. `clusters[c]` holds the texts of cluster c. Ties are broken alphabetically so labels are
 * deterministic.
 */
export function classTfIdf(clusters: readonly (readonly string[])[], options: ClassTfIdfOptions = {}): LabelTerm[][] {
  const topN = options.topN ?? 8;
  const perCluster: Map<string, number>[] = [];
  const totals: number[] = [];
  const overall = new Map<string, number>();
  for (const texts of clusters) {
    const tf = new Map<string, number>();
    let total = 0;
    for (const text of texts) {
      for (const w of tokenize(text)) {
        tf.set(w, (tf.get(w) ?? 0) + 1);
        overall.set(w, (overall.get(w) ?? 0) + 1);
        total++;
      }
    }
    perCluster.push(tf);
    totals.push(total);
  }
  const avgWords = totals.reduce((a, b) => a + b, 0) / Math.max(1, clusters.length);
  return perCluster.map((tf, c) => {
    const terms: LabelTerm[] = [];
    for (const [term, count] of tf) {
      const weight = (count / totals[c]!) * Math.log(1 + avgWords / overall.get(term)!);
      terms.push({ term, weight });
    }
    terms.sort((a, b) => b.weight - a.weight || (a.term < b.term ? -1 : a.term > b.term ? 1 : 0));
    return terms.slice(0, topN);
  });
}

/** A short human label: the first few terms, e.g. "query, index, postgres". */
export function labelFromTerms(terms: readonly LabelTerm[], count = 3): string {
  return terms.length > 0
    ? terms
        .slice(0, count)
        .map((t) => t.term)
        .join(', ')
    : '(no terms)';
}
