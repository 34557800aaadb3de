/**
 * Helpers for the end-to-end tests: Debian's Chromium driven by playwright-core (no browser
 * download), the example server, and waiting on the example page's actions.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startExampleServer, type ExampleServer } from '../../examples/web/server.js';
import { DATA_DIR, REPO_ROOT } from '../helpers/data.js';

/** Debian's chromium package; override with SALIP_CHROMIUM. */
export const CHROMIUM_PATH = process.env.SALIP_CHROMIUM ?? '/usr/bin/chromium';
export const OUTPUT_DIR = join(REPO_ROOT, 'test-output', 'browser');

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'];

export interface BrowserSession {
  readonly server: ExampleServer;
  readonly context: BrowserContext;
  readonly page: Page;
  /** Messages the page logged (console errors, page errors), for failure reports. */
  readonly log: string[];
  close(): Promise<void>;
}

/** Starts the example server and Chromium with a fresh profile; throws at once if Chromium is missing. */
export async function openBrowser(): Promise<BrowserSession> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}: the browser tests drive Debian's Chromium. ` +
        'Install it with `apt-get install -y chromium` (.ci/run does this) or set SALIP_CHROMIUM to its path.',
    );
  }
  mkdirSync(OUTPUT_DIR, { recursive: true });
  const server = await startExampleServer({ dataDir: DATA_DIR });
  const profile = mkdtempSync(join(tmpdir(), 'salip-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 900 },
    });
  } catch (error) {
    await server.close();
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  const log: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') log.push(`console.${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => log.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
  return {
    server,
    context,
    page,
    log,
    async close() {
      try {
        await context.close();
      } finally {
        await server.close();
        rmSync(profile, { recursive: true, force: true });
      }
    },
  };
}

/** The page's completed-action counter (window.salipExample.state.seq). */
export function actionCount(page: Page): Promise<number> {
  return page.evaluate(() => (window as unknown as { salipExample: { state: { seq: number } } }).salipExample.state.seq);
}

/**
 * Waits until the page finished more than `before` actions, or failed; a failure becomes an
 * Error carrying the page's status line and log.
 */
export async function waitForAction(session: BrowserSession, before: number, timeout = 280_000): Promise<void> {
  const { page } = session;
  await page.waitForFunction(
    (n) => {
      const w = window as unknown as { salipExample?: { state: { seq: number } } };
      return document.body.dataset.state === 'error' || (w.salipExample !== undefined && w.salipExample.state.seq > n);
    },
    before,
    { timeout, polling: 100 },
  );
  const failed = await page.evaluate(() => document.body.dataset.state === 'error');
  if (failed) {
    const status = await page.locator('#status').textContent();
    throw new Error(`the example page failed: ${status}\n${session.log.join('\n')}`);
  }
}

/** Bytes of a base64 string. */
export function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}
