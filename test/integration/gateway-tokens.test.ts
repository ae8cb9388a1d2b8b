/**
 * Per-crew gateway tokens (`crew/token`) through the real server, with the real `openai` SDK as the client: a crew
 * token attributes calls to its crew (agents as `<crew>/<agent>`), refuses another crew's X-Crew-Id with a 403,
 * stops working the moment it is rotated, revoked or its crew deleted, opens neither /rpc nor /events, survives a
 * restart, and is never written anywhere in the data directory (only its sha256 is).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { ErrorCodes } from '../../protocol';
import type { CrewToken, LedgerEntry, LedgerList } from '../../protocol';
import { apiFailure } from '../helpers/openai';
import { makeTempDir, removeTempDir, rpcError, startServer, USER, useFake, useServer } from '../helpers';

const MODEL = 'openai/gpt-4o-mini';

/** Every file under `dir`, as bytes read as latin1 (a token is ASCII, so `includes` finds it in any file). */
async function everyFile(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const entry of await fsp.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    out.set(file, await fsp.readFile(file, 'latin1').catch(() => ''));
  }
  return out;
}

describe('per-crew gateway tokens (HTTP /v1 with the openai SDK)', function () {
  const up = useFake();
  const s = useServer(() => ({ transport: 'http', upstreamUrl: up.fake.url }));
  let base: string;
  let serverToken: string;
  /** Every token value this suite was given, to look for on disk at the end. */
  const issued: string[] = [];

  const sdk = (apiKey: string, headers: Record<string, string> = {}) =>
    new OpenAI({ baseURL: `${base}/v1`, apiKey, maxRetries: 0, defaultHeaders: headers });
  const call = (apiKey: string, headers: Record<string, string> = {}, content = 'hi') =>
    sdk(apiKey, headers).chat.completions.create({ model: MODEL, messages: USER(content), max_tokens: 16 });
  const tokenOp = async (crew: string, action?: CrewToken.Action) => {
    const r = await s.client.request<CrewToken.Result>('crew/token', action ? { crew, action } : { crew });
    if (r.token) issued.push(r.token);
    return r;
  };
  const rowsOf = async (crew: string): Promise<LedgerEntry[]> =>
    (await s.client.request<LedgerList.Result>('ledger/list', { crew })).entries;

  before(async () => {
    base = await s.server.httpBase();
    serverToken = await s.server.token();
    await s.client.request('crew/create', {
      name: 'Scribes',
      agents: [
        { name: 'Writer', model: MODEL },
        { name: 'critic', model: MODEL },
      ],
    });
    await s.client.request('crew/create', { name: 'other' });
  });

  it('create: the token is returned once; show says it exists and never returns it', async () => {
    const none = await tokenOp('scribes');
    assert.deepEqual(
      { token: none.token, exists: none.exists, createdAt: none.createdAt },
      {
        token: null,
        exists: false,
        createdAt: null,
      },
    );
    const made = await tokenOp('scribes', 'create');
    assert.match(made.token ?? '', /^crt_[A-Za-z0-9_-]{43}$/);
    assert.equal(made.crew, 'Scribes');
    assert.equal(made.exists, true);
    const shown = await tokenOp(made.crewId, 'show');
    assert.deepEqual(shown, { ...made, token: null });
    const again = await rpcError(
      s.client.request('crew/token', { crew: 'scribes', action: 'create' }),
      ErrorCodes.Conflict,
    );
    assert.match(again.message, /already has a gateway token/);
  });

  it("a crew token attributes calls to its crew: agent <crew>/<agent> (the crew's spelling), run tag", async () => {
    const { token } = await tokenOp('scribes', 'rotate');
    const plain = await call(token!);
    assert.match(plain.choices[0]!.message.content ?? '', /^Sandbox reply:/);
    await call(token!, { 'X-Agent-Id': 'writer', 'X-Run-Id': 'run-42' });
    await call(token!, { 'X-Agent-Id': 'Scribes/critic' });
    // Not one of the crew's agents: kept as given, under the crew.
    await call(token!, { 'X-Agent-Id': 'freelancer' });
    // The crew's own name (any case) or id in X-Crew-Id is fine.
    const shown = await tokenOp('scribes');
    await call(token!, { 'X-Crew-Id': 'SCRIBES' });
    await call(token!, { 'X-Crew-Id': shown.crewId });
    // Streaming too.
    const stream = await sdk(token!, { 'X-Agent-Id': 'critic' }).chat.completions.create({
      model: MODEL,
      messages: USER('stream please'),
      max_tokens: 16,
      stream: true,
    });
    for await (const chunk of stream) void chunk;

    const rows = (await rowsOf('Scribes')).reverse();
    assert.deepEqual(
      rows.map((r) => [r.crew, r.agent, r.tags, r.stream]),
      [
        ['Scribes', null, [], false],
        ['Scribes', 'Scribes/Writer', ['run:run-42'], false],
        ['Scribes', 'Scribes/critic', [], false],
        ['Scribes', 'Scribes/freelancer', [], false],
        ['Scribes', null, [], false],
        ['Scribes', null, [], false],
        ['Scribes', 'Scribes/critic', [], true],
      ],
    );
    // The server token attributes from headers alone; the agent is the crew agent, as everywhere.
    await call(serverToken, { 'X-Crew-Id': 'free-form', 'X-Agent-Id': 'writer' });
    const [free] = await rowsOf('free-form');
    assert.equal(free?.agent, 'free-form/writer');
  });

  it('an X-Crew-Id naming another crew is a 403 naming both crews, and nothing is sent or recorded', async () => {
    const { token } = await tokenOp('scribes', 'rotate');
    const before = up.fake.requests.length;
    for (const other of ['other', 'nonexistent-crew']) {
      const e = await apiFailure(call(token!, { 'X-Crew-Id': other }));
      assert.equal(e.status, 403);
      assert.ok(e instanceof OpenAI.PermissionDeniedError);
      assert.equal(e.code, 'crew_mismatch');
      assert.equal(e.param, 'x-crew-id');
      assert.match(e.message, new RegExp(`crew "Scribes".*"${other}"`));
    }
    assert.equal(up.fake.requests.length, before);
    assert.deepEqual(await rowsOf('other'), []);
  });

  it('rotate: the old value is 401 at once, the new one works', async () => {
    const old = await tokenOp('scribes', 'rotate');
    await call(old.token!);
    const fresh = await tokenOp('scribes', 'rotate');
    assert.notEqual(fresh.token, old.token);
    const e = await apiFailure(call(old.token!));
    assert.equal(e.status, 401);
    assert.ok(e instanceof OpenAI.AuthenticationError);
    assert.equal(e.code, 'invalid_api_key');
    await call(fresh.token!);
  });

  it('revoke: 401 at once, on chat and models alike', async () => {
    const { token } = await tokenOp('scribes', 'rotate');
    assert.equal((await sdk(token!).models.retrieve(MODEL)).id, MODEL);
    const r = await tokenOp('scribes', 'revoke');
    assert.equal(r.revoked, true);
    assert.equal(r.exists, false);
    assert.equal((await apiFailure(call(token!))).status, 401);
    assert.equal((await apiFailure(sdk(token!).models.retrieve(MODEL))).status, 401);
    assert.equal((await tokenOp('scribes', 'revoke')).revoked, false);
  });

  it('a crew token opens neither /rpc nor /events (401)', async () => {
    const { token } = await tokenOp('scribes', 'rotate');
    await call(token!);
    const rpc = await fetch(`${base}/rpc`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'crew/list', params: {} }),
    });
    assert.equal(rpc.status, 401);
    const body = (await rpc.json()) as { error: { code: number; message: string } };
    assert.equal(body.error.code, ErrorCodes.Unauthorized);
    assert.match(body.error.message, /only valid for \/v1/);
    const events = await fetch(`${base}/events`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(events.status, 401);
    const eventsQuery = await fetch(`${base}/events?token=${encodeURIComponent(token!)}`);
    assert.equal(eventsQuery.status, 401);
  });

  it('deleting the crew revokes its token', async () => {
    await s.client.request('crew/create', { name: 'short-lived' });
    const { token } = await tokenOp('short-lived', 'create');
    await call(token!);
    await s.client.request('crew/delete', { crew: 'short-lived' });
    assert.equal((await apiFailure(call(token!))).status, 401);
    // A new crew of the same name does not inherit it.
    await s.client.request('crew/create', { name: 'short-lived' });
    assert.equal((await apiFailure(call(token!))).status, 401);
    assert.equal((await tokenOp('short-lived')).exists, false);
  });

  it('no token value is anywhere in the data directory (db.json, audit.log, ledger …); only hashes are', async () => {
    assert.ok(issued.length >= 6, `only ${issued.length} tokens were issued`);
    const live = await tokenOp('scribes', 'rotate');
    // Drains the audit log to disk before reading it.
    await s.client.request('audit/list', { limit: 1 });
    const files = await everyFile(s.server.dataDir);
    const db = [...files].find(([f]) => f.endsWith('db.json'));
    assert.ok(db, `no db.json in ${[...files.keys()].join(', ')}`);
    assert.ok(db[1].includes(createHash('sha256').update(live.token!).digest('hex')), 'db.json holds the hash');
    const audit = [...files].find(([f]) => path.basename(f) === 'audit.log');
    assert.ok(audit?.[1].includes('crew/token'), 'the token calls are audited');
    for (const token of issued)
      for (const [file, text] of files) assert.ok(!text.includes(token), `${file} contains a token`);
  });
});

describe('per-crew gateway tokens across a restart', function () {
  this.timeout(30_000);
  const up = useFake();

  it('a token issued before a restart works after it; a revoked one stays revoked', async () => {
    const dataDir = makeTempDir();
    try {
      const first = await startServer({ transport: 'http', dataDir, upstreamUrl: up.fake.url });
      const client = first.client;
      await client.request('crew/create', { name: 'keepers' });
      await client.request('crew/create', { name: 'gone' });
      const kept = await client.request<CrewToken.Result>('crew/token', { crew: 'keepers', action: 'create' });
      const revoked = await client.request<CrewToken.Result>('crew/token', { crew: 'gone', action: 'create' });
      await client.request('crew/token', { crew: 'gone', action: 'revoke' });
      assert.equal((await first.server.stop('SIGTERM')).code, 0);

      const second = await startServer({ transport: 'http', dataDir, upstreamUrl: up.fake.url });
      try {
        const baseURL = `${await second.server.httpBase()}/v1`;
        const sdk = (apiKey: string) => new OpenAI({ baseURL, apiKey, maxRetries: 0 });
        await sdk(kept.token!).chat.completions.create({ model: MODEL, messages: USER('after restart') });
        const rows = await second.client.request<LedgerList.Result>('ledger/list', { crew: 'keepers' });
        assert.equal(rows.total, 1);
        const e = await apiFailure(sdk(revoked.token!).chat.completions.create({ model: MODEL, messages: USER('x') }));
        assert.equal(e.status, 401);
      } finally {
        await second.server.stop('SIGTERM');
      }
    } finally {
      await removeTempDir(dataDir);
    }
  });
});
