/**
 * `crew archive archive|restore|list|delete|schedule`: move memories out of the live store into compressed,
 * checksummed archive files and back. The server selects, writes, verifies and restores; this file turns options
 * into params (ids, or an ArchivePolicy) and results into tables. Archive ids may be a unique prefix of ≥ 4
 * characters, resolved against `archive/list`; memory ids given to `--ids` when archiving resolve like every
 * memory id (MemoryIds). Restoring by `--ids` needs full memory ids: archived memories are not listed anywhere.
 */
import { InvalidArgumentError, type Command } from 'commander';
import {
  ArchiveCreate,
  ArchiveDelete,
  ArchiveList,
  ArchiveRestore,
  ArchiveSchedule,
  type Archive,
  type ArchiveCandidate,
  type ArchivePolicy,
  type ArchiveScheduleInfo,
  type MemoryKind,
} from '../../protocol';
import type { CrewClient } from '../client/connection';
import { withContext, type Context } from '../context';
import { QuietFailure, UsageError } from '../errors';
import { count, when, type Column } from '../output';
import { positiveInt } from '../parse';
import { example } from './help';
import { confirm, kindList, MemoryIds, plural, preview, requestWithProgress, tagList } from './memory';

const shortId = (id: string) => id.slice(0, 8);
const MIN_PREFIX = 4;
const FULL_MEMORY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// ── option parsers ──

function days(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new InvalidArgumentError('expected a number of days ≥ 0, e.g. 30');
  return n;
}

function belowScore(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 1)
    throw new InvalidArgumentError('expected a retention score above 0 and at most 1, e.g. 0.2');
  return n;
}

function hours(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 1 || n > 8760)
    throw new InvalidArgumentError('expected a number of hours from 1 to 8760, e.g. 24');
  return n;
}

function idList(value: string, previous: string[] | undefined): string[] {
  const ids = tagList(value);
  if (ids.length === 0) throw new InvalidArgumentError('expected one or more ids, comma-separated');
  return [...(previous ?? []), ...ids];
}

// ── ids ──

/**
 * Resolves archive ids given in full or as a unique prefix (≥ 4 characters) against `archive/list`, listed once per
 * command. A prefix matching nothing goes to the server as given, which refuses it as not found.
 */
export class ArchiveIds {
  private archives: Promise<Archive[]> | undefined;

  constructor(private readonly client: CrewClient) {}

  static check(idOrPrefix: string): void {
    if (idOrPrefix.trim().length < MIN_PREFIX)
      throw new UsageError(
        `archive id "${idOrPrefix}" is too short: give the full id or a prefix of at least ${MIN_PREFIX} characters`,
      );
  }

  async resolve(idOrPrefix: string): Promise<string> {
    ArchiveIds.check(idOrPrefix);
    const want = idOrPrefix.trim().toLowerCase();
    const archives = await (this.archives ??= this.client
      .request<ArchiveList.Result>(ArchiveList.method, {})
      .then((r) => r.archives));
    const ids = archives.map((a) => a.id.toLowerCase());
    if (ids.includes(want)) return want;
    const matches = ids.filter((id) => id.startsWith(want));
    if (matches.length > 1)
      throw new UsageError(
        `archive id "${idOrPrefix}" is ambiguous (${matches.length} archives): ${matches.slice(0, 5).join(', ')}${matches.length > 5 ? ', …' : ''}`,
      );
    return matches[0] ?? idOrPrefix;
  }
}

// ── rendering ──

/** 512 B, 1.5 KiB, 12.3 MiB. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

const ratio = (r: number) => `${r.toFixed(2)}×`;

/** `older than 30 d · score < 0.2 · kinds note · crew ops`; `by id` for archives chosen by id. */
export function describePolicy(p: ArchivePolicy | null): string {
  if (!p) return 'by id';
  const parts: string[] = [];
  if (p.crew) parts.push(`crew ${p.crew}`);
  if (p.olderThanDays !== undefined) parts.push(`older than ${p.olderThanDays} d`);
  if (p.belowScore !== undefined) parts.push(`score < ${p.belowScore}`);
  if (p.kinds?.length) parts.push(`kinds ${p.kinds.join(',')}`);
  if (p.includePinned) parts.push('pinned too');
  if (p.limit !== undefined) parts.push(`limit ${count(p.limit)}`);
  return parts.join(' · ');
}

function archiveColumns(ctx: Context): Column<Archive>[] {
  const list = ctx.out.format === 'list';
  return [
    { key: 'id', header: 'ID', text: (a) => (list ? a.id : shortId(a.id)) },
    { key: 'createdAt', header: 'CREATED', text: (a) => (list ? a.createdAt : when(a.createdAt)) },
    {
      key: 'state',
      header: 'STATE',
      paint: (a, c) => (a.state === 'pending' ? c.yellow : a.state === 'restored' ? c.dim : undefined),
    },
    {
      key: 'count',
      header: 'MEMORIES',
      align: 'right',
      text: (a) => count(a.count) + (a.restoredIds.length ? ` (${count(a.restoredIds.length)} live)` : ''),
    },
    { key: 'crews', header: 'CREWS' },
    { key: 'bytesIn', header: 'IN', align: 'right', text: (a) => (list ? String(a.bytesIn) : bytes(a.bytesIn)) },
    { key: 'bytesOut', header: 'OUT', align: 'right', text: (a) => (list ? String(a.bytesOut) : bytes(a.bytesOut)) },
    { key: 'ratio', header: 'RATIO', align: 'right', text: (a) => (list ? String(a.ratio) : ratio(a.ratio)) },
    { key: 'policy', header: 'SELECTED BY', text: (a) => describePolicy(a.policy) },
    ...(list ? [{ key: 'sha256', header: 'SHA256' }] : []),
  ];
}

function scheduleColumns(ctx: Context): Column<ArchiveScheduleInfo>[] {
  const list = ctx.out.format === 'list';
  const time = (iso: string | null) => (list ? (iso ?? '—') : when(iso));
  return [
    { key: 'name', header: 'SCHEDULE' },
    { key: 'everyHours', header: 'EVERY', align: 'right', text: (s) => `${s.everyHours} h` },
    { key: 'policy', header: 'POLICY', text: (s) => describePolicy(s.policy) },
    { key: 'nextRunAt', header: 'NEXT RUN', text: (s) => time(s.nextRunAt) },
    { key: 'lastRunAt', header: 'LAST RUN', text: (s) => time(s.lastRunAt) },
    {
      key: 'lastResult',
      header: 'LAST RESULT',
      text: (s) =>
        !s.lastResult
          ? '—'
          : s.lastResult.error
            ? `error: ${s.lastResult.error}`
            : `${plural(s.lastResult.archived)} in ${s.lastResult.archiveIds.length} archive(s)`,
      paint: (s, c) => (s.lastResult?.error ? c.red : undefined),
    },
  ];
}

function printSchedules(ctx: Context, schedules: ArchiveScheduleInfo[]): void {
  if (ctx.out.format === 'list') ctx.out.list(scheduleColumns(ctx), schedules);
  else ctx.out.table(scheduleColumns(ctx), schedules);
}

function candidateColumns(ctx: Context): Column<ArchiveCandidate>[] {
  const list = ctx.out.format === 'list';
  return [
    { key: 'id', header: 'ID', text: (m) => (list ? m.id : shortId(m.id)) },
    { key: 'crew', header: 'CREW' },
    { key: 'kind', header: 'KIND', text: (m) => m.kind + (m.pinned ? ' (pinned)' : '') },
    { key: 'lastActiveAt', header: 'LAST ACTIVE', text: (m) => (list ? m.lastActiveAt : when(m.lastActiveAt)) },
    { key: 'accessCount', header: 'ACCESSES', align: 'right', text: (m) => count(m.accessCount) },
    { key: 'retentionScore', header: 'SCORE', align: 'right', text: (m) => m.retentionScore.toFixed(3) },
    { key: 'bytes', header: 'BYTES', align: 'right', text: (m) => (list ? String(m.bytes) : bytes(m.bytes)) },
    { key: 'preview', header: 'CONTENT', text: (m) => (list ? m.preview : preview(m.preview, 50)) },
  ];
}

const phaseText: Record<string, string> = {
  select: 'selecting',
  encode: 'compressing',
  write: 'writing',
  verify: 'verifying',
  detach: 'removing from the live store',
  attach: 'putting back',
  done: 'done',
};

const renderArchiveProgress = (value: unknown): string | undefined => {
  const v = value as ArchiveCreate.Progress | ArchiveRestore.Progress;
  if (typeof v?.phase !== 'string') return undefined;
  return `${phaseText[v.phase] ?? v.phase} · ${plural(v.count)}…`;
};

// ── commands ──

interface CreateOptions {
  ids?: string[];
  olderThan?: number;
  belowScore?: number;
  kinds?: MemoryKind[];
  crew?: string;
  includePinned?: boolean;
  limit?: number;
  dryRun?: boolean;
}

interface PolicyOptions {
  olderThan?: number;
  belowScore?: number;
  kinds?: MemoryKind[];
  crew?: string;
  includePinned?: boolean;
  limit?: number;
}

/** The policy the options describe, or undefined when they describe none (crew alone is no policy). */
function policyOf(opts: PolicyOptions): ArchivePolicy | undefined {
  const p: ArchivePolicy = {};
  if (opts.olderThan !== undefined) p.olderThanDays = opts.olderThan;
  if (opts.belowScore !== undefined) p.belowScore = opts.belowScore;
  if (opts.kinds) p.kinds = opts.kinds;
  if (opts.includePinned) p.includePinned = true;
  if (opts.limit !== undefined) p.limit = opts.limit;
  if (Object.keys(p).length === 0) return undefined;
  if (p.olderThanDays === undefined && p.belowScore === undefined)
    throw new UsageError('a policy needs --older-than <days> or --below-score <s> (it never means "everything")');
  if (opts.crew) p.crew = opts.crew;
  return p;
}

const policyHelp = (cmd: Command): Command =>
  cmd
    .option(
      '--older-than <days>',
      'memories last active (created, updated, accessed) at least this many days ago',
      days,
    )
    .option(
      '--below-score <s>',
      'memories whose retention score (recency, importance, use) is below s, 0 … 1',
      belowScore,
    )
    .option('--kinds <k,…>', 'only these kinds, comma-separated (fact, insight, lesson, result, note)', kindList)
    .option('--include-pinned', 'pinned memories too (left alone by default)')
    .option('--limit <n>', 'at most n memories per archive, least recently active first', positiveInt);

export function registerArchive(program: Command): void {
  const archive = program
    .command('archive')
    .description('move memories that are not used into compressed archives, and bring them back')
    .addHelpText(
      'after',
      example(
        'crew archive archive --older-than 90 --below-score 0.2 --crew ops --dry-run',
        'crew archive list',
        'crew archive restore 9c41d2e0',
      ),
    );

  policyHelp(
    archive
      .command('archive')
      .alias('create')
      .description('archive memories by id or by a policy (they leave the live store; restore brings them back)')
      .option('--ids <a,b,…>', 'these memories (unique prefixes of 4+ characters are enough)', idList),
  )
    .option('--crew <id>', 'only this crew (with --ids: resolve prefixes within it)')
    .option('--dry-run', 'list exactly what would move, and the totals; change nothing')
    .addHelpText(
      'after',
      example(
        'crew archive archive --older-than 90 --crew ops --dry-run',
        'crew archive archive --older-than 30 --below-score 0.2 --kinds note,result',
        'crew archive archive --ids 3f2a9c1e,7b41d0aa',
      ),
    )
    .action(
      withContext(async (ctx, opts: CreateOptions) => {
        const policy = opts.ids ? undefined : policyOf(opts);
        if (opts.ids) {
          const extra = (['olderThan', 'belowScore', 'kinds', 'includePinned', 'limit'] as const).filter(
            (k) => opts[k] !== undefined,
          );
          if (extra.length)
            throw new UsageError('give either --ids or a policy (--older-than, --below-score, …), not both');
          MemoryIds.check(opts.ids);
        } else if (!policy)
          throw new UsageError(
            'say what to archive: --ids <a,b,…>, or a policy with --older-than and/or --below-score',
          );
        const client = await ctx.connect();
        const params: ArchiveCreate.Params = {};
        if (opts.ids) {
          const resolver = new MemoryIds(client, opts.crew);
          const ids: string[] = [];
          for (const arg of opts.ids) ids.push(await resolver.resolve(arg));
          params.ids = [...new Set(ids)];
        } else params.policy = policy;
        if (opts.dryRun) params.dryRun = true;
        const res = await requestWithProgress<ArchiveCreate.Result>(ctx, client, ArchiveCreate.method, params, {
          start: opts.dryRun ? 'selecting…' : 'archiving…',
          render: renderArchiveProgress,
        });
        if (ctx.out.json) return ctx.out.printJson(res);
        if (res.dryRun) return printDryRun(ctx, res);
        if (!res.archive) return ctx.out.line('nothing matched: no archive written');
        const a = res.archive;
        ctx.out.record(res, [
          ['archive', a.id],
          ['memories', count(a.count)],
          ['crews', a.crews.join(', ') || '—'],
          ['bytes in', ctx.out.format === 'list' ? String(a.bytesIn) : bytes(a.bytesIn)],
          ['bytes out', ctx.out.format === 'list' ? String(a.bytesOut) : bytes(a.bytesOut)],
          ['ratio', ratio(a.ratio)],
          ['sha256', a.sha256],
          ['state', a.state],
        ]);
        if (res.keptLive.length)
          ctx.out.note(
            ctx.out.ce.yellow(`${plural(res.keptLive.length)} changed while being archived and stayed live`),
          );
        if (res.remaining)
          ctx.out.note(`${plural(res.remaining)} more matched beyond --limit; run again to archive them`);
        if (ctx.out.format === 'table')
          ctx.out.note(ctx.out.ce.dim(`restore with: crew archive restore ${shortId(a.id)}`));
      }),
    );

  archive
    .command('restore')
    .description('bring archived memories back exactly as they were (all of them, or --ids)')
    .argument('<archiveId>', 'archive id (a unique prefix of 4+ characters is enough)')
    .option('--ids <a,b,…>', 'only these memories of the archive (full memory ids)', idList)
    .addHelpText('after', example('crew archive restore 9c41d2e0', 'crew archive restore 9c41d2e0 --ids <memory id>'))
    .action(
      withContext(async (ctx, archiveArg: string, opts: { ids?: string[] }) => {
        ArchiveIds.check(archiveArg);
        const partial = opts.ids?.find((id) => !FULL_MEMORY_ID.test(id));
        if (partial !== undefined)
          throw new UsageError(
            `--ids: "${partial}" is not a full memory id; archived memories cannot be looked up by prefix (crew --json archive list shows none either; the archive run's --json output has them)`,
          );
        const client = await ctx.connect();
        const archiveId = await new ArchiveIds(client).resolve(archiveArg);
        const params: ArchiveRestore.Params = { archiveId };
        if (opts.ids) params.ids = [...new Set(opts.ids.map((id) => id.toLowerCase()))];
        const res = await requestWithProgress<ArchiveRestore.Result>(ctx, client, ArchiveRestore.method, params, {
          start: 'restoring…',
          render: renderArchiveProgress,
        });
        if (ctx.out.json) return ctx.out.printJson(res);
        ctx.out.line(
          `restored ${plural(res.restored.length)} from archive ${res.archive.id} (now ${res.archive.state})`,
        );
        if (ctx.out.format === 'list') for (const id of res.restored) ctx.out.line(`restored: ${id}`);
        if (res.skipped.length) ctx.out.note(`${plural(res.skipped.length)} already live, left as they are`);
        for (const d of res.duplicates)
          ctx.out.note(
            ctx.out.ce.yellow(
              `memory ${d.id} has the same content as live memory ${d.duplicateOf} (see: crew memory duplicates)`,
            ),
          );
      }),
    );

  archive
    .command('list')
    .description('archives, newest first, and the archive schedules')
    .option('--crew <id>', 'only archives holding memories of this crew')
    .addHelpText('after', example('crew archive list --crew ops'))
    .action(
      withContext(async (ctx, opts: { crew?: string }) => {
        const client = await ctx.connect();
        const res = await client.request<ArchiveList.Result>(
          ArchiveList.method,
          (opts.crew ? { crew: opts.crew } : {}) satisfies ArchiveList.Params,
        );
        if (ctx.out.json) return ctx.out.printJson(res);
        if (res.archives.length === 0)
          ctx.out.note(
            `no archives${opts.crew ? ` with memories of crew ${opts.crew}` : ''} yet; make one with: crew archive archive --older-than <days> --dry-run`,
          );
        else ctx.out.records(res, archiveColumns(ctx), res.archives);
        if (res.schedules.length) {
          if (res.archives.length) ctx.out.line();
          printSchedules(ctx, res.schedules);
        }
      }),
    );

  archive
    .command('delete')
    .description('delete an archive for good (asks first on a terminal; --force to skip, required in scripts)')
    .argument('<archiveId>', 'archive id (a unique prefix of 4+ characters is enough)')
    .option('--force', 'delete without asking')
    .addHelpText('after', example('crew archive delete 9c41d2e0', 'crew archive delete --force 9c41d2e0'))
    .action(
      withContext(async (ctx, archiveArg: string, opts: { force?: boolean }) => {
        ArchiveIds.check(archiveArg);
        const ask = !opts.force;
        if (ask && process.stdin.isTTY !== true)
          throw new UsageError(
            `refusing to delete archive ${archiveArg} without confirmation (stdin is not a terminal); pass --force`,
          );
        const client = await ctx.connect();
        const id = await new ArchiveIds(client).resolve(archiveArg);
        if (ask) {
          const { archives } = await client.request<ArchiveList.Result>(ArchiveList.method, {});
          const a = archives.find((x) => x.id === id);
          if (a) {
            const gone = a.state === 'restored' ? 0 : a.count - a.restoredIds.length;
            ctx.out.note(
              `  ${shortId(a.id)}  ${when(a.createdAt)}  ${plural(a.count)} of ${a.crews.join(', ') || '—'}  ${bytes(a.bytesOut)}`,
            );
            if (gone) ctx.out.note(ctx.out.ce.yellow(`  ${plural(gone)} not restored would be gone for good`));
          }
          if (!(await confirm(`Delete archive ${shortId(id)}? [y/N] `))) throw new QuietFailure('nothing deleted');
        }
        const res = await client.request<ArchiveDelete.Result>(ArchiveDelete.method, {
          id,
        } satisfies ArchiveDelete.Params);
        if (ctx.out.json) return ctx.out.printJson({ ...res, id });
        ctx.out.line(
          `deleted archive ${id}` +
            (res.unrestored ? ` (${plural(res.unrestored)} that were not restored are gone)` : ''),
        );
      }),
    );

  policyHelp(
    archive
      .command('schedule')
      .description('archive by a policy every few hours (the server runs it); no options: show the schedules')
      .option('--name <name>', 'which schedule (default "default")'),
  )
    .option('--crew <id>', 'only memories of this crew')
    .option('--every-hours <h>', 'run every h hours, 1 … 8760 (the first run is h hours from now)', hours)
    .option('--clear', 'remove the schedule')
    .addHelpText(
      'after',
      example(
        'crew archive schedule --name nightly --older-than 90 --below-score 0.2 --every-hours 24',
        'crew archive schedule --name nightly --clear',
        'crew archive schedule',
      ),
    )
    .action(
      withContext(async (ctx, opts: PolicyOptions & { name?: string; everyHours?: number; clear?: boolean }) => {
        const policy = policyOf(opts);
        if (!policy && opts.crew) throw new UsageError('--crew needs a policy: --older-than and/or --below-score');
        const params: ArchiveSchedule.Params = {};
        if (opts.name) params.name = opts.name;
        if (opts.clear) {
          if (policy || opts.everyHours !== undefined)
            throw new UsageError('--clear goes alone (with --name): no policy options, no --every-hours');
          params.clear = true;
        } else if (policy || opts.everyHours !== undefined) {
          if (!policy) throw new UsageError('--every-hours needs a policy: --older-than and/or --below-score');
          if (opts.everyHours === undefined) throw new UsageError('a schedule needs --every-hours <h>');
          params.policy = policy;
          params.everyHours = opts.everyHours;
        }
        const client = await ctx.connect();
        const res = await client.request<ArchiveSchedule.Result>(ArchiveSchedule.method, params);
        if (ctx.out.json) return ctx.out.printJson(res);
        const name = opts.name ?? 'default';
        if (params.clear) ctx.out.note(`cleared schedule ${name}`);
        else if (params.policy) {
          const s = res.schedules.find((x) => x.name === name);
          ctx.out.note(
            `schedule ${name}: ${describePolicy(params.policy)}, every ${params.everyHours} h` +
              (s ? `; first run ${when(s.nextRunAt)}` : ''),
          );
        }
        if (res.schedules.length === 0) return ctx.out.note('no archive schedules');
        printSchedules(ctx, res.schedules);
      }),
    );
}

function printDryRun(ctx: Context, res: ArchiveCreate.DryRunResult): void {
  const t = res.totals;
  if (t.count === 0) return ctx.out.line('dry run: nothing matches; nothing would move');
  if (ctx.out.format === 'list') ctx.out.list(candidateColumns(ctx), res.candidates);
  else ctx.out.table(candidateColumns(ctx), res.candidates);
  ctx.out.line();
  const more = t.matched > t.count ? `; ${count(t.matched - t.count)} more matched beyond --limit` : '';
  if (ctx.out.format === 'list') {
    ctx.out.line(`total: ${t.count}`);
    ctx.out.line(`bytes: ${t.bytes}`);
    ctx.out.line(`crews: ${t.crews.join(',')}`);
    ctx.out.line(`matched: ${t.matched}`);
  } else
    ctx.out.line(
      `dry run: would archive ${plural(t.count)} (${bytes(t.bytes)}) of crew${t.crews.length === 1 ? '' : 's'} ${t.crews.join(', ')}${more}; nothing moved`,
    );
}
