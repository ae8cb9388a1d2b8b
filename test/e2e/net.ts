/** What the e2e suites share: the set-up scripts' answers, and free ports for what they start. */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

/**
 * Runs test/e2e/<script> (it installs what the suite needs once, cached outside the repository) and returns the
 * `KEY=value` lines it prints: where the tools are.
 */
export function runSetupScript(script: string): Record<string, string> {
  const out = execFileSync('bash', [path.join(__dirname, script)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 20 * 60_000,
  });
  return Object.fromEntries(
    out
      .trim()
      .split('\n')
      .map((l) => l.split('=', 2) as [string, string]),
  );
}

export { freePort } from '../helpers/ports';
