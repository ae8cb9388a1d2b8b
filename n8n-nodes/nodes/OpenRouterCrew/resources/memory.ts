import type { INodeProperties } from 'n8n-workflow';
import { MemoryAdd, MemoryDelete, MemoryGet, MemorySearch } from '../../shared/protocol.generated';
import type { MemoryKind } from '../../shared/protocol.generated';
import { collection, compact, isoTime, optionalString, requiredString, splitList } from '../../shared/params';
import { item, operation, type Operations } from './operation';

const show = (operation: string[]) => ({ show: { resource: ['memory'], operation } });

export const MEMORY_KIND_OPTIONS = [
  { name: 'Fact', value: 'fact' },
  { name: 'Insight', value: 'insight' },
  { name: 'Lesson', value: 'lesson' },
  { name: 'Note', value: 'note' },
  { name: 'Result', value: 'result' },
];

export const memoryDescription: INodeProperties[] = [
  {
    displayName: 'Operation',
    name: 'operation',
    type: 'options',
    noDataExpression: true,
    displayOptions: { show: { resource: ['memory'] } },
    options: [
      { name: 'Add', value: 'add', description: 'Add a memory to a crew', action: 'Add a memory' },
      { name: 'Delete', value: 'delete', description: 'Delete memories by ID', action: 'Delete memories' },
      { name: 'Get', value: 'get', description: 'Get one memory with its access figures', action: 'Get a memory' },
      {
        name: 'Search',
        value: 'search',
        description: "Rank a crew's memories for a query (relevance, recency, importance, use)",
        action: 'Search memories',
      },
    ],
    default: 'search',
  },

  // ── add ──
  {
    displayName: 'Crew',
    name: 'crew',
    type: 'string',
    required: true,
    default: '',
    placeholder: 'ops',
    description: 'Name of the crew the memory belongs to',
    displayOptions: show(['add']),
  },
  {
    displayName: 'Content',
    name: 'content',
    type: 'string',
    required: true,
    typeOptions: { rows: 4 },
    default: '',
    description: 'What to remember. Content the crew already has is reported as a duplicate, not stored twice.',
    displayOptions: show(['add']),
  },
  {
    displayName: 'Additional Fields',
    name: 'additionalFields',
    type: 'collection',
    placeholder: 'Add Field',
    default: {},
    displayOptions: show(['add']),
    options: [
      { displayName: 'Agent', name: 'agent', type: 'string', default: '', description: 'Agent the memory is about' },
      {
        displayName: 'Expires At',
        name: 'expiresAt',
        type: 'dateTime',
        default: '',
        description: 'After this time the memory is no longer retrieved',
      },
      {
        displayName: 'Importance',
        name: 'importance',
        type: 'number',
        typeOptions: { minValue: 0, maxValue: 1, numberPrecision: 2 },
        default: 0.5,
        description: 'From 0 to 1; weighs in ranking and retention',
      },
      {
        displayName: 'Kind',
        name: 'kind',
        type: 'options',
        options: MEMORY_KIND_OPTIONS,
        default: 'note',
      },
      {
        displayName: 'Pinned',
        name: 'pinned',
        type: 'boolean',
        default: false,
        description: 'Whether archiving policies leave the memory alone',
      },
      {
        displayName: 'Tags',
        name: 'tags',
        type: 'string',
        default: '',
        placeholder: 'database, performance',
        description: 'Comma-separated',
      },
    ],
  },

  // ── search ──
  {
    displayName: 'Query',
    name: 'query',
    type: 'string',
    required: true,
    default: '',
    placeholder: 'database index performance',
    description: 'What to look for',
    displayOptions: show(['search']),
  },
  {
    displayName: 'Limit',
    name: 'limit',
    type: 'number',
    typeOptions: { minValue: 1, maxValue: 1000 },
    default: 50,
    description: 'Max number of results to return',
    displayOptions: show(['search']),
  },
  {
    displayName: 'Filters',
    name: 'searchFilters',
    type: 'collection',
    placeholder: 'Add Filter',
    default: {},
    displayOptions: show(['search']),
    options: [
      { displayName: 'Agent', name: 'agent', type: 'string', default: '', description: 'Only memories of this agent' },
      { displayName: 'Crew', name: 'crew', type: 'string', default: '', description: 'Only memories of this crew' },
      {
        displayName: 'Kinds',
        name: 'kinds',
        type: 'multiOptions',
        options: MEMORY_KIND_OPTIONS,
        default: [],
        description: 'Only memories of these kinds',
      },
      {
        displayName: 'Tags',
        name: 'tags',
        type: 'string',
        default: '',
        description: 'Only memories with these tags (comma-separated)',
      },
    ],
  },

  // ── get ──
  {
    displayName: 'Memory ID',
    name: 'memoryId',
    type: 'string',
    required: true,
    default: '',
    displayOptions: show(['get']),
  },

  // ── delete ──
  {
    displayName: 'Memory IDs',
    name: 'memoryIds',
    type: 'string',
    required: true,
    default: '',
    description: 'Comma-separated; their vectors and access counters go with them',
    displayOptions: show(['delete']),
  },
];

export const memoryOperations: Operations = {
  add: operation<MemoryAdd.Params, MemoryAdd.Result>({
    method: MemoryAdd.method,
    params(ctx, i) {
      const extra = collection(ctx, 'additionalFields', i);
      return compact<MemoryAdd.Params>({
        crew: requiredString(ctx, 'crew', i),
        content: ctx.getNodeParameter('content', i) as string,
        agent: extra.agent as string | undefined,
        kind: extra.kind as MemoryKind | undefined,
        tags: splitList(extra.tags),
        importance: extra.importance as number | undefined,
        pinned: extra.pinned as boolean | undefined,
        expiresAt: isoTime(extra.expiresAt),
      });
    },
    output: (r) => item({ ...r.memory, created: r.created, duplicateOf: r.duplicateOf }),
  }),

  search: operation<MemorySearch.Params, MemorySearch.Result>({
    method: MemorySearch.method,
    params(ctx, i) {
      const f = collection(ctx, 'searchFilters', i);
      return compact<MemorySearch.Params>({
        query: requiredString(ctx, 'query', i),
        limit: ctx.getNodeParameter('limit', i),
        crew: f.crew as string | undefined,
        agent: f.agent as string | undefined,
        kinds: f.kinds as MemoryKind[] | undefined,
        tags: splitList(f.tags),
      });
    },
    output: (r) => r.hits.map((h) => ({ ...h.memory, score: h.score, components: { ...h.components } })),
  }),

  get: operation<MemoryGet.Params, MemoryGet.Result>({
    method: MemoryGet.method,
    params: (ctx, i) => ({ id: requiredString(ctx, 'memoryId', i) }),
    output: (r) => item(r.memory),
  }),

  delete: operation<MemoryDelete.Params, MemoryDelete.Result>({
    method: MemoryDelete.method,
    params: (ctx, i) => ({ ids: splitList(optionalString(ctx, 'memoryIds', i)) }),
    output: (r) => item(r),
  }),
};
