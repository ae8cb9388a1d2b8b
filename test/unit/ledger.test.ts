/**
 * FileLedger: appends are on disk when acknowledged and survive a reopen; a torn last line (a write that was
 * never acknowledged) is dropped, corruption elsewhere is refused; cost corrections survive; sums and aggregates
 * match a naive computation; compaction folds corrections in without changing a figure.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CallStatus } from '../../protocol';
import { DSYNC } from '../../server/store/append-io';
import { nodeFileLayer, useFileLayer } from '../../server/store/fs-layer';
import { FileLedger, LedgerCorrupt } from '../../server/store/ledger/file-ledger';
import type { LedgerFilter, LedgerGroupBy, LedgerRow, NewLedgerRow } from '../../server/store/repositories';

const DAY = 86_400_000;
const T0 = Date.parse('2026-03-01T00:00:00.000Z');

function row(over: Partial<NewLedgerRow> = {}): NewLedgerRow {
  return {
    ts: T0,
    model: 'openai/gpt-4o-mini',
    crew: null,
    agent: null,
    tags: [],
    promptTokens: 10,
    completionTokens: 20,
    cachedTokens: 0,
    reasoningTokens: 0,
    costPico: 1_234_567,
    cost: '0.000001234567',
    estimated: false,
    generationId: null,
    latencyMs: 12,
    status: 'ok',
    stream: false,
    ...over,
  };
}

/** A small deterministic PRNG, so the random ledger is the same on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('FileLedger', () => {
  let dir: string;
  let ledger: FileLedger | undefined;
  const segment = (seq = 1) => path.join(dir, `${String(seq).padStart(6, '0')}.jsonl`);
  const reopen = async () => {
    await ledger?.close();
    ledger = await FileLedger.open(dir);
    return ledger;
  };

  beforeEach(async () => {
    dir = path.join(await fsp.mkdtemp(path.join(os.tmpdir(), 'crew-unit-ledger-')), 'ledger');
    ledger = await FileLedger.open(dir);
  });
  afterEach(async () => {
    await ledger?.close();
    ledger = undefined;
    await fsp.rm(path.dirname(dir), { recursive: true, force: true });
  });

  it('an acknowledged append is on disk, and every field survives a reopen', async () => {
    const l = ledger!;
    const a = await l.append(
      row({
        crew: 'c1',
        agent: 'a1',
        tags: ['x', 'y'],
        generationId: 'gen-1',
        stream: true,
        cachedTokens: 3,
        reasoningTokens: 4,
      }),
    );
    const b = await l.append(
      row({ ts: T0 + 1000, status: 'cancelled', estimated: true, costPico: 5, cost: '0.000000000005' }),
    );
    assert.deepEqual([a.id, b.id], [1, 2]);
    // Acknowledged means written: the lines are in the file before any close.
    const text = await fsp.readFile(segment(), 'utf8');
    assert.equal(text.trim().split('\n').length, 2);
    const r = await reopen();
    assert.equal(r.count(), 2);
    assert.deepEqual(r.get(1), a);
    assert.deepEqual(r.get(2), b);
    const c = await r.append(row({ ts: T0 + 2000 }));
    assert.equal(c.id, 3, 'ids continue after a reopen');
  });

  it('writes batches on the event loop while the disk is fast, through the thread pool for a while after a slow write', async () => {
    // Without O_DSYNC (Windows) every batch goes through the thread pool with an fdatasync.
    const inline = DSYNC === undefined ? 'pool' : 'inline';
    const calls: ('inline' | 'pool')[] = [];
    let slowMs = 0;
    const restore = useFileLayer({
      ...nodeFileLayer,
      writeSync: (fd, buf, offset, length) => {
        // A disk that takes slowMs to answer: the event loop is held that long, as a real slow write would hold it.
        const until = performance.now() + slowMs;
        while (performance.now() < until);
        calls.push('inline');
        return nodeFileLayer.writeSync(fd, buf, offset, length);
      },
      write: (fd, buf, offset, length) => {
        calls.push('pool');
        return nodeFileLayer.write(fd, buf, offset, length);
      },
    });
    try {
      const l = ledger!;
      const batch = (n: number) => Promise.all(Array.from({ length: n }, (_, i) => l.append(row({ ts: T0 + i }))));
      await batch(3);
      assert.deepEqual(calls, [inline], 'three calls completing together: one write, made on the event loop');
      slowMs = 5;
      await batch(2);
      await batch(2);
      // The second write takes 5 ms on the event loop (or went to the pool already, had the real disk been slow
      // for the first): either way the third goes to the pool.
      assert.equal(calls.length, 3, 'one write per batch');
      assert.equal(calls[2], 'pool', 'after a 5 ms write the next batch goes to the pool');
      await l.append(row(), { alone: true });
      assert.equal(calls.at(-1), 'pool', 'a call alone is not written on the event loop either');
      const r = await reopen();
      assert.equal(r.count(), 8, 'every acknowledged row is on disk, whichever way it was written');
    } finally {
      restore();
    }
  });

  it('keeps rows in time order even if a completion time goes backwards', async () => {
    await ledger!.append(row({ ts: T0 + 5000 }));
    const late = await ledger!.append(row({ ts: T0 + 1000 }));
    assert.equal(late.ts, T0 + 5000);
  });

  it('drops a torn last line (an unacknowledged write) and keeps appending cleanly after it', async () => {
    await ledger!.append(row());
    await ledger!.append(row({ ts: T0 + 1 }));
    await ledger!.close();
    ledger = undefined;
    const good = await fsp.readFile(segment(), 'utf8');
    await fsp.appendFile(segment(), '{"i":3,"t":17726');
    const r = await reopen();
    assert.equal(r.count(), 2);
    assert.equal(await fsp.readFile(segment(), 'utf8'), good, 'the torn tail is cut off the file');
    const next = await r.append(row({ ts: T0 + 2 }));
    assert.equal(next.id, 3);
    const again = await reopen();
    assert.equal(again.count(), 3);
    assert.equal(again.get(3)!.ts, T0 + 2);
  });

  it('refuses a damaged line that is not the last one (LedgerCorrupt), leaving the file as it is', async () => {
    await ledger!.append(row());
    await ledger!.append(row());
    await ledger!.close();
    ledger = undefined;
    const lines = (await fsp.readFile(segment(), 'utf8')).split('\n');
    lines[0] = lines[0]!.slice(0, 10);
    const damaged = lines.join('\n');
    await fsp.writeFile(segment(), damaged);
    await assert.rejects(FileLedger.open(dir), LedgerCorrupt);
    assert.equal(await fsp.readFile(segment(), 'utf8'), damaged);
  });

  it('settleCost replaces an estimate durably: the correction survives a reopen', async () => {
    const est = await ledger!.append(
      row({ estimated: true, generationId: 'gen-9', costPico: 999, cost: '0.000000000999' }),
    );
    assert.deepEqual(
      ledger!.estimated(10).map((r) => r.id),
      [est.id],
    );
    const fixed = await ledger!.settleCost(est.id, 1_500_000, '0.0000015');
    assert.equal(fixed!.estimated, false);
    assert.equal(await ledger!.settleCost(99, 1, '0.000000000001'), undefined, 'an unknown row is not settled');
    const r = await reopen();
    const back = r.get(est.id)!;
    assert.deepEqual([back.costPico, back.cost, back.estimated], [1_500_000, '0.0000015', false]);
    assert.deepEqual(r.estimated(10), []);
    assert.equal(r.sumCost({}), 1_500_000n);
  });

  it('sumCost and aggregate agree with a naive computation over a random ledger', async () => {
    const rand = rng(42);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
    const models = ['m/a', 'm/b', 'm/c'];
    const crews = [null, 'red', 'blue'];
    const agents = [null, 'writer', 'critic'];
    const statuses: CallStatus[] = ['ok', 'ok', 'ok', 'error', 'cancelled'];
    const rows: LedgerRow[] = [];
    let ts = T0;
    const pending: Promise<LedgerRow>[] = [];
    for (let i = 0; i < 2_000; i++) {
      ts += Math.floor(rand() * DAY * 0.02);
      const costPico = Math.floor(rand() * 50_000_000_000); // up to $0.05 a call
      pending.push(
        ledger!.append(
          row({
            ts,
            model: pick(models),
            crew: pick(crews),
            agent: pick(agents),
            status: pick(statuses),
            estimated: rand() < 0.1,
            promptTokens: Math.floor(rand() * 5000),
            completionTokens: Math.floor(rand() * 2000),
            costPico,
            cost: String(costPico),
          }),
        ),
      );
    }
    rows.push(...(await Promise.all(pending)));
    const naive = (f: LedgerFilter) =>
      rows.filter(
        (r) =>
          (f.model === undefined || r.model === f.model) &&
          (f.crew === undefined || r.crew === f.crew) &&
          (f.agent === undefined || r.agent === f.agent) &&
          (f.status === undefined || r.status === f.status) &&
          (f.from === undefined || r.ts >= f.from) &&
          (f.to === undefined || r.ts < f.to),
      );
    const sum = (rs: LedgerRow[]) => rs.reduce((a, r) => a + BigInt(r.costPico), 0n);
    const mid = rows[700]!.ts;
    const filters: LedgerFilter[] = [
      {},
      { model: 'm/b' },
      { crew: 'red' },
      { agent: 'critic', status: 'ok' },
      { from: mid },
      { to: mid },
      { from: rows[100]!.ts, to: rows[1500]!.ts, crew: 'blue' },
      { model: 'never-seen' },
      { status: 'error' },
    ];
    for (const l of [ledger!, await reopen()]) {
      for (const f of filters) {
        assert.equal(l.sumCost(f), sum(naive(f)), `sumCost ${JSON.stringify(f)}`);
        for (const by of ['model', 'crew', 'agent', 'day'] as LedgerGroupBy[]) {
          const expected = new Map<
            string,
            { calls: number; cost: bigint; est: bigint; prompt: number; completion: number; errors: number }
          >();
          for (const r of naive(f)) {
            const key =
              by === 'day'
                ? new Date(r.ts).toISOString().slice(0, 10)
                : ((by === 'model' ? r.model : by === 'crew' ? r.crew : r.agent) ?? '(none)');
            const g = expected.get(key) ?? { calls: 0, cost: 0n, est: 0n, prompt: 0, completion: 0, errors: 0 };
            g.calls++;
            g.cost += BigInt(r.costPico);
            if (r.estimated) g.est += BigInt(r.costPico);
            g.prompt += r.promptTokens;
            g.completion += r.completionTokens;
            if (r.status !== 'ok') g.errors++;
            expected.set(key, g);
          }
          const got = l.aggregate(f, by);
          assert.equal(got.length, expected.size, `groups by ${by} for ${JSON.stringify(f)}`);
          for (const a of got) {
            const e = expected.get(a.key);
            assert.ok(e, `unexpected group ${a.key}`);
            assert.deepEqual(
              [a.calls, a.costPico, a.estimatedPico, a.promptTokens, a.completionTokens, a.errors],
              [e.calls, e.cost, e.est, e.prompt, e.completion, e.errors],
              `aggregate by ${by}, group ${a.key}, filter ${JSON.stringify(f)}`,
            );
          }
        }
      }
      const listed = l.list({ crew: 'red', limit: 5 });
      assert.equal(listed.total, naive({ crew: 'red' }).length);
      assert.deepEqual(
        listed.rows.map((r) => r.id),
        naive({ crew: 'red' })
          .map((r) => r.id)
          .reverse()
          .slice(0, 5),
      );
    }
  });

  it('sumCost is exact past 2^53 picodollars (a ledger over ~$9,007)', async () => {
    const big = 4_000_000_000_000_000; // $4,000 in one row
    for (let i = 0; i < 3; i++) await ledger!.append(row({ costPico: big + 1, cost: '4000.000000000001' }));
    assert.equal(ledger!.sumCost({}), 3n * BigInt(big + 1));
    const agg = ledger!.aggregate({}, 'model')[0]!;
    assert.equal(agg.costPico, 3n * BigInt(big + 1));
  });

  it('compaction without a correction to fold reads no segment (a roll costs no re-parse of 100,000 rows)', async () => {
    const l = ledger!;
    await l.append(row({ costPico: 300, cost: '0.0000000003' }));
    await l.close();
    ledger = undefined;
    await fsp.writeFile(segment(2), ''); // 000001 is sealed
    const m = await reopen();
    // Were it read, this would fail the compaction; with nothing to fold, it is never opened.
    await fsp.writeFile(segment(1), 'not a ledger line\n');
    await m.compact();
    assert.equal(await fsp.readFile(segment(1), 'utf8'), 'not a ledger line\n');
    await m.settleCost(1, 1, '0.000000000001'); // not estimated: no correction is written
    await m.compact();
  });

  it('compaction folds corrections into sealed segments and keeps every figure', async () => {
    const l = ledger!;
    const r1 = await l.append(row({ estimated: true, generationId: 'g1', costPico: 100, cost: '0.0000000001' }));
    const r2 = await l.append(row({ estimated: true, generationId: 'g2', costPico: 200, cost: '0.0000000002' }));
    await l.append(row({ costPico: 300, cost: '0.0000000003' }));
    await l.settleCost(r1.id, 111, '0.000000000111'); // a correction in the same (soon sealed) segment
    await l.close();
    ledger = undefined;
    await fsp.writeFile(segment(2), ''); // the segment rolled: 000001 is sealed, 000002 is active
    const m = await reopen();
    await m.settleCost(r2.id, 222, '0.000000000222'); // a correction that lands in the active segment
    await m.append(row({ costPico: 400, cost: '0.0000000004' }));
    const before = { sum: m.sumCost({}), rows: [1, 2, 3, 4].map((id) => m.get(id)) };
    assert.equal(before.sum, 111n + 222n + 300n + 400n);

    await m.compact();
    const sealed = (await fsp.readFile(segment(1), 'utf8')).trim().split('\n');
    assert.equal(sealed.length, 3, 'only rows remain in the sealed segment');
    assert.ok(sealed.every((line) => !line.includes('"fix"')));
    assert.match(sealed[0]!, /"\$":111/);
    assert.match(sealed[1]!, /"\$":222/);
    assert.doesNotMatch(sealed[0]!, /"e":1/, 'the settled row is no longer marked estimated');

    const after = await reopen();
    assert.equal(after.sumCost({}), before.sum);
    assert.deepEqual(
      [1, 2, 3, 4].map((id) => after.get(id)),
      before.rows,
    );
    assert.deepEqual(after.estimated(10), []);
  });
});
