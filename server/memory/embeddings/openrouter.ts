/**
 * Embeddings from OpenRouter's `POST /embeddings`, when a key is configured and the user picks a model. Talks to the
 * upstream only through the small EmbeddingsUpstream interface, so retries, Retry-After, timeouts and key handling
 * stay in one place (server/openrouter/client.ts), and so the server can put its budget gate and ledger in between
 * (server/costs/embeddings.ts: a refused call throws BudgetExceeded before anything is sent). Tests stub it.
 */
import { embedInBatches, type Embedder, type EmbeddingUse } from './embedder';

export interface EmbeddingsAnswer {
  /** One per input, in input order. */
  vectors: number[][];
  /** The model that answered, as OpenRouter reports it. */
  model: string;
  /** `usage.cost` in USD, when OpenRouter sent it. */
  costUsd?: number;
  /** `usage.prompt_tokens`, when sent. */
  promptTokens?: number;
  /** OpenRouter's generation id (the response `id`), when sent. */
  generationId?: string;
}

export interface EmbeddingsUpstream {
  /** `use`: whom the call is for (the crew its cost is charged to). */
  embeddings(model: string, input: string[], signal?: AbortSignal, use?: EmbeddingUse): Promise<EmbeddingsAnswer>;
}

/** What one upstream call cost, so the caller can put it in the ledger. */
export interface EmbeddingsUsage {
  model: string;
  inputs: number;
  costUsd: number | undefined;
}

export interface OpenRouterEmbedderOptions {
  /** Inputs per request: large enough to amortise the round trip, small enough that a retry is cheap. */
  batchSize?: number;
  /** Known from vectors stored earlier; otherwise learned from the first answer. */
  dimensions?: number;
  onUsage?: (usage: EmbeddingsUsage) => void;
}

export const OPENROUTER_ID_PREFIX = 'openrouter:';

export function openRouterEmbedderId(model: string): string {
  return `${OPENROUTER_ID_PREFIX}${model}`;
}

export class OpenRouterEmbedder implements Embedder {
  readonly id: string;
  readonly batchSize: number;
  private dims: number | undefined;

  constructor(
    readonly model: string,
    private readonly upstream: EmbeddingsUpstream,
    private readonly opts: OpenRouterEmbedderOptions = {},
  ) {
    if (!/^\S+$/.test(model)) throw new RangeError(`invalid embedding model id ${JSON.stringify(model)}`);
    this.id = openRouterEmbedderId(model);
    this.batchSize = opts.batchSize ?? 64;
    this.dims = opts.dimensions;
  }

  get dimensions(): number | undefined {
    return this.dims;
  }

  embed(texts: readonly string[], signal?: AbortSignal, use?: EmbeddingUse): Promise<Float32Array[]> {
    return embedInBatches(
      texts,
      { batchSize: this.batchSize, signal, dimensions: () => this.dims, embedderId: this.id },
      async (batch, sig) => {
        const answer = await this.upstream.embeddings(this.model, batch, sig, use);
        this.opts.onUsage?.({ model: answer.model, inputs: batch.length, costUsd: answer.costUsd });
        this.check(answer.vectors, batch.length);
        return answer.vectors;
      },
    );
  }

  /**
   * OpenRouter may route one model to several providers; if one of them answered with another size, its vectors
   * could not sit next to the others under one id, so we fail loudly instead.
   */
  private check(vectors: number[][], expected: number): void {
    if (vectors.length !== expected)
      throw new Error(`OpenRouter returned ${vectors.length} embeddings for ${expected} inputs (${this.model})`);
    for (const v of vectors) {
      this.dims ??= v.length;
      if (v.length !== this.dims || v.length === 0)
        throw new Error(`OpenRouter returned a ${v.length}-dimensional embedding for ${this.model}, not ${this.dims}`);
      if (!v.every((x) => Number.isFinite(x)))
        throw new Error(`OpenRouter returned a non-numeric embedding for ${this.model}`);
    }
  }
}
