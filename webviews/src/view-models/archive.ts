/**
 * The Archive page's view model: the archive table's filter and sort, and the dry-run policy form checked with the
 * server's rules for `archive/create` (server/memory/archive/schemas.ts).
 */
import type { Archive, ArchivePolicy, MemoryKind } from '../../../protocol';

export const SORT_KEYS = ['createdAt', 'count', 'bytesOut', 'ratio', 'crews', 'state'] as const;
export type SortKey = (typeof SORT_KEYS)[number];
export interface ArchiveSort {
  key: SortKey;
  dir: 'asc' | 'desc';
}
export const DEFAULT_SORT: ArchiveSort = { key: 'createdAt', dir: 'desc' };

/** The sorts offered as one list (on a phone the column headers are hidden), as `key:dir` values. */
export const SORT_CHOICES: readonly { value: string; label: string; sort: ArchiveSort }[] = [
  { value: 'createdAt:desc', label: 'newest first', sort: { key: 'createdAt', dir: 'desc' } },
  { value: 'createdAt:asc', label: 'oldest first', sort: { key: 'createdAt', dir: 'asc' } },
  { value: 'count:desc', label: 'most memories', sort: { key: 'count', dir: 'desc' } },
  { value: 'bytesOut:desc', label: 'largest', sort: { key: 'bytesOut', dir: 'desc' } },
  { value: 'ratio:desc', label: 'best compression', sort: { key: 'ratio', dir: 'desc' } },
  { value: 'crews:asc', label: 'crew A–Z', sort: { key: 'crews', dir: 'asc' } },
  { value: 'state:asc', label: 'state', sort: { key: 'state', dir: 'asc' } },
];

export function sortValue(s: ArchiveSort): string {
  return `${s.key}:${s.dir}`;
}

export const STATES = ['pending', 'complete', 'restored'] as const;
export interface ArchiveFilter {
  /** Matches a crew, the archive id or its checksum, case-insensitive. */
  text: string;
  /** '' for every state. */
  state: '' | Archive['state'];
}

export function filterArchives(list: readonly Archive[], f: ArchiveFilter): Archive[] {
  const q = f.text.trim().toLowerCase();
  return list.filter(
    (a) =>
      (f.state === '' || a.state === f.state) &&
      (q === '' ||
        a.crews.some((c) => c.toLowerCase().includes(q)) ||
        a.id.toLowerCase().includes(q) ||
        a.sha256.startsWith(q)),
  );
}

export function sortArchives(list: readonly Archive[], s: ArchiveSort): Archive[] {
  const value = (a: Archive): number | string => {
    switch (s.key) {
      case 'createdAt':
        return a.createdAt;
      case 'crews':
        return a.crews.join(', ');
      case 'state':
        return a.state;
      default:
        return a[s.key];
    }
  };
  const sign = s.dir === 'asc' ? 1 : -1;
  return [...list].sort((a, b) => {
    const x = value(a);
    const y = value(b);
    const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
    // Ties keep the server's order (newest first) whatever the direction.
    return c === 0 ? list.indexOf(a) - list.indexOf(b) : sign * c;
  });
}

/** Clicking a column sorts by it; clicking it again flips the direction. */
export function nextSort(current: ArchiveSort, key: SortKey): ArchiveSort {
  if (current.key === key) return { key, dir: current.dir === 'asc' ? 'desc' : 'asc' };
  return { key, dir: key === 'crews' || key === 'state' ? 'asc' : 'desc' };
}

export const KINDS: readonly MemoryKind[] = ['fact', 'insight', 'lesson', 'result', 'note'];

export interface PolicyDraft {
  crew: string;
  olderThanDays: string;
  belowScore: string;
  kinds: MemoryKind[];
  includePinned: boolean;
}

export type PolicyField = 'crew' | 'olderThanDays' | 'belowScore' | 'kinds' | 'form';

export function emptyPolicy(): PolicyDraft {
  return { crew: '', olderThanDays: '30', belowScore: '', kinds: [], includePinned: false };
}

export function revivePolicy(saved: unknown): PolicyDraft {
  const d = emptyPolicy();
  if (typeof saved !== 'object' || saved === null) return d;
  const s = saved as Record<string, unknown>;
  return {
    crew: typeof s.crew === 'string' ? s.crew : d.crew,
    olderThanDays: typeof s.olderThanDays === 'string' ? s.olderThanDays : d.olderThanDays,
    belowScore: typeof s.belowScore === 'string' ? s.belowScore : d.belowScore,
    kinds: Array.isArray(s.kinds) ? KINDS.filter((k) => (s.kinds as unknown[]).includes(k)) : d.kinds,
    includePinned: s.includePinned === true,
  };
}

/** The policy to send, or the errors by field. The same rules as the server's policy schema. */
export function validatePolicy(d: PolicyDraft): {
  policy?: ArchivePolicy;
  errors: Partial<Record<PolicyField, string>>;
} {
  const errors: Partial<Record<PolicyField, string>> = {};
  const policy: ArchivePolicy = {};
  const crew = d.crew.trim();
  if (crew.length > 200) errors.crew = 'at most 200 characters';
  else if (crew) policy.crew = crew;
  const older = d.olderThanDays.trim();
  if (older) {
    const n = Number(older);
    if (!Number.isFinite(n) || n < 0 || n > 36_500) errors.olderThanDays = 'a number of days, 0 to 36,500';
    else policy.olderThanDays = n;
  }
  const below = d.belowScore.trim();
  if (below) {
    const n = Number(below);
    if (!Number.isFinite(n) || n <= 0 || n > 1) errors.belowScore = 'a retention score above 0 and at most 1';
    else policy.belowScore = n;
  }
  if (!older && !below && !errors.olderThanDays && !errors.belowScore)
    errors.form = 'give an age (older than) or a retention score (below): a policy never means "everything"';
  if (d.kinds.length) policy.kinds = [...d.kinds];
  if (d.includePinned) policy.includePinned = true;
  return Object.keys(errors).length ? { errors } : { policy, errors };
}

/** Which policy field a server InvalidParams names (`policy.belowScore` → belowScore). */
export function policyFieldOf(data: unknown): PolicyField {
  const field = (data as { field?: unknown } | undefined)?.field;
  const name = typeof field === 'string' ? field.replace(/^policy\.?/, '').split('.')[0] : '';
  return name === 'crew' || name === 'olderThanDays' || name === 'belowScore' || name === 'kinds' ? name : 'form';
}
