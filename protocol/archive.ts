/**
 * Memory archives (issue 3): one namespace per method, as in methods.ts. An archive is one compressed, checksummed
 * file of memories (content, metadata, history and access counters, byte for byte) plus an index entry; archiving
 * removes the live memories only once the file is on disk and has been read back and verified, and restoring
 * verifies the whole file before anything changes. Times are ISO 8601 strings.
 *
 * `ARCHIVE_METHODS` is spread into `METHODS`, and `ArchiveErrorCodes` into `ErrorCodes`, so the router, the audit
 * log and the contract snapshot see them.
 */
import { RequestType } from 'vscode-jsonrpc';
import type { WithProgress } from './methods';
import type { MemoryKind } from './types';

export const ArchiveErrorCodes = {
  /** The archive file is missing or damaged; `data` is ArchiveInvalidData. Nothing was changed. */
  ArchiveInvalid: 1205,
} as const;

export type ArchiveInvalidReason =
  | 'truncated'
  | 'bad-magic'
  | 'unknown-version'
  | 'checksum-mismatch'
  | 'corrupt'
  | 'count-mismatch'
  | 'unsupported-value'
  | 'not-found';

export interface ArchiveInvalidData {
  reason: ArchiveInvalidReason;
  archiveId: string;
  /** The checksum the index holds for the file (the file is named `<sha256>.crewarc`). */
  sha256: string;
}

/**
 * Which memories a policy archives: every condition given must hold. At least one of `olderThanDays` and
 * `belowScore` is required, so that a policy never means "everything in the crew".
 */
export interface ArchivePolicy {
  /** One crew; without it, every crew. */
  crew?: string;
  /** Last active (created, updated, accessed or restored) at least this many days ago. */
  olderThanDays?: number;
  /** Retention score (recency, importance and use; see RetentionScore) strictly below this, 0 … 1. */
  belowScore?: number;
  kinds?: MemoryKind[];
  /** Pinned memories are left alone unless this is true (default false). */
  includePinned?: boolean;
  /** At most this many memories per archive, the least recently active first (default 10,000; max 100,000). */
  limit?: number;
}

/**
 * The retention score a policy's `belowScore` compares with: how much a memory is worth keeping at hand, 0 … 1,
 * with no query involved. It is the memory ranking without relevance, its weights rescaled to sum to 1:
 *   0.5·recency + 0.375·importance + 0.125·frequency
 * recency = 0.5^(days since last active / 14); frequency = min(1, ln(1 + accesses) / ln(101)).
 */
export type RetentionScore = number;

export interface Archive {
  id: string;
  /** sha256 of the archive file, which is named `<sha256>.crewarc`; `sha256sum` checks it. */
  sha256: string;
  /** Memories in the archive. */
  count: number;
  crews: string[];
  /** UTF-8 bytes of the memories as JSON lines, and of the compressed file. */
  bytesIn: number;
  bytesOut: number;
  /** bytesIn / bytesOut. */
  ratio: number;
  /** The policy that selected the memories; null when they were chosen by id. */
  policy: ArchivePolicy | null;
  createdAt: string;
  /**
   * Ids of this archive that are live again: restored, or kept live because they were changed while being
   * archived. Restoring the whole archive brings back the others.
   */
  restoredIds: string[];
  /**
   * `pending`: written and verified, the live memories not yet all removed (finished at the next start, or before
   * the archive is next used); `complete`; `restored` when every memory of it is live again.
   */
  state: 'pending' | 'complete' | 'restored';
}

/** A memory a create would move, as a dry run lists it. */
export interface ArchiveCandidate {
  id: string;
  crew: string;
  kind: MemoryKind;
  pinned: boolean;
  /** The first 80 characters of the content, whitespace folded. */
  preview: string;
  createdAt: string;
  lastAccessedAt: string | null;
  /** The latest of created, updated, last accessed and restored: what `olderThanDays` measures from. */
  lastActiveAt: string;
  accessCount: number;
  retentionScore: RetentionScore;
  /** UTF-8 bytes of the memory as archived (record, history and counters as one JSON line). */
  bytes: number;
}

export interface ArchiveScheduleInfo {
  name: string;
  policy: ArchivePolicy;
  everyHours: number;
  createdAt: string;
  lastRunAt: string | null;
  nextRunAt: string;
  lastResult: {
    at: string;
    /** The archives the run wrote (one per `limit` memories); empty when nothing matched. */
    archiveIds: string[];
    archived: number;
    error: string | null;
  } | null;
}

// ── archive ────────────────────────────────────────────────────────────

export namespace ArchiveCreate {
  export const method = 'archive/create';
  /** Exactly one of `ids` and `policy`. Ids must all be live memories (NotFound names the first that is not). */
  export interface Params extends WithProgress {
    ids?: string[];
    policy?: ArchivePolicy;
    /** List exactly what would move, change nothing. */
    dryRun?: boolean;
  }
  export interface DryRunResult {
    dryRun: true;
    /** In the order they would be archived: least recently active first (ids: as given). */
    candidates: ArchiveCandidate[];
    totals: {
      count: number;
      bytes: number;
      crews: string[];
      /** Memories the policy matched; more than `count` when `limit` cut the list. */
      matched: number;
    };
  }
  export interface CreatedResult {
    dryRun: false;
    /** null when nothing matched (no archive is written). */
    archive: Archive | null;
    /** The memories moved into the archive. */
    ids: string[];
    /** Memories changed while they were being archived: their live version was kept (see Archive.restoredIds). */
    keptLive: string[];
    /** Memories the policy matched beyond `limit`, left for the next run. */
    remaining: number;
  }
  export type Result = DryRunResult | CreatedResult;
  /** `$/progress` value while an archive is written. */
  export interface Progress {
    phase: 'select' | 'encode' | 'write' | 'verify' | 'detach' | 'done';
    count: number;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

export namespace ArchiveRestore {
  export const method = 'archive/restore';
  /**
   * The whole archive (every memory not restored yet) or the chosen ids (NotFound names an id not in it). The file is
   * read and verified whole first: a damaged one is refused with ArchiveInvalid and nothing restored.
   */
  export interface Params extends WithProgress {
    archiveId: string;
    ids?: string[];
  }
  export interface Result {
    archive: Archive;
    /** Back as they were archived: content, metadata, history and access counters; no new history entry. */
    restored: string[];
    /** Already live (never removed, or restored before): left as they are. */
    skipped: string[];
    /** Restored memories whose content a live memory of the same crew also has (added again since). */
    duplicates: { id: string; duplicateOf: string }[];
  }
  /** `$/progress` value while an archive is restored. */
  export interface Progress {
    phase: 'verify' | 'attach' | 'done';
    count: number;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

export namespace ArchiveList {
  export const method = 'archive/list';
  export interface Params {
    /** Archives holding memories of this crew. */
    crew?: string;
  }
  export interface Result {
    /** Newest first. */
    archives: Archive[];
    schedules: ArchiveScheduleInfo[];
  }
  export const type = new RequestType<Params | undefined, Result, void>(method);
}

export namespace ArchiveDelete {
  export const method = 'archive/delete';
  /** Removes the index entry, then the file. Memories not restored from it are gone for good. */
  export interface Params {
    id: string;
  }
  export interface Result {
    deleted: true;
    /** Memories of the archive that were not live again. */
    unrestored: number;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

export namespace ArchiveSchedule {
  export const method = 'archive/schedule';
  /**
   * `{ policy, everyHours }` sets the named schedule (first run `everyHours` from now), `{ clear: true }` removes it,
   * `{}` only reads. The server runs due schedules itself; each run archives everything the policy matches, in
   * archives of at most `policy.limit` memories.
   */
  export interface Params {
    /** Default `default`. */
    name?: string;
    policy?: ArchivePolicy;
    /** 1 … 8760. */
    everyHours?: number;
    clear?: boolean;
  }
  export interface Result {
    schedules: ArchiveScheduleInfo[];
  }
  export const type = new RequestType<Params, Result, void>(method);
}

export const ARCHIVE_METHODS = {
  [ArchiveCreate.method]: { mutating: true },
  [ArchiveRestore.method]: { mutating: true },
  [ArchiveList.method]: { mutating: false },
  [ArchiveDelete.method]: { mutating: true },
  [ArchiveSchedule.method]: { mutating: true },
} as const satisfies Record<string, { mutating: boolean }>;
