/**
 * The budget action `fit` (issue 13): a call that has to be fitted is refused once by the gate, its max_tokens
 * worked out by bisection, and reserved again. Measured against the same call under a `block` budget with room,
 * in the same run, alternating, on the in-process app (the gate and ledger as a daemon runs them):
 *   1. chat/complete p50 with every call fitted   vs the same call under a block budget   goal ≤ 1.10×
 *   2. the same, p99                               vs the same                             (printed)
 * Each call asks for 150,000 completion tokens of claude-3.5-haiku ($0.60 worst case, within its 200,000-token context);
 * the fit budget's $0.50 lowers every one of them (a run spends about $0.30 of it), the block budget's $1,000,000 lets
 * it through as asked.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import { benchApp, startFake, tmpDir } from './processes';
import { alternate, finish, ms, percentile, timeEach, type Row } from './stats';

const quick = process.argv.includes('--quick');

async function main(): Promise<void> {
  console.log(`crew bench: budget fit — node ${process.version}, ${os.cpus().length} cores${quick ? ' (quick)' : ''}`);
  const fake = await startFake();
  const dir = await tmpDir('fit');
  const app = await benchApp(dir, fake.url);
  try {
    await app.budgets.set({ scope: 'crew:blocked', period: 'total', limitUsd: 1_000_000, action: 'block' });
    await app.budgets.set({ scope: 'crew:fitted', period: 'total', limitUsd: 0.5, action: 'fit' });
    const messages = [{ role: 'user' as const, content: 'Summarise the budget situation in one line.' }];
    const call = (crew: string) => () =>
      app.chat.complete({ model: 'anthropic/claude-3.5-haiku', messages, maxTokens: 150_000, crew });
    const block = call('blocked');
    const fit = call('fitted');
    const first = await fit();
    if (first.fittedMaxTokens === null || first.fittedMaxTokens === undefined)
      throw new Error('the fit budget did not fit the call: the bench measures nothing');
    console.log(`  each fitted call goes with max_tokens ≈ ${first.fittedMaxTokens}`);
    await timeEach(300, block);
    await timeEach(300, fit);
    const { base, ours } = await alternate(quick ? 1000 : 3000, block, fit);
    const last = await fit();
    if (last.fittedMaxTokens === null) throw new Error('the last call was not fitted');
    const p50 = percentile(ours, 0.5) / percentile(base, 0.5);
    const p99 = percentile(ours, 0.99) / percentile(base, 0.99);
    const rows: Row[] = [
      {
        name: 'chat/complete, every call fitted, p50',
        figure: ms(percentile(ours, 0.5)),
        baseline: `${ms(percentile(base, 0.5))} under block`,
        ratio: `${p50.toFixed(2)}×`,
        goal: '≤ 1.10×',
        pass: p50 <= 1.1,
      },
      {
        name: 'chat/complete, every call fitted, p99',
        figure: ms(percentile(ours, 0.99)),
        baseline: `${ms(percentile(base, 0.99))} under block`,
        ratio: `${p99.toFixed(2)}×`,
        goal: '(printed)',
        pass: true,
      },
    ];
    finish(rows);
  } finally {
    await app.close();
    await fsp.rm(dir, { recursive: true, force: true });
    fake.child.disconnect();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
