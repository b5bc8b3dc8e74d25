/**
 * A headless Chromium for the dashboard tests, driven by puppeteer-core (which never downloads a
 * browser): the system's chromium, installed by scripts/install-chromium. Disposable with
 * `await using`; every console error and page error is recorded.
 */
import { execFileSync } from 'node:child_process';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { dieWithThisProcess } from '../../src/broker/child-watchdog.js';

export function chromiumPath(): string {
  for (const candidate of [process.env.CHROMIUM_BIN, 'chromium', 'chromium-browser']) {
    if (!candidate) continue;
    try {
      return execFileSync('sh', ['-c', `command -v "$1"`, 'sh', candidate], { encoding: 'utf8' }).trim() || candidate;
    } catch {
      // not this one
    }
  }
  throw new Error('no chromium: run scripts/install-chromium or set CHROMIUM_BIN');
}

export interface TestBrowser extends AsyncDisposable {
  browser: Browser;
  /** Opens a page at `url`, recording console errors and page errors into `errors`. */
  open(url: string, options?: { width?: number; height?: number; headers?: Record<string, string> }): Promise<Page>;
  errors: string[];
}

export async function launchBrowser(): Promise<TestBrowser> {
  const browser = await puppeteer.launch({
    executablePath: chromiumPath(),
    headless: true,
    // Root in CI has no user namespace sandbox; these pages are our own, served from loopback.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check'],
  });
  // Puppeteer starts Chromium in a process group of its own (detached): the group dies with this process.
  const chromium = browser.process();
  if (chromium !== null) dieWithThisProcess(chromium, true);
  const errors: string[] = [];
  return {
    browser,
    errors,
    async open(url, options = {}) {
      const page = await browser.newPage();
      await page.setViewport({ width: options.width ?? 1440, height: options.height ?? 900 });
      if (options.headers) await page.setExtraHTTPHeaders(options.headers);
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(`console: ${m.text()}`);
      });
      page.on('pageerror', (e) => errors.push(`pageerror: ${(e as Error).message}`));
      await page.goto(url, { waitUntil: 'domcontentloaded' });
      return page;
    },
    async [Symbol.asyncDispose]() {
      await browser.close();
    },
  };
}
