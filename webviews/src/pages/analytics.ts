/**
 * Analytics, per crew: the topic map (clusters/list, computed on demand with clusters/compute) as a treemap, when
 * its memories are read (analytics/summary's hour × weekday), the insights (analytics/insights), and what to do:
 * memory recommendations (analytics/recommendations: archive, merge, pin) and savings recommendations
 * (cost/recommendations, applied with cost/applyRecommendation).
 */
import '../styles/base.css';
import type {
  AnalyticsRecommendations,
  ClustersList,
  CostRecommendations,
  CrewSummary,
  Recommendation,
} from '../../../protocol';
import { call } from '../api';
import { banner, button, card, confirmButton, empty, errorBanner, figure, fill, loading, select } from '../components';
import { h, replace } from '../dom';
import {
  counted,
  formatCount,
  formatDateTime,
  formatHour,
  formatShare,
  formatUsd,
  WEEKDAYS,
} from '../../../protocol/format';
import { isNotAvailable, startPage, type Page } from '../page';
import { palette } from '../theme';
import { chooseCrew, heatmap, topicItems, treemap } from '../view-models/analytics';

interface AnalyticsState {
  crew?: string;
}

const crewSlot = h('div', { class: 'toolbar' });
const topicsBody = h('div', { class: 'card-body' }, loading());
const heatBody = h('div', { class: 'card-body' }, loading());
const insightsBody = h('div', { class: 'card-body' }, loading());
const memRecsBody = h('div', { class: 'card-body' }, loading());
const costRecsBody = h('div', { class: 'card-body' }, loading());
let lastTopics: ClustersList.Result['results'][number] | undefined;
/** The crew shown: the saved choice while it exists, else the first. */
let currentCrew: string | undefined;
let computing = false;

startPage<AnalyticsState>({
  page: 'analytics',
  state: (saved) => (saved?.crew ? { crew: saved.crew } : {}),
  refreshOn: (method, params) => {
    if (method === 'memory/changed' || method === 'usage/recorded') return true;
    if (method === 'crew/runProgress') return (params as { event?: string }).event === 'finished';
    const domain = (params as { domain?: string }).domain ?? '';
    return (
      method === 'store/changed' && ['memory', 'clusters', 'archive', 'cost', 'crew', 'store', '*'].includes(domain)
    );
  },
  layout: (p) => {
    p.main.append(
      h('div', { class: 'wide' }, crewSlot),
      card('topics', 'Topics', topicsBody),
      card('heatmap', 'When memories are read (UTC)', heatBody),
      card('insights', 'Insights', insightsBody),
      card('memory-recommendations', 'Memory recommendations', memRecsBody),
      h('div', { class: 'wide' }, card('cost-recommendations', 'Savings recommendations', costRecsBody)),
    );
  },
  load,
  onTheme: (p) => drawTopics(p),
});

async function load(p: Page<AnalyticsState>): Promise<void> {
  let crews: CrewSummary[];
  try {
    crews = (await call(p.bridge, 'analytics/summary', {})).crews;
  } catch (e) {
    for (const body of [topicsBody, heatBody, insightsBody, memRecsBody])
      fill(body, 'error', errorBanner(e, 'analytics'));
    await loadCostRecs(p);
    return;
  }
  const names = crews.map((c) => c.crew);
  const crew = chooseCrew(names, p.state.crew);
  currentCrew = crew;
  replace(
    crewSlot,
    h('vscode-label', null, 'Crew'),
    crew
      ? select(
          names.map((n) => ({ value: n, label: n })),
          crew,
          (v) => {
            p.save({ crew: v });
            void p.reload();
          },
        )
      : h('span', { class: 'muted' }, 'no crew has memories yet'),
  );
  if (!crew) {
    for (const body of [topicsBody, heatBody, insightsBody, memRecsBody])
      fill(body, 'ready', empty('Nothing to analyse yet: add memories to a crew (crew memory add, or a crew run).'));
    await loadCostRecs(p);
    return;
  }
  const summary = crews.find((c) => c.crew === crew)!;
  drawHeatmap(summary);
  await Promise.all([loadTopics(p, crew), loadInsights(p, crew), loadMemoryRecs(p, crew), loadCostRecs(p)]);
}

// ── topics ──

async function loadTopics(p: Page<AnalyticsState>, crew: string): Promise<void> {
  try {
    lastTopics = (await call(p.bridge, 'clusters/list', { crew })).results.find((r) => r.crew === crew);
  } catch (e) {
    return fill(topicsBody, 'error', errorBanner(e, 'topics'));
  }
  drawTopics(p);
}

function drawTopics(p: Page<AnalyticsState>): void {
  const crew = currentCrew;
  if (!crew) return;
  const compute = button(lastTopics ? 'Compute again' : 'Compute topics', () => void computeTopics(p, crew), {
    icon: 'sparkle',
    secondary: Boolean(lastTopics),
    testid: 'compute-topics',
    disabled: computing,
  });
  const t = lastTopics && lastTopics.crew === crew ? lastTopics : undefined;
  if (!t || !t.clusters.length) {
    return fill(
      topicsBody,
      'ready',
      empty(t ? 'The memories did not form topics (too few, or all blank).' : `No topics computed for ${crew} yet.`),
      computing ? loading('Clustering…') : compute,
    );
  }
  const map = h('div', { class: 'treemap', role: 'list', 'aria-label': 'Topics by size' });
  const colors = palette();
  fill(
    topicsBody,
    'ready',
    h(
      'div',
      { class: 'toolbar' },
      h(
        'span',
        { class: 'muted' },
        `${counted(t.k, 'topic')} over ${counted(t.memories, 'memory', 'memories')}, ${formatDateTime(t.computedAt)}`,
      ),
      t.stale
        ? h('vscode-badge', { title: 'Memories changed since: compute again for an exact picture' }, 'stale')
        : null,
      computing ? loading('Clustering…') : compute,
    ),
    map,
  );
  const items = topicItems(t);
  const layout = () => layoutTiles(map, items, colors);
  layout();
  // Re-laid out when the width changes (a phone turned, a panel resized), so tiles stay close to square.
  tilesObserver?.disconnect();
  let width = map.clientWidth;
  tilesObserver = new ResizeObserver(() => {
    if (Math.abs(map.clientWidth - width) < 8) return;
    width = map.clientWidth;
    requestAnimationFrame(layout);
  });
  tilesObserver.observe(map);
}

let tilesObserver: ResizeObserver | undefined;

function layoutTiles(map: HTMLElement, items: ReturnType<typeof topicItems>, colors: string[]): void {
  // Laid out in the box's own pixels, placed in percentages.
  const box = { x: 0, y: 0, w: map.clientWidth || 400, h: map.clientHeight || 300 };
  replace(
    map,
    treemap(items, (i) => i.size, box).map((tile) =>
      h(
        'div',
        {
          class: 'tile',
          role: 'listitem',
          'data-topic': tile.item.id,
          title: `${tile.item.label}: ${counted(tile.item.size, 'memory', 'memories')} — ${tile.item.terms.join(', ')}`,
          'style:left': `${(tile.x / box.w) * 100}%`,
          'style:top': `${(tile.y / box.h) * 100}%`,
          'style:width': `${(tile.w / box.w) * 100}%`,
          'style:height': `${(tile.h / box.h) * 100}%`,
          'style:background': colors[tile.item.id % colors.length],
        },
        h('strong', null, tile.item.label),
        h('span', { 'data-value': tile.item.size }, counted(tile.item.size, 'memory', 'memories')),
      ),
    ),
  );
}

async function computeTopics(p: Page<AnalyticsState>, crew: string): Promise<void> {
  computing = true;
  drawTopics(p);
  try {
    const info = await call(p.bridge, 'clusters/compute', { crew });
    lastTopics = { ...info, stale: false };
  } catch (e) {
    computing = false;
    return fill(topicsBody, 'error', errorBanner(e, 'topics'));
  }
  computing = false;
  drawTopics(p);
}

// ── heatmap ──

function drawHeatmap(s: CrewSummary): void {
  const cells = heatmap(s);
  if (!cells) return fill(heatBody, 'ready', empty('This server does not report reads by hour and weekday.'));
  const grid = h('div', { class: 'heatmap', role: 'img', 'aria-label': 'Reads by weekday and hour' });
  grid.append(
    h('span'),
    ...Array.from({ length: 24 }, (_, hr) => h('span', { class: 'axis' }, hr % 3 === 0 ? formatHour(hr) : '')),
  );
  for (let d = 0; d < 7; d++) {
    grid.append(h('span', { class: 'axis axis-day' }, WEEKDAYS[d]));
    for (const c of cells.slice(d * 24, d * 24 + 24))
      grid.append(
        h('span', {
          class: 'cell',
          title: `${WEEKDAYS[c.weekday]} ${formatHour(c.hour)}:00: ${c.count} reads`,
          'data-count': c.count,
          'style:--level': c.level.toFixed(3),
        }),
      );
  }
  fill(
    heatBody,
    'ready',
    h(
      'div',
      { class: 'figures' },
      figure('accesses', 'Reads, last 30 days', formatCount(s.accessesInWindow), s.accessesInWindow),
      figure('memories', 'Live memories', formatCount(s.total), s.total),
      figure('never-read', 'Never read', formatShare(s.neverAccessedShare), s.neverAccessedShare),
    ),
    grid,
  );
}

// ── insights ──

async function loadInsights(p: Page<AnalyticsState>, crew: string): Promise<void> {
  try {
    const { insights } = await call(p.bridge, 'analytics/insights', { crew });
    if (!insights.length) return fill(insightsBody, 'ready', empty('No findings: the data supports none right now.'));
    fill(
      insightsBody,
      'ready',
      h(
        'ul',
        { class: 'list' },
        insights.map((i) =>
          h(
            'li',
            { 'data-insight': i.id },
            h('vscode-icon', { name: i.severity === 'warning' ? 'warning' : 'info' }),
            h('span', { class: 'grow' }, i.text),
          ),
        ),
      ),
    );
  } catch (e) {
    fill(insightsBody, 'error', errorBanner(e, 'insights'));
  }
}

// ── memory recommendations ──

async function loadMemoryRecs(p: Page<AnalyticsState>, crew: string): Promise<void> {
  let res: AnalyticsRecommendations.Result;
  try {
    res = await call(p.bridge, 'analytics/recommendations', { crew });
  } catch (e) {
    return fill(memRecsBody, 'error', errorBanner(e, 'memory recommendations'));
  }
  if (!res.recommendations.length) return fill(memRecsBody, 'ready', empty('Nothing to archive, merge or pin.'));
  fill(
    memRecsBody,
    'ready',
    h(
      'ul',
      { class: 'list' },
      res.recommendations.map((r) =>
        h(
          'li',
          { 'data-recommendation': r.id },
          h('vscode-icon', { name: r.kind === 'archive' ? 'archive' : r.kind === 'merge' ? 'merge' : 'pinned' }),
          h(
            'div',
            { class: 'grow' },
            h('div', null, r.reason),
            h(
              'div',
              { class: 'muted' },
              `${r.kind} · ${r.memoryIds.length} memor${r.memoryIds.length === 1 ? 'y' : 'ies'}`,
              r.tokensSaved ? ` · saves ${formatCount(r.tokensSaved)} context tokens` : '',
            ),
          ),
          h(
            'span',
            { class: 'actions' },
            p.bridge.host === 'vscode'
              ? button(
                  'Open',
                  () => p.bridge.command('openrouterCrew.openMemory', [{ id: r.memoryIds[0], crew: r.crew }]),
                  {
                    secondary: true,
                    icon: 'go-to-file',
                  },
                )
              : null,
            confirmButton(
              applyLabel(r),
              `${applyLabel(r)} ${r.memoryIds.length === 1 ? 'it' : 'them'}?`,
              () => applyMemoryRec(p, r),
              {
                testid: 'apply-memory',
              },
            ),
          ),
        ),
      ),
    ),
  );
}

function applyLabel(r: Recommendation): string {
  return r.kind === 'archive' ? 'Archive' : r.kind === 'merge' ? 'Merge' : 'Pin';
}

async function applyMemoryRec(p: Page<AnalyticsState>, r: Recommendation): Promise<void> {
  try {
    if (r.kind === 'archive') await call(p.bridge, 'archive/create', { ids: r.memoryIds });
    else if (r.kind === 'merge' && r.merge) await call(p.bridge, 'memory/merge', r.merge);
    else if (r.kind === 'pin')
      await Promise.all(r.memoryIds.map((id) => call(p.bridge, 'memory/update', { id, pinned: true })));
  } catch (e) {
    fill(memRecsBody, 'error', errorBanner(e, 'the change'));
    return;
  }
  await p.reload();
}

// ── savings recommendations ──

async function loadCostRecs(p: Page<AnalyticsState>): Promise<void> {
  let res: CostRecommendations.Result;
  try {
    res = await call(p.bridge, 'cost/recommendations', {});
  } catch (e) {
    if (isNotAvailable(e))
      return fill(costRecsBody, 'ready', banner('info', 'This server does not offer savings recommendations yet.'));
    return fill(costRecsBody, 'error', errorBanner(e, 'savings recommendations'));
  }
  if (!res.recommendations.length)
    return fill(
      costRecsBody,
      'ready',
      figure(
        'savings',
        `Possible savings, last ${res.windowDays} days`,
        formatUsd(res.totalSavingsUsd),
        res.totalSavingsUsd,
      ),
      empty('No savings found over this window.'),
    );
  fill(
    costRecsBody,
    'ready',
    figure(
      'savings',
      `Possible savings, last ${res.windowDays} days`,
      formatUsd(res.totalSavingsUsd),
      res.totalSavingsUsd,
    ),
    h(
      'ul',
      { class: 'list' },
      res.recommendations.map((r) =>
        h(
          'li',
          { 'data-recommendation': r.id },
          h('vscode-icon', { name: 'lightbulb' }),
          h(
            'div',
            { class: 'grow' },
            h('div', null, h('strong', null, r.title)),
            h('div', { class: 'muted' }, r.detail),
          ),
          h('span', { class: 'num', 'data-value': r.savingsUsd }, `saves ${formatUsd(r.savingsUsd)}`),
          r.notApplicable
            ? h('span', { class: 'muted', title: r.notApplicable }, 'apply by hand')
            : confirmButton('Apply', `Apply "${r.title}"?`, () => applyCostRec(p, r.id, res.windowDays), {
                testid: 'apply-cost',
              }),
        ),
      ),
    ),
  );
}

async function applyCostRec(p: Page<AnalyticsState>, id: string, windowDays: number): Promise<void> {
  try {
    await call(p.bridge, 'cost/applyRecommendation', { id, windowDays });
  } catch (e) {
    fill(costRecsBody, 'error', errorBanner(e, 'the recommendation'));
    return;
  }
  await p.reload();
}
