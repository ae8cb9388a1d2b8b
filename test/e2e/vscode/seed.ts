/**
 * A data directory with a running sandbox daemon and real data in it, made through the real `crew` binary: budgets,
 * a crew with two agents, memories, calls in the ledger and an archive. The extension under test connects to this
 * daemon (as it would to one the CLI started), so everything it shows comes from the server.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ArchiveCreate, MemoryAdd } from '../../../protocol';
import { crew, crewJson } from '../../cli/helpers';

export interface Seeded {
  dataDir: string;
  crewName: string;
  memoryIds: string[];
  archiveId: string;
  /** `crew --data-dir <dir> …` (the daemon is the sandbox one started while seeding). */
  crew(args: string[]): ReturnType<typeof crew>;
  stop(): Promise<void>;
}

export async function seed(): Promise<Seeded> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'crew-e2e-data-'));
  const run = async (args: string[]) => {
    const r = await crew(['--sandbox', '--data-dir', dataDir, ...args], { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`crew ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r;
  };
  // The first command starts the data directory's daemon in sandbox mode; the others find it running.
  const json = <T>(args: string[]) => crewJsonIn<T>(dataDir, ['--sandbox', ...args]);
  const crewName = 'launch';
  await run(['crew', 'create', crewName, '--description', 'writes the launch post']);
  await run([
    'crew',
    'add-agent',
    crewName,
    '--name',
    'researcher',
    '--role',
    'finds facts',
    '--model',
    'openai/gpt-4o-mini',
    // Without a cap, a call reserves the model's whole completion limit, more than the seeded daily budget.
    '--max-tokens',
    '64',
  ]);
  await run([
    'crew',
    'add-agent',
    crewName,
    '--name',
    'writer',
    '--role',
    'drafts',
    '--model',
    'anthropic/claude-3.5-haiku',
    '--max-tokens',
    '64',
  ]);
  const memoryIds: string[] = [];
  for (const [kind, content] of [
    ['fact', 'Postgres partial indexes made the nightly report ten times faster'],
    ['lesson', 'Friday launches went badly twice: on-call was thin over the weekend'],
    ['note', 'The team lunch moved to Thursday'],
    ['note', 'Old vendor contract notes from last year'],
  ] as const)
    memoryIds.push(
      (await json<MemoryAdd.Result>(['memory', 'add', '--crew', crewName, '--kind', kind, content])).memory.id,
    );
  await run([
    'chat',
    '--crew',
    crewName,
    '--agent',
    `${crewName}/researcher`,
    '--model',
    'openai/gpt-4o-mini',
    'List launch risks',
  ]);
  // Room for the suites' calls and runs; a call with a large max_tokens is refused (the UI scenario's alert).
  const global = ['--scope', 'global', '--period', 'daily', '--limit', '0.005', '--thresholds', '50,80,100'];
  await run(['budget', 'set', ...global]);
  await run(['budget', 'set', '--scope', `crew:${crewName}`, '--period', 'monthly', '--limit', '5']);
  const archived = await json<ArchiveCreate.CreatedResult>(['archive', 'archive', '--ids', memoryIds[3]!]);
  return {
    dataDir,
    crewName,
    memoryIds,
    archiveId: archived.archive!.id,
    crew: (args) => crew(['--data-dir', dataDir, ...args], { timeoutMs: 60_000 }),
    stop: async () => {
      await stopDaemon(dataDir);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** `crew --json --data-dir <dir> …` against whatever daemon serves that directory. */
export async function crewJsonIn<T>(dataDir: string, args: string[]): Promise<T> {
  const r = await crewJson<T>(['--data-dir', dataDir, ...args], { timeoutMs: 60_000 });
  if (r.run.code !== 0) throw new Error(`crew ${args.join(' ')} exited ${r.run.code}: ${r.run.stderr}`);
  return r.json;
}

export async function stopDaemon(dataDir: string): Promise<void> {
  await crew(['--data-dir', dataDir, 'server', 'stop'], { timeoutMs: 30_000 }).catch(() => undefined);
}
