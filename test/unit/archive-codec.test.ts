/**
 * Archive codec (issue 3): records come back byte-identical (quotes, brackets, URLs, emoji, lone surrogates,
 * 100 KB bodies, metadata and history); a truncated file, any flipped byte, a wrong checksum, a bad magic number or
 * an unknown version is refused with a named reason and nothing returned; values JSON would change are refused at
 * encode time; files are named by checksum and verified on read; typical memories compress ≥ 5× at ≥ 10,000/s.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ArchiveError,
  decodeArchive,
  encodeArchive,
  readArchiveFile,
  verifyArchive,
  writeArchiveFile,
  type ArchiveErrorReason,
} from '../../server/memory/archive/codec';
import { createRng } from '../../server/memory/clustering/vectors';

// The project's seeded PRNG, so the generated memories are the same on every run.
const rng = createRng;

const SUBJECTS = [
  'The deploy script',
  'Our staging database',
  'The billing service',
  'Priya from the data team',
  'The nightly export',
  'The customer in Lisbon',
  'The research agent',
  'The API gateway',
  'Marco',
  'The onboarding flow',
  'The search index',
  'The marketing site',
  'The on-call rotation',
  'The finance team',
  'The scraper',
  'The mobile app',
  'Our OpenRouter key',
  'The summariser agent',
  'The CI pipeline',
  'The vendor contract',
  'The support inbox',
  'The pricing page',
  'Ana',
  'The weekly report',
  'The embeddings job',
  'The legal review',
  'The invoice parser',
  'The product roadmap',
];
const VERBS = [
  'failed because',
  'now requires',
  'prefers',
  'was migrated to',
  'should not be retried when',
  'reported that',
  'takes about',
  'depends on',
  'stopped working after',
  'was fixed by',
  'must be checked before',
  'is blocked until',
  'asked us to remember that',
  'works best with',
  'was rolled back after',
  'needs approval for',
  'is cheaper with',
  'times out when',
  'was rewritten to use',
  'gets confused by',
];
const OBJECTS = [
  'the TLS certificate on the load balancer expired',
  'a token with the read:org scope',
  'weekly summaries in plain English instead of tables',
  'Postgres 16 on the new cluster',
  'the upstream answers 429 with a Retry-After header',
  'invoices in EUR rounded to two decimals',
  'the staging bucket being emptied every Sunday',
  'a context window of at least 128k tokens',
  'dates written as DD/MM/YYYY in the spreadsheets',
  'the cheaper model for first drafts',
  'a manual review of anything mentioning refunds',
  'the cache being warmed before 9am',
  'two-factor codes sent by SMS, which arrive late',
  'the old endpoint that returns XML',
  'retries with exponential backoff capped at 30 seconds',
  'questions about the enterprise plan',
  'the feature flag "new-checkout" turned on for 10% of users',
  'a CSV export with semicolons as separators',
  'the quarterly board deck',
  'customer names in the logs, which must be redacted',
  'long PDFs that need splitting into chapters',
  'the Slack channel #ops-alerts rather than email',
  'a budget of $200 per month for experiments',
  'the translation memory for Portuguese',
];
const TAILS = [
  '',
  '',
  '',
  ' last Tuesday',
  ' according to the incident report',
  ', which cost us about $N in credits',
  ' before the release on DATE',
  ' (see URL)',
  ' — confirmed twice',
  ' in the EU region only',
  ' since version 2.N',
  ' until the migration finishes',
  ', so double-check with the owner first',
];
const TAGS = [
  'ops',
  'billing',
  'customer',
  'preference',
  'incident',
  'infra',
  'legal',
  'pricing',
  'research',
  'deadline',
  'security',
  'data',
  'models',
  'support',
  'roadmap',
  'finance',
  'i18n',
  'ci',
];

function sentence(r: () => number): string {
  const pick = <T>(a: readonly T[]) => a[Math.floor(r() * a.length)]!;
  const tail = pick(TAILS)
    .replace('N', String(Math.floor(r() * 900) + 10))
    .replace('DATE', `2026-0${1 + Math.floor(r() * 9)}-${10 + Math.floor(r() * 18)}`)
    .replace(
      'URL',
      `https://github.com/acme/${pick(['api', 'web', 'infra', 'agents'])}/issues/${Math.floor(r() * 4000)}`,
    );
  return `${pick(SUBJECTS)} ${pick(VERBS)} ${pick(OBJECTS)}${tail}.`;
}

/** A memory record as the memory service keeps one: content, metadata, history. */
function memory(i: number, r: () => number): Record<string, unknown> {
  const created = Date.UTC(2026, 0, 1) + Math.floor(r() * 300 * 86_400_000);
  const agents = ['planner', 'researcher', 'writer', 'reviewer', 'ops-bot'];
  const history: Record<string, unknown>[] = [
    { at: new Date(created).toISOString(), op: 'created', by: agents[i % 5] },
  ];
  for (let h = Math.floor(r() * 4); h > 0; h--)
    history.push({
      at: new Date(created + Math.floor(r() * 3e9)).toISOString(),
      op: r() < 0.7 ? 'accessed' : 'updated',
      by: agents[Math.floor(r() * 5)],
    });
  return {
    id: `mem_${Math.floor(r() * 36 ** 10)
      .toString(36)
      .padStart(10, '0')}`,
    crewId: `crew-${['alpha', 'support', 'growth', 'research'][i % 4]}`,
    agentId: agents[Math.floor(r() * 5)],
    kind: ['fact', 'episode', 'preference', 'decision'][Math.floor(r() * 4)],
    content: Array.from({ length: 1 + Math.floor(r() * 4) }, () => sentence(r)).join(' '),
    tags: Array.from({ length: 1 + Math.floor(r() * 3) }, () => TAGS[Math.floor(r() * TAGS.length)]),
    importance: Math.round(r() * 100) / 100,
    accessCount: Math.floor(r() * 40),
    createdAt: new Date(created).toISOString(),
    updatedAt: new Date(created + Math.floor(r() * 1e9)).toISOString(),
    embedder: 'local-use-lite@512',
    source: { type: 'run', runId: `run_${Math.floor(r() * 1e9)}`, model: 'anthropic/claude-sonnet-4' },
    history,
  };
}

function typicalMemories(n: number, seed = 1): Record<string, unknown>[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => memory(i, r));
}

const TRICKY: Record<string, unknown>[] = [
  {
    id: 'quotes',
    content: 'She said "don\'t" — then `rm -rf /tmp/*`; {"json": [1, 2, {"a": null}]} \\ back\\slash \\"',
    tags: ['[brackets]', '{braces}', '<angle>'],
  },
  {
    id: 'urls',
    content: 'See https://example.com/a?b=1&c=%20d#frag and file:///C:/Users/x y/z.txt and mailto:a@b.c',
    meta: { url: 'https://openrouter.ai/api/v1/chat/completions?x="1"' },
  },
  { id: 'emoji', content: '🚀 déjà vu — 日本語のテキスト 👩🏽‍💻 family: 👨‍👩‍👧‍👦 flags: 🇵🇹 math: 𝔸𝔹ℂ', tags: ['🏷️'] },
  {
    id: 'controls',
    content: 'tab\there\nnewline\r\nCRLF \u0000 nul \u001f unit-sep \u2028 line-sep \u2029 para-sep \u007f',
  },
  { id: 'lone-surrogates', content: 'high \ud800 alone, low \udc00 alone, reversed \udc00\ud800, end \ud83d' },
  { id: 'big', content: 'x'.repeat(50_000) + sentence(rng(9)).repeat(2000).slice(0, 50_000), size: 100_000 },
  {
    id: 'nested',
    content: '',
    metadata: { numbers: [0, 1.5, -2, 1e21, 5e-324, Number.MAX_SAFE_INTEGER], flags: [true, false, null], empty: {} },
    history: [
      { at: '2026-03-01T10:00:00.000Z', op: 'created', by: 'planner', diff: null },
      { at: '2026-03-02T10:00:00.000Z', op: 'updated', by: 'writer', diff: { content: ['old', 'new'] } },
    ],
  },
];

async function refused(bytes: Uint8Array, reason: ArchiveErrorReason | undefined, expectedSha?: string): Promise<void> {
  let result: unknown;
  try {
    result = await decodeArchive(bytes, expectedSha);
  } catch (e) {
    assert.ok(e instanceof ArchiveError, `expected an ArchiveError, got ${String(e)}`);
    if (reason) assert.equal(e.reason, reason, e.message);
    return;
  }
  assert.fail(`a damaged archive was decoded (${(result as { records: unknown[] }).records.length} records)`);
}

describe('archive codec', () => {
  it('round-trips records byte-identically, metadata and history included', async () => {
    const records = [...TRICKY, ...typicalMemories(50)];
    const meta = {
      crewId: 'crew-alpha',
      policy: { olderThanDays: 90, minImportance: 0.2 },
      createdAt: '2026-05-01T00:00:00.000Z',
    };
    const archive = await encodeArchive(records, meta);
    assert.equal(archive.count, records.length);
    assert.equal(archive.bytesOut, archive.bytes.length);
    assert.equal(archive.sha256, createHash('sha256').update(archive.bytes).digest('hex'));
    const decoded = await decodeArchive(archive.bytes, archive.sha256);
    assert.deepEqual(decoded.meta, meta);
    assert.deepEqual(decoded.records, records);
    for (let i = 0; i < records.length; i++) {
      const before = (records[i] as { content: string }).content;
      const after = (decoded.records[i] as { content: string }).content;
      assert.ok(before === after, `content of record ${i} changed`);
      // Same UTF-16 code units ⇒ same bytes in any encoding; checked in UTF-16 because UTF-8 cannot hold a lone
      // surrogate (Node would write U+FFFD for both sides and hide a difference).
      assert.ok(Buffer.from(before, 'utf16le').equals(Buffer.from(after, 'utf16le')));
    }
    const lone = (decoded.records[4] as { content: string }).content;
    assert.equal(lone.charCodeAt(5), 0xd800);
    assert.equal((decoded.records[5] as { content: string }).content.length, 100_000);
  });

  it('round-trips an empty archive', async () => {
    const archive = await encodeArchive([], { note: 'nothing cold' });
    assert.deepEqual(await decodeArchive(archive.bytes, archive.sha256), {
      meta: { note: 'nothing cold' },
      records: [],
    });
  });

  it('stores a payload too small to compress as it is (flag 1), and still reads and verifies it', async () => {
    const tiny = [{ id: 'm1', content: 'ok' }];
    const small = await encodeArchive(tiny, {});
    assert.equal(small.bytes.readUInt16BE(10), 1, 'the STORED flag');
    const raw = Buffer.from(JSON.stringify(tiny[0]), 'utf8');
    assert.equal(small.bytesIn, raw.length);
    // The payload is the record's JSON itself: no brotli framing on top of it.
    assert.ok(small.bytes.subarray(small.bytes.length - raw.length).equals(raw));
    assert.deepEqual((await decodeArchive(small.bytes, small.sha256)).records, tiny);
    // A flipped payload byte is still caught (the digest covers the stored payload as it covers a compressed one).
    const bad = Buffer.from(small.bytes);
    bad[bad.length - 2]! ^= 0x01;
    await assert.rejects(decodeArchive(bad), { name: 'ArchiveError', reason: 'checksum-mismatch' });
    // Text that compresses keeps being compressed.
    const many = Array.from({ length: 50 }, (_, i) => ({ id: `m${i}`, content: 'the same words again and again' }));
    assert.equal((await encodeArchive(many, {})).bytes.readUInt16BE(10), 0);
  });

  it('refuses values JSON would silently change, naming the record and field', async () => {
    class Memory {
      content = 'x';
    }
    const cases: [unknown, RegExp][] = [
      [{ id: 'a', score: NaN }, /record 0 \(id "a"\): field "score" is NaN/],
      [{ id: 'a', score: Infinity }, /field "score" is Infinity/],
      [{ id: 'a', delta: -0 }, /field "delta" is -0/],
      [{ id: 'a', gone: undefined }, /field "gone" is undefined/],
      [{ id: 'a', list: [1, undefined] }, /field "1" is undefined/],
      [{ id: 'a', when: new Date(0) }, /field "when" is an object with toJSON/],
      [{ id: 'a', big: 10n }, /field "big" is a bigint/],
      [{ id: 'a', map: new Map([[1, 2]]) }, /field "map" is a Map/],
      [new Memory(), /the value is a Memory/],
      [{ id: 'a', [Symbol('s')]: 1 }, /has symbol keys/],
      [{ id: 'a', fn: () => 1 }, /field "fn" is a function/],
    ];
    for (const [record, message] of cases) {
      await assert.rejects(encodeArchive([record], {}), (e: unknown) => {
        assert.ok(e instanceof ArchiveError && e.reason === 'unsupported-value', String(e));
        assert.match(e.message, message);
        return true;
      });
    }
    await assert.rejects(encodeArchive([{ id: 'x' }], { at: new Date(0) }), /the archive meta/);
    await assert.rejects(encodeArchive([], {}, { quality: 11 }), RangeError);
  });

  it('refuses a truncated archive at every length, saying it is truncated', async () => {
    const { bytes } = await encodeArchive(typicalMemories(40), { crewId: 'c' });
    const cuts = [0, 1, 7, 8, 9, 20, 67, 68, 69, 100, Math.floor(bytes.length / 2), bytes.length - 1];
    for (const cut of cuts) await refused(bytes.subarray(0, cut), 'truncated');
  });

  it('refuses an archive with any one byte flipped, and never returns part of it', async () => {
    const { bytes } = await encodeArchive(typicalMemories(3), { crewId: 'c' });
    for (let i = 0; i < bytes.length; i++) {
      const damaged = Buffer.from(bytes);
      damaged[i]! ^= 0x01 << (i % 8);
      await refused(damaged, undefined);
    }
    // In the payload, the digest catches it before brotli ever sees the bytes.
    const damaged = Buffer.from(bytes);
    damaged[bytes.length - 10]! ^= 0xff;
    await refused(damaged, 'checksum-mismatch');
  });

  it('refuses a wrong expected checksum, a bad magic number, an unknown version, a wrong record count', async () => {
    const archive = await encodeArchive(typicalMemories(5), {});
    await refused(archive.bytes, 'checksum-mismatch', '0'.repeat(64));
    const notOurs = Buffer.from(archive.bytes);
    notOurs.write('PK', 0, 'latin1');
    await refused(notOurs, 'bad-magic');
    const future = Buffer.from(archive.bytes);
    future.writeUInt16BE(2, 8);
    await refused(future, 'unknown-version');
    // A header whose count disagrees with the payload but whose digest was recomputed (a buggy writer): still caught.
    const miscounted = Buffer.from(archive.bytes);
    miscounted.writeUInt32BE(6, 12);
    createHash('sha256')
      .update(miscounted.subarray(0, 36))
      .update(miscounted.subarray(68))
      .digest()
      .copy(miscounted, 36);
    await refused(miscounted, 'count-mismatch');
  });

  it('verifies a read-back archive against the records it was made from', async () => {
    const records = typicalMemories(20);
    const archive = await encodeArchive(records, {});
    await verifyArchive(archive.bytes, archive.sha256, records);
    const changed = structuredClone(records);
    changed[7]!.accessCount = -1;
    await assert.rejects(verifyArchive(archive.bytes, archive.sha256, changed), /record 7 .* does not read back/);
  });

  describe('files', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'crew-archive-'));
    });
    afterEach(async () => {
      await fsp.rm(dir, { recursive: true, force: true });
    });

    it('writes <sha256>.crewarc durably (0600, no temp file left) and reads it back verified', async () => {
      const records = typicalMemories(30);
      const archive = await encodeArchive(records, { crewId: 'c' });
      const sub = path.join(dir, 'archives');
      const written = await writeArchiveFile(sub, archive.bytes);
      assert.equal(written.path, path.join(sub, `${archive.sha256}.crewarc`));
      assert.equal(written.sha256, archive.sha256);
      assert.deepEqual(await fsp.readdir(sub), [`${archive.sha256}.crewarc`]);
      if (process.platform !== 'win32') assert.equal((await fsp.stat(written.path)).mode & 0o777, 0o600);
      const back = await readArchiveFile(sub, archive.sha256);
      assert.ok(back.equals(archive.bytes));
      assert.deepEqual((await verifyArchive(back, archive.sha256, records)).records, records);
      // Writing the same archive again is a no-op with the same answer.
      assert.deepEqual(await writeArchiveFile(sub, archive.bytes), written);
    });

    it('reports a damaged, truncated or missing file on read', async () => {
      const archive = await encodeArchive(typicalMemories(30), {});
      const { path: file } = await writeArchiveFile(dir, archive.bytes);
      const bytes = Buffer.from(archive.bytes);
      bytes[bytes.length - 5]! ^= 0x10;
      await fsp.writeFile(file, bytes);
      await assert.rejects(readArchiveFile(dir, archive.sha256), { name: 'ArchiveError', reason: 'checksum-mismatch' });
      await fsp.writeFile(file, archive.bytes.subarray(0, archive.bytes.length - 100));
      await assert.rejects(readArchiveFile(dir, archive.sha256), { name: 'ArchiveError', reason: 'truncated' });
      await fsp.rm(file);
      await assert.rejects(readArchiveFile(dir, archive.sha256), { name: 'ArchiveError', reason: 'not-found' });
      await assert.rejects(readArchiveFile(dir, '../../etc/passwd'), RangeError);
    });
  });

  it("compresses typical memories ≥ 5× (the speed goal is bench/memory-cluster-archive.ts's; printed here)", async () => {
    const records = typicalMemories(10_000, 7);
    await encodeArchive(records.slice(0, 500), {}); // warm up the JIT
    const t0 = performance.now();
    const archive = await encodeArchive(records, { crewId: 'crew-alpha' });
    const encodeMs = performance.now() - t0;
    const t1 = performance.now();
    const decoded = await decodeArchive(archive.bytes, archive.sha256);
    const decodeMs = performance.now() - t1;
    assert.equal(decoded.records.length, records.length);
    const perSecond = (records.length / encodeMs) * 1000;
    console.log(
      `      10,000 memories, ${(archive.bytesIn / 1e6).toFixed(2)} MB → ${(archive.bytesOut / 1e6).toFixed(2)} MB: ` +
        `ratio ${archive.ratio.toFixed(2)}×; encode ${encodeMs.toFixed(0)} ms (${Math.round(perSecond)} memories/s, ` +
        `${(archive.bytesIn / 1e3 / encodeMs).toFixed(1)} MB/s); decode ${decodeMs.toFixed(0)} ms`,
    );
    assert.ok(archive.ratio >= 5, `ratio ${archive.ratio.toFixed(2)} < 5`);
  });
});
