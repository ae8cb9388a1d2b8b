/**
 * What ChatService records per call for the savings recommendations: the system prefix (hash and scaled tokens),
 * the completion-token histogram, and the per-day aggregates file (cache writes told by the gap since the previous
 * call, debounced durable writes, reopening, pruning past 400 days, a damaged file set aside). Also the
 * `cache_control` breakpoint the OpenRouter client puts on the system prompt.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChatMessage } from '../../protocol';
import { bucketUpperBound, histogramQuantile, systemPrefix, tokenBucket } from '../../server/costs/call-profiles';
import { withCacheBreakpoint } from '../../server/openrouter/client';
import { CALL_PROFILES_FILE, FileCallProfileRepository } from '../../server/store/call-profile-store';
import { StoreFileCorrupt } from '../../server/store/corrupt';
import type { CallShape } from '../../server/store/repositories';

const T = (iso: string) => Date.parse(iso);
const MIN = 60_000;
const DAY = 86_400_000;

describe('call profiles', () => {
  describe('systemPrefix', () => {
    const long = 'You are a careful analyst. '.repeat(100); // 2700 bytes
    const msgs = (system: string[], user: string): ChatMessage[] => [
      ...system.map((content) => ({ role: 'system' as const, content })),
      { role: 'user', content: user },
    ];

    it("scales the call's real prompt tokens by the prefix's share of the bytes", () => {
      const user = 'x'.repeat(300); // 2700 / 3000 bytes = 90 % of the prompt
      const p = systemPrefix(msgs([long], user), 2000);
      assert.ok(p);
      assert.equal(p.tokens, 1800); // 2000 × 2700 / 3000
      assert.match(p.sha256, /^[0-9a-f]{32}$/);
    });

    it('hashes the first (system) message only: later messages, memories included, do not change it', () => {
      const a = systemPrefix(msgs([long, 'Memories: A, B.'], 'first question'), 3000)!;
      const b = systemPrefix(msgs([long, 'Memories: C.'], 'a different, longer second question'), 3000)!;
      const c = systemPrefix(msgs([long + ' Be brief.'], 'first question'), 3000)!;
      assert.equal(a.sha256, b.sha256);
      assert.notEqual(a.sha256, c.sha256);
      // Its share of the bytes counts every message: 2700 of 2700 + 15 + 14.
      assert.equal(a.tokens, Math.round((3000 * 2700) / (2700 + 15 + 14)));
      // A system message after the user's is not a system prompt.
      const late: ChatMessage[] = [
        { role: 'user', content: 'hi' },
        { role: 'system', content: long },
      ];
      assert.equal(systemPrefix(late, 1000), null);
    });

    it('is null when the prefix cannot reach 1024 tokens', () => {
      assert.equal(systemPrefix(msgs(['short system prompt'], 'hello'), 5000), null);
      // 1100 bytes, but scaled to 1100 × 1100/2200 = 550 real tokens: too few to be cached.
      assert.equal(systemPrefix(msgs(['y'.repeat(1100)], 'z'.repeat(1100)), 1100), null);
    });
  });

  describe('completion histogram', () => {
    it('buckets are quarter-doublings and the quantile is the bucket’s upper bound, capped at the max', () => {
      assert.equal(tokenBucket(0), 0);
      assert.equal(tokenBucket(1), 1);
      assert.equal(tokenBucket(16), 17); // 1 + 4 × log2(16)
      // 200: 4 × log2(200) = 30.58, bucket 31 = [2^7.5, 2^7.75) = [181.02, 215.27)
      assert.equal(tokenBucket(200), 31);
      assert.equal(bucketUpperBound(31), 215);
      for (let t = 1; t < 5000; t++) assert.ok(bucketUpperBound(tokenBucket(t)) >= t, `bound below ${t}`);
      const h: Record<string, number> = {};
      for (let i = 0; i < 95; i++) h[tokenBucket(200)] = (h[tokenBucket(200)] ?? 0) + 1;
      h[tokenBucket(3000)] = 5;
      assert.equal(histogramQuantile(h, 0.95, 3000), 215);
      assert.equal(histogramQuantile(h, 0.96, 3000), 3000);
      assert.equal(histogramQuantile({ [tokenBucket(16)]: 10 }, 0.95, 16), 16);
    });
  });

  describe('FileCallProfileRepository', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'crew-unit-profiles-'));
    });
    afterEach(async () => {
      await fsp.rm(dir, { recursive: true, force: true });
    });

    const shape = (at: number, extra: Partial<CallShape> = {}): CallShape => ({
      at,
      crew: 'ops',
      agent: 'ops/writer',
      model: 'm/x',
      maxTokens: 1000,
      completionTokens: 100,
      cachedTokens: 0,
      prefix: { sha256: 'a'.repeat(32), tokens: 1500 },
      ...extra,
    });

    it('aggregates per day and counts a cache write for each call more than 5 minutes after the previous one', async () => {
      const repo = await FileCallProfileRepository.open(dir, { debounceMs: 60_000 });
      const t0 = T('2026-03-09T23:50:00Z');
      // 23:50 (write: first), 23:54 (read), 23:59:30 (write: 5.5 min), 00:03 (read, across midnight), 00:20 (write)
      for (const at of [t0, t0 + 4 * MIN, t0 + 9.5 * MIN, t0 + 13 * MIN, t0 + 30 * MIN])
        repo.record(shape(at, { completionTokens: 100 + (at % 7), cachedTokens: at === t0 + 13 * MIN ? 900 : 0 }));
      repo.record(shape(t0 + MIN, { agent: 'ops/critic', prefix: null, maxTokens: 500, completionTokens: 40 }));
      const { agents, prefixes } = repo.query({ fromDay: '2026-03-09', toDay: '2026-03-10' });
      const byDay = (d: string) => prefixes.find((p) => p.day === d)!;
      assert.deepEqual(prefixes.map((p) => [p.day, p.calls, p.writes, p.cachedCalls, p.prefixTokens]).sort(), [
        ['2026-03-09', 3, 2, 0, 4500],
        ['2026-03-10', 2, 1, 1, 3000],
      ]);
      assert.equal(byDay('2026-03-10').lastAt, t0 + 30 * MIN);
      const critic = agents.find((a) => a.agent === 'ops/critic')!;
      assert.deepEqual(
        [critic.calls, critic.maxTokensSum, critic.maxTokensMax, critic.completionSum, critic.completionMax],
        [1, 500, 500, 40, 40],
      );
      assert.deepEqual(critic.completionHistogram, { [tokenBucket(40)]: 1 });
      assert.deepEqual(repo.query({ fromDay: '2026-03-10', toDay: '2026-03-10' }).agents.length, 1);
      await repo.close();
    });

    it('writes only after the debounce or a flush, and reopens to the same figures', async () => {
      const repo = await FileCallProfileRepository.open(dir, { debounceMs: 60_000 });
      const t0 = T('2026-03-10T10:00:00Z');
      repo.record(shape(t0));
      repo.record(shape(t0 + 10 * MIN));
      const file = path.join(dir, CALL_PROFILES_FILE);
      await assert.rejects(fsp.access(file), 'nothing is written on the call path');
      await repo.flush();
      const before = repo.query({ fromDay: '2026-03-10', toDay: '2026-03-10' });
      await repo.close();
      const again = await FileCallProfileRepository.open(dir);
      assert.deepEqual(again.query({ fromDay: '2026-03-10', toDay: '2026-03-10' }), before);
      // The gap is measured from the stored lastAt: a call 2 minutes after the last one is a cache read.
      again.record(shape(t0 + 12 * MIN));
      assert.equal(again.query({ fromDay: '2026-03-10', toDay: '2026-03-10' }).prefixes[0]!.writes, 2);
      await again.close();
    });

    it('debounced writes land on disk by themselves', async () => {
      const repo = await FileCallProfileRepository.open(dir, { debounceMs: 5 });
      repo.record(shape(T('2026-03-10T10:00:00Z')));
      const file = path.join(dir, CALL_PROFILES_FILE);
      for (let i = 0; i < 200; i++) {
        if (
          await fsp.access(file).then(
            () => true,
            () => false,
          )
        )
          break;
        await new Promise((r) => setTimeout(r, 10));
      }
      const text = await fsp.readFile(file, 'utf8');
      assert.match(text, /"crew-call-profiles"/);
      await repo.close();
    });

    it('drops days older than 400 days', async () => {
      const repo = await FileCallProfileRepository.open(dir);
      const old = T('2025-01-01T12:00:00Z');
      repo.record(shape(old));
      repo.record(shape(old + 399 * DAY));
      assert.equal(repo.query({ fromDay: '2024-01-01', toDay: '2027-01-01' }).agents.length, 2);
      repo.record(shape(old + 400 * DAY));
      assert.deepEqual(
        repo
          .query({ fromDay: '2024-01-01', toDay: '2027-01-01' })
          .agents.map((a) => a.day)
          .sort(),
        ['2026-02-04', '2026-02-05'],
      );
      await repo.close();
    });

    it('refuses a damaged file, naming it, and leaves it byte-identical (never starts over empty)', async () => {
      const file = path.join(dir, CALL_PROFILES_FILE);
      for (const damaged of [
        '{"format":"crew-call-profiles","agents":[',
        'null',
        '{"format":"crew-call-profiles","version":1,"agents":[{"day":"2026-03-01"}],"prefixes":[]}',
      ]) {
        await fsp.writeFile(file, damaged);
        await assert.rejects(FileCallProfileRepository.open(dir), (e: unknown) => {
          assert.ok(e instanceof StoreFileCorrupt, String(e));
          assert.equal(e.file, file);
          return true;
        });
        assert.equal(await fsp.readFile(file, 'utf8'), damaged);
        assert.deepEqual(await fsp.readdir(dir), [CALL_PROFILES_FILE]);
      }
    });
  });

  describe('withCacheBreakpoint (OpenRouter client)', () => {
    it('sends the first (system) message as a text part with cache_control; the rest as they were', () => {
      const messages: ChatMessage[] = [
        { role: 'system', content: 'A' },
        { role: 'system', content: 'memories' },
        { role: 'user', content: 'Q' },
      ];
      assert.deepEqual(withCacheBreakpoint(messages), [
        { role: 'system', content: [{ type: 'text', text: 'A', cache_control: { type: 'ephemeral' } }] },
        { role: 'system', content: 'memories' },
        { role: 'user', content: 'Q' },
      ]);
      assert.deepEqual(withCacheBreakpoint([{ role: 'user', content: 'Q' }]), [{ role: 'user', content: 'Q' }]);
    });
  });
});
