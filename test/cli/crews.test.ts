// `crew crew …` through the real binary with a private (--stdio) sandbox server per command: create, add-agent,
// show, list, an unknown model naming the close match, remove-agent, delete's confirmation rule, and --help.
import assert from 'node:assert/strict';
import type { Crew, CrewDelete, CrewList } from '../../protocol';
import { agentBudget } from '../../cli/commands/crews';
import { crew, crewJson, Sandbox, type RunOptions } from './helpers';

describe('crew crew', function () {
  this.timeout(40_000);
  const box = new Sandbox();
  let dataDir: string;
  let id = '';
  const run = (args: string[], opts: RunOptions = {}) =>
    crew(['--stdio', '--sandbox', '--data-dir', dataDir, 'crew', ...args], opts);
  const json = <T>(args: string[], opts: RunOptions = {}) =>
    crewJson<T>(['--stdio', '--sandbox', '--data-dir', dataDir, 'crew', ...args], opts);

  before(async () => {
    dataDir = await box.dir();
  });
  after(() => box.cleanup());

  it('create, add-agent ×2, show lists both agents, list counts them', async () => {
    const created = await json<Crew>(['create', 'launch', '--description', 'writes the launch post']);
    assert.equal(created.run.code, 0, created.run.stderr);
    assert.equal(created.json.name, 'launch');
    assert.deepEqual(created.json.agents, []);
    id = created.json.id;

    const writer = await run([
      'add-agent',
      'launch',
      '--name',
      'writer',
      '--role',
      'drafts the post',
      '--model',
      'openai/gpt-4o-mini',
      '--temperature',
      '0.3',
      '--budget',
      '2/daily',
    ]);
    assert.equal(writer.code, 0, writer.stderr);
    assert.match(writer.stderr, /added agent writer to crew launch/);
    const researcher = await json<Crew>([
      'add-agent',
      id,
      '--name',
      'researcher',
      '--role',
      'finds facts',
      '--model',
      'anthropic/claude-3.5-haiku',
      '--max-tokens',
      '400',
      '--system-prompt',
      'Cite sources.',
    ]);
    assert.equal(researcher.run.code, 0, researcher.run.stderr);
    assert.deepEqual(researcher.json.agents[1], {
      name: 'researcher',
      role: 'finds facts',
      model: 'anthropic/claude-3.5-haiku',
      systemPrompt: 'Cite sources.',
      temperature: null,
      maxTokens: 400,
      budget: null,
      promptCache: false,
    });
    assert.deepEqual(researcher.json.agents[0]!.budget, { limitUsd: 2, period: 'daily' });

    const show = await run(['show', 'LAUNCH']);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, new RegExp(`^id\\s+${id}$`, 'm'));
    assert.match(show.stdout, /^description\s+writes the launch post$/m);
    assert.match(show.stdout, /^NAME\s+ROLE\s+MODEL\s+TEMPERATURE\s+MAX TOKENS\s+BUDGET$/m);
    assert.match(show.stdout, /^writer\s+drafts the post\s+openai\/gpt-4o-mini\s+0\.3\s+—\s+\$2\.00\/daily$/m);
    assert.match(show.stdout, /^researcher\s+finds facts\s+anthropic\/claude-3\.5-haiku\s+—\s+400\s+—$/m);

    const list = await run(['list']);
    assert.equal(list.code, 0, list.stderr);
    const lines = list.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ID\s+NAME\s+AGENTS\s+MODELS$/);
    assert.equal(lines.length, 2, list.stdout);
    assert.match(
      lines[1]!,
      new RegExp(`^${id.slice(0, 13)}\\s+launch\\s+2\\s+openai/gpt-4o-mini, anthropic/claude-3\\.5-haiku$`),
    );
    const listJson = await json<CrewList.Result>(['list']);
    assert.deepEqual(
      listJson.json.crews.map((c) => c.id),
      [id],
    );
  });

  it('add-agent with an unknown model fails (exit 1) naming the close match; remove-agent removes', async () => {
    const bad = await run(['add-agent', 'launch', '--name', 'x', '--role', 'y', '--model', 'openai/gpt-4o-mimi']);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /^crew: .*unknown model "openai\/gpt-4o-mimi".*"openai\/gpt-4o-mini"/m);

    const removed = await json<Crew>(['remove-agent', 'launch', 'writer']);
    assert.equal(removed.run.code, 0, removed.run.stderr);
    assert.deepEqual(
      removed.json.agents.map((a) => a.name),
      ['researcher'],
    );
  });

  it('delete: refused on a pipe without --force (exit 2), done with --force', async () => {
    const refused = await run(['delete', 'launch']);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /^crew: refusing to delete crew launch .*pass --force/m);
    const forced = await json<CrewDelete.Result>(['delete', '--force', 'launch']);
    assert.equal(forced.run.code, 0, forced.run.stderr);
    assert.deepEqual(forced.json, { deleted: true, id, name: 'launch' });
    const gone = await run(['show', id]);
    assert.equal(gone.code, 1, gone.stderr);
    assert.match(gone.stderr, /^crew: /m);
  });

  it('usage errors exit 2; --budget parses <usd>/<period>', async () => {
    const bad = await run(['add-agent', 'launch', '--name', 'x', '--role', 'y', '--model', 'm', '--budget', '5/year']);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--budget.*daily\|weekly\|monthly\|total/);
    const noModel = await run(['add-agent', 'launch', '--name', 'x', '--role', 'y']);
    assert.equal(noModel.code, 2, noModel.stderr);
    assert.match(noModel.stderr, /--model/);
    assert.deepEqual(agentBudget('$0.5/Total'), { limitUsd: 0.5, period: 'total' });
    assert.throws(() => agentBudget('five/daily'));
  });

  it('every crew subcommand has --help with an example', async () => {
    const subs = ['', 'create', 'list', 'show', 'delete', 'add-agent', 'remove-agent'];
    const runs = await Promise.all(subs.map((s) => crew(['crew', ...(s ? [s] : []), '--help'])));
    runs.forEach((r, i) => {
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /\nExamples?:\n {2}crew crew /, `crew crew ${subs[i]} --help`);
    });
  });
});
