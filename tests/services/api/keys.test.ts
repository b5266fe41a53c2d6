import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from '../../helpers/api-client.ts';
import { type Harness, startHarness } from './harness.ts';

interface KeyRecord {
  id: string;
  name: string;
  department: string | null;
  scopes: string[];
  createdAt: string;
  revokedAt: string | null;
}

describe('API keys: created once, stored hashed, scoped, revocable, rate limited per key', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ SUS_API_RATE_LIMIT: '40' });
  });
  afterAll(async () => h?.stop());

  it('shows the secret once, lists the key without it, and a revoked key is refused at once', async () => {
    const created = await h.admin<{ key: string; record: KeyRecord }>('POST', '/v1/keys', {
      name: 'parks app',
      department: 'parks',
      scopes: ['read'],
    });
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^sus_[A-Za-z0-9_-]{32}$/);
    const { record } = created.body;
    expect(record).toStrictEqual({
      id: record.id,
      name: 'parks app',
      department: 'parks',
      scopes: ['read'],
      createdAt: record.createdAt,
      revokedAt: null,
    });
    const parks = apiClient(h.base, created.body.key);
    expect((await parks('GET', '/v1/devices')).status).toBe(200);

    const list = await h.admin<{ keys: KeyRecord[] }>('GET', '/v1/keys');
    expect(list.body.keys.find((k) => k.id === record.id)).toStrictEqual(record);
    expect(JSON.stringify(list.body)).not.toContain(created.body.key);

    const revoked = await h.admin<KeyRecord>('DELETE', `/v1/keys/${record.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).not.toBeNull();
    const after = await parks('GET', '/v1/devices');
    expect(after.status).toBe(401);
    expect(after.type).toContain('application/problem+json');
    expect((after.body as { code: string }).code).toBe('SUS_ERR_UNAUTHENTICATED');
  });

  it("lets a department admin manage only its own department's keys", async () => {
    const envAdmin = await h.as('environment', ['admin']);
    const own = await envAdmin<{ record: KeyRecord }>('POST', '/v1/keys', { name: 'env reader', scopes: ['read'] });
    expect(own.status).toBe(201);
    expect(own.body.record.department).toBe('environment');
    const platformWide = await envAdmin<{ code: string }>('POST', '/v1/keys', {
      name: 'escalation',
      department: null,
      scopes: ['admin'],
    });
    expect(platformWide.status).toBe(403);
    expect(platformWide.body.code).toBe('SUS_ERR_FORBIDDEN');
    const other = await envAdmin('POST', '/v1/keys', { name: 'x', department: 'traffic', scopes: ['read'] });
    expect(other.status).toBe(403);
    const listed = await envAdmin<{ keys: KeyRecord[] }>('GET', '/v1/keys');
    expect(new Set(listed.body.keys.map((k) => k.department))).toStrictEqual(new Set(['environment']));
    const trafficKey = (
      await h.admin<{ record: KeyRecord }>('POST', '/v1/keys', {
        name: 't',
        department: 'traffic',
        scopes: ['read'],
      })
    ).body.record;
    expect((await envAdmin('DELETE', `/v1/keys/${trafficKey.id}`)).status).toBe(404);
  });

  it('refuses a key without the scope a route declares with 403 and the scope it needs', async () => {
    const reader = await h.as('environment', ['read']);
    const res = await reader<{ code: string; detail: string }>('POST', '/v1/devices', {
      name: 'x',
      type: 'air_quality',
    });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('SUS_ERR_FORBIDDEN');
    expect(res.body.detail).toBe("this route needs the 'provision' scope; the key has read");
  });

  it('answers 429 with a problem body once a key exceeds SUS_API_RATE_LIMIT, while other keys go on', async () => {
    const busy = await h.as('traffic', ['read']);
    const statuses: number[] = [];
    for (let i = 0; i < 41; i++) statuses.push((await busy('GET', '/v1/device-types')).status);
    expect(statuses.slice(0, 40).every((s) => s === 200)).toBe(true);
    const limited = await busy<{ code: string }>('GET', '/v1/device-types');
    expect(limited.status).toBe(429);
    expect(limited.type).toContain('application/problem+json');
    expect(limited.body.code).toBe('SUS_ERR_RATE_LIMITED');
    const other = await h.as('parks', ['read']);
    expect((await other('GET', '/v1/device-types')).status).toBe(200);
  });
});
