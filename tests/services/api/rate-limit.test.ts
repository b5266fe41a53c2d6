import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from './harness.ts';

const LIMIT = 10;

/**
 * One request from a chosen loopback source address (every 127.0.0.0/8 address is local on Linux), so each test
 * has an address budget of its own; the raw path goes on the wire as written (no URL normalisation by a client).
 */
function from(
  h: Harness,
  address: string,
  path: string,
  authorization?: string,
): Promise<{ status: number; code: string | undefined }> {
  const url = new URL(h.base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path,
        localAddress: address,
        headers: authorization === undefined ? {} : { authorization },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => {
          const code = body.startsWith('{') ? (JSON.parse(body) as { code?: string }).code : undefined;
          resolve({ status: res.statusCode ?? 0, code });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const statuses = async (n: number, send: (i: number) => Promise<{ status: number }>) => {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await send(i)).status);
  return out;
};
const times = (n: number, status: number) => new Array<number>(n).fill(status);

describe('rate limit: charged to the resolved identity (key id, else source address), failed authentication too', () => {
  let h: Harness;
  let key: string;
  beforeAll(async () => {
    h = await startHarness({ SUS_API_RATE_LIMIT: String(LIMIT) });
    key = (
      await h.admin<{ key: string }>('POST', '/v1/keys', {
        name: 'reader',
        department: 'environment',
        scopes: ['read'],
      })
    ).body.key;
  });
  afterAll(async () => h?.stop());

  it('limits a flood of invented keys from one address: 401 up to the limit, then 429', async () => {
    const seen = await statuses(LIMIT + 3, (i) => from(h, '127.0.0.11', '/v1/devices', `Bearer invented-key-${i}`));
    expect(seen).toStrictEqual([...times(LIMIT, 401), ...times(3, 429)]);
    const last = await from(h, '127.0.0.11', '/v1/devices', 'Bearer yet-another-invented-key');
    expect(last).toStrictEqual({ status: 429, code: 'SUS_ERR_RATE_LIMITED' });
    // Requests without any key count to the same address budget.
    expect(await from(h, '127.0.0.11', '/v1/devices')).toStrictEqual({ status: 429, code: 'SUS_ERR_RATE_LIMITED' });
    // Another address is not affected.
    expect((await from(h, '127.0.0.12', '/v1/devices', `Bearer ${key}`)).status).toBe(200);
  });

  it('keeps a key seen valid working from an address whose budget invented keys spent', async () => {
    const reader = (
      await h.admin<{ key: string }>('POST', '/v1/keys', { name: 'nat', department: 'traffic', scopes: ['read'] })
    ).body.key;
    expect((await from(h, '127.0.0.13', '/v1/devices', `Bearer ${reader}`)).status).toBe(200);
    await statuses(LIMIT + 1, (i) => from(h, '127.0.0.13', '/v1/devices', `Bearer invented-${i}`));
    expect((await from(h, '127.0.0.13', '/v1/devices', `Bearer ${reader}`)).status).toBe(200);
  });

  it('charges one bucket per key however the Authorization header is spelled', async () => {
    const own = (
      await h.admin<{ key: string }>('POST', '/v1/keys', { name: 'spell', department: 'parks', scopes: ['read'] })
    ).body.key;
    const spellings = [`Bearer ${own}`, `bearer ${own}`, `Bearer   ${own}`, `BEARER ${own}`, `Bearer\t${own} `];
    // Each spelling from its own address: the bucket follows the key, not the header or the address.
    const seen = await statuses(LIMIT + 2, (i) =>
      from(h, `127.0.0.${20 + (i % spellings.length)}`, '/v1/devices', spellings[i % spellings.length]),
    );
    expect(seen).toStrictEqual([...times(LIMIT, 200), 429, 429]);
  });

  it('limits a route reached through a percent-encoded path like the plain one', async () => {
    const other = (
      await h.admin<{ key: string }>('POST', '/v1/keys', { name: 'enc', department: 'waste', scopes: ['read'] })
    ).body.key;
    const seen = await statuses(LIMIT + 1, () => from(h, '127.0.0.30', '/%761/devices', `Bearer ${other}`));
    expect(seen).toStrictEqual([...times(LIMIT, 200), 429]);
  });

  it('limits anonymous requests per address, whatever Authorization value they carry', async () => {
    const seen = await statuses(LIMIT + 2, (i) => from(h, '127.0.0.40', '/v1/health', `Bearer random-${i}`));
    expect(seen).toStrictEqual([...times(LIMIT, 200), 429, 429]);
    expect((await from(h, '127.0.0.40', '/v1/open/datasets')).status).toBe(429);
    // Paths that match no route are limited by address too.
    expect((await from(h, '127.0.0.40', '/no/such/route')).status).toBe(429);
    // The OpenAPI document stays exempt.
    expect((await from(h, '127.0.0.40', '/docs/json')).status).toBe(200);
  });
});
