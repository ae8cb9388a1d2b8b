/**
 * Agreement between two clusterings, for tests and benchmarks that know the true topics. Lives beside the code it
 * judges so a benchmark and a test measure recovery the same way.
 */

/**
 * Adjusted Rand index (Hubert & Arabie, 1985): 1 for identical partitions (whatever the cluster names), about 0 for
 * chance-level agreement, negative for worse than chance. Same convention as scikit-learn's adjusted_rand_score,
 * including 1 when both partitions are trivial (everything in one cluster, or every point alone).
 */
export function adjustedRandIndex(truth: readonly number[], predicted: readonly number[]): number {
  if (truth.length !== predicted.length) throw new RangeError('partitions of different lengths');
  const n = truth.length;
  const pairs = (x: number) => (x * (x - 1)) / 2;
  const cells = new Map<string, number>();
  const rows = new Map<number, number>();
  const cols = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const a = truth[i]!;
    const b = predicted[i]!;
    cells.set(`${a}\u0000${b}`, (cells.get(`${a}\u0000${b}`) ?? 0) + 1);
    rows.set(a, (rows.get(a) ?? 0) + 1);
    cols.set(b, (cols.get(b) ?? 0) + 1);
  }
  let index = 0;
  for (const c of cells.values()) index += pairs(c);
  let sumRows = 0;
  for (const r of rows.values()) sumRows += pairs(r);
  let sumCols = 0;
  for (const c of cols.values()) sumCols += pairs(c);
  const expected = (sumRows * sumCols) / pairs(n);
  const max = (sumRows + sumCols) / 2;
  if (max === expected) return 1;
  return (index - expected) / (max - expected);
}
