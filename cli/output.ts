/**
 * Everything the CLI prints goes through here: JSON (the server's result as-is, for machines), `list` (one
 * `key: value` block per record, for grep) and aligned tables (for people), plus colour that honours
 * NO_COLOR / FORCE_COLOR / non-TTY, money that never rounds a small cost to zero, and the budget bar.
 */
import { formatPercent, formatUsd } from '../protocol/format';

export type Format = 'table' | 'json' | 'list' | 'csv';
export const FORMATS: readonly Format[] = ['table', 'json', 'list', 'csv'];

type Paint = (s: string) => string;
export interface Colors {
  enabled: boolean;
  bold: Paint;
  dim: Paint;
  red: Paint;
  green: Paint;
  yellow: Paint;
  cyan: Paint;
}

/**
 * FORCE_COLOR wins over NO_COLOR (as in Node itself); NO_COLOR wins over a TTY; pipes and files get no colour,
 * so `crew … | grep` and CI logs stay clean.
 */
export function colorEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv, flag: boolean | undefined): boolean {
  if (flag === false) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force !== 'false';
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

export function colors(enabled: boolean): Colors {
  const sgr = (open: number, close: number): Paint =>
    enabled ? (s) => `\u001b[${open}m${s}\u001b[${close}m` : (s) => s;
  return {
    enabled,
    bold: sgr(1, 22),
    dim: sgr(2, 22),
    red: sgr(31, 39),
    green: sgr(32, 39),
    yellow: sgr(33, 39),
    cyan: sgr(36, 39),
  };
}

// eslint-disable-next-line no-control-regex -- ANSI escape sequences are exactly what is stripped here
const ANSI = /\u001b\[[0-9;]*m/g;
export const stripAnsi = (s: string): string => s.replace(ANSI, '');
export const visibleLength = (s: string): number => stripAnsi(s).length;

/** Dollars and percentages as every client writes them (protocol/format.ts); `—` for a figure that is absent. */
export function money(usd: number | null | undefined): string {
  return usd === null || usd === undefined ? '—' : formatUsd(usd);
}

export const percent = formatPercent;

export function count(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : n.toLocaleString('en-US');
}

/** Local time to the minute (or second), for tables; JSON keeps the server's ISO strings. */
export function when(iso: string | null | undefined, seconds = false): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, '0');
  const base = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
  return seconds ? `${base}:${p(d.getSeconds())}` : base;
}

export type BudgetStateName = 'ok' | 'warning' | 'exceeded';

export function stateColor(c: Colors, state: BudgetStateName): Paint {
  return state === 'ok' ? c.green : state === 'warning' ? c.yellow : c.red;
}

/** `██████░░░░░░ 52.3%`, coloured by the budget's state (green ok, yellow warning, red exceeded). */
export function bar(c: Colors, percentUsed: number, state: BudgetStateName, width = 16): string {
  const filled = Math.max(0, Math.min(width, Math.round((Math.min(percentUsed, 100) / 100) * width)));
  const paint = stateColor(c, state);
  return `${paint('█'.repeat(filled))}${c.dim('░'.repeat(width - filled))} ${percent(percentUsed)}`;
}

export interface Column<R> {
  /** Field name: the key in `list` output. */
  key: string;
  header: string;
  align?: 'left' | 'right';
  /** Plain text of the cell (default: String(row[key])). */
  text?: (row: R) => string;
  /** Colour applied after padding, so escape codes never break alignment. */
  paint?: (row: R, c: Colors) => Paint | undefined;
}

export class Output {
  readonly c: Colors;
  /** Colours for stderr, which may be a terminal when stdout is piped. */
  readonly ce: Colors;

  constructor(
    readonly format: Format,
    colorFlag: boolean | undefined,
    private readonly stdout: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout,
    private readonly stderr: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.c = colors(colorEnabled(stdout, env, colorFlag));
    this.ce = colors(colorEnabled(stderr, env, colorFlag));
  }

  get json(): boolean {
    return this.format === 'json';
  }

  /** Human mode: table or list. Progress, notes and banners are only printed in human mode. */
  get human(): boolean {
    return this.format === 'table' || this.format === 'list';
  }

  write(text: string): void {
    this.stdout.write(text);
  }

  line(text = ''): void {
    this.stdout.write(text + '\n');
  }

  /** Side information (notes, cost summaries) goes to stderr so stdout stays the command's answer. */
  note(text: string): void {
    this.stderr.write(text + '\n');
  }

  /**
   * A transient status line on stderr for a slow step ("starting crew-server…"), only on a terminal and in
   * human mode; the returned function erases it (call it before printing anything else to that terminal).
   */
  progress(text: string): () => void {
    if (!this.human || this.stderr.isTTY !== true) return () => {};
    this.stderr.write(this.ce.dim(text));
    let shown = true;
    return () => {
      if (!shown) return;
      shown = false;
      this.stderr.write('\r\u001b[K');
    };
  }

  printJson(value: unknown): void {
    this.stdout.write(JSON.stringify(value, null, 2) + '\n');
  }

  table<R>(columns: Column<R>[], rows: R[], opts: { footer?: R } = {}): void {
    const all = opts.footer ? [...rows, opts.footer] : rows;
    const cells = all.map((r) => columns.map((col) => cellText(col, r)));
    const widths = columns.map((col, i) =>
      Math.max(visibleLength(col.header), ...cells.map((row) => visibleLength(row[i]!))),
    );
    const pad = (s: string, i: number) => {
      const gap = ' '.repeat(Math.max(0, widths[i]! - visibleLength(s)));
      return columns[i]!.align === 'right' ? gap + s : s + gap;
    };
    const render = (texts: string[], r: R | undefined) =>
      texts
        .map((t, i) => {
          const padded = pad(t, i);
          const paint = r === undefined ? undefined : columns[i]!.paint?.(r, this.c);
          return paint ? paint(padded) : padded;
        })
        .join('  ')
        .trimEnd();
    this.line(
      this.c.bold(
        render(
          columns.map((col) => col.header),
          undefined,
        ),
      ),
    );
    cells.forEach((texts, i) => {
      const row = all[i]!;
      const line = render(texts, row);
      this.line(opts.footer && row === opts.footer ? this.c.bold(line) : line);
    });
  }

  list<R>(columns: Column<R>[], rows: R[]): void {
    rows.forEach((r, i) => {
      if (i > 0) this.line();
      for (const col of columns) this.line(`${col.key}: ${cellText(col, r)}`);
    });
  }

  /** The common case: `--json` prints the whole result, table/list render `rows` with `columns`. */
  records<R>(result: unknown, columns: Column<R>[], rows: R[], opts: { footer?: R; empty?: string } = {}): void {
    if (this.json) return this.printJson(result);
    if (rows.length === 0 && opts.empty) return this.note(opts.empty);
    if (this.format === 'list') return this.list(columns, opts.footer ? [...rows, opts.footer] : rows);
    this.table(columns, rows, opts);
  }

  /** A single record: `key: value` lines in both human formats (a one-row table reads worse). */
  record(result: unknown, fields: [string, string][]): void {
    if (this.json) return this.printJson(result);
    const width = Math.max(...fields.map(([k]) => k.length));
    for (const [k, v] of fields)
      this.line(this.format === 'list' ? `${k}: ${v}` : `${this.c.dim(k.padEnd(width))}  ${v}`);
  }
}

function cellText<R>(col: Column<R>, r: R): string {
  if (col.text) return col.text(r);
  const v = (r as Record<string, unknown>)[col.key];
  if (v === null || v === undefined) return '—';
  if (Array.isArray(v)) return v.join(',');
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v) ?? '';
}
