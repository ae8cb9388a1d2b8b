/**
 * The n8n nodes' copy of the protocol (n8n-nodes/nodes/shared/protocol.generated.ts, written by `npm run build`)
 * must be what protocol/ gives today: a change to protocol/ without a rebuild fails here. And every method the
 * nodes call must be one the server has.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { OPERATIONS } from '../../n8n-nodes/nodes/OpenRouterCrew/resources';
import * as copy from '../../n8n-nodes/nodes/shared/protocol.generated';
import * as protocol from '../../protocol';

const ROOT = path.resolve(__dirname, '../..');

interface Generator {
  generateProtocol(): Promise<string>;
  GENERATED: string;
  ROOTS: string[];
}

const generator = (): Promise<Generator> =>
  import(pathToFileURL(path.join(ROOT, 'n8n-nodes/scripts/protocol.mjs')).href) as Promise<Generator>;

describe('n8n nodes: protocol copy', () => {
  it('is up to date with protocol/ (run `npm run build` after changing protocol/)', async function () {
    this.timeout(30_000);
    const g = await generator();
    const onDisk = await fs.readFile(g.GENERATED, 'utf8');
    assert.ok(onDisk === (await g.generateProtocol()), `${path.relative(ROOT, g.GENERATED)} is stale: npm run build`);
  });

  it('has the same method names as protocol/ for everything it copies', async () => {
    const { ROOTS } = await generator();
    for (const name of ROOTS) {
      const theirs = (protocol as Record<string, unknown>)[name] as { method?: string } | undefined;
      const ours = (copy as Record<string, unknown>)[name] as { method?: string } | undefined;
      assert.ok(ours !== undefined || theirs === undefined, `${name} is missing from the copy`);
      if (theirs?.method !== undefined) assert.equal(ours?.method, theirs.method, name);
    }
    assert.deepEqual(copy.ErrorCodes, protocol.ErrorCodes);
  });

  it('names only methods the server has', () => {
    const called = [
      ...Object.values(OPERATIONS).flatMap((ops) => Object.values(ops).map((o) => o.method)),
      copy.WebhookRegister.method,
      copy.WebhookUnregister.method,
      copy.WebhookList.method,
      copy.BudgetAlerts.method,
      copy.CrewRuns.method,
      copy.ServerHealth.method,
    ];
    assert.deepEqual(
      called.filter((m) => !(m in protocol.METHODS)),
      [],
    );
  });
});
