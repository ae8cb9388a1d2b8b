/**
 * One model call through the gate: price the worst case, reserve it against every budget in scope, call
 * upstream, record the ledger row (durably) and settle the reservation to the real `usage.cost`. Failures and
 * cancellations release what was not spent; a stream cut midway is recorded as an estimate to reconcile.
 */
import type { ChatComplete, LedgerEntry } from '../../protocol';
import { attributedAgent, ErrorCodes } from '../../protocol';
import type { Clock } from '../clock';
import type { EventBus } from '../events';
import type { ModelCatalog } from '../models/catalog';
import type { OpenRouterClient } from '../openrouter/client';
import { UpstreamError } from '../openrouter/errors';
import { DomainError } from '../errors';
import type { CallProfileRepository, LedgerRow, NewLedgerRow } from '../store/repositories';
import type { BudgetService, Reservation } from './budgets';
import type { Ceiling } from './ceiling';
import { systemPrefix } from './call-profiles';
import { costFromPricing, defaultMaxTokens, estimatePromptTokens, worstCaseCost } from './estimate';
import { formatPico, parseUsd, picoToUsd } from './money';

export interface CallContext {
  signal?: AbortSignal;
  /** Each streamed piece of text; `generationId` is OpenRouter's id for the call as soon as it is known. */
  onDelta?: (text: string, completionTokens: number, generationId: string | null) => void;
  /** The ledger row of the call, once durable: also for a failed or cancelled call (which may have cost something). */
  onRecorded?: (row: LedgerRow) => void;
  /** A ceiling the call holds room on besides the budgets (a run's `maxCostUsd`). */
  ceiling?: Ceiling;
  /** A `fit` budget lowered the call's max_tokens to this, before it was sent (a stream's headers can say so). */
  onFitted?: (maxTokens: number) => void;
}

/** The ledger tag of a call a `fit` budget lowered: `fit:max_tokens=<n>`, beside the caller's own tags. */
export const fitTag = (maxTokens: number) => `fit:max_tokens=${maxTokens}`;

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
    const promptEstimate = estimatePromptTokens(p.messages);
    const plan = (id: string) => {
      const m = id === requested.id ? requested : this.catalog.peek(id);
      if (!m) return undefined;
      return { model: m, maxTokens: p.maxTokens ?? defaultMaxTokens(m, promptEstimate) };
    };
    // One agent, one id: `ops` + `researcher` is `ops/researcher` in the gate and the ledger, as a run records it.
    const crew = p.crew ?? null;
    const agent = attributedAgent(crew, p.agent);
    let reservation;
    try {
      reservation = await this.budgets.reserve(
        { crew, agent, model: requested.id },
        (id) => {
          const x = plan(id);
          return x && worstCaseCost(x.model, promptEstimate, x.maxTokens);
        },
        {
          ceiling: ctx.ceiling,
          fit: {
            maxTokens: (id) => plan(id)?.maxTokens,
            cost: (id, n) => {
              const x = plan(id);
              return x && worstCaseCost(x.model, promptEstimate, n);
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
    const fitted = reservation.fittedMaxTokens;
    const maxTokens = fitted ?? planned.maxTokens;
    if (fitted !== null) ctx.onFitted?.(fitted);
    const tags = fitted === null ? (p.tags ?? []) : [...(p.tags ?? []), fitTag(fitted)];
    const started = performance.now();
    let deltas = 0;
    // A full literal each time (no spreads): this is the per-call hot path and V8's spread is slow.
    const ledgerRow = (
      f: Omit<NewLedgerRow, 'model' | 'crew' | 'agent' | 'tags' | 'stream' | 'ts' | 'latencyMs'>,
    ): NewLedgerRow => ({
      ts: this.clock.now(),
      model: model.id,
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
          messages: p.messages,
          maxTokens,
          temperature: p.temperature,
          stream: p.stream ?? false,
          cacheSystemPrompt: p.cacheSystemPrompt ?? false,
        },
        {
          signal: ctx.signal,
          onDelta: ctx.onDelta && ((text, generationId) => ctx.onDelta!(text, ++deltas, generationId)),
        },
      );
      const estimated = out.cost === undefined;
      const costPico =
        out.cost !== undefined
          ? Number(parseUsd(out.cost))
          : costFromPricing(model, out.promptTokens, out.completionTokens, out.cachedTokens);
      const row = await this.record(
        ctx,
        reservation,
        ledgerRow({
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
        model: model.id,
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
      // Something was generated (and may be billed): record an estimate that reconcile will correct.
      const costPico = partial ? costFromPricing(model, promptEstimate, partial.completionTokens) : 0;
      try {
        await this.record(
          ctx,
          reservation,
          ledgerRow({
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

  private async record(ctx: CallContext, reservation: Reservation, row: NewLedgerRow): Promise<LedgerRow> {
    const stored = await this.budgets.settle(reservation, reservation.call, row, this.inFlight === 1);
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
  };
}
