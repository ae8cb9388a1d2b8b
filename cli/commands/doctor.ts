/**
 * `crew doctor`: one line per check, ok or fail, and for a failure the command that fixes it. Checks run in
 * order and later ones are skipped (not failed) when what they need is missing, so the first failure is the
 * one to fix. Exit 1 if anything failed.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import {
  DEFAULT_OPENROUTER_BASE_URL,
  PROTOCOL_VERSION,
  ServerUpstream,
  StoreVerify,
  type ServerInfo,
} from '../../protocol';
import { dataDirPaths } from '../../protocol/node';
import type { CrewClient } from '../client/connection';
import { withContext, type Context } from '../context';
import { QuietFailure } from '../errors';
import { money } from '../output';
import { example } from './help';

export type CheckState = 'ok' | 'fail' | 'skip';
export interface Check {
  name: string;
  state: CheckState;
  detail: string;
  /** What to do about a failure. */
  fix: string | null;
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check configuration, store, server and OpenRouter key; print a fix for each failure')
    .addHelpText('after', example('crew doctor', 'crew --sandbox doctor --json'))
    .action(
      withContext(async (ctx) => {
        const checks = await runChecks(ctx);
        const ok = checks.every((x) => x.state !== 'fail');
        if (ctx.out.json) ctx.out.printJson({ ok, checks });
        else printChecks(ctx, checks);
        if (!ok) throw new QuietFailure(`${checks.filter((x) => x.state === 'fail').length} check(s) failed`);
      }),
    );
}

async function runChecks(ctx: Context): Promise<Check[]> {
  const paths = dataDirPaths(ctx.dataDir);
  const checks: Check[] = [];
  const add = (name: string, state: CheckState, detail: string, fix: string | null = null) =>
    checks.push({ name, state, detail, fix });

  // ── configuration (local: what a server started from this shell would see)
  try {
    await fsp.mkdir(paths.dataDir, { recursive: true, mode: 0o700 });
    const probe = path.join(paths.dataDir, `.doctor-${process.pid}`);
    await fsp.writeFile(probe, 'ok');
    await fsp.rm(probe);
    add('data dir', 'ok', `${paths.dataDir} is writable`);
  } catch (e) {
    add(
      'data dir',
      'fail',
      `${paths.dataDir}: ${(e as Error).message}`,
      `fix its permissions (chmod u+rwx ${paths.dataDir}) or use --data-dir <dir>`,
    );
  }
  const localKey = await keySource(paths.apiKey);

  // ── server reachable, protocol version
  let client: CrewClient | undefined;
  let info: ServerInfo.Result | undefined;
  try {
    client = await ctx.connect();
    info = client.info;
    add(
      'server',
      'ok',
      `crew-server ${info.version}, protocol ${info.protocolVersion} (client ${PROTOCOL_VERSION}), pid ${info.pid}` +
        (ctx.global.stdio ? ', stdio' : `, ${info.socket ?? 'no socket'}`),
    );
  } catch (e) {
    add('server', 'fail', (e as Error).message, `read ${paths.log}, then: crew server stop && crew server start`);
  }

  // ── API key and base URL: the server's view wins (a running daemon may have another environment than this shell)
  const sandbox = info?.upstream.sandbox ?? (ctx.global.sandbox === true || process.env.CREW_SANDBOX === '1');
  if (sandbox) add('api key', 'ok', 'sandbox: no key needed (calls go to the built-in fake OpenRouter)');
  else if (info ? info.upstream.keyConfigured : localKey.found)
    add(
      'api key',
      'ok',
      info ? `the server has a key${localKey.found ? ` (here: ${localKey.where})` : ''}` : `found in ${localKey.where}`,
    );
  else
    add(
      'api key',
      'fail',
      localKey.problem ?? 'no OpenRouter API key: OPENROUTER_API_KEY is unset and there is no key file',
      localKey.problem
        ? `chmod 600 ${paths.apiKey}`
        : `export OPENROUTER_API_KEY=sk-or-… (or write it to ${paths.apiKey} with mode 600), then crew server stop && crew server start`,
    );
  const baseUrl = info?.upstream.baseUrl ?? process.env.OPENROUTER_BASE_URL ?? DEFAULT_OPENROUTER_BASE_URL;
  const urlProblem = checkUrl(baseUrl);
  if (urlProblem)
    add(
      'base url',
      'fail',
      `${baseUrl}: ${urlProblem}`,
      `set OPENROUTER_BASE_URL to an http(s) URL such as ${DEFAULT_OPENROUTER_BASE_URL} (or unset it)`,
    );
  else add('base url', 'ok', sandbox ? `${baseUrl} (SANDBOX)` : baseUrl);

  if (!client) {
    add('store', 'skip', 'needs the server');
    add('openrouter key', 'skip', 'needs the server');
    return checks;
  }

  // ── store integrity
  try {
    const v = await client.request<StoreVerify.Result>(StoreVerify.method);
    const bad = v.checks.filter((x) => !x.ok);
    if (v.ok)
      add('store', 'ok', `schema ${v.schemaVersion}; ${v.checks.map((x) => `${x.name}: ${x.detail}`).join('; ')}`);
    else
      add(
        'store',
        'fail',
        bad.map((x) => `${x.name}: ${x.detail}`).join('; '),
        `restore a backup: crew store restore <file> (backups in ${paths.backups})`,
      );
  } catch (e) {
    add('store', 'fail', (e as Error).message, `crew store verify for details; restore a backup from ${paths.backups}`);
  }

  // ── the key against OpenRouter's /key
  try {
    const u = await client.request<ServerUpstream.Result>(ServerUpstream.method);
    if (u.key)
      add(
        'openrouter key',
        'ok',
        `valid${u.key.label ? ` (${u.key.label})` : ''}: used ${money(u.key.usageUsd)}` +
          (u.key.limitUsd === null
            ? ', no credit limit'
            : `, ${money(u.key.limitRemainingUsd)} of ${money(u.key.limitUsd)} left`) +
          (u.sandbox ? ' — SANDBOX' : ''),
      );
    else
      add(
        'openrouter key',
        'fail',
        u.error ?? 'GET /key did not answer',
        u.keyConfigured
          ? 'check the key at https://openrouter.ai/settings/keys and the network/base URL'
          : 'configure a key (see "api key" above)',
      );
  } catch (e) {
    add('openrouter key', 'fail', (e as Error).message, 'check the network and the base URL');
  }
  return checks;
}

async function keySource(file: string): Promise<{ found: boolean; where: string; problem?: string }> {
  if (process.env.OPENROUTER_API_KEY) return { found: true, where: 'OPENROUTER_API_KEY' };
  try {
    const st = await fsp.stat(file);
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0)
      return { found: false, where: file, problem: `${file} is readable by other users` };
    return { found: (await fsp.readFile(file, 'utf8')).trim() !== '', where: file };
  } catch {
    return { found: false, where: 'nowhere' };
  }
}

function checkUrl(u: string): string | undefined {
  try {
    const url = new URL(u);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'not an http(s) URL';
    if (url.protocol === 'http:' && !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname))
      return 'plain http to a remote host would send the API key unencrypted';
    return undefined;
  } catch {
    return 'not a URL';
  }
}

function printChecks(ctx: Context, checks: Check[]): void {
  const { c } = ctx.out;
  const width = Math.max(...checks.map((x) => x.name.length));
  for (const x of checks) {
    if (ctx.out.format === 'list') {
      ctx.out.line(`name: ${x.name}\nstate: ${x.state}\ndetail: ${x.detail}${x.fix ? `\nfix: ${x.fix}` : ''}\n`);
      continue;
    }
    const mark = x.state === 'ok' ? c.green('ok  ') : x.state === 'fail' ? c.red('FAIL') : c.dim('skip');
    ctx.out.line(`${mark}  ${x.name.padEnd(width)}  ${x.detail}`);
    if (x.fix) ctx.out.line(`      ${' '.repeat(width)}  ${c.yellow('fix:')} ${x.fix}`);
  }
}
