// The daemon's HTTP port stays the same across restarts (n8n credentials point at it): the real `crew` binary
// starting and stopping real daemons, with a port held by another listener where the case needs one.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { ServerStatusJson } from '../../cli/commands/server';
import { crew, crewJson, Sandbox } from './helpers';

/** A listener on a free port of 127.0.0.1: a port another program holds. */
async function holdPort(port = 0): Promise<net.Server> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return server;
}

const portOf = (server: net.Server) => (server.address() as net.AddressInfo).port;
const close = (server: net.Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = await holdPort();
  const port = portOf(server);
  await close(server);
  return port;
}

describe('crew server: the HTTP port a data directory keeps', function () {
  this.timeout(60_000);
  const box = new Sandbox();
  after(() => box.cleanup());

  async function start(dataDir: string, ...args: string[]): Promise<ServerStatusJson> {
    const { run, json } = await crewJson<ServerStatusJson>(['--sandbox', 'server', 'start', ...args], { dataDir });
    assert.equal(run.code, 0, run.stderr);
    return json;
  }

  async function stop(dataDir: string): Promise<void> {
    const run = await crew(['server', 'stop'], { dataDir });
    assert.equal(run.code, 0, run.stderr);
  }

  it('a restart listens on the port of the first start, and status says it stays', async () => {
    const dataDir = await box.dir();
    const first = await start(dataDir);
    assert.equal(typeof first.httpPort, 'number');
    // Chosen below the ephemeral range (8787 up), where no outgoing connection of the machine takes it later.
    assert.ok(first.httpPort! >= 8787 && first.httpPort! < 8887, `first port ${first.httpPort}`);
    assert.equal(first.keptHttpPort, first.httpPort);
    assert.equal(readFileSync(path.join(dataDir, 'http-port'), 'utf8').trim(), String(first.httpPort));
    const human = await crew(['server', 'status'], { dataDir });
    assert.match(
      human.stdout,
      new RegExp(`http\\s+http://127\\.0\\.0\\.1:${first.httpPort} .*the same after restarts`),
    );
    await stop(dataDir);

    const stopped = await crew(['server', 'status'], { dataDir });
    assert.match(stopped.stdout, new RegExp(`http\\s+port ${first.httpPort} when it starts`));
    const again = await start(dataDir);
    assert.equal(again.httpPort, first.httpPort);
    await stop(dataDir);
  });

  it('an http-port that cannot be read (a folder) does not stop the daemon: it starts on a free port and says why', async () => {
    const dataDir = await box.dir();
    mkdirSync(path.join(dataDir, 'http-port'));
    const st = await start(dataDir);
    assert.equal(typeof st.httpPort, 'number');
    assert.match(readFileSync(path.join(dataDir, 'server.log'), 'utf8'), /cannot read the kept HTTP port/);
    assert.equal((await crew(['server', 'status'], { dataDir })).code, 0);
    await stop(dataDir);
  });

  it('when another program holds the kept port, the daemon starts on another one and says so', async () => {
    const dataDir = await box.dir();
    const kept = (await start(dataDir)).httpPort!;
    await stop(dataDir);

    const squatter = await holdPort(kept);
    try {
      const moved = await start(dataDir);
      assert.notEqual(moved.httpPort, kept);
      assert.equal(moved.keptHttpPort, kept, 'the kept port is not given up');
      const human = await crew(['server', 'status'], { dataDir });
      assert.match(human.stdout, new RegExp(`port ${kept} was taken at start`));
      assert.match(
        readFileSync(path.join(dataDir, 'server.log'), 'utf8'),
        new RegExp(`HTTP port ${kept}, kept for this data directory, is not available \\(another program uses it\\)`),
      );
      await stop(dataDir);
    } finally {
      await close(squatter);
    }
    // Free again: the next start is back on it.
    assert.equal((await start(dataDir)).httpPort, kept);
    await stop(dataDir);
  });

  it('start --port <n> chooses the port, which later starts keep', async () => {
    const dataDir = await box.dir();
    const chosen = await freePort();
    const first = await start(dataDir, '--port', String(chosen));
    assert.equal(first.httpPort, chosen);
    assert.equal(first.keptHttpPort, chosen);

    // While it runs, asking for another port says how to move it rather than pretending.
    const other = await crew(['server', 'start', '--port', String(await freePort())], { dataDir });
    assert.equal(other.code, 1);
    assert.match(
      other.stderr,
      new RegExp(`already runs .* with HTTP port ${chosen}; to move it to \\d+: crew server stop`),
    );
    // The same port is just the running daemon.
    assert.equal((await start(dataDir, '--port', String(chosen))).pid, first.pid);
    await stop(dataDir);

    assert.equal((await start(dataDir)).httpPort, chosen);
    await stop(dataDir);
  });

  it('start --port <n> with a port another program holds fails, naming it, and keeps the old port', async () => {
    const dataDir = await box.dir();
    const kept = (await start(dataDir)).httpPort!;
    await stop(dataDir);
    const squatter = await holdPort();
    try {
      const run = await crew(['--sandbox', 'server', 'start', '--port', String(portOf(squatter))], { dataDir });
      assert.equal(run.code, 1);
      assert.match(run.stderr, /exit 8/);
      assert.match(
        run.stderr,
        new RegExp(`cannot listen for HTTP on port ${portOf(squatter)} \\(another program uses it\\)`),
      );
    } finally {
      await close(squatter);
    }
    assert.equal(readFileSync(path.join(dataDir, 'http-port'), 'utf8').trim(), String(kept));
  });

  it('--port is checked before anything starts', async () => {
    const dataDir = await box.dir();
    const run = await crew(['server', 'start', '--port', 'eighty'], { dataDir });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--port <n>.*eighty/);
  });
});
