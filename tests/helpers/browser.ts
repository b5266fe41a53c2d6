import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

const ROOT = path.resolve(import.meta.dirname, '../..');
export const SCREENSHOTS = path.join(ROOT, 'var/screenshots');
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Debian's Chromium (infra/browser.sh installs it), driven by playwright-core: no browser is downloaded. `args` adds
 * switches (a fake camera, for one).
 */
export function launchBrowser(args: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', ...args],
  });
}

export const PHONE = { width: 390, height: 844 };
export const DESK = { width: 1280, height: 900 };

export interface WatchedPage {
  context: BrowserContext;
  page: Page;
  /** Console messages that report a Content-Security-Policy violation. */
  cspViolations: string[];
  /** Every response body the page received from the API (text), for isolation checks. */
  apiBodies: Array<{ url: string; body: string }>;
}

/** A fresh browser context (its own cookies) and page that records CSP violations and what the API answered. */
export async function openPage(
  browser: Browser,
  viewport: { width: number; height: number },
  locale = 'en-GB',
): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport, locale, deviceScaleFactor: 1 });
  // No network here: a third-party asset (the OpenID provider's development pages import a web font) fails at once.
  await context.route(/^https?:\/\/(?!127\.0\.0\.1)/, (route) => route.abort());
  const page = await context.newPage();
  const watched: WatchedPage = { context, page, cspViolations: [], apiBodies: [] };
  page.on('console', (m) => {
    if (m.text().includes('Content Security Policy')) watched.cspViolations.push(m.text());
  });
  page.on('response', async (res) => {
    if (!new URL(res.url()).pathname.startsWith('/v1/') || res.url().includes('/v1/stream')) return;
    const body = await res.text().catch(() => '');
    watched.apiBodies.push({ url: res.url(), body });
  });
  return watched;
}

/** axe-core's serious and critical violations on the page as it is now (rule id and the first offending node). */
export async function seriousViolations(page: Page): Promise<string[]> {
  // evaluate() runs outside the page's CSP, so the console's strict policy stays in force for everything else.
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: unknown[] }> } }).axe;
    return (await axe.run()).violations as Array<{ id: string; impact: string; nodes: Array<{ target: string[] }> }>;
  });
  return result
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes[0]?.target.join(' ')}`);
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}
