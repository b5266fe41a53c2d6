import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scope } from '../../../services/registry/index.ts';
import { apiClient } from '../../helpers/api-client.ts';
import { type Harness, startHarness } from './harness.ts';

/**
 * Every /v1 route and the scope it must declare. A route added without a row here fails the first test, so no
 * route reaches users without an explicit, reviewed access rule.
 */
const ROUTES: Record<string, Scope | 'public' | 'read-or-public'> = {
  'GET /v1/health': 'public',
  'GET /v1/quantities': 'public',
  'GET /v1/departments': 'read',
  'POST /v1/departments': 'admin',
  'GET /v1/keys': 'admin',
  'POST /v1/keys': 'admin',
  'DELETE /v1/keys/:id': 'admin',
  'GET /v1/device-types': 'read',
  'GET /v1/device-types/:id': 'read',
  'POST /v1/device-types': 'provision',
  'GET /v1/devices': 'read',
  'POST /v1/devices': 'provision',
  'POST /v1/devices/import': 'provision',
  'GET /v1/devices/silent': 'read',
  'GET /v1/devices/:id': 'read',
  'PATCH /v1/devices/:id': 'provision',
  'DELETE /v1/devices/:id': 'provision',
  'POST /v1/devices/:id/credentials': 'provision',
  'POST /v1/devices/:id/bundle': 'provision',
  'GET /v1/devices/:id/status': 'read',
  'GET /v1/devices/:id/latest': 'read',
  'POST /v1/claims': 'provision',
  'POST /v1/provision/claim': 'public',
  'GET /v1/latest': 'read',
  'GET /v1/readings': 'read',
  'GET /v1/readings/aggregate': 'read',
  'GET /v1/reports/air-quality': 'read',
  'GET /v1/stream': 'read',
  'GET /v1/grants': 'read',
  'POST /v1/grants': 'admin',
  'DELETE /v1/grants/:id': 'admin',
  'GET /v1/audit': 'admin',
  'GET /v1/open/datasets': 'public',
  'GET /v1/open/datasets/:id/latest': 'public',
  'GET /v1/open/datasets/:id/aggregate': 'public',
  'GET /v1/open/catalog': 'public',
  // SensorThings: open data without a key, a department's view with a read key.
  'GET /sta/v1.1': 'read-or-public',
  'GET /sta/v1.1/*': 'read-or-public',
  'GET /v1/dead-letters': 'read',
  'GET /v1/dead-letters/:id': 'read',
  'POST /v1/dead-letters/:id/replay': 'write',
  'POST /v1/dead-letters/:id/discard': 'write',
  'POST /v1/ingest/:format': 'write',
  'POST /v1/devices/:id/commands': 'write',
  'GET /v1/devices/:id/commands': 'read',
  'PUT /v1/devices/:id/config': 'write',
  'GET /v1/devices/:id/config': 'read',
  'GET /v1/devices/:id/acks': 'read',
  'GET /v1/rules': 'read',
  'POST /v1/rules': 'write',
  'GET /v1/rules/:id': 'read',
  'PUT /v1/rules/:id': 'write',
  'DELETE /v1/rules/:id': 'write',
  'GET /v1/alerts': 'read',
  'GET /v1/alerts/:id': 'read',
  'GET /v1/alerts/:id/history': 'read',
  'POST /v1/alerts/:id/ack': 'write',
  'GET /v1/alerts/:id/deliveries': 'read',
  'POST /v1/deliveries/:id/resend': 'write',
  'GET /v1/silences': 'read',
  'POST /v1/silences': 'write',
  'DELETE /v1/silences/:id': 'write',
  // The console's sign-in: the session routes check their own cookie and CSRF token (tests/services/api/session.test.ts).
  'GET /v1/console/settings': 'public',
  'POST /v1/session': 'public',
  'GET /v1/session': 'public',
  'DELETE /v1/session': 'public',
  'GET /v1/session/oidc/login': 'public',
  'GET /v1/session/oidc/callback': 'public',
};
const SCOPES: Scope[] = ['read', 'write', 'provision', 'admin'];
const grants = (held: Scope, needed: Scope | 'public' | 'read-or-public') =>
  needed === 'public' || held === 'admin' || held === (needed === 'read-or-public' ? 'read' : needed);

/** A concrete request for a route pattern; ids are unknown ones so allowed calls change nothing. */
const concrete = (route: string) => {
  const [method, pattern] = route.split(' ') as [string, string];
  const path = pattern.replace(':id', 'no-such-id').replace(':format', 'canonical').replace('*', 'Things');
  const body = ['POST', 'PATCH', 'PUT'].includes(method) ? {} : undefined;
  return { method, path, body };
};

describe('authorisation matrix: every route × scope × own/other/shared/public department', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    for (const [id, department] of [
      ['own-dev', 'environment'],
      ['other-dev', 'traffic'],
      ['shared-dev', 'parks'],
      ['public-dev', 'waste'],
    ] as const) {
      await h.admin('POST', '/v1/devices', {
        id,
        name: id,
        department,
        type: 'air_quality',
        district: 'Nord',
        lat: 48.5,
        lon: 9.2,
      });
    }
    const expiresAt = new Date(Date.now() + 3600_000).toISOString();
    const share = { title: 't', purpose: 'p', quantities: ['air_temperature'], expiresAt };
    expect((await h.admin('POST', '/v1/grants', { ...share, owner: 'parks', grantee: 'environment' })).status).toBe(
      201,
    );
    expect((await h.admin('POST', '/v1/grants', { ...share, owner: 'waste', grantee: 'public' })).status).toBe(201);
  });
  afterAll(async () => h?.stop());

  it('has a declared scope for every /v1 and /sta route, and every route is in this matrix with that scope', () => {
    const declared = Object.fromEntries(h.platform.api!.routeScopes.map((r) => [`${r.method} ${r.url}`, r.scope]));
    expect(Object.entries(declared).filter(([, scope]) => scope === undefined)).toStrictEqual([]);
    expect(declared).toStrictEqual(ROUTES);
  });

  it('refuses every non-public route without a key (401) and never asks a public route for one', async () => {
    const anonymous = apiClient(h.base);
    for (const [route, scope] of Object.entries(ROUTES)) {
      const { method, path, body } = concrete(route);
      const res = await anonymous<{ code?: string }>(method, path, body);
      if (scope === 'public' || scope === 'read-or-public') expect([route, res.status]).not.toStrictEqual([route, 401]);
      else expect([route, res.status, res.body.code]).toStrictEqual([route, 401, 'SUS_ERR_UNAUTHENTICATED']);
    }
  });

  it('allows a route exactly when the key holds its scope (admin holds every scope)', async () => {
    for (const held of SCOPES) {
      const api = await h.as('environment', [held]);
      for (const [route, needed] of Object.entries(ROUTES)) {
        const { method, path, body } = concrete(route);
        const res = await api<{ code?: string }>(method, path, body);
        const deniedByScope = res.status === 403 && res.body.code === 'SUS_ERR_FORBIDDEN';
        expect({ route, held, allowed: !deniedByScope && res.status !== 401 }).toStrictEqual({
          route,
          held,
          allowed: grants(held, needed),
        });
      }
    }
  });

  // A department key with every scope; the department dimension on the routes that read or change its data.
  const DEPT_CASES: Array<{
    route: string;
    path: (dev: string, dept: string) => string;
    method?: string;
    body?: unknown;
    expect: Record<'own' | 'other' | 'shared' | 'public', number>;
  }> = [
    {
      route: 'GET /v1/devices/:id',
      path: (d) => `/v1/devices/${d}`,
      expect: { own: 200, other: 404, shared: 404, public: 404 },
    },
    {
      route: 'GET /v1/devices/:id/status',
      path: (d) => `/v1/devices/${d}/status`,
      expect: { own: 200, other: 404, shared: 404, public: 404 },
    },
    {
      route: 'GET /v1/devices/:id/latest',
      path: (d) => `/v1/devices/${d}/latest`,
      expect: { own: 200, other: 404, shared: 404, public: 404 },
    },
    {
      route: 'PATCH /v1/devices/:id',
      method: 'PATCH',
      body: { name: 'renamed' },
      path: (d) => `/v1/devices/${d}`,
      expect: { own: 200, other: 404, shared: 404, public: 404 },
    },
    {
      route: 'GET /v1/dead-letters',
      path: (d) => `/v1/dead-letters?device=${d}`,
      expect: { own: 200, other: 404, shared: 404, public: 404 },
    },
    {
      route: 'GET /v1/latest',
      path: (_d, dept) => `/v1/latest?department=${dept}&quantity=air_temperature`,
      expect: { own: 200, other: 403, shared: 200, public: 200 },
    },
    {
      route: 'GET /v1/latest (device)',
      path: (d) => `/v1/latest?device=${d}&quantity=air_temperature`,
      expect: { own: 200, other: 404, shared: 200, public: 200 },
    },
    {
      route: 'GET /v1/readings',
      path: (_d, dept) => `/v1/readings?department=${dept}&quantity=air_temperature`,
      expect: { own: 200, other: 403, shared: 200, public: 200 },
    },
    {
      route: 'GET /v1/readings (device)',
      path: (d) => `/v1/readings?device=${d}&quantity=air_temperature`,
      expect: { own: 200, other: 404, shared: 200, public: 200 },
    },
    {
      route: 'GET /v1/readings (other quantity)',
      path: (_d, dept) => `/v1/readings?department=${dept}&quantity=pm10`,
      expect: { own: 200, other: 403, shared: 403, public: 403 },
    },
    {
      route: 'GET /v1/readings/aggregate',
      path: (_d, dept) => `/v1/readings/aggregate?department=${dept}&quantity=air_temperature&every=1h`,
      expect: { own: 200, other: 403, shared: 200, public: 200 },
    },
    {
      route: 'GET /v1/devices/:id/commands',
      path: (d) => `/v1/devices/${d}/commands`,
      expect: { own: 200, other: 404, shared: 404, public: 404 },
    },
  ];

  it('lets a department read its own data, shared and public slices, and nothing else', async () => {
    const api = await h.as('environment', ['read', 'write', 'provision']);
    const targets = {
      own: ['own-dev', 'environment'],
      other: ['other-dev', 'traffic'],
      shared: ['shared-dev', 'parks'],
      public: ['public-dev', 'waste'],
    } as const;
    const seen: Array<[string, string, number]> = [];
    const want: Array<[string, string, number]> = [];
    for (const c of DEPT_CASES) {
      for (const [who, [dev, dept]] of Object.entries(targets) as Array<
        [keyof typeof targets, readonly [string, string]]
      >) {
        const res = await api(c.method ?? 'GET', c.path(dev, dept), c.body);
        seen.push([c.route, who, res.status]);
        want.push([c.route, who, c.expect[who]]);
      }
    }
    expect(seen).toStrictEqual(want);
  });
});
