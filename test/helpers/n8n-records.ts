/**
 * Protocol records for the n8n nodes' unit tests, complete and typed against protocol/ (so a field the protocol adds
 * or renames breaks the build here, not silently in a node's output mapping). Each factory takes overrides.
 */
import type {
  Archive,
  ArchiveCandidate,
  Budget,
  BudgetAlert,
  BudgetForecast,
  BudgetStatus,
  ChatComplete,
  CostRecommendation,
  CostReport,
  Crew,
  CrewSummary,
  Insight,
  LedgerEntry,
  Memory,
  ModelInfo,
  Recommendation,
  Run,
  RunStep,
  ScoreComponents,
  WebhookSubscription,
} from '../../protocol';

const T0 = '2026-03-01T09:00:00.000Z';
const usage = { promptTokens: 120, completionTokens: 40, cachedTokens: 0, reasoningTokens: 0 };

export function budget(o: Partial<Budget> = {}): Budget {
  return {
    id: 'bud_1',
    scope: 'crew:ops',
    period: 'monthly',
    limitUsd: 5,
    action: 'block',
    downgradeTo: null,
    thresholds: [50, 80, 100],
    alertsEnabled: true,
    weekStart: 1,
    createdAt: T0,
    updatedAt: T0,
    ...o,
  };
}

export function budgetStatus(o: Partial<BudgetStatus> = {}): BudgetStatus {
  return {
    ...budget(),
    spentUsd: 4.1,
    reservedUsd: 0.02,
    remainingUsd: 0.88,
    percentUsed: 82,
    state: 'warning',
    periodStart: '2026-03-01T00:00:00.000Z',
    periodEnd: '2026-04-01T00:00:00.000Z',
    ...o,
  };
}

export function alert(o: Partial<BudgetAlert> = {}): BudgetAlert {
  return {
    id: 'alert_1',
    budgetId: 'bud_1',
    scope: 'crew:ops',
    kind: 'threshold',
    threshold: 80,
    severity: 'warning',
    message: 'crew:ops monthly budget at 82% ($4.10 of $5.00)',
    spentUsd: 4.1,
    limitUsd: 5,
    percentUsed: 82,
    periodStart: '2026-03-01T00:00:00.000Z',
    at: T0,
    ...o,
  };
}

export function costReport(o: Partial<CostReport.Result> = {}): CostReport.Result {
  const row = {
    calls: 3,
    promptTokens: 360,
    completionTokens: 120,
    cachedTokens: 0,
    reasoningTokens: 0,
    costUsd: 0.0042,
    estimatedCostUsd: 0,
    errors: 0,
  };
  return { by: 'crew', from: null, to: null, rows: [{ key: 'ops', ...row }], total: row, ...o };
}

export function costRecommendation(o: Partial<CostRecommendation> = {}): CostRecommendation {
  return {
    id: 'rec_1',
    kind: 'cheaper-model',
    title: 'ops/writer: switch openai/gpt-4o to openai/gpt-4o-mini',
    detail: '12 calls used at most 2,000 tokens of context',
    crew: 'ops',
    agent: 'ops/writer',
    model: 'openai/gpt-4o',
    savingsUsd: 0.31,
    savings: '0.31',
    spentUsd: 0.33,
    evidence: { calls: 12 },
    changes: [
      { target: 'crew:ops/agent:writer', field: 'model', before: 'openai/gpt-4o', after: 'openai/gpt-4o-mini' },
    ],
    notApplicable: null,
    ...o,
  };
}

export function forecast(o: Partial<BudgetForecast> = {}): BudgetForecast {
  return {
    budgetId: 'bud_1',
    scope: 'crew:ops',
    period: 'monthly',
    limitUsd: 5,
    spentUsd: 4.1,
    periodStart: '2026-03-01T00:00:00.000Z',
    periodEnd: '2026-04-01T00:00:00.000Z',
    horizonEnd: '2026-04-01T00:00:00.000Z',
    projectedUsd: 6.2,
    low: 5.1,
    high: 7.4,
    exhaustionDate: '2026-03-24',
    willExceed: true,
    method: 'blend of this period and the trailing 28 days',
    pacePerDayUsd: 0.21,
    currentPacePerDayUsd: 0.2,
    trailingPacePerDayUsd: 0.22,
    ...o,
  };
}

export function memory(o: Partial<Memory> = {}): Memory {
  return {
    id: 'mem_1',
    crew: 'ops',
    agent: null,
    content: 'Tuning Postgres indexes made the nightly report 10x faster',
    kind: 'fact',
    tags: ['database'],
    importance: 0.5,
    pinned: false,
    expiresAt: null,
    createdAt: T0,
    updatedAt: T0,
    lastAccessedAt: null,
    accessCount: 0,
    embedding: { embedderId: 'hash@256', dimensions: 256 },
    ...o,
  };
}

export const components: ScoreComponents = {
  relevance: 0.7,
  semantic: 0.6,
  lexical: 0.9,
  recency: 1,
  importance: 0.5,
  frequency: 0,
  cosine: 0.6,
  bm25: 2.1,
};

export function archive(o: Partial<Archive> = {}): Archive {
  return {
    id: 'arc_1',
    sha256: 'a'.repeat(64),
    count: 2,
    crews: ['ops'],
    bytesIn: 900,
    bytesOut: 400,
    ratio: 2.25,
    policy: { crew: 'ops', olderThanDays: 30 },
    createdAt: T0,
    restoredIds: [],
    state: 'complete',
    ...o,
  };
}

export function candidate(o: Partial<ArchiveCandidate> = {}): ArchiveCandidate {
  return {
    id: 'mem_1',
    crew: 'ops',
    kind: 'note',
    pinned: false,
    preview: 'An old note',
    createdAt: T0,
    lastAccessedAt: null,
    lastActiveAt: T0,
    accessCount: 0,
    retentionScore: 0.1,
    bytes: 450,
    ...o,
  };
}

export function crewSummary(o: Partial<CrewSummary> = {}): CrewSummary {
  return {
    crew: 'ops',
    total: 2,
    pinned: 0,
    byKind: { fact: 1, insight: 0, lesson: 0, result: 0, note: 1 },
    createdPerDay: [],
    accessesPerDay: [],
    byHour: Array.from({ length: 24 }, () => 0),
    byWeekday: Array.from({ length: 7 }, () => 0),
    accessesInWindow: 0,
    hot: [],
    cold: [],
    neverAccessed: 2,
    neverAccessedShare: 1,
    agedMemories: 0,
    unusedInWindow: 0,
    unusedInWindowShare: 0,
    contextTokens: 40,
    ...o,
  };
}

export function insight(o: Partial<Insight> = {}): Insight {
  return {
    id: 'unused-share:ops',
    kind: 'unused-share',
    crew: 'ops',
    severity: 'warning',
    text: '2 of 2 memories of ops (100%) were never used in 30 days',
    figures: { unused: 2, total: 2, share: 1 },
    ...o,
  };
}

export function memoryRecommendation(o: Partial<Recommendation> = {}): Recommendation {
  return {
    id: 'archive-0123456789abcdef',
    kind: 'archive',
    crew: 'ops',
    memoryIds: ['mem_1'],
    reason: 'never accessed in 30 days',
    tokensSaved: 20,
    score: 0.5,
    ...o,
  };
}

export function step(o: Partial<RunStep> = {}): RunStep {
  return {
    index: 0,
    agent: 'writer',
    role: 'member',
    model: 'openai/gpt-4o-mini',
    instruction: 'Summarise',
    output: 'Indexes.',
    status: 'ok',
    error: null,
    usage,
    costUsd: 0.0004,
    cost: '0.0004',
    costEstimated: false,
    ledgerId: 7,
    memories: [{ id: 'mem_1', tokens: 20, influenced: true }],
    startedAt: T0,
    finishedAt: '2026-03-01T09:00:02.000Z',
    ...o,
  };
}

export function run(o: Partial<Run> = {}): Run {
  return {
    id: 'run_1',
    crewId: 'crew_1',
    crew: 'ops',
    task: 'Why did the nightly report get faster?',
    process: 'sequential',
    status: 'completed',
    steps: [step()],
    output: 'Indexes.',
    usage,
    costUsd: 0.0004,
    cost: '0.0004',
    error: null,
    memoryId: 'mem_9',
    startedAt: T0,
    finishedAt: '2026-03-01T09:00:02.000Z',
    ...o,
  };
}

export function chatResult(o: Partial<ChatComplete.Result> = {}): ChatComplete.Result {
  return {
    ledgerId: 8,
    generationId: 'gen-1',
    model: 'openai/gpt-4o-mini',
    requestedModel: 'openai/gpt-4o-mini',
    downgradedBy: null,
    content: 'Hello.',
    finishReason: 'stop',
    usage,
    costUsd: 0.0001,
    cost: '0.0001',
    costEstimated: false,
    latencyMs: 120,
    warnings: [],
    ...o,
  };
}

export function subscription(o: Partial<WebhookSubscription> = {}): WebhookSubscription {
  return {
    id: 'wh_1',
    url: 'http://127.0.0.1:5678/webhook/x/openrouter-crew',
    events: ['budget.alert'],
    budgetId: null,
    crew: null,
    description: 'n8n: Budget Alert / OpenRouter Crew Trigger',
    signed: true,
    createdAt: T0,
    failures: 0,
    failingSince: null,
    lastFailure: null,
    expiredAt: null,
    ...o,
  };
}

export function crew(o: Partial<Crew> = {}): Crew {
  return {
    id: 'crew_1',
    name: 'ops',
    description: 'the ops team',
    agents: [
      {
        name: 'writer',
        role: 'writes it up',
        model: 'openai/gpt-4o-mini',
        systemPrompt: '',
        temperature: null,
        maxTokens: 256,
        budget: null,
        promptCache: false,
      },
    ],
    createdAt: T0,
    updatedAt: T0,
    ...o,
  };
}

export function ledgerEntry(o: Partial<LedgerEntry> = {}): LedgerEntry {
  return {
    id: 7,
    at: T0,
    model: 'openai/gpt-4o-mini',
    crew: 'ops',
    agent: 'ops/writer',
    tags: [],
    usage,
    costUsd: 0.0001,
    cost: '0.0001',
    costEstimated: false,
    generationId: 'gen-1',
    latencyMs: 120,
    status: 'ok',
    stream: false,
    ...o,
  };
}

export function model(o: Partial<ModelInfo> = {}): ModelInfo {
  return {
    id: 'openai/gpt-4o-mini',
    name: 'OpenAI: GPT-4o-mini',
    contextLength: 128000,
    maxCompletionTokens: 16384,
    pricing: { prompt: '0.00000015', completion: '0.0000006' },
    promptUsdPerMillion: 0.15,
    completionUsdPerMillion: 0.6,
    inputModalities: ['text'],
    outputModalities: ['text'],
    expirationDate: null,
    created: 1721260800,
    ...o,
  };
}
