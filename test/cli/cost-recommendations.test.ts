// crew cost recommendations / crew cost apply through the real `crew` binary, a private --stdio sandbox server per
// command over one data dir: a crew agent's calls on an expensive model are found, applied and not applied twice.
import assert from 'node:assert/strict';
import type { ChatComplete, Crew, LedgerList } from '../../protocol';
import type { CostApplyRecommendation, CostRecommendations } from '../../protocol/recommendations';
import { decimal, pico } from '../helpers/harness';
import { ANSI, crew, crewJson, Sandbox } from './helpers';

const MODEL = 'openai/gpt-4o';

describe('crew cost recommendations, cost apply (sandbox, --stdio)', function () {
  this.timeout(60_000);
  const box = new Sandbox();
  let dataDir: string;
  const g = () => ['--stdio', '--sandbox', '--data-dir', dataDir];
  const run = (args: string[]) => crew([...g(), ...args]);
  const json = <T>(args: string[]) => crewJson<T>([...g(), ...args]);

  before(async () => {
    dataDir = await box.dir();
  });
  after(() => box.cleanup());

  it('on a fresh ledger: nothing to recommend, and the table says so', async () => {
    const { run: r, json: res } = await json<CostRecommendations.Result>(['cost', 'recommendations']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(res.recommendations, []);
    assert.equal(res.windowDays, 30);
    const table = await run(['cost', 'recommendations', '--window', '7d']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stderr, /no savings found over the last 7 days/);
  });

  it("lists a crew agent's cheaper model with its exact savings, applies it by id, and not twice", async () => {
    for (const args of [
      ['crew', 'create', 'ops'],
      ['crew', 'add-agent', 'ops', '--name', 'writer', '--role', 'writes', '--model', MODEL],
    ]) {
      const r = await run(args);
      assert.equal(r.code, 0, r.stderr);
    }
    for (const prompt of ['Draft the release note', 'Shorten it']) {
      const chat = await json<ChatComplete.Result>([
        'chat',
        '--model',
        MODEL,
        '--crew',
        'ops',
        '--agent',
        'ops/writer',
        '--max-tokens',
        '50',
        prompt,
      ]);
      assert.equal(chat.run.code, 0, chat.run.stderr);
    }

    const { run: r, json: res } = await json<CostRecommendations.Result>(['cost', 'recommendations', '--crew', 'ops']);
    assert.equal(r.code, 0, r.stderr);
    const rec = res.recommendations.find((x) => x.kind === 'cheaper-model' && x.agent === 'ops/writer');
    assert.ok(rec, JSON.stringify(res.recommendations));
    // Same tokens on the sandbox's cheapest text model (mistral-nemo: $0.0000000375 / $0.00000015 per token).
    const { json: ledger } = await json<LedgerList.Result>(['ledger', '--agent', 'ops/writer']);
    const spent = ledger.entries.reduce((s, e) => s + pico(e.cost), 0n);
    const repriced = ledger.entries.reduce(
      (s, e) =>
        s + BigInt(e.usage.promptTokens) * pico('0.0000000375') + BigInt(e.usage.completionTokens) * pico('0.00000015'),
      0n,
    );
    assert.equal(rec.savings, decimal(spent - repriced));
    assert.equal(rec.title, `ops/writer: switch ${MODEL} to mistralai/mistral-nemo`);

    const table = await run(['cost', 'recommendations']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ID\s+KIND\s+WOULD HAVE SAVED\s+SPENT\s+APPLY\s+WHAT$/m);
    assert.match(
      table.stdout,
      new RegExp(`^${rec.id}\\s+cheaper-model\\s+\\$[\\d.]+\\s+\\$[\\d.]+\\s+yes\\s+ops/writer`, 'm'),
    );
    assert.match(table.stderr, new RegExp(`crew cost apply ${rec.id}`));
    assert.doesNotMatch(table.stdout, ANSI);
    const none = await run(['cost', 'recommendations', '--min-savings', '1000']);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stderr, /no savings found/);

    const dry = await run(['cost', 'apply', rec.id, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /dry run: nothing changed/);
    assert.match(dry.stdout, /crew:ops\/agent:writer model: "openai\/gpt-4o" → "mistralai\/mistral-nemo"/);
    assert.equal((await json<Crew>(['crew', 'show', 'ops'])).json.agents[0]!.model, MODEL);

    const applied = await json<CostApplyRecommendation.Result>(['cost', 'apply', rec.id]);
    assert.equal(applied.run.code, 0, applied.run.stderr);
    assert.equal(applied.json.applied, true);
    assert.equal((await json<Crew>(['crew', 'show', 'ops'])).json.agents[0]!.model, 'mistralai/mistral-nemo');

    const twice = await run(['cost', 'apply', rec.id]);
    assert.equal(twice.code, 1, twice.stderr);
    assert.match(twice.stderr, /already applied/);
    const after = await json<CostRecommendations.Result>(['cost', 'recommendations']);
    assert.deepEqual(
      after.json.recommendations.filter((x) => x.agent === 'ops/writer'),
      [],
    );
    assert.equal(after.json.applied[0]?.id, rec.id);
  });

  it('usage errors exit 2 naming the option', async () => {
    const w = await run(['cost', 'recommendations', '--window', '0d']);
    assert.equal(w.code, 2, w.stderr);
    assert.match(w.stderr, /--window/);
    const m = await run(['cost', 'recommendations', '--min-savings', 'lots']);
    assert.equal(m.code, 2, m.stderr);
    assert.match(m.stderr, /--min-savings/);
    const noId = await run(['cost', 'apply']);
    assert.equal(noId.code, 2, noId.stderr);
  });
});
