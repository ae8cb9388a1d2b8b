/**
 * Proof against OpenRouter's own books: every ledger row of a range that has a generation id is looked up with GET
 * /generation and its cost compared, exactly, with `total_cost`; the period totals are compared with GET /key's
 * usage. Drift above the threshold raises one `ledger_drift` alert per distinct finding, and `fix` appends
 * corrections: the original row stays as it was written, a correction row (dated now, tagged `correction-of:<id>`)
 * carries the difference, so the ledger holds both, and its sums — and every budget in scope — are right again.
 */
import { createHash } from 'node:crypto';
import { ErrorCodes } from '../../protocol';
import {
  CORRECTION_TAG_PREFIX,
  DEFAULT_DRIFT_THRESHOLD_USD,
  DEFAULT_VERIFY_DAYS,
  MAX_VERIFY_ROWS,
  type CostVerify,
  type DriftedCall,
  type MissingCall,
  type VerificationSummary,
  type ZeroCostCall,
} from '../../protocol/verify';
import { counted } from '../../protocol/format';
import type { Clock } from '../clock';
import { DomainError, errors } from '../errors';
import type { Logger } from '../log';
import type { GenerationInfo, OpenRouterClient } from '../openrouter/client';
import { UpstreamError } from '../openrouter/errors';
import type { LedgerRepository, LedgerRow, NewLedgerRow } from '../store/repositories';
import type { SettingsRepository } from '../store/store';
import type { AlertService } from './alerts';
import type { BudgetService } from './budgets';
import { compareKeyUsage } from './verify-key-usage';
import { formatPico, parseUsd, picoToUsd, usdText } from './money';

/** GET /generation lookups in flight at once: fast enough for thousands of rows, gentle on OpenRouter's limits. */
const CONCURRENCY = 8;
/**
 * The longest one lookup may take, retries included, before the verification stops with UpstreamTimeout (each
 * attempt also has the client's own timeout, CREW_UPSTREAM_TIMEOUT_MS).
 */
const LOOKUP_TIMEOUT_MS = 15_000;
const PAGE = 1_000;
const DAY_MS = 86_400_000;

interface Candidate {
  row: LedgerRow;
  /** The row's cost plus every correction appended for it since. */
  ledgerPico: bigint;
}

interface Scan {
  checkable: Candidate[];
  /** Rows of the range without a generation id. */
  unchecked: LedgerRow[];
}

export class LedgerVerifier {
  /** One verification at a time in this process: two `fix` runs must never correct one call twice. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly ledger: LedgerRepository,
    private readonly upstream: OpenRouterClient,
    private readonly budgets: BudgetService,
    private readonly alerts: AlertService,
    private readonly settings: SettingsRepository,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** On a shared store, one instance verifies at a time (server/store/store.ts `exclusive`). */
    private readonly exclusive: <T>(name: string, job: () => Promise<T>) => Promise<T | undefined> = (_n, job) => job(),
  ) {}

  last(): VerificationSummary | null {
    return this.settings.get().ledgerVerification ?? null;
  }

  verify(p: CostVerify.Params, signal?: AbortSignal): Promise<CostVerify.Result> {
    const run = this.queue.then(async () => {
      const result = await this.exclusive('ledger-verify', () => this.run(p, signal));
      if (!result)
        throw new DomainError(
          ErrorCodes.Conflict,
          'another crew-server instance is verifying this ledger right now; try again when it has finished',
          { retryable: true },
        );
      return result;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(p: CostVerify.Params, signal?: AbortSignal): Promise<CostVerify.Result> {
    const now = this.clock.now();
    // `to` is exclusive: by default it ends just after now, so a call recorded in this very millisecond is in range.
    const to = p.to === undefined ? now + 1 : instant('to', p.to);
    const from = p.from === undefined ? to - DEFAULT_VERIFY_DAYS * DAY_MS : instant('from', p.from);
    if (from > to)
      throw errors.invalidParams('from: must not be after "to"', {
        field: 'from',
        issues: [{ field: 'from', message: 'after "to"' }],
      });
    const thresholdUsd = p.threshold ?? DEFAULT_DRIFT_THRESHOLD_USD;
    const threshold = parseUsd(thresholdUsd);
    const scan = await this.scan(from, to);
    const billed = await this.lookUp(scan.checkable, signal);

    const drifts: Drift[] = [];
    const missing: MissingCall[] = [];
    const zeroCost: ZeroCostCall[] = [];
    let matched = 0;
    for (const [i, c] of scan.checkable.entries()) {
      const info = billed[i];
      const upstream = info === undefined ? undefined : parseUsd(info.totalCost);
      const { row } = c;
      if (upstream === undefined) missing.push(missingOf(c));
      else if (abs(upstream - c.ledgerPico) > threshold) drifts.push({ c, upstream, call: driftOf(c, upstream) });
      else matched++;
      if (hasTokens(row) && c.ledgerPico === 0n && upstream !== 0n)
        zeroCost.push(zeroOf(row, upstream === undefined ? null : usd(upstream)));
    }
    for (const row of scan.unchecked) if (hasTokens(row) && row.costPico === 0) zeroCost.push(zeroOf(row, null));
    zeroCost.sort((a, b) => a.id - b.id);

    const fixed = p.fix ? await this.fix(drifts) : 0;
    // After the fix: the ledger's totals as they now stand beside OpenRouter's.
    const key = await this.keyUsage(now, signal);
    const alerted = await this.alert(drifts, from, to, threshold);
    const result: CostVerify.Result = {
      from: iso(from),
      to: iso(to),
      thresholdUsd,
      checked: scan.checkable.length,
      matched,
      drifted: drifts.map((d) => d.call),
      missing,
      zeroCost,
      unchecked: scan.unchecked.length,
      fixed,
      alerted,
      ...key,
      verifiedAt: iso(this.clock.now()),
    };
    const driftPico = drifts.reduce((s, d) => s + d.upstream - d.c.ledgerPico, 0n);
    await this.remember(result, driftPico);
    return result;
  }

  /**
   * The range's rows, newest first from the ledger, and the corrections appended for them: a correction is dated
   * when it was made, after its row, so the scan runs from `from` to the end of the ledger, not only to `to`.
   */
  private async scan(from: number, to: number): Promise<Scan> {
    const corrections = new Map<number, bigint>();
    const inRange: LedgerRow[] = [];
    let checkable = 0;
    let before: number | undefined;
    for (;;) {
      const { rows } = await this.ledger.list({ from, limit: PAGE, ...(before === undefined ? {} : { before }) });
      for (const row of rows) {
        const corrected = correctedId(row);
        if (corrected !== undefined) {
          corrections.set(corrected, (corrections.get(corrected) ?? 0n) + BigInt(row.costPico));
          continue;
        }
        if (row.ts >= to) continue;
        inRange.push(row);
        if (row.generationId && ++checkable > MAX_VERIFY_ROWS)
          throw errors.invalidParams(
            `from: the range holds more than ${MAX_VERIFY_ROWS} calls to check (one GET /generation each); verify a shorter range at a time`,
            { field: 'from', issues: [{ field: 'from', message: `more than ${MAX_VERIFY_ROWS} calls in range` }] },
          );
      }
      if (rows.length < PAGE) break;
      before = rows[rows.length - 1]!.id;
    }
    inRange.reverse();
    return {
      checkable: inRange
        .filter((r) => r.generationId)
        .map((row) => ({ row, ledgerPico: BigInt(row.costPico) + (corrections.get(row.id) ?? 0n) })),
      unchecked: inRange.filter((r) => !r.generationId),
    };
  }

  /** GET /generation for every candidate, CONCURRENCY at a time; undefined where OpenRouter does not know the call. */
  private async lookUp(candidates: Candidate[], signal?: AbortSignal): Promise<(GenerationInfo | undefined)[]> {
    const out = new Array<GenerationInfo | undefined>(candidates.length);
    if (!candidates.length) return out;
    let next = 0;
    let failure: Error | undefined;
    const stop = new AbortController();
    const worker = async () => {
      while (failure === undefined && next < candidates.length) {
        const i = next++;
        try {
          out[i] = await this.lookUpOne(candidates[i]!.row, signal, stop.signal);
        } catch (e) {
          failure ??= e instanceof Error ? e : new Error(String(e));
          stop.abort();
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, candidates.length) }, worker));
    if (failure !== undefined) throw failure;
    return out;
  }

  private async lookUpOne(row: LedgerRow, caller: AbortSignal | undefined, stop: AbortSignal) {
    const timeout = AbortSignal.timeout(LOOKUP_TIMEOUT_MS);
    const signal = AbortSignal.any([timeout, stop, ...(caller ? [caller] : [])]);
    const id = row.generationId!;
    try {
      return await this.upstream.generationRetried(id, signal);
    } catch (e) {
      if (caller?.aborted) throw errors.cancelled();
      if (timeout.aborted)
        throw new DomainError(
          ErrorCodes.UpstreamTimeout,
          `OpenRouter did not answer GET /generation for ledger row ${row.id} in time; nothing was changed — try again`,
          { status: null, upstreamMessage: 'timeout', generationId: id, retryable: true },
        );
      if (e instanceof UpstreamError) {
        // A call would not be retried after a timeout (it may have been billed); a lookup may, and should be.
        const retryable = e.retryable || e.code === ErrorCodes.UpstreamTimeout;
        throw new DomainError(
          e.code,
          `the ledger could not be verified: GET /generation for ledger row ${row.id} failed (${e.message}); nothing was changed${retryable ? ' — try again' : ''}`,
          { ...e.info, generationId: id, retryable },
        );
      }
      throw e;
    }
  }

  private async keyUsage(
    now: number,
    signal?: AbortSignal,
  ): Promise<Pick<CostVerify.Result, 'keyUsage' | 'keyUsageUnavailable'>> {
    try {
      const info = await this.upstream.keyInfo(signal);
      return { keyUsage: await compareKeyUsage(this.ledger, info, now) };
    } catch (e) {
      if (signal?.aborted) throw errors.cancelled();
      return { keyUsageUnavailable: `GET /key could not be read with this key: ${(e as Error).message}` };
    }
  }

  /**
   * A correction row per drifted call (an estimate is settled instead, as reconciliation would). Each goes through
   * the budgets' settle, so it is stored durably and counted on every budget in scope now, exactly once.
   */
  private async fix(drifts: Drift[]): Promise<number> {
    let fixed = 0;
    for (const { c, upstream, call: d } of drifts) {
      const delta = upstream - c.ledgerPico;
      const scope = { crew: c.row.crew, agent: c.row.agent, model: c.row.model };
      if (c.row.estimated) {
        // Only an estimate not yet corrected: the row's own cost is then all the ledger holds for the call.
        const settled = await this.ledger.settleCost(c.row.id, Number(upstream), formatPico(upstream));
        if (settled) {
          await this.budgets.adjust(scope, delta, c.row.ts);
          d.fixedBy = c.row.id;
          fixed++;
        }
        continue;
      }
      const row: NewLedgerRow = {
        ts: this.clock.now(),
        model: c.row.model,
        crew: c.row.crew,
        agent: c.row.agent,
        tags: [`${CORRECTION_TAG_PREFIX}${c.row.id}`],
        promptTokens: 0,
        completionTokens: 0,
        cachedTokens: 0,
        reasoningTokens: 0,
        costPico: Number(delta),
        cost: formatPico(delta),
        estimated: false,
        generationId: c.row.generationId,
        latencyMs: 0,
        status: 'ok',
        stream: false,
      };
      d.fixedBy = (await this.budgets.settle(null, scope, row)).id;
      fixed++;
    }
    if (fixed) this.log.info(`cost/verify: ${counted(fixed, 'correction')} made from OpenRouter's figures`);
    return fixed;
  }

  /** One alert per distinct finding (the same drift found again is not news; a new one is). */
  private async alert(drifts: Drift[], from: number, to: number, threshold: bigint): Promise<boolean> {
    // Fixed or not, the books disagreed; an estimate awaiting reconciliation is expected to.
    const real = drifts.filter((d) => !d.call.estimated);
    if (!real.length) return false;
    const ledger = real.reduce((s, d) => s + d.c.ledgerPico, 0n);
    const upstream = real.reduce((s, d) => s + d.upstream, 0n);
    const finding = createHash('sha256')
      .update(real.map((d) => `${d.c.row.id}:${d.upstream}`).join(','))
      .digest('hex')
      .slice(0, 16);
    try {
      const fired = await this.alerts.fire({
        // Not a budget: one pseudo-id for the ledger, as anomalies have theirs (forecast.ts).
        budgetId: 'ledger/drift',
        scope: 'global',
        kind: 'ledger_drift',
        threshold: null,
        // What OpenRouter billed stands in for the spend, what the ledger says for the limit.
        spentUsd: usd(upstream),
        limitUsd: usd(ledger),
        percentUsed: ledger > 0n ? Math.round(Number((upstream * 10_000n) / ledger)) / 100 : 0,
        periodStart: from,
        key: `ledger/drift|${finding}`,
        message:
          `${counted(real.length, 'call')} in the ledger between ${iso(from)} and ${iso(to)} differ from OpenRouter's ` +
          `books by more than ${usdText(threshold)}: the ledger says ${usdText(ledger)}, OpenRouter billed ` +
          `${usdText(upstream)}; crew cost verify --fix appends corrections`,
      });
      return fired !== undefined;
    } catch {
      // The store refused the write; AlertService has logged it, and the findings are still worth answering.
      return false;
    }
  }

  private async remember(r: CostVerify.Result, driftPico: bigint): Promise<void> {
    const summary: VerificationSummary = {
      verifiedAt: r.verifiedAt,
      from: r.from,
      to: r.to,
      thresholdUsd: r.thresholdUsd,
      checked: r.checked,
      matched: r.matched,
      drifted: r.drifted.length,
      missing: r.missing.length,
      zeroCost: r.zeroCost.length,
      fixed: r.fixed,
      driftUsd: usd(driftPico),
      keyUsage: r.keyUsage ?? null,
    };
    await this.settings.set({ ledgerVerification: summary });
  }
}

interface Drift {
  c: Candidate;
  upstream: bigint;
  call: DriftedCall;
}

function instant(field: 'from' | 'to', value: string): number {
  const t = Date.parse(value);
  if (Number.isNaN(t))
    throw errors.invalidParams(`${field}: "${value}" is not an ISO date or date-time`, {
      field,
      issues: [{ field, message: 'expected an ISO 8601 date or date-time' }],
    });
  return t;
}

const iso = (ms: number) => new Date(ms).toISOString();
const usd = (pico: bigint) => picoToUsd(pico);
const abs = (n: bigint) => (n < 0n ? -n : n);
const hasTokens = (r: LedgerRow) => r.promptTokens + r.completionTokens > 0;

/** The id of the row a correction corrects; undefined for any other row (a correction has no tokens of its own). */
function correctedId(row: LedgerRow): number | undefined {
  if (hasTokens(row)) return undefined;
  const tag = row.tags.find((t) => t.startsWith(CORRECTION_TAG_PREFIX));
  const id = tag === undefined ? NaN : Number(tag.slice(CORRECTION_TAG_PREFIX.length));
  return Number.isSafeInteger(id) && id > 0 ? id : undefined;
}

function driftOf(c: Candidate, upstream: bigint): DriftedCall {
  const { row } = c;
  return {
    id: row.id,
    generationId: row.generationId!,
    model: row.model,
    crew: row.crew,
    agent: row.agent,
    at: iso(row.ts),
    ledgerUsd: usd(c.ledgerPico),
    upstreamUsd: usd(upstream),
    differenceUsd: usd(upstream - c.ledgerPico),
    estimated: row.estimated,
    fixedBy: null,
  };
}

function missingOf(c: Candidate): MissingCall {
  const { row } = c;
  return {
    id: row.id,
    generationId: row.generationId!,
    model: row.model,
    at: iso(row.ts),
    ledgerUsd: usd(c.ledgerPico),
  };
}

function zeroOf(row: LedgerRow, upstreamUsd: number | null): ZeroCostCall {
  return {
    id: row.id,
    generationId: row.generationId,
    model: row.model,
    at: iso(row.ts),
    promptTokens: row.promptTokens,
    completionTokens: row.completionTokens,
    upstreamUsd,
  };
}
