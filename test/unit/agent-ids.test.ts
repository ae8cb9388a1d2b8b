/**
 * One agent, one id: a crew agent is `<crew>/<agent>` (crewAgentId) however a caller spells it, and a ledger
 * written before every caller spelled it so (`crew chat --crew ops --agent researcher` stored `researcher`) reads,
 * filters, groups and budgets its rows as `ops/researcher` — without rewriting the stored lines.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { attributedAgent, crewAgentId, crewAgentScope } from '../../protocol';
import { ManualClock } from '../../server/clock';
import { AlertService } from '../../server/costs/alerts';
import { LocalGate } from '../../server/costs/local-gate';
import { BudgetService } from '../../server/costs/budgets';
import { parseUsd } from '../../server/costs/money';
import { EventBus } from '../../server/events';
import { silentLogger } from '../../server/log';
import { FileLedger } from '../../server/store/ledger/file-ledger';
import { MemoryAlerts, MemoryBudgets } from '../helpers/memory-repos';

describe('agent ids', () => {
  it('crewAgentId prefixes the crew once, whatever the case of the crew name in the agent', () => {
    assert.equal(crewAgentId('ops', 'researcher'), 'ops/researcher');
    assert.equal(crewAgentId('ops', 'ops/researcher'), 'ops/researcher');
    assert.equal(crewAgentId('Ops', 'ops/researcher'), 'Ops/researcher');
    assert.equal(crewAgentId('ops', 'opsy/researcher'), 'ops/opsy/researcher');
    assert.equal(crewAgentId('ops', 'ops/'), 'ops/');
    assert.equal(crewAgentScope('ops', 'ops/researcher'), 'agent:ops/researcher');
    assert.equal(attributedAgent('ops', 'researcher'), 'ops/researcher');
    assert.equal(attributedAgent(null, 'researcher'), 'researcher');
    assert.equal(attributedAgent('ops', undefined), null);
    assert.equal(attributedAgent(undefined, ''), null);
  });

  describe('a stored ledger with both spellings', () => {
    let dir: string;
    let ledger: FileLedger;

    beforeEach(async () => {
      dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'crew-unit-agent-ids-'));
      await fsp.mkdir(path.join(dir, 'ledger'));
      // Lines as earlier versions wrote them: a CLI call (bare agent), a run's call, a call without a crew.
      const line = (i: number, c: string | null, a: string, cost: number) =>
        JSON.stringify({
          i,
          t: Date.parse('2026-03-01T10:00:00Z') + i,
          m: 'openai/gpt-4o-mini',
          ...(c ? { c } : {}),
          a,
          p: 10,
          o: 5,
          $: cost,
          d: `0.${String(cost).padStart(12, '0')}`,
          l: 3,
        });
      await fsp.writeFile(
        path.join(dir, 'ledger', '000001.jsonl'),
        [
          line(1, 'ops', 'researcher', 1_000),
          line(2, 'ops', 'ops/researcher', 2_000),
          line(3, null, 'researcher', 4_000),
        ]
          .map((l) => l + '\n')
          .join(''),
      );
      ledger = await FileLedger.open(path.join(dir, 'ledger'));
    });
    afterEach(async () => {
      await ledger.close();
      await fsp.rm(dir, { recursive: true, force: true });
    });

    it('reads both as ops/researcher: one row by agent, one sum, one filter; the agent without a crew stays apart', async () => {
      assert.equal(ledger.get(1)!.agent, 'ops/researcher');
      const byAgent = ledger.aggregate({}, 'agent').sort((a, b) => a.key.localeCompare(b.key));
      assert.deepEqual(
        byAgent.map((g) => [g.key, g.calls, g.costPico]),
        [
          ['ops/researcher', 2, 3_000n],
          ['researcher', 1, 4_000n],
        ],
      );
      assert.equal(ledger.sumCost({ agent: 'ops/researcher' }), 3_000n);
      assert.equal(ledger.list({ agent: 'ops/researcher', limit: 10 }).total, 2);
      const usage = ledger.usage({ crew: 'ops' });
      assert.deepEqual(
        usage.map((u) => [u.agent, u.calls]),
        [['ops/researcher', 2]],
      );
      // The files are read as they are, not rewritten.
      const text = await fsp.readFile(path.join(dir, 'ledger', '000001.jsonl'), 'utf8');
      assert.match(text, /"a":"researcher"/);
    });

    it("an agent budget derives its spend from both spellings' rows", async () => {
      const clock = new ManualClock(Date.parse('2026-03-02T00:00:00Z'));
      const svc = new BudgetService(
        new MemoryBudgets(),
        new LocalGate(ledger, clock),
        new AlertService(new MemoryAlerts(), new EventBus(), clock, silentLogger),
        clock,
      );
      await svc.init();
      const { budget } = await svc.set({ scope: 'agent:ops/researcher', period: 'total', limitUsd: 0.000000003 });
      assert.equal(parseUsd(String((await svc.status({ id: budget.id }))[0]!.spentUsd)), 3_000n);
      await assert.rejects(
        svc.reserve({ crew: 'ops', agent: 'ops/researcher', model: 'm' }, () => 1n),
        /agent:ops\/researcher/,
      );
    });
  });
});
