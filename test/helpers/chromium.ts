/**
 * Debian's Chromium driven by playwright-core, for the page tests. Chromium is required: when
 * it cannot be launched the test fails with the reason, it does not skip.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import { ROOT } from './paths.js';

export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox', // the tests may run as root
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  // No background traffic of Chromium's own: the test only talks to its loopback servers.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
export const SCREENSHOTS = join(ROOT, 'test-output', 'screenshots');
/** Each wait fails after this long: generous, as a loaded machine is slow, and it only costs time on failure. */
export const STEP_TIMEOUT_MS = 30_000;

export async function launch(t: TestContext): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: these tests need Debian's chromium (apt-get install chromium)`);
  }
  let browser: Browser;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 60_000 });
  } catch (err) {
    throw new Error(`could not launch ${CHROMIUM}: ${(err as Error).message}`, { cause: err });
  }
  t.after(() => browser.close());
  return browser;
}

export async function newPage(browser: Browser, options: BrowserContextOptions = {}): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 800, height: 700 }, ...options });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  return context.newPage();
}
