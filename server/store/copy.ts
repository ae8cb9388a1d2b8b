/**
 * `crew store copy`: every repository of one CrewStore copied into another, EMPTY one (a data directory's local
 * store into a team's PostgreSQL, or back), then checked row for row: per kind a count and a sha256 over a
 * canonical JSON of the records in a stable order, on both sides, the target read back after it was closed and
 * opened again. Only repository interfaces are used here; opening the stores (and the locks around them) is the
 * caller's (store/copy-run.ts).
 *
 * What the interfaces cannot carry is reported as not copied (`notCopied`), never dropped in silence: the per-day
 * access aggregates (analytics' history by day; no write interface: the per-memory access counters are copied).
 */
import { createHash } from 'node:crypto';
import type { CrewStore } from './store';
import type { ArchivePayloadRepository, LedgerRow } from './repositories';

export interface CopyKind {
  kind: string;
  /** Records in the source. */
  source: number;
  /** Records in the target, read back after the copy. */
  target: number;
  /** sha256 (hex) of the canonical records, source side and target side. */
  sourceDigest: string;
  targetDigest: string;
  match: boolean;
}

export interface CopyReport {
  kinds: CopyKind[];
  ledger: {
    rows: number;
    /** Exact sums, picodollars as decimal text. */
    sourcePico: string;
    targetPico: string;
    /** Whether every row kept its id (a local target numbers rows 1…n in time order). */
    idsKept: boolean;
  };
  notCopied: { kind: string; count: number; why: string }[];
  verified: boolean;
}

/** Thrown when the target holds data already: nothing was written. */
export class TargetNotEmpty extends Error {
  constructor(
    readonly target: string,
    readonly found: { kind: string; count: number }[],
  ) {
    super(
      `${target} is not empty (${found.map((f) => `${f.count} ${f.kind}`).join(', ')}); ` +
        'a copy goes into an empty store only, and nothing was written',
    );
  }
}

/** Where a store keeps its archive payloads (the local store: files in the store's archives folder). */
export type PayloadsOf = (store: CrewStore) => ArchivePayloadRepository;

const PAGE = 5_000;
const BATCH = 1_000;
/** An upper bound for "everything" in list calls that take a limit. */
const ALL = 1_000_000_000;
const ALL_DAYS = { fromDay: '0000-01-01', toDay: '9999-12-31' };

/** What the store already holds, by kind (the ones that are not empty). The model cache does not count. */
export async function contents(store: CrewStore, payloads: PayloadsOf): Promise<{ kind: string; count: number }[]> {
  const vectors = store.vectors.embedderIds().reduce((n, e) => n + [...store.vectors.entries(e)].length, 0);
  const profiles = store.callProfiles.query(ALL_DAYS);
  const counts: [string, number][] = [
    ['budgets', (await store.budgets.list()).length],
    ['alerts', (await store.alerts.list({ limit: 0 })).length],
    ['fired alert keys', (await store.alerts.firedKeys()).length],
    ['webhooks', (await store.webhooks.webhooks()).length],
    ['settings', Object.keys(store.settings.get()).length],
    ['crews', (await store.crews.list()).length],
    ['crew tokens', (await store.crewTokens.list()).length],
    ['applied recommendations', (await store.appliedRecommendations.list(ALL)).length],
    ['ledger rows', await store.ledger.count()],
    ['memories', store.memories.count()],
    ['vectors', vectors],
    ['access days', store.access.daily({}).length],
    ['archives', (await store.archives.list()).length],
    ['archive payloads', (await payloads(store).list()).length],
    ['runs', store.runs.list({ limit: 0 }).total],
    ['call profile days', profiles.agents.length + profiles.prefixes.length],
  ];
  return counts.filter(([, n]) => n > 0).map(([kind, count]) => ({ kind, count }));
}

/**
 * Copies `source` into `target` (which must be empty: TargetNotEmpty otherwise, before any write). `reopen`
 * closes the target and opens it again, so the check reads what was made durable, not a copy in memory.
 */
export async function copyStore(opts: {
  source: CrewStore;
  target: CrewStore;
  payloads: PayloadsOf;
  reopen: (target: CrewStore) => Promise<CrewStore>;
  progress?: (message: string) => void;
}): Promise<{ report: CopyReport; target: CrewStore }> {
  const { source, payloads } = opts;
  let target = opts.target;
  const say = opts.progress ?? (() => undefined);
  const found = await contents(target, payloads);
  if (found.length) throw new TargetNotEmpty(target.location.display, found);

  // The ledger first: on PostgreSQL the budget counters derive from it, so it must be whole before they exist.
  say('ledger');
  const rows = await ledgerRows(source);
  if (target.ledger.importRows) await target.ledger.importRows(rows);
  else {
    // Appended in time order (the local ledger keeps rows so, ids 1…n): a batch shares one durable write.
    const ordered = [...rows].sort((a, b) => a.ts - b.ts || a.id - b.id);
    for (let i = 0; i < ordered.length; i += BATCH)
      await Promise.all(ordered.slice(i, i + BATCH).map(({ id: _, ...row }) => target.ledger.append(row)));
  }

  say('budgets, alerts, webhooks, settings, crews');
  const budgets = await source.budgets.list();
  if (budgets.length) await target.budgets.putMany(budgets);
  for (const a of (await source.alerts.list({ limit: 0 })).reverse()) await target.alerts.append(a);
  for (const key of await source.alerts.firedKeys()) await target.alerts.markFired(key);
  for (const w of await source.webhooks.webhooks()) await target.webhooks.addWebhook(w);
  const models = await source.models.load();
  if (models) await target.models.save(models);
  const settings = source.settings.get();
  if (Object.keys(settings).length) await target.settings.set(settings);
  for (const c of await source.crews.list()) await target.crews.put(c);
  for (const t of await source.crewTokens.list()) await target.crewTokens.put(t);
  for (const r of (await source.appliedRecommendations.list(ALL)).reverse())
    await target.appliedRecommendations.append(r);

  say('memories, vectors, access counters');
  const memories = [...source.memories.all()];
  for (let i = 0; i < memories.length; i += BATCH) await target.memories.put(memories.slice(i, i + BATCH));
  for (const embedderId of source.vectors.embedderIds()) {
    const entries = [...source.vectors.entries(embedderId)].map(([id, vector]) => ({ id, embedderId, vector }));
    for (let i = 0; i < entries.length; i += BATCH) await target.vectors.put(entries.slice(i, i + BATCH));
  }
  const counters = accessCounters(source);
  if (counters.length) target.access.restore(counters);
  await target.access.flush();

  say('archives, runs');
  const sourcePayloads = payloads(source);
  const targetPayloads = payloads(target);
  for (const sha of await sourcePayloads.list()) {
    const bytes = await sourcePayloads.read(sha);
    if (bytes) await targetPayloads.write(sha, bytes);
  }
  for (const e of await source.archives.list()) await target.archives.put(e);
  for (const run of source.runs.list({ limit: ALL }).runs.reverse()) await target.runs.put(run);
  target.callProfiles.add(source.callProfiles.query(ALL_DAYS));
  await target.callProfiles.flush();

  say('verifying');
  target = await opts.reopen(target);
  const before = await inventory(source, payloads);
  const after = await inventory(target, payloads);
  const kinds = before.map((b) => {
    const a = after.find((x) => x.kind === b.kind)!;
    return {
      kind: b.kind,
      source: b.count,
      target: a.count,
      sourceDigest: b.digest,
      targetDigest: a.digest,
      match: b.count === a.count && b.digest === a.digest,
    };
  });
  const targetRows = await ledgerRows(target);
  const sourcePico = await source.ledger.sumCost({});
  const targetPico = await target.ledger.sumCost({});
  const idsKept = rows.length === targetRows.length && rows.every((r, i) => r.id === targetRows[i]!.id);
  const notCopied = [
    {
      kind: 'access days',
      count: source.access.daily({}).length,
      why: "per-day access aggregates (analytics' history by day) have no write interface; per-memory counters are copied",
    },
  ].filter((n) => n.count > 0);
  return {
    target,
    report: {
      kinds,
      ledger: { rows: rows.length, sourcePico: String(sourcePico), targetPico: String(targetPico), idsKept },
      notCopied,
      verified: kinds.every((k) => k.match) && sourcePico === targetPico,
    },
  };
}

/** Every ledger row, by id. */
async function ledgerRows(store: CrewStore): Promise<LedgerRow[]> {
  const out: LedgerRow[] = [];
  let before: number | undefined;
  for (;;) {
    const { rows } = await store.ledger.list({ limit: PAGE, ...(before === undefined ? {} : { before }) });
    if (!rows.length) break;
    out.push(...rows);
    before = rows[rows.length - 1]!.id;
  }
  return out.reverse();
}

/** The per-memory access counters worth keeping (a memory read at least once). */
function accessCounters(store: CrewStore): { id: string; count: number; last: number | null }[] {
  const out: { id: string; count: number; last: number | null }[] = [];
  for (const m of store.memories.all()) {
    const c = store.access.counters(m.id);
    if (c.count > 0 || c.last !== null) out.push({ id: m.id, count: c.count, last: c.last });
  }
  return out;
}

/** Per kind: how many records, and the sha256 of their canonical JSON in a stable order. */
export async function inventory(
  store: CrewStore,
  payloads: PayloadsOf,
): Promise<{ kind: string; count: number; digest: string }[]> {
  const byId =
    <T>(key: (x: T) => string) =>
    (a: T, b: T) =>
      key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
  const kind = (name: string, records: unknown[]) => ({ kind: name, count: records.length, digest: digest(records) });
  const models = await store.models.load();
  const settings = store.settings.get();
  // Rows in time order (then id), without the id (a local target numbers them anew); latency as PostgreSQL keeps
  // it (whole ms: its column is an integer, as for every row a crew-server writes there).
  const ledger = (await ledgerRows(store))
    .sort((a, b) => a.ts - b.ts || a.id - b.id)
    .map(({ id: _, ...r }) => ({ ...r, latencyMs: Math.round(r.latencyMs) }));
  const vectors: unknown[] = [];
  for (const e of [...store.vectors.embedderIds()].sort())
    for (const [id, v] of [...store.vectors.entries(e)].sort(byId(([id]) => id)))
      vectors.push([e, id, Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')]);
  const pay = payloads(store);
  const payloadRecords: unknown[] = [];
  for (const sha of await pay.list()) {
    const bytes = await pay.read(sha);
    payloadRecords.push([sha, bytes ? createHash('sha256').update(bytes).digest('hex') : null, bytes?.length ?? 0]);
  }
  const profiles = store.callProfiles.query(ALL_DAYS);
  const profileKey = (p: { day: string; crew: string | null; agent: string | null; model: string }) =>
    JSON.stringify([p.day, p.crew, p.agent, p.model, 'sha256' in p ? p.sha256 : '']);
  return [
    kind('budgets', (await store.budgets.list()).sort(byId((b) => b.id))),
    kind('alerts', await store.alerts.list({ limit: 0 })),
    kind('fired alert keys', (await store.alerts.firedKeys()).sort()),
    kind('webhooks', await store.webhooks.webhooks()),
    kind('model cache', models ? [models] : []),
    kind('settings', Object.keys(settings).length ? [settings] : []),
    kind('crews', (await store.crews.list()).sort(byId((c) => c.id))),
    kind('crew tokens', (await store.crewTokens.list()).sort(byId((t) => t.crewId))),
    kind('applied recommendations', await store.appliedRecommendations.list(ALL)),
    kind('ledger rows', ledger),
    kind('memories', [...store.memories.all()]),
    kind('vectors', vectors),
    kind('access counters', accessCounters(store)),
    kind('archives', (await store.archives.list()).sort(byId((a) => a.id))),
    kind('archive payloads', payloadRecords),
    kind('runs', store.runs.list({ limit: ALL }).runs.sort(byId((r) => r.id))),
    kind('call profile days', [...profiles.agents.sort(byId(profileKey)), ...profiles.prefixes.sort(byId(profileKey))]),
  ];
}

/** sha256 over canonical JSON (object keys sorted, recursively). */
export function digest(records: unknown[]): string {
  const h = createHash('sha256');
  for (const r of records) h.update(canonical(r)).update('\n');
  return h.digest('hex');
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}
