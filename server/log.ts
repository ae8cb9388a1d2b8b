/**
 * The server's log. It goes to stderr (stdout is the stdio transport) and, for a daemon, to server.log. Every
 * line passes through `redact`, so an API key that slipped into a message never reaches disk.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const secrets = new Set<string>();

/** Registers a secret (the OpenRouter key, bearer tokens) to be masked wherever it appears. */
export function registerSecret(secret: string | undefined): void {
  if (secret && secret.length >= 8) secrets.add(secret);
}

const KEY_PATTERN = /sk-or-[A-Za-z0-9_-]{8,}/g;

export function redact(text: string): string {
  let out = text.replace(KEY_PATTERN, 'sk-or-…redacted');
  // Every audit line passes here: most hold no secret, and looking costs less than splitting.
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join('…redacted');
  return out;
}

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export function createLogger(write: (line: string) => void, minLevel: LogLevel = 'info'): Logger {
  const order: LogLevel[] = ['debug', 'info', 'warn', 'error'];
  const min = order.indexOf(minLevel);
  const at = (level: LogLevel) => (msg: string) => {
    if (order.indexOf(level) >= min) write(`${new Date().toISOString()} ${level.padEnd(5)} ${redact(msg)}\n`);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
