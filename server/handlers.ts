/** Binds each protocol method to the service that does the work. Handlers stay thin: params are validated already. */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type {
  CrewCancelRun,
  CrewRun,
  CrewRuns,
  CrewEstimate,
  CrewCreate,
  CrewDelete,
  CrewGet,
  CrewToken,
  CrewUpdate,
  CostAnomalies,
  CostApplyRecommendation,
  CostForecast,
  CostVerification,
  CostVerify,
  CostRecommendations,
  MemoryEmbedder,
  ArchiveCreate,
  ArchiveDelete,
  ArchiveList,
  ArchiveRestore,
  ArchiveSchedule,
  AnalyticsInsights,
  AnalyticsRecommendations,
  AnalyticsSummary,
  ClustersCompute,
  ClustersList,
  MemoryDuplicates,
  MemoryMerge,
  AuditList,
  BudgetAlerts,
  BudgetConfigureAlerts,
  BudgetDelete,
  BudgetSet,
  BudgetStatusRequest,
  ChatComplete,
  CostReport,
  LedgerList,
  MemoryAdd,
  MemoryContext,
  MemoryDelete,
  MemoryGet,
  MemoryHistory,
  MemoryList,
  MemorySearch,
  MemoryUpdate,
  ModelsList,
  RankingParams,
  ServerHello,
  ServerInfo,
  ServerSetApiKey,
  ServerUpstream,
  StoreBackup,
  StoreRestore,
  StoreVerify,
  WebhookRegister,
  WebhookUnregister,
} from '../protocol';
import { attributedAgent, incompatibility, PROTOCOL_VERSION } from '../protocol';
import type { App } from './app';
import type { RequestContext } from './rpc/router';
import { SERVER_VERSION } from './app';
import { toEntry } from './costs/chat';
import { estimateRun } from './runs/estimate';
import { picoToUsd } from './costs/money';
import { errors, DomainError } from './errors';
import { ErrorCodes } from '../protocol';
import { backupFileIn, installBackup, readBackup } from './store/backup';
import { SCHEMA_VERSION } from './store/schema';
import type { JsonStore } from './store/json-store';
import { registerSecret } from './log';

export function registerHandlers(app: App): void {
  const r = app.router;
  const info = (): ServerInfo.Result => ({
    name: 'crew-server',
    version: SERVER_VERSION,
    protocolVersion: PROTOCOL_VERSION,
    pid: process.pid,
    dataDir: app.paths.dataDir,
    socket: app.config.endpoints?.socket ?? null,
    httpPort: app.config.endpoints?.httpPort ?? null,
    startedAt: new Date(app.startedAt).toISOString(),
    upstream: {
      baseUrl: app.config.upstream.baseUrl,
      sandbox: app.config.sandbox,
      keyConfigured: app.upstream.keyConfigured,
    },
    store: { kind: app.store.location.kind, location: app.store.location.display },
    clients: app.hub.size,
  });

  r.register('server/hello', (p: ServerHello.Params, ctx) => {
    const problem = incompatibility(p.protocolVersion, PROTOCOL_VERSION);
    if (problem) throw new DomainError(ErrorCodes.InvalidRequest, problem, { serverProtocolVersion: PROTOCOL_VERSION });
    ctx.client.kind = p.clientKind;
    if (p.clientName) ctx.client.name = p.clientName;
    return info();
  });
  r.register('server/health', async () => ({
    ok: true,
    uptimeMs: app.clock.now() - app.startedAt,
    store: (await app.store.healthy()) ? 'ok' : 'error',
  }));
  r.register('server/info', info);
  r.register('server/metrics', () => app.metrics.snapshot(app.clock.now()));
  r.register('server/shutdown', () => {
    // Give the transport time to write this answer before connections close.
    setTimeout(() => app.config.onShutdownRequested?.(), 100);
    return { stopping: true };
  });
  r.register('server/upstream', async (): Promise<ServerUpstream.Result> => {
    const base = {
      baseUrl: app.config.upstream.baseUrl,
      sandbox: app.config.sandbox,
      keyConfigured: app.upstream.keyConfigured,
    };
    if (!app.upstream.keyConfigured)
      return { ...base, key: null, error: 'no OpenRouter API key configured (OPENROUTER_API_KEY)' };
    try {
      const k = await app.upstream.keyInfo();
      return {
        ...base,
        key: {
          label: k.label,
          limitUsd: k.limit,
          limitRemainingUsd: k.limitRemaining,
          usageUsd: k.usage,
          isFreeTier: k.isFreeTier,
        },
        error: null,
      };
    } catch (e) {
      return { ...base, key: null, error: (e as Error).message };
    }
  });
  r.register('server/setApiKey', (p: ServerSetApiKey.Params): ServerSetApiKey.Result => {
    if (app.config.sandbox)
      throw errors.conflict('this server runs the sandbox (a built-in fake OpenRouter); it takes no API key');
    const key = p.apiKey?.trim();
    registerSecret(key);
    app.upstream.setApiKey(key);
    return { keyConfigured: app.upstream.keyConfigured };
  });
  r.register('audit/list', async (p: AuditList.Params) => ({
    entries: await app.audit.list(p.limit ?? 100, p.method),
  }));

  r.register('models/list', (p: ModelsList.Params) => app.catalog.list(p));

  r.register('chat/complete', (p: ChatComplete.Params, ctx) =>
    app.chat.complete(p, {
      signal: ctx.signal,
      onDelta: (text, completionTokens) =>
        ctx.progress({ kind: 'delta', text, completionTokens } satisfies ChatComplete.Progress),
    }),
  );

  r.register('ledger/list', async (p: LedgerList.Params): Promise<LedgerList.Result> => {
    const agent = attributedAgent(p.crew, p.agent) ?? undefined;
    const { rows, total } = await app.store.ledger.list({ ...p, ...(agent ? { agent } : {}), limit: p.limit ?? 50 });
    return { entries: rows.map(toEntry), total };
  });
  r.register('cost/report', (p: CostReport.Params) => app.reports.report(p));
  r.register('crew/create', (p: CrewCreate.Params) => app.crews.create(p));
  r.register('crew/update', (p: CrewUpdate.Params) => app.crews.update(p));
  r.register('crew/delete', async (p: CrewDelete.Params) => {
    const deleted = await app.crews.delete(p);
    // A deleted crew's gateway token must not outlive it.
    await app.crewTokens.forgetCrew(deleted.id);
    return deleted;
  });
  r.register('crew/list', async () => ({ crews: await app.crews.list() }));
  r.register('crew/get', (p: CrewGet.Params) => app.crews.get(p.crew));
  r.register('crew/token', (p: CrewToken.Params) => app.crewTokens.token(p));
  r.register('crew/run', (p: CrewRun.Params, ctx) =>
    app.runs.run(p, { signal: ctx.signal, onProgress: (v) => ctx.progress(v satisfies CrewRun.Progress) }),
  );
  r.register('crew/estimate', (p: CrewEstimate.Params) =>
    estimateRun({ crews: app.crews, catalog: app.catalog, ledger: app.store.ledger, runs: app.store.runs }, p),
  );
  r.register('crew/runs', (p: CrewRuns.Params) => app.runs.list(p));
  r.register('crew/cancelRun', (p: CrewCancelRun.Params) => app.runs.cancel(p));
  r.register('cost/recommendations', (p: CostRecommendations.Params) => app.recommendations.recommendations(p));
  r.register('cost/applyRecommendation', (p: CostApplyRecommendation.Params) => app.recommendations.apply(p));
  r.register('cost/forecast', (p: CostForecast.Params) => app.forecast.forecast(p));
  r.register('cost/anomalies', (p: CostAnomalies.Params) => app.forecast.anomalies(p));
  r.register('cost/verify', (p: CostVerify.Params, ctx) => app.verifier.verify(p, ctx.signal));
  r.register('cost/verification', async () => ({ last: app.verifier.last() }) satisfies CostVerification.Result);

  r.register('budget/set', async (p: BudgetSet.Params) => {
    if (p.downgradeTo) await app.catalog.require(p.downgradeTo);
    return app.budgets.set(p);
  });
  r.register('budget/status', async (p: BudgetStatusRequest.Params) => ({ budgets: await app.budgets.status(p) }));
  r.register('budget/delete', async (p: BudgetDelete.Params) => {
    await app.budgets.delete(p.id);
    return { deleted: true };
  });
  r.register(
    'budget/configureAlerts',
    async (p: BudgetConfigureAlerts.Params): Promise<BudgetConfigureAlerts.Result> => {
      if (p.budgetId && !(await app.budgets.has(p.budgetId))) throw errors.notFound('budget', p.budgetId);
      if (p.removeWebhook && !(await app.webhooks.remove(p.removeWebhook)))
        throw errors.notFound('webhook', p.removeWebhook);
      if (p.webhookUrl) await app.webhooks.addAlertHook(p.webhookUrl, p.budgetId ?? null);
      const change: { thresholds?: number[]; enabled?: boolean } = {};
      if (p.thresholds) change.thresholds = p.thresholds;
      if (p.enabled !== undefined) change.enabled = p.enabled;
      const budgets = await app.budgets.configure(p.budgetId, change);
      return { budgets, webhooks: await app.webhooks.alertHooks() };
    },
  );
  r.register('budget/alerts', async (p: BudgetAlerts.Params): Promise<BudgetAlerts.Result> => {
    if (p.budgetId && !(await app.budgets.has(p.budgetId))) throw errors.notFound('budget', p.budgetId);
    return {
      alerts: await app.store.alerts.list({
        ...(p.budgetId ? { budgetId: p.budgetId } : {}),
        ...(p.since ? { since: p.since } : {}),
        limit: p.limit ?? 100,
      }),
      webhooks: await app.webhooks.alertHooks(),
    };
  });

  r.register('webhook/register', async (p: WebhookRegister.Params) => {
    if (p.budgetId && !(await app.budgets.has(p.budgetId))) throw errors.notFound('budget', p.budgetId);
    return app.webhooks.register(p);
  });
  r.register('webhook/unregister', (p: WebhookUnregister.Params) => app.webhooks.unregister(p.id));
  r.register('webhook/list', () => app.webhooks.list());

  const ranking = (p: RankingParams) => ({
    ...(p.weights ? { weights: p.weights } : {}),
    ...(p.vectorShare !== undefined ? { vectorShare: p.vectorShare } : {}),
    ...(p.halfLifeDays !== undefined ? { halfLifeMs: p.halfLifeDays * 86_400_000 } : {}),
  });
  r.register('memory/add', (p: MemoryAdd.Params) => app.memory.add(p));
  r.register('memory/get', (p: MemoryGet.Params) => ({ memory: app.memory.get(p.id) }));
  r.register('memory/update', async (p: MemoryUpdate.Params) => ({ memory: await app.memory.update(p) }));
  r.register('memory/delete', async (p: MemoryDelete.Params) => ({ deleted: await app.memory.delete(p.ids) }));
  r.register('memory/list', (p: MemoryList.Params) => app.memory.list(p));
  r.register('memory/search', (p: MemorySearch.Params, ctx) => app.memory.search({ ...p, ...ranking(p) }, ctx.signal));
  r.register('memory/history', (p: MemoryHistory.Params) => ({ history: app.memory.history(p.id) }));
  r.register('memory/context', (p: MemoryContext.Params, ctx) =>
    app.memory.context({ ...p, ...ranking(p) }, ctx.signal),
  );

  const progressOf = (ctx: RequestContext) => ({
    signal: ctx.signal,
    onProgress: (fraction: number, message: string) =>
      ctx.progress({ kind: 'progress', fraction, message } satisfies ClustersCompute.Progress),
  });
  r.register('analytics/summary', (p: AnalyticsSummary.Params) => app.analytics.summary(p));
  r.register('analytics/insights', (p: AnalyticsInsights.Params, ctx) =>
    app.analytics.insights(p, { signal: ctx.signal }),
  );
  r.register('analytics/recommendations', (p: AnalyticsRecommendations.Params, ctx) =>
    app.analytics.recommendations(p, { signal: ctx.signal }),
  );
  r.register('clusters/compute', (p: ClustersCompute.Params, ctx) => app.clusters.compute(p, progressOf(ctx)));
  r.register('clusters/list', (p: ClustersList.Params) => app.clusters.list(p.crew));
  r.register('memory/duplicates', (p: MemoryDuplicates.Params, ctx) => app.clusters.duplicates(p, progressOf(ctx)));
  r.register('memory/merge', (p: MemoryMerge.Params) => app.memory.merge(p));

  r.register('memory/embedder', async (p: MemoryEmbedder.Params): Promise<MemoryEmbedder.Result> => {
    if (p.set !== undefined) await app.setEmbedder(p.set);
    const cov = app.memory.coverage();
    const progress = app.memory.reembedProgress();
    return {
      embedderId: app.memory.embedderId,
      setting: app.embedderSetting,
      embedded: cov.embedded,
      total: cov.total,
      reembedding: progress && { done: progress.done, total: progress.total },
    };
  });

  r.register('archive/create', (p: ArchiveCreate.Params, ctx) =>
    app.archive.create(p, { signal: ctx.signal, onProgress: (v) => ctx.progress(v) }),
  );
  r.register('archive/restore', (p: ArchiveRestore.Params, ctx) =>
    app.archive.restore(p, { signal: ctx.signal, onProgress: (v) => ctx.progress(v) }),
  );
  r.register('archive/list', (p: ArchiveList.Params) => app.archive.list(p));
  r.register('archive/delete', (p: ArchiveDelete.Params) => app.archive.delete(p.id));
  r.register('archive/schedule', (p: ArchiveSchedule.Params) => app.archive.schedule(p));

  r.register('store/verify', async (): Promise<StoreVerify.Result> => {
    const store = localStore(app, 'store/verify');
    const checks: StoreVerify.Result['checks'] = [];
    try {
      JSON.parse(await fsp.readFile(store.dbFile, 'utf8'));
      checks.push({ name: 'db.json', ok: true, detail: `valid JSON, schema ${store.schemaVersion}` });
    } catch (e) {
      checks.push({ name: 'db.json', ok: false, detail: (e as Error).message });
    }
    const ledger = store.checkLedger();
    checks.push({
      name: 'ledger',
      ok: ledger.ordered && ledger.listed === ledger.entries,
      detail: `${ledger.entries} entries, in time order: ${ledger.ordered}`,
    });
    const total = picoToUsd(ledger.totalPico);
    checks.push({ name: 'ledger total', ok: Number.isFinite(total), detail: `$${total} recorded` });
    const budgets = await app.budgets.status();
    const dangling = budgets.filter((b) => !Number.isFinite(b.spentUsd));
    checks.push({ name: 'budgets', ok: dangling.length === 0, detail: `${budgets.length} budgets` });
    return { ok: checks.every((c) => c.ok), schemaVersion: SCHEMA_VERSION, checks };
  });
  r.register('store/backup', async (p: StoreBackup.Params): Promise<StoreBackup.Result> => {
    const store = localStore(app, 'store/backup');
    const file = p.path ? await backupFileIn(app.paths.backups, p.path) : defaultBackupPath(app);
    const out = await app.archive.whileIdle(() => store.backup(file));
    return { ...out, ledgerEntries: await app.store.ledger.count() };
  });
  r.register('store/restore', async (p: StoreRestore.Params): Promise<StoreRestore.Result> => {
    const store = localStore(app, 'store/restore');
    const file = await backupFileIn(app.paths.backups, p.path);
    const bundle = await readBackup(file);
    const previous = await app.archive.whileIdle(() => store.backup(defaultBackupPath(app, 'pre-restore')));
    await app.archive.close();
    await app.store.close();
    await installBackup(bundle, app.paths.store);
    await app.reloadStore();
    return {
      restoredFrom: file,
      previousBackup: previous.path,
      ledgerEntries: await app.store.ledger.count(),
      budgets: (await app.budgets.status()).length,
    };
  });
}

/** The data directory's store, for the operations on its files; a shared database is backed up with its own tools. */
function localStore(app: App, method: string): JsonStore {
  if (app.store.local) return app.store.local;
  throw new DomainError(
    ErrorCodes.InvalidRequest,
    `${method} works on a local store; this server keeps its data in PostgreSQL (${app.store.location.display}): ` +
      "back it up with pg_dump, or verify it with the database's own tools",
    { store: 'postgres' },
  );
}

function defaultBackupPath(app: App, kind = 'crew'): string {
  const stamp = new Date(app.clock.now()).toISOString().replace(/[:.]/g, '-');
  return path.join(app.paths.backups, `${kind}-${stamp}.backup`);
}
