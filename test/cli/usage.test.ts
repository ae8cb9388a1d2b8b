// The command line itself: --help with an example on every command (found by walking the help, so a new
// command without one fails here), usage errors → exit 2 with `crew: …`, --version.
import assert from 'node:assert/strict';
import { crew, crewJson, Sandbox } from './helpers';

/** Subcommand names listed under "Commands:" in a help text (without the built-in `help`). */
function subcommands(help: string): string[] {
  const section = help.split(/^Commands:\s*$/m)[1];
  if (!section) return [];
  const names: string[] = [];
  for (const line of section.split('\n')) {
    if (/^\S/.test(line)) break; // the next section ("Example:")
    const m = /^ {2}([a-z][\w-]*)/.exec(line);
    if (m && m[1] !== 'help') names.push(m[1]!);
  }
  return names;
}

describe('crew CLI: help and usage', function () {
  const box = new Sandbox();
  let dataDir: string;
  before(async () => {
    dataDir = await box.dir();
  });
  after(() => box.cleanup());

  it('has --help with an example on every command and subcommand', async () => {
    const seen: string[] = [];
    const walk = async (path: string[]): Promise<void> => {
      const run = await crew([...path, '--help'], { dataDir });
      assert.equal(run.code, 0, `crew ${path.join(' ')} --help exited ${run.code}: ${run.stderr}`);
      assert.match(run.stdout, /^Usage: crew/m, `crew ${path.join(' ')} --help`);
      assert.match(
        run.stdout,
        /\nExamples?:\n {2}(crew|curl|OPENROUTER)/,
        `crew ${path.join(' ')} --help has no example`,
      );
      seen.push(path.join(' '));
      await Promise.all(subcommands(run.stdout).map((name) => walk([...path, name])));
    };
    await walk([]);
    // The walk must actually reach the documented commands (else it would pass vacuously).
    for (const cmd of [
      'server start',
      'server stop',
      'server status',
      'server token',
      'models',
      'chat',
      'budget set',
      'budget status',
      'budget delete',
      'budget alert',
      'budget alerts',
      'cost report',
      'ledger',
      'sandbox',
      'doctor',
      'store verify',
      'store backup',
      'store restore',
      'audit',
      'demo',
    ])
      assert.ok(seen.includes(cmd), `help walk did not reach "crew ${cmd}" (saw: ${seen.join(', ')})`);
  });

  it('exits 2 with "crew: …" on stderr for usage errors', async () => {
    const cases: string[][] = [
      ['--bogus'],
      ['no-such-command'],
      ['chat', '--model', 'openai/gpt-4o-mini'], // missing prompt
      ['chat', 'hello'], // missing --model
      ['budget', 'set', '--scope', 'global', '--period', 'daily'], // missing --limit
      ['budget', 'set', '--scope', 'global', '--limit', '5', '--period', 'yearly'],
      ['budget', 'set', '--scope', 'global', '--limit', 'lots', '--period', 'daily'],
      ['budget', 'alert', '--enable', '--disable'],
      ['ledger', '--limit', 'ten'],
      ['--format', 'yaml', 'ledger'],
      ['--format', 'csv', 'ledger'], // csv is only for cost report
      ['cost', 'report', '--by', 'week'],
      ['budget'], // a group without its subcommand
    ];
    const runs = await Promise.all(cases.map((args) => crew(args, { dataDir })));
    runs.forEach((run, i) => {
      const args = cases[i]!.join(' ');
      assert.equal(run.code, 2, `crew ${args}: exit ${run.code}, stderr: ${run.stderr}`);
      if (args !== 'budget') assert.match(run.stderr, /^crew: /m, `crew ${args}: stderr ${run.stderr}`);
    });
    // None of these may have started a server.
    const status = await crewJson<{ running: boolean }>(['server', 'status'], { dataDir });
    assert.equal(status.json.running, false);
  });

  it('prints a JSON error object on stdout for a usage error with --json', async () => {
    const { run, json } = await crewJson<{ error: { code: string; message: string } }>(['ledger', '--limit', 'ten'], {
      dataDir,
    });
    assert.equal(run.code, 2);
    assert.equal(json.error.code, 'usage');
    assert.match(json.error.message, /--limit/);
  });

  it('prints its version', async () => {
    const run = await crew(['--version']);
    assert.equal(run.code, 0);
    assert.match(run.stdout.trim(), /^\d+\.\d+\.\d+$/);
  });
});
