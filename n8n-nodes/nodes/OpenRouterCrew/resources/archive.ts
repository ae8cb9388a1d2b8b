import type { IExecuteFunctions, INodeProperties } from 'n8n-workflow';
import { ArchiveCreate, ArchiveDelete, ArchiveList, ArchiveRestore } from '../../shared/protocol.generated';
import type { ArchivePolicy, MemoryKind } from '../../shared/protocol.generated';
import { collection, compact, optionalString, requiredString, splitList } from '../../shared/params';
import { MEMORY_KIND_OPTIONS } from './memory';
import { item, items, operation, type Operations } from './operation';

const show = (operation: string[], extra: Record<string, string[]> = {}) => ({
  show: { resource: ['archive'], operation, ...extra },
});

export const archiveDescription: INodeProperties[] = [
  {
    displayName: 'Operation',
    name: 'operation',
    type: 'options',
    noDataExpression: true,
    displayOptions: { show: { resource: ['archive'] } },
    options: [
      {
        name: 'Archive',
        value: 'create',
        description:
          'Move memories into a compressed, checksummed archive, chosen by ID or by policy; a dry run only lists them',
        action: 'Archive memories',
      },
      {
        name: 'Delete',
        value: 'delete',
        description: 'Delete an archive file: memories not restored from it are gone',
        action: 'Delete an archive',
      },
      {
        name: 'List',
        value: 'list',
        description: 'Archives with their size, ratio and state',
        action: 'List archives',
      },
      {
        name: 'Restore',
        value: 'restore',
        description: 'Bring memories back from an archive, byte for byte',
        action: 'Restore an archive',
      },
    ],
    default: 'create',
  },

  // ── create ──
  {
    displayName: 'Select Memories By',
    name: 'select',
    type: 'options',
    options: [
      { name: 'Policy', value: 'policy', description: 'Age, retention score, kinds' },
      { name: 'IDs', value: 'ids' },
    ],
    default: 'policy',
    displayOptions: show(['create']),
  },
  {
    displayName: 'Memory IDs',
    name: 'memoryIds',
    type: 'string',
    required: true,
    default: '',
    description: 'Comma-separated IDs of live memories',
    displayOptions: show(['create'], { select: ['ids'] }),
  },
  {
    displayName: 'Crew',
    name: 'crew',
    type: 'string',
    default: '',
    description: 'Only memories of this crew; empty: every crew',
    displayOptions: show(['create'], { select: ['policy'] }),
  },
  {
    displayName: 'Inactive For (Days)',
    name: 'olderThanDays',
    type: 'number',
    typeOptions: { minValue: 0 },
    default: 30,
    description:
      'Memories not created, updated or accessed for at least this many days (0: any age, e.g. with Below Retention Score)',
    displayOptions: show(['create'], { select: ['policy'] }),
  },
  {
    displayName: 'Policy Options',
    name: 'policyOptions',
    type: 'collection',
    placeholder: 'Add Option',
    default: {},
    displayOptions: show(['create'], { select: ['policy'] }),
    options: [
      {
        displayName: 'Below Retention Score',
        name: 'belowScore',
        type: 'number',
        typeOptions: { minValue: 0, maxValue: 1, numberPrecision: 2 },
        default: 0.2,
        description: 'Only memories whose retention score (recency, importance, use; 0 to 1) is below this',
      },
      {
        displayName: 'Include Pinned',
        name: 'includePinned',
        type: 'boolean',
        default: false,
        description: 'Whether pinned memories may be archived too',
      },
      {
        displayName: 'Kinds',
        name: 'kinds',
        type: 'multiOptions',
        options: MEMORY_KIND_OPTIONS,
        default: [],
        description: 'Only memories of these kinds',
      },
      {
        displayName: 'Most Memories',
        name: 'maxMemories',
        type: 'number',
        typeOptions: { minValue: 1 },
        default: 10000,
        description: 'At most this many, the least recently active first; the rest wait for the next run',
      },
    ],
  },
  {
    displayName: 'Dry Run',
    name: 'dryRun',
    type: 'boolean',
    default: false,
    description: 'Whether to only list what would be archived, changing nothing',
    displayOptions: show(['create']),
  },

  // ── restore / delete ──
  {
    displayName: 'Archive ID',
    name: 'archiveId',
    type: 'string',
    required: true,
    default: '',
    displayOptions: show(['restore', 'delete']),
  },
  {
    displayName: 'Memory IDs',
    name: 'restoreIds',
    type: 'string',
    default: '',
    description: 'Only these memories (comma-separated); empty: every memory of the archive not restored yet',
    displayOptions: show(['restore']),
  },

  // ── list ──
  {
    displayName: 'Crew',
    name: 'listCrew',
    type: 'string',
    default: '',
    description: 'Only archives holding memories of this crew',
    displayOptions: show(['list']),
  },
];

function policyFrom(ctx: IExecuteFunctions, i: number): ArchivePolicy {
  const o = collection(ctx, 'policyOptions', i);
  return compact<ArchivePolicy>({
    crew: optionalString(ctx, 'crew', i),
    olderThanDays: ctx.getNodeParameter('olderThanDays', i) as number,
    belowScore: o.belowScore as number | undefined,
    kinds: o.kinds as MemoryKind[] | undefined,
    includePinned: o.includePinned as boolean | undefined,
    limit: o.maxMemories as number | undefined,
  });
}

export const archiveOperations: Operations = {
  create: operation<ArchiveCreate.Params, ArchiveCreate.Result>({
    method: ArchiveCreate.method,
    params(ctx, i) {
      const dryRun = ctx.getNodeParameter('dryRun', i) as boolean;
      if (ctx.getNodeParameter('select', i) === 'ids')
        return { ids: splitList(requiredString(ctx, 'memoryIds', i)), dryRun };
      return { policy: policyFrom(ctx, i), dryRun };
    },
    output: (r) => item(r),
    // Archiving thousands of memories writes, reads back and verifies a file before anything is removed.
    timeoutMs: () => 10 * 60_000,
  }),

  restore: operation<ArchiveRestore.Params, ArchiveRestore.Result>({
    method: ArchiveRestore.method,
    params(ctx, i) {
      const ids = splitList(optionalString(ctx, 'restoreIds', i));
      return compact<ArchiveRestore.Params>({ archiveId: requiredString(ctx, 'archiveId', i), ids });
    },
    output: (r) => item(r),
    timeoutMs: () => 10 * 60_000,
  }),

  list: operation<ArchiveList.Params, ArchiveList.Result>({
    method: ArchiveList.method,
    params: (ctx, i) => compact<ArchiveList.Params>({ crew: optionalString(ctx, 'listCrew', i) }),
    output: (r) => items(r.archives),
  }),

  delete: operation<ArchiveDelete.Params, ArchiveDelete.Result>({
    method: ArchiveDelete.method,
    params: (ctx, i) => ({ id: requiredString(ctx, 'archiveId', i) }),
    output: (r) => item(r),
  }),
};
