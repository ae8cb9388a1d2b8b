/**
 * Embedding calls through the gate, like chat: before `POST /embeddings` its worst case (every input byte a token ×
 * the embedding model's prompt price, + any per-request price) is reserved against every budget in scope — global,
 * the crew whose memory (or query) is embedded, the model — and refused with BudgetExceeded (nothing sent) when one
 * has no room; after it, a ledger row (tag `embedding`, the crew, no agent) records `usage.cost` and the reservation
 * is settled to it. A failed call releases the reservation. A response without `usage.cost` is recorded as an
 * estimate by the catalog's prices, which reconcile corrects from `/generation`.
 *
 * The memory domain never sees this class: app.ts hands it to the embedder registry as the embeddings upstream.
 */
import type { ModelInfo } from '../../protocol';
import type { Clock } from '../clock';
import type { EventBus } from '../events';
import type { EmbeddingUse } from '../memory/embeddings/embedder';
import type { EmbeddingsAnswer, EmbeddingsUpstream } from '../memory/embeddings/openrouter';
import type { LedgerRow } from '../store/repositories';
import type { BudgetService } from './budgets';
import { toEntry } from './chat';
import { costFromPricing, estimateEmbeddingTokens, worstCaseCost } from './estimate';
import { formatPico, parseUsd } from './money';

/** The tag of every embedding call's ledger row (reports and `ledger/list` show it). */
export const EMBEDDING_TAG = 'embedding';

export interface EmbeddingPrices {
  /** The embedding model with its prices, or UnknownModel. */
  requireEmbedding(id: string): Promise<ModelInfo>;
}

export interface MeteredEmbeddingsDeps {
  /** The real upstream (OpenRouterClient). */
  upstream: EmbeddingsUpstream;
  prices: EmbeddingPrices;
  budgets: BudgetService;
  events: EventBus;
  clock: Clock;
}

export class MeteredEmbeddings implements EmbeddingsUpstream {
  constructor(private readonly deps: MeteredEmbeddingsDeps) {}

  async embeddings(
    model: string,
    input: string[],
    signal?: AbortSignal,
    use: EmbeddingUse = { crew: null },
  ): Promise<EmbeddingsAnswer> {
    const { budgets, upstream } = this.deps;
    const info = await this.deps.prices.requireEmbedding(model);
    const tokens = estimateEmbeddingTokens(input);
    let reservation;
    try {
      reservation = await budgets.reserve(
        { crew: use.crew, agent: null, model: info.id },
        (id) => (id === info.id ? worstCaseCost(info, tokens, 0) : undefined),
        { downgrade: false },
      );
    } catch (e) {
      // The refusal's alert is in the history before the caller hears of the refusal.
      await budgets.alertsRecorded();
      throw e;
    }
    const started = performance.now();
    let answer: EmbeddingsAnswer;
    let row: LedgerRow;
    try {
      answer = await upstream.embeddings(info.id, input, signal);
      const estimated = answer.costUsd === undefined;
      const promptTokens = answer.promptTokens ?? tokens;
      const costPico =
        answer.costUsd !== undefined ? Number(parseUsd(answer.costUsd)) : costFromPricing(info, promptTokens, 0);
      const call = { crew: use.crew, agent: null, model: info.id };
      row = await budgets.settle(reservation, call, {
        ts: this.deps.clock.now(),
        model: info.id,
        crew: use.crew,
        agent: null,
        tags: [EMBEDDING_TAG],
        promptTokens,
        completionTokens: 0,
        cachedTokens: 0,
        reasoningTokens: 0,
        costPico,
        cost: formatPico(costPico),
        estimated,
        generationId: answer.generationId ?? null,
        latencyMs: performance.now() - started,
        status: 'ok',
        stream: false,
      });
    } catch (e) {
      await budgets.release(reservation);
      throw e;
    }
    this.deps.events.publish('usage.recorded', toEntry(row));
    await budgets.alertsRecorded();
    return answer;
  }
}
