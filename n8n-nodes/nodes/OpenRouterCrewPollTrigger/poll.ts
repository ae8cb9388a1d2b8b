/**
 * Polling for the events the webhook trigger receives, for an n8n that crew-server cannot reach. Each poll asks for
 * what happened after a watermark kept in the node's static data: budget alerts with `budget/alerts {since}`,
 * finished runs from `crew/runs` by their finish time. Watermarks are the server's own times (no clock skew), and the
 * ids seen at a watermark are kept so that an event at exactly that time is neither lost nor emitted twice. The
 * first poll of an active workflow only sets the watermarks; a manual test shows the latest matching event.
 */
import type { IDataObject, IPollFunctions } from 'n8n-workflow';
import { BudgetAlerts, CrewRuns } from '../shared/protocol.generated';
import type { BudgetAlert, Run } from '../shared/protocol.generated';
import { compact } from '../shared/params';
import { callRpc } from '../shared/rpc';
import {
  alertItem,
  alertWanted,
  runItem,
  runWanted,
  wantsAlerts,
  wantsRuns,
  type TriggerSettings,
} from '../OpenRouterCrewTrigger/events';

export interface PollState {
  alertsAfter?: string;
  alertIdsAt?: string[];
  runsAfter?: string;
  runIdsAt?: string[];
}

const ALERT_PAGE = 500;
const RUN_PAGE = 200;

interface Watermark {
  after?: string;
  idsAt?: string[];
}

/** Events newer than the watermark, oldest first, and the watermark after them. */
export function advance<T>(
  events: readonly T[],
  mark: Watermark,
  at: (e: T) => string,
  id: (e: T) => string,
): { fresh: T[]; mark: Required<Watermark> } {
  const seen = new Set(mark.idsAt ?? []);
  const after = mark.after ?? '';
  const fresh = events
    .filter((e) => at(e) > after || (at(e) === after && !seen.has(id(e))))
    .sort((a, b) => (at(a) < at(b) ? -1 : at(a) > at(b) ? 1 : 0));
  const last = fresh.at(-1);
  if (!last) return { fresh, mark: { after, idsAt: [...seen] } };
  const newest = at(last);
  const idsAt = fresh.filter((e) => at(e) === newest).map(id);
  return { fresh, mark: { after: newest, idsAt: newest === after ? [...seen, ...idsAt] : idsAt } };
}

/** One millisecond before `iso`: `since` is exclusive, and events at the watermark itself must be seen again. */
function justBefore(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t - 1).toISOString();
}

async function fetchAlerts(ctx: IPollFunctions, s: TriggerSettings, since?: string): Promise<BudgetAlert[]> {
  const params = compact<BudgetAlerts.Params>({ limit: ALERT_PAGE, budgetId: s.budgetId, since });
  return (await callRpc<BudgetAlerts.Result>(ctx, BudgetAlerts.method, params)).alerts;
}

async function fetchFinishedRuns(ctx: IPollFunctions, s: TriggerSettings): Promise<Run[]> {
  const params = compact<CrewRuns.Params>({ limit: RUN_PAGE, crew: s.crew });
  const { runs } = await callRpc<CrewRuns.Result>(ctx, CrewRuns.method, params);
  return runs.filter((r) => r.status !== 'running' && r.finishedAt !== null);
}

const alertAt = (a: BudgetAlert) => a.at;
const finishedAt = (r: Run) => r.finishedAt ?? r.startedAt;
const byId = (e: { id: string }) => e.id;

async function newAlerts(ctx: IPollFunctions, s: TriggerSettings, state: PollState, manual: boolean) {
  if (manual) {
    const latest = (await fetchAlerts(ctx, s)).find((a) => alertWanted(s, a));
    return latest ? [alertItem(latest, null)] : [];
  }
  const since = state.alertsAfter ? justBefore(state.alertsAfter) : undefined;
  const alerts = await fetchAlerts(ctx, s, since);
  const first = state.alertsAfter === undefined;
  const { fresh, mark } = advance(alerts, { after: state.alertsAfter, idsAt: state.alertIdsAt }, alertAt, byId);
  state.alertsAfter = mark.after;
  state.alertIdsAt = mark.idsAt;
  return first ? [] : fresh.filter((a) => alertWanted(s, a)).map((a) => alertItem(a, null));
}

async function newRuns(ctx: IPollFunctions, s: TriggerSettings, state: PollState, manual: boolean) {
  const runs = await fetchFinishedRuns(ctx, s);
  if (manual) {
    const latest = runs.find((r) => runWanted(s, r));
    return latest ? [runItem(latest, null)] : [];
  }
  const first = state.runsAfter === undefined;
  const { fresh, mark } = advance(runs, { after: state.runsAfter, idsAt: state.runIdsAt }, finishedAt, byId);
  state.runsAfter = mark.after;
  state.runIdsAt = mark.idsAt;
  return first ? [] : fresh.filter((r) => runWanted(s, r)).map((r) => runItem(r, null));
}

/** The items of one poll (alerts, then runs, each oldest first); empty when nothing new. */
export async function pollEvents(ctx: IPollFunctions, s: TriggerSettings): Promise<IDataObject[]> {
  const state = ctx.getWorkflowStaticData('node') as PollState;
  const manual = ctx.getMode() === 'manual';
  const out: IDataObject[] = [];
  if (wantsAlerts(s)) out.push(...(await newAlerts(ctx, s, state, manual)));
  if (wantsRuns(s)) out.push(...(await newRuns(ctx, s, state, manual)));
  return out;
}
