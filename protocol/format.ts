/**
 * How every client and every server message writes figures: one rule for dollars, percentages and counted things,
 * so the status bar, the dashboards, the CLI, an alert and an error say the same amount the same way. Only display:
 * amounts stay exact in the protocol. Locale and time zone are fixed (en-US, UTC) because the server's days are UTC
 * days and the same figure must read the same in VS Code, in a browser and in a test.
 */

const CENTS = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const COUNT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/**
 * US dollars: cents from $1 ("$1,234.50"); below $1 up to four significant digits, never fewer than two decimals
 * and no trailing zeros past the cents ("$0.50", "$0.01", "$0.0125", "$0.00003075"). LLM calls cost fractions of
 * a cent, so "$0.00" would hide them, and four digits keep a typical call's price exact.
 */
export function formatUsd(usd: number): string {
  if (!Number.isFinite(usd)) return '—';
  const sign = usd < 0 ? '-' : '';
  const a = Math.abs(usd);
  if (a === 0) return '$0.00';
  if (Number(a.toFixed(2)) >= 1) return `${sign}$${CENTS.format(a)}`;
  const digits = Math.min(12, Math.max(2, 3 - Math.floor(Math.log10(a))));
  const text = a.toFixed(digits).replace(/(\.\d\d\d*?)0+$/, '$1');
  return Number(text) === 0 ? `${sign}$${a.toExponential(1)}` : `${sign}$${text}`;
}

/** A percentage the server already computed (0 … 100+): one decimal, none when it is whole ("95%", "95.2%"). */
export function formatPercent(percent: number): string {
  if (!Number.isFinite(percent)) return '—';
  const r = Math.round(percent * 10) / 10;
  return `${Number.isInteger(r) ? r : r.toFixed(1)}%`;
}

/** A share in [0, 1] as a percentage. */
export function formatShare(share: number): string {
  return formatPercent(share * 100);
}

/** "1 memory", "2 memories", "1,204 steps": a count with its noun in the right number. */
export function counted(n: number, singular: string, plural = `${singular}s`): string {
  return `${formatCount(n)} ${n === 1 ? singular : plural}`;
}

/** Enum values the server sends (`budget_exceeded`, `over_limit`) as words: "budget exceeded". */
export function formatEnum(value: string): string {
  return value.replace(/[_-]+/g, ' ');
}

export function formatCount(n: number): string {
  return Number.isFinite(n) ? COUNT.format(n) : '—';
}

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

/** Bytes in binary units (1 KB = 1024 B), one decimal past bytes. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${UNITS[u]}`;
}

/** A compression ratio (bytes in / bytes out). */
export function formatRatio(ratio: number): string {
  return Number.isFinite(ratio) ? `${ratio.toFixed(1)}×` : '—';
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `2026-03-05` (a UTC day, or the day of an ISO instant) → `Mar 5`. */
export function formatDay(dayOrIso: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(dayOrIso);
  if (!m) return dayOrIso;
  return `${MONTHS[Number(m[2]) - 1] ?? m[2]} ${Number(m[3])}`;
}

/** An ISO instant → `2026-03-05 14:02 UTC`. */
export function formatDateTime(iso: string | null): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  return `${new Date(t).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** An ISO instant → `2026-03-05` (UTC). */
export function formatDate(iso: string | null): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t).toISOString().slice(0, 10);
}

/** `crew:ops` → `crew ops`; `global` stays. */
export function formatScope(scope: string): string {
  const i = scope.indexOf(':');
  return i < 0 ? scope : `${scope.slice(0, i)} ${scope.slice(i + 1)}`;
}

/** Hour of the day as a short label: `0` → `00`. */
export function formatHour(h: number): string {
  return String(h).padStart(2, '0');
}

export const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
