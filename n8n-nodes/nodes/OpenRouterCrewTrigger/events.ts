/**
 * The trigger's events, shared by the webhook trigger and the polling one: which server events a choice subscribes
 * to, which deliveries it lets through, and the item a workflow starts with.
 */
import type { IDataObject, INodeProperties } from 'n8n-workflow';
import type {
  AlertKind,
  BudgetAlert,
  Run,
  RunStatus,
  WebhookDelivery,
  WebhookEvent,
} from '../shared/protocol.generated';

/** Every BudgetAlert kind is an event of its own; `runFinished` is a crew run that ended. */
export type TriggerEvent = AlertKind | 'runFinished';

const ALERT_KINDS: readonly AlertKind[] = [
  'threshold',
  'blocked',
  'over_limit',
  'downgraded',
  'forecast',
  'anomaly',
  'ledger_drift',
];
const RUN_STATUSES: readonly RunStatus[] = ['completed', 'failed', 'cancelled', 'budget_exceeded'];

export const triggerProperties: INodeProperties[] = [
  {
    displayName: 'Events',
    name: 'events',
    type: 'multiOptions',
    required: true,
    options: [
      {
        name: 'Budget Exceeded (Call Blocked)',
        value: 'blocked',
        description: 'A call was refused because it could have taken a budget over its limit',
      },
      {
        name: 'Budget Over Limit (Calls Continue)',
        value: 'over_limit',
        description: 'A budget whose action is Warn went over its limit; calls are not refused',
      },
      {
        name: 'Budget Threshold Crossed',
        value: 'threshold',
        description: "Spending crossed one of a budget's alert thresholds (e.g. 80%)",
      },
      {
        name: 'Crew Run Finished',
        value: 'runFinished',
        description: 'A crew run ended: completed, failed, cancelled or stopped by a budget',
      },
      {
        name: 'Forecast Alert',
        value: 'forecast',
        description: 'A budget is projected to run out before its period ends',
      },
      {
        name: "Ledger Differs From OpenRouter's Books",
        value: 'ledger_drift',
        description: 'A cost verification found calls whose recorded cost is not what OpenRouter billed',
      },
      {
        name: 'Model Downgraded',
        value: 'downgraded',
        description: "A call went to a budget's cheaper fallback model",
      },
      {
        name: 'Spend Anomaly',
        value: 'anomaly',
        description: 'A day or hour of spending far above its usual level',
      },
    ],
    default: ['threshold', 'blocked', 'over_limit'],
  },
  {
    displayName: 'Options',
    name: 'options',
    type: 'collection',
    placeholder: 'Add Option',
    default: {},
    options: [
      {
        displayName: 'Budget ID',
        name: 'budgetId',
        type: 'string',
        default: '',
        description: 'Only alerts of this budget',
      },
      {
        displayName: 'Crew',
        name: 'crew',
        type: 'string',
        default: '',
        description: "Only this crew's runs, and alerts of budgets scoped to it",
      },
      {
        displayName: 'Run Statuses',
        name: 'runStatuses',
        type: 'multiOptions',
        options: [
          { name: 'Budget Exceeded', value: 'budget_exceeded' },
          { name: 'Cancelled', value: 'cancelled' },
          { name: 'Completed', value: 'completed' },
          { name: 'Failed', value: 'failed' },
        ],
        default: [],
        description: 'Only finished runs with one of these statuses; none chosen: every status',
      },
    ],
  },
];

export interface TriggerSettings {
  events: TriggerEvent[];
  budgetId?: string;
  crew?: string;
  runStatuses: RunStatus[];
}

/** The node's parameters as settings (unknown values dropped, so an old workflow cannot subscribe to nonsense). */
export function triggerSettings(events: unknown, options: IDataObject): TriggerSettings {
  const chosen = Array.isArray(events) ? events : [];
  const statuses = Array.isArray(options.runStatuses) ? options.runStatuses : [];
  const text = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : undefined);
  return {
    events: chosen.filter((e): e is TriggerEvent => e === 'runFinished' || ALERT_KINDS.includes(e as AlertKind)),
    budgetId: text(options.budgetId),
    crew: text(options.crew),
    runStatuses: statuses.filter((s): s is RunStatus => RUN_STATUSES.includes(s as RunStatus)),
  };
}

export function wantsAlerts(s: TriggerSettings): boolean {
  return s.events.some((e) => e !== 'runFinished');
}

export function wantsRuns(s: TriggerSettings): boolean {
  return s.events.includes('runFinished');
}

/** The server events to subscribe to. */
export function serverEvents(s: TriggerSettings): WebhookEvent[] {
  const out: WebhookEvent[] = [];
  if (wantsAlerts(s)) out.push('budget.alert');
  if (wantsRuns(s)) out.push('run.finished');
  return out;
}

/** The server filters by budget and crew; the kinds and statuses chosen are filtered here. */
export function alertWanted(s: TriggerSettings, alert: BudgetAlert): boolean {
  return s.events.includes(alert.kind) && (s.budgetId === undefined || alert.budgetId === s.budgetId);
}

export function runWanted(s: TriggerSettings, run: Run): boolean {
  if (!wantsRuns(s) || run.status === 'running') return false;
  if (s.crew !== undefined && run.crew.toLowerCase() !== s.crew.toLowerCase() && run.crewId !== s.crew) return false;
  return s.runStatuses.length === 0 || s.runStatuses.includes(run.status);
}

/** What a workflow starts with: the alert or the run, with the event and where it came from. */
export function alertItem(alert: BudgetAlert, deliveryId: string | null): IDataObject {
  return { event: 'budget.alert', deliveryId, ...alert };
}

export function runItem(run: Run, deliveryId: string | null): IDataObject {
  return {
    event: 'run.finished',
    deliveryId,
    ...run,
    steps: run.steps.map((s) => ({ ...s, memories: s.memories.map((m) => ({ ...m })) })),
  };
}

/** The item a delivery starts the workflow with, or undefined when the settings do not want it. */
export function deliveryItem(s: TriggerSettings, delivery: WebhookDelivery): IDataObject | undefined {
  if (delivery.event === 'budget.alert')
    return alertWanted(s, delivery.data) ? alertItem(delivery.data, delivery.id) : undefined;
  if (delivery.event === 'run.finished')
    return runWanted(s, delivery.data) ? runItem(delivery.data, delivery.id) : undefined;
  return undefined;
}

/** The triggers' subtitle: the chosen events by their names ("Budget Threshold Crossed, Crew Run Finished"). */
export function eventsSubtitle(): string {
  const events = triggerProperties.find((p) => p.name === 'events');
  const names = Object.fromEntries(
    ((events?.options ?? []) as { name: string; value: string }[]).map((o) => [o.value, o.name]),
  );
  return `={{ ($parameter["events"] ?? []).map(e => (${JSON.stringify(names)})[e] ?? e).join(", ") }}`;
}
