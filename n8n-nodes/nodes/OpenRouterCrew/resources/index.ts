import type { INodeProperties } from 'n8n-workflow';
import { analyticsDescription, analyticsOperations } from './analytics';
import { archiveDescription, archiveOperations } from './archive';
import { budgetDescription, budgetOperations } from './budget';
import { chatDescription, chatOperations } from './chat';
import { costDescription, costOperations } from './cost';
import { crewDescription, crewOperations } from './crew';
import { memoryDescription, memoryOperations } from './memory';
import type { Operations } from './operation';

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
    { name: 'Memory', value: 'memory', description: "Crews' facts, notes and lessons" },
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
  ...chatDescription,
];

/** Every operation by resource and operation value. */
export const OPERATIONS: Record<string, Operations> = {
  analytics: analyticsOperations,
  archive: archiveOperations,
  budget: budgetOperations,
  chat: chatOperations,
  cost: costOperations,
  crew: crewOperations,
  memory: memoryOperations,
};
