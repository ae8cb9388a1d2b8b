/** Crews through the real server: models checked against the fake's catalog, addressed by id or name, kept. */
import assert from 'node:assert/strict';
import type { Crew, CrewList, UnknownModelData } from '../../protocol';
import { ErrorCodes } from '../../protocol';
import { makeTempDir, removeTempDir, rpcError, startServer, useFake } from '../helpers';

describe('crews (real server)', function () {
  this.timeout(30_000);
  const up = useFake();

  it('create checks models (naming close matches), get works by id or name, and a restart keeps the crew', async () => {
    const dataDir = makeTempDir();
    const first = await startServer({ transport: 'socket', dataDir, upstreamUrl: up.fake.url });
    const c = first.client;
    const bad = await rpcError(
      c.request('crew/create', { name: 'launch', agents: [{ name: 'writer', model: 'openai/gpt-4o-mimi' }] }),
      ErrorCodes.UnknownModel,
    );
    assert.match(bad.message, /agents\.0\.model/);
    assert.ok((bad.data as UnknownModelData).suggestions.includes('openai/gpt-4o-mini'));
    assert.deepEqual((await c.request<CrewList.Result>('crew/list', {})).crews, [], 'nothing half-created');

    const crew = await c.request<Crew>('crew/create', {
      name: 'launch',
      agents: [
        { name: 'researcher', role: 'finds facts', model: 'anthropic/claude-3.5-haiku', maxTokens: 400 },
        { name: 'writer', model: 'openai/gpt-4o-mini', temperature: 0.3 },
      ],
    });
    assert.equal((await c.request<Crew>('crew/get', { crew: 'launch' })).id, crew.id);
    assert.equal((await c.request<Crew>('crew/get', { crew: crew.id })).agents.length, 2);
    await rpcError(c.request('crew/create', { name: 'LAUNCH' }), ErrorCodes.Conflict);

    await first.server.stop();
    const second = await startServer({ transport: 'socket', dataDir, upstreamUrl: up.fake.url });
    try {
      const again = await second.client.request<Crew>('crew/get', { crew: 'launch' });
      assert.deepEqual(again, crew);
      await second.client.request('crew/delete', { crew: 'launch' });
      await rpcError(second.client.request('crew/get', { crew: crew.id }), ErrorCodes.NotFound);
    } finally {
      await second.server.stop();
      await removeTempDir(dataDir);
    }
  });
});
