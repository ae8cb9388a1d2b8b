/** What the e2e suites share: the set-up scripts' answers, and free ports for what they start. */
import { execFileSync } from 'node:child_process';
import net from 'node:net';
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

/** A free TCP port on 127.0.0.1 for a process the e2e suites start (code-server, n8n and its task broker). */

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
