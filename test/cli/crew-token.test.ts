// `crew crew token` through the real binary and a real (sandbox) daemon: the token printed once on stdout alone,
// with the gateway's base URL on stderr; the token works as an API key on that URL and attributes the call to the
// crew; asking again shows it exists without printing it; --rotate and --revoke take effect at once; --json; --help.
import assert from 'node:assert/strict';
import type { CrewToken, LedgerList } from '../../protocol';
import { crew, crewJson, Sandbox } from './helpers';

describe('crew crew token', function () {
  this.timeout(60_000);
  const box = new Sandbox();
  let dataDir: string;
  let port: number;
  const run = (args: string[]) => crew(['--sandbox', ...args], { dataDir });
  const json = <T>(args: string[]) => crewJson<T>(['--sandbox', ...args], { dataDir });
  /** One chat call through the daemon's gateway with `apiKey`; the HTTP status. */
  const chat = async (apiKey: string, agent?: string) => {
    const res = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${apiKey}`,
        'content-type': 'application/json',
        ...(agent ? { 'x-agent-id': agent } : {}),
      },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    await res.arrayBuffer();
    return res.status;
  };

  before(async () => {
    dataDir = await box.dir();
    const created = await run(['crew', 'create', 'launch']);
    assert.equal(created.code, 0, created.stderr);
    const added = await run([
      'crew',
      'add-agent',
      'launch',
      '--name',
      'writer',
      '--role',
      'drafts',
      '--model',
      'openai/gpt-4o-mini',
    ]);
    assert.equal(added.code, 0, added.stderr);
    const status = await json<{ httpPort: number }>(['server', 'status']);
    port = status.json.httpPort;
    assert.equal(typeof port, 'number', status.run.stdout);
  });
  after(() => box.cleanup());

  let first = '';

  it('prints the token alone on stdout, and how to use it (base URL with the port) on stderr', async () => {
    const r = await run(['crew', 'token', 'launch']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^crt_[A-Za-z0-9_-]{43}\n$/);
    first = r.stdout.trim();
    assert.match(r.stderr, new RegExp(`base URL http://127\\.0\\.0\\.1:${port}/v1`));
    assert.match(r.stderr, /API key/);
    assert.match(r.stderr, /shown only this once/);

    assert.equal(await chat(first, 'writer'), 200);
    const ledger = await json<LedgerList.Result>(['ledger', '--crew', 'launch']);
    assert.equal(ledger.run.code, 0, ledger.run.stderr);
    assert.deepEqual(
      ledger.json.entries.map((e) => [e.crew, e.agent]),
      [['launch', 'launch/writer']],
    );
  });

  it('asked again: says it exists and since when, never prints it; --status and --json say the same', async () => {
    const again = await run(['crew', 'token', 'launch']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^crew launch has a gateway token, created \d{4}-\d\d-\d\d \d\d:\d\d\n$/);
    assert.match(again.stderr, /crew crew token launch --rotate/);
    assert.ok(!again.stdout.includes('crt_') && !again.stderr.includes('crt_'));
    const status = await json<CrewToken.Result>(['crew', 'token', 'launch', '--status']);
    assert.equal(status.run.code, 0, status.run.stderr);
    assert.equal(status.json.exists, true);
    assert.equal(status.json.token, null);
    assert.equal(status.json.crew, 'launch');
    assert.match(status.json.createdAt ?? '', /^\d{4}-\d\d-\d\dT/);
    assert.equal(await chat(first), 200, 'asking did not change the token');
  });

  it('--rotate: a new token, the old one refused at once (--json gives it as `token`)', async () => {
    const r = await json<CrewToken.Result>(['crew', 'token', 'launch', '--rotate']);
    assert.equal(r.run.code, 0, r.run.stderr);
    const fresh = r.json.token!;
    assert.match(fresh, /^crt_/);
    assert.notEqual(fresh, first);
    assert.equal(await chat(first), 401);
    assert.equal(await chat(fresh), 200);
    first = fresh;
  });

  it('--revoke: refused at once; revoking again says there was none', async () => {
    const r = await run(['crew', 'token', 'launch', '--revoke']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^revoked the gateway token of crew launch/);
    assert.equal(await chat(first), 401);
    const again = await run(['crew', 'token', 'launch', '--revoke']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^crew launch had no gateway token/);
  });

  it('mistakes: two actions at once is a usage error (2); an unknown crew fails naming it (1)', async () => {
    const both = await run(['crew', 'token', 'launch', '--rotate', '--revoke']);
    assert.equal(both.code, 2, both.stderr);
    assert.match(both.stderr, /--rotate, --revoke/);
    const unknown = await run(['crew', 'token', 'nobody']);
    assert.equal(unknown.code, 1, unknown.stderr);
    assert.match(unknown.stderr, /crew "nobody" not found/);
  });

  it('--help has examples', async () => {
    const r = await crew(['crew', 'token', '--help'], { dataDir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /--rotate/);
    assert.match(r.stdout, /Examples:\n {2}crew crew token launch\n/);
  });
});
