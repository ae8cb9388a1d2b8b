/** The extension's settings (contributed in package.json under `openrouterCrew.*`), read fresh when needed. */
import * as vscode from 'vscode';
import { defaultDataDir } from '../protocol/node';

export interface Settings {
  /** Resolved: the setting, or the default shared with the CLI. */
  dataDir: string;
  sandbox: boolean;
  /** A team's PostgreSQL for the server this window starts; '' keeps CREW_STORE_URL or the data directory. */
  storeUrl: string;
  /** '' keeps the server's choice. */
  embedder: string;
  refreshDebounceMs: number;
  memoryContextTokens: number;
  /** Ask before a run whose estimate is above this (USD); 0: never. */
  approveRunsOverUsd: number;
  /** A ceiling for runs (USD); 0: none. */
  runMaxCostUsd: number;
  runTellRemaining: boolean;
}

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration('openrouterCrew');
  const dir = c.get<string>('dataDirectory', '').trim();
  return {
    dataDir: dir || defaultDataDir(),
    sandbox: c.get<boolean>('sandbox', false),
    storeUrl: c.get<string>('storeUrl', '').trim(),
    embedder: c.get<string>('embedder', ''),
    refreshDebounceMs: c.get<number>('refreshDebounceMs', 250),
    memoryContextTokens: c.get<number>('memoryContextTokens', 800),
    approveRunsOverUsd: c.get<number>('approveRunsOverUsd', 0.5),
    runMaxCostUsd: c.get<number>('runMaxCostUsd', 0),
    runTellRemaining: c.get<boolean>('runTellRemaining', false),
  };
}

/** Settings whose change needs the server restarted (they apply when this window starts it). */
export const RESTART_SETTINGS = [
  'openrouterCrew.dataDirectory',
  'openrouterCrew.sandbox',
  'openrouterCrew.embedder',
  'openrouterCrew.storeUrl',
];
