/** Percentiles and printing shared by the benchmarks. */
export function percentile(samples: number[], q: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}

export function ms(n: number): string {
  return `${n.toFixed(3)} ms`;
}

export interface Row {
  name: string;
  figure: string;
  baseline: string;
  ratio: string;
  goal: string;
  pass: boolean;
}

export function printTable(rows: Row[]): void {
  const cols: (keyof Row)[] = ['name', 'figure', 'baseline', 'ratio', 'goal'];
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(width[i]!)).join('  ');
  console.log(line([...cols, 'ok']));
  for (const r of rows) console.log(line([...cols.map((c) => String(r[c])), r.pass ? 'PASS' : 'MISS']));
}

export async function timeEach(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}

/**
 * Latencies of `base` and `ours`, alternated call by call so drift in the machine's load hits both series alike.
 */
export async function alternate(
  pairs: number,
  base: () => Promise<unknown>,
  ours: () => Promise<unknown>,
): Promise<{ base: number[]; ours: number[] }> {
  const out = { base: [] as number[], ours: [] as number[] };
  for (let i = 0; i < pairs; i++) {
    let t = performance.now();
    await base();
    out.base.push(performance.now() - t);
    t = performance.now();
    await ours();
    out.ours.push(performance.now() - t);
  }
  return out;
}

/** Prints the table and whether every goal was met (the last lines of every benchmark). */
export function finish(rows: Row[]): void {
  console.log('');
  printTable(rows);
  const missed = rows.filter((r) => !r.pass).length;
  console.log(missed ? `\n${missed} goal(s) missed` : '\nall goals met');
}

/** Calls completed per second by `inFlight` workers calling `fn` back to back for `seconds`. */
export async function throughput(fn: () => Promise<unknown>, seconds: number, inFlight = 64): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let done = 0;
  const worker = async () => {
    while (performance.now() < end) {
      await fn();
      done++;
    }
  };
  const t = performance.now();
  await Promise.all(Array.from({ length: inFlight }, worker));
  return done / ((performance.now() - t) / 1000);
}

/**
 * Throughput of `direct` and `ours` after a warm-up each, in two alternating rounds averaged, so neither side
 * profits from running second (warmer JIT, caches).
 */
export async function compareThroughput(
  direct: () => Promise<unknown>,
  ours: () => Promise<unknown>,
  seconds: number,
): Promise<{ baseRate: number; ourRate: number }> {
  await throughput(direct, 1);
  await throughput(ours, 1);
  let baseRate = 0;
  let ourRate = 0;
  for (let round = 0; round < 2; round++) {
    baseRate += (await throughput(direct, seconds / 2)) / 2;
    ourRate += (await throughput(ours, seconds / 2)) / 2;
  }
  return { baseRate, ourRate };
}
