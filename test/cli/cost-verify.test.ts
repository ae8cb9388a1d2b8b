// `crew cost verify` with the real binary and a daemon pointed at a fake OpenRouter this test can make disagree:
// the summary and tables, --json, --fix, and the exit code a script relies on (1 while drift is left uncorrected).
import assert from 'node:assert/strict';
import type { CostVerify, LedgerList } from '../../protocol';
import { startFakeOpenRouter, type FakeOpenRouter } from '../fixtures/fake-openrouter';
import { crew, crewJson, Sandbox } from './helpers';

const MODEL = 'openai/gpt-4o-mini';

describe('crew cost verify (daemon against a fake OpenRouter)', function () {
  this.timeout(30_000);
  const box = new Sandbox();
  let fake: FakeOpenRouter;
  let dataDir: string;
  let env: Record<string, string>;
  const run = (args: string[]) => crew(args, { dataDir, env });

  before(async () => {
    fake = await startFakeOpenRouter({ port: 0, label: 'ops key' });
    dataDir = await box.dir();
    env = { OPENROUTER_BASE_URL: fake.url, OPENROUTER_API_KEY: 'sk-or-test' };
    const start = await run(['server', 'start']);
    assert.equal(start.code, 0, start.stderr);
  });
  after(async () => {
    await box.cleanup();
    await fake.close();
  });

  it('says the ledger agrees when every call matches, and exits 0', async () => {
    const chat = await run(['chat', '--model', MODEL, '--crew', 'ok', 'hello']);
    assert.equal(chat.code, 0, chat.stderr);
    const r = await run(['cost', 'verify']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^1 call checked from \d{4}-\d\d-\d\d \d\d:\d\d UTC to .*: 1 match, 0 drifted, 0 unknown/m);
    assert.match(r.stdout, /^OpenRouter key ops key$/m);
    assert.match(r.stdout, /^the key's lifetime\s+\$0\.0000\d+\s+\$0\.0000\d+\s+\$0\.00$/m);
    assert.match(r.stdout, /the ledger agrees with OpenRouter's books/);
  });

  it('lists drift and exits 1; --fix appends a correction and exits 0; then the books agree', async () => {
    fake.behave({ billedExtra: '0.001' });
    const chat = await run(['chat', '--model', MODEL, '--crew', 'drift', 'what does this cost?']);
    fake.behave({});
    assert.equal(chat.code, 0, chat.stderr);

    const r = await run(['cost', 'verify']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^2 calls checked .*: 1 match, 1 drifted/m);
    assert.match(r.stdout, /^Drifted: the ledger is not what OpenRouter billed$/m);
    assert.match(r.stdout, /^ROW\s+AT\s+MODEL\s+CREW\s+LEDGER\s+OPENROUTER\s+DIFFERENCE\s+FIXED$/m);
    assert.match(r.stdout, /openai\/gpt-4o-mini\s+drift\s+\$0\.0000\d+\s+\$0\.00100?\d*\s+\+\$0\.001\s+no$/m);
    assert.match(r.stdout, /1 call drifted from OpenRouter's books: crew cost verify --fix appends corrections/);
    assert.match(r.stderr, /crew: 1 call drifted/);

    const { run: jr, json } = await crewJson<CostVerify.Result>(['cost', 'verify'], { dataDir, env });
    assert.equal(jr.code, 1, 'the same exit code with --json');
    assert.equal(json.drifted.length, 1);
    assert.equal(json.drifted[0]!.differenceUsd, 0.001);

    const fixed = await run(['cost', 'verify', '--fix']);
    assert.equal(fixed.code, 0, fixed.stdout + fixed.stderr);
    assert.match(fixed.stdout, /\+\$0\.001\s+row \d+$/m);
    assert.match(fixed.stdout, /^1 correction made from OpenRouter's figures$/m);
    const { json: ledger } = await crewJson<LedgerList.Result>(['ledger', '--crew', 'drift'], { dataDir, env });
    assert.deepEqual(
      ledger.entries.map((e) => e.cost === '0.001'),
      [true, false],
      'the correction beside the original',
    );

    const after = await run(['cost', 'verify']);
    assert.equal(after.code, 0, after.stdout + after.stderr);
    assert.match(after.stdout, /: 2 match, 0 drifted/);
  });

  it('refuses a bad threshold or date before asking the server (exit 2)', async () => {
    const t = await run(['cost', 'verify', '--threshold', '-1']);
    assert.equal(t.code, 2);
    assert.match(t.stderr, /--threshold <usd>.*expected an amount in USD ≥ 0/);
    const d = await run(['cost', 'verify', '--from', 'last tuesday']);
    assert.equal(d.code, 2);
    assert.match(d.stderr, /--from <iso>.*expected an ISO date/);
  });
});
