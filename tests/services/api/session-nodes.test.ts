import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../../services/api/index.ts';
import { type Platform, startPlatform } from '../../../services/cli/platform.ts';
import { catalogue } from '../../../services/common/catalogue.ts';
import { silentLogger } from '../../../services/common/logger.ts';
import { createMetricsRegistry } from '../../../services/common/metrics.ts';
import type { Registry } from '../../../services/registry/index.ts';
import { apiClient } from '../../helpers/api-client.ts';
import { TEST_ADMIN_KEY, testConfig } from '../../helpers/env.ts';
import { freshSchema } from '../../helpers/postgres.ts';

interface Nodes {
  bases: [string, string];
  registry: Registry;
  stop(): Promise<void>;
}

/** Two `sus api` processes' worth of API on one PostgreSQL schema. */
async function onPostgres(): Promise<Nodes> {
  const schema = (await freshSchema())!;
  const config = testConfig({ DATABASE_URL: schema.url, SUS_SESSION_TTL_S: '60' });
  const first = await startPlatform(config, silentLogger, { api: true });
  const second = await startPlatform(config, silentLogger, { api: true });
  const url = (p: Platform) => `http://127.0.0.1:${p.httpPort}`;
  return {
    bases: [url(first), url(second)],
    registry: first.registry,
    async stop() {
      await second.stop();
      await first.stop();
      await schema.drop();
    },
  };
}

/** Two API apps on one embedded (PGlite) registry: a second Fastify app beside the platform's own. */
async function onPglite(): Promise<Nodes> {
  const config = testConfig({ SUS_SESSION_TTL_S: '60' });
  const first = await startPlatform(config, silentLogger, { api: true });
  const ctx = {
    registry: first.registry,
    influx: first.influx,
    catalogue,
    metrics: createMetricsRegistry(false),
    config,
  };
  const second: FastifyInstance = await buildApi(ctx, silentLogger);
  await second.listen({ host: '127.0.0.1', port: 0 });
  const address = second.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    bases: [`http://127.0.0.1:${first.httpPort}`, `http://127.0.0.1:${port}`],
    registry: first.registry,
    async stop() {
      await second.close();
      await first.stop();
    },
  };
}

const call = async (base: string, method: string, path: string, cookie?: string, csrf?: string, body?: unknown) => {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(cookie ? { cookie } : {}),
      ...(csrf ? { 'x-csrf-token': csrf } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, setCookie: res.headers.get('set-cookie') };
};

describe.each([
  { name: 'PGlite', nodes: onPglite, skip: false },
  { name: 'PostgreSQL', nodes: onPostgres, skip: !process.env.TEST_DATABASE_URL },
])('console sessions across two API nodes on one registry ($name)', ({ nodes, skip }) => {
  describe.skipIf(skip)('behaviour', () => {
    let n: Nodes;
    let techKey: string;
    beforeAll(async () => {
      n = await nodes();
      const admin = apiClient(n.bases[0], TEST_ADMIN_KEY);
      expect((await admin('POST', '/v1/departments', { id: 'environment', name: 'Umweltamt' })).status).toBe(201);
      const key = await admin<{ key: string }>('POST', '/v1/keys', {
        name: 'technician',
        department: 'environment',
        scopes: ['read', 'provision'],
      });
      techKey = key.body.key;
    }, 60_000);
    afterAll(() => n?.stop());

    const signIn = async (base: string) => {
      const r = await call(base, 'POST', '/v1/session', undefined, undefined, { apiKey: techKey });
      expect(r.status).toBe(201);
      return { cookie: r.setCookie!.split(';')[0]!, csrf: r.body.csrf as string };
    };

    it('a session opened on node 1 works on node 2, its CSRF token included; signing out on node 2 ends it on both', async () => {
      const [one, two] = n.bases;
      const s = await signIn(one);
      const seen = await call(two, 'GET', '/v1/session', s.cookie);
      expect(seen.body).toStrictEqual({
        session: {
          csrf: s.csrf,
          name: 'technician',
          department: 'environment',
          scopes: ['read', 'provision'],
          role: null,
          via: 'api-key',
        },
      });
      expect((await call(two, 'GET', '/v1/devices', s.cookie)).status).toBe(200);
      const device = { id: 'env-nodes-1', name: 'x', type: 'air_quality' };
      expect((await call(two, 'POST', '/v1/devices', s.cookie, undefined, device)).body.code).toBe('SUS_ERR_CSRF');
      expect((await call(two, 'POST', '/v1/devices', s.cookie, s.csrf, device)).status).toBe(201);

      expect((await call(two, 'DELETE', '/v1/session', s.cookie, s.csrf)).status).toBe(204);
      for (const base of [one, two]) {
        expect((await call(base, 'GET', '/v1/devices', s.cookie)).status).toBe(401);
        expect((await call(base, 'GET', '/v1/session', s.cookie)).body).toStrictEqual({ session: null });
      }
    });

    it('an expired session is refused on every node', async () => {
      const s = await signIn(n.bases[0]);
      expect((await call(n.bases[1], 'GET', '/v1/devices', s.cookie)).status).toBe(200);
      await n.registry.db.query("UPDATE console_sessions SET expires_at = now() - interval '1 second'");
      for (const base of n.bases) {
        const r = await call(base, 'GET', '/v1/devices', s.cookie);
        expect([r.status, r.body.code]).toStrictEqual([401, 'SUS_ERR_UNAUTHENTICATED']);
      }
    });
  });
});
