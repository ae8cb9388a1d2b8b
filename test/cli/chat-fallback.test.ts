// `crew chat --fallback` with the real binary and a daemon pointed at a fake OpenRouter whose first model is down:
// the chain goes upstream, the summary says a fallback answered, --json and the ledger name the model that did.
import assert from 'node:assert/strict';
import type { ChatComplete, LedgerList } from '../../protocol';
import { startFakeOpenRouter, type FakeOpenRouter } from '../fixtures/fake-openrouter';
import { crew, crewJson, Sandbox } from './helpers';

const MODEL = 'openai/gpt-4o-mini';
const FALLBACK = 'anthropic/claude-3.5-haiku';

describe('crew chat --fallback (daemon against a fake OpenRouter)', function () {
  this.timeout(30_000);
  const box = new Sandbox();
  let fake: FakeOpenRouter;
  let dataDir: string;
  let env: Record<string, string>;
  const run = (args: string[]) => crew(args, { dataDir, env });

  before(async () => {
    fake = await startFakeOpenRouter({ port: 0 });
    fake.behave({ unavailableModels: [MODEL] });
    dataDir = await box.dir();
    env = { OPENROUTER_BASE_URL: fake.url, OPENROUTER_API_KEY: 'sk-or-test', NO_COLOR: '1' };
    const start = await run(['server', 'start']);
    assert.equal(start.code, 0, start.stderr);
  });
  after(async () => {
    await box.cleanup();
    await fake.close();
  });

  it('sends the chain and says which model answered', async () => {
    const r = await run(['chat', '--model', MODEL, '--fallback', FALLBACK, '--max-tokens', '40', '--crew', 'fb', 'hi']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Sandbox reply/);
    assert.match(r.stderr, new RegExp(`^${FALLBACK} · `, 'm'));
    assert.match(r.stderr, new RegExp(`answered by fallback ${FALLBACK} \\(${MODEL} did not answer\\)`));
    const body = fake.requests.filter((q) => q.path.endsWith('/chat/completions')).at(-1)!.body as {
      models?: string[];
    };
    assert.deepEqual(body.models, [MODEL, FALLBACK]);

    const { run: jr, json } = await crewJson<ChatComplete.Result>(
      ['chat', '--model', MODEL, '--fallback', `${FALLBACK},mistralai/mistral-nemo`, '--crew', 'fb', 'again'],
      { dataDir, env },
    );
    assert.equal(jr.code, 0, jr.stderr);
    assert.equal(json.model, FALLBACK);
    assert.equal(json.requestedModel, MODEL);
    const { json: ledger } = await crewJson<LedgerList.Result>(['ledger', '--crew', 'fb'], { dataDir, env });
    assert.deepEqual(
      ledger.entries.map((e) => e.model),
      [FALLBACK, FALLBACK],
    );
  });

  it('a chain longer than OpenRouter takes is refused naming models', async () => {
    const r = await run([
      'chat',
      '--model',
      MODEL,
      '--fallback',
      `${FALLBACK},mistralai/mistral-nemo`,
      '--fallback',
      'openai/gpt-4o',
      'hi',
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /models/);
  });
});
