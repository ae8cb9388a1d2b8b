import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ErrorCodes, type BudgetSet, type BudgetStatus, type ModelInfo } from '../../protocol';
import type { AgentInput } from '../../protocol/crews';
import { ManualClock } from '../../server/clock';
import { AgentBudgets } from '../../server/crews/agent-budgets';
import { CrewService, type ModelRequirer } from '../../server/crews/service';
import { crewSchemas } from '../../server/crews/schemas';
import { errors, DomainError } from '../../server/errors';
import { JsonStore } from '../../server/store/json-store';
import type { CrewRecord, CrewRepository } from '../../server/store/repositories';

function memoryRepo(): CrewRepository & { rows: Map<string, CrewRecord> } {
  const rows = new Map<string, CrewRecord>();
  return {
    rows,
    list: async () => [...rows.values()].map((c) => structuredClone(c)),
    get: async (id) => {
      const c = rows.get(id);
      return c && structuredClone(c);
    },
    put: async (c) => void rows.set(c.id, structuredClone(c)),
    delete: async (id) => rows.delete(id),
  };
}

const KNOWN = ['openai/gpt-4o-mini', 'openai/gpt-4o', 'anthropic/claude-3.5-sonnet'];

/** Throws like ModelCatalog.require: UnknownModel with the known ids that contain the asked one's tail. */
const catalog: ModelRequirer = {
  require: async (id) => {
    if (KNOWN.includes(id)) return { id } as unknown as ModelInfo;
    const tail = id.split('/').pop()!;
    throw errors.unknownModel(
      id,
      KNOWN.filter((k) => k.includes(tail.slice(0, 6))),
    );
  },
};

const writer: AgentInput = { name: 'writer', role: 'drafts', model: 'openai/gpt-4o-mini', temperature: 0.7 };
const critic: AgentInput = {
  name: 'Critic',
  model: 'anthropic/claude-3.5-sonnet',
  systemPrompt: 'Be harsh.',
  maxTokens: 2000,
  budget: { limitUsd: 5, period: 'daily' },
};

async function rejects(p: Promise<unknown>, code: number, message: RegExp): Promise<DomainError> {
  let caught: unknown;
  await p.catch((e: unknown) => (caught = e));
  assert.ok(caught instanceof DomainError, `expected an DomainError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.match(caught.message, message);
  return caught;
}

describe('CrewService', () => {
  let repo: ReturnType<typeof memoryRepo>;
  let clock: ManualClock;
  let crews: CrewService;
  beforeEach(() => {
    repo = memoryRepo();
    clock = new ManualClock(Date.UTC(2026, 0, 1));
    crews = new CrewService(repo, catalog, clock);
  });

  it('creates a crew with normalised agents, found by id and by name (any case)', async () => {
    const c = await crews.create({ name: ' Research ', description: 'finds things', agents: [writer, critic] });
    assert.match(c.id, /^crew_[0-9a-f-]{36}$/);
    assert.equal(c.name, 'Research');
    assert.equal(c.createdAt, '2026-01-01T00:00:00.000Z');
    assert.deepEqual(c.agents, [
      {
        name: 'writer',
        role: 'drafts',
        model: 'openai/gpt-4o-mini',
        systemPrompt: '',
        temperature: 0.7,
        maxTokens: null,
        budget: null,
        promptCache: false,
      },
      {
        name: 'Critic',
        role: '',
        model: 'anthropic/claude-3.5-sonnet',
        systemPrompt: 'Be harsh.',
        temperature: null,
        maxTokens: 2000,
        budget: { limitUsd: 5, period: 'daily' },
        promptCache: false,
      },
    ]);
    assert.deepEqual(await crews.get(c.id), c);
    assert.deepEqual(await crews.get('research'), c);
    assert.deepEqual(await crews.resolve('RESEARCH'), { id: c.id, name: 'Research' });
    assert.equal(repo.rows.size, 1);
  });

  it('an unknown crew is NotFound naming what was asked', async () => {
    const e = await rejects(crews.get('nope'), ErrorCodes.NotFound, /crew "nope" not found/);
    assert.deepEqual(e.data, { entity: 'crew', id: 'nope' });
  });

  it('refuses a duplicate crew name (case-insensitive), also when renaming', async () => {
    const a = await crews.create({ name: 'Alpha' });
    await rejects(crews.create({ name: 'alpha' }), ErrorCodes.Conflict, /a crew named "Alpha" already exists/);
    await crews.create({ name: 'Beta' });
    await rejects(crews.update({ crew: 'beta', name: 'ALPHA' }), ErrorCodes.Conflict, /already exists/);
    // Renaming a crew to its own name in another case is fine.
    assert.equal((await crews.update({ crew: a.id, name: 'ALPHA' })).name, 'ALPHA');
  });

  it('concurrent creates of one name: exactly one wins', async () => {
    const results = await Promise.allSettled([crews.create({ name: 'Same' }), crews.create({ name: 'same' })]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    assert.equal(repo.rows.size, 1);
  });

  it('refuses duplicate agent names within a crew, and a name shaped like a crew id', async () => {
    await rejects(
      crews.create({ name: 'X', agents: [writer, { ...critic, name: 'WRITER' }] }),
      ErrorCodes.InvalidParams,
      /agents\.1\.name: "WRITER" is already the name of agents\.0/,
    );
    await rejects(
      crews.create({ name: 'crew_123e4567-e89b-12d3-a456-426614174000' }),
      ErrorCodes.InvalidParams,
      /looks like a crew id/,
    );
    assert.equal(repo.rows.size, 0);
  });

  it('an unknown model is UnknownModel naming the field and close matches; nothing is stored', async () => {
    const e = await rejects(
      crews.create({ name: 'X', agents: [writer, { ...critic, model: 'openai/gpt-4o-mimi' }] }),
      ErrorCodes.UnknownModel,
      /^agents\.1\.model: unknown model "openai\/gpt-4o-mimi"; did you mean "openai\/gpt-4o-mini", "openai\/gpt-4o"\?$/,
    );
    assert.deepEqual(e.data, { model: 'openai/gpt-4o-mimi', suggestions: ['openai/gpt-4o-mini', 'openai/gpt-4o'] });
    assert.equal(repo.rows.size, 0);

    const c = await crews.create({ name: 'Y' });
    await rejects(
      crews.update({ crew: c.id, addAgent: { name: 'z', model: 'openai/gpt-4o-mimi' } }),
      ErrorCodes.UnknownModel,
      /^addAgent\.model: unknown model/,
    );
  });

  it('update adds and removes agents, replaces the list, and changes description and updatedAt', async () => {
    const c = await crews.create({ name: 'Team', agents: [writer] });
    clock.advance(60_000);
    let u = await crews.update({ crew: 'team', addAgent: critic, description: 'two now' });
    assert.deepEqual(
      u.agents.map((a) => a.name),
      ['writer', 'Critic'],
    );
    assert.equal(u.description, 'two now');
    assert.equal(u.createdAt, c.createdAt);
    assert.equal(u.updatedAt, '2026-01-01T00:01:00.000Z');

    await rejects(crews.update({ crew: c.id, addAgent: writer }), ErrorCodes.Conflict, /already has an agent named/);
    await rejects(crews.update({ crew: c.id, removeAgent: 'ghost' }), ErrorCodes.NotFound, /agent "Team\/ghost"/);

    u = await crews.update({ crew: c.id, removeAgent: 'critic' });
    assert.deepEqual(
      u.agents.map((a) => a.name),
      ['writer'],
    );
    // Remove and add together replace one agent.
    u = await crews.update({ crew: c.id, removeAgent: 'writer', addAgent: { ...writer, model: 'openai/gpt-4o' } });
    assert.equal(u.agents[0]!.model, 'openai/gpt-4o');

    u = await crews.update({ crew: c.id, agents: [critic] });
    assert.deepEqual(
      u.agents.map((a) => a.name),
      ['Critic'],
    );
    await rejects(
      crews.update({ crew: c.id, agents: [], addAgent: writer }),
      ErrorCodes.InvalidParams,
      /do not combine/,
    );
    assert.deepEqual(await crews.get(c.id), u);
  });

  it('deletes by name and lists by name', async () => {
    await crews.create({ name: 'zeta' });
    const b = await crews.create({ name: 'Beta' });
    await crews.create({ name: 'alpha' });
    assert.deepEqual(
      (await crews.list()).map((c) => c.name),
      ['alpha', 'Beta', 'zeta'],
    );
    assert.deepEqual(await crews.delete({ crew: 'beta' }), { deleted: true, id: b.id, name: 'Beta' });
    assert.deepEqual(
      (await crews.list()).map((c) => c.name),
      ['alpha', 'zeta'],
    );
    await rejects(crews.delete({ crew: 'beta' }), ErrorCodes.NotFound, /crew "beta" not found/);
  });
});

describe('crews in the JsonStore', () => {
  it('survive a reopen; delete is durable too', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'crew-crews-'));
    try {
      const clock = new ManualClock(0);
      const open = () => JsonStore.open(path.join(dir, 'store'), clock, path.join(dir, 'backups'));
      let store = await open();
      const c = await new CrewService(store.crews, catalog, clock).create({ name: 'Kept', agents: [critic] });
      const gone = await new CrewService(store.crews, catalog, clock).create({ name: 'Gone' });
      await new CrewService(store.crews, catalog, clock).delete({ crew: gone.id });
      await store.close();
      store = await open();
      const crews = new CrewService(store.crews, catalog, clock);
      assert.deepEqual(await crews.get('kept'), c);
      assert.deepEqual(
        (await crews.list()).map((x) => x.name),
        ['Kept'],
      );
      await store.close();
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('crew schemas', () => {
  it('bound sizes and refuse unknown fields', () => {
    const create = crewSchemas['crew/create'];
    assert.ok(create.safeParse({ name: 'a', agents: [writer, critic] }).success);
    assert.ok(!create.safeParse({ name: '' }).success);
    assert.ok(!create.safeParse({ name: 'x'.repeat(101) }).success);
    assert.ok(!create.safeParse({ name: 'a', extra: 1 }).success);
    assert.ok(!create.safeParse({ name: 'a', agents: Array(51).fill(writer) }).success);
    assert.ok(!create.safeParse({ name: 'a', agents: [{ ...writer, temperature: 2.5 }] }).success);
    assert.ok(!create.safeParse({ name: 'a', agents: [{ ...writer, maxTokens: 0 }] }).success);
    assert.ok(!create.safeParse({ name: 'a', agents: [{ ...writer, systemPrompt: 'x'.repeat(20_001) }] }).success);
    assert.ok(
      !create.safeParse({ name: 'a', agents: [{ ...writer, budget: { limitUsd: 1, period: 'yearly' } }] }).success,
    );
    assert.ok(crewSchemas['crew/list'].safeParse(undefined).success);
    assert.ok(crewSchemas['crew/update'].safeParse({ crew: 'a', removeAgent: 'b' }).success);
    assert.ok(!crewSchemas['crew/get'].safeParse({}).success);
  });
});

describe('AgentBudgets (an agent budget is a budget of scope agent:<crew>/<agent>)', () => {
  /** A BudgetWriter over a list, keyed like BudgetService: one budget per scope and period. */
  function budgetList() {
    const list: BudgetStatus[] = [];
    let seq = 0;
    return {
      list,
      set: async (p: BudgetSet.Params) => {
        const old = list.find((b) => b.scope === p.scope && b.period === p.period);
        if (old) old.limitUsd = p.limitUsd;
        else list.push({ id: `b${++seq}`, scope: p.scope, period: p.period, limitUsd: p.limitUsd } as BudgetStatus);
      },
      delete: async (id: string) =>
        void list.splice(
          list.findIndex((b) => b.id === id),
          1,
        ),
      status: async (f: { scope?: string }) => list.filter((b) => !f.scope || b.scope === f.scope),
    };
  }
  const view = (l: BudgetStatus[]) => l.map((b) => `${b.scope} ${b.period} ${b.limitUsd}`).sort();

  it('follows the crew: set on create, changed on update, moved on rename, removed with the agent or the crew', async () => {
    const budgets = budgetList();
    const crews = new CrewService(memoryRepo(), catalog, new ManualClock(0), new AgentBudgets(budgets));
    const c = await crews.create({ name: 'ops', agents: [critic, writer] });
    assert.deepEqual(view(budgets.list), ['agent:ops/Critic daily 5']);
    await crews.update({
      crew: 'ops',
      removeAgent: 'Critic',
      addAgent: { ...critic, budget: { limitUsd: 7, period: 'daily' } },
    });
    assert.deepEqual(view(budgets.list), ['agent:ops/Critic daily 7']);
    await crews.update({
      crew: 'ops',
      removeAgent: 'writer',
      addAgent: { ...writer, budget: { limitUsd: 1, period: 'total' } },
    });
    assert.deepEqual(view(budgets.list), ['agent:ops/Critic daily 7', 'agent:ops/writer total 1']);
    await crews.update({ crew: c.id, name: 'sre' });
    assert.deepEqual(view(budgets.list), ['agent:sre/Critic daily 7', 'agent:sre/writer total 1']);
    await crews.update({ crew: 'sre', removeAgent: 'writer' });
    assert.deepEqual(view(budgets.list), ['agent:sre/Critic daily 7']);
    await crews.delete({ crew: 'sre' });
    assert.deepEqual(view(budgets.list), []);
  });
});
