import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ErrorCodes, type ModelInfo } from '../../protocol';
import { ManualClock } from '../../server/clock';
import { CrewService } from '../../server/crews/service';
import { CrewTokenService } from '../../server/crews/tokens';
import { DomainError } from '../../server/errors';
import { MemoryCrews, MemoryCrewTokens } from '../helpers/memory-repos';

const T0 = Date.parse('2025-03-01T12:00:00Z');
const sha = (t: string) => createHash('sha256').update(t).digest('hex');

async function rejects(p: Promise<unknown>, code: number, message?: RegExp): Promise<void> {
  const e = await p.then(
    () => assert.fail('expected a failure'),
    (x: unknown) => x,
  );
  assert.ok(e instanceof DomainError, `expected an DomainError, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  if (message) assert.match(e.message, message);
}

describe('CrewTokenService', () => {
  let clock: ManualClock;
  let crewRepo: MemoryCrews;
  let repo: MemoryCrewTokens;
  let crews: CrewService;
  let tokens: CrewTokenService;
  let launchId: string;

  beforeEach(async () => {
    clock = new ManualClock(T0);
    crewRepo = new MemoryCrews();
    repo = new MemoryCrewTokens();
    crews = new CrewService(crewRepo, { require: async (id) => ({ id }) as unknown as ModelInfo }, clock);
    tokens = new CrewTokenService(repo, crews, clock);
    await tokens.init();
    launchId = (await crews.create({ name: 'Launch', agents: [{ name: 'writer', model: 'openai/gpt-4o-mini' }] })).id;
    await crews.create({ name: 'ops' });
  });

  it('show (the default) on a crew without a token: exists false, no token', async () => {
    assert.deepEqual(await tokens.token({ crew: 'launch' }), {
      crewId: launchId,
      crew: 'Launch',
      token: null,
      exists: false,
      createdAt: null,
      revoked: false,
    });
  });

  it('create: a long random crt_ token, only its sha256 stored, and it authenticates as the crew', async () => {
    const r = await tokens.token({ crew: 'LAUNCH', action: 'create' });
    assert.match(r.token ?? '', /^crt_[A-Za-z0-9_-]{43}$/);
    assert.equal(r.exists, true);
    assert.equal(r.createdAt, new Date(T0).toISOString());
    assert.deepEqual([...repo.rows.values()], [{ crewId: launchId, sha256: sha(r.token!), createdAt: r.createdAt }]);
    assert.ok(!JSON.stringify([...repo.rows.values()]).includes(r.token!.slice(4)));
    const who = await tokens.authenticate(r.token!);
    assert.equal(who?.id, launchId);
    assert.equal(who?.name, 'Launch');
    assert.deepEqual(
      who?.agents.map((a) => a.name),
      ['writer'],
    );
    // Another crew's token is another value.
    const ops = await tokens.token({ crew: 'ops', action: 'create' });
    assert.notEqual(ops.token, r.token);
    assert.equal((await tokens.authenticate(ops.token!))?.name, 'ops');
  });

  it('create when one exists: Conflict, and the existing token keeps working; show never returns it', async () => {
    const first = await tokens.token({ crew: 'launch', action: 'create' });
    clock.advance(60_000);
    await rejects(
      tokens.token({ crew: 'launch', action: 'create' }),
      ErrorCodes.Conflict,
      /already has a gateway token/,
    );
    assert.equal((await tokens.authenticate(first.token!))?.id, launchId);
    const shown = await tokens.token({ crew: launchId, action: 'show' });
    assert.deepEqual(shown, { ...first, token: null });
  });

  it('rotate: a new value; the old one is refused at once', async () => {
    const first = await tokens.token({ crew: 'launch', action: 'create' });
    clock.advance(3_600_000);
    const second = await tokens.token({ crew: 'launch', action: 'rotate' });
    assert.notEqual(second.token, first.token);
    assert.equal(second.createdAt, new Date(T0 + 3_600_000).toISOString());
    assert.equal(await tokens.authenticate(first.token!), undefined);
    assert.equal((await tokens.authenticate(second.token!))?.id, launchId);
    assert.equal(repo.rows.size, 1);
    // Rotating a crew that has none issues its first.
    const ops = await tokens.token({ crew: 'ops', action: 'rotate' });
    assert.equal((await tokens.authenticate(ops.token!))?.name, 'ops');
  });

  it('revoke: refused at once, removed from the store; revoking again says there was none', async () => {
    const { token } = await tokens.token({ crew: 'launch', action: 'create' });
    const r = await tokens.token({ crew: 'launch', action: 'revoke' });
    assert.deepEqual(r, {
      crewId: launchId,
      crew: 'Launch',
      token: null,
      exists: false,
      createdAt: null,
      revoked: true,
    });
    assert.equal(await tokens.authenticate(token!), undefined);
    assert.equal(repo.rows.size, 0);
    assert.equal((await tokens.token({ crew: 'launch', action: 'revoke' })).revoked, false);
  });

  it('an unknown crew is NotFound; anything that is not a live token authenticates as nobody', async () => {
    await rejects(tokens.token({ crew: 'nobody', action: 'create' }), ErrorCodes.NotFound, /crew "nobody"/);
    const { token } = await tokens.token({ crew: 'launch', action: 'create' });
    for (const t of ['', 'crt_', token!.slice(4), `${token}x`, token!.toUpperCase(), 'sk-or-v1-abc'])
      assert.equal(await tokens.authenticate(t), undefined, t);
  });

  it('a renamed crew: its token still works and calls carry the new name', async () => {
    const { token } = await tokens.token({ crew: 'launch', action: 'create' });
    await crews.update({ crew: 'launch', name: 'release' });
    assert.equal((await tokens.authenticate(token!))?.name, 'release');
  });

  it('a deleted crew: forgetCrew revokes its token; even without it, the token of a missing crew is refused', async () => {
    const a = await tokens.token({ crew: 'launch', action: 'create' });
    const b = await tokens.token({ crew: 'ops', action: 'create' });
    await crews.delete({ crew: 'launch' });
    await tokens.forgetCrew(launchId);
    assert.equal(await tokens.authenticate(a.token!), undefined);
    assert.equal(repo.rows.has(launchId), false);
    // ops's crew goes without its token being revoked (a crash in between): refused anyway…
    const opsId = (await crews.get('ops')).id;
    await crewRepo.delete(opsId);
    assert.equal(await tokens.authenticate(b.token!), undefined);
    // …and dropped from the store at the next start.
    await new CrewTokenService(repo, crews, clock).init();
    assert.equal(repo.rows.size, 0);
  });

  it('a restart (a new service over the same store) accepts the tokens issued before it', async () => {
    const { token } = await tokens.token({ crew: 'launch', action: 'create' });
    const restarted = new CrewTokenService(repo, crews, clock);
    assert.equal(await restarted.authenticate(token!), undefined, 'nothing is known before init');
    await restarted.init();
    assert.equal((await restarted.authenticate(token!))?.id, launchId);
  });

  it('a rotate whose write fails: the error surfaces and the old token no longer works (fails closed)', async () => {
    const { token } = await tokens.token({ crew: 'launch', action: 'create' });
    repo.failWrites = true;
    await assert.rejects(tokens.token({ crew: 'launch', action: 'rotate' }), /ENOSPC/);
    assert.equal(await tokens.authenticate(token!), undefined);
  });

  it('concurrent creates for one crew: exactly one token is issued', async () => {
    const results = await Promise.allSettled([
      tokens.token({ crew: 'launch', action: 'create' }),
      tokens.token({ crew: 'launch', action: 'create' }),
      tokens.token({ crew: 'launch', action: 'create' }),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    assert.equal(repo.rows.size, 1);
  });
});
