/**
 * `crew sandbox`: the fake OpenRouter (test/fixtures/fake-openrouter) in the foreground, so anyone can point
 * a crew-server (or any OpenAI-compatible client) at it without an account or money. Runs until Ctrl-C/SIGTERM.
 */
import type { Command } from 'commander';
import { startFakeOpenRouter } from '../../test/fixtures/fake-openrouter';
import { withContext } from '../context';
import { port } from '../parse';
import { example } from './help';

export function registerSandbox(program: Command): void {
  program
    .command('sandbox')
    .description('run a local fake OpenRouter (no account, no network, no real money) until Ctrl-C')
    .option('--port <n>', 'port on 127.0.0.1 (default 0: any free port)', port, 0)
    .addHelpText(
      'after',
      example(
        'crew sandbox --port 8799',
        'OPENROUTER_BASE_URL=http://127.0.0.1:8799/api/v1 OPENROUTER_API_KEY=sandbox crew-server',
      ),
    )
    .action(
      withContext(async (ctx, opts: { port: number }) => {
        const fake = await startFakeOpenRouter({ port: opts.port, host: '127.0.0.1', label: 'crew sandbox' });
        const { out } = ctx;
        if (out.json) {
          // One line, so a script can read the URL as soon as it appears.
          out.write(JSON.stringify({ sandbox: true, url: fake.url, port: fake.port }) + '\n');
        } else {
          const c = out.c;
          const rule = c.yellow('═'.repeat(72));
          out.line(rule);
          out.line(c.bold(c.yellow('  SANDBOX — simulated OpenRouter, no real money')));
          out.line(rule);
          out.line(`  base URL   ${c.cyan(fake.url)}`);
          out.line(`  API key    any non-empty key (e.g. "sandbox")`);
          out.line('');
          out.line('  Use it from a crew-server:');
          out.line(`    OPENROUTER_BASE_URL=${fake.url} OPENROUTER_API_KEY=sandbox crew-server …`);
          out.line('  or let the CLI start a server with its own built-in sandbox:');
          out.line('    crew --sandbox chat --model openai/gpt-4o-mini "hello"');
          out.line('');
          out.line(c.dim('  Replies are canned, token counts are estimates, prices are illustrative. Ctrl-C to stop.'));
          out.line(rule);
        }
        const signal = await new Promise<NodeJS.Signals>((resolve) => {
          process.once('SIGINT', () => resolve('SIGINT'));
          process.once('SIGTERM', () => resolve('SIGTERM'));
        });
        await fake.close();
        if (out.human) out.note(`sandbox stopped (${signal})`);
      }),
    );
}
