import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from '../../helpers/api-client.ts';
import { type Harness, startHarness } from './harness.ts';

interface Problem {
  code: string;
  detail: string;
}
const HOUR = 3600_000;

describe('readings: latest by filters, GeoJSON, CSV, aggregates, the query budget, sharing and open data', () => {
  let h: Harness;
  // On an even hour: InfluxDB aligns 2 h windows to the epoch, and the count below expects one window.
  const t0 = Math.floor(Date.now() / (2 * HOUR)) * 2 * HOUR - 4 * HOUR;
  const iso = (t: number) => new Date(t).toISOString();

  beforeAll(async () => {
    h = await startHarness({ SUS_QUERY_MAX_POINTS: '1000' });
    const devices = [
      { id: 'env-a', department: 'environment', type: 'air_quality', district: 'Nord', lat: 48.5, lon: 9.2 },
      { id: 'env-b', department: 'environment', type: 'air_quality', district: 'Sued', lat: 48.4, lon: 9.3 },
      { id: 'env-c', department: 'environment', type: 'noise', district: 'Nord', lat: null, lon: null },
      { id: 'tr-a', department: 'traffic', type: 'counter', district: 'Nord', lat: 48.51, lon: 9.21 },
    ];
    for (const d of devices) expect((await h.admin('POST', '/v1/devices', { ...d, name: d.id })).status).toBe(201);
    const p = (
      device: string,
      dept: string,
      district: string,
      type: string,
      q: string,
      value: number,
      time: number,
    ) => ({
      device,
      dept,
      district,
      type,
      q,
      value,
      time,
    });
    await h.write([
      p('env-a', 'environment', 'Nord', 'air_quality', 'air_temperature', 10, t0),
      p('env-a', 'environment', 'Nord', 'air_quality', 'air_temperature', 12, t0 + HOUR / 2),
      p('env-a', 'environment', 'Nord', 'air_quality', 'air_temperature', 20, t0 + HOUR),
      p('env-b', 'environment', 'Sued', 'air_quality', 'air_temperature', 5, t0),
      p('env-c', 'environment', 'Nord', 'noise', 'noise_laeq', 55, t0),
      p('tr-a', 'traffic', 'Nord', 'counter', 'vehicle_count', 7, t0),
    ]);
  });
  afterAll(async () => h?.stop());

  it("returns the department's latest values per device, narrowed by quantity, district and bounding box", async () => {
    const env = await h.as('environment', ['read']);
    const all = await env('GET', '/v1/latest?quantity=air_temperature');
    expect(all.body).toStrictEqual({
      devices: [
        {
          device: 'env-a',
          department: 'environment',
          type: 'air_quality',
          district: 'Nord',
          lat: 48.5,
          lon: 9.2,
          values: [{ quantity: 'air_temperature', value: 20, unit: 'Cel', time: iso(t0 + HOUR) }],
        },
        {
          device: 'env-b',
          department: 'environment',
          type: 'air_quality',
          district: 'Sued',
          lat: 48.4,
          lon: 9.3,
          values: [{ quantity: 'air_temperature', value: 5, unit: 'Cel', time: iso(t0) }],
        },
      ],
    });
    const ids = async (q: string) =>
      (await env<{ devices: Array<{ device: string }> }>('GET', `/v1/latest?${q}`)).body.devices.map((d) => d.device);
    expect(await ids('district=Nord')).toStrictEqual(['env-a', 'env-c']);
    expect(await ids('bbox=9.25,48.35,9.35,48.45')).toStrictEqual(['env-b']);
    expect(await ids('device=env-c')).toStrictEqual(['env-c']);
    // Another department's devices never show up in the department's own view.
    expect(await ids('quantity=vehicle_count')).toStrictEqual([]);
  });

  it('serves the latest values as GeoJSON for maps and as CSV', async () => {
    const env = await h.as('environment', ['read']);
    const geo = await env('GET', '/v1/latest?quantity=air_temperature&format=geojson');
    expect(geo.type).toBe('application/geo+json');
    expect(geo.body).toStrictEqual({
      type: 'FeatureCollection',
      features: [
        {
          type: 'Feature',
          geometry: { type: 'Point', coordinates: [9.2, 48.5] },
          properties: {
            device: 'env-a',
            department: 'environment',
            type: 'air_quality',
            district: 'Nord',
            air_temperature: 20,
            time: iso(t0 + HOUR),
          },
        },
        {
          type: 'Feature',
          geometry: { type: 'Point', coordinates: [9.3, 48.4] },
          properties: {
            device: 'env-b',
            department: 'environment',
            type: 'air_quality',
            district: 'Sued',
            air_temperature: 5,
            time: iso(t0),
          },
        },
      ],
    });
    const res = await fetch(`${h.base}/v1/latest?district=Sued`, {
      headers: { accept: 'text/csv', authorization: await keyHeader(h) },
    });
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(await res.text()).toBe(
      `device,department,district,lat,lon,quantity,value,unit,time\r\nenv-b,environment,Sued,48.4,9.3,air_temperature,5,Cel,${iso(t0)}\r\n`,
    );
  });

  it('aggregates hourly means per device and exports them as CSV', async () => {
    const env = await h.as('environment', ['read']);
    const q = `quantity=air_temperature&department=environment&from=${iso(t0)}&to=${iso(t0 + 2 * HOUR)}&every=1h&fn=mean&groupBy=device`;
    const res = await env('GET', `/v1/readings/aggregate?${q}`);
    expect(res.body).toStrictEqual({
      quantity: 'air_temperature',
      unit: 'Cel',
      fn: 'mean',
      every: '1h',
      from: iso(t0),
      to: iso(t0 + 2 * HOUR),
      // The harness runs no rollup service: raw readings answer.
      source: 'raw',
      series: [
        {
          group: { device: 'env-a' },
          points: [
            { time: iso(t0), value: 11 },
            { time: iso(t0 + HOUR), value: 20 },
          ],
        },
        { group: { device: 'env-b' }, points: [{ time: iso(t0), value: 5 }] },
      ],
    });
    const counted = await env<{ series: unknown }>(
      'GET',
      `/v1/readings/aggregate?quantity=air_temperature&device=env-a&from=${iso(t0)}&to=${iso(t0 + 2 * HOUR)}&every=2h&fn=count`,
    );
    expect(counted.body.series).toStrictEqual([{ group: {}, points: [{ time: iso(t0), value: 3 }] }]);
    const csv = await env('GET', `/v1/readings/aggregate?${q}&format=csv`);
    expect(csv.body).toBe(
      `time,group,value\r\n${iso(t0)},env-a,11\r\n${iso(t0 + HOUR)},env-a,20\r\n${iso(t0)},env-b,5\r\n`,
    );
  });

  it('refuses queries over the budget with 400 and says how to narrow them, before InfluxDB sees them', async () => {
    const env = await h.as('environment', ['read']);
    const month = await env<Problem>(
      'GET',
      `/v1/readings/aggregate?quantity=air_temperature&device=env-a&from=${iso(t0 - 30 * 24 * HOUR)}&to=${iso(t0)}&every=1m`,
    );
    expect(month.status).toBe(400);
    expect(month.body.code).toBe('SUS_ERR_QUERY_BUDGET');
    expect(month.body.detail).toBe(
      '43200 windows × 1 group(s) = 43200 points exceeds the query budget of 1000: use every >= 2592s, a shorter from/to range',
    );
    const grouped = await env<Problem>(
      'GET',
      `/v1/readings/aggregate?quantity=air_temperature&from=${iso(t0 - 20 * 24 * HOUR)}&to=${iso(t0)}&every=1h&groupBy=device`,
    );
    expect(grouped.status).toBe(400);
    expect(grouped.body.detail).toContain('480 windows × 3 group(s) = 1440 points');
    const noEvery = await env<Problem>('GET', '/v1/readings/aggregate?quantity=air_temperature');
    expect([noEvery.status, noEvery.body.code]).toStrictEqual([400, 'SUS_ERR_VALIDATION']);
    const raw = await env<Problem>('GET', '/v1/readings?limit=1001');
    expect([raw.status, raw.body.code]).toStrictEqual([400, 'SUS_ERR_QUERY_BUDGET']);
  });

  it('grant → audited read → revoke → denied', async () => {
    const traffic = await h.as('traffic', ['read']);
    const envAdmin = await h.as('environment', ['admin']);
    const before = await traffic<Problem>('GET', '/v1/latest?department=environment&quantity=air_temperature');
    expect([before.status, before.body.code]).toStrictEqual([403, 'SUS_ERR_NOT_SHARED']);
    const grant = await envAdmin<{ id: string }>('POST', '/v1/grants', {
      grantee: 'traffic',
      title: 'Temperatures for road-ice warnings',
      purpose: 'road-ice warnings',
      quantities: ['air_temperature'],
      districts: ['Nord'],
      expiresAt: iso(Date.now() + 24 * HOUR),
    });
    expect(grant.status).toBe(201);
    const shared = await traffic<{ devices: Array<{ device: string }> }>(
      'GET',
      '/v1/latest?department=environment&quantity=air_temperature',
    );
    expect(shared.status).toBe(200);
    // The grant covers district Nord only: env-b (Sued) stays invisible.
    expect(shared.body.devices.map((d) => d.device)).toStrictEqual(['env-a']);
    const noise = await traffic<Problem>('GET', '/v1/latest?department=environment&quantity=noise_laeq');
    expect(noise.status).toBe(403);
    const audit = await envAdmin<{ entries: Array<Record<string, unknown>> }>('GET', '/v1/audit');
    const [entry] = audit.body.entries;
    expect(entry).toStrictEqual({
      id: entry!.id,
      at: entry!.at,
      grantId: grant.body.id,
      owner: 'environment',
      reader: 'traffic',
      keyId: entry!.keyId,
      route: '/v1/latest',
      query: { department: 'environment', quantity: ['air_temperature'] },
    });
    expect(audit.body.entries).toHaveLength(1);
    // The reader cannot read the owner's audit log, and the owner's own reads are not audited.
    expect((await traffic('GET', '/v1/audit')).status).toBe(403);
    expect((await envAdmin('DELETE', `/v1/grants/${grant.body.id}`)).status).toBe(200);
    const after = await traffic<Problem>('GET', '/v1/latest?department=environment&quantity=air_temperature');
    expect([after.status, after.body.code]).toStrictEqual([403, 'SUS_ERR_NOT_SHARED']);
  });

  it('enforces an aggregation floor: hourly means allowed, raw readings and finer windows refused', async () => {
    const parks = await h.as('parks', ['read']);
    const envAdmin = await h.as('environment', ['admin']);
    await envAdmin('POST', '/v1/grants', {
      grantee: 'parks',
      title: 'Hourly temperatures',
      purpose: 'irrigation planning',
      quantities: ['air_temperature'],
      aggregationFloorS: 3600,
      expiresAt: iso(Date.now() + HOUR),
    });
    const range = `from=${iso(t0)}&to=${iso(t0 + 2 * HOUR)}`;
    const hourly = await parks<{ series: unknown }>(
      'GET',
      `/v1/readings/aggregate?quantity=air_temperature&department=environment&${range}&every=1h`,
    );
    expect(hourly.status).toBe(200);
    expect(hourly.body.series).toStrictEqual([
      {
        group: {},
        points: [
          { time: iso(t0), value: 9 },
          { time: iso(t0 + HOUR), value: 20 },
        ],
      },
    ]);
    const fine = await parks<Problem>(
      'GET',
      `/v1/readings/aggregate?quantity=air_temperature&department=environment&${range}&every=30m`,
    );
    expect([fine.status, fine.body.code]).toStrictEqual([403, 'SUS_ERR_AGGREGATION_FLOOR']);
    const raw = await parks<Problem>('GET', `/v1/readings?quantity=air_temperature&department=environment&${range}`);
    expect([raw.status, raw.body.code]).toStrictEqual([403, 'SUS_ERR_AGGREGATION_FLOOR']);
  });

  it('serves public grants as open data without a key (catalogue, GeoJSON, CSV) and audits them', async () => {
    const envAdmin = await h.as('environment', ['admin']);
    const grant = await envAdmin<{ id: string }>('POST', '/v1/grants', {
      grantee: 'public',
      title: 'Air temperature, Reutlingen',
      purpose: 'open data',
      licence: 'CC-BY-4.0',
      quantities: ['air_temperature'],
      updateIntervalS: 300,
      expiresAt: iso(Date.now() + HOUR),
    });
    const anonymous = apiClient(h.base);
    const catalogue = await anonymous<{ datasets: unknown[] }>('GET', '/v1/open/datasets');
    expect(catalogue.status).toBe(200);
    expect(catalogue.body.datasets).toContainEqual({
      id: grant.body.id,
      title: 'Air temperature, Reutlingen',
      owner: 'environment',
      licence: 'CC-BY-4.0',
      purpose: 'open data',
      quantities: ['air_temperature'],
      updateIntervalS: 300,
      aggregationFloorS: null,
      expiresAt: expect.any(String),
    });
    const geo = await anonymous<{ features: Array<{ properties: { device: string } }> }>(
      'GET',
      `/v1/open/datasets/${grant.body.id}/latest?format=geojson`,
    );
    expect(geo.status).toBe(200);
    expect(geo.body.features.map((f) => f.properties.device)).toStrictEqual(['env-a', 'env-b']);
    const csv = await anonymous(
      'GET',
      `/v1/open/datasets/${grant.body.id}/aggregate?quantity=air_temperature&from=${iso(t0)}&to=${iso(t0 + HOUR)}&every=1h&format=csv`,
    );
    expect(csv.body).toBe(`time,group,value\r\n${iso(t0)},all,9\r\n`);
    expect((await anonymous('GET', '/v1/open/datasets/grant_nope/latest')).status).toBe(404);
    const audit = await envAdmin<{ entries: Array<{ reader: string | null; grantId: string }> }>('GET', '/v1/audit');
    expect(audit.body.entries.filter((e) => e.grantId === grant.body.id).map((e) => e.reader)).toStrictEqual([
      null,
      null,
    ]);
  });
});

async function keyHeader(h: Harness): Promise<string> {
  const res = await h.admin<{ key: string }>('POST', '/v1/keys', {
    name: 'csv',
    department: 'environment',
    scopes: ['read'],
  });
  return `Bearer ${res.body.key}`;
}
