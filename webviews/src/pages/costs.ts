/**
 * Costs: spend per day over the last 7/30/90 days stacked by model or agent (cost/report with `stack`), the top
 * spenders, a budget's forecast against its limit (cost/forecast), and when the ledger was last checked against
 * OpenRouter's books and what was found (cost/verification). Re-read on every recorded call.
 */
import '../styles/base.css';
import type { CostForecast, CostReport, CostVerification } from '../../../protocol';
import { call } from '../api';
import { drawForecast, drawStacked } from '../charts';
import { card, empty, errorBanner, figure, fill, loading, meter, select, table } from '../components';
import { h } from '../dom';
import { formatCount, formatDate, formatScope, formatUsd } from '../../../protocol/format';
import { PAGE_COMMANDS } from '../messages';
import { startPage, type Page } from '../page';
import { palette } from '../theme';
import {
  costsState,
  forecastChart,
  forecastVerdict,
  pickForecast,
  RANGES,
  reportParams,
  stackedChart,
  topSpenders,
  verificationView,
  type CostsState,
  type RangeDays,
  type StackBy,
} from '../view-models/costs';

const spendBody = h('div', { class: 'card-body' }, loading());
const spendCanvas = h('canvas', { role: 'img', 'aria-label': 'Spend per day' });
const topBody = h('div', { class: 'card-body' }, loading());
const forecastBody = h('div', { class: 'card-body' }, loading());
const forecastCanvas = h('canvas', { role: 'img', 'aria-label': 'Forecast against the limit' });
const topTitle = h('span');
const verificationBody = h('div', { class: 'card-body' }, loading());
const last: { report?: CostReport.Result; forecast?: CostForecast.Result; verification?: CostVerification.Result } = {};

startPage<CostsState>({
  page: 'costs',
  state: costsState,
  refreshOn: (method, params) =>
    method === 'usage/recorded' ||
    method === 'budget/alert' ||
    (method === 'store/changed' &&
      ['budget', 'cost', 'store', '*'].includes((params as { domain?: string }).domain ?? '')),
  layout,
  load,
  onTheme: draw,
});

function layout(p: Page<CostsState>): void {
  const controls = h(
    'div',
    { class: 'toolbar' },
    h('vscode-label', { for: 'range' }, 'Period'),
    Object.assign(
      select(
        RANGES.map((d) => ({ value: String(d), label: `Last ${d} days` })),
        String(p.state.days),
        (v) => {
          p.save({ days: Number(v) as RangeDays });
          void p.reload();
        },
      ),
      { id: 'range' },
    ),
    h(
      'vscode-radio-group',
      {
        'aria-label': 'Stack by',
        'data-testid': 'stack',
        'on:change': (e: Event) => {
          const v = (e.target as HTMLInputElement).value as StackBy;
          if (v !== p.state.stack) {
            p.save({ stack: v });
            void p.reload();
          }
        },
      },
      (['model', 'agent'] as const).map((v) =>
        h('vscode-radio', { name: 'stack', value: v, label: `By ${v}`, '.checked': p.state.stack === v }),
      ),
    ),
  );
  p.main.append(
    h('div', { class: 'wide' }, controls),
    h('div', { class: 'wide' }, card('spend', 'Spend over time', spendBody)),
    card('top', 'Top spenders', h('p', { class: 'card-sub' }, topTitle), topBody),
    card('forecast', 'Forecast against the limit', forecastBody),
    h('div', { class: 'wide' }, card('verification', "Checked against OpenRouter's books", verificationBody)),
  );
}

async function load(p: Page<CostsState>): Promise<void> {
  const [report, forecast, verification] = await Promise.allSettled([
    call(p.bridge, 'cost/report', reportParams(p.state, Date.now())),
    call(p.bridge, 'cost/forecast', {}),
    call(p.bridge, 'cost/verification', {}),
  ]);
  if (report.status === 'fulfilled') last.report = report.value;
  else {
    last.report = undefined;
    fill(spendBody, 'error', errorBanner(report.reason, 'the cost report'));
    fill(topBody, 'error', errorBanner(report.reason, 'the cost report'));
  }
  if (forecast.status === 'fulfilled') last.forecast = forecast.value;
  else {
    last.forecast = undefined;
    fill(forecastBody, 'error', errorBanner(forecast.reason, 'the forecast'));
  }
  if (verification.status === 'fulfilled') last.verification = verification.value;
  else {
    last.verification = undefined;
    fill(verificationBody, 'error', errorBanner(verification.reason, 'the last verification'));
  }
  draw(p);
}

function draw(p: Page<CostsState>): void {
  const { report, forecast } = last;
  if (report) {
    drawSpend(p, report);
    drawTop(p, report);
  }
  if (forecast) drawForecastCard(p, forecast);
  if (last.verification) drawVerification(last.verification);
}

function drawVerification(res: CostVerification.Result): void {
  const v = verificationView(res.last);
  fill(
    verificationBody,
    'ready',
    h(
      'p',
      { class: v.state === 'drift' ? 'verdict verdict-bad' : 'verdict', 'data-verification': v.state },
      v.headline,
    ),
    ...v.details.map((d) => h('p', { class: 'card-sub' }, d)),
  );
}

function drawSpend(p: Page<CostsState>, report: CostReport.Result): void {
  const t = report.total;
  const chart = h('div', { class: 'chart chart-tall' }, spendCanvas);
  fill(
    spendBody,
    'ready',
    h(
      'div',
      { class: 'figures' },
      figure('total', `Spent, last ${p.state.days} days`, formatUsd(t.costUsd), t.costUsd),
      figure('calls', 'Calls', formatCount(t.calls), t.calls),
      figure(
        'tokens',
        'Prompt / completion tokens',
        `${formatCount(t.promptTokens)} / ${formatCount(t.completionTokens)}`,
      ),
      t.estimatedCostUsd > 0
        ? figure(
            'estimated',
            'Of which estimated',
            formatUsd(t.estimatedCostUsd),
            t.estimatedCostUsd,
            'not yet reconciled',
          )
        : null,
    ),
    report.stacked && report.stacked.series.length ? chart : empty(`No calls in the last ${p.state.days} days.`),
  );
  if (report.stacked && report.stacked.series.length) drawStacked(spendCanvas, stackedChart(report.stacked, palette()));
}

function drawTop(p: Page<CostsState>, report: CostReport.Result): void {
  topTitle.textContent = `By ${p.state.stack}, last ${p.state.days} days`;
  const rows = topSpenders(report);
  if (!rows.length) return fill(topBody, 'ready', empty('Nobody has spent anything in this period.'));
  fill(
    topBody,
    'ready',
    table(
      [
        {
          key: 'key',
          label: p.state.stack === 'model' ? 'Model' : 'Agent',
          cell: (r) => h('span', { class: 'mono' }, r.key),
        },
        { key: 'calls', label: 'Calls', numeric: true, cell: (r) => formatCount(r.calls) },
        {
          key: 'cost',
          label: 'Spent',
          numeric: true,
          cell: (r) => h('span', { 'data-value': r.costUsd }, formatUsd(r.costUsd)),
        },
        { key: 'bar', label: 'Share', cell: (r) => meter(r.bar) },
      ],
      rows,
      (r) => ({ 'data-key': r.key }),
    ),
  );
}

function drawForecastCard(p: Page<CostsState>, res: CostForecast.Result): void {
  if (!res.forecasts.length)
    return fill(
      forecastBody,
      'ready',
      empty('No budgets yet: a forecast needs a limit to compare with.'),
      h(
        'a',
        {
          href: p.bridge.host === 'browser' ? 'budgets' : '#',
          'on:click': (e: Event) => {
            e.preventDefault();
            p.bridge.command(PAGE_COMMANDS.budgets);
          },
        },
        'Create a budget',
      ),
    );
  const f = pickForecast(res.forecasts, p.state.budgetId)!;
  const picker = select(
    res.forecasts.map((x) => ({
      value: x.budgetId,
      label: `${formatScope(x.scope)} · ${x.period} · ${formatUsd(x.limitUsd)}`,
    })),
    f.budgetId,
    (id) => {
      p.save({ budgetId: id });
      drawForecastCard(p, res);
    },
  );
  const chart = h('div', { class: 'chart' }, forecastCanvas);
  fill(
    forecastBody,
    'ready',
    h('div', { class: 'toolbar' }, h('vscode-label', null, 'Budget'), picker),
    h(
      'div',
      { class: 'figures' },
      figure('forecast-spent', 'Spent this period', formatUsd(f.spentUsd), f.spentUsd),
      figure(
        'forecast-projected',
        `Projected by ${formatDate(f.horizonEnd)}`,
        formatUsd(f.projectedUsd),
        f.projectedUsd,
        // A range of one amount (no spread in the history, or the period's end is now) says nothing.
        formatUsd(f.low) === formatUsd(f.high) ? undefined : `range ${formatUsd(f.low)} – ${formatUsd(f.high)}`,
      ),
      figure('forecast-limit', 'Limit', formatUsd(f.limitUsd), f.limitUsd),
    ),
    h('p', { class: f.willExceed ? 'verdict verdict-bad' : 'verdict' }, forecastVerdict(f, res.at)),
    chart,
    h('p', { class: 'card-sub' }, f.method),
  );
  drawForecast(forecastCanvas, forecastChart(f, res.at));
}
