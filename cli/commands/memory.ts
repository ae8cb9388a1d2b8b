/**
 * `crew memory add|list|get|update|delete|history|search|context|duplicates|merge`: a crew's memories as the server
 * keeps them. The server stores, deduplicates, embeds and ranks; this file turns options into params and results
 * into tables. Memory ids may be abbreviated to a unique prefix of at least 4 characters (tables show the first 8),
 * resolved against `memory/list` (within `--crew` when given). The helpers for slow requests (`requestWithProgress`)
 * and previews (`contentsOf`) are shared with analytics, archive and clusters.
 */
import { createInterface } from 'node:readline/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import {
  ErrorCodes,
  MemoryAdd,
  MemoryContext,
  MemoryDelete,
  MemoryDuplicates,
  MemoryGet,
  MemoryHistory,
  MemoryList,
  MemoryMerge,
  MemorySearch,
  MemoryUpdate,
  ProgressNotification,
  type ClustersCompute,
  type Memory,
  type MemoryHistoryEntry,
  type MemoryKind,
  type RankingParams,
  type WithProgress,
} from '../../protocol';
import { CancellationTokenSource, ClientError, type CrewClient } from '../client/connection';
import { withContext, type Context } from '../context';
import { QuietFailure, UsageError } from '../errors';
import { count, when, type Column } from '../output';
import { isoDate, positiveInt } from '../parse';
import { example } from './help';

const KINDS: readonly MemoryKind[] = ['fact', 'insight', 'lesson', 'result', 'note'];
const shortId = (id: string) => id.slice(0, 8);

// ── option parsers (InvalidArgumentError → `crew: option '--x' argument 'y' is invalid. …`, exit 2) ──

function importance(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1)
    throw new InvalidArgumentError('importance must be a number from 0 to 1, e.g. 0.8');
  return n;
}

/** `a,b` → ['a', 'b']; an empty value is no tags (so `--tags ''` clears them on update). */
export function tagList(value: string): string[] {
  return value
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
}

/** `--kind fact,lesson` or `--kind fact --kind lesson`. */
export function kindList(value: string, previous: MemoryKind[] | undefined): MemoryKind[] {
  const kinds = tagList(value);
  const bad = kinds.find((k) => !KINDS.includes(k as MemoryKind));
  if (bad !== undefined || kinds.length === 0)
    throw new InvalidArgumentError(`expected one or more of ${KINDS.join(', ')} (comma-separated)`);
  return [...new Set([...(previous ?? []), ...(kinds as MemoryKind[])])];
}

function offsetInt(value: string): number {
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(Number(value)))
    throw new InvalidArgumentError('expected a whole number ≥ 0');
  return Number(value);
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number > 0');
  return n;
}

type Weights = NonNullable<RankingParams['weights']>;
const WEIGHT_KEYS = ['relevance', 'recency', 'importance', 'frequency'] as const;

/** `relevance=0.6,recency=0.2` → { relevance: 0.6, recency: 0.2 }. */
function weights(value: string): Weights {
  const out: Weights = {};
  for (const part of tagList(value)) {
    const [key, raw, ...rest] = part.split('=').map((s) => s.trim());
    const n = Number(raw);
    if (
      !WEIGHT_KEYS.includes(key as (typeof WEIGHT_KEYS)[number]) ||
      rest.length ||
      !raw ||
      !Number.isFinite(n) ||
      n < 0
    )
      throw new InvalidArgumentError(
        `expected name=number pairs separated by commas (names: ${WEIGHT_KEYS.join(', ')}), e.g. relevance=0.6,recency=0.2`,
      );
    out[key as (typeof WEIGHT_KEYS)[number]] = n;
  }
  if (Object.keys(out).length === 0) throw new InvalidArgumentError('expected at least one name=number pair');
  return out;
}

// ── ids ──

const FULL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MIN_PREFIX = 4;
const PAGE = 1000;

/**
 * Resolves memory ids given in full or as a unique prefix (≥ 4 characters). A full id passes through without a
 * request; prefixes are matched against every memory of the crew (or all memories), listed once per command.
 * A prefix matching nothing goes to the server as given, which refuses it as not found (or, within a crew, is
 * refused here).
 */
export class MemoryIds {
  private ids: Promise<string[]> | undefined;

  constructor(
    private readonly client: CrewClient,
    private readonly crew?: string,
  ) {}

  /** Refuses ids too short to be a prefix, before anything connects. */
  static check(idsOrPrefixes: string[]): void {
    for (const arg of idsOrPrefixes)
      if (arg.trim().length < MIN_PREFIX)
        throw new UsageError(
          `memory id "${arg}" is too short: give the full id or a prefix of at least ${MIN_PREFIX} characters`,
        );
  }

  async resolve(idOrPrefix: string): Promise<string> {
    MemoryIds.check([idOrPrefix]);
    const want = idOrPrefix.trim().toLowerCase();
    if (FULL_ID.test(want)) return want;
    const ids = await (this.ids ??= this.load());
    if (ids.includes(want)) return want;
    const matches = ids.filter((id) => id.startsWith(want));
    if (matches.length > 1)
      throw new UsageError(
        `memory id "${idOrPrefix}" is ambiguous (${matches.length} memories${this.crew ? ` in crew ${this.crew}` : ''}): ` +
          `${matches.slice(0, 5).join(', ')}${matches.length > 5 ? ', …' : ''}`,
      );
    if (matches[0]) return matches[0];
    // Without a crew the server refuses it (not found); within one, say where we looked.
    if (this.crew) throw new Error(`no memory of crew ${this.crew} has an id starting with "${idOrPrefix}"`);
    return idOrPrefix;
  }

  private async load(): Promise<string[]> {
    const ids: string[] = [];
    for (let offset = 0; ; offset += PAGE) {
      const params: MemoryList.Params = { limit: PAGE, offset };
      if (this.crew) params.crew = this.crew;
      const res = await this.client.request<MemoryList.Result>(MemoryList.method, params);
      ids.push(...res.memories.map((m) => m.id.toLowerCase()));
      if (res.memories.length < PAGE || ids.length >= res.total) return ids;
    }
  }
}

// ── rendering ──

/** One line: whitespace collapsed, cut to `width` characters with `…`. */
export function preview(text: string, width: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  const chars = Array.from(flat);
  return chars.length <= width ? flat : chars.slice(0, width - 1).join('') + '…';
}

/** 0.7, 0.85, 1: at most three decimals, no trailing zeros. */
const num = (n: number) => String(Math.round(n * 1000) / 1000);
const score = (n: number) => n.toFixed(3);

function memoryColumns(ctx: Context): Column<Memory>[] {
  const list = ctx.out.format === 'list';
  return [
    { key: 'id', header: 'ID', text: (m) => (list ? m.id : shortId(m.id)) },
    { key: 'crew', header: 'CREW' },
    { key: 'agent', header: 'AGENT' },
    { key: 'kind', header: 'KIND' },
    { key: 'importance', header: 'IMPORTANCE', align: 'right', text: (m) => num(m.importance) },
    { key: 'accessCount', header: 'ACCESSES', align: 'right', text: (m) => count(m.accessCount) },
    { key: 'updatedAt', header: 'UPDATED', text: (m) => (list ? m.updatedAt : when(m.updatedAt)) },
    ...(list ? [{ key: 'tags', header: 'TAGS', text: (m: Memory) => m.tags.join(',') || '—' }] : []),
    {
      key: 'content',
      header: 'CONTENT',
      text: (m) => (list ? preview(m.content, Infinity) : preview(m.content, 60)),
    },
  ];
}

function memoryFields(m: Memory, list: boolean): [string, string][] {
  const time = (iso: string | null) => (list ? (iso ?? '—') : when(iso, true));
  return [
    ['id', m.id],
    ['crew', m.crew],
    ['agent', m.agent ?? '—'],
    ['kind', m.kind],
    ['importance', num(m.importance)],
    ['tags', m.tags.length ? m.tags.join(',') : '—'],
    ['pinned', m.pinned ? 'yes' : 'no'],
    ['expires', time(m.expiresAt)],
    ['created', time(m.createdAt)],
    ['updated', time(m.updatedAt)],
    ['accessed', m.lastAccessedAt ? `${time(m.lastAccessedAt)} (${count(m.accessCount)} times)` : 'never'],
    ['embedding', m.embedding ? `${m.embedding.embedderId} (${m.embedding.dimensions} dimensions)` : 'not yet'],
  ];
}

/** Every field, then the full content (in list format as a `content:` field, for grep). */
function printMemory(ctx: Context, result: unknown, m: Memory): void {
  const list = ctx.out.format === 'list';
  if (list) return ctx.out.record(result, [...memoryFields(m, true), ['content', m.content]]);
  ctx.out.record(result, memoryFields(m, false));
  if (ctx.out.json) return;
  ctx.out.line();
  ctx.out.line(m.content);
}

type HistoryField = keyof MemoryHistoryEntry['previous'];
/** The order changes are described in ("importance 0.7 → 0.9, content changed"). */
const HISTORY_FIELDS: HistoryField[] = ['kind', 'importance', 'tags', 'pinned', 'expiresAt', 'agent', 'content'];

/**
 * What each version changed: an entry keeps the values it replaced, so the value it set is the one the next
 * change to that field replaced, or the memory's current value when nothing changed the field since.
 */
export function describeChanges(history: MemoryHistoryEntry[], current: Memory): string[] {
  const show = (field: HistoryField, v: unknown): string => {
    if (v === null || v === undefined) return '—';
    if (Array.isArray(v)) return v.length ? v.join(',') : '(none)';
    if (field === 'importance' && typeof v === 'number') return num(v);
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
    return JSON.stringify(v);
  };
  const after = (i: number, field: HistoryField): unknown => {
    for (const later of history.slice(i + 1)) if (field in later.previous) return later.previous[field];
    return current[field];
  };
  return history.map((h, i) => {
    const parts: string[] = [];
    if (h.change === 'created') parts.push('created');
    for (const field of HISTORY_FIELDS) {
      if (!(field in h.previous)) continue;
      if (field === 'content') parts.push('content changed');
      else
        parts.push(
          `${field === 'expiresAt' ? 'expires' : field} ${show(field, h.previous[field])} → ${show(field, after(i, field))}`,
        );
    }
    if (h.note) parts.push(h.note);
    return parts.join(', ') || h.change;
  });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The words of a positional argument, or stdin when it is a single `-`. */
async function textOf(words: string[], what: string): Promise<string> {
  const text = words.length === 1 && words[0] === '-' ? await readStdin() : words.join(' ');
  if (!text.trim()) throw new UsageError(`the ${what} is empty`);
  return text;
}

export const plural = (n: number) => `${n} ${n === 1 ? 'memory' : 'memories'}`;

export async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: false });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

// ── commands ──

interface AddOptions {
  crew: string;
  agent?: string;
  kind?: MemoryKind;
  importance?: number;
  tags?: string[];
  pinned?: boolean;
  expires?: string;
}

interface UpdateOptions {
  crew?: string;
  content?: string;
  kind?: MemoryKind;
  importance?: number;
  tags?: string[];
  /** false with --no-pinned. */
  pinned?: boolean;
  /** false with --no-expires. */
  expires?: string | false;
  /** false with --no-agent. */
  agent?: string | false;
}

interface SearchOptions {
  crew: string;
  agent?: string;
  kind?: MemoryKind[];
  tags?: string[];
  limit?: number;
  halfLifeDays?: number;
  weights?: Weights;
}

const kindOption = (description: string) => new Option('--kind <kind>', description).choices(KINDS);
const crewForIds = () => new Option('--crew <id>', 'resolve id prefixes within this crew only');

export function registerMemory(program: Command): void {
  const memory = program
    .command('memory')
    .description(
      "a crew's shared memory: add, list, search, pack into a context, update, delete, history, duplicates, merge",
    )
    .addHelpText(
      'after',
      example(
        'crew memory add --crew ops --kind lesson "Tuning Postgres indexes made the nightly report 10x faster"',
        'crew memory search --crew ops "database index performance"',
      ),
    );

  memory
    .command('add')
    .description('remember something for a crew (content the crew already has is not stored twice)')
    .argument('<content...>', 'what to remember ("-" reads it from stdin)')
    .requiredOption('--crew <id>', 'the crew it belongs to')
    .option('--agent <id>', 'the agent it came from')
    .addOption(kindOption('what sort of memory (default note)'))
    .option('--importance <0..1>', 'how much it matters, 0 … 1 (default 0.5)', importance)
    .option('--tags <a,b>', 'labels, comma-separated', tagList)
    .option('--pinned', 'keep it whatever its score (never archived)')
    .option('--expires <iso>', 'forget it after this date-time', isoDate)
    .addHelpText(
      'after',
      example(
        'crew memory add --crew ops --kind lesson --importance 0.8 --tags db,perf "Tuning Postgres indexes made the nightly report 10x faster"',
        'git log -1 --format=%B | crew memory add --crew ops --kind result -',
      ),
    )
    .action(
      withContext(async (ctx, words: string[], opts: AddOptions) => {
        const content = await textOf(words, 'content');
        const client = await ctx.connect();
        const params: MemoryAdd.Params = { crew: opts.crew, content };
        if (opts.agent) params.agent = opts.agent;
        if (opts.kind) params.kind = opts.kind;
        if (opts.importance !== undefined) params.importance = opts.importance;
        if (opts.tags) params.tags = opts.tags;
        if (opts.pinned) params.pinned = true;
        if (opts.expires) params.expiresAt = opts.expires;
        const res = await client.request<MemoryAdd.Result>(MemoryAdd.method, params);
        if (ctx.out.json) return ctx.out.printJson(res);
        if (res.created) ctx.out.line(`added memory ${res.memory.id}`);
        else
          ctx.out.line(
            `crew ${opts.crew} already has this content: memory ${res.duplicateOf ?? res.memory.id} (nothing stored)`,
          );
      }),
    );

  memory
    .command('list')
    .description('memories, most recently updated first')
    .option('--crew <id>', 'only this crew')
    .option('--agent <id>', 'only this agent')
    .addOption(kindOption('only this kind'))
    .option('--tag <tag>', 'only memories with this tag')
    .option('--limit <n>', 'at most n memories (default 50)', positiveInt)
    .option('--offset <n>', 'skip the first n (paging)', offsetInt)
    .addHelpText('after', example('crew memory list --crew ops --kind lesson --limit 20'))
    .action(
      withContext(async (ctx, opts: MemoryList.Params) => {
        const client = await ctx.connect();
        const params: MemoryList.Params = {};
        for (const k of ['crew', 'agent', 'kind', 'tag', 'limit', 'offset'] as const)
          if (opts[k] !== undefined) Object.assign(params, { [k]: opts[k] });
        const res = await client.request<MemoryList.Result>(MemoryList.method, params);
        ctx.out.records(res, memoryColumns(ctx), res.memories, {
          empty:
            res.total > 0
              ? `no memories past offset ${params.offset ?? 0} (${res.total} in all)`
              : 'no memories yet; add one with: crew memory add --crew <id> "what to remember"',
        });
        if (ctx.out.format === 'table' && res.memories.length)
          ctx.out.note(ctx.out.ce.dim(`${res.memories.length} of ${res.total} memories`));
      }),
    );

  memory
    .command('get')
    .description('one memory in full: its content and every field')
    .argument('<id>', 'memory id (a unique prefix of 4+ characters is enough)')
    .addOption(crewForIds())
    .addHelpText('after', example('crew memory get 3f2a9c1e'))
    .action(
      withContext(async (ctx, idArg: string, opts: { crew?: string }) => {
        MemoryIds.check([idArg]);
        const client = await ctx.connect();
        const id = await new MemoryIds(client, opts.crew).resolve(idArg);
        const res = await client.request<MemoryGet.Result>(MemoryGet.method, { id } satisfies MemoryGet.Params);
        printMemory(ctx, res.memory, res.memory);
      }),
    );

  memory
    .command('update')
    .description('change a memory (what it replaced is kept in its history)')
    .argument('<id>', 'memory id (a unique prefix of 4+ characters is enough)')
    .option('--content <text>', 'new content ("-" reads it from stdin)')
    .addOption(kindOption('new kind'))
    .option('--importance <0..1>', 'new importance, 0 … 1', importance)
    .option('--tags <a,b>', "new tags, comma-separated ('' removes them all)", tagList)
    .option('--pinned', 'pin it')
    .option('--no-pinned', 'unpin it')
    .option('--expires <iso>', 'forget it after this date-time', isoDate)
    .option('--no-expires', 'never expire')
    .option('--agent <id>', 'attribute it to this agent')
    .option('--no-agent', 'attribute it to no agent')
    .addOption(crewForIds())
    .addHelpText('after', example('crew memory update 3f2a9c1e --importance 0.9 --tags db,perf --pinned'))
    .action(
      withContext(async (ctx, idArg: string, opts: UpdateOptions) => {
        const changes: Omit<MemoryUpdate.Params, 'id'> = {};
        if (opts.content !== undefined) changes.content = await textOf([opts.content], 'content');
        if (opts.kind) changes.kind = opts.kind;
        if (opts.importance !== undefined) changes.importance = opts.importance;
        if (opts.tags) changes.tags = opts.tags;
        if (opts.pinned !== undefined) changes.pinned = opts.pinned;
        if (opts.expires !== undefined) changes.expiresAt = opts.expires === false ? null : opts.expires;
        if (opts.agent !== undefined) changes.agent = opts.agent === false ? null : opts.agent;
        if (Object.keys(changes).length === 0)
          throw new UsageError(
            'nothing to update: pass --content, --kind, --importance, --tags, --[no-]pinned, --expires/--no-expires or --agent/--no-agent',
          );
        MemoryIds.check([idArg]);
        const client = await ctx.connect();
        const id = await new MemoryIds(client, opts.crew).resolve(idArg);
        const res = await client.request<MemoryUpdate.Result>(MemoryUpdate.method, {
          id,
          ...changes,
        } satisfies MemoryUpdate.Params);
        if (ctx.out.human) ctx.out.note(`updated memory ${res.memory.id}`);
        printMemory(ctx, res, res.memory);
      }),
    );

  memory
    .command('delete')
    .description('delete memories for good (asks first on a terminal; --force to skip, required in scripts)')
    .argument('<id...>', 'memory ids (unique prefixes of 4+ characters are enough)')
    .option('--force', 'delete without asking')
    .addOption(crewForIds())
    .addHelpText('after', example('crew memory delete 3f2a9c1e 7b41d0aa', 'crew memory delete --force 3f2a9c1e'))
    .action(
      withContext(async (ctx, idArgs: string[], opts: { force?: boolean; crew?: string }) => {
        MemoryIds.check(idArgs);
        const ask = !opts.force;
        // Nobody can answer the question on a pipe; refuse before starting anything.
        if (ask && process.stdin.isTTY !== true)
          throw new UsageError(
            `refusing to delete ${plural(new Set(idArgs).size)} without confirmation (stdin is not a terminal); pass --force`,
          );
        const client = await ctx.connect();
        const resolver = new MemoryIds(client, opts.crew);
        const ids: string[] = [];
        for (const arg of idArgs) ids.push(await resolver.resolve(arg));
        const unique = [...new Set(ids)];
        if (ask) {
          // Show what would go (this also fails on an unknown id before anything is asked).
          for (const id of unique) {
            const { memory: m } = await client.request<MemoryGet.Result>(MemoryGet.method, { id });
            ctx.out.note(`  ${shortId(m.id)}  ${m.crew}  ${preview(m.content, 60)}`);
          }
          if (!(await confirm(`Delete ${plural(unique.length)}? [y/N] `))) throw new QuietFailure('nothing deleted');
        }
        const res = await client.request<MemoryDelete.Result>(MemoryDelete.method, {
          ids: unique,
        } satisfies MemoryDelete.Params);
        if (ctx.out.json) ctx.out.printJson({ ...res, ids: unique });
        else ctx.out.line(`deleted ${plural(res.deleted)}`);
      }),
    );

  memory
    .command('history')
    .description('every version of a memory: when, what kind of change, and what changed')
    .argument('<id>', 'memory id (a unique prefix of 4+ characters is enough)')
    .addOption(crewForIds())
    .addHelpText('after', example('crew memory history 3f2a9c1e'))
    .action(
      withContext(async (ctx, idArg: string, opts: { crew?: string }) => {
        MemoryIds.check([idArg]);
        const client = await ctx.connect();
        const id = await new MemoryIds(client, opts.crew).resolve(idArg);
        const res = await client.request<MemoryHistory.Result>(MemoryHistory.method, {
          id,
        } satisfies MemoryHistory.Params);
        if (ctx.out.json) return ctx.out.printJson(res);
        const { memory: current } = await client.request<MemoryGet.Result>(MemoryGet.method, { id });
        const what = describeChanges(res.history, current);
        const rows = res.history.map((h, i) => ({ ...h, what: what[i]! }));
        const list = ctx.out.format === 'list';
        ctx.out.records(
          res,
          [
            { key: 'version', header: 'VERSION', align: 'right' },
            { key: 'at', header: 'AT', text: (h) => (list ? h.at : when(h.at, true)) },
            { key: 'change', header: 'CHANGE' },
            { key: 'what', header: 'WHAT CHANGED' },
          ],
          rows,
        );
      }),
    );

  memory
    .command('search')
    .description("a crew's memories ranked for a query: relevance (meaning and words), recency, importance, use")
    .argument('<query...>', 'what to look for')
    .requiredOption('--crew <id>', 'the crew to search')
    .option('--agent <id>', 'only memories of this agent')
    .option('--kind <kinds>', `only these kinds, comma-separated (${KINDS.join(', ')})`, kindList)
    .option('--tags <a,b>', 'only memories with these tags, comma-separated', tagList)
    .option('--limit <n>', 'at most n results (default 10)', positiveInt)
    .option('--half-life-days <d>', 'recency halves every d days', positiveNumber)
    .option('--weights <list>', 'score weights, e.g. relevance=0.6,recency=0.2,importance=0.1,frequency=0.1', weights)
    .addHelpText(
      'after',
      example(
        'crew memory search --crew ops --limit 5 "database index performance"',
        'crew memory search --crew ops --kind lesson,insight --weights relevance=0.8,recency=0.2 "deploys"',
      ),
    )
    .action(
      withContext(async (ctx, words: string[], opts: SearchOptions) => {
        const query = await textOf(words, 'query');
        const client = await ctx.connect();
        const params: MemorySearch.Params = { query, crew: opts.crew };
        if (opts.agent) params.agent = opts.agent;
        if (opts.kind) params.kinds = opts.kind;
        if (opts.tags?.length) params.tags = opts.tags;
        if (opts.limit) params.limit = opts.limit;
        if (opts.halfLifeDays !== undefined) params.halfLifeDays = opts.halfLifeDays;
        if (opts.weights) params.weights = opts.weights;
        const res = await client.request<MemorySearch.Result>(MemorySearch.method, params);
        const list = ctx.out.format === 'list';
        const rows = res.hits.map((h, i) => ({ ...h, rank: i + 1 }));
        ctx.out.records(
          res,
          [
            { key: 'rank', header: 'RANK', align: 'right' },
            { key: 'score', header: 'SCORE', align: 'right', text: (h) => score(h.score) },
            { key: 'relevance', header: 'RELEVANCE', align: 'right', text: (h) => score(h.components.relevance) },
            { key: 'recency', header: 'RECENCY', align: 'right', text: (h) => score(h.components.recency) },
            { key: 'importance', header: 'IMPORTANCE', align: 'right', text: (h) => score(h.components.importance) },
            { key: 'frequency', header: 'FREQUENCY', align: 'right', text: (h) => score(h.components.frequency) },
            { key: 'id', header: 'ID', text: (h) => (list ? h.memory.id : shortId(h.memory.id)) },
            {
              key: 'content',
              header: 'CONTENT',
              text: (h) => (list ? preview(h.memory.content, Infinity) : preview(h.memory.content, 50)),
            },
          ],
          rows,
          { empty: `no memories of crew ${opts.crew} match` },
        );
        if (ctx.out.format === 'table' && rows.length) ctx.out.note(ctx.out.ce.dim(`embedder ${res.embedderId}`));
      }),
    );

  memory
    .command('context')
    .description('the best memories for a query packed into a token budget, ready to paste into a prompt')
    .argument('<query...>', 'what the prompt is about')
    .requiredOption('--crew <id>', 'the crew whose memories to use')
    .requiredOption('--max-tokens <n>', 'the token budget to fill', positiveInt)
    .option('--agent <id>', 'only memories of this agent')
    .option('--kind <kinds>', `only these kinds, comma-separated (${KINDS.join(', ')})`, kindList)
    .option('--tags <a,b>', 'only memories with these tags, comma-separated', tagList)
    .addHelpText('after', example('crew memory context --crew ops --max-tokens 500 "speed up the nightly report"'))
    .action(
      withContext(
        async (
          ctx,
          words: string[],
          opts: { crew: string; maxTokens: number; agent?: string; kind?: MemoryKind[]; tags?: string[] },
        ) => {
          const query = await textOf(words, 'query');
          const client = await ctx.connect();
          const params: MemoryContext.Params = { query, crew: opts.crew, maxTokens: opts.maxTokens };
          if (opts.agent) params.agent = opts.agent;
          if (opts.kind) params.kinds = opts.kind;
          if (opts.tags?.length) params.tags = opts.tags;
          const res = await client.request<MemoryContext.Result>(MemoryContext.method, params);
          if (ctx.out.json) return ctx.out.printJson(res);
          const { c } = ctx.out;
          if (ctx.out.format === 'list')
            ctx.out.list(
              [
                { key: 'rank', header: 'RANK' },
                { key: 'id', header: 'ID', text: (e) => e.memory.id },
                { key: 'kind', header: 'KIND', text: (e) => e.memory.kind },
                { key: 'score', header: 'SCORE', text: (e) => score(e.score) },
                { key: 'tokens', header: 'TOKENS' },
                { key: 'content', header: 'CONTENT', text: (e) => preview(e.memory.content, Infinity) },
              ],
              res.memories.map((e, i) => ({ ...e, rank: i + 1 })),
            );
          else
            res.memories.forEach((e, i) => {
              if (i > 0) ctx.out.line();
              ctx.out.line(
                c.dim(
                  `# ${i + 1} · ${shortId(e.memory.id)} · ${e.memory.kind} · score ${score(e.score)} · ${count(e.tokens)} tokens`,
                ),
              );
              ctx.out.line(e.memory.content);
            });
          if (res.memories.length === 0) ctx.out.note(`no memories of crew ${opts.crew} fit`);
          ctx.out.note(`used ${count(res.usedTokens)} of ${count(res.budgetTokens)} tokens`);
        },
      ),
    );

  registerDuplicatesAndMerge(memory);
}

// ── duplicates and merge; helpers the other memory command files share ──

let progressTokens = 0;

/**
 * Sends a slow request with a progressToken and shows each `$/progress` value as one transient line on stderr
 * (only in human mode on a terminal: pipes, files and --json never see it). Ctrl-C cancels the request (the
 * server answers RequestCancelled, exit 130).
 */
export async function requestWithProgress<R>(
  ctx: Context,
  client: CrewClient,
  method: string,
  params: WithProgress,
  opts: { start: string; render: (value: unknown) => string | undefined },
): Promise<R> {
  const stderr = process.stderr;
  const live = ctx.out.human && stderr.isTTY === true;
  let shown = false;
  let finished = false;
  const show = (text: string) => {
    if (finished) return;
    // One terminal line: a wrapped line could not be erased with \r.
    const width = Math.max(10, (stderr.columns || 80) - 1);
    stderr.write(`\r\u001b[K${ctx.out.ce.dim(preview(text, width))}`);
    shown = true;
  };
  const request: WithProgress = { ...params };
  if (live) {
    const token = `${method}-${process.pid}-${++progressTokens}`;
    request.progressToken = token;
    client.onNotification(ProgressNotification.method, (p) => {
      const { token: t, value } = p as ProgressNotification.Params;
      if (t !== token) return;
      const text = opts.render(value);
      if (text) show(text);
    });
    show(opts.start);
  }
  const cancel = new CancellationTokenSource();
  const onSigint = () => cancel.cancel();
  process.once('SIGINT', onSigint);
  try {
    return await client.request<R>(method, request, cancel);
  } finally {
    finished = true;
    if (shown) stderr.write('\r\u001b[K');
    process.off('SIGINT', onSigint);
    cancel.dispose();
  }
}

/** `▕████░░░░▏ 45%`: a fraction in [0, 1] as a small bar. */
export function fractionBar(fraction: number, width = 12): string {
  const f = Math.max(0, Math.min(1, fraction));
  const filled = Math.round(f * width);
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${Math.round(f * 100)}%`;
}

/** The clusters/compute and memory/duplicates progress value as a line. */
export function renderFractionProgress(what: string) {
  return (value: unknown): string | undefined => {
    const v = value as ClustersCompute.Progress;
    if (typeof v?.fraction !== 'number') return undefined;
    return `${what} ${fractionBar(v.fraction)}${v.message ? ` · ${v.message}` : ''}`;
  };
}

/** Content of each memory (null when it no longer exists), fetched a few at a time. */
export async function contentsOf(client: CrewClient, ids: string[]): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  const todo = [...new Set(ids)];
  for (let i = 0; i < todo.length; i += 32)
    await Promise.all(
      todo.slice(i, i + 32).map(async (id) => {
        try {
          const { memory } = await client.request<MemoryGet.Result>(MemoryGet.method, {
            id,
          } satisfies MemoryGet.Params);
          out.set(id, memory.content);
        } catch (e) {
          if (e instanceof ClientError && e.code === ErrorCodes.NotFound) out.set(id, null);
          else throw e;
        }
      }),
    );
  return out;
}

/** A cosine similarity threshold in (0, 1]. */
function similarity(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 1)
    throw new InvalidArgumentError('expected a similarity above 0 and at most 1, e.g. 0.92');
  return n;
}

interface DuplicateRow {
  set: number;
  crew: string;
  role: 'keep' | 'merge';
  id: string;
  similarity: number | null;
  tokensSaved: number | null;
  reason: string | null;
  content: string;
}

/** The command that carries out a set's suggested merge. */
function mergeCommand(p: MemoryMerge.Params, contentFrom?: string): string {
  return [
    'crew memory merge',
    shortId(p.keepId),
    ...p.mergeIds.map(shortId),
    ...(contentFrom ? ['--content-from', shortId(contentFrom)] : []),
    '--force',
  ].join(' ');
}

interface MergeOptions {
  content?: string;
  contentFrom?: string;
  tags?: string[];
  importance?: number;
  force?: boolean;
  crew?: string;
}

function registerDuplicatesAndMerge(memory: Command): void {
  memory
    .command('duplicates')
    .description('near-duplicate memories (embedding similarity): which to keep, and the merge that would do it')
    .option('--crew <id>', 'only this crew (default: every crew; crews never share duplicates)')
    .option('--threshold <0..1>', 'similarity at or above which memories are duplicates (default 0.92)', similarity)
    .addHelpText(
      'after',
      example('crew memory duplicates --crew ops', 'crew memory duplicates --crew ops --threshold 0.85 --json'),
    )
    .action(
      withContext(async (ctx, opts: { crew?: string; threshold?: number }) => {
        const client = await ctx.connect();
        const params: MemoryDuplicates.Params = {};
        if (opts.crew) params.crew = opts.crew;
        if (opts.threshold !== undefined) params.threshold = opts.threshold;
        const res = await requestWithProgress<MemoryDuplicates.Result>(ctx, client, MemoryDuplicates.method, params, {
          start: 'looking for duplicates…',
          render: renderFractionProgress('looking for duplicates'),
        });
        if (ctx.out.json) return ctx.out.printJson(res);
        if (res.sets.length === 0)
          return ctx.out.note(
            `no duplicates at similarity ≥ ${res.threshold}${opts.crew ? ` in crew ${opts.crew}` : ''}`,
          );
        const contents = await contentsOf(
          client,
          res.sets.flatMap((s) => [s.keepId, ...s.duplicates.map((d) => d.id)]),
        );
        const text = (id: string) => contents.get(id) ?? '(deleted)';
        const rows: DuplicateRow[] = res.sets.flatMap((s, i) => [
          {
            set: i + 1,
            crew: s.crew,
            role: 'keep' as const,
            id: s.keepId,
            similarity: null,
            tokensSaved: s.tokensSaved,
            reason: s.reason,
            content: text(s.keepId),
          },
          ...s.duplicates.map((d) => ({
            set: i + 1,
            crew: s.crew,
            role: 'merge' as const,
            id: d.id,
            similarity: d.similarity,
            tokensSaved: null,
            reason: null,
            content: text(d.id),
          })),
        ]);
        const list = ctx.out.format === 'list';
        const columns: Column<DuplicateRow>[] = [
          { key: 'set', header: 'SET', align: 'right' },
          { key: 'crew', header: 'CREW' },
          { key: 'role', header: 'ROLE', paint: (r, c) => (r.role === 'keep' ? c.green : undefined) },
          { key: 'id', header: 'ID', text: (r) => (list ? r.id : shortId(r.id)) },
          {
            key: 'similarity',
            header: 'SIMILARITY',
            align: 'right',
            text: (r) => (r.similarity === null ? '—' : score(r.similarity)),
          },
          { key: 'tokensSaved', header: 'TOKENS SAVED', align: 'right', text: (r) => count(r.tokensSaved) },
          ...(list ? [{ key: 'reason', header: 'REASON' }] : []),
          { key: 'content', header: 'CONTENT', text: (r) => preview(r.content, list ? Infinity : 50) },
        ];
        ctx.out.records(res, columns, rows);
        if (ctx.out.format !== 'table') return;
        const away = res.sets.reduce((n, s) => n + s.duplicates.length, 0);
        const saved = res.sets.reduce((n, s) => n + s.tokensSaved, 0);
        const first = res.sets[0]!;
        const contentFrom = first.merge.content !== undefined ? findContentSource(first, contents) : undefined;
        ctx.out.note(
          ctx.out.ce.dim(
            `${res.sets.length} ${res.sets.length === 1 ? 'set' : 'sets'} · ${plural(away)} could be merged away · ` +
              `~${count(saved)} tokens saved (similarity ≥ ${res.threshold})\n` +
              `merge set 1 with: ${mergeCommand(first.merge, contentFrom)}`,
          ),
        );
      }),
    );

  memory
    .command('merge')
    .description('merge memories into one: the others are deleted, their tags, accesses and pin kept on the survivor')
    .argument('<keepId>', 'the memory that stays (a unique prefix of 4+ characters is enough)')
    .argument('<mergeId...>', 'memories merged into it and then deleted (same crew)')
    .option('--content <text>', 'the merged content (default: the kept memory\'s; "-" reads stdin, needs --force)')
    .option('--content-from <id>', "use this member's content for the merged memory")
    .option('--tags <a,b>', "tags of the merged memory (default: every member's tags)", tagList)
    .option('--importance <0..1>', 'importance of the merged memory (default: the highest of the set)', importance)
    .option('--force', 'merge without asking')
    .addOption(crewForIds())
    .addHelpText(
      'after',
      example(
        'crew memory merge 3f2a9c1e 7b41d0aa',
        'crew memory merge --force 3f2a9c1e 7b41d0aa --content "Postgres indexes made the nightly report 10x faster"',
      ),
    )
    .action(
      withContext(async (ctx, keepArg: string, mergeArgs: string[], opts: MergeOptions) => {
        MemoryIds.check([keepArg, ...mergeArgs, ...(opts.contentFrom ? [opts.contentFrom] : [])]);
        if (opts.content !== undefined && opts.contentFrom !== undefined)
          throw new UsageError('give either --content or --content-from, not both');
        const ask = !opts.force;
        if (ask && opts.content === '-')
          throw new UsageError('--content - reads stdin, which then cannot answer the confirmation; add --force');
        if (ask && process.stdin.isTTY !== true)
          throw new UsageError(
            `refusing to merge (and delete) ${plural(new Set(mergeArgs).size)} without confirmation (stdin is not a terminal); pass --force`,
          );
        const content = opts.content !== undefined ? await textOf([opts.content], 'content') : undefined;
        const client = await ctx.connect();
        const resolver = new MemoryIds(client, opts.crew);
        const keepId = await resolver.resolve(keepArg);
        const mergeIds: string[] = [];
        for (const arg of mergeArgs) mergeIds.push(await resolver.resolve(arg));
        const unique = [...new Set(mergeIds)];
        const params: MemoryMerge.Params = { keepId, mergeIds: unique };
        if (content !== undefined) params.content = content;
        if (opts.contentFrom !== undefined) {
          const fromId = await resolver.resolve(opts.contentFrom);
          if (fromId !== keepId && !unique.includes(fromId))
            throw new UsageError(`--content-from ${opts.contentFrom} is not one of the memories being merged`);
          const { memory: from } = await client.request<MemoryGet.Result>(MemoryGet.method, { id: fromId });
          params.content = from.content;
        }
        if (opts.tags) params.tags = opts.tags;
        if (opts.importance !== undefined) params.importance = opts.importance;
        if (ask) {
          const show = async (id: string, role: string) => {
            const { memory: m } = await client.request<MemoryGet.Result>(MemoryGet.method, { id });
            ctx.out.note(`  ${role}  ${shortId(m.id)}  ${m.crew}  ${preview(m.content, 60)}`);
          };
          await show(keepId, 'keep ');
          for (const id of unique) await show(id, 'merge');
          if (
            !(await confirm(
              `Merge ${plural(unique.length)} into ${shortId(keepId)} and delete ${unique.length === 1 ? 'it' : 'them'}? [y/N] `,
            ))
          )
            throw new QuietFailure('nothing merged');
        }
        const res = await client.request<MemoryMerge.Result>(MemoryMerge.method, params);
        if (ctx.out.json) return ctx.out.printJson(res);
        ctx.out.line(
          `merged ${plural(res.merged.length)} into ${res.memory.id} (~${count(res.tokensSaved)} tokens saved)`,
        );
      }),
    );
}

/** Which member's content a suggested merge uses (for `--content-from`); undefined when none matches. */
function findContentSource(
  set: MemoryDuplicates.DuplicateSet,
  contents: Map<string, string | null>,
): string | undefined {
  return [set.keepId, ...set.duplicates.map((d) => d.id)].find((id) => contents.get(id) === set.merge.content);
}
