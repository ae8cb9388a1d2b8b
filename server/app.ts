/**
 * The one place that wires services together. Everything a service needs (store, clock, events, upstream
 * client, config) is passed in here; transports are attached by main.ts.
 */
import type { Clock } from './clock';
import { systemClock } from './clock';
import { AlertService } from './costs/alerts';
import { BudgetService } from './costs/budgets';
import { ChatService } from './costs/chat';
import { MeteredEmbeddings } from './costs/embeddings';
import { Reconciler } from './costs/reconcile';
import { ReportService } from './costs/reports';
import { ForecastService } from './costs/forecast';
import { LedgerVerifier } from './costs/verify';
import { RecommendationService } from './costs/recommendations';
import { CrewService } from './crews/service';
import { AgentBudgets } from './crews/agent-budgets';
import { RunService } from './runs/service';
import { WebhookService } from './webhooks/service';
import type { WebhookSender } from './webhooks/delivery';
import { CrewTokenService } from './crews/tokens';
import { EventBus } from './events';
import { registerHandlers } from './handlers';
import type { Logger } from './log';
import { ModelCatalog } from './models/catalog';
import { OpenRouterClient, type Sleeper, type UpstreamConfig } from './openrouter/client';
import { AuditLog } from './rpc/audit';
import { NotificationHub } from './rpc/hub';
import { Metrics } from './rpc/metrics';
import { RateLimiter, type RateLimitConfig } from './rpc/ratelimit';
import { Router } from './rpc/router';
import { JsonStore } from './store/json-store';
import type { StoreLocation } from './store/location';
import { openPgStore } from './store/postgres/pg-store';
import type { LeaseTiming } from './store/postgres/gate';
import type { CrewStore } from './store/store';
import { dataDirPaths, type DataDirPaths } from '../protocol/node';
import {
  BudgetAlertNotification,
  MemoryChangedNotification,
  MemoryReembedNotification,
  RunProgressNotification,
  StoreChangedNotification,
  ServerStatusNotification,
  UsageRecordedNotification,
} from '../protocol';
import { createEmbedder, type EmbedderConfig } from './memory/embeddings/registry';
import { expectedEmbedderId, parseEmbedderSetting } from './memory/embedder-setting';
import { MemoryService } from './memory/service';
import { AnalyticsService, analyticsSourceOf } from './memory/analytics';
import { ClusterService } from './memory/clusters';
import { ArchiveService } from './memory/archive/service';
import { LanguageServer } from './lsp/language-server';
import { LedgerSpend } from './lsp/spend';
import path from 'node:path';

export const SERVER_VERSION = '0.1.0';

export interface AppConfig {
  dataDir: string;
  upstream: UpstreamConfig;
  sandbox: boolean;
  rateLimit: RateLimitConfig;
  modelsTtlMs?: number;
  reconcileIntervalMs?: number;
  log: Logger;
  clock?: Clock;
  sleeper?: Sleeper;
  webhookSender?: WebhookSender;
  webhookRetryDelaysMs?: number[];
  /** Set by main.ts once transports are up, for server/info. */
  endpoints?: { socket: string | null; httpPort: number | null };
  onShutdownRequested?: () => void;
  /** `local` (default), `hash`, or `openrouter:<model>`; CREW_EMBEDDER otherwise. */
  embedder?: string;
  /** Where the data lives: the data directory (default) or a team's PostgreSQL (store/location.ts). */
  store?: StoreLocation;
  /** On a shared store: how often this instance heartbeats, and how long a silent one keeps its reservations. */
  lease?: LeaseTiming;
}

export class App {
  readonly events = new EventBus();
  readonly hub = new NotificationHub();
  readonly paths: DataDirPaths;
  readonly clock: Clock;
  readonly startedAt: number;
  router!: Router;
  /** Per-client request limits; the router's, shared with the OpenAI-compatible gateway. */
  limiter!: RateLimiter;
  store!: CrewStore;
  upstream!: OpenRouterClient;
  catalog!: ModelCatalog;
  alerts!: AlertService;
  /** Webhook subscriptions, and the deliveries of budget alerts and finished runs to them. */
  webhooks!: WebhookService;
  budgets!: BudgetService;
  chat!: ChatService;
  /** OpenRouter embeddings through the budget gate and into the ledger (what an `openrouter:` embedder calls). */
  embeddings!: MeteredEmbeddings;
  reports!: ReportService;
  forecast!: ForecastService;
  recommendations!: RecommendationService;
  crews!: CrewService;
  runs!: RunService;
  /** Crews' gateway tokens; the HTTP gateway authenticates against it. */
  crewTokens!: CrewTokenService;
  reconciler!: Reconciler;
  /** `cost/verify`: the ledger checked against OpenRouter's own figures. */
  verifier!: LedgerVerifier;
  memory!: MemoryService;
  clusters!: ClusterService;
  analytics!: AnalyticsService;
  archive!: ArchiveService;
  audit!: AuditLog;
  metrics!: Metrics;
  /** Hover, completion and diagnostics for model ids; the vscode-jsonrpc transports attach it per connection. */
  languageServer!: LanguageServer;

  private constructor(readonly config: AppConfig) {
    this.clock = config.clock ?? systemClock;
    this.paths = dataDirPaths(config.dataDir);
    this.startedAt = this.clock.now();
  }

  static async create(config: AppConfig): Promise<App> {
    const app = new App(config);
    await app.wire();
    return app;
  }

  private async wire(): Promise<void> {
    const { config, clock, events } = this;
    const log = config.log;
    const location = config.store ?? { kind: 'local', display: this.paths.dataDir };
    this.store =
      location.kind === 'postgres'
        ? await openPgStore(location, clock, log, { lease: config.lease, dataDir: this.paths.dataDir })
        : await JsonStore.open(this.paths.store, clock, this.paths.backups, log);
    this.upstream = new OpenRouterClient(config.upstream, clock, config.sleeper);
    this.catalog = new ModelCatalog(this.store.models, this.upstream, clock, log, config.modelsTtlMs);
    this.alerts = new AlertService(this.store.alerts, events, clock, log);
    this.webhooks = new WebhookService({
      repo: this.store.webhooks,
      events,
      clock,
      log,
      sender: config.webhookSender,
      retryDelaysMs: config.webhookRetryDelaysMs,
      queue: this.store.webhookQueue,
    });
    this.budgets = new BudgetService(this.store.budgets, this.store.gate, this.alerts, clock);
    await this.budgets.init();
    this.crews = new CrewService(this.store.crews, this.catalog, clock, new AgentBudgets(this.budgets));
    this.crewTokens = new CrewTokenService(this.store.crewTokens, this.crews, clock);
    await this.crewTokens.init();
    // A token issued or revoked on another instance is honoured here as soon as its notification arrives.
    await this.store.watch?.('crewTokens', () => void this.crewTokens.init().catch(() => undefined));
    await this.store.watch?.('budgets', () => void this.budgets.init().catch(() => undefined));
    this.chat = new ChatService(this.catalog, this.budgets, this.upstream, events, clock, this.store.callProfiles);
    this.embeddings = new MeteredEmbeddings({
      upstream: this.upstream,
      prices: this.catalog,
      budgets: this.budgets,
      events,
      clock,
    });
    this.reports = new ReportService(this.store.ledger);
    this.languageServer = new LanguageServer({
      catalog: this.catalog,
      spend: new LedgerSpend(this.store.ledger, clock),
      clock,
      log,
      serverInfo: { name: 'crew-server', version: SERVER_VERSION },
    });
    this.forecast = new ForecastService(this.store.ledger, this.budgets, this.alerts, clock);
    this.reconciler = new Reconciler(this.store.ledger, this.upstream, this.budgets, log, this.exclusive);
    if (config.reconcileIntervalMs) this.reconciler.start(config.reconcileIntervalMs);
    this.verifier = new LedgerVerifier(
      this.store.ledger,
      this.upstream,
      this.budgets,
      this.alerts,
      this.store.settings,
      clock,
      log,
      this.exclusive,
    );

    // An explicit setting (config, then CREW_EMBEDDER) wins over one saved through memory/embedder.
    this.embedderSetting =
      config.embedder ?? process.env.CREW_EMBEDDER ?? this.store.settings.get().embedder ?? 'local';
    const embedderConfig = parseEmbedderSetting(this.embedderSetting);
    this.memory = new MemoryService(
      this.store.memories,
      this.store.vectors,
      this.store.access,
      this.embedderSource(embedderConfig),
      expectedEmbedderId(embedderConfig),
      events,
      clock,
      log,
    );
    this.memory.init();
    // Another instance on a shared store changed memories: the search index follows.
    for (const repo of [this.store.memories, this.store.vectors, this.store.access])
      repo.onExternalChange?.(({ ids }) => this.memory.refreshExternal(ids));
    this.expirySweep = setInterval(() => {
      this.exclusive('expiry-sweep', () => this.memory.sweepExpired()).catch((e: Error) =>
        log.warn(`expiry sweep failed: ${e.message}`),
      );
      // Memories whose embedding a budget refused get another try (a new period, a raised limit).
      this.memory.embedDeferred();
    }, 60_000);
    this.expirySweep.unref();
    // Projections and spikes raise their alerts without a client asking: every minute, and anomalies hourly.
    let ticks = 0;
    this.costWatch = setInterval(() => {
      const hourly = ticks++ % 60 === 0;
      this.exclusive('cost-watch', async () => {
        await this.forecast.forecast({}).catch((e: Error) => log.warn(`forecast check failed: ${e.message}`));
        if (hourly)
          await this.forecast
            .anomalies({ granularity: 'hour' })
            .catch((e: Error) => log.warn(`anomaly check failed: ${e.message}`));
      }).catch((e: Error) => log.warn(`cost watch failed: ${e.message}`));
    }, 60_000);
    this.costWatch.unref();
    const source = analyticsSourceOf({
      memories: this.store.memories,
      vectors: this.store.vectors,
      access: this.store.access,
      embedderId: () => this.memory.embedderId,
    });
    // Inside the store folder, so backups and restores carry the last clustering with the memories.
    // With a shared store the last clustering is this instance's own, kept in its data directory.
    const clusterDir = this.store.local ? this.store.local.dir : this.paths.dataDir;
    this.clusters = new ClusterService(source, clock, path.join(clusterDir, 'clusters'), log);
    this.analytics = new AnalyticsService(source, clock, this.clusters);
    this.archive = new ArchiveService({
      memory: this.memory,
      memories: this.store.memories,
      access: this.store.access,
      index: this.store.archives,
      payloads: this.store.archivePayloads,
      // Inside the store folder: a backup holds the archive index and the archive files together.
      dir: path.join(this.paths.store, 'archives'),
      clock,
      log,
    });
    // Finishes an archive a crash interrupted, removes orphan files, arms the retention schedule.
    await this.archive.start();
    this.recommendations = new RecommendationService({
      ledger: this.store.ledger,
      profiles: this.store.callProfiles,
      runs: this.store.runs,
      catalog: this.catalog,
      crews: this.crews,
      memories: this.store.memories,
      archive: this.archive,
      applied: this.store.appliedRecommendations,
      clock,
    });
    this.runs = new RunService({
      crews: this.crews,
      chat: this.chat,
      budgets: this.budgets,
      memory: this.memory,
      runs: this.store.runs,
      events,
      clock,
      log,
    });
    // On a shared store only the runs of instances that stopped heartbeating are over; others' live runs go on.
    const interrupted = await this.runs.recover();
    if (interrupted) log.warn(`${interrupted} run(s) were interrupted by the last stop and are marked failed`);

    this.metrics = new Metrics(this.startedAt);
    this.audit = new AuditLog(this.paths.audit);
    this.limiter = new RateLimiter(config.rateLimit, clock);
    this.router = new Router({
      clock,
      metrics: this.metrics,
      audit: this.audit,
      limiter: this.limiter,
      log,
      onChanged: (method) => {
        if (method !== 'chat/complete')
          this.broadcast(StoreChangedNotification.method, { domain: method.split('/')[0]!, method });
      },
    });
    registerHandlers(this);
    const missing = this.router.missing();
    if (missing.length) throw new Error(`methods without a handler: ${missing.join(', ')}`);

    events.subscribe('budget.alert', (a) => this.broadcast(BudgetAlertNotification.method, a));
    events.subscribe('usage.recorded', (e) => this.broadcast(UsageRecordedNotification.method, e));
    // This instance's own state: not shared.
    events.subscribe('server.status', (s) => this.hub.broadcast(ServerStatusNotification.method, s));
    events.subscribe('memory.changed', (m) => this.broadcast(MemoryChangedNotification.method, m));
    events.subscribe('memory.reembed', (m) => this.hub.broadcast(MemoryReembedNotification.method, m));
    events.subscribe('run.progress', (p) => this.broadcast(RunProgressNotification.method, p));
    if (this.store.bridge) await this.store.bridge.start((method, params) => this.hub.broadcast(method, params));
  }

  /** To this instance's clients, and (on a shared store) to every other instance's. */
  private broadcast(method: string, params: unknown): void {
    this.hub.broadcast(method, params);
    this.store.bridge?.send(method, params);
  }

  /** Background work: on a shared store one instance at a time runs each job; on the local store, this one. */
  private readonly exclusive = <T>(name: string, job: () => Promise<T>): Promise<T | undefined> =>
    this.store.exclusive ? this.store.exclusive(name, job) : job();

  embedderSetting = 'local';
  private expirySweep: NodeJS.Timeout | undefined;
  private costWatch: NodeJS.Timeout | undefined;

  embedderSource(config: EmbedderConfig) {
    // Paid embeddings go through the gate and into the ledger, as chat does.
    return () => createEmbedder(config, this.upstream.keyConfigured ? { upstream: this.embeddings } : {});
  }

  /** Switches the memory embedder and remembers the choice for later starts. */
  async setEmbedder(setting: string): Promise<void> {
    const config = parseEmbedderSetting(setting);
    await this.memory.switchEmbedder(this.embedderSource(config));
    this.embedderSetting = setting;
    await this.store.settings.set({ embedder: setting });
  }

  /** After a restore swapped the store folder: re-read it and re-derive budget state. */
  async reloadStore(): Promise<void> {
    await this.store.local!.reload(this.paths.backups);
    await this.budgets.init();
    // The restored store has its own tokens: the ones issued since the backup stop working.
    await this.crewTokens.init();
    this.memory.init();
    await this.clusters.reload();
    await this.archive.start();
  }

  /** Tells connected clients the server is going away; main.ts calls it before closing the transports. */
  announceStopping(): void {
    this.events.publish('server.status', { state: 'stopping', message: null });
  }

  async close(): Promise<void> {
    // Runs end first (stored as cancelled) while the ledger and the store still take writes.
    await this.runs.close();
    this.reconciler.stop();
    clearInterval(this.expirySweep);
    clearInterval(this.costWatch);
    await this.budgets.alertsRecorded();
    // After the runs and alerts above published their last events; bounded, so a dead receiver cannot hold the stop.
    await this.webhooks.close();
    await this.clusters.flush();
    await this.archive.close();
    await this.audit.close();
    await this.store.close();
  }
}
