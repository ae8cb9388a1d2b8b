// `crew memory …` through the real binary with a private (--stdio) sandbox server per command: add and
// duplicates, list/get/update/history, search ranking, context packing, delete's confirmation rule, id prefixes,
// usage errors and --help. Commands on one data dir run one after another (a private server locks the dir).
import assert from 'node:assert/strict';
import type {
  MemoryAdd,
  MemoryContext,
  MemoryDelete,
  MemoryGet,
  MemoryHistory,
  MemoryList,
  MemorySearch,
} from '../../protocol';
import type { CrewClient } from '../../cli/client/connection';
import { describeChanges, MemoryIds, preview } from '../../cli/commands/memory';
import { crew, crewJson, Sandbox, type RunOptions } from './helpers';

const PG = 'Tuning Postgres indexes made the nightly report 10x faster';
const LUNCH = 'Team lunch on Friday at the Thai place';
const DEPLOY = 'The deploy pipeline needs a canary step';

describe('crew memory', function () {
  this.timeout(40_000);
  const box = new Sandbox();
  let dataDir: string;
  const ids: Record<'pg' | 'lunch' | 'deploy', string> = { pg: '', lunch: '', deploy: '' };
  const run = (args: string[], opts: RunOptions = {}) =>
    crew(['--stdio', '--sandbox', 'memory', ...args], { dataDir, ...opts });
  const json = <T>(args: string[], opts: RunOptions = {}) =>
    crewJson<T>(['--stdio', '--sandbox', 'memory', ...args], { dataDir, ...opts });

  before(async () => {
    dataDir = await box.dir();
  });
  after(() => box.cleanup());

  it('add: stores, reads "-" from stdin, and reports a duplicate with the existing id (exit 0)', async () => {
    const pg = await json<MemoryAdd.Result>(['add', '--crew', 'ops', '--kind', 'fact', '--importance', '0.7', PG]);
    assert.equal(pg.run.code, 0, pg.run.stderr);
    assert.equal(pg.json.created, true);
    assert.equal(pg.json.memory.importance, 0.7);
    ids.pg = pg.json.memory.id;

    const lunch = await run(['add', '--crew', 'ops', '--tags', 'Social,food', ...LUNCH.split(' ')]);
    assert.equal(lunch.code, 0, lunch.stderr);
    ids.lunch = /^added memory (\S+)$/m.exec(lunch.stdout)?.[1] ?? '';
    assert.ok(ids.lunch, lunch.stdout);

    const deploy = await json<MemoryAdd.Result>(['add', '--crew', 'ops', '--agent', 'writer', '-'], {
      input: DEPLOY + '\n',
    });
    assert.equal(deploy.run.code, 0, deploy.run.stderr);
    assert.equal(deploy.json.memory.agent, 'writer');
    assert.equal(deploy.json.memory.content.trim(), DEPLOY);
    ids.deploy = deploy.json.memory.id;

    const dup = await run(['add', '--crew', 'ops', '  team LUNCH on friday at the thai place ']);
    assert.equal(dup.code, 0, dup.stderr);
    assert.match(dup.stdout, new RegExp(`already has this content: memory ${ids.lunch}`));
    const dupJson = await json<MemoryAdd.Result>(['add', '--crew', 'ops', LUNCH]);
    assert.equal(dupJson.run.code, 0);
    assert.deepEqual(
      { created: dupJson.json.created, duplicateOf: dupJson.json.duplicateOf },
      { created: false, duplicateOf: ids.lunch },
    );
  });

  it('list, get (by prefix), update and history', async () => {
    const list = await run(['list', '--crew', 'ops']);
    assert.equal(list.code, 0, list.stderr);
    const lines = list.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ID\s+CREW\s+AGENT\s+KIND\s+IMPORTANCE\s+ACCESSES\s+UPDATED\s+CONTENT$/);
    assert.equal(lines.length, 4, list.stdout);
    assert.match(
      list.stdout,
      new RegExp(`^${ids.pg.slice(0, 8)}\\s+ops\\s+—\\s+fact\\s+0\\.7\\s+0\\s+\\S+ \\S+\\s+${PG}$`, 'm'),
    );
    assert.match(list.stdout, new RegExp(`^${ids.deploy.slice(0, 8)}\\s+ops\\s+writer\\s+note\\s`, 'm'));
    assert.match(list.stderr, /3 of 3 memories/);
    const byTag = await json<MemoryList.Result>(['list', '--tag', 'social']);
    assert.deepEqual(
      byTag.json.memories.map((m) => m.id),
      [ids.lunch],
    );

    const get = await run(['get', ids.pg.slice(0, 6)]);
    assert.equal(get.code, 0, get.stderr);
    assert.match(get.stdout, new RegExp(`^id\\s+${ids.pg}$`, 'm'));
    assert.match(get.stdout, /^importance\s+0\.7$/m);
    assert.ok(get.stdout.trimEnd().endsWith(PG), get.stdout);

    const upd = await json<{ memory: MemoryGet.Result['memory'] }>([
      'update',
      ids.pg.slice(0, 4),
      '--importance',
      '0.9',
      '--content',
      PG.replace('10x', '12x'),
      '--pinned',
      '--tags',
      'db,perf',
    ]);
    assert.equal(upd.run.code, 0, upd.run.stderr);
    assert.equal(upd.json.memory.importance, 0.9);
    assert.equal(upd.json.memory.pinned, true);
    assert.deepEqual(upd.json.memory.tags, ['db', 'perf']);
    const unpin = await run(['update', ids.pg, '--no-pinned']);
    assert.equal(unpin.code, 0, unpin.stderr);
    assert.match(unpin.stdout, /^pinned\s+no$/m);
    const nothing = await run(['update', ids.pg]);
    assert.equal(nothing.code, 2);
    assert.match(nothing.stderr, /^crew: nothing to update/);

    const hist = await run(['history', ids.pg.slice(0, 8)]);
    assert.equal(hist.code, 0, hist.stderr);
    assert.match(hist.stdout, /^VERSION\s+AT\s+CHANGE\s+WHAT CHANGED$/m);
    assert.match(hist.stdout, /^\s+1\s+\S+ \S+\s+created\s+created$/m);
    assert.match(
      hist.stdout,
      /^\s+2\s+\S+ \S+\s+updated\s+importance 0\.7 → 0\.9, tags \(none\) → db,perf, pinned false → true, content changed$/m,
    );
    assert.match(hist.stdout, /^\s+3\s+\S+ \S+\s+updated\s+pinned true → false$/m);
    const histJson = await json<MemoryHistory.Result>(['history', ids.pg]);
    assert.equal(histJson.json.history[1]!.previous.content, PG);
  });

  it('search ranks the Postgres memory first for "database index performance"; context packs within the budget', async () => {
    const table = await run(['search', '--crew', 'ops', 'database', 'index', 'performance']);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^RANK\s+SCORE\s+RELEVANCE\s+RECENCY\s+IMPORTANCE\s+FREQUENCY\s+ID\s+CONTENT$/);
    assert.match(lines[1]!, new RegExp(`^\\s*1\\s+(\\d\\.\\d{3}\\s+){5}${ids.pg.slice(0, 8)}\\s+Tuning Postgres`));
    assert.equal(lines.length, 4, table.stdout);

    const s = await json<MemorySearch.Result>([
      'search',
      '--crew',
      'ops',
      '--limit',
      '2',
      '--half-life-days',
      '7',
      '--weights',
      'relevance=0.8,recency=0.2',
      'database index performance',
    ]);
    assert.equal(s.run.code, 0, s.run.stderr);
    assert.equal(s.json.hits.length, 2);
    assert.equal(s.json.hits[0]!.memory.id, ids.pg);
    assert.ok(s.json.embedderId);
    const onlyNotes = await json<MemorySearch.Result>(['search', '--crew', 'ops', '--kind', 'note', 'database']);
    assert.ok(!onlyNotes.json.hits.some((h) => h.memory.id === ids.pg));

    const ctx = await run(['context', '--crew', 'ops', '--max-tokens', '40', 'database index performance']);
    assert.equal(ctx.code, 0, ctx.stderr);
    assert.match(ctx.stdout, /Tuning Postgres indexes made the nightly report 12x faster/);
    const used = /used (\d+) of 40 tokens/.exec(ctx.stderr);
    assert.ok(used && Number(used[1]) <= 40 && Number(used[1]) > 0, ctx.stderr);
    const ctxJson = await json<MemoryContext.Result>(['context', '--crew', 'ops', '--max-tokens', '40', 'database']);
    assert.equal(ctxJson.json.budgetTokens, 40);
  });

  it('delete: refused on a pipe without --force (exit 2), done with --force', async () => {
    const refused = await run(['delete', ids.lunch.slice(0, 8)]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /^crew: refusing to delete 1 memory .*pass --force/m);
    const forced = await json<MemoryDelete.Result & { ids: string[] }>([
      'delete',
      '--force',
      ids.lunch.slice(0, 8),
      ids.deploy,
    ]);
    assert.equal(forced.run.code, 0, forced.run.stderr);
    assert.equal(forced.json.deleted, 2);
    assert.deepEqual(forced.json.ids, [ids.lunch, ids.deploy]);
    const left = await json<MemoryList.Result>(['list']);
    assert.deepEqual(
      left.json.memories.map((m) => m.id),
      [ids.pg],
    );
    const gone = await run(['get', ids.lunch]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /^crew: memory .* not found/m);
  });

  it('usage errors exit 2 with "crew: …" naming the problem', async () => {
    const cases: [string[], RegExp][] = [
      [['add', '--crew', 'ops', '--importance', '1.5', 'x'], /--importance.*'1\.5' is invalid.*0 to 1/],
      [['update', 'abcd1234', '--importance', '1.5'], /--importance.*'1\.5' is invalid/],
      [['add', 'no crew'], /--crew/],
      [['add', '--crew', 'ops', '--kind', 'rumour', 'x'], /--kind/],
      [['get', 'abc'], /too short/],
      [['search', '--crew', 'ops', '--weights', 'vibes=1', 'q'], /--weights/],
      [['context', '--crew', 'ops', 'q'], /--max-tokens/],
    ];
    const runs = await Promise.all(cases.map(([args]) => run(args)));
    runs.forEach((r, i) => {
      assert.equal(r.code, 2, `${cases[i]![0].join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^crew: /m);
      assert.match(r.stderr, cases[i]![1]);
    });
  });

  it('every memory subcommand has --help with an example', async () => {
    const subs = ['', 'add', 'list', 'get', 'update', 'delete', 'history', 'search', 'context'];
    const runs = await Promise.all(subs.map((s) => crew(['memory', ...(s ? [s] : []), '--help'])));
    runs.forEach((r, i) => {
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /\nExamples?:\n {2}(crew|git) /, `crew memory ${subs[i]} --help`);
    });
  });

  it('id prefixes: unique → full id, ambiguous → usage error, listed once across pages', async () => {
    const all = Array.from({ length: 1500 }, (_, i) => `${String(i).padStart(8, '0')}-0000-4000-8000-000000000000`);
    let requests = 0;
    const client = {
      request: async (_method: string, p: { limit: number; offset: number }) => {
        requests++;
        return { memories: all.slice(p.offset, p.offset + p.limit).map((id) => ({ id })), total: all.length };
      },
    } as unknown as CrewClient;
    const r = new MemoryIds(client);
    assert.equal(await r.resolve('00001499'), all[1499]);
    await assert.rejects(r.resolve('0000149'), /ambiguous \(10 memories\)/);
    assert.equal(await r.resolve(all[3]!.toUpperCase()), all[3], 'a full id passes through');
    assert.equal(await r.resolve('ffff'), 'ffff', 'no match: the server decides');
    assert.equal(requests, 2);
    await assert.rejects(new MemoryIds(client, 'ops').resolve('ffff'), /no memory of crew ops/);
    assert.equal(preview('a\n b   c', 10), 'a b c');
    assert.equal(preview('abcdefghijkl', 5), 'abcd…');
    // What changed, reading each field's new value from the next change to it (or the current memory).
    const current = {
      importance: 0.9,
      content: 'new',
      tags: [],
      pinned: false,
    } as unknown as MemoryGet.Result['memory'];
    assert.deepEqual(
      describeChanges(
        [
          { version: 1, at: '', change: 'created', previous: {}, note: null },
          { version: 2, at: '', change: 'updated', previous: { content: 'old', importance: 0.7 }, note: null },
          { version: 3, at: '', change: 'merged', previous: { tags: ['x'] }, note: 'merged abc' },
        ],
        current,
      ),
      ['created', 'importance 0.7 → 0.9, content changed', 'tags x → (none), merged abc'],
    );
  });
});
