// `crew analytics …`, `crew clusters`, `crew archive …`, `crew memory duplicates|merge` through the real binary with
// a private (--stdio) sandbox server per command and the fast hash embedder (CREW_EMBEDDER=hash). Commands on one
// data dir run one after another (a private server locks the dir); the steps build on each other.
import assert from 'node:assert/strict';
import type {
  AnalyticsInsights,
  AnalyticsRecommendations,
  AnalyticsSummary,
  ArchiveCreate,
  ArchiveDelete,
  ArchiveList,
  ArchiveRestore,
  ArchiveSchedule,
  ClustersCompute,
  ClustersList,
  MemoryAdd,
  MemoryDuplicates,
  MemoryList,
  MemoryMerge,
  Memory,
} from '../../protocol';
import { bytes, describePolicy } from '../../cli/commands/archive';
import { hourLine, sparkline } from '../../cli/commands/analytics';
import { crew, crewJson, Sandbox, type RunOptions } from './helpers';

const HASH = { CREW_EMBEDDER: 'hash' };
const TEXTS = {
  pg: 'Tuning Postgres indexes made the nightly report ten times faster',
  // One word apart from pg: a near-duplicate, not an exact one (memory add would refuse that).
  pg2: 'Tuning Postgres indexes made the nightly report ten times quicker',
  lunch: 'Team lunch on Friday at the Thai place',
  deploy: 'The deploy pipeline needs a canary step',
  canary: 'Deploy pipeline canary step caught a bad release',
};
type Key = keyof typeof TEXTS;
// Another crew's near-duplicates, close enough (cosine ≥ 0.92) for a merge recommendation and a duplicates insight.
const WEB = [
  'The storefront checkout page loads the cart, the payment form, the address book and the shipping options from four separate services on every visit',
  'The storefront checkout page loads the cart, the payment form, the address book and the shipping options from four separate services on every request',
];

describe('crew analytics, clusters, archive, memory duplicates and merge', function () {
  this.timeout(40_000);
  const box = new Sandbox();
  let dataDir: string;
  const ids = {} as Record<Key, string>;
  const webIds: string[] = [];
  const run = (args: string[], opts: RunOptions = {}) =>
    crew(['--stdio', '--sandbox', ...args], { dataDir, ...opts, env: { ...HASH, ...opts.env } });
  const json = <T>(args: string[], opts: RunOptions = {}) =>
    crewJson<T>(['--stdio', '--sandbox', ...args], { dataDir, ...opts, env: { ...HASH, ...opts.env } });
  const liveIds = async (): Promise<string[]> =>
    (await json<MemoryList.Result>(['memory', 'list', '--crew', 'ops'])).json.memories.map((m) => m.id).sort();

  before(async () => {
    dataDir = await box.dir();
    for (const key of Object.keys(TEXTS) as Key[]) {
      const kind = key === 'pg' ? ['--kind', 'fact'] : [];
      const r = await json<MemoryAdd.Result>(['memory', 'add', '--crew', 'ops', ...kind, TEXTS[key]]);
      assert.equal(r.run.code, 0, r.run.stderr);
      ids[key] = r.json.memory.id;
    }
    for (const content of WEB) {
      const r = await json<MemoryAdd.Result>(['memory', 'add', '--crew', 'web', content]);
      assert.equal(r.run.code, 0, r.run.stderr);
      webIds.push(r.json.memory.id);
    }
    // Accesses for the summary's hot list and hour histogram.
    const s = await run(['memory', 'search', '--crew', 'ops', '--limit', '2', 'postgres index']);
    assert.equal(s.code, 0, s.stderr);
  });
  after(() => box.cleanup());

  it('analytics summary: --json is the server result; the table shows kinds, shares, tokens, hours, hot and cold', async () => {
    const { run: r, json: res } = await json<AnalyticsSummary.Result>(['analytics', 'summary', '--days', '7']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(res.window.days, 7);
    assert.deepEqual(res.crews.map((x) => x.crew).sort(), ['ops', 'web']);
    const ops = res.crews.find((x) => x.crew === 'ops')!;
    assert.equal(ops.total, 5);
    assert.equal(ops.byKind.fact, 1);
    assert.equal(ops.byKind.note, 4);
    assert.equal(ops.byHour.length, 24);
    assert.equal(ops.accessesInWindow, 2);
    assert.equal(ops.hot.length, 2);
    assert.equal(ops.neverAccessed, 3);
    assert.ok(ops.contextTokens > 0);

    const table = await run(['analytics', 'summary', '--crew', 'ops']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^crew ops · last 30 days/m);
    assert.match(table.stdout, /^memories\s+5 \(fact 1, insight 0, lesson 0, result 0, note 4\)$/m);
    assert.match(table.stdout, /^never accessed\s+3 \(60%\)$/m);
    assert.match(table.stdout, new RegExp(`^context tokens\\s+${ops.contextTokens} `, 'm'));
    assert.match(table.stdout, /^by hour \(UTC\)\s+00 [·▁▂▃▄▅▆▇█]{24} 23 {2}peak \d\dh \(2\)$/m);
    assert.match(table.stdout, new RegExp(`^hot\\n {2}(${ids.pg.slice(0, 8)}|${ids.pg2.slice(0, 8)}) +1× `, 'm'));
    const none = await json<AnalyticsSummary.Result>(['analytics', 'summary', '--crew', 'nobody']);
    assert.deepEqual(
      none.json.crews.map((x) => [x.crew, x.total, x.contextTokens]),
      [['nobody', 0, 0]],
    );
  });

  it('analytics insights and recommendations: --json shapes, one line per insight', async () => {
    const ins = await json<AnalyticsInsights.Result>(['analytics', 'insights', '--crew', 'ops', '--days', '14']);
    assert.equal(ins.run.code, 0, ins.run.stderr);
    assert.equal(ins.json.window.days, 14);
    assert.ok(Array.isArray(ins.json.insights));
    for (const i of ins.json.insights) {
      assert.ok(['info', 'warning'].includes(i.severity));
      assert.equal(i.crew, 'ops');
      assert.equal(typeof i.text, 'string');
    }
    // 5 memories added, 3 never read (the search returned 2).
    const stale = ins.json.insights.find((i) => i.kind === 'stale-growth');
    assert.ok(stale, JSON.stringify(ins.json.insights));
    assert.equal(stale.id, 'stale-growth:ops');
    const insTable = await run(['analytics', 'insights']);
    assert.equal(insTable.code, 0, insTable.stderr);
    const lines = insTable.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^SEVERITY\s+CREW\s+KIND\s+INSIGHT$/);
    assert.match(insTable.stdout, /^info\s+ops\s+stale-growth\s+Crew ops added 5 memories .*never been read$/m);
    assert.match(insTable.stdout, /^(info|warning)\s+web\s+duplicates\s+Crew web holds 1 set of near-duplicate/m);

    const rec = await json<AnalyticsRecommendations.Result>(['analytics', 'recommendations', '--limit', '1']);
    assert.equal(rec.run.code, 0, rec.run.stderr);
    assert.equal(rec.json.total, 1);
    const merge = rec.json.recommendations[0]!;
    assert.deepEqual([merge.kind, merge.crew, [...merge.memoryIds].sort()], ['merge', 'web', [...webIds].sort()]);
    assert.ok(merge.tokensSaved > 0);
    assert.ok(merge.merge?.keepId);
    const recTable = await run(['analytics', 'recommendations']);
    assert.equal(recTable.code, 0, recTable.stderr);
    assert.match(recTable.stdout, /^ID\s+KIND\s+CREW\s+MEMORIES\s+TOKENS SAVED\s+REASON$/m);
    assert.match(
      recTable.stdout,
      new RegExp(
        `^${merge.id}\\s+merge\\s+web\\s+[0-9a-f]{8},[0-9a-f]{8}\\s+${merge.tokensSaved}\\s+2 memories of crew web`,
        'm',
      ),
    );
    assert.match(recTable.stderr, /follow the first with: crew memory merge [0-9a-f]{8} [0-9a-f]{8}/);
    const none = await run(['analytics', 'recommendations', '--crew', 'ops']);
    assert.equal(none.code, 0, none.stderr);
    assert.equal(none.stdout, '');
    assert.match(none.stderr, /^no recommendations for crew ops/m);
  });

  it('clusters --k 2 computes two topics; --list shows the kept result', async () => {
    const c = await json<ClustersCompute.Result>(['clusters', '--crew', 'ops', '--k', '2']);
    assert.equal(c.run.code, 0, c.run.stderr);
    assert.equal(c.json.k, 2);
    assert.equal(c.json.clusters.length, 2);
    assert.equal(
      c.json.clusters.reduce((n, x) => n + x.size, 0),
      5,
    );
    assert.equal(c.run.stderr, '', 'no progress on a pipe');

    const table = await run(['clusters', '--list', '--crew', 'ops']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^crew ops · k=2 · silhouette /m);
    assert.match(table.stdout, /^#\s+CLUSTER\s+SIZE\s+COHESION\s+REPRESENTATIVE$/m);
    for (const cl of c.json.clusters) {
      const rep = Object.entries(ids).find(([, id]) => id === cl.representativeId)![0] as Key;
      assert.match(
        table.stdout,
        new RegExp(`^${cl.id}\\s+${cl.label}\\s+${cl.size}\\s+${cl.cohesion.toFixed(3)}\\s+`, 'm'),
      );
      assert.ok(table.stdout.includes(TEXTS[rep].slice(0, 40)), table.stdout);
    }
    const list = await json<ClustersList.Result>(['clusters', '--list']);
    assert.deepEqual(
      list.json.results.map((r) => [r.crew, r.k, r.stale]),
      [['ops', 2, false]],
    );
  });

  it('memory duplicates finds the near-duplicate pair; merge asks on a pipe (exit 2), --force leaves one', async () => {
    const none = await json<MemoryDuplicates.Result>(['memory', 'duplicates', '--crew', 'ops']);
    assert.equal(none.run.code, 0, none.run.stderr);
    assert.equal(none.json.threshold, 0.92);
    const d = await json<MemoryDuplicates.Result>(['memory', 'duplicates', '--crew', 'ops', '--threshold', '0.8']);
    assert.equal(d.run.code, 0, d.run.stderr);
    assert.equal(d.json.sets.length, 1, JSON.stringify(d.json));
    const set = d.json.sets[0]!;
    assert.deepEqual([set.keepId, ...set.duplicates.map((x) => x.id)].sort(), [ids.pg, ids.pg2].sort());
    const table = await run(['memory', 'duplicates', '--crew', 'ops', '--threshold', '0.8']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, new RegExp(`^\\s*1\\s+ops\\s+keep\\s+${set.keepId.slice(0, 8)}\\s`, 'm'));
    assert.match(
      table.stdout,
      new RegExp(`^\\s*1\\s+ops\\s+merge\\s+${set.duplicates[0]!.id.slice(0, 8)}\\s+0\\.\\d{3}`, 'm'),
    );
    assert.match(table.stderr, /merge set 1 with: crew memory merge \S{8} \S{8}/);

    const other = set.duplicates[0]!.id;
    const refused = await run(['memory', 'merge', set.keepId.slice(0, 6), other.slice(0, 6)]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /^crew: refusing to merge .*pass --force/m);
    assert.equal((await liveIds()).length, 5);

    const merged = await json<MemoryMerge.Result>(['memory', 'merge', '--force', set.keepId.slice(0, 6), other]);
    assert.equal(merged.run.code, 0, merged.run.stderr);
    assert.equal(merged.json.memory.id, set.keepId);
    assert.deepEqual(merged.json.merged, [other]);
    assert.deepEqual(
      await liveIds(),
      Object.values(ids)
        .filter((id) => id !== other)
        .sort(),
    );
    const after = await json<MemoryDuplicates.Result>(['memory', 'duplicates', '--crew', 'ops', '--threshold', '0.8']);
    assert.deepEqual(after.json.sets, []);
    // Keep the survivor's id under both names for the archive steps.
    ids.pg = ids.pg2 = set.keepId;
  });

  it('archive: a dry run lists without moving; by ids → list → restore brings the memory back identical', async () => {
    const before = await liveIds();
    const dry = await json<ArchiveCreate.DryRunResult>([
      'archive',
      'archive',
      '--older-than',
      '0',
      '--crew',
      'ops',
      '--dry-run',
    ]);
    assert.equal(dry.run.code, 0, dry.run.stderr);
    assert.equal(dry.json.dryRun, true);
    assert.deepEqual(dry.json.candidates.map((x) => x.id).sort(), before);
    assert.equal(dry.json.totals.count, 4);
    const dryTable = await run([
      'archive',
      'archive',
      '--older-than',
      '0',
      '--kinds',
      'note',
      '--crew',
      'ops',
      '--dry-run',
    ]);
    assert.equal(dryTable.code, 0, dryTable.stderr);
    assert.match(dryTable.stdout, /^ID\s+CREW\s+KIND\s+LAST ACTIVE\s+ACCESSES\s+SCORE\s+BYTES\s+CONTENT$/m);
    assert.match(dryTable.stdout, new RegExp(`^${ids.lunch.slice(0, 8)}\\s+ops\\s+note\\s.*${TEXTS.lunch}$`, 'm'));
    const notes = dry.json.candidates.filter((x) => x.kind === 'note').length;
    assert.match(
      dryTable.stdout,
      new RegExp(`^dry run: would archive ${notes} memories \\([\\d.]+ (B|KiB)\\) of crew ops; nothing moved$`, 'm'),
    );
    assert.deepEqual(await liveIds(), before, 'a dry run moves nothing');

    const original = await json<Memory>(['memory', 'get', ids.lunch]);
    const created = await json<ArchiveCreate.CreatedResult>(['archive', 'archive', '--ids', ids.lunch.slice(0, 6)]);
    assert.equal(created.run.code, 0, created.run.stderr);
    assert.deepEqual(created.json.ids, [ids.lunch]);
    const archive = created.json.archive!;
    assert.equal(archive.count, 1);
    const gone = await run(['memory', 'get', ids.lunch]);
    assert.equal(gone.code, 1, 'archived: no longer live');
    const table = await run(['archive', 'archive', '--ids', ids.deploy]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^archive\s+[0-9a-f-]{36}$/m);
    assert.match(table.stdout, /^memories\s+1$/m);
    assert.match(table.stdout, /^bytes in\s+\d+ B$/m);
    assert.match(table.stdout, /^bytes out\s+\d+ B$/m);
    assert.match(table.stdout, /^ratio\s+\d+\.\d\d×$/m);

    const list = await json<ArchiveList.Result>(['archive', 'list', '--crew', 'ops']);
    assert.equal(list.run.code, 0, list.run.stderr);
    assert.equal(list.json.archives.length, 2);
    assert.equal(list.json.archives[1]!.id, archive.id, 'newest first');
    const listTable = await run(['archive', 'list']);
    assert.match(
      listTable.stdout,
      new RegExp(`^${archive.id.slice(0, 8)}\\s+\\S+ \\S+\\s+complete\\s+1\\s+ops\\s`, 'm'),
    );

    const restored = await run(['archive', 'restore', archive.id.slice(0, 6)]);
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stdout, new RegExp(`^restored 1 memory from archive ${archive.id} \\(now restored\\)$`, 'm'));
    // `memory get --json` prints the memory itself.
    const back = await json<Memory>(['memory', 'get', ids.lunch.slice(0, 8)]);
    assert.equal(back.run.code, 0, back.run.stderr);
    assert.equal(back.json.content, TEXTS.lunch);
    assert.deepEqual(back.json, original.json);

    // Already live: named by --ids, it is skipped, not restored twice.
    const again = await json<ArchiveRestore.Result>(['archive', 'restore', archive.id, '--ids', ids.lunch]);
    assert.deepEqual([again.json.restored, again.json.skipped], [[], [ids.lunch]]);
  });

  it('archive delete: refused on a pipe without --force (exit 2); prefixes must be long enough and unique', async () => {
    const { json: list } = await json<ArchiveList.Result>(['archive', 'list']);
    const [deployArchive, lunchArchive] = list.archives;
    const refused = await run(['archive', 'delete', lunchArchive!.id.slice(0, 8)]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /^crew: refusing to delete archive .*pass --force/m);
    const short = await run(['archive', 'delete', '--force', 'abc']);
    assert.equal(short.code, 2);
    assert.match(short.stderr, /too short/);
    const missing = await run(['archive', 'delete', '--force', 'ffffffff']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^crew: archive .*not found/m);

    const del = await json<ArchiveDelete.Result & { id: string }>(['archive', 'delete', '--force', lunchArchive!.id]);
    assert.equal(del.run.code, 0, del.run.stderr);
    assert.deepEqual(del.json, { deleted: true, unrestored: 0, id: lunchArchive!.id });
    const left = await json<ArchiveList.Result>(['archive', 'list']);
    assert.deepEqual(
      left.json.archives.map((a) => a.id),
      [deployArchive!.id],
    );
  });

  it('archive schedule: set with a policy, read back in list, cleared', async () => {
    const set = await json<ArchiveSchedule.Result>([
      'archive',
      'schedule',
      '--name',
      'nightly',
      '--older-than',
      '90',
      '--below-score',
      '0.2',
      '--crew',
      'ops',
      '--every-hours',
      '24',
    ]);
    assert.equal(set.run.code, 0, set.run.stderr);
    assert.deepEqual(
      set.json.schedules.map((s) => [s.name, s.everyHours, s.policy]),
      [['nightly', 24, { crew: 'ops', olderThanDays: 90, belowScore: 0.2 }]],
    );
    const list = await run(['archive', 'list']);
    assert.match(list.stdout, /^nightly\s+24 h\s+crew ops · older than 90 d · score < 0.2\s/m);
    const cleared = await json<ArchiveSchedule.Result>(['archive', 'schedule', '--name', 'nightly', '--clear']);
    assert.deepEqual(cleared.json.schedules, []);
  });

  it('usage errors exit 2 with "crew: …" naming the problem', async () => {
    const cases: [string[], RegExp][] = [
      [['archive', 'archive'], /--ids .*--older-than/],
      [['archive', 'archive', '--crew', 'ops', '--kinds', 'note'], /--older-than <days> or --below-score/],
      [['archive', 'archive', '--ids', 'abcd1234', '--older-than', '3'], /either --ids or a policy/],
      [['archive', 'archive', '--below-score', '2'], /--below-score.*invalid/],
      [['archive', 'restore', 'abcd1234', '--ids', 'abcd'], /not a full memory id/],
      [['archive', 'schedule', '--older-than', '30'], /--every-hours/],
      [['archive', 'schedule', '--clear', '--every-hours', '3'], /--clear goes alone/],
      [['clusters'], /--crew <id> is required/],
      [['clusters', '--crew', 'ops', '--k', '2', '--k-min', '3'], /either --k or a range/],
      [['clusters', '--list', '--k', '2'], /--list/],
      [['memory', 'duplicates', '--threshold', '1.5'], /--threshold.*invalid/],
      [['memory', 'merge', 'abcd1234'], /mergeId/],
      [['memory', 'merge', '--force', 'abc', 'abcd1234'], /too short/],
      [['analytics', 'summary', '--days', '0'], /--days.*invalid/],
    ];
    const runs = await Promise.all(cases.map(([args]) => crew(args, { dataDir, env: HASH })));
    runs.forEach((r, i) => {
      assert.equal(r.code, 2, `${cases[i]![0].join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^crew: /m);
      assert.match(r.stderr, cases[i]![1]);
    });
  });

  it('every new command has --help with an example', async () => {
    const cmds = [
      ['analytics'],
      ['analytics', 'summary'],
      ['analytics', 'insights'],
      ['analytics', 'recommendations'],
      ['clusters'],
      ['archive'],
      ['archive', 'archive'],
      ['archive', 'restore'],
      ['archive', 'list'],
      ['archive', 'delete'],
      ['archive', 'schedule'],
      ['memory', 'duplicates'],
      ['memory', 'merge'],
    ];
    const runs = await Promise.all(cmds.map((c) => crew([...c, '--help'])));
    runs.forEach((r, i) => {
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /\nExamples?:\n {2}crew /, `crew ${cmds[i]!.join(' ')} --help`);
    });
  });

  it('rendering helpers: sparkline, hour line, sizes, policies', () => {
    assert.equal(sparkline([0, 1, 2, 4, 8]), '·▁▂▄█');
    assert.equal(hourLine(Array<number>(24).fill(0)), 'no accesses in the window');
    const hours = Array<number>(24).fill(0);
    hours[9] = 3;
    assert.equal(hourLine(hours), `00 ${'·'.repeat(9)}█${'·'.repeat(14)} 23  peak 09h (3)`);
    assert.deepEqual([bytes(512), bytes(1536), bytes(5 * 1024 * 1024)], ['512 B', '1.5 KiB', '5.0 MiB']);
    assert.equal(describePolicy(null), 'by id');
    assert.equal(
      describePolicy({ olderThanDays: 30, belowScore: 0.2, kinds: ['note'], crew: 'ops' }),
      'crew ops · older than 30 d · score < 0.2 · kinds note',
    );
  });
});
