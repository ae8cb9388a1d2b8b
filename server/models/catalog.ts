/**
 * The model catalog: GET /models cached in the store with a TTL, used as-is (and said to be stale) when the
 * network fails. Prices stay the exact strings OpenRouter sent; per-million figures are derived for display.
 */
import type { ModelInfo, ModelPricing, ModelsList } from '../../protocol';
import type { Clock } from '../clock';
import { formatPico, toPico } from '../costs/money';
import type { Logger } from '../log';
import type { OpenRouterClient } from '../openrouter/client';
import { errors, DomainError } from '../errors';
import type { ModelCacheRepository } from '../store/repositories';

export const DEFAULT_MODELS_TTL_MS = 60 * 60 * 1000;

interface RawModel {
  id?: unknown;
  name?: unknown;
  context_length?: unknown;
  created?: unknown;
  expiration_date?: unknown;
  pricing?: Record<string, unknown>;
  top_provider?: { max_completion_tokens?: unknown; context_length?: unknown };
  architecture?: { input_modalities?: unknown; output_modalities?: unknown };
}

const str = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

function perMillion(price: string): number {
  try {
    return Number(formatPico(toPico(price) * 1_000_000));
  } catch {
    return 0;
  }
}

export function parseModel(raw: unknown): ModelInfo | undefined {
  const m = raw as RawModel;
  if (typeof m?.id !== 'string') return undefined;
  const p = m.pricing ?? {};
  const pricing: ModelPricing = { prompt: str(p.prompt) ?? '0', completion: str(p.completion) ?? '0' };
  const extra: [keyof ModelPricing, string][] = [
    ['request', 'request'],
    ['image', 'image'],
    ['webSearch', 'web_search'],
    ['internalReasoning', 'internal_reasoning'],
    ['inputCacheRead', 'input_cache_read'],
    ['inputCacheWrite', 'input_cache_write'],
  ];
  for (const [ours, theirs] of extra) {
    const v = str(p[theirs]);
    if (v !== undefined) pricing[ours] = v;
  }
  return {
    id: m.id,
    name: typeof m.name === 'string' ? m.name : m.id,
    contextLength: num(m.context_length) ?? num(m.top_provider?.context_length),
    maxCompletionTokens: num(m.top_provider?.max_completion_tokens),
    pricing,
    promptUsdPerMillion: perMillion(pricing.prompt),
    completionUsdPerMillion: perMillion(pricing.completion),
    inputModalities: strings(m.architecture?.input_modalities),
    outputModalities: strings(m.architecture?.output_modalities),
    expirationDate: typeof m.expiration_date === 'string' ? m.expiration_date : null,
    created: num(m.created),
  };
}

export class ModelCatalog {
  private models = new Map<string, ModelInfo>();
  private fetchedAt: number | null = null;
  private loaded = false;
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly repo: ModelCacheRepository,
    private readonly upstream: OpenRouterClient,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly ttlMs = DEFAULT_MODELS_TTL_MS,
  ) {}

  private async loadCache(): Promise<void> {
    if (this.loaded) return;
    this.loaded = true;
    const cache = await this.repo.load();
    if (cache) this.install(cache.models, Date.parse(cache.fetchedAt));
  }

  private install(raw: unknown[], at: number): void {
    const next = new Map<string, ModelInfo>();
    for (const r of raw) {
      const m = parseModel(r);
      if (m) next.set(m.id, m);
    }
    this.models = next;
    this.fetchedAt = at;
  }

  private fetch(): Promise<void> {
    this.inFlight ??= (async () => {
      const raw = await this.upstream.listModels();
      const at = this.clock.now();
      this.install(raw, at);
      await this.repo.save({ fetchedAt: new Date(at).toISOString(), models: raw });
    })().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private fresh(): boolean {
    return this.fetchedAt !== null && this.clock.now() - this.fetchedAt < this.ttlMs;
  }

  async list(params: ModelsList.Params = {}): Promise<ModelsList.Result> {
    await this.loadCache();
    let source: ModelsList.Result['source'] = 'cache';
    let warning: string | null = null;
    if (params.refresh || !this.fresh()) {
      try {
        await this.fetch();
        source = 'network';
      } catch (e) {
        if (this.fetchedAt === null) throw e;
        source = 'stale-cache';
        warning = `could not refresh the model list (${(e as Error).message}); showing the copy from ${new Date(this.fetchedAt).toISOString()}`;
        this.log.warn(warning);
      }
    }
    const q = params.search?.toLowerCase();
    const models = [...this.models.values()]
      .filter((m) => !q || m.id.toLowerCase().includes(q) || m.name.toLowerCase().includes(q))
      .sort((a, b) => a.id.localeCompare(b.id));
    return {
      models,
      fetchedAt: this.fetchedAt === null ? null : new Date(this.fetchedAt).toISOString(),
      source,
      warning,
    };
  }

  /** The model, fetching the catalog if it is missing or the id is new; UnknownModel with suggestions if absent. */
  async require(id: string): Promise<ModelInfo> {
    await this.loadCache();
    let m = this.models.get(id);
    if (m) return m;
    if (!this.fresh() || this.models.size === 0) {
      try {
        await this.fetch();
      } catch (e) {
        if (this.models.size === 0) throw e instanceof DomainError ? e : new Error((e as Error).message);
      }
      m = this.models.get(id);
      if (m) return m;
    }
    throw errors.unknownModel(id, this.suggest(id));
  }

  /** Closest ids by edit distance on the id and on its part after the provider. */
  suggest(id: string, n = 3): string[] {
    const target = id.toLowerCase();
    const scored = [...this.models.keys()].map((k) => {
      const key = k.toLowerCase();
      const tail = key.split('/').pop() ?? key;
      const d = Math.min(distance(target, key), distance(target.split('/').pop() ?? target, tail) + 1);
      return { k, d: key.includes(target) || target.includes(tail) ? Math.min(d, 2) : d };
    });
    const limit = Math.max(3, Math.floor(id.length / 2));
    return scored
      .filter((s) => s.d <= limit)
      .sort((a, b) => a.d - b.d || a.k.localeCompare(b.k))
      .slice(0, n)
      .map((s) => s.k);
  }

  peek(id: string): ModelInfo | undefined {
    return this.models.get(id);
  }

  private embeddingModels = new Map<string, ModelInfo>();
  private embeddingsFetchedAt: number | null = null;
  private embeddingsInFlight: Promise<void> | undefined;

  /** The embedding models (GET /embeddings/models), for the language features: ids that are not chat models. */
  async listEmbeddings(): Promise<ModelInfo[]> {
    await this.refreshEmbeddings();
    return [...this.embeddingModels.values()];
  }

  private async refreshEmbeddings(): Promise<void> {
    const fresh = this.embeddingsFetchedAt !== null && this.clock.now() - this.embeddingsFetchedAt < this.ttlMs;
    if (fresh) return;
    try {
      await (this.embeddingsInFlight ??= this.upstream
        .listEmbeddingModels()
        .then((raw) => {
          const next = new Map<string, ModelInfo>();
          for (const r of raw) {
            const m = parseModel(r);
            if (m) next.set(m.id, m);
          }
          this.embeddingModels = next;
          this.embeddingsFetchedAt = this.clock.now();
        })
        .finally(() => (this.embeddingsInFlight = undefined)));
    } catch (e) {
      if (this.embeddingsFetchedAt === null) throw e instanceof DomainError ? e : new Error((e as Error).message);
      this.log.warn(`could not refresh the embedding models (${(e as Error).message}); using the earlier copy`);
    }
  }

  /**
   * An embedding model with its prices (what an embedding call is reserved at): from GET /embeddings/models, kept
   * in memory for the catalog's TTL (a stale copy is used while the network fails), or from GET /models if that
   * lists it. UnknownModel with suggestions if neither has it.
   */
  async requireEmbedding(id: string): Promise<ModelInfo> {
    await this.refreshEmbeddings();
    await this.loadCache();
    const m = this.embeddingModels.get(id) ?? this.models.get(id);
    if (m) return m;
    const ids = [...this.embeddingModels.keys()];
    throw errors.unknownModel(
      id,
      ids.filter((k) => k.includes(id.split('/').pop() ?? id) || id.includes(k.split('/').pop() ?? k)).slice(0, 3),
    );
  }
}

function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}
