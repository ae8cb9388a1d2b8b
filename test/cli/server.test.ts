// `crew server start|status|token|stop` against a real detached daemon, and a command that auto-starts one.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { LedgerList } from '../../protocol';
import type { ServerStatusJson } from '../../cli/commands/server';
import { crew, crewJson, pidAlive, readPid, Sandbox } from './helpers';

describe('crew server (daemon lifecycle)', function () {
  this.timeout(30_000);
  const box = new Sandbox();
  after(() => box.cleanup());

  it('status reports not running (exit 0) before anything started', async () => {
    const dataDir = await box.dir();
    const { run, json } = await crewJson<ServerStatusJson>(['server', 'status'], { dataDir });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(json.running, false);
    assert.equal(json.pid, null);
    assert.equal(json.dataDir, dataDir);
    const human = await crew(['server', 'status'], { dataDir });
    assert.equal(human.code, 0);
    assert.match(human.stdout, /running\s+no/);
  });

  it('start → status --json → token → stop: the daemon really starts and really exits', async () => {
    const dataDir = await box.dir();
    const start = await crew(['--sandbox', 'server', 'start'], { dataDir });
    assert.equal(start.code, 0, start.stderr);
    assert.match(start.stderr, /started crew-server \(pid \d+\)/);
    assert.match(start.stdout, /SANDBOX/);

    const { run, json: status } = await crewJson<ServerStatusJson>(['server', 'status'], { dataDir });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(status.running, true);
    assert.equal(typeof status.pid, 'number');
    assert.ok(pidAlive(status.pid!), 'the pid in status is a live process');
    assert.equal(status.pid, readPid(dataDir), 'status agrees with the discovery file');
    assert.equal(typeof status.socket, 'string');
    assert.ok(existsSync(status.socket!), 'the socket exists');
    assert.equal(typeof status.httpPort, 'number');
    assert.equal(status.dataDir, dataDir);
    assert.match(status.version!, /^\d+\.\d+\.\d+$/);
    assert.equal(status.sandbox, true);

    // A second start finds the running daemon instead of starting another.
    const again = await crewJson<ServerStatusJson>(['server', 'start'], { dataDir });
    assert.equal(again.run.code, 0, again.run.stderr);
    assert.equal(again.json.pid, status.pid);

    // The token is the file's content alone, and it is what the HTTP transport accepts.
    const token = await crew(['server', 'token'], { dataDir });
    assert.equal(token.code, 0);
    assert.equal(token.stdout, readFileSync(path.join(dataDir, 'token'), 'utf8').trim() + '\n');
    const rpc = (auth?: string) =>
      fetch(`http://127.0.0.1:${status.httpPort}/rpc`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'server/health' }),
      });
    assert.equal((await rpc(token.stdout.trim())).status, 200);
    assert.equal((await rpc('wrong-token-wrong-token-wrong-token')).status, 401);

    const stop = await crew(['server', 'stop'], { dataDir });
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, new RegExp(`stopped crew-server \\(pid ${status.pid}\\)`));
    // `stop` returns only once the process is gone.
    assert.equal(pidAlive(status.pid), false, 'the daemon process has exited');
    assert.equal(existsSync(path.join(dataDir, 'server.json')), false, 'the discovery file is removed');

    const after = await crewJson<ServerStatusJson>(['server', 'status'], { dataDir });
    assert.equal(after.json.running, false);
    const stopAgain = await crew(['server', 'stop'], { dataDir });
    assert.equal(stopAgain.code, 0);
    assert.match(stopAgain.stdout, /no crew-server is running/);
  });

  it('a command starts the daemon when none runs, and later commands reuse it', async () => {
    const dataDir = await box.dir();
    const first = await crewJson<LedgerList.Result>(['--sandbox', 'ledger'], { dataDir });
    assert.equal(first.run.code, 0, first.run.stderr);
    const pid = readPid(dataDir);
    assert.ok(pid !== undefined && pidAlive(pid), 'a daemon runs after the first command');
    const second = await crewJson<LedgerList.Result>(['ledger'], { dataDir });
    assert.equal(second.run.code, 0, second.run.stderr);
    assert.equal(readPid(dataDir), pid, 'the same daemon served the second command');
    // --sandbox must not silently use a daemon that talks to real OpenRouter; this one is a sandbox, so it is fine.
    const status = await crewJson<ServerStatusJson>(['--sandbox', 'server', 'status'], { dataDir });
    assert.equal(status.json.sandbox, true);
  });

  it('--sandbox refuses to use a running daemon that talks to a real upstream', async () => {
    const dataDir = await box.dir();
    // A non-sandbox daemon, pointed at a closed local port so nothing can leave the machine.
    const env = { OPENROUTER_BASE_URL: 'http://127.0.0.1:9/api/v1', OPENROUTER_API_KEY: 'sk-or-test' };
    const start = await crew(['server', 'start'], { dataDir, env });
    assert.equal(start.code, 0, start.stderr);
    const run = await crew(['--sandbox', 'ledger'], { dataDir, env });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /--sandbox was given but the crew-server already running/);
    const stop = await crew(['server', 'stop'], { dataDir });
    assert.equal(stop.code, 0, stop.stderr);
  });

  it('token before any server ran is an error naming the fix', async () => {
    const dataDir = await box.dir();
    const run = await crew(['server', 'token'], { dataDir });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^crew: no token yet .*crew server start/);
  });
});
