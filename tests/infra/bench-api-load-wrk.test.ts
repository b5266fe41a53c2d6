import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadCase } from '../bench/api-load.ts';
import { runWrkCase, wrkUnavailable } from '../bench/api-load-wrk.ts';

// bench:api's wrk adapter against a real node:http server: wrk keeps no status counts and its figures come in µs,
// so the adapter derives statuses from one verified answer and the run's bytes, and converts the units.
const missing = wrkUnavailable();
if (missing) console.warn(`skipping the wrk adapter tests: ${missing}`);

describe.skipIf(missing !== undefined)('bench:api wrk load generator', () => {
  const body = Buffer.alloc(256 * 1024, 'x');
  const DELAY_MS = 100;
  let server: Server;
  let base: string;
  let flipped = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/slow') {
        // Each answer takes ≥ 100 ms: a latency whose unit the figures must get right.
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
          res.end(body);
        }, DELAY_MS);
      } else if (req.url === '/fail') {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('boom');
      } else if (req.url === '/etag' && req.headers['if-none-match'] === '"v1"') {
        res.writeHead(304, { etag: '"v1"' });
        res.end();
      } else if (req.url === '/flip' && flipped++ === 0) {
        // The verified request gets a 304, the run the whole body: answers of another size than the verified one.
        res.writeHead(304, { etag: '"v1"' });
        res.end();
      } else {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length, etag: '"v1"' });
        res.end(body);
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const at = (p: string, headers: Record<string, string> = {}): LoadCase => ({
    url: `${base}${p}`,
    headers,
    connections: 2,
    durationS: 1,
    keepBodyText: false,
  });

  it('counts whole answers, their bytes and their latency in ms', async () => {
    const f = await runWrkCase(at('/slow'), 1);
    expect(f.total).toBeGreaterThan(0);
    expect(f.errors).toBe(0);
    expect(f.non2xx).toBe(0);
    expect(f.count2xx).toBe(f.total);
    expect(f.bytes / f.total).toBeGreaterThanOrEqual(body.length);
    expect(f.bytes / f.total).toBeLessThan(body.length + 1024);
    // 2 connections, each answer ≥ 100 ms: at most 20 answers a second, and no latency under the delay.
    expect(f.rps).toBeLessThanOrEqual(20);
    expect(f.p50).toBeGreaterThanOrEqual(DELAY_MS);
    expect(f.p50).toBeLessThan(10 * DELAY_MS);
    expect(f.p99).toBeGreaterThanOrEqual(f.p50);
    expect(f.max).toBeGreaterThanOrEqual(f.p99);
    expect(f.gcMaxMs).toBeUndefined();
  });

  it('counts every answer of a server answering 500 as non-2xx', async () => {
    const f = await runWrkCase(at('/fail'), 1);
    expect(f.total).toBeGreaterThan(0);
    expect(f.non2xx).toBe(f.total);
    expect(f.count2xx).toBe(0);
  });

  it('recognises a revalidation answered with 304s', async () => {
    const f = await runWrkCase(at('/etag', { 'if-none-match': '"v1"' }), 1);
    expect(f.total).toBeGreaterThan(0);
    expect(f.count304).toBe(f.total);
    expect(f.count2xx).toBe(0);
    expect(f.bytes / f.total).toBeLessThan(1024);
  });

  it('fails loudly when the answers are not of the verified size', async () => {
    await expect(runWrkCase(at('/flip'), 1)).rejects.toThrow(/not all answers were that one/);
  });
});
