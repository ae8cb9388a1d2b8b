/**
 * Headless Chromium (Debian's /usr/bin/chromium, or $CREW_CHROMIUM) driven by playwright-core against the real
 * server's dashboards in their browser mode. Every page is watched: a request to anything but 127.0.0.1 or a
 * console error fails the test, and a failed test leaves a screenshot. Screenshots go to SHOTS.
 */
import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { startFakeOpenRouter, type FakeOpenRouter } from '../fixtures/fake-openrouter';
import type { RpcClient } from '../helpers/rpc';
import { removeTempDir, startServer, type ServerProcess } from '../helpers/server';
import { ensureWebviewsBuilt } from '../helpers/webviews';

export const SHOTS = path.join(os.tmpdir(), 'crew-dashboard-shots');
export const CHROMIUM = process.env.CREW_CHROMIUM ?? '/usr/bin/chromium';

export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 390, height: 844 };

let announced = false;

export interface Watched {
  context: BrowserContext;
  page: Page;
  /** Requests that left 127.0.0.1, console errors and uncaught page errors, so far. */
  problems: string[];
  /** Paths of every request the page made, from the first. */
  requests: string[];
}

export interface DashboardHarness {
  fake: FakeOpenRouter;
  server: ServerProcess;
  client: RpcClient;
  browser: Browser;
  base: string;
  token: string;
  /** A new browser context (own sessionStorage) on a dashboard, watched. */
  open(
    page: string,
    opts?: {
      viewport?: { width: number; height: number };
      /** null: no `#token=` in the URL. */
      token?: string | null;
      colorScheme?: 'light' | 'dark';
      /** A script run before the page's own (e.g. a stand-in VS Code host). */
      init?: string;
      /** Where the server is reached (a proxy's URL and path prefix); default the server itself. */
      base?: string;
    },
  ): Promise<Watched>;
  /** Fails the test if the page made a request off loopback or logged an error. */
  assertClean(w: Watched): void;
  shot(w: Watched, name: string): Promise<string>;
}

/**
 * One fake OpenRouter, one real server over HTTP and one Chromium for a describe; `seed` fills the server through
 * RPC. Pages opened are closed after each test, with a screenshot first when the test failed.
 */
export function useDashboards(seed: (client: RpcClient) => Promise<void>): DashboardHarness {
  const h = {} as DashboardHarness;
  const opened: Watched[] = [];

  before(async function () {
    this.timeout(90_000);
    if (!existsSync(CHROMIUM))
      throw new Error(`no Chromium at ${CHROMIUM} (install Debian's chromium, or set CREW_CHROMIUM)`);
    mkdirSync(SHOTS, { recursive: true });
    if (!announced) {
      announced = true;
      console.log(`      dashboard screenshots: ${SHOTS}`);
    }
    await ensureWebviewsBuilt();
    h.fake = await startFakeOpenRouter({ port: 0 });
    Object.assign(h, await startServer({ transport: 'http', upstreamUrl: h.fake.url, env: { CREW_EMBEDDER: 'hash' } }));
    h.base = await h.server.httpBase();
    h.token = await h.server.token();
    await seed(h.client);
    h.browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
  });

  afterEach(async function () {
    const failed = this.currentTest?.state === 'failed';
    for (const w of opened.splice(0)) {
      if (failed) {
        const file = await h.shot(w, `FAILED-${this.currentTest!.title}`).catch(() => undefined);
        if (file) console.log(`      screenshot of the failure: ${file}`);
      }
      await w.context.close().catch(() => undefined);
    }
  });

  after(async function () {
    this.timeout(30_000);
    await h.browser?.close();
    if (h.server) {
      await h.server.stop();
      await removeTempDir(h.server.dataDir);
    }
    await h.fake?.close();
  });

  h.open = async (name, opts = {}) => {
    const context = await h.browser.newContext({
      viewport: opts.viewport ?? DESKTOP,
      colorScheme: opts.colorScheme ?? 'light',
      deviceScaleFactor: 1,
    });
    if (opts.init) await context.addInitScript(opts.init);
    const page = await context.newPage();
    const w: Watched = { context, page, problems: [], requests: [] };
    opened.push(w);
    page.on('request', (r) => {
      const u = new URL(r.url());
      w.requests.push(u.pathname);
      if (u.protocol !== 'data:' && u.hostname !== '127.0.0.1') w.problems.push(`request off loopback: ${r.url()}`);
    });
    page.on('console', (m) => {
      if (m.type() === 'error') w.problems.push(`console error: ${m.text()}`);
    });
    page.on('pageerror', (e) => w.problems.push(`page error: ${e.message}`));
    const token = opts.token === undefined ? h.token : opts.token;
    await page.goto(
      `${opts.base ?? h.base}/dashboard/${name}${token === null ? '' : `#token=${encodeURIComponent(token)}`}`,
    );
    return w;
  };

  h.assertClean = (w) => {
    if (w.problems.length) throw new Error(`the page misbehaved:\n  ${w.problems.join('\n  ')}`);
  };

  h.shot = async (w, name) => {
    const file = path.join(SHOTS, `${name.replace(/[^\w.-]+/g, '-').slice(0, 100)}.png`);
    await w.page.screenshot({ path: file, fullPage: true });
    return file;
  };

  return h;
}

/** Resolves once `selector` has `data-state="ready"` (a card whose data arrived). */
export async function ready(page: Page, selector: string, timeout = 15_000): Promise<void> {
  await page.locator(`${selector}[data-state="ready"]`).first().waitFor({ timeout });
}

/** The raw server number a figure shows (`data-value`), and the text shown. */
export async function figure(page: Page, selector: string): Promise<{ value: number; text: string }> {
  const el = page.locator(selector).first();
  const value = Number(await el.getAttribute('data-value'));
  const text =
    ((await el.locator('.figure-value').count())
      ? await el.locator('.figure-value').textContent()
      : await el.textContent()) ?? '';
  return { value, text: text.trim() };
}

/** Waits until an element's attribute is no longer `old` (a live update landed). */
export async function changed(
  page: Page,
  selector: string,
  attr: string,
  old: string | null,
  timeout = 10_000,
): Promise<void> {
  // A function, not a string: the pages' CSP forbids eval. Runs in the page, where `document` exists.
  await page.waitForFunction(
    ({ selector, attr, old }) => {
      const doc = (globalThis as unknown as { document: { querySelector(s: string): Element | null } }).document;
      const e = doc.querySelector(selector);
      return e !== null && e.getAttribute(attr) !== old;
    },
    { selector, attr, old },
    { timeout },
  );
}

interface Element {
  getAttribute(name: string): string | null;
}

/** How many loads the page has finished (body[data-loads]). */
export async function loads(page: Page): Promise<number> {
  return Number(await page.locator('body').getAttribute('data-loads'));
}

/** An attribute of every element a locator matches, in document order. */
export async function attrs(locator: Locator, name: string): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  for (const el of await locator.all()) out.push(await el.getAttribute(name));
  return out;
}
