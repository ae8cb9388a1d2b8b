/**
 * The Archive dashboard in Chromium against the real server: the table is archive/list's, sorts and filters in the
 * page, follows an archive made elsewhere; a policy's dry run lists exactly what archive/create would move, then
 * archives it; restore and delete ask first and do what the server says they did.
 */
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { ArchiveCreate, ArchiveList, MemoryAdd, MemoryList } from '../../protocol';
import type { RpcClient } from '../helpers/rpc';
import { attrs, changed, PHONE, ready, useDashboards } from './helpers';

const list = async (c: RpcClient) => (await c.request<ArchiveList.Result>('archive/list', {})).archives;
const live = async (c: RpcClient, crew: string) =>
  (await c.request<MemoryList.Result>('memory/list', { crew, limit: 1 })).total;

let made = 0;

async function add(c: RpcClient, crew: string, n: number, importance: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    // Distinct content: a crew's exact duplicate is reported, not stored.
    const r = await c.request<MemoryAdd.Result>('memory/add', {
      crew,
      content: `${crew} note ${++made} at importance ${importance}: ${'the quick brown fox '.repeat(i + 1)}`,
      importance,
    });
    ids.push(r.memory.id);
  }
  return ids;
}

async function type(page: Page, field: string, text: string): Promise<void> {
  await page.locator(`[data-section="policy"] [data-field="${field}"] vscode-textfield input`).fill(text);
}

describe('Archive dashboard (Chromium)', function () {
  this.timeout(120_000);
  let spare: string[] = [];
  const h = useDashboards(async (c) => {
    const ops = await add(c, 'ops', 6, 0.9);
    const lab = await add(c, 'lab', 3, 0.9);
    spare = await add(c, 'lab', 2, 0.9);
    // Unimportant and never read: a retention score of 0.5 + 0.375 × 0.1 ≈ 0.54, below a 0.6 policy.
    await add(c, 'ops', 4, 0.1);
    await c.request('archive/create', { ids: ops.slice(0, 4) });
    await c.request('archive/create', { ids: lab });
    await c.request('archive/create', { ids: ops.slice(4, 6) });
  });

  it("lists archive/list's archives, sorts and filters them, and follows a new archive", async () => {
    const w = await h.open('archive');
    const { page } = w;
    await ready(page, '[data-section="archives"]');
    const archives = await list(h.client);
    const rows = page.locator('tr[data-archive-id]');
    assert.deepEqual(
      await attrs(rows, 'data-archive-id'),
      archives.map((a) => a.id),
      'newest first, as the server',
    );
    for (const a of archives)
      assert.equal(
        Number(await page.locator(`tr[data-archive-id="${a.id}"] [data-figure="count"]`).getAttribute('data-value')),
        a.count,
      );

    await page.locator('button.sort[data-sort="count"]').click();
    assert.deepEqual(
      await attrs(rows, 'data-archive-id'),
      [...archives].sort((a, b) => b.count - a.count).map((a) => a.id),
    );
    await page.locator('#archive-filter input').fill('lab');
    await page.locator('[data-figure="archives"][data-value="1"]').waitFor();
    assert.deepEqual(await attrs(rows, 'data-archive-id'), [archives.find((a) => a.crews.includes('lab'))!.id]);
    await page.locator('#archive-filter input').fill('');
    await page.locator(`[data-figure="archives"][data-value="${archives.length}"]`).waitFor();

    await h.client.request('archive/create', { ids: spare });
    await page.locator(`[data-figure="archives"][data-value="${archives.length + 1}"]`).waitFor();
    assert.equal((await list(h.client)).length, archives.length + 1);
    h.assertClean(w);
  });

  it('previews a policy with a dry run that matches the server, then archives exactly that', async () => {
    const w = await h.open('archive');
    const { page } = w;
    await ready(page, '[data-section="archives"]');
    const sent: string[] = [];
    page.on('request', (r) => {
      const body = r.postData();
      if (body?.includes('archive/create')) sent.push(body);
    });

    // No age and no score: refused in the page, as the server would.
    await type(page, 'olderThanDays', '');
    await page.getByTestId('dry-run').click();
    await page.locator('[data-section="policy"] [data-error-for="form"]', { hasText: 'never means' }).waitFor();
    assert.deepEqual(sent, []);

    await type(page, 'crew', 'ops');
    await type(page, 'belowScore', '0.6');
    await page.getByTestId('dry-run').click();
    await page.locator('[data-section="preview"][data-state="ready"]').waitFor();
    const policy = { crew: 'ops', belowScore: 0.6 };
    const dry = (await h.client.request<ArchiveCreate.Result>('archive/create', {
      policy,
      dryRun: true,
    })) as ArchiveCreate.DryRunResult;
    assert.equal(dry.totals.count, 4);
    assert.equal(Number(await page.locator('[data-figure="dry-count"]').getAttribute('data-value')), dry.totals.count);
    assert.deepEqual(
      await attrs(page.locator('tr[data-candidate]'), 'data-candidate'),
      dry.candidates.map((c) => c.id),
    );
    await h.shot(w, 'archive-dry-run');

    const before = await live(h.client, 'ops');
    await page.getByTestId('archive-now').click();
    await page.getByTestId('archive-now-yes').click();
    await page.getByText(`Archived ${dry.totals.count} memories`).waitFor();
    assert.equal(await live(h.client, 'ops'), before - dry.totals.count);
    const newest = (await list(h.client))[0]!;
    assert.deepEqual(newest.policy, policy);
    await page.locator(`tr[data-archive-id="${newest.id}"]`).waitFor();
    h.assertClean(w);
  });

  it('restores and deletes an archive after asking', async () => {
    const w = await h.open('archive');
    const { page } = w;
    await ready(page, '[data-section="archives"]');
    const target = (await list(h.client)).find((a) => a.crews.includes('lab') && a.count === 3)!;
    const row = page.locator(`tr[data-archive-id="${target.id}"]`);
    const before = await live(h.client, 'lab');
    await row.getByTestId('restore').click();
    await row.getByTestId('restore-yes').click();
    await page.getByText('Restored 3 memories').waitFor();
    assert.equal(await live(h.client, 'lab'), before + 3);
    assert.equal((await list(h.client)).find((a) => a.id === target.id)!.state, 'restored');
    await row.getByText('restored', { exact: true }).waitFor();

    await row.getByTestId('delete').click();
    assert.ok(
      (await list(h.client)).some((a) => a.id === target.id),
      'nothing deleted before the confirmation',
    );
    await row.getByTestId('delete-yes').click();
    await row.waitFor({ state: 'detached' });
    assert.ok(!(await list(h.client)).some((a) => a.id === target.id));
    await h.shot(w, 'archive-desktop');
    h.assertClean(w);
  });

  it('fits a phone-sized window, with a sort that does not need the hidden headers', async () => {
    const w = await h.open('archive', { viewport: PHONE, colorScheme: 'dark' });
    const { page } = w;
    await ready(page, '[data-section="archives"]');
    const first = await page.locator('tr[data-archive-id]').first().getAttribute('data-archive-id');
    const select = page.getByTestId('sort');
    await select.click();
    await select.getByRole('option', { name: 'sort: oldest first', exact: true }).click();
    await changed(page, 'tr[data-archive-id]', 'data-archive-id', first);
    const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    assert.equal(overflow, 0, 'no horizontal scrolling');
    await h.shot(w, 'archive-phone');
    h.assertClean(w);
  });
});
