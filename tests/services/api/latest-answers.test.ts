import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from './harness.ts';

const T = Date.UTC(2026, 11, 1, 10, 0, 0);
const iso = (t: number) => new Date(t).toISOString();
const DEVICES = [
  { id: 'la-nord', district: 'Nord', lat: 48.5, lon: 9.2 },
  { id: 'la-sued', district: 'Sued', lat: 48.4, lon: 9.3 },
];

/**
 * Latest answers are built once per store version and request scope, and served to the polls that follow; on the
 * embedded registry (PGlite, these tests) the version itself is known without a query until a statement of this
 * process could have moved it. Each case polls, changes something, and polls again.
 */
describe('latest answers shared between polls stay correct', () => {
  let h: Harness;
  const keys = new Map<string, string>();

  const keyOf = async (dept: string) => {
    let key = keys.get(dept);
    if (!key) {
      const res = await h.admin<{ key: string }>('POST', '/v1/keys', {
        name: dept,
        department: dept,
        scopes: ['read'],
      });
      expect(res.status).toBe(201);
      key = res.body.key;
      keys.set(dept, key);
    }
    return key;
  };
  const poll = async (dept: string, etag?: string) => {
    const res = await fetch(`${h.base}/v1/latest?department=environment&quantity=pm10`, {
      headers: { authorization: `Bearer ${await keyOf(dept)}`, ...(etag ? { 'if-none-match': etag } : {}) },
    });
    const text = await res.text();
    return {
      status: res.status,
      etag: res.headers.get('etag') ?? '',
      body: text ? (JSON.parse(text) as unknown) : null,
    };
  };
  const device = (d: (typeof DEVICES)[number], value: number, time: number, district = d.district) => ({
    device: d.id,
    department: 'environment',
    type: 'air_quality',
    district,
    lat: d.lat,
    lon: d.lon,
    values: [{ quantity: 'pm10', value, unit: 'ug/m3', time: iso(time) }],
  });
  const write = (d: (typeof DEVICES)[number], value: number, time: number) =>
    h.write([{ q: 'pm10', device: d.id, dept: 'environment', district: d.district, type: 'air_quality', value, time }]);

  beforeAll(async () => {
    h = await startHarness();
    for (const d of DEVICES) {
      const res = await h.admin('POST', '/v1/devices', {
        ...d,
        name: d.id,
        department: 'environment',
        type: 'air_quality',
      });
      expect(res.status).toBe(201);
    }
    await write(DEVICES[0]!, 1, T);
    await write(DEVICES[1]!, 2, T);
  });
  afterAll(async () => h?.stop());

  it('shows a new reading and a moved device in the very next answer, and 304 to polls of unchanged data', async () => {
    const [nord, sued] = [DEVICES[0]!, DEVICES[1]!];
    const first = await poll('environment');
    const again = await poll('environment', first.etag);
    await write(nord, 3, T + 60_000);
    const afterReading = await poll('environment', first.etag);
    const moved = await h.admin('PATCH', `/v1/devices/${sued.id}`, { district: 'Mitte' });
    const afterMove = await poll('environment', afterReading.etag);
    // A reading older than the stored one changes nothing: the answer, and so its ETag, stays.
    await write(nord, 0, T);
    const afterOlder = await poll('environment', afterMove.etag);
    expect([first, again.status, afterReading, moved.status, afterMove, afterOlder.status]).toStrictEqual([
      { status: 200, etag: first.etag, body: { devices: [device(nord, 1, T), device(sued, 2, T)] } },
      304,
      { status: 200, etag: afterReading.etag, body: { devices: [device(nord, 3, T + 60_000), device(sued, 2, T)] } },
      200,
      {
        status: 200,
        etag: afterMove.etag,
        body: { devices: [device(nord, 3, T + 60_000), device(sued, 2, T, 'Mitte')] },
      },
      304,
    ]);
    expect(new Set([first.etag, afterReading.etag, afterMove.etag]).size).toBe(3);
  });

  it("never gives one department the answer cached for another, and a revoked grant's next poll shows nothing", async () => {
    const [nord, sued] = [DEVICES[0]!, DEVICES[1]!];
    const envAdmin = await h.as('environment', ['admin']);
    const grant = await envAdmin<{ id: string }>('POST', '/v1/grants', {
      grantee: 'traffic',
      title: 'pm10 in Nord',
      purpose: 'tests',
      quantities: ['pm10'],
      districts: ['Nord'],
      expiresAt: iso(Date.now() + 3600_000),
    });
    expect(grant.status).toBe(201);
    // The owner's answer is built and cached first; the others ask for the very same URL right after.
    const owner = await poll('environment');
    const traffic = await poll('traffic');
    const parks = await poll('parks');
    const revoked = await envAdmin('DELETE', `/v1/grants/${grant.body.id}`);
    const trafficAfter = await poll('traffic');
    const ownerAfter = await poll('environment', owner.etag);
    expect([
      owner.body,
      traffic.body,
      parks.status,
      revoked.status,
      trafficAfter.status,
      ownerAfter.status,
    ]).toStrictEqual([
      { devices: [device(nord, 3, T + 60_000), device(sued, 2, T, 'Mitte')] },
      { devices: [device(nord, 3, T + 60_000)] },
      403,
      200,
      403,
      304,
    ]);
  });
});
