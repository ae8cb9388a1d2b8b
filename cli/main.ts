/**
 * `crew`: the program, its global options, and the mapping from outcomes to exit codes
 * (0 ok, 1 error, 2 usage, 3 refused by a budget, 130 interrupted). Commands live in commands/, one file per group.
 */
import { Command, CommanderError, Option } from 'commander';
import { registerAnalytics } from './commands/analytics';
import { registerArchive } from './commands/archive';
import { registerAudit } from './commands/audit';
import { registerBudget } from './commands/budget';
import { registerChat } from './commands/chat';
import { registerClusters } from './commands/clusters';
import { registerCost } from './commands/cost';
import { registerCrews } from './commands/crews';
import { registerDashboard } from './commands/dashboard';
import { registerRuns } from './commands/runs';
import { registerDemo } from './commands/demo';
import { registerDoctor } from './commands/doctor';
import { example } from './commands/help';
import { registerLedger } from './commands/ledger';
import { registerMemory } from './commands/memory';
import { registerModels } from './commands/models';
import { registerSandbox } from './commands/sandbox';
import { registerServer } from './commands/server';
import { registerStore } from './commands/store';
import { registerWebhooks } from './commands/webhooks';
import { describeError, errorJson, ExitCode, exitCodeFor, QuietFailure } from './errors';
import { colorEnabled, colors, FORMATS } from './output';
import { CLI_VERSION } from './version';

export function buildProgram(): Command {
  const program = new Command('crew');
  const ce = colors(colorEnabled(process.stderr, process.env, process.argv.includes('--no-color') ? false : undefined));
  // Set before any subcommand is added: .command() copies these settings into each new subcommand.
  program
    .exitOverride()
    .configureOutput({
      // Commander's own messages ("error: unknown option …") become `crew: …`, like every other error.
      outputError: (str, write) => write(`${ce.red('crew:')} ${str.replace(/^error: /, '')}`),
    })
    .showHelpAfterError('(add --help for usage)')
    .version(CLI_VERSION, '-V, --version', 'print the version')
    .description(
      'OpenRouter Crew: real costs, budgets enforced before a call, alerts and reports for LLM agents on OpenRouter.',
    )
    .option('--data-dir <dir>', 'data directory (default: $CREW_DATA_DIR or the user data dir)')
    .addOption(new Option('--format <format>', 'output format').choices(FORMATS).default('table'))
    .option('--json', 'same as --format json')
    .option('--stdio', 'use a private server over stdio instead of the daemon (nothing keeps running)')
    .option('--sandbox', 'a server this command starts uses the built-in fake OpenRouter (no account, no real money)')
    .option('--no-color', 'no colours (also: NO_COLOR=1, or output that is not a terminal)')
    .addHelpText(
      'after',
      example(
        'crew demo',
        'crew --sandbox chat --model openai/gpt-4o-mini --stream "Hello"',
        'crew budget status --json',
      ) + '\n\nExit codes: 0 ok, 1 error, 2 usage, 3 refused by a budget.',
    );

  registerDemo(program);
  registerServer(program);
  registerModels(program);
  registerChat(program);
  registerBudget(program);
  registerWebhooks(program);
  registerCost(program);
  registerLedger(program);
  registerCrews(program);
  registerRuns(program);
  registerMemory(program);
  registerAnalytics(program);
  registerClusters(program);
  registerArchive(program);
  registerDashboard(program);
  registerStore(program);
  registerAudit(program);
  registerDoctor(program);
  registerSandbox(program);
  return program;
}

/** Whether the command line asked for JSON, read from argv because a parse error happens before options exist. */
function wantsJson(argv: string[]): boolean {
  return argv.some((a, i) => a === '--json' || a === '--format=json' || (a === '--format' && argv[i + 1] === 'json'));
}

export async function main(argv = process.argv): Promise<number> {
  const program = buildProgram();
  const json = wantsJson(argv.slice(2));
  const ce = colors(colorEnabled(process.stderr, process.env, argv.includes('--no-color') ? false : undefined));
  try {
    await program.parseAsync(argv);
    return ExitCode.Ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version "exit" with 0; everything else commander refuses is a usage error.
      if (e.exitCode === 0) return ExitCode.Ok;
      if (json && e.code !== 'commander.help')
        process.stdout.write(
          JSON.stringify(
            { error: { code: 'usage', message: e.message.replace(/^error: /, ''), data: { commanderCode: e.code } } },
            null,
            2,
          ) + '\n',
        );
      return ExitCode.Usage;
    }
    if (e instanceof QuietFailure) {
      process.stderr.write(`${ce.red('crew:')} ${e.message}\n`);
      return e.exitCode;
    }
    process.stderr.write(describeError(e, ce) + '\n');
    if (json) process.stdout.write(JSON.stringify(errorJson(e), null, 2) + '\n');
    return exitCodeFor(e);
  }
}

let finished = false;
// `crew ledger | head -1` closes the pipe early; that is the reader's choice, not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
  finished = true;
  process.exit(process.exitCode ?? 0);
});

// If the event loop empties while a command still awaits something that can no longer happen, Node would exit
// with code 0 and no output; say so and fail instead.
process.on('exit', () => {
  if (finished) return;
  process.stderr.write('crew: the command ended before it finished (lost connection to crew-server?)\n');
  process.exitCode = ExitCode.Error;
});

void main().then((code) => {
  finished = true;
  // Let pending output flush and handles close; the exit code is all that is left to set.
  process.exitCode = code;
});
