// Commands that need no daemon: --stdio mode, doctor, store backup/restore, the demo, and `crew sandbox`
// (also used here as a real upstream for a non-sandbox server, to watch a stream arrive live).
import assert from 'node:assert/strict';
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ChatComplete, LedgerList, StoreBackup, StoreRestore } from '../../protocol';
import type { Check } from '../../cli/commands/doctor';
import type { ServerStatusJson } from '../../cli/commands/server';
import { crew, crewJson, exited, Sandbox, spawnCrew, waitForOutput } from './helpers';

const MODEL = 'openai/gpt-4o-mini';

describe('crew --stdio, doctor, store, demo, sandbox', function () {
  this.timeout(30_000);
  const box = new Sandbox();
  after(() => box.cleanup());

  it('--stdio runs a private server: the call is recorded, no daemon is left behind', async () => {
    const dataDir = await box.dir();
    const { run, json } = await crewJson<ChatComplete.Result>(
      ['--stdio', '--sandbox', 'chat', '--model', MODEL, '--max-tokens', '20', 'hello'],
      { dataDir },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.ok(json.costUsd > 0);
    assert.equal(
      existsSync(path.join(dataDir, 'server.json')),
      false,
      'no discovery file: nothing runs in the background',
    );
    // The private server released the data dir's lock: a second private server can take it at once.
    const again = await crewJson<LedgerList.Result>(['--stdio', 'ledger'], { dataDir });
    assert.equal(again.run.code, 0, again.run.stderr);
    assert.equal(again.json.total, 1);
    const status = await crewJson<ServerStatusJson>(['server', 'status'], { dataDir });
    assert.equal(status.json.running, false);
  });

  it('doctor: every check ok in the sandbox', async () => {
    const dataDir = await box.dir();
    const run = await crew(['--stdio', '--sandbox', 'doctor'], { dataDir });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const lines = run.stdout.trim().split('\n');
    for (const name of ['data dir', 'server', 'api key', 'base url', 'store', 'openrouter key'])
      assert.ok(
        lines.some((l) => new RegExp(`^ok\\s+${name}\\s`).test(l)),
        `"${name}" ok in:\n${run.stdout}`,
      );
    assert.ok(
      lines.every((l) => l.startsWith('ok')),
      run.stdout,
    );
    const { json } = await crewJson<{ ok: boolean; checks: Check[] }>(['--stdio', '--sandbox', 'doctor'], { dataDir });
    assert.equal(json.ok, true);
    assert.ok(json.checks.every((c: { state: string }) => c.state === 'ok'));
  });

  it('doctor: a missing API key and an unreachable OpenRouter fail with a fix, exit 1', async () => {
    const dataDir = await box.dir();
    const run = await crew(['--stdio', 'doctor'], {
      dataDir,
      env: { OPENROUTER_BASE_URL: 'http://127.0.0.1:9/api/v1' },
    });
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stdout, /^FAIL\s+api key\s+no OpenRouter API key/m);
    assert.match(run.stdout, /fix: export OPENROUTER_API_KEY=/);
    assert.match(run.stdout, /^FAIL\s+openrouter key/m);
    assert.match(run.stdout, /^ok\s+store/m);
    assert.match(run.stderr, /^crew: 2 check\(s\) failed/);
  });

  it('store backup then restore brings the ledger back (paths relative to the shell, not the server)', async () => {
    const dataDir = await box.dir();
    const work = await box.dir('crew-cli-cwd-');
    const opts = { dataDir, cwd: work };
    const chat = () =>
      crew(['--stdio', '--sandbox', 'chat', '--model', MODEL, '--max-tokens', '20', 'remember me'], opts);
    assert.equal((await chat()).code, 0);

    const backup = await crewJson<StoreBackup.Result>(['--stdio', 'store', 'backup', '--output', 'snap.backup'], opts);
    assert.equal(backup.run.code, 0, backup.run.stderr);
    assert.equal(backup.json.path, path.join(work, 'snap.backup'));
    assert.ok(existsSync(path.join(work, 'snap.backup')));
    assert.equal(backup.json.ledgerEntries, 1);
    assert.match(backup.json.sha256, /^[0-9a-f]{64}$/);

    assert.equal((await chat()).code, 0);
    assert.equal((await crewJson<LedgerList.Result>(['--stdio', 'ledger'], opts)).json.total, 2);

    const restore = await crewJson<StoreRestore.Result>(['--stdio', 'store', 'restore', 'snap.backup'], opts);
    assert.equal(restore.run.code, 0, restore.run.stderr);
    assert.equal(restore.json.ledgerEntries, 1);
    assert.equal(restore.json.restoredFrom, path.join(work, 'snap.backup'));
    assert.ok(existsSync(restore.json.previousBackup), 'the replaced state was backed up first');
    // The server only ever wrote and read inside <data dir>/backups: the CLI moved the backup out to --output and
    // copied the file to restore in (and removed that copy); what stays there is the pre-restore backup.
    const kept = await fsp.readdir(path.join(dataDir, 'backups'));
    assert.deepEqual(
      kept.map((n) => n.replace(/\d.*/, '')),
      ['pre-restore-'],
      kept.join(', '),
    );
    assert.equal((await crewJson<LedgerList.Result>(['--stdio', 'ledger'], opts)).json.total, 1);

    const verify = await crew(['--stdio', 'store', 'verify'], opts);
    assert.equal(verify.code, 0, verify.stderr);
    assert.match(verify.stdout, /store ok/);
    const missing = await crew(['--stdio', 'store', 'restore', 'nope.backup'], opts);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^crew: /);
  });

  it('demo walks through the product offline and exits 0', async () => {
    const dataDir = await box.dir();
    const started = Date.now();
    const run = await crew(['demo', '--data-dir', dataDir], { timeoutMs: 20_000 });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.ok(Date.now() - started < 10_000, 'the demo takes seconds');
    const banners = run.stdout.match(/SANDBOX — simulated OpenRouter, no real money/g) ?? [];
    assert.equal(banners.length, 2, 'banner at top and bottom');
    assert.ok(run.stdout.trimEnd().endsWith('═'), 'the bottom banner closes the output');
    assert.match(run.stdout, /Models and prices/);
    assert.match(run.stdout, /--stream/);
    assert.match(run.stdout, /Sandbox reply/);
    assert.match(run.stdout, /agent:launch\/researcher\s+daily\s+.*█/, 'budget status table with a bar');
    assert.match(run.stdout, /would be exceeded/);
    assert.match(run.stdout, /limit \$0\.05 · spent \$0\.000\d+ · reserved \$0\.00 · this call needs up to \$7\.5/);
    assert.match(run.stdout, /blocked\s+critical/, 'the refusal alert is in the history');
    assert.match(run.stdout, /crossed 80%/, 'a threshold alert fired');
    assert.match(run.stdout, /^AGENT\s+CALLS/m);
    assert.match(run.stdout, /^TOTAL\s+4\s/m);
    // It used the data dir it was given, through a private server that is gone now.
    assert.ok(existsSync(path.join(dataDir, 'store')));
    assert.equal(existsSync(path.join(dataDir, 'server.json')), false);
  });

  it('sandbox: prints a SANDBOX banner with the base URL, serves the OpenRouter API, stops on SIGTERM', async () => {
    const child = spawnCrew(['sandbox', '--port', '0']);
    try {
      const out = await waitForOutput(child, /Ctrl-C to stop/);
      assert.match(out, /SANDBOX/);
      const url = /base URL\s+(http:\/\/127\.0\.0\.1:\d+\/api\/v1)/.exec(out)?.[1];
      assert.ok(url, out);
      assert.match(
        out,
        new RegExp(`OPENROUTER_BASE_URL=${url.replace(/[.]/g, '\\.')} OPENROUTER_API_KEY=sandbox crew-server`),
      );
      assert.match(out, /crew --sandbox /);
      const models = (await (
        await fetch(`${url}/models`, { headers: { authorization: 'Bearer sandbox' } })
      ).json()) as { data: unknown[] };
      assert.ok(models.data.length > 0);
    } finally {
      child.kill('SIGTERM');
    }
    const { code } = await exited(child);
    assert.equal(code, 0);
  });

  it('chat --stream prints deltas as they arrive (a server pointed at `crew sandbox`, made slow)', async () => {
    const fake = spawnCrew(['--json', 'sandbox']);
    try {
      const line = await waitForOutput(fake, /\n/);
      const { url } = JSON.parse(line) as { url: string };
      // 16 chunks, 60 ms apart: a reply printed only at the end would arrive in one go just before exit.
      const behave = await fetch(new URL('/__sandbox/behave', url), {
        method: 'POST',
        body: JSON.stringify({ chunkDelayMs: 60 }),
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(behave.status, 200);

      const dataDir = await box.dir();
      const env = { OPENROUTER_BASE_URL: url, OPENROUTER_API_KEY: 'sandbox' };
      const child = spawnCrew(
        ['--stdio', 'chat', '--model', MODEL, '--max-tokens', '40', '--stream', 'tell me a story'],
        { dataDir, env },
      );
      child.stdin!.end();
      const chunks: { at: number; text: string }[] = [];
      let stderr = '';
      child.stdout!.on('data', (d: Buffer) => chunks.push({ at: Date.now(), text: d.toString() }));
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const { code } = await exited(child);
      const end = Date.now();
      assert.equal(code, 0, stderr);
      assert.match(chunks.map((c) => c.text).join(''), /^Sandbox reply: tell me a story/);
      assert.ok(chunks.length >= 5, `the reply arrived in ${chunks.length} pieces`);
      assert.ok(end - chunks[0]!.at >= 400, `first text ${end - chunks[0]!.at} ms before exit`);
      assert.match(stderr, /tokens · \$/);

      // The same setup is a real (non-sandbox) configuration as far as doctor can tell: key and /key both ok.
      const doctor = await crew(['--stdio', 'doctor'], { dataDir, env });
      assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
      assert.match(doctor.stdout, /^ok\s+api key/m);
      assert.match(doctor.stdout, /^ok\s+openrouter key\s+valid/m);
    } finally {
      fake.kill('SIGTERM');
      await exited(fake);
    }
  });
});
