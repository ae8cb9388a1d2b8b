import type { INodeProperties } from 'n8n-workflow';
import {
  MemoryAdd,
  MemoryContext,
  MemoryDelete,
  MemoryDuplicates,
  MemoryGet,
  MemoryList,
  MemoryMerge,
  MemorySearch,
  MemoryUpdate,
} from '../../shared/protocol.generated';
import type { MemoryKind } from '../../shared/protocol.generated';
import { collection, compact, isoTime, optionalString, requiredString, splitList } from '../../shared/params';
import { item, items, operation, type Operations } from './operation';

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
      {
        name: 'Build Context',
        value: 'context',
        description: "A crew's best memories for a query, packed into a token budget, ready to put in a prompt",
        action: 'Build a context from memories',
      },
      { name: 'Delete', value: 'delete', description: 'Delete memories by ID', action: 'Delete memories' },
      {
        name: 'Find Duplicates',
        value: 'duplicates',
        description: 'Sets of memories that say the same thing, each with the merge that would tidy it',
        action: 'Find duplicate memories',
      },
      { name: 'Get', value: 'get', description: 'Get one memory with its access figures', action: 'Get a memory' },
      {
        name: 'Get Many',
        value: 'list',
        description: 'List memories, newest first, by crew, agent, kind or tag',
        action: 'Get many memories',
      },
      {
        name: 'Merge',
        value: 'merge',
        description: 'Merge memories into one that is kept; the others are deleted',
        action: 'Merge memories',
      },
      {
        name: 'Search',
        value: 'search',
        description: "Rank a crew's memories for a query (relevance, recency, importance, use)",
        action: 'Search memories',
      },
      {
        name: 'Update',
        value: 'update',
        description: "Change a memory's content or details",
        action: 'Update a memory',
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

  // ── search, context ──
  {
    displayName: 'Crew',
    name: 'crew',
    type: 'string',
    required: true,
    default: '',
    placeholder: 'ops',
    description: 'Name of the crew whose memories to use',
    displayOptions: show(['search', 'context']),
  },
  {
    displayName: 'Query',
    name: 'query',
    type: 'string',
    required: true,
    default: '',
    placeholder: 'database index performance',
    description: 'What to look for',
    displayOptions: show(['search', 'context']),
  },
  {
    displayName: 'Max Tokens',
    name: 'maxTokens',
    type: 'number',
    required: true,
    typeOptions: { minValue: 1 },
    default: 800,
    description: 'Token budget the memories are packed into, best first',
    displayOptions: show(['context']),
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
    displayOptions: show(['search', 'context']),
    options: [
      { displayName: 'Agent', name: 'agent', type: 'string', default: '', description: 'Only memories of this agent' },
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

  // ── get, update ──
  {
    displayName: 'Memory ID',
    name: 'memoryId',
    type: 'string',
    required: true,
    default: '',
    displayOptions: show(['get', 'update']),
  },
  {
    displayName: 'Update Fields',
    name: 'updateFields',
    type: 'collection',
    placeholder: 'Add Field',
    default: {},
    displayOptions: show(['update']),
    options: [
      {
        displayName: 'Agent',
        name: 'agent',
        type: 'string',
        default: '',
        description: 'Agent the memory is about; empty: none',
      },
      { displayName: 'Content', name: 'content', type: 'string', typeOptions: { rows: 4 }, default: '' },
      {
        displayName: 'Expires At',
        name: 'expiresAt',
        type: 'dateTime',
        default: '',
        description: 'After this time the memory is no longer retrieved; empty: never',
      },
      {
        displayName: 'Importance',
        name: 'importance',
        type: 'number',
        typeOptions: { minValue: 0, maxValue: 1, numberPrecision: 2 },
        default: 0.5,
        description: 'From 0 to 1; weighs in ranking and retention',
      },
      { displayName: 'Kind', name: 'kind', type: 'options', options: MEMORY_KIND_OPTIONS, default: 'note' },
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
        description: 'Comma-separated; they replace the old tags',
      },
    ],
  },

  // ── list ──
  {
    displayName: 'Limit',
    name: 'limit',
    type: 'number',
    typeOptions: { minValue: 1, maxValue: 1000 },
    default: 50,
    description: 'Max number of results to return',
    displayOptions: show(['list']),
  },
  {
    displayName: 'Filters',
    name: 'listFilters',
    type: 'collection',
    placeholder: 'Add Filter',
    default: {},
    displayOptions: show(['list']),
    options: [
      { displayName: 'Agent', name: 'agent', type: 'string', default: '', description: 'Only memories of this agent' },
      { displayName: 'Crew', name: 'crew', type: 'string', default: '', description: 'Only memories of this crew' },
      {
        displayName: 'Kind',
        name: 'kind',
        type: 'options',
        options: MEMORY_KIND_OPTIONS,
        default: 'note',
        description: 'Only memories of this kind',
      },
      {
        displayName: 'Offset',
        name: 'offset',
        type: 'number',
        typeOptions: { minValue: 0 },
        default: 0,
        description: 'Skip this many memories first (for paging)',
      },
      { displayName: 'Tag', name: 'tag', type: 'string', default: '', description: 'Only memories with this tag' },
    ],
  },

  // ── duplicates ──
  {
    displayName: 'Options',
    name: 'duplicateOptions',
    type: 'collection',
    placeholder: 'Add Option',
    default: {},
    displayOptions: show(['duplicates']),
    options: [
      {
        displayName: 'Crew',
        name: 'crew',
        type: 'string',
        default: '',
        description: "Only this crew's memories (memories of different crews are never duplicates)",
      },
      {
        displayName: 'Similarity Threshold',
        name: 'threshold',
        type: 'number',
        typeOptions: { minValue: 0.01, maxValue: 1, numberPrecision: 2 },
        default: 0.92,
        description: 'Cosine similarity from which two memories count as duplicates',
      },
    ],
  },

  // ── merge ──
  {
    displayName: 'Keep Memory ID',
    name: 'keepId',
    type: 'string',
    required: true,
    default: '',
    description: 'The memory that stays, with the others merged into it',
    displayOptions: show(['merge']),
  },
  {
    displayName: 'Merge Memory IDs',
    name: 'mergeIds',
    type: 'string',
    required: true,
    default: '',
    description: 'Comma-separated memories of the same crew; deleted once merged',
    displayOptions: show(['merge']),
  },
  {
    displayName: 'Options',
    name: 'mergeOptions',
    type: 'collection',
    placeholder: 'Add Option',
    default: {},
    displayOptions: show(['merge']),
    options: [
      {
        displayName: 'Content',
        name: 'content',
        type: 'string',
        typeOptions: { rows: 4 },
        default: '',
        description: "The merged memory's content; empty: the kept memory's",
      },
      {
        displayName: 'Importance',
        name: 'importance',
        type: 'number',
        typeOptions: { minValue: 0, maxValue: 1, numberPrecision: 2 },
        default: 0.5,
        description: 'From 0 to 1; default: the highest of the set',
      },
      {
        displayName: 'Tags',
        name: 'tags',
        type: 'string',
        default: '',
        description: 'Comma-separated; default: every tag of the set',
      },
    ],
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
        // Workflows made before Crew was its own parameter kept it among the filters.
        crew: requiredString(ctx, 'crew', i) || (f.crew as string | undefined),
        agent: f.agent as string | undefined,
        kinds: f.kinds as MemoryKind[] | undefined,
        tags: splitList(f.tags),
      });
    },
    // Which embedder ranked the hits goes with each: scores of different embedders are not comparable.
    output: (r) =>
      r.hits.map((h) => ({
        ...h.memory,
        score: h.score,
        components: { ...h.components },
        embedderId: r.embedderId,
      })),
  }),

  context: operation<MemoryContext.Params, MemoryContext.Result>({
    method: MemoryContext.method,
    params(ctx, i) {
      const f = collection(ctx, 'searchFilters', i);
      return compact<MemoryContext.Params>({
        query: requiredString(ctx, 'query', i),
        crew: requiredString(ctx, 'crew', i),
        maxTokens: ctx.getNodeParameter('maxTokens', i) as number,
        agent: f.agent as string | undefined,
        kinds: f.kinds as MemoryKind[] | undefined,
        tags: splitList(f.tags),
      });
    },
    // `text` is the memories as a prompt takes them, best first; the list keeps each one's score and tokens.
    output: (r) =>
      item({
        text: r.memories.map((m) => m.memory.content).join('\n\n'),
        memories: r.memories.map((m) => ({ ...m.memory, score: m.score, tokens: m.tokens })),
        usedTokens: r.usedTokens,
        budgetTokens: r.budgetTokens,
      }),
  }),

  list: operation<MemoryList.Params, MemoryList.Result>({
    method: MemoryList.method,
    params(ctx, i) {
      const f = collection(ctx, 'listFilters', i);
      return compact<MemoryList.Params>({
        limit: ctx.getNodeParameter('limit', i),
        crew: f.crew as string | undefined,
        agent: f.agent as string | undefined,
        kind: f.kind as MemoryKind | undefined,
        tag: f.tag as string | undefined,
        offset: f.offset as number | undefined,
      });
    },
    output: (r) => items(r.memories),
  }),

  update: operation<MemoryUpdate.Params, MemoryUpdate.Result>({
    method: MemoryUpdate.method,
    params(ctx, i) {
      const u = collection(ctx, 'updateFields', i);
      // A field the user added but left empty clears it, where the server allows that (agent, expiry).
      const cleared = (name: string) => (name in u && (u[name] === '' || u[name] === null) ? null : undefined);
      const tags = 'tags' in u ? splitList(u.tags) : undefined;
      const params: MemoryUpdate.Params = compact<MemoryUpdate.Params>({
        id: requiredString(ctx, 'memoryId', i),
        content: u.content as string | undefined,
        kind: u.kind as MemoryKind | undefined,
        importance: u.importance as number | undefined,
        pinned: u.pinned as boolean | undefined,
        expiresAt: isoTime(u.expiresAt),
        agent: typeof u.agent === 'string' && u.agent.trim() ? u.agent.trim() : undefined,
      });
      if (tags) params.tags = tags;
      if (cleared('agent') === null) params.agent = null;
      if (cleared('expiresAt') === null) params.expiresAt = null;
      return params;
    },
    output: (r) => item(r.memory),
  }),

  duplicates: operation<MemoryDuplicates.Params, MemoryDuplicates.Result>({
    method: MemoryDuplicates.method,
    params(ctx, i) {
      const o = collection(ctx, 'duplicateOptions', i);
      return compact<MemoryDuplicates.Params>({
        crew: o.crew as string | undefined,
        threshold: o.threshold as number | undefined,
      });
    },
    output: (r) => items(r.sets.map((set) => ({ ...set, threshold: r.threshold }))),
    timeoutMs: () => 5 * 60_000,
  }),

  merge: operation<MemoryMerge.Params, MemoryMerge.Result>({
    method: MemoryMerge.method,
    params(ctx, i) {
      const o = collection(ctx, 'mergeOptions', i);
      return compact<MemoryMerge.Params>({
        keepId: requiredString(ctx, 'keepId', i),
        mergeIds: splitList(optionalString(ctx, 'mergeIds', i)),
        content: o.content as string | undefined,
        tags: splitList(o.tags),
        importance: o.importance as number | undefined,
      });
    },
    output: (r) => item({ ...r.memory, merged: r.merged, tokensSaved: r.tokensSaved }),
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
