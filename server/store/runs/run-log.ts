/**
 * Crew runs on disk: a record log (store/record-log.ts) in `<store>/runs`. A run is put whole each time it moves
 * on (started, each step, the end), so the log holds a few versions of a busy run until compaction keeps the last.
 * Runs are few next to ledger rows (one per task, not per call), so listing filters and sorts the live set.
 */
import { isFiniteNumber, isNonNegInt, isObject } from '../corrupt';
import { RecordLog, type RecordCodec, type RecordLogOptions } from '../record-log';
import type { RunFilter, RunRecord, RunRepository } from '../repositories';

const STATUSES = new Set(['running', 'completed', 'failed', 'cancelled', 'budget_exceeded']);
const STEP_STATUSES = new Set(['ok', 'error', 'cancelled', 'budget_exceeded']);
const PROCESSES = new Set(['sequential', 'manager']);
const isText = (v: unknown) => typeof v === 'string';
const isNullable = (v: unknown, check: (x: unknown) => boolean) => v === null || check(v);

/** The fields of a run (and of its steps) with their types; fields a later version adds are not refused. */
function isRun(r: unknown): r is RunRecord {
  if (!isObject(r)) return false;
  return (
    isText(r.id) &&
    isText(r.crewId) &&
    isText(r.crew) &&
    isText(r.task) &&
    PROCESSES.has(r.process as string) &&
    STATUSES.has(r.status as string) &&
    Array.isArray(r.steps) &&
    r.steps.every(isStep) &&
    isNullable(r.output, isText) &&
    isUsage(r.usage) &&
    isFiniteNumber(r.costUsd) &&
    isText(r.cost) &&
    isNullable(r.error, isRunError) &&
    isNullable(r.memoryId, isText) &&
    isText(r.startedAt) &&
    isNullable(r.finishedAt, isText)
  );
}

function isStep(s: unknown): boolean {
  if (!isObject(s)) return false;
  return (
    isNonNegInt(s.index) &&
    isText(s.agent) &&
    (s.role === 'lead' || s.role === 'member') &&
    isText(s.model) &&
    isText(s.instruction) &&
    isText(s.output) &&
    STEP_STATUSES.has(s.status as string) &&
    isNullable(s.error, isRunError) &&
    isUsage(s.usage) &&
    isFiniteNumber(s.costUsd) &&
    isText(s.cost) &&
    typeof s.costEstimated === 'boolean' &&
    isNullable(s.ledgerId, isNonNegInt) &&
    Array.isArray(s.memories) &&
    s.memories.every(
      (m) => isObject(m) && isText(m.id) && isFiniteNumber(m.tokens) && typeof m.influenced === 'boolean',
    ) &&
    isText(s.startedAt) &&
    isNullable(s.finishedAt, isText)
  );
}

const isUsage = (u: unknown) =>
  isObject(u) &&
  isNonNegInt(u.promptTokens) &&
  isNonNegInt(u.completionTokens) &&
  isNonNegInt(u.cachedTokens) &&
  isNonNegInt(u.reasoningTokens);

const isRunError = (e: unknown) => isObject(e) && Number.isInteger(e.code) && isText(e.message);

/** Shared with the PostgreSQL run table (store/postgres/runs.ts). */
export const runCodec: RecordCodec<RunRecord> = {
  what: 'run',
  is: isRun,
  // The service builds a fresh run object for every put; a clone keeps the log's copy its own.
  copy: (r) => Object.freeze(structuredClone(r)),
  freeze: (r) => Object.freeze(r),
};

/** The RunRepository behind JsonStore.runs (which puts one run at a time). */
export class FileRunRepository extends RecordLog<RunRecord> implements Omit<RunRepository, 'put'> {
  static async open(dir: string, opts: RecordLogOptions = {}): Promise<FileRunRepository> {
    const repo = new FileRunRepository(dir, runCodec, opts);
    await repo.load();
    return repo;
  }

  list(filter: RunFilter & { limit: number }): { runs: RunRecord[]; total: number } {
    return listRuns(this.all(), filter);
  }
}

/** Filters and sorts (newest first) a run collection: RunRepository.list over the records held in memory. */
export function listRuns(
  all: Iterable<RunRecord>,
  filter: RunFilter & { limit: number },
): { runs: RunRecord[]; total: number } {
  const from = filter.from === undefined ? undefined : new Date(filter.from).toISOString();
  const before = filter.before === undefined ? undefined : new Date(filter.before).toISOString();
  const name = filter.crewName?.trim().toLowerCase();
  const hits: RunRecord[] = [];
  for (const r of all) {
    if (filter.crewId !== undefined && r.crewId !== filter.crewId) continue;
    if (name !== undefined && r.crew.toLowerCase() !== name) continue;
    if (filter.status !== undefined && r.status !== filter.status) continue;
    if (from !== undefined && r.startedAt < from) continue;
    if (before !== undefined && r.startedAt >= before) continue;
    hits.push(r);
  }
  hits.sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : a.id < b.id ? 1 : -1));
  return { runs: hits.slice(0, filter.limit), total: hits.length };
}
