/**
 * Choosing an embedder. By config (what the user picked) we degrade gracefully — OpenRouter without a key falls back
 * to the local model, the local model that cannot load falls back to hashing — and say why. By id (to embed a query
 * next to stored vectors) we never substitute: a vector of another id would be meaningless there.
 */
import { EmbedderUnavailableError, type Embedder } from './embedder';
import { HashingEmbedder, hashEmbedderId, HASH_TFIDF_VERSION, idfFingerprint, type IdfSnapshot } from './hashing';
import { LOCAL_NEURAL_ID, LocalNeuralEmbedder, type SentenceModelLoader } from './local-neural';
import { OPENROUTER_ID_PREFIX, OpenRouterEmbedder, type EmbeddingsUpstream, type EmbeddingsUsage } from './openrouter';

export type EmbedderKind = 'local' | 'openrouter' | 'hash';

export interface EmbedderConfig {
  kind: EmbedderKind;
  /** The OpenRouter model id; required for `openrouter`. */
  model?: string;
  /** Hashing dimensions, or a remote model's size when already known. */
  dimensions?: number;
}

export const DEFAULT_EMBEDDER_CONFIG: EmbedderConfig = { kind: 'local' };

export interface EmbedderDeps {
  /** Pass it only when an OpenRouter key is configured. */
  upstream?: EmbeddingsUpstream;
  /** The fitted IDF for the hashing embedder, if the memory service keeps one. */
  idf?: IdfSnapshot;
  /** Tests replace the USE lite loader (to fail it, or to stay fast). */
  loadLocalModel?: SentenceModelLoader;
  onUsage?: (usage: EmbeddingsUsage) => void;
}

export interface ResolvedEmbedder {
  embedder: Embedder;
  /** Set when `embedder` is not what the config asked for: why, in words for the user. */
  fallbackReason?: string;
}

export type ParsedEmbedderId =
  | { kind: 'local' }
  | { kind: 'hash'; dimensions: number; idfFingerprint?: string }
  | { kind: 'openrouter'; model: string };

const HASH_ID = new RegExp(`^hash-tfidf@${HASH_TFIDF_VERSION}-(\\d+)(?:~idf-([0-9a-f]{8}))?$`);

/** Undefined for ids this build cannot produce (an older hashing version, a typo). */
export function parseEmbedderId(id: string): ParsedEmbedderId | undefined {
  if (id === LOCAL_NEURAL_ID) return { kind: 'local' };
  if (id.startsWith(OPENROUTER_ID_PREFIX) && id.length > OPENROUTER_ID_PREFIX.length)
    return { kind: 'openrouter', model: id.slice(OPENROUTER_ID_PREFIX.length) };
  const m = HASH_ID.exec(id);
  if (!m) return undefined;
  return m[2]
    ? { kind: 'hash', dimensions: Number(m[1]), idfFingerprint: m[2] }
    : { kind: 'hash', dimensions: Number(m[1]) };
}

export async function createEmbedder(config: EmbedderConfig, deps: EmbedderDeps = {}): Promise<ResolvedEmbedder> {
  switch (config.kind) {
    case 'hash':
      return { embedder: new HashingEmbedder({ dimensions: config.dimensions, idf: deps.idf }) };
    case 'local':
      return localOrHashing(deps);
    case 'openrouter': {
      if (!config.model)
        throw new RangeError('an openrouter embedder needs a model, e.g. "openai/text-embedding-3-small"');
      if (deps.upstream)
        return {
          embedder: new OpenRouterEmbedder(config.model, deps.upstream, {
            dimensions: config.dimensions,
            onUsage: deps.onUsage,
          }),
        };
      const local = await localOrHashing(deps);
      const reason = 'no OpenRouter API key is configured, so embeddings are computed locally';
      return {
        embedder: local.embedder,
        fallbackReason: local.fallbackReason ? `${reason}; ${local.fallbackReason}` : reason,
      };
    }
  }
}

async function localOrHashing(deps: EmbedderDeps): Promise<ResolvedEmbedder> {
  const local = new LocalNeuralEmbedder({ load: deps.loadLocalModel });
  try {
    await local.ready();
    return { embedder: local };
  } catch (e) {
    if (!(e instanceof EmbedderUnavailableError)) throw e;
    return {
      embedder: new HashingEmbedder({ idf: deps.idf }),
      fallbackReason: `${e.reason}; using ${hashEmbedderId(undefined, deps.idf)}`,
    };
  }
}

/** Exactly the embedder that produced vectors of `id`, or EmbedderUnavailableError saying what is missing. */
export async function embedderForId(id: string, deps: EmbedderDeps = {}): Promise<Embedder> {
  const embedder = await build(id, deps);
  // The id is the whole contract; a spelling that parses but builds another id ("…-0384") is not the same embedder.
  if (embedder.id !== id)
    throw new EmbedderUnavailableError(id, `it is not a canonical id (did you mean ${embedder.id}?)`);
  return embedder;
}

async function build(id: string, deps: EmbedderDeps): Promise<Embedder> {
  const parsed = parseEmbedderId(id);
  if (!parsed) throw new EmbedderUnavailableError(id, 'this version of crew-server does not know that embedder');
  switch (parsed.kind) {
    case 'local': {
      const local = new LocalNeuralEmbedder({ load: deps.loadLocalModel });
      await local.ready();
      return local;
    }
    case 'hash': {
      if (parsed.idfFingerprint !== undefined && (!deps.idf || idfFingerprint(deps.idf) !== parsed.idfFingerprint))
        throw new EmbedderUnavailableError(id, 'the IDF table these vectors were weighted with is not the one loaded');
      try {
        return new HashingEmbedder({
          dimensions: parsed.dimensions,
          idf: parsed.idfFingerprint ? deps.idf : undefined,
        });
      } catch (e) {
        throw new EmbedderUnavailableError(id, e instanceof Error ? e.message : String(e));
      }
    }
    case 'openrouter':
      if (!deps.upstream) throw new EmbedderUnavailableError(id, 'no OpenRouter API key is configured');
      return new OpenRouterEmbedder(parsed.model, deps.upstream, { onUsage: deps.onUsage });
  }
}
