/**
 * The catalog as the language features read it: built once per catalog refresh, so a keystroke costs map look-ups
 * and, for an id never seen before, one pass over the ids. `ModelIndexSource` keeps it current from the
 * ModelCatalog (the TTL cache behind models/list) without ever making a keystroke wait for the network.
 */
import type { ModelInfo, ModelsList } from '../../protocol';
import type { Clock } from '../clock';
import type { Logger } from '../log';
import type { ModelIdMatch } from './model-id';

/**
 * Suffixes OpenRouter applies to any model at request time (routing shortcuts), so they are not catalog entries
 * of their own; `:free`, `:beta`, `:thinking`, … are, and are looked up as written.
 */
const ROUTING_VARIANTS = new Set(['nitro', 'floor', 'online', 'exacto']);

/** How far (edits) an id with an unknown provider may be from a catalog id and still be taken for a typo of it. */
const TYPO_DISTANCE = 2;

/** How long building an index waits for the embedding models before going on without them. */
const EMBEDDINGS_WAIT_MS = 3_000;
/** Answers remembered per index; a session that scans many distinct strings starts over past this. */
const MEMO_LIMIT = 10_000;

/** What the index needs from the catalog; ModelCatalog provides it. */
export interface CatalogView {
  list(params?: ModelsList.Params): Promise<ModelsList.Result>;
  /** Closest ids (the ones UnknownModel errors suggest). */
  suggest(id: string, n?: number): string[];
  /** Embedding models (a separate OpenRouter list): ids a document may name that are not chat models. */
  listEmbeddings?(): Promise<readonly ModelInfo[]>;
}

export interface ModelLookup {
  model: ModelInfo;
  /** A routing suffix written after a catalog id (`:nitro`), if any. */
  routing: string | null;
}

export class ModelIndex {
  readonly ids: readonly string[];
  private readonly byId: Map<string, ModelInfo>;
  private readonly providers: Set<string>;
  private readonly suggested = new Map<string, string[]>();
  private readonly typos = new Map<string, boolean>();

  constructor(
    models: readonly ModelInfo[],
    /** The catalog copy this index was built from (models/list `fetchedAt`). */
    readonly fetchedAt: string | null,
    private readonly suggestFn: (id: string, n: number) => string[],
  ) {
    this.byId = new Map(models.map((m) => [m.id, m]));
    this.ids = [...this.byId.keys()].sort();
    this.providers = new Set(this.ids.map((id) => id.slice(0, id.indexOf('/'))));
  }

  get size(): number {
    return this.byId.size;
  }

  get(id: string): ModelInfo | undefined {
    return this.byId.get(id);
  }

  hasProvider(provider: string): boolean {
    return this.providers.has(provider);
  }

  lookup(match: Pick<ModelIdMatch, 'id' | 'variant'>): ModelLookup | null {
    const exact = this.byId.get(match.id);
    if (exact) return { model: exact, routing: null };
    if (match.variant && ROUTING_VARIANTS.has(match.variant)) {
      const base = this.byId.get(match.id.slice(0, match.id.lastIndexOf(':')));
      if (base) return { model: base, routing: match.variant };
    }
    return null;
  }

  /**
   * Whether a string of the right shape refers to an OpenRouter model at all: its provider is in the catalog, or
   * it is a typo of a catalog id. `react/jsx-key` and `src/utils` are not; `anthropc/claude-sonnet-4` is.
   */
  refersToModel(match: Pick<ModelIdMatch, 'id' | 'provider'>): boolean {
    if (this.providers.has(match.provider)) return true;
    let typo = this.typos.get(match.id);
    if (typo === undefined) {
      typo = this.ids.some((id) => withinDistance(match.id, id, TYPO_DISTANCE));
      if (this.typos.size >= MEMO_LIMIT) this.typos.clear();
      this.typos.set(match.id, typo);
    }
    return typo;
  }

  /** Up to three close catalog ids, closest first (never the id itself). */
  suggestions(id: string): string[] {
    let s = this.suggested.get(id);
    if (!s) {
      s = this.suggestFn(id, 4)
        .filter((k) => k !== id && this.byId.has(k))
        .slice(0, 3);
      if (this.suggested.size >= MEMO_LIMIT) this.suggested.clear();
      this.suggested.set(id, s);
    }
    return s;
  }

  /**
   * What to move a deprecated model's users to: the same model without its snapshot suffix
   * (`gpt-3.5-turbo-0613` → `gpt-3.5-turbo`) when the catalog has it, else the closest id of the same provider
   * that is not itself deprecated.
   */
  successor(id: string): string | null {
    const live = (k: string) => k !== id && this.byId.get(k)?.expirationDate === null;
    const base = id.replace(/:[a-z-]+$/, '').replace(/-(?:\d{4}(?:-\d{2}-\d{2})?|\d{3}|preview(?:-[\d-]+)?)$/, '');
    if (base !== id && live(base)) return base;
    const provider = id.slice(0, id.indexOf('/') + 1);
    return this.suggestFn(id, 10).find((k) => k.startsWith(provider) && live(k)) ?? null;
  }
}

/** Levenshtein distance ≤ max, without filling the whole table for ids that are obviously far apart. */
export function withinDistance(a: string, b: string, max: number): boolean {
  if (Math.abs(a.length - b.length) > max) return false;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      row.push(v);
      if (v < best) best = v;
    }
    if (best > max) return false;
    prev = row;
  }
  return prev[b.length]! <= max;
}

export interface ModelIndexSourceOptions {
  /** How long an index is used before the catalog is asked again (the catalog's own TTL decides on a fetch). */
  recheckMs?: number;
  /** After the catalog could not be loaded at all, how long before it is tried again. */
  retryMs?: number;
}

/**
 * The current ModelIndex. The first caller waits for the catalog (cache, else network); later callers get the index
 * at once while a re-check runs behind them. A catalog that cannot be loaded yields null (callers then publish
 * nothing rather than call every id unknown) and is logged once until it loads again.
 */
export class ModelIndexSource {
  private index: ModelIndex | null = null;
  private checkedAt = -Infinity;
  private retryAt = -Infinity;
  private failing = false;
  private loading: Promise<void> | undefined;
  private readonly listeners = new Set<(index: ModelIndex) => void>();
  private readonly recheckMs: number;
  private readonly retryMs: number;

  constructor(
    private readonly catalog: CatalogView,
    private readonly clock: Clock,
    private readonly log: Logger,
    opts: ModelIndexSourceOptions = {},
  ) {
    this.recheckMs = opts.recheckMs ?? 60_000;
    this.retryMs = opts.retryMs ?? 60_000;
  }

  async current(): Promise<ModelIndex | null> {
    const now = this.clock.now();
    if (this.index) {
      if (now - this.checkedAt >= this.recheckMs) void this.refresh();
      return this.index;
    }
    if (now < this.retryAt) return null;
    await this.refresh();
    return this.index;
  }

  /** Called with every new index (a catalog refresh), so open documents can be checked again. */
  onDidChange(listener: (index: ModelIndex) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private refresh(): Promise<void> {
    this.loading ??= this.load().finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async load(): Promise<void> {
    this.checkedAt = this.clock.now();
    let list: ModelsList.Result;
    try {
      list = await this.catalog.list();
    } catch (e) {
      this.retryAt = this.clock.now() + this.retryMs;
      if (!this.failing)
        this.log.warn(
          `language server: the model catalog could not be loaded (${(e as Error).message}); ` +
            'model ids are not checked until it can be',
        );
      this.failing = true;
      return;
    }
    if (this.failing) this.log.info('language server: the model catalog is available again');
    this.failing = false;
    // An embedding list that cannot be read (or not soon: diagnostics must not wait on a slow network) leaves the chat
    // models checked; the fetch goes on, and the next re-check has its ids.
    const embeddings = await Promise.race([
      this.catalog.listEmbeddings?.().catch(() => []) ?? Promise.resolve([]),
      new Promise<readonly ModelInfo[]>((resolve) => setTimeout(() => resolve([]), EMBEDDINGS_WAIT_MS).unref()),
    ]);
    const chat = new Set(list.models.map((m) => m.id));
    const models = [...list.models, ...embeddings.filter((m) => !chat.has(m.id))];
    if (this.index && this.index.fetchedAt === list.fetchedAt && this.index.size === models.length) return;
    const index = new ModelIndex(models, list.fetchedAt, (id, n) => this.catalog.suggest(id, n));
    this.index = index;
    for (const l of this.listeners) l(index);
  }
}
