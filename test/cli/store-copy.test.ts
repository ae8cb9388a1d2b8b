// crew store copy: a data directory seeded through a real sandbox daemon, copied --to a fresh PostgreSQL database
// that a real crew-server then serves (same figures), and --from it into a new data directory (same figures again);
// a non-empty target and a running daemon are refused.
import assert from 'node:assert/strict';
import type { StoreCopyFailure, StoreCopyResult } from '../../protocol';
import { createTestDatabase } from '../helpers/postgres';
import { crew, crewJson, Sandbox, type RunOptions } from './helpers';

const MODEL = 'openai/gpt-4o-mini';
const HASH = { CREW_EMBEDDER: 'hash' };

describe('crew store copy (local data directory ⇄ PostgreSQL)', function () {
  this.timeout(120_000);
  const box = new Sandbox();
  const dbs: { drop(): Promise<void> }[] = [];
  let source: string;
  let url: string;
  let figures: Figures;

  const run = (dataDir: string, args: string[], opts: RunOptions = {}) =>
    crew(args, { dataDir, timeoutMs: 60_000, ...opts, env: { ...HASH, ...opts.env } });
  const json = <T>(dataDir: string, args: string[], opts: RunOptions = {}) =>
    crewJson<T>(args, { dataDir, timeoutMs: 60_000, ...opts, env: { ...HASH, ...opts.env } });
  const ok = async (dataDir: string, args: string[], opts: RunOptions = {}) => {
    const r = await run(dataDir, args, opts);
    assert.equal(r.code, 0, `crew ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  const database = async () => {
    const db = await createTestDatabase('crew_copy');
    dbs.push(db);
    return db.url;
  };

  interface Figures {
    budgets: unknown;
    report: unknown;
    search: unknown;
    archives: unknown;
    crews: unknown;
    runs: unknown;
    ledger: unknown;
  }

  /** What a server on `dataDir` (started with `env`) says: budgets, costs, a memory search, archives, crews, runs. */
  async function figuresOf(dataDir: string, env: Record<string, string> = {}): Promise<Figures> {
    await ok(dataDir, ['--sandbox', 'server', 'start'], { env });
    const get = async <T>(args: string[]) => {
      const { run: r, json: res } = await json<T>(dataDir, args, { env });
      assert.equal(r.code, 0, `crew ${args.join(' ')}: ${r.stderr}`);
      return res;
    };
    const budgets = await get<{ budgets: Record<string, unknown>[] }>(['budget', 'status']);
    const out: Figures = {
      // The period's figures, without what only says when it was asked.
      budgets: budgets.budgets.map(({ checkedAt: _, ...b }) => b),
      report: await get(['cost', 'report', '--by', 'crew']),
      // A search counts as an access, and ranks by recency: the hits, not their scores, are the figure.
      search: (
        await get<{ hits: { memory: { id: string; content: string; kind: string } }[] }>([
          'memory',
          'search',
          '--crew',
          'alpha',
          'postgres',
          'indexes',
        ])
      ).hits.map(({ memory: m }) => [m.id, m.content, m.kind]),
      archives: await get(['archive', 'list']),
      crews: await get(['crew', 'list']),
      runs: await get(['runs']),
      ledger: await get(['ledger', '--limit', '100']),
    };
    await ok(dataDir, ['server', 'stop'], { env });
    return out;
  }

  before(async () => {
    source = await box.dir();
    await ok(source, ['--sandbox', 'server', 'start']);
    await ok(source, ['budget', 'set', '--scope', 'global', '--limit', '5', '--period', 'monthly']);
    await ok(source, [
      'budget',
      'set',
      '--scope',
      'crew:alpha',
      '--limit',
      '0.000002',
      '--period',
      'total',
      '--action',
      'warn',
    ]);
    for (const [i, agent] of ['scout', 'writer', 'scout'].entries())
      await ok(source, [
        'chat',
        '--model',
        MODEL,
        '--crew',
        'alpha',
        '--agent',
        agent,
        '--max-tokens',
        '40',
        `Say hello ${i}`,
      ]);
    await ok(source, [
      'memory',
      'add',
      '--crew',
      'alpha',
      '--kind',
      'lesson',
      'Tuning Postgres indexes made the nightly report faster',
    ]);
    await ok(source, ['memory', 'add', '--crew', 'alpha', 'The deploy pipeline needs a canary step']);
    const lunch = await json<{ memory: { id: string } }>(source, [
      'memory',
      'add',
      '--crew',
      'alpha',
      'Team lunch on Friday',
    ]);
    await ok(source, ['memory', 'search', '--crew', 'alpha', 'deploy canary']);
    await ok(source, ['archive', 'archive', '--ids', lunch.json.memory.id]);
    await ok(source, ['crew', 'create', 'launch']);
    await ok(source, ['crew', 'add-agent', 'launch', '--name', 'writer', '--role', 'drafts', '--model', MODEL]);
    await ok(source, ['crew', 'token', 'launch']);
    await ok(source, ['run', 'launch', 'Write', 'the', 'launch', 'post']);
    await ok(source, ['server', 'stop']);
    figures = await figuresOf(source);
  });

  after(async () => {
    await box.cleanup();
    for (const db of dbs.splice(0)) await db.drop().catch(() => undefined);
  });

  it('--to copies the data directory into an empty database, verified, and a server on it shows the same figures', async () => {
    url = await database();
    const { run: r, json: res } = await json<StoreCopyResult>(source, ['store', 'copy', '--to', url]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(res.ok, true);
    assert.equal(res.verified, true);
    assert.equal(res.direction, 'to');
    const n = (kind: string) => res.kinds.find((k) => k.kind === kind)!;
    assert.equal(n('ledger rows').target, 4, JSON.stringify(res.kinds)); // three chats and the run's call
    assert.equal(n('budgets').target, 2);
    assert.equal(n('memories').target, 3); // two left after the archive, and the run's result
    assert.equal(n('archives').target, 1);
    assert.equal(n('archive payloads').target, 1);
    assert.equal(n('crews').target, 1);
    assert.equal(n('crew tokens').target, 1);
    assert.equal(n('runs').target, 1);
    assert.ok(n('fired alert keys').target >= 1, 'the crew budget fired its alerts');
    assert.ok(n('alerts').target >= 1);
    assert.ok(n('vectors').target >= 3);
    assert.ok(n('access counters').target >= 1, 'the search read memories');
    assert.ok(n('call profile days').target >= 1, 'the calls left their shapes');
    assert.ok(res.kinds.every((k) => k.match && k.sourceDigest === k.targetDigest));
    assert.equal(res.ledger.idsKept, true);
    assert.equal(res.ledger.sourcePico, res.ledger.targetPico);

    const human = await run(source, ['store', 'copy', '--to', await database()]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^KIND\s+SOURCE\s+COPIED\s+CHECK$/m);
    assert.match(human.stdout, /^ledger rows\s+4\s+4\s+ok$/m);
    assert.match(human.stdout, /verified row for row/);

    const served = await box.dir();
    assert.deepEqual(await figuresOf(served, { CREW_STORE_URL: url }), figures);
  });

  it('--from copies the database into a new data directory: the round trip gives the same figures', async () => {
    const back = await box.dir();
    const { run: r, json: res } = await json<StoreCopyResult>(back, ['store', 'copy', '--from', url]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(res.verified, true);
    assert.ok(res.kinds.every((k) => k.match));
    assert.deepEqual(await figuresOf(back), figures);
  });

  it('refuses a database that is not empty, and changes nothing', async () => {
    const { run: r, json: res } = await json<StoreCopyFailure>(source, ['store', 'copy', '--to', url]);
    assert.equal(r.code, 1);
    assert.equal(res.ok, false);
    assert.equal(res.reason, 'not-empty');
    assert.match(
      r.stderr,
      /is not empty \(.*ledger rows.*\); a copy goes into an empty store only, and nothing was written/,
    );
    const served = await box.dir();
    assert.deepEqual(await figuresOf(served, { CREW_STORE_URL: url }), figures);
  });

  it('refuses while a daemon serves the data directory, and says to stop it', async () => {
    await ok(source, ['--sandbox', 'server', 'start']);
    const target = await database();
    const r = await run(source, ['store', 'copy', '--to', target]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /a crew-server \(pid \d+\) is using .*: stop it first \(crew server stop\)/);
    await ok(source, ['server', 'stop']);
  });

  it('wants exactly one of --to and --from, and has an example in --help', async () => {
    const both = await run(source, ['store', 'copy']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /exactly one of --to/);
    const help = await run(source, ['store', 'copy', '--help']);
    assert.match(help.stdout, /Examples?:\n\s+crew server stop && crew store copy --to postgres:/);
  });
});
