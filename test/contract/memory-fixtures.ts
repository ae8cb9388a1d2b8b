/**
 * What the memory contract suites share: the backend's memory repositories (the local store's members, or the
 * PostgreSQL ones opened on the backend's database), opened and closed around a suite's cases, and test records.
 */
import type { Run } from '../../protocol/runs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { FileArchivePayloads } from '../../server/store/archive-payloads';
import { openPgMemoryStores } from '../../server/store/postgres/memory-store';
import type {
  AccessRepository,
  ArchiveIndexRepository,
  ArchivePayloadRepository,
  MemoryRecord,
  MemoryRepository,
  RunRepository,
  VectorRepository,
} from '../../server/store/repositories';
import { quietLog, type Backend } from './backends';

export interface Repos {
  memories: MemoryRepository;
  vectors: VectorRepository;
  access: AccessRepository;
  archives: ArchiveIndexRepository;
  payloads: ArchivePayloadRepository;
  runs: RunRepository;
}

interface Opened {
  repos: Repos;
  close(): Promise<void>;
}

/** The backend's memory repositories (PostgreSQL: opened as instance `instance`, on `db` when given). */
export async function openRepos(
  backend: Backend,
  instance = 'instance-a',
  db = backend.kind === 'postgres' ? backend.db : undefined,
): Promise<Opened> {
  if (backend.kind === 'local') {
    const s = backend.store;
    return {
      repos: {
        memories: s.memories,
        vectors: s.vectors,
        access: s.access,
        archives: s.archives,
        payloads: new FileArchivePayloads(path.join(s.dir, 'archives')),
        runs: s.runs,
      },
      close: async () => undefined,
    };
  }
  const pg = await openPgMemoryStores(db!, { instance, log: quietLog, access: { flushEveryMs: 20 } });
  return {
    repos: {
      memories: pg.memories,
      vectors: pg.vectors,
      access: pg.access,
      archives: pg.archives,
      payloads: pg.archivePayloads,
      runs: pg.runs,
    },
    close: () => pg.close(),
  };
}

/**
 * Declares the cases with the backend's repositories, opened before them and closed after them (in a nested
 * suite, so before the backend itself goes). `reopen()` closes and opens again, as a restart does.
 */
export function withRepos(get: () => Backend, fn: (r: () => Repos, reopen: () => Promise<void>) => void): void {
  describe('repositories', () => {
    let opened: Opened | undefined;
    before(async () => {
      opened = await openRepos(get());
    });
    after(async () => {
      await opened?.close();
    });
    const reopen = async () => {
      const b = get();
      await opened!.close();
      if (b.kind === 'local') await b.store.reload(path.join(b.dir, 'backups'));
      opened = await openRepos(b);
    };
    fn(() => opened!.repos, reopen);
  });
}

export const DAY = 86_400_000;
export const HOUR = 3_600_000;
export const T0 = Date.UTC(2026, 0, 10);

let seq = 0;
export function memory(crew: string, content: string, extra: Partial<MemoryRecord> = {}): MemoryRecord {
  const at = T0 + seq++;
  return {
    id: `m-${crew}-${seq}`,
    crew,
    agent: null,
    content,
    kind: 'note',
    tags: ['a', 'b'],
    importance: 0.1 + seq / 1000,
    pinned: false,
    expiresAt: null,
    createdAt: at,
    updatedAt: at,
    contentHash: createHash('sha256').update(content).digest('hex'),
    history: [{ version: 1, at: new Date(at).toISOString(), change: 'created', previous: {}, note: null }],
    ...extra,
  };
}

/** A Float32Array with exactly these bit patterns. */
export function bits(...words: number[]): Float32Array {
  return new Float32Array(new Uint32Array(words).buffer);
}
export const wordsOf = (v: Float32Array | undefined) => (v ? [...new Uint32Array(v.slice().buffer)] : undefined);

/** NaN with payloads (quiet and signalling), -0, +0, the smallest and largest denormals, ±Infinity, 1, -max. */
export const ODD_FLOATS = [
  0x7fc00001, 0xffc12345, 0x7f800001, 0x80000000, 0x00000000, 0x00000001, 0x807fffff, 0x7f800000, 0xff800000,
  0x3f800000, 0xff7fffff,
];

/** A run as the run service writes it (all fields, `running` unless `extra` says otherwise). */
export function run(id: string, crewId: string, startedAt: string, extra: Partial<Run> = {}): Run {
  return {
    id,
    crewId,
    crew: crewId.toUpperCase(),
    task: `task of ${id}`,
    process: 'sequential',
    status: 'running',
    steps: [],
    output: null,
    usage: { promptTokens: 0, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0 },
    costUsd: 0,
    cost: '0',
    error: null,
    memoryId: null,
    startedAt,
    finishedAt: null,
    ...extra,
  };
}
