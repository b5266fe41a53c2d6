import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../common/config.ts';
import { SusError } from '../common/errors.ts';

/** Where `npm run console:build` (infra/console-build.sh) puts the web console. */
export const CONSOLE_DIST = path.resolve(import.meta.dirname, '../../console/dist');

/**
 * The console's Content-Security-Policy: its own scripts and styles only (no inline script), API calls to this
 * origin only, images from here plus the configured tile server: nothing is loaded from another host.
 */
export function consoleCsp(tileUrl: string | undefined): string {
  const tiles = tileUrl ? ` ${new URL(tileUrl.replaceAll(/[{}]/g, '')).origin}` : '';
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' data: blob:${tiles}`,
    "connect-src 'self'",
    "font-src 'self'",
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Serves the built console at `/` (static files with a strict CSP), or a problem saying how to build it. */
export async function installConsole(
  app: FastifyInstance,
  config: Pick<Config, 'SUS_CONSOLE_TILE_URL'>,
  dist = CONSOLE_DIST,
): Promise<void> {
  if (!existsSync(path.join(dist, 'index.html'))) {
    app.get('/', { schema: { hide: true } }, async () => {
      throw new SusError(
        'SUS_ERR_CONSOLE_NOT_BUILT',
        'the web console is not built: run `npm run console:build` (npm start does it)',
        503,
      );
    });
    return;
  }
  const csp = consoleCsp(config.SUS_CONSOLE_TILE_URL);
  await app.register(fastifyStatic, {
    root: dist,
    prefix: '/',
    // Files are routed one by one at start (the build's names are content hashes); other paths stay 404 problems.
    wildcard: false,
    index: ['index.html'],
    setHeaders(res, file) {
      res.header('content-security-policy', csp);
      res.header('x-content-type-options', 'nosniff');
      res.header('referrer-policy', 'no-referrer');
      // Hashed assets never change; index.html must be revalidated so a new build is picked up.
      res.header(
        'cache-control',
        file.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
    },
  });
}
