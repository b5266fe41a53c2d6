import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_DIST, consoleCsp } from '../../services/api/console.ts';
import { type Platform, startPlatform } from '../../services/cli/platform.ts';
import { silentLogger } from '../../services/common/logger.ts';
import { testConfig } from '../helpers/env.ts';
import { buildConsole } from './build.ts';

const BUDGET_GZIP_BYTES = 250 * 1024;

/** The scripts the first page loads before any user action: the entry and the chunks it preloads. */
function firstPageScripts(html: string): string[] {
  const refs = [...html.matchAll(/<(?:script[^>]*\ssrc|link[^>]*rel="modulepreload"[^>]*\shref)="([^"]+)"/g)];
  return refs.map((m) => m[1]!);
}

describe('the web console: built static files served at / with a strict CSP and a JavaScript budget', () => {
  let platform: Platform;
  let base: string;
  let html: string;
  beforeAll(async () => {
    buildConsole();
    html = readFileSync(path.join(CONSOLE_DIST, 'index.html'), 'utf8');
    platform = await startPlatform(
      testConfig({ SUS_CONSOLE_TILE_URL: 'https://tiles.example.org/{z}/{x}/{y}.png' }),
      silentLogger,
      {
        broker: false,
        api: true,
      },
    );
    base = `http://127.0.0.1:${platform.httpPort}`;
  }, 120_000);
  afterAll(() => platform?.stop());

  it('keeps the first page within 250 KB of gzipped JavaScript', () => {
    const scripts = firstPageScripts(html);
    expect(scripts.length).toBeGreaterThan(0);
    const bytes = scripts
      .map((s) => gzipSync(readFileSync(path.join(CONSOLE_DIST, s))).length)
      .reduce((a, b) => a + b, 0);
    console.log(`console first page: ${scripts.length} scripts, ${(bytes / 1024).toFixed(1)} KB gzipped`);
    expect(bytes).toBeLessThanOrEqual(BUDGET_GZIP_BYTES);
  });

  it('has no inline script and names no other host', () => {
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(html).not.toMatch(/https?:\/\//);
  });

  it('serves index.html at / with the strict Content-Security-Policy (tile host allowed for images only)', async () => {
    const res = await fetch(`${base}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: https://tiles.example.org; connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    );
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await res.text()).toBe(html);
    const script = firstPageScripts(html)[0]!;
    const js = await fetch(`${base}${script}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('application/javascript; charset=utf-8');
    expect((await js.text()).length).toBeGreaterThan(1000);
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
  });

  it('answers paths that are neither a file nor a route with the usual 404 problem', async () => {
    const res = await fetch(`${base}/no-such-page`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { code: string }).code).toBe('SUS_ERR_ROUTE_NOT_FOUND');
  });

  it('without tiles the policy allows images from this origin only', () => {
    expect(consoleCsp(undefined)).toContain("img-src 'self' data: blob:;");
  });
});
