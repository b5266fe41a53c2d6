import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from './harness.ts';

/** A cookie-carrying client of the console's session: what a browser does, with fetch. */
function browser(base: string) {
  let cookie = '';
  let csrf = '';
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${base}${path}`, {
      method,
      redirect: 'manual',
      headers: {
        ...(cookie ? { cookie } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const set = res.headers.get('set-cookie');
    if (set) cookie = set.split(';')[0]!;
    const text = await res.text();
    const json = text && (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text;
    return { status: res.status, body: json, setCookie: set };
  };
  return {
    call,
    get cookie() {
      return cookie;
    },
    async signIn(apiKey: string) {
      const r = await call('POST', '/v1/session', { apiKey });
      csrf = r.body.csrf;
      return r;
    },
    get csrf() {
      return csrf;
    },
  };
}

describe('console sessions: an API key exchanged for an httpOnly cookie the API accepts like the key', () => {
  let h: Harness;
  let techKey: string;
  beforeAll(async () => {
    h = await startHarness({ SUS_SESSION_TTL_S: '60' });
    const res = await h.admin<{ key: string }>('POST', '/v1/keys', {
      name: 'technician',
      department: 'environment',
      scopes: ['read', 'provision'],
    });
    techKey = res.body.key;
    for (const [id, department] of [
      ['env-1', 'environment'],
      ['traffic-1', 'traffic'],
    ])
      await h.admin('POST', '/v1/devices', { id, name: id, department, type: 'air_quality' });
  });
  afterAll(() => h?.stop());

  it('signs in with a key: a session cookie (httpOnly, SameSite=Strict, no key in it) and the CSRF token', async () => {
    const b = browser(h.base);
    const r = await b.signIn(techKey);
    expect(r.status).toBe(201);
    expect(r.body).toStrictEqual({
      csrf: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/),
      name: 'technician',
      department: 'environment',
      scopes: ['read', 'provision'],
      role: null,
      via: 'api-key',
    });
    expect(r.setCookie).toMatch(/^sus_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=60$/);
    expect(r.setCookie).not.toContain(techKey);
    expect((await b.call('GET', '/v1/session')).body).toStrictEqual({ session: r.body });
  });

  it('the session reads with the key’s department scope: its own devices, never another department’s', async () => {
    const b = browser(h.base);
    await b.signIn(techKey);
    const list = await b.call('GET', '/v1/devices');
    expect(list.status).toBe(200);
    expect(list.body.devices.map((d: { id: string }) => d.id)).toStrictEqual(['env-1']);
    expect((await b.call('GET', '/v1/devices/traffic-1')).status).toBe(404);
  });

  it('an unsafe method without the CSRF token is refused 403 SUS_ERR_CSRF and changes nothing; with it, it works', async () => {
    const b = browser(h.base);
    await b.signIn(techKey);
    const device = { id: 'env-csrf', name: 'x', type: 'air_quality' };
    const refused = await b.call('POST', '/v1/devices', device);
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('SUS_ERR_CSRF');
    const wrong = await b.call('POST', '/v1/devices', device, { 'x-csrf-token': 'not-the-token' });
    expect(wrong.body.code).toBe('SUS_ERR_CSRF');
    expect((await h.admin('GET', '/v1/devices/env-csrf')).status).toBe(404);
    const ok = await b.call('POST', '/v1/devices', device, { 'x-csrf-token': b.csrf });
    expect(ok.status).toBe(201);
    expect(ok.body.device.department).toBe('environment');
  });

  it('the session has exactly the key’s scopes: a technician cannot create grants (admin)', async () => {
    const b = browser(h.base);
    await b.signIn(techKey);
    const r = await b.call('GET', '/v1/audit', undefined);
    expect(r.status).toBe(403);
    expect(r.body.code).toBe('SUS_ERR_FORBIDDEN');
  });

  it('revoking the key ends its sessions; a wrong key opens none', async () => {
    const made = await h.admin<{ key: string; record: { id: string } }>('POST', '/v1/keys', {
      name: 'short-lived',
      department: 'environment',
      scopes: ['read'],
    });
    const b = browser(h.base);
    await b.signIn(made.body.key);
    expect((await b.call('GET', '/v1/devices')).status).toBe(200);
    expect((await h.admin('DELETE', `/v1/keys/${made.body.record.id}`)).status).toBe(200);
    expect((await b.call('GET', '/v1/devices')).status).toBe(401);
    expect((await b.call('GET', '/v1/session')).body).toStrictEqual({ session: null });
    const wrong = await browser(h.base).signIn('sus_not_a_key_0123456789');
    expect(wrong.status).toBe(401);
    expect(wrong.body.code).toBe('SUS_ERR_UNAUTHENTICATED');
    expect(wrong.setCookie).toBeNull();
  });

  it('signing out needs the CSRF token, then the cookie no longer works', async () => {
    const b = browser(h.base);
    await b.signIn(techKey);
    const kept = b.cookie;
    expect((await b.call('DELETE', '/v1/session')).status).toBe(403);
    const out = await b.call('DELETE', '/v1/session', undefined, { 'x-csrf-token': b.csrf });
    expect(out.status).toBe(204);
    expect(out.setCookie).toMatch(/^sus_session=; Path=\/; HttpOnly; SameSite=Strict; Max-Age=0$/);
    const again = await fetch(`${h.base}/v1/devices`, { headers: { cookie: kept } });
    expect(again.status).toBe(401);
  });

  it('an explicit Authorization header wins over a session cookie', async () => {
    const b = browser(h.base);
    await b.signIn(techKey);
    const r = await b.call('GET', '/v1/audit', undefined, {
      authorization: 'Bearer sus_test_admin_key_0123456789abcdef',
    });
    expect(r.status).toBe(200);
  });

  it('OpenID Connect sign-in answers 404 SUS_ERR_OIDC_DISABLED when no issuer is configured', async () => {
    const r = await browser(h.base).call('GET', '/v1/session/oidc/login');
    expect(r.status).toBe(404);
    expect(r.body.code).toBe('SUS_ERR_OIDC_DISABLED');
    expect((await browser(h.base).call('GET', '/v1/console/settings')).body).toStrictEqual({
      tileUrl: null,
      tileAttribution: '',
      oidc: false,
    });
  });
});
