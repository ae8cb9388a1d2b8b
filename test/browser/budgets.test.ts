/**
 * The Budgets dashboard in Chromium against the real server: each budget's spent is budget/status's and moves when
 * a call is made elsewhere; the form creates a budget, stops a mistake before sending it, shows the server's
 * refusal on the field it concerns, keeps a half-typed draft across a reload; delete asks first.
 */
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { BudgetStatusRequest } from '../../protocol';
import { formatUsd } from '../../protocol/format';
import { changed, DESKTOP, PHONE, ready, useDashboards } from './helpers';

async function pick(page: Page, field: string, label: string): Promise<void> {
  const select = page.locator(`[data-field="${field}"] vscode-single-select`);
  await select.click();
  // The dropdown's options (role option, in the component's shadow DOM), not the light-DOM <vscode-option>s.
  await select.getByRole('option', { name: label, exact: true }).click();
}

async function type(page: Page, field: string, text: string): Promise<void> {
  await page.locator(`[data-field="${field}"] vscode-textfield input`).fill(text);
}

const fieldError = (page: Page, field: string) => page.locator(`[data-error-for="${field}"]`);

describe('Budgets dashboard (Chromium)', function () {
  this.timeout(120_000);
  const h = useDashboards(async (c) => {
    await c.request('budget/set', { scope: 'crew:ops', period: 'daily', limitUsd: 0.05, thresholds: [50, 80] });
    await c.request('budget/set', { scope: 'global', period: 'monthly', limitUsd: 5 });
    await c.request('chat/complete', {
      model: 'openai/gpt-4o',
      crew: 'ops',
      maxTokens: 64,
      messages: [{ role: 'user', content: 'hello' }],
    });
  });
  const status = async () => (await h.client.request<BudgetStatusRequest.Result>('budget/status', {})).budgets;

  it("shows each budget's spent as the server has it, and follows a new call", async () => {
    const w = await h.open('budgets');
    const { page } = w;
    await ready(page, '[data-section="budgets"]');
    const ops = (await status()).find((b) => b.scope === 'crew:ops')!;
    const cell = page.locator(`tr[data-budget-id="${ops.id}"] [data-figure="spent"]`);
    assert.equal(Number(await cell.getAttribute('data-value')), ops.spentUsd);
    assert.equal(await cell.textContent(), formatUsd(ops.spentUsd));
    assert.equal(
      Number(await page.locator(`tr[data-budget-id="${ops.id}"] [data-figure="percent"]`).getAttribute('data-value')),
      ops.percentUsed,
    );

    const before = await cell.getAttribute('data-value');
    await h.client.request('chat/complete', {
      model: 'openai/gpt-4o-mini',
      crew: 'ops',
      maxTokens: 64,
      messages: [{ role: 'user', content: 'again' }],
    });
    await changed(page, `tr[data-budget-id="${ops.id}"] [data-figure="spent"]`, 'data-value', before);
    const now = (await status()).find((b) => b.id === ops.id)!;
    assert.equal(Number(await cell.getAttribute('data-value')), now.spentUsd);
    assert.ok(now.spentUsd > ops.spentUsd);
    h.assertClean(w);
  });

  it('creates a budget from the form; a mistake is stopped before sending; a server refusal lands on its field', async () => {
    const w = await h.open('budgets');
    const { page } = w;
    await ready(page, '[data-section="budgets"]');
    const sent: string[] = [];
    page.on('request', (r) => {
      const body = r.postData();
      if (body?.includes('budget/set')) sent.push(body);
    });

    // Checked in the page: a crew budget needs the crew, and a limit.
    await pick(page, 'scopeKind', 'crew');
    await page.getByTestId('save').click();
    await fieldError(page, 'scopeId').filter({ hasText: 'enter the crew' }).waitFor();
    await fieldError(page, 'limit').filter({ hasText: 'enter a limit' }).waitFor();
    assert.deepEqual(sent, [], 'nothing sent while the form is wrong');

    // Refused by the server: the downgrade target is not a model it knows.
    await type(page, 'scopeId', 'lab');
    await type(page, 'limit', '3');
    await pick(page, 'period', 'weekly');
    await type(page, 'thresholds', '25, 75');
    await pick(page, 'action', 'downgrade the model');
    await type(page, 'downgradeTo', 'openai/gpt-40-mini');
    await page.getByTestId('save').click();
    await fieldError(page, 'downgradeTo').filter({ hasText: 'unknown model "openai/gpt-40-mini"' }).waitFor();
    await h.shot(w, 'budgets-server-error');
    assert.equal(sent.length, 1);
    assert.equal(await fieldError(page, 'limit').textContent(), '', 'the earlier error is gone');
    assert.ok(!(await status()).some((b) => b.scope === 'crew:lab'));

    // The draft survives a reload (hide/show in VS Code); corrected, it is created.
    await page.reload();
    await ready(page, '[data-section="budgets"]');
    assert.equal(await page.locator('[data-field="limit"] vscode-textfield input').inputValue(), '3');
    await type(page, 'downgradeTo', 'openai/gpt-4o-mini');
    await page.getByTestId('save').click();
    await page.locator('tr[data-scope="crew:lab"]').waitFor();
    const lab = (await status()).find((b) => b.scope === 'crew:lab')!;
    assert.deepEqual(
      [lab.period, lab.limitUsd, lab.thresholds, lab.action, lab.downgradeTo],
      ['weekly', 3, [25, 75], 'downgrade', 'openai/gpt-4o-mini'],
    );
    await page.getByText(/Created the weekly budget of crew lab/).waitFor();
    await h.shot(w, 'budgets-desktop');
    h.assertClean(w);
  });

  it('creates a fit budget with its floor', async () => {
    const w = await h.open('budgets');
    const { page } = w;
    await ready(page, '[data-section="budgets"]');
    await pick(page, 'scopeKind', 'crew');
    await type(page, 'scopeId', 'fitted');
    await type(page, 'limit', '0.01');
    await pick(page, 'action', 'fit the call (lower its max_tokens)');
    await type(page, 'minTokens', '32');
    await page.getByTestId('save').click();
    await page.locator('tr[data-scope="crew:fitted"]').filter({ hasText: 'fit (≥ 32 tokens)' }).waitFor();
    const b = (await status()).find((x) => x.scope === 'crew:fitted')!;
    assert.deepEqual([b.action, b.minTokens], ['fit', 32]);
    h.assertClean(w);
  });

  it('edits and deletes with a confirmation', async () => {
    const w = await h.open('budgets');
    const { page } = w;
    await ready(page, '[data-section="budgets"]');
    const global = (await status()).find((b) => b.scope === 'global')!;
    const row = page.locator(`tr[data-budget-id="${global.id}"]`);
    await row.getByTestId('edit').click();
    await page.locator('[data-section="budget-form"] h2', { hasText: 'Edit budget' }).waitFor();
    await type(page, 'limit', '7.5');
    await page.getByTestId('save').click();
    await page.locator(`tr[data-budget-id="${global.id}"] [data-figure="limit"][data-value="7.5"]`).waitFor();
    assert.equal((await status()).find((b) => b.id === global.id)!.limitUsd, 7.5);

    await row.getByTestId('delete').click();
    await row.getByText('Delete this monthly budget?').waitFor();
    assert.ok(
      (await status()).some((b) => b.id === global.id),
      'not deleted before the confirmation',
    );
    await row.getByTestId('delete-yes').click();
    await row.waitFor({ state: 'detached' });
    assert.ok(!(await status()).some((b) => b.id === global.id));
    h.assertClean(w);
  });

  it('fits a phone-sized window', async () => {
    const w = await h.open('budgets', { viewport: PHONE, colorScheme: 'dark' });
    await ready(w.page, '[data-section="budgets"]');
    const overflow = await w.page.evaluate(
      'document.documentElement.scrollWidth - document.documentElement.clientWidth',
    );
    assert.equal(overflow, 0, 'no horizontal scrolling');
    await h.shot(w, 'budgets-phone');
    await w.page.setViewportSize(DESKTOP);
    h.assertClean(w);
  });
});
