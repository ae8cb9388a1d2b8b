/**
 * Which daemon a window talks to, in words: the sandbox or the real OpenRouter, and where the data is. Shown at all
 * times (status bar, view headers), because a window's settings only apply when it starts the daemon: a daemon
 * started earlier by another client may run in another mode, and a user must see that before spending.
 */
import type { ServerInfo } from '../../protocol';

export interface ServerMode {
  sandbox: boolean;
  store: 'local' | 'postgres';
  /** The data directory, or the database as `postgres://user@host:port/db` (never with a password). */
  location: string;
  dataDir: string;
  pid: number;
}

export function modeOf(info: ServerInfo.Result): ServerMode {
  return {
    sandbox: info.upstream.sandbox,
    store: info.store?.kind ?? 'local',
    location: info.store?.location ?? info.dataDir,
    dataDir: info.dataDir,
    pid: info.pid,
  };
}

/** "sandbox · local store", "OpenRouter · PostgreSQL": a view header's description. */
export function modeLabel(m: ServerMode): string {
  return `${m.sandbox ? 'sandbox' : 'OpenRouter'} · ${m.store === 'postgres' ? 'PostgreSQL' : 'local store'}`;
}

/** What the status bar puts before the budget figure: nothing for the real OpenRouter on the local store. */
export function modePrefix(m: ServerMode | undefined): string {
  if (!m) return '';
  return `${m.sandbox ? '$(beaker) sandbox · ' : ''}${m.store === 'postgres' ? '$(database) ' : ''}`;
}

/** Markdown lines for a tooltip: the mode, the daemon and where its data is. */
export function modeTooltip(m: ServerMode): string {
  const upstream = m.sandbox
    ? '**Sandbox**: calls go to the built-in fake OpenRouter; costs are simulated and nothing is billed.'
    : '**OpenRouter**: calls go to openrouter.ai and are billed to your key.';
  const store =
    m.store === 'postgres' ? `Store: PostgreSQL \`${m.location}\` (shared by a team)` : `Store: \`${m.dataDir}\``;
  return `${upstream}\n\n${store} · crew-server pid ${m.pid}`;
}

export interface ModeSettings {
  sandbox: boolean;
  storeUrl: string;
}

/**
 * Why the running daemon is not what this window's settings ask for, or undefined when it is. Only what a window
 * can ask for is compared: the sandbox switch, and a store URL set in the settings.
 */
export function modeMismatch(m: ServerMode, s: ModeSettings): string | undefined {
  const wants: string[] = [];
  if (s.sandbox !== m.sandbox) wants.push(s.sandbox ? 'the sandbox' : 'the real OpenRouter');
  if (s.storeUrl && m.store !== 'postgres') wants.push('the PostgreSQL store');
  if (!wants.length) return undefined;
  return (
    `crew-server (pid ${m.pid}) runs ${modeLabel(m)}, but this window's settings ask for ${wants.join(' and ')}. ` +
    'Settings apply when a server starts: restart it to apply them.'
  );
}
