/**
 * Headless Chromium for the web UI tests (tests/web/): Debian's `chromium` (or DFS_CHROMIUM)
 * driven by puppeteer-core, and a page that reports every console error and uncaught page
 * error, for the test to check. Where Chromium is missing the tests are skipped, saying
 * so, never faked.
 */
import fs from 'node:fs';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

export const CHROMIUM = process.env.DFS_CHROMIUM ?? '/usr/bin/chromium';
export const HAVE_CHROMIUM = fs.existsSync(CHROMIUM);

/** Warns, once per test file, that its browser tests are skipped (call at the top level). */
export function warnIfNoChromium(what: string): void {
  if (!HAVE_CHROMIUM) console.warn(`${what} skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`);
}

/** Launches Chromium and opens a page whose console errors and page errors are told to `problem`. */
export async function launchPage(problem: (what: string) => void): Promise<{ browser: Browser; page: Page }> {
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
  const page = await browser.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') problem(`console: ${m.text()}`);
  });
  page.on('pageerror', (err) => problem(`pageerror: ${String(err)}`));
  return { browser, page };
}
