/**
 * The OpenRouter API key lives in VS Code's SecretStorage (the OS keychain), never in settings or on disk of
 * ours; it reaches the server in memory through `server/setApiKey`.
 */
import type * as vscode from 'vscode';

const KEY = 'openrouterCrew.apiKey';

export class ApiKeyStore {
  constructor(private readonly secrets: vscode.SecretStorage) {}

  async get(): Promise<string | undefined> {
    return (await this.secrets.get(KEY)) || undefined;
  }

  set(key: string): Thenable<void> {
    return this.secrets.store(KEY, key);
  }

  clear(): Thenable<void> {
    return this.secrets.delete(KEY);
  }

  onDidChange(listener: () => void): vscode.Disposable {
    return this.secrets.onDidChange((e) => {
      if (e.key === KEY) listener();
    });
  }
}

/** What the input box accepts: OpenRouter keys start `sk-or-`; other OpenAI-compatible servers' keys vary. */
export function validateApiKey(value: string): string | undefined {
  const v = value.trim();
  if (v.length === 0) return 'Paste your OpenRouter API key (it starts with sk-or-)';
  if (v.length < 8) return 'That is too short to be an API key';
  if (/\s/.test(v)) return 'An API key has no spaces';
  return undefined;
}
