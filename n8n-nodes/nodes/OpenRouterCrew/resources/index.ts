import type { INodeProperties } from 'n8n-workflow';
import { analyticsDescription, analyticsOperations } from './analytics';
import { archiveDescription, archiveOperations } from './archive';
import { budgetDescription, budgetOperations } from './budget';
import { chatDescription, chatOperations } from './chat';
import { costDescription, costOperations } from './cost';
import { crewDescription, crewOperations } from './crew';
import { ledgerDescription, ledgerOperations } from './ledger';
import { memoryDescription, memoryOperations } from './memory';
import { modelDescription, modelOperations } from './model';
import type { Operations } from './operation';
import { runDescription, runOperations } from './run';

export const resourceProperty: INodeProperties = {
  displayName: 'Resource',
  name: 'resource',
  type: 'options',
  noDataExpression: true,
  options: [
    { name: 'Analytics', value: 'analytics', description: 'How crews use their memories' },
    { name: 'Archive', value: 'archive', description: 'Compressed, restorable archives of cold memories' },
    { name: 'Budget', value: 'budget', description: 'Spending limits enforced before each call, and their alerts' },
    { name: 'Chat', value: 'chat', description: 'A model call through the budgets' },
    { name: 'Cost', value: 'cost', description: 'Where the money went, where it will go, and what would save some' },
    { name: 'Crew', value: 'crew', description: 'Teams of agents that run tasks' },
    { name: 'Ledger', value: 'ledger', description: 'Every call recorded with its real cost' },
    { name: 'Memory', value: 'memory', description: "Crews' facts, notes and lessons" },
    { name: 'Model', value: 'model', description: "OpenRouter's models and their prices" },
    { name: 'Run', value: 'run', description: 'Crew runs: their steps, output and cost' },
  ],
  default: 'cost',
};

export const resourceProperties: INodeProperties[] = [
  resourceProperty,
  ...budgetDescription,
  ...costDescription,
  ...memoryDescription,
  ...archiveDescription,
  ...analyticsDescription,
  ...crewDescription,
  ...runDescription,
  ...chatDescription,
  ...ledgerDescription,
  ...modelDescription,
];

/** Every operation by resource and operation value. */
export const OPERATIONS: Record<string, Operations> = {
  analytics: analyticsOperations,
  archive: archiveOperations,
  budget: budgetOperations,
  chat: chatOperations,
  cost: costOperations,
  crew: crewOperations,
  ledger: ledgerOperations,
  memory: memoryOperations,
  model: modelOperations,
  run: runOperations,
};

/**
 * The node's subtitle: the chosen operation's action in words ("Get budget status"), looked up in a table made of the
 * operations' own `action` texts (an n8n subtitle is an expression over the parameters, so the table is inlined).
 */
export function subtitleExpression(properties: INodeProperties[]): string {
  const actions: Record<string, string> = {};
  for (const p of properties) {
    const resource = p.displayOptions?.show?.resource?.[0];
    if (p.name !== 'operation' || typeof resource !== 'string') continue;
    for (const o of (p.options ?? []) as { value?: unknown; action?: string }[])
      if (typeof o.value === 'string' && o.action) actions[`${resource}:${o.value}`] = o.action;
  }
  return `={{ (${JSON.stringify(actions)})[$parameter["resource"] + ":" + $parameter["operation"]] ?? $parameter["operation"] }}`;
}
