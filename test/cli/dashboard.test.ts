// `crew dashboard`: starts the daemon, prints the page's URL with the token in the fragment (a URL that serves the
// page), refuses an unknown page, and `--open` hands exactly that URL to the system's opener.
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { crew, crewJson, pidAlive, readPid, Sandbox } from './helpers';

describe('crew dashboard', function () {
  this.timeout(30_000);
  const box = new Sandbox();
  after(() => box.cleanup());

  it('starts the daemon and prints a working URL with the token; --json gives {url}', async () => {
    const dataDir = await box.dir();
    const { run, json } = await crewJson<{ url: string }>(['--sandbox', 'dashboard', 'budgets'], { dataDir });
    assert.equal(run.code, 0, run.stderr);
    assert.ok(pidAlive(readPid(dataDir)!), 'the daemon runs');
    const token = (await crew(['server', 'token'], { dataDir })).stdout.trim();
    const m = /^http:\/\/127\.0\.0\.1:(\d+)\/dashboard\/budgets#token=(.+)$/.exec(json.url);
    assert.ok(m, json.url);
    assert.equal(decodeURIComponent(m[2]!), token);
    const status = await crewJson<{ httpPort: number }>(['server', 'status'], { dataDir });
    assert.equal(Number(m[1]), status.json.httpPort);
    const page = await fetch(json.url.split('#')[0]!);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /src="assets\/budgets\.js"/);

    const human = await crew(['dashboard'], { dataDir });
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout.trim(), /^http:\/\/127\.0\.0\.1:\d+\/dashboard\/costs#token=/);
  });

  it('refuses an unknown page as a usage error, and --stdio', async () => {
    const dataDir = await box.dir();
    const bad = await crew(['dashboard', 'settings'], { dataDir });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /costs, budgets, analytics, archive/);
    const stdio = await crew(['--stdio', 'dashboard'], { dataDir });
    assert.equal(stdio.code, 2);
    assert.match(stdio.stderr, /needs the daemon/);
    const help = await crew(['dashboard', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Example/);
  });

  it('--open hands the URL to the system opener', async function () {
    if (process.platform !== 'linux') this.skip();
    const dataDir = await box.dir();
    const bin = path.join(dataDir, 'bin');
    const seen = path.join(dataDir, 'opened.txt');
    await fsp.mkdir(bin);
    // A stand-in xdg-open that records what it was asked to open.
    await fsp.writeFile(path.join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s' "$1" > '${seen}'\n`, { mode: 0o755 });
    const { run, json } = await crewJson<{ url: string }>(['--sandbox', 'dashboard', 'archive', '--open'], {
      dataDir,
      env: { PATH: `${bin}:${process.env.PATH ?? ''}` },
    });
    assert.equal(run.code, 0, run.stderr);
    let opened = '';
    for (let i = 0; i < 200 && !opened; i++) {
      opened = await fsp.readFile(seen, 'utf8').catch(() => '');
      if (!opened) await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(opened, json.url);
  });
});
