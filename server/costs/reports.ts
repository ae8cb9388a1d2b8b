/** Cost reports: the ledger grouped by crew, agent, model or day over a time range, with totals; JSON or CSV. */
import type { CostReport } from '../../protocol';
import { errors } from '../rpc/errors';
import type { LedgerAggregate, LedgerFilter, LedgerRepository } from '../store/repositories';
import { picoToUsd } from './money';

export class ReportService {
  constructor(private readonly ledger: LedgerRepository) {}

  report(p: CostReport.Params): CostReport.Result {
    const by = p.by ?? 'model';
    const filter: LedgerFilter = {};
    if (p.from) filter.from = parseInstant('from', p.from);
    if (p.to) filter.to = parseInstant('to', p.to);
    if (filter.from !== undefined && filter.to !== undefined && filter.from > filter.to)
      throw errors.invalidParams('from: must not be after "to"', {
        field: 'from',
        issues: [{ field: 'from', message: 'after "to"' }],
      });
    if (p.crew) filter.crew = p.crew;
    if (p.agent) filter.agent = p.agent;
    if (p.model) filter.model = p.model;
    const groups = this.ledger.aggregate(filter, by);
    groups.sort(
      by === 'day'
        ? (a, b) => a.key.localeCompare(b.key)
        : (a, b) => (b.costPico > a.costPico ? 1 : b.costPico < a.costPico ? -1 : a.key.localeCompare(b.key)),
    );
    const total = groups.reduce(
      (t, g) => ({
        calls: t.calls + g.calls,
        promptTokens: t.promptTokens + g.promptTokens,
        completionTokens: t.completionTokens + g.completionTokens,
        costPico: t.costPico + g.costPico,
        estimatedPico: t.estimatedPico + g.estimatedPico,
        errors: t.errors + g.errors,
      }),
      { calls: 0, promptTokens: 0, completionTokens: 0, costPico: 0n, estimatedPico: 0n, errors: 0 },
    );
    const rows = groups.map((g) => ({ key: g.key, ...figures(g) }));
    const result: CostReport.Result = {
      by,
      from: filter.from === undefined ? null : new Date(filter.from).toISOString(),
      to: filter.to === undefined ? null : new Date(filter.to).toISOString(),
      rows,
      total: figures({ ...total, key: '' }),
    };
    if (p.format === 'csv') result.csv = toCsv(result);
    return result;
  }
}

function figures(g: Omit<LedgerAggregate, 'key'> & { key: string }): Omit<CostReport.Row, 'key'> {
  return {
    calls: g.calls,
    promptTokens: g.promptTokens,
    completionTokens: g.completionTokens,
    costUsd: picoToUsd(g.costPico),
    estimatedCostUsd: picoToUsd(g.estimatedPico),
    errors: g.errors,
  };
}

function parseInstant(field: string, value: string): number {
  const t = Date.parse(value);
  if (Number.isNaN(t))
    throw errors.invalidParams(`${field}: "${value}" is not an ISO date or date-time`, {
      field,
      issues: [{ field, message: 'expected an ISO 8601 date or date-time' }],
    });
  return t;
}

function csvCell(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) || /^[=+\-@]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(r: CostReport.Result): string {
  const header = [r.by, 'calls', 'prompt_tokens', 'completion_tokens', 'cost_usd', 'estimated_cost_usd', 'errors'];
  const line = (key: string, x: Omit<CostReport.Row, 'key'>) =>
    [key, x.calls, x.promptTokens, x.completionTokens, x.costUsd, x.estimatedCostUsd, x.errors].map(csvCell).join(',');
  return [header.join(','), ...r.rows.map((row) => line(row.key, row)), line('TOTAL', r.total)].join('\n') + '\n';
}
