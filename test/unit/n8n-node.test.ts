/**
 * The "OpenRouter Crew" n8n node with a hand-made IExecuteFunctions: for every resource/operation, the JSON-RPC call
 * it builds from the item's parameters (checked against the server's own params schema, so a request the server
 * would refuse fails here) and the items it makes of the result; then error mapping and "Continue On Fail".
 */
import assert from 'node:assert/strict';
import type { ICredentialTestFunctions, IDataObject, INode, INodeProperties, INodeType } from 'n8n-workflow';
import { NodeApiError, NodeOperationError, Workflow } from 'n8n-workflow';
import { OpenRouterCrewApi } from '../../n8n-nodes/credentials/OpenRouterCrewApi.credentials';
import { OpenRouterCrew } from '../../n8n-nodes/nodes/OpenRouterCrew/OpenRouterCrew.node';
import { OPERATIONS } from '../../n8n-nodes/nodes/OpenRouterCrew/resources';
import { OpenRouterCrewPollTrigger } from '../../n8n-nodes/nodes/OpenRouterCrewPollTrigger/OpenRouterCrewPollTrigger.node';
import { OpenRouterCrewTrigger } from '../../n8n-nodes/nodes/OpenRouterCrewTrigger/OpenRouterCrewTrigger.node';
import { CREDENTIAL_TEST } from '../../n8n-nodes/nodes/shared/credential-test';
import { ErrorCodes, type CostVerify, type CrewEstimate, type MethodName } from '../../protocol';
import { schemas } from '../../server/rpc/schemas';
import { answering, CREDENTIALS, executeContext, RpcRecorder, type RpcAnswer } from '../helpers/n8n';
import * as r from '../helpers/n8n-records';

const node = new OpenRouterCrew();

interface Case {
  title: string;
  params: IDataObject;
  method: string;
  sent: unknown;
  result: unknown;
  items: object[];
}

const plain = (x: object) => JSON.parse(JSON.stringify(x)) as IDataObject;

const VERIFY_RESULT: CostVerify.Result = {
  from: '2026-03-01T00:00:00.000Z',
  to: '2026-03-08T00:00:00.000Z',
  thresholdUsd: 0.0001,
  checked: 2,
  matched: 1,
  drifted: [
    {
      id: 7,
      generationId: 'gen-7',
      model: 'openai/gpt-4o-mini',
      crew: 'ops',
      agent: null,
      at: '2026-03-02T10:00:00.000Z',
      ledgerUsd: 0.0000105,
      upstreamUsd: 0.0010105,
      differenceUsd: 0.001,
      estimated: false,
      fixedBy: 9,
    },
  ],
  missing: [],
  zeroCost: [],
  unchecked: 0,
  fixed: 1,
  alerted: true,
  verifiedAt: '2026-03-08T00:00:01.000Z',
};

const ESTIMATE: CrewEstimate.Result = {
  crew: 'ops',
  process: 'manager',
  agents: [],
  typicalUsd: null,
  highUsd: null,
  worstCaseUsd: 0.2,
  maxCostUsd: 0.1,
  historyRuns: 0,
  notes: [],
};

const CASES: Case[] = [
  {
    title: 'budget/set with every additional field',
    params: {
      resource: 'budget',
      operation: 'set',
      scope: 'crew:ops',
      period: 'weekly',
      limitUsd: 2.5,
      additionalFields: {
        onExceeded: 'downgrade',
        downgradeTo: 'openai/gpt-4o-mini',
        thresholds: '50, 90',
        weekStart: 0,
        id: 'bud_7',
      },
    },
    method: 'budget/set',
    sent: {
      scope: 'crew:ops',
      period: 'weekly',
      limitUsd: 2.5,
      action: 'downgrade',
      downgradeTo: 'openai/gpt-4o-mini',
      thresholds: [50, 90],
      weekStart: 0,
      id: 'bud_7',
    },
    result: { budget: r.budget({ id: 'bud_7', period: 'weekly' }), created: false },
    items: [{ ...r.budget({ id: 'bud_7', period: 'weekly' }), created: false }],
  },
  {
    title: 'budget/set that fits calls, with its floor (sent only with the Fit action)',
    params: {
      resource: 'budget',
      operation: 'set',
      scope: 'global',
      period: 'daily',
      limitUsd: 0.01,
      additionalFields: { onExceeded: 'fit', minTokens: 32 },
    },
    method: 'budget/set',
    sent: { scope: 'global', period: 'daily', limitUsd: 0.01, action: 'fit', minTokens: 32 },
    result: { budget: r.budget({ scope: 'global', limitUsd: 0.01 }), created: true },
    items: [{ ...r.budget({ scope: 'global', limitUsd: 0.01 }), created: true }],
  },
  {
    title: 'budget/set with the defaults',
    params: { resource: 'budget', operation: 'set' },
    method: 'budget/set',
    sent: { scope: 'global', period: 'monthly', limitUsd: 10 },
    result: { budget: r.budget({ scope: 'global', limitUsd: 10 }), created: true },
    items: [{ ...r.budget({ scope: 'global', limitUsd: 10 }), created: true }],
  },
  {
    title: 'budget/status: one item per budget',
    params: { resource: 'budget', operation: 'getStatus', filters: { scope: 'crew:ops' } },
    method: 'budget/status',
    sent: { scope: 'crew:ops' },
    result: { budgets: [r.budgetStatus(), r.budgetStatus({ id: 'bud_2', state: 'ok' })] },
    items: [r.budgetStatus(), r.budgetStatus({ id: 'bud_2', state: 'ok' })],
  },
  {
    title: 'budget/alerts with a budget and a time',
    params: {
      resource: 'budget',
      operation: 'listAlerts',
      limit: 10,
      alertFilters: { budgetId: 'bud_1', since: '2026-03-01T00:00:00.000Z' },
    },
    method: 'budget/alerts',
    sent: { limit: 10, budgetId: 'bud_1', since: '2026-03-01T00:00:00.000Z' },
    result: { alerts: [r.alert(), r.alert({ id: 'alert_2', kind: 'blocked', severity: 'critical' })], webhooks: [] },
    items: [r.alert(), r.alert({ id: 'alert_2', kind: 'blocked', severity: 'critical' })],
  },
  {
    title: 'budget/delete',
    params: { resource: 'budget', operation: 'delete', budgetId: ' bud_1 ' },
    method: 'budget/delete',
    sent: { id: 'bud_1' },
    result: { deleted: true },
    items: [{ deleted: true }],
  },
  {
    title: 'cost/report as one item, CSV asked for',
    params: {
      resource: 'cost',
      operation: 'report',
      by: 'crew',
      from: '2026-03-01T00:00:00',
      to: '2026-03-02T00:00:00',
      reportOptions: { crew: 'ops', csv: true, stack: 'model' },
    },
    method: 'cost/report',
    sent: {
      by: 'crew',
      from: '2026-03-01T00:00:00',
      to: '2026-03-02T00:00:00',
      crew: 'ops',
      format: 'csv',
      stack: 'model',
    },
    result: r.costReport({ csv: 'key,calls\nops,3\n' }),
    items: [plain(r.costReport({ csv: 'key,calls\nops,3\n' }))],
  },
  {
    title: 'cost/report with the defaults (no range)',
    params: { resource: 'cost', operation: 'report' },
    method: 'cost/report',
    sent: { by: 'model' },
    result: r.costReport({ by: 'model' }),
    items: [plain(r.costReport({ by: 'model' }))],
  },
  {
    title: 'cost/recommendations: one item per recommendation',
    params: {
      resource: 'cost',
      operation: 'recommendations',
      windowDays: 7,
      recommendationOptions: { crew: 'ops', minSavingsUsd: 0.01 },
    },
    method: 'cost/recommendations',
    sent: { windowDays: 7, crew: 'ops', minSavingsUsd: 0.01 },
    result: {
      at: '2026-03-08T00:00:00.000Z',
      from: '2026-03-01T00:00:00.000Z',
      to: '2026-03-08T00:00:00.000Z',
      windowDays: 7,
      recommendations: [r.costRecommendation()],
      totalSavingsUsd: 0.31,
      applied: [],
    },
    items: [r.costRecommendation()],
  },
  {
    title: 'cost/forecast: one item per budget',
    params: { resource: 'cost', operation: 'forecast', forecastFilters: { budgetId: 'bud_1' } },
    method: 'cost/forecast',
    sent: { budgetId: 'bud_1' },
    result: { at: '2026-03-10T00:00:00.000Z', forecasts: [r.forecast()] },
    items: [r.forecast()],
  },
  {
    title: 'cost/verify: the range, corrections and threshold sent; one item with the summary and the lists',
    params: {
      resource: 'cost',
      operation: 'verify',
      verifyFrom: '2026-03-01T00:00:00',
      verifyTo: '',
      verifyOptions: { fix: true, threshold: 0.0001 },
    },
    method: 'cost/verify',
    sent: { from: '2026-03-01T00:00:00', fix: true, threshold: 0.0001 },
    result: VERIFY_RESULT,
    items: [plain(VERIFY_RESULT)],
  },
  {
    title: 'memory/add with tags, kind and importance',
    params: {
      resource: 'memory',
      operation: 'add',
      crew: 'ops',
      content: 'Postgres indexes fixed the nightly report',
      additionalFields: { kind: 'lesson', tags: 'database, performance', importance: 0.9, pinned: true },
    },
    method: 'memory/add',
    sent: {
      crew: 'ops',
      content: 'Postgres indexes fixed the nightly report',
      kind: 'lesson',
      tags: ['database', 'performance'],
      importance: 0.9,
      pinned: true,
    },
    result: { memory: r.memory({ kind: 'lesson' }), created: true, duplicateOf: null },
    items: [{ ...r.memory({ kind: 'lesson' }), created: true, duplicateOf: null }],
  },
  {
    title: 'memory/search: one item per hit, with its score and the embedder that ranked it',
    params: {
      resource: 'memory',
      operation: 'search',
      crew: 'ops',
      query: 'database speed',
      limit: 5,
      searchFilters: { kinds: ['fact', 'lesson'] },
    },
    method: 'memory/search',
    sent: { query: 'database speed', limit: 5, crew: 'ops', kinds: ['fact', 'lesson'] },
    result: { hits: [{ memory: r.memory(), score: 0.71, components: r.components }], embedderId: 'hash@256' },
    items: [{ ...r.memory(), score: 0.71, components: { ...r.components }, embedderId: 'hash@256' }],
  },
  {
    title: 'memory/search of a workflow that kept the crew among the filters',
    params: { resource: 'memory', operation: 'search', query: 'speed', searchFilters: { crew: 'ops' } },
    method: 'memory/search',
    sent: { query: 'speed', limit: 50, crew: 'ops' },
    result: { hits: [], embedderId: 'hash@256' },
    items: [],
  },
  {
    title: 'memory/context: the packed memories as one item, with their text ready for a prompt',
    params: {
      resource: 'memory',
      operation: 'context',
      crew: 'ops',
      query: 'nightly report',
      maxTokens: 300,
      searchFilters: { agent: 'writer', tags: 'database' },
    },
    method: 'memory/context',
    sent: { query: 'nightly report', crew: 'ops', maxTokens: 300, agent: 'writer', tags: ['database'] },
    result: {
      memories: [
        { memory: r.memory({ id: 'mem_1', content: 'Indexes fixed it' }), score: 0.8, tokens: 4 },
        { memory: r.memory({ id: 'mem_2', content: 'It runs at 2:00' }), score: 0.5, tokens: 5 },
      ],
      usedTokens: 9,
      budgetTokens: 300,
    },
    items: [
      {
        text: 'Indexes fixed it\n\nIt runs at 2:00',
        memories: [
          { ...r.memory({ id: 'mem_1', content: 'Indexes fixed it' }), score: 0.8, tokens: 4 },
          { ...r.memory({ id: 'mem_2', content: 'It runs at 2:00' }), score: 0.5, tokens: 5 },
        ],
        usedTokens: 9,
        budgetTokens: 300,
      },
    ],
  },
  {
    title: 'memory/list with filters: one item per memory',
    params: {
      resource: 'memory',
      operation: 'list',
      limit: 10,
      listFilters: { crew: 'ops', kind: 'lesson', tag: 'database', offset: 20 },
    },
    method: 'memory/list',
    sent: { limit: 10, crew: 'ops', kind: 'lesson', tag: 'database', offset: 20 },
    result: { memories: [r.memory({ id: 'mem_1' }), r.memory({ id: 'mem_2' })], total: 22 },
    items: [r.memory({ id: 'mem_1' }), r.memory({ id: 'mem_2' })],
  },
  {
    title: 'memory/update of the fields added; an emptied agent is cleared',
    params: {
      resource: 'memory',
      operation: 'update',
      memoryId: 'mem_1',
      updateFields: { content: 'Partial indexes fixed it', tags: 'db, perf', pinned: true, agent: '' },
    },
    method: 'memory/update',
    sent: { id: 'mem_1', content: 'Partial indexes fixed it', tags: ['db', 'perf'], pinned: true, agent: null },
    result: { memory: r.memory({ content: 'Partial indexes fixed it', pinned: true }) },
    items: [r.memory({ content: 'Partial indexes fixed it', pinned: true })],
  },
  {
    title: 'memory/duplicates: one item per set, with the merge that would tidy it',
    params: { resource: 'memory', operation: 'duplicates', duplicateOptions: { crew: 'ops', threshold: 0.9 } },
    method: 'memory/duplicates',
    sent: { crew: 'ops', threshold: 0.9 },
    result: {
      threshold: 0.9,
      embedderIds: { ops: 'hash@256' },
      sets: [
        {
          crew: 'ops',
          keepId: 'mem_1',
          duplicates: [{ id: 'mem_2', similarity: 0.95 }],
          merge: { keepId: 'mem_1', mergeIds: ['mem_2'] },
          reason: 'the most used',
          tokensSaved: 12,
        },
      ],
    },
    items: [
      {
        crew: 'ops',
        keepId: 'mem_1',
        duplicates: [{ id: 'mem_2', similarity: 0.95 }],
        merge: { keepId: 'mem_1', mergeIds: ['mem_2'] },
        reason: 'the most used',
        tokensSaved: 12,
        threshold: 0.9,
      },
    ],
  },
  {
    title: 'memory/merge of a comma-separated list into the kept memory',
    params: {
      resource: 'memory',
      operation: 'merge',
      keepId: 'mem_1',
      mergeIds: 'mem_2, mem_3',
      mergeOptions: { tags: 'db' },
    },
    method: 'memory/merge',
    sent: { keepId: 'mem_1', mergeIds: ['mem_2', 'mem_3'], tags: ['db'] },
    result: { memory: r.memory(), merged: ['mem_2', 'mem_3'], tokensSaved: 20 },
    items: [{ ...r.memory(), merged: ['mem_2', 'mem_3'], tokensSaved: 20 }],
  },
  {
    title: 'memory/get',
    params: { resource: 'memory', operation: 'get', memoryId: ' mem_1 ' },
    method: 'memory/get',
    sent: { id: 'mem_1' },
    result: { memory: r.memory() },
    items: [r.memory()],
  },
  {
    title: 'memory/delete of a comma-separated list',
    params: { resource: 'memory', operation: 'delete', memoryIds: 'mem_1, mem_2,,' },
    method: 'memory/delete',
    sent: { ids: ['mem_1', 'mem_2'] },
    result: { deleted: 2 },
    items: [{ deleted: 2 }],
  },
  {
    title: 'archive/create by policy, dry run',
    params: {
      resource: 'archive',
      operation: 'create',
      select: 'policy',
      crew: 'ops',
      olderThanDays: 30,
      policyOptions: { kinds: ['note'], maxMemories: 100, includePinned: false },
      dryRun: true,
    },
    method: 'archive/create',
    sent: {
      policy: { crew: 'ops', olderThanDays: 30, kinds: ['note'], includePinned: false, limit: 100 },
      dryRun: true,
    },
    result: {
      dryRun: true,
      candidates: [r.candidate()],
      totals: { count: 1, bytes: 450, crews: ['ops'], matched: 1 },
    },
    items: [
      plain({
        dryRun: true,
        candidates: [r.candidate()],
        totals: { count: 1, bytes: 450, crews: ['ops'], matched: 1 },
      }),
    ],
  },
  {
    title: 'archive/create by score, any age',
    params: {
      resource: 'archive',
      operation: 'create',
      olderThanDays: 0,
      policyOptions: { belowScore: 0.2 },
    },
    method: 'archive/create',
    sent: { policy: { olderThanDays: 0, belowScore: 0.2 }, dryRun: false },
    result: { dryRun: false, archive: r.archive(), ids: ['mem_1', 'mem_2'], keptLive: [], remaining: 0 },
    items: [plain({ dryRun: false, archive: r.archive(), ids: ['mem_1', 'mem_2'], keptLive: [], remaining: 0 })],
  },
  {
    title: 'archive/create by ids',
    params: { resource: 'archive', operation: 'create', select: 'ids', memoryIds: 'mem_1,mem_2' },
    method: 'archive/create',
    sent: { ids: ['mem_1', 'mem_2'], dryRun: false },
    result: { dryRun: false, archive: r.archive(), ids: ['mem_1', 'mem_2'], keptLive: [], remaining: 0 },
    items: [plain({ dryRun: false, archive: r.archive(), ids: ['mem_1', 'mem_2'], keptLive: [], remaining: 0 })],
  },
  {
    title: 'archive/restore of chosen ids',
    params: { resource: 'archive', operation: 'restore', archiveId: 'arc_1', restoreIds: 'mem_2' },
    method: 'archive/restore',
    sent: { archiveId: 'arc_1', ids: ['mem_2'] },
    result: { archive: r.archive({ restoredIds: ['mem_2'] }), restored: ['mem_2'], skipped: [], duplicates: [] },
    items: [
      plain({ archive: r.archive({ restoredIds: ['mem_2'] }), restored: ['mem_2'], skipped: [], duplicates: [] }),
    ],
  },
  {
    title: 'archive/list: one item per archive',
    params: { resource: 'archive', operation: 'list', listCrew: 'ops' },
    method: 'archive/list',
    sent: { crew: 'ops' },
    result: { archives: [r.archive()], schedules: [] },
    items: [r.archive()],
  },
  {
    title: 'archive/delete',
    params: { resource: 'archive', operation: 'delete', archiveId: 'arc_1' },
    method: 'archive/delete',
    sent: { id: 'arc_1' },
    result: { deleted: true, unrestored: 2 },
    items: [{ deleted: true, unrestored: 2 }],
  },
  {
    title: 'analytics/summary: one item per crew, with the window',
    params: { resource: 'analytics', operation: 'summary', crew: 'ops', days: 7 },
    method: 'analytics/summary',
    sent: { days: 7, crew: 'ops' },
    result: {
      window: { from: '2026-03-02', to: '2026-03-08', days: 7 },
      generatedAt: '2026-03-08T00:00:00.000Z',
      crews: [r.crewSummary()],
    },
    items: [plain({ ...r.crewSummary(), window: { from: '2026-03-02', to: '2026-03-08', days: 7 } })],
  },
  {
    title: 'analytics/insights: one item per finding',
    params: { resource: 'analytics', operation: 'insights' },
    method: 'analytics/insights',
    sent: { days: 30 },
    result: {
      window: { from: '2026-02-07', to: '2026-03-08', days: 30 },
      generatedAt: '2026-03-08T00:00:00.000Z',
      insights: [r.insight()],
    },
    items: [plain({ ...r.insight(), window: { from: '2026-02-07', to: '2026-03-08', days: 30 } })],
  },
  {
    title: 'analytics/recommendations',
    params: { resource: 'analytics', operation: 'recommendations', limit: 3 },
    method: 'analytics/recommendations',
    sent: { limit: 3 },
    result: { generatedAt: '2026-03-08T00:00:00.000Z', recommendations: [r.memoryRecommendation()], total: 1 },
    items: [r.memoryRecommendation()],
  },
  {
    title: 'crew/run waits for the run and returns it whole',
    params: {
      resource: 'crew',
      operation: 'run',
      crew: 'ops',
      task: 'Why did the nightly report get faster?',
      runOptions: { process: 'manager', lead: 'writer', maxSteps: 3, memoryTokens: 0, saveResult: false },
    },
    method: 'crew/run',
    sent: {
      crew: 'ops',
      task: 'Why did the nightly report get faster?',
      process: 'manager',
      lead: 'writer',
      maxSteps: 3,
      memoryTokens: 0,
      saveResult: false,
    },
    result: r.run(),
    items: [plain(r.run())],
  },
  {
    title: 'crew/run with a Max Cost and agents told what is left',
    params: {
      resource: 'crew',
      operation: 'run',
      crew: 'ops',
      task: 'Ship it',
      runOptions: { maxCostUsd: 0.05, tellRemaining: true },
    },
    method: 'crew/run',
    sent: { crew: 'ops', task: 'Ship it', maxCostUsd: 0.05, tellRemaining: true },
    result: r.run({ maxCostUsd: 0.05 }),
    items: [plain(r.run({ maxCostUsd: 0.05 }))],
  },
  {
    title: 'crew/run: a Max Cost of 0 is no ceiling',
    params: { resource: 'crew', operation: 'run', crew: 'ops', task: 'Ship it', runOptions: { maxCostUsd: 0 } },
    method: 'crew/run',
    sent: { crew: 'ops', task: 'Ship it' },
    result: r.run(),
    items: [plain(r.run())],
  },
  {
    title: 'crew/estimate: the shape of the run, without what only a run takes',
    params: {
      resource: 'crew',
      operation: 'estimate',
      crew: 'ops',
      task: 'Ship it',
      runOptions: { process: 'manager', maxSteps: 2, maxCostUsd: 0.1, saveResult: false, tellRemaining: true },
    },
    method: 'crew/estimate',
    sent: { crew: 'ops', task: 'Ship it', process: 'manager', maxSteps: 2, maxCostUsd: 0.1 },
    result: ESTIMATE,
    items: [plain(ESTIMATE)],
  },
  {
    title: 'crew/list: one item per crew',
    params: { resource: 'crew', operation: 'list' },
    method: 'crew/list',
    sent: {},
    result: { crews: [r.crew(), r.crew({ id: 'crew_2', name: 'dev' })] },
    items: [plain(r.crew()), plain(r.crew({ id: 'crew_2', name: 'dev' }))],
  },
  {
    title: 'crew/get',
    params: { resource: 'crew', operation: 'get', crew: 'ops' },
    method: 'crew/get',
    sent: { crew: 'ops' },
    result: r.crew(),
    items: [plain(r.crew())],
  },
  {
    title: 'crew/create with two agents',
    params: {
      resource: 'crew',
      operation: 'create',
      name: 'ops',
      createFields: {
        description: 'the ops team',
        agents: {
          agent: [
            { name: 'researcher', model: 'openai/gpt-4o-mini', role: 'finds facts' },
            { name: 'writer', model: 'anthropic/claude-3.5-haiku', systemPrompt: 'Be brief.', maxTokens: 256 },
          ],
        },
      },
    },
    method: 'crew/create',
    sent: {
      name: 'ops',
      description: 'the ops team',
      agents: [
        { name: 'researcher', model: 'openai/gpt-4o-mini', role: 'finds facts' },
        { name: 'writer', model: 'anthropic/claude-3.5-haiku', systemPrompt: 'Be brief.', maxTokens: 256 },
      ],
    },
    result: r.crew(),
    items: [plain(r.crew())],
  },
  {
    title: 'crew/create with a name only',
    params: { resource: 'crew', operation: 'create', name: 'empty' },
    method: 'crew/create',
    sent: { name: 'empty' },
    result: r.crew({ name: 'empty', agents: [] }),
    items: [plain(r.crew({ name: 'empty', agents: [] }))],
  },
  {
    title: 'crew/update adds an agent',
    params: {
      resource: 'crew',
      operation: 'addAgent',
      crew: 'ops',
      agentName: 'reviewer',
      model: 'openai/gpt-4o',
      agentFields: { role: 'checks it', temperature: 0.2, promptCache: true },
    },
    method: 'crew/update',
    sent: {
      crew: 'ops',
      addAgent: { name: 'reviewer', model: 'openai/gpt-4o', role: 'checks it', temperature: 0.2, promptCache: true },
    },
    result: r.crew(),
    items: [plain(r.crew())],
  },
  {
    title: 'crew/runs: one item per run, filtered',
    params: {
      resource: 'run',
      operation: 'list',
      limit: 5,
      runFilters: { crew: 'ops', status: 'failed', before: '2026-03-02T00:00:00.000Z' },
    },
    method: 'crew/runs',
    sent: { limit: 5, crew: 'ops', status: 'failed', before: '2026-03-02T00:00:00.000Z' },
    result: { runs: [r.run({ status: 'failed' })], total: 1 },
    items: [plain(r.run({ status: 'failed' }))],
  },
  {
    title: 'crew/runs of one run by id',
    params: { resource: 'run', operation: 'get', runId: 'run_1' },
    method: 'crew/runs',
    sent: { runId: 'run_1' },
    result: { runs: [r.run()], total: 1 },
    items: [plain(r.run())],
  },
  {
    title: 'ledger/list: one item per entry, filtered',
    params: {
      resource: 'ledger',
      operation: 'list',
      limit: 20,
      ledgerFilters: { crew: 'ops', model: 'openai/gpt-4o-mini', status: 'error', before: 100 },
    },
    method: 'ledger/list',
    sent: { limit: 20, crew: 'ops', model: 'openai/gpt-4o-mini', status: 'error', before: 100 },
    result: { entries: [r.ledgerEntry({ status: 'error' })], total: 1 },
    items: [plain(r.ledgerEntry({ status: 'error' }))],
  },
  {
    title: 'models/list searched, refreshed',
    params: { resource: 'model', operation: 'list', modelOptions: { search: 'gpt', refresh: true } },
    method: 'models/list',
    sent: { search: 'gpt', refresh: true },
    result: { models: [r.model()], fetchedAt: '2026-03-01T09:00:00.000Z', source: 'network', warning: null },
    items: [plain(r.model())],
  },
  {
    title: 'chat/complete of a message history (JSON text), after the system prompt',
    params: {
      resource: 'chat',
      operation: 'complete',
      model: 'openai/gpt-4o-mini',
      input: 'messages',
      messages: JSON.stringify([
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello! What can I do?' },
        { role: 'user', content: 'Summarise our talk', name: 'ana' },
      ]),
      chatOptions: { systemPrompt: 'Be brief.' },
    },
    method: 'chat/complete',
    sent: {
      model: 'openai/gpt-4o-mini',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello! What can I do?' },
        { role: 'user', content: 'Summarise our talk', name: 'ana' },
      ],
    },
    result: r.chatResult(),
    items: [plain(r.chatResult())],
  },
  {
    title: 'chat/complete of a message history an expression gave as an array',
    params: {
      resource: 'chat',
      operation: 'complete',
      model: 'openai/gpt-4o-mini',
      input: 'messages',
      messages: [{ role: 'user', content: 'Hi' }],
    },
    method: 'chat/complete',
    sent: { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] },
    result: r.chatResult(),
    items: [plain(r.chatResult())],
  },
  {
    title: 'chat/complete with a system prompt and attribution',
    params: {
      resource: 'chat',
      operation: 'complete',
      model: 'openai/gpt-4o-mini',
      prompt: 'Say hello',
      chatOptions: { systemPrompt: 'Be brief.', crew: 'ops', agent: 'writer', tags: 'n8n', maxTokens: 64 },
    },
    method: 'chat/complete',
    sent: {
      model: 'openai/gpt-4o-mini',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Say hello' },
      ],
      crew: 'ops',
      agent: 'writer',
      tags: ['n8n'],
      maxTokens: 64,
    },
    result: r.chatResult(),
    items: [plain(r.chatResult())],
  },
  {
    title: 'chat/complete with fallback models: the chain goes as OpenRouter models',
    params: {
      resource: 'chat',
      operation: 'complete',
      model: 'anthropic/claude-3.5-haiku',
      prompt: 'Say hello',
      chatOptions: { fallbacks: 'openai/gpt-4o-mini, google/gemini-2.5-flash' },
    },
    method: 'chat/complete',
    sent: {
      model: 'anthropic/claude-3.5-haiku',
      messages: [{ role: 'user', content: 'Say hello' }],
      models: ['openai/gpt-4o-mini', 'google/gemini-2.5-flash'],
    },
    result: r.chatResult({ model: 'openai/gpt-4o-mini' }),
    items: [plain(r.chatResult({ model: 'openai/gpt-4o-mini' }))],
  },
];

function operationValues(): { resource: string; operation: string }[] {
  const resources = node.description.properties.find((p) => p.name === 'resource')!.options as { value: string }[];
  return resources.flatMap(({ value: resource }) => {
    const op = node.description.properties.find(
      (p: INodeProperties) => p.name === 'operation' && p.displayOptions?.show?.resource?.includes(resource),
    )!;
    return (op.options as { value: string }[]).map(({ value }) => ({ resource, operation: value }));
  });
}

async function run(params: IDataObject | IDataObject[], answer: (m: string, p: unknown) => RpcAnswer, cof = false) {
  const rpc = new RpcRecorder(answer);
  const out = await node.execute.call(executeContext(node, rpc, { params, continueOnFail: cof }));
  return { rpc, out };
}

describe('n8n node OpenRouter Crew: operations', () => {
  it('offers exactly the operations it implements, and every one is tested here', () => {
    const offered = operationValues().map((o) => `${o.resource}/${o.operation}`);
    const implemented = Object.entries(OPERATIONS).flatMap(([res, ops]) => Object.keys(ops).map((o) => `${res}/${o}`));
    assert.deepEqual([...offered].sort(), [...implemented].sort());
    const tested = new Set(CASES.map((c) => `${c.params.resource as string}/${c.params.operation as string}`));
    assert.deepEqual(
      offered.filter((o) => !tested.has(o)),
      [],
    );
  });

  for (const c of CASES) {
    it(c.title, async () => {
      const { rpc, out } = await run(c.params, answering({ [c.method]: c.result }));
      assert.deepEqual(rpc.methods, [c.method]);
      assert.deepEqual(rpc.last().params, c.sent);
      const check = schemas[c.method as MethodName].safeParse(rpc.last().params);
      assert.ok(check.success, `the server refuses these ${c.method} params: ${JSON.stringify(check.error?.issues)}`);
      assert.deepEqual(out, [c.items.map((json) => ({ json, pairedItem: { item: 0 } }))]);
    });
  }

  it('POSTs a JSON-RPC 2.0 request to <server>/rpc with the bearer token from the credential', async () => {
    const { rpc } = await run(
      { resource: 'budget', operation: 'getStatus' },
      answering({ 'budget/status': { budgets: [] } }),
    );
    const { request } = rpc.last();
    assert.equal(request.url, `${CREDENTIALS.url}/rpc`);
    assert.equal(request.method, 'POST');
    assert.equal((request.headers as IDataObject).Authorization, `Bearer ${CREDENTIALS.token}`);
    assert.equal((request.body as IDataObject).method, 'budget/status');
  });

  it('trims a trailing slash of the server URL', async () => {
    const rpc = new RpcRecorder(answering({ 'budget/status': { budgets: [] } }));
    rpc.credentials.url = 'http://127.0.0.1:9999/';
    await node.execute.call(executeContext(node, rpc, { params: { resource: 'budget', operation: 'getStatus' } }));
    assert.equal(rpc.last().request.url, 'http://127.0.0.1:9999/rpc');
  });

  it('runs once per input item, each with its own parameters, and pairs the outputs with their item', async () => {
    const { rpc, out } = await run(
      [
        { resource: 'memory', operation: 'get', memoryId: 'mem_1' },
        { resource: 'memory', operation: 'get', memoryId: 'mem_2' },
      ],
      (_m, p) => ({ result: { memory: r.memory({ id: (p as { id: string }).id }) } }),
    );
    assert.deepEqual(
      rpc.calls.map((c) => c.params),
      [{ id: 'mem_1' }, { id: 'mem_2' }],
    );
    assert.deepEqual(
      out[0]!.map((i) => [i.json.id, i.pairedItem]),
      [
        ['mem_1', { item: 0 }],
        ['mem_2', { item: 1 }],
      ],
    );
  });
});

describe('n8n node OpenRouter Crew: errors', () => {
  const exceeded = {
    code: ErrorCodes.BudgetExceeded,
    message: 'budget crew:ops (daily) would be exceeded: $0.0100 requested, $0.0950 of $0.1000 spent',
    data: { budgetId: 'bud_1', scope: 'crew:ops', limitUsd: 0.1, spentUsd: 0.095 },
  };
  const chat = { resource: 'chat', operation: 'complete', model: 'openai/gpt-4o', prompt: 'hi' };

  async function failure(params: IDataObject, answer: RpcAnswer): Promise<Error & { context: IDataObject }> {
    try {
      await run(params, () => answer);
    } catch (e) {
      return e as Error & { context: IDataObject };
    }
    assert.fail('the node did not throw');
  }

  it("a domain error is a NodeApiError with the server's message, code and data", async () => {
    const e = await failure(chat, { error: exceeded });
    assert.ok(e instanceof NodeApiError);
    assert.equal(e.message, exceeded.message);
    assert.equal(e.httpCode, String(ErrorCodes.BudgetExceeded));
    assert.equal(e.context.rpcCode, ErrorCodes.BudgetExceeded);
    assert.deepEqual(e.context.rpcData, exceeded.data);
    assert.equal(e.context.itemIndex, 0);
    assert.match(e.description ?? '', /chat\/complete failed with JSON-RPC error 1001/);
  });

  it('invalid params are a NodeOperationError naming the field', async () => {
    const e = await failure(
      { resource: 'memory', operation: 'get', memoryId: 'x' },
      {
        error: {
          code: ErrorCodes.InvalidParams,
          message: 'id: too long',
          data: { field: 'id', issues: [{ field: 'id', message: 'too long' }] },
        },
      },
    );
    assert.ok(e instanceof NodeOperationError);
    assert.equal(e.message, 'id: too long');
    assert.match(e.description ?? '', /field: id/);
  });

  it("a wrong token (HTTP 401) carries the server's message, which says where the token comes from", async () => {
    const message = 'missing or wrong bearer token: use the token shown by "crew server token"';
    const e = await failure(chat, {
      status: 401,
      body: { jsonrpc: '2.0', id: null, error: { code: ErrorCodes.Unauthorized, message } },
    });
    assert.ok(e instanceof NodeApiError);
    assert.equal(e.message, message);
    assert.equal(e.context.rpcCode, ErrorCodes.Unauthorized);
  });

  it('a server that does not answer says where the node looked and how to find the port', async () => {
    const e = await failure(chat, { refused: true });
    assert.ok(e instanceof NodeApiError);
    assert.match(e.message, /crew-server did not answer at http:\/\/127\.0\.0\.1:8787\/rpc/);
    assert.match(e.description ?? '', /crew server status/);
  });

  it('the credential\'s "<port>" placeholder is refused before any request, with what to put there', async () => {
    const rpc = new RpcRecorder(answering({}));
    rpc.credentials.url = 'http://127.0.0.1:<port>';
    await assert.rejects(
      node.execute.call(executeContext(node, rpc, { params: chat })),
      (e: Error & { description?: string }) =>
        e instanceof NodeOperationError && /crew server status/.test(e.description ?? ''),
    );
    assert.equal(rpc.calls.length, 0);
  });

  it('with Continue On Fail, a failed item says what went wrong and the other items still run', async () => {
    const { out } = await run(
      [
        { resource: 'memory', operation: 'get', memoryId: 'gone' },
        { resource: 'memory', operation: 'get', memoryId: 'mem_1' },
      ],
      (_m, p) =>
        (p as { id: string }).id === 'gone'
          ? {
              error: {
                code: ErrorCodes.NotFound,
                message: 'memory gone not found',
                data: { entity: 'memory', id: 'gone' },
              },
            }
          : { result: { memory: r.memory() } },
      true,
    );
    assert.deepEqual(out[0]![0], {
      json: {
        error: 'memory gone not found',
        details: {
          description: 'memory/get failed with JSON-RPC error 1002; data: {"entity":"memory","id":"gone"}',
          code: ErrorCodes.NotFound,
          data: { entity: 'memory', id: 'gone' },
        },
      },
      pairedItem: { item: 0 },
    });
    assert.deepEqual(out[0]![1], { json: r.memory(), pairedItem: { item: 1 } });
  });

  it('a failed item is one n8n sends to the error output (its JSON holds only error and details)', async () => {
    for (const answer of [
      { error: { code: ErrorCodes.NotFound, message: 'memory gone not found' } },
      { error: { code: ErrorCodes.InvalidParams, message: 'id: too long', data: { field: 'id' } } },
      { refused: true as const },
    ]) {
      const { out } = await run({ resource: 'memory', operation: 'get', memoryId: 'gone' }, () => answer, true);
      const item = out[0]![0]!;
      // n8n-core's rule (WorkflowExecute.handleNodeErrorOutput); test/e2e/n8n.test.ts shows it in a real n8n.
      assert.ok(item.json.error, JSON.stringify(item));
      assert.deepEqual(Object.keys(item.json).sort(), ['details', 'error'], JSON.stringify(item.json));
      assert.equal(item.error, undefined);
    }
  });

  it('a message history that is not an array of role/content messages is refused before any request', async () => {
    for (const [messages, why] of [
      ['[{"role": "user", "content": "Hi"', /Messages is not JSON/],
      ['[]', /non-empty array/],
      ['[{"role": "robot", "content": "Hi"}]', /message 1 has role "robot"/],
      [[{ role: 'user', content: 'ok' }, { role: 'user' }], /message 2 has no text content/],
    ] as const) {
      const rpc = new RpcRecorder(answering({}));
      const params = { ...chat, input: 'messages', messages };
      await assert.rejects(
        node.execute.call(executeContext(node, rpc, { params })),
        (e: Error) => e instanceof NodeOperationError && why.test(e.message),
      );
      assert.equal(rpc.calls.length, 0);
    }
  });

  it('without Continue On Fail, the first failure stops the node with its item index', async () => {
    const rpc = new RpcRecorder((_m, p) =>
      (p as { id: string }).id === 'gone'
        ? { error: { code: ErrorCodes.NotFound, message: 'memory gone not found' } }
        : { result: { memory: r.memory() } },
    );
    const params = [
      { resource: 'memory', operation: 'get', memoryId: 'mem_1' },
      { resource: 'memory', operation: 'get', memoryId: 'gone' },
      { resource: 'memory', operation: 'get', memoryId: 'mem_3' },
    ];
    await assert.rejects(
      node.execute.call(executeContext(node, rpc, { params })),
      (e: NodeApiError) => e.message === 'memory gone not found' && e.context.itemIndex === 1,
    );
    assert.equal(rpc.calls.length, 2);
  });
});

describe('n8n credential OpenRouter Crew API', () => {
  const cred = new OpenRouterCrewApi();
  const data = { url: 'http://127.0.0.1:8787/', token: 'crew-token-for-n8n-tests' };
  const credential = { id: 'c1', name: 'OpenRouter Crew', type: cred.name, data };

  /** A credential-test context whose legacy request helper answers `answer` (or throws it) and records the request. */
  function testContext(answer: { statusCode: number; body: unknown } | Error) {
    const requests: IDataObject[] = [];
    const ctx = {
      helpers: {
        request: async (options: IDataObject) => {
          requests.push(options);
          if (answer instanceof Error) throw answer;
          return answer;
        },
      },
    } as unknown as ICredentialTestFunctions;
    return { ctx, requests };
  }
  const testFn = node.methods.credentialTest[CREDENTIAL_TEST];

  it("is tested by the node with server/health on the server's /rpc, with the bearer token", async () => {
    assert.deepEqual(
      node.description.credentials?.map((c) => [c.name, c.testedBy]),
      [[cred.name, CREDENTIAL_TEST]],
    );
    assert.equal(
      (cred as { test?: unknown }).test,
      undefined,
      'no declarative test (n8n would answer it with its own words)',
    );
    const { ctx, requests } = testContext({
      statusCode: 200,
      body: { jsonrpc: '2.0', id: 1, result: { ok: true, uptimeMs: 5, store: 'ok' } },
    });
    assert.deepEqual(await testFn.call(ctx, credential), {
      status: 'OK',
      message: 'Connected to crew-server at http://127.0.0.1:8787',
    });
    const [sent] = requests;
    assert.equal(sent!.method, 'POST');
    assert.equal(sent!.uri, 'http://127.0.0.1:8787/rpc');
    assert.deepEqual(sent!.body, { jsonrpc: '2.0', id: 1, method: 'server/health' });
    assert.equal((sent!.headers as IDataObject).Authorization, `Bearer ${data.token}`);
    assert.equal(sent!.simple, false, 'a refusal comes back as an answer, so its message can be read');
    assert.ok(schemas['server/health'].safeParse(undefined).success);
    assert.deepEqual(cred.authenticate.properties.headers, { Authorization: '=Bearer {{$credentials.token}}' });
  });

  it('a refusal says what the server said (a wrong token: where the right one comes from)', async () => {
    const message = 'missing or wrong bearer token: use the token shown by "crew server token"';
    const { ctx } = testContext({
      statusCode: 401,
      body: { jsonrpc: '2.0', id: null, error: { code: ErrorCodes.Unauthorized, message } },
    });
    assert.deepEqual(await testFn.call(ctx, credential), { status: 'Error', message });
  });

  it('no answer, another server, a failed store check or a placeholder URL each say what to do', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8787'), { code: 'ECONNREFUSED' });
    const cases: [ReturnType<typeof testContext>, typeof credential, RegExp][] = [
      [
        testContext(refused),
        credential,
        /did not answer at http:\/\/127\.0\.0\.1:8787\/rpc \(ECONNREFUSED\).*crew server status/,
      ],
      [testContext({ statusCode: 404, body: '<html>' }), credential, /answered HTTP 404 without a JSON-RPC reply/],
      [
        testContext({
          statusCode: 200,
          body: { jsonrpc: '2.0', id: 1, result: { ok: false, uptimeMs: 5, store: 'error' } },
        }),
        credential,
        /its store check failed/,
      ],
      [
        testContext(refused),
        { ...credential, data: { ...data, url: 'http://127.0.0.1:<port>' } },
        /not a server address/,
      ],
      [testContext(refused), { ...credential, data: { ...data, url: '' } }, /not a server address/],
    ];
    for (const [{ ctx, requests }, c, message] of cases) {
      const result = await testFn.call(ctx, c);
      assert.equal(result.status, 'Error');
      assert.match(result.message, message);
      if (/not a server address/.test(result.message)) assert.equal(requests.length, 0);
    }
  });

  it('says where the port and the token come from; the Server URL is a placeholder, not a value', () => {
    const [url, token] = cred.properties;
    assert.match(url!.description ?? '', /crew server status/);
    assert.equal(url!.default, '');
    assert.match(url!.placeholder ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(token!.description ?? '', /crew server token/);
    assert.equal(token!.typeOptions?.password, true);
  });
});

describe('n8n nodes: subtitles in words', () => {
  /** The subtitle as n8n's expression engine evaluates it for these parameters. */
  function subtitle(type: INodeType, parameters: IDataObject): unknown {
    const n: INode = {
      id: 'n',
      name: 'n',
      type: 'x.y',
      typeVersion: 1,
      position: [0, 0],
      parameters: parameters as INode['parameters'],
    };
    const nodeTypes = { getByName: () => type, getByNameAndVersion: () => type, getKnownTypes: () => ({}) };
    const wf = new Workflow({ nodes: [n], connections: {}, active: false, nodeTypes: nodeTypes });
    return wf.expression.getSimpleParameterValue(n, type.description.subtitle, 'internal', {});
  }

  it('the node says its operation as an action ("Get budget status"), for every operation', () => {
    assert.equal(subtitle(node, { resource: 'budget', operation: 'getStatus' }), 'Get budget status');
    assert.equal(subtitle(node, { resource: 'memory', operation: 'context' }), 'Build a context from memories');
    for (const { resource, operation } of operationValues()) {
      const words = subtitle(node, { resource, operation });
      assert.ok(
        typeof words === 'string' && / /.test(words) && words !== operation,
        `${resource}/${operation}: ${String(words)}`,
      );
    }
  });

  it('the triggers name their events', () => {
    for (const type of [new OpenRouterCrewTrigger(), new OpenRouterCrewPollTrigger()])
      assert.equal(
        subtitle(type, { events: ['threshold', 'over_limit', 'runFinished'] }),
        'Budget Threshold Crossed, Budget Over Limit (Calls Continue), Crew Run Finished',
      );
  });
});
