/**
 * One model call through the gate: price the worst case, reserve it against every budget in scope, call
 * upstream, record the ledger row (durably) and settle the reservation to the real `usage.cost`. Failures and
 * cancellations release what was not spent; a stream cut midway is recorded as an estimate to reconcile.
 *
 * A call with fallbacks (`models`, OpenRouter's chain) is one call: one reservation, of the largest worst case over
 * the chain, held on the model budgets of every model in it, and one ledger row, naming the model that answered,
 * whose cost counts where that model is in scope. Retries of the call (429/5xx) stay inside that one reservation.
 */
import type { ChatComplete, LedgerEntry, ModelInfo } from '../../protocol';
import { attributedAgent, ErrorCodes, fallbackChain, FIT_TAG_PREFIX, MAX_FALLBACK_CHAIN } from '../../protocol';
import type { Clock } from '../clock';
import type { EventBus } from '../events';
import type { ModelCatalog } from '../models/catalog';
import type { OpenRouterClient } from '../openrouter/client';
import { UpstreamError } from '../openrouter/errors';
import { DomainError, errors } from '../errors';
import type { CallProfileRepository, LedgerRow, NewLedgerRow } from '../store/repositories';
import type { BudgetService, Reservation } from './budgets';
import type { Ceiling } from './ceiling';
import { systemPrefix } from './call-profiles';
import { costFromPricing, defaultMaxTokens, estimatePromptTokens, worstCaseCost } from './estimate';
import { formatPico, parseUsd, picoToUsd } from './money';

export interface CallContext {
  signal?: AbortSignal;
  /**
   * Each streamed piece of text; `generationId` is OpenRouter's id for the call as soon as it is known, `model` the
   * model answering (with fallbacks, the chain's one that answered).
   */
  onDelta?: (text: string, completionTokens: number, generationId: string | null, model: string) => void;
  /** The ledger row of the call, once durable: also for a failed or cancelled call (which may have cost something). */
  onRecorded?: (row: LedgerRow) => void;
  /** A ceiling the call holds room on besides the budgets (a run's `maxCostUsd`). */
  ceiling?: Ceiling;
  /** A stream's bytes exactly as OpenRouter sent them, as they arrive (the gateway passes them on unchanged). */
  onRaw?: (chunk: Buffer) => void;
  /** A `fit` budget lowered the call's max_tokens to this, before it was sent (a stream's headers can say so). */
  onFitted?: (maxTokens: number) => void;
}

/** The ledger tag of a call a `fit` budget lowered: `fit:max_tokens=<n>`, beside the caller's own tags. */
export const fitTag = (maxTokens: number) => `${FIT_TAG_PREFIX}${maxTokens}`;

/** The max_tokens a fit lowered a row's call to, from its tag; null when none did. */
function fittedOf(tags: readonly string[]): number | null {
  for (const t of tags) if (t.startsWith(FIT_TAG_PREFIX)) return Number(t.slice(FIT_TAG_PREFIX.length));
  return null;
}

export class ChatService {
  constructor(
    private readonly catalog: ModelCatalog,
    private readonly budgets: BudgetService,
    private readonly upstream: OpenRouterClient,
    private readonly events: EventBus,
    private readonly clock: Clock,
    /** Where each successful call's shape goes, for the savings recommendations (none: not recorded). */
    private readonly profiles?: Pick<CallProfileRepository, 'record'>,
  ) {}

  /** Calls between start and answer; the ledger writes at once (no group commit) when there is only one. */
  private inFlight = 0;

  async complete(p: ChatComplete.Params, ctx: CallContext = {}): Promise<ChatComplete.Result> {
    this.inFlight++;
    try {
      return await this.run(p, ctx);
    } finally {
      this.inFlight--;
    }
  }

  private async run(p: ChatComplete.Params, ctx: CallContext): Promise<ChatComplete.Result> {
    const requested = await this.catalog.require(p.model);
    const listed = p.models?.length ? await this.chainOf(p.model, p.models) : null;
    const chain = listed && listed.length > 1 ? listed : null;
    const promptEstimate = estimatePromptTokens(p.messages);
    // One max_tokens goes upstream for the whole chain: the caller's, or the least completion limit over it, which
    // every model of the chain takes (OpenRouter would fall back past a model that refuses it).
    const chainMaxTokens = chain && (p.maxTokens ?? Math.min(...chain.map((m) => defaultMaxTokens(m, promptEstimate))));
    const plan = (id: string) => {
      // The requested model stands for its chain (until a downgrade sends the call elsewhere, alone).
      if (chain && id === requested.id) return { model: requested, chain, maxTokens: chainMaxTokens! };
      const m = id === requested.id ? requested : this.catalog.peek(id);
      if (!m) return undefined;
      return { model: m, chain: null, maxTokens: p.maxTokens ?? defaultMaxTokens(m, promptEstimate) };
    };
    const worst = (x: { model: ModelInfo; chain: ModelInfo[] | null }, n: number) => {
      if (!x.chain) return worstCaseCost(x.model, promptEstimate, n);
      let most = 0n;
      for (const m of x.chain) {
        const w = worstCaseCost(m, promptEstimate, n);
        if (w > most) most = w;
      }
      return most;
    };
    // One agent, one id: `ops` + `researcher` is `ops/researcher` in the gate and the ledger, as a run records it.
    const crew = p.crew ?? null;
    const agent = attributedAgent(crew, p.agent);
    let reservation;
    try {
      reservation = await this.budgets.reserve(
        chain
          ? { crew, agent, model: requested.id, fallbacks: chain.slice(1).map((m) => m.id) }
          : { crew, agent, model: requested.id },
        (id) => {
          const x = plan(id);
          return x && worst(x, x.maxTokens);
        },
        {
          ceiling: ctx.ceiling,
          fit: {
            maxTokens: (id) => plan(id)?.maxTokens,
            cost: (id, n) => {
              const x = plan(id);
              return x && worst(x, n);
            },
          },
        },
      );
    } catch (e) {
      // The refusal's alert is in the history before the caller hears of the refusal.
      await this.budgets.alertsRecorded();
      throw e;
    }
    const planned = plan(reservation.model)!;
    const model = planned.model;
    // The chain goes upstream only as it was reserved: a downgrade sent the call to its target alone.
    const sent = reservation.call.fallbacks ? planned.chain : null;
    /** The model of the chain that answered, by OpenRouter's name for it (the requested one without a chain). */
    const answeredBy = (name: string | null | undefined): ModelInfo | null =>
      !sent
        ? model
        : name
          ? (sent.find((m) => m.id === name) ?? sent.find((m) => sameModel(m.id, name)) ?? null)
          : null;
    const fitted = reservation.fittedMaxTokens;
    const maxTokens = fitted ?? planned.maxTokens;
    if (fitted !== null) ctx.onFitted?.(fitted);
    const tags = fitted === null ? (p.tags ?? []) : [...(p.tags ?? []), fitTag(fitted)];
    const started = performance.now();
    let deltas = 0;
    // A full literal each time (no spreads): this is the per-call hot path and V8's spread is slow.
    const ledgerRow = (
      f: Omit<NewLedgerRow, 'crew' | 'agent' | 'tags' | 'stream' | 'ts' | 'latencyMs'>,
    ): NewLedgerRow => ({
      ts: this.clock.now(),
      model: f.model,
      crew,
      agent,
      tags,
      promptTokens: f.promptTokens,
      completionTokens: f.completionTokens,
      cachedTokens: f.cachedTokens,
      reasoningTokens: f.reasoningTokens,
      costPico: f.costPico,
      cost: f.cost,
      estimated: f.estimated,
      generationId: f.generationId,
      latencyMs: performance.now() - started,
      status: f.status,
      stream: p.stream ?? false,
    });
    try {
      const out = await this.upstream.chat(
        {
          model: model.id,
          models: sent?.map((m) => m.id),
          messages: p.messages,
          maxTokens,
          temperature: p.temperature,
          stream: p.stream ?? false,
          cacheSystemPrompt: p.cacheSystemPrompt ?? false,
        },
        {
          signal: ctx.signal,
          onRaw: ctx.onRaw,
          onDelta:
            ctx.onDelta &&
            ((text, generationId, name) =>
              ctx.onDelta!(text, ++deltas, generationId, sent ? (answeredBy(name)?.id ?? name) : model.id)),
        },
      );
      // OpenRouter prices a call with the model that answered. One outside the chain (it never should be) is named
      // as OpenRouter named it, and an estimate of its cost errs high: the chain's dearest price.
      const answered = answeredBy(out.model);
      const estimated = out.cost === undefined;
      const costPico =
        out.cost !== undefined
          ? Number(parseUsd(out.cost))
          : answered
            ? costFromPricing(answered, out.promptTokens, out.completionTokens, out.cachedTokens)
            : dearest(sent!, (m) => costFromPricing(m, out.promptTokens, out.completionTokens, out.cachedTokens));
      const row = await this.record(
        ctx,
        reservation,
        ledgerRow({
          model: answered?.id ?? out.model,
          promptTokens: out.promptTokens,
          completionTokens: out.completionTokens,
          cachedTokens: out.cachedTokens,
          reasoningTokens: out.reasoningTokens,
          costPico,
          cost: formatPico(costPico),
          estimated,
          generationId: out.generationId,
          status: 'ok',
        }),
      );
      this.recordShape(row, p, maxTokens);
      return {
        ledgerId: row.id,
        generationId: out.generationId,
        model: row.model,
        requestedModel: requested.id,
        downgradedBy: reservation.downgradedBy,
        content: out.content,
        finishReason: out.finishReason,
        usage: {
          promptTokens: out.promptTokens,
          completionTokens: out.completionTokens,
          cachedTokens: out.cachedTokens,
          reasoningTokens: out.reasoningTokens,
        },
        costUsd: picoToUsd(costPico),
        cost: row.cost,
        costEstimated: estimated,
        latencyMs: row.latencyMs,
        warnings: reservation.warnings,
        fittedMaxTokens: fitted,
      };
    } catch (e) {
      const cancelled = ctx.signal?.aborted || (e instanceof DomainError && e.code === ErrorCodes.RequestCancelled);
      const partial = e instanceof UpstreamError ? e.partial : (e as { partial?: UpstreamError['partial'] }).partial;
      // Something was generated (and may be billed): record an estimate that reconcile will correct. With a chain,
      // by the model the stream named, else (erring high) the chain's dearest.
      const answered = answeredBy(partial?.model);
      const costPico = !partial
        ? 0
        : answered
          ? costFromPricing(answered, promptEstimate, partial.completionTokens)
          : dearest(sent!, (m) => costFromPricing(m, promptEstimate, partial.completionTokens));
      try {
        await this.record(
          ctx,
          reservation,
          ledgerRow({
            model: (answered ?? model).id,
            promptTokens: partial ? promptEstimate : 0,
            completionTokens: partial?.completionTokens ?? 0,
            cachedTokens: 0,
            reasoningTokens: 0,
            costPico,
            cost: formatPico(costPico),
            estimated: partial !== undefined,
            generationId: partial?.generationId ?? null,
            status: cancelled ? 'cancelled' : 'error',
          }),
        );
      } finally {
        // Settled by the record above, unless recording failed: then nothing may stay reserved.
        await this.budgets.release(reservation);
      }
      if (cancelled)
        throw new DomainError(ErrorCodes.RequestCancelled, 'request cancelled; the reservation was released');
      throw e;
    }
  }

  /** The models of a fallback chain, each known to the catalog, `model` first. */
  private async chainOf(model: string, models: readonly string[]): Promise<ModelInfo[]> {
    const ids = fallbackChain(model, models);
    if (ids.length > MAX_FALLBACK_CHAIN)
      throw errors.invalidParams(
        `models: a fallback chain holds at most ${MAX_FALLBACK_CHAIN} models, model included (OpenRouter refuses ` +
          `more); this one has ${ids.length}`,
        { field: 'models', issues: [{ field: 'models', message: `at most ${MAX_FALLBACK_CHAIN} models with model` }] },
      );
    const out: ModelInfo[] = [];
    for (const id of ids) out.push(await this.catalog.require(id));
    return out;
  }

  private async record(ctx: CallContext, reservation: Reservation, row: NewLedgerRow): Promise<LedgerRow> {
    // The cost counts where the model that answered is in scope; the reservation comes off the whole chain.
    const call = reservation.call.fallbacks
      ? { crew: reservation.call.crew, agent: reservation.call.agent, model: row.model }
      : reservation.call;
    const stored = await this.budgets.settle(reservation, call, row, this.inFlight === 1);
    ctx.onRecorded?.(stored);
    this.events.publish('usage.recorded', toEntry(stored));
    await this.budgets.alertsRecorded();
    return stored;
  }

  /** Never throws: a statistic that could not be kept must not fail a call that was paid for. */
  private recordShape(row: LedgerRow, p: ChatComplete.Params, maxTokens: number): void {
    if (!this.profiles) return;
    try {
      this.profiles.record({
        at: row.ts,
        crew: row.crew,
        agent: row.agent,
        model: row.model,
        maxTokens,
        completionTokens: row.completionTokens,
        cachedTokens: row.cachedTokens,
        prefix: systemPrefix(p.messages, row.promptTokens),
      });
    } catch {
      // Only recommendations lose one call's shape.
    }
  }
}

/**
 * Whether OpenRouter's name for the model that answered is `id`: the same, `id` without its routing variant
 * (`:nitro`, `:floor`), or a dated snapshot of it (`openai/gpt-4o-mini-2024-07-18`).
 */
export function sameModel(id: string, answered: string): boolean {
  if (answered === id) return true;
  const colon = id.lastIndexOf(':');
  const base = colon > id.indexOf('/') ? id.slice(0, colon) : id;
  return answered === base || (answered.startsWith(base) && /^-\d/.test(answered.slice(base.length)));
}

/** The most `cost` gives over the chain. */
function dearest(chain: readonly ModelInfo[], cost: (m: ModelInfo) => number): number {
  let most = 0;
  for (const m of chain) most = Math.max(most, cost(m));
  return most;
}

export function toEntry(r: LedgerRow): LedgerEntry {
  return {
    id: r.id,
    at: new Date(r.ts).toISOString(),
    model: r.model,
    crew: r.crew,
    agent: r.agent,
    tags: r.tags,
    usage: {
      promptTokens: r.promptTokens,
      completionTokens: r.completionTokens,
      cachedTokens: r.cachedTokens,
      reasoningTokens: r.reasoningTokens,
    },
    costUsd: picoToUsd(r.costPico),
    cost: r.cost,
    costEstimated: r.estimated,
    generationId: r.generationId,
    latencyMs: r.latencyMs,
    status: r.status,
    stream: r.stream,
    fittedMaxTokens: fittedOf(r.tags),
  };
}
