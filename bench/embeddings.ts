/**
 * Embedding throughput (issue 3). Run: `node --import tsx bench/embeddings.ts` (~10 s; stops by itself).
 *   1. USE lite model load (import of TensorFlow.js + weights from node_modules)      goal ≤ 2 s
 *   2. local neural, batches of 32, ~500 sentences                                      goal ≥ 25 sentences/s
 *   3. local neural, one query sentence at a time (the search path)                     goal ≤ 50 ms p50
 *   4. hashing TF-IDF, ~500 sentences                                                   goal ≥ 5,000 sentences/s
 * The local rows print the hashing embedder as their baseline: what the fallback would cost instead.
 */
import os from 'node:os';
import { HashingEmbedder } from '../server/memory/embeddings/hashing';
import { LocalNeuralEmbedder } from '../server/memory/embeddings/local-neural';
import { finish, percentile, timeEach, type Row } from './stats';

const SUBJECTS = ['The planner agent', 'Our crew', 'The reviewer', 'A user', 'The billing job', 'The researcher'];
const VERBS = ['noted that', 'asked whether', 'reported that', 'decided that', 'remembered that', 'found that'];
const OBJECTS = [
  'the Postgres index on events is slow',
  'monthly spend on Claude went over budget',
  'French answers should stay short',
  'the Docker image grew past two gigabytes',
  'lunch on Friday moves to noon',
  'retries must honour Retry-After',
  'embeddings are cached per memory',
  'the CI pipeline flakes on Windows',
];

function sentences(n: number): string[] {
  return Array.from(
    { length: n },
    (_, i) =>
      `${SUBJECTS[i % SUBJECTS.length]} ${VERBS[(i >> 1) % VERBS.length]} ${OBJECTS[(i * 7) % OBJECTS.length]} (#${i}).`,
  );
}

async function bestRate(texts: string[], runs: number, embed: (t: string[]) => Promise<unknown>): Promise<number> {
  const times = await timeEach(runs, () => embed(texts));
  return texts.length / (Math.min(...times) / 1000);
}

const rate = (n: number) => `${Math.round(n).toLocaleString('en-US')} sentences/s`;

async function main(): Promise<void> {
  console.log(`crew embeddings bench — node ${process.version}, ${os.cpus().length} cores`);
  const texts = sentences(500);
  const rows: Row[] = [];

  const hashing = new HashingEmbedder();
  await hashing.embed(texts.slice(0, 50));
  const hashRate = await bestRate(texts, 5, (t) => hashing.embed(t));

  const local = new LocalNeuralEmbedder();
  const t0 = performance.now();
  await local.ready();
  const loadMs = performance.now() - t0;
  rows.push({
    name: 'USE lite load',
    figure: `${Math.round(loadMs)} ms`,
    baseline: '-',
    ratio: '-',
    goal: '≤ 2000 ms',
    pass: loadMs <= 2000,
  });

  await local.embed(texts.slice(0, 32));
  const localRate = await bestRate(texts, 2, (t) => local.embed(t));
  rows.push({
    name: `local-use-lite@512, batches of ${local.batchSize}`,
    figure: rate(localRate),
    baseline: rate(hashRate),
    ratio: `${(hashRate / localRate).toFixed(0)}× slower`,
    goal: '≥ 25 sentences/s',
    pass: localRate >= 25,
  });

  const single = await timeEach(
    40,
    (() => {
      let i = 0;
      return () => local.embed([texts[i++]!]);
    })(),
  );
  const p50 = percentile(single, 0.5);
  rows.push({
    name: 'local-use-lite@512, one query',
    figure: `${p50.toFixed(1)} ms p50, ${percentile(single, 0.95).toFixed(1)} ms p95`,
    baseline: `${(1000 / hashRate).toFixed(3)} ms`,
    ratio: '-',
    goal: '≤ 50 ms p50',
    pass: p50 <= 50,
  });

  rows.push({
    name: `${hashing.id}`,
    figure: rate(hashRate),
    baseline: '-',
    ratio: '-',
    goal: '≥ 5,000 sentences/s',
    pass: hashRate >= 5000,
  });

  finish(rows);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
