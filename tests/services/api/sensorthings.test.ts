import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from '../../helpers/api-client.ts';
import { type Harness, startHarness } from './harness.ts';

const T0 = Date.UTC(2026, 5, 1, 8, 0, 0);
const MIN = 60_000;
const iso = (t: number) => new Date(t).toISOString();

interface Dev {
  id: string;
  dept: string;
  district: string | null;
  lat: number | null;
  lon: number | null;
}
/** In the registry's order (by id). */
const DEVICES: Dev[] = [
  { id: 'env-aq-1', dept: 'environment', district: 'Nord', lat: 48.5, lon: 9.2 },
  { id: 'env-aq-2', dept: 'environment', district: 'Sued', lat: 48.4, lon: 9.3 },
  { id: 'env-aq-3', dept: 'environment', district: null, lat: null, lon: null },
  { id: 'tr-aq-1', dept: 'traffic', district: 'Nord', lat: 48.51, lon: 9.21 },
];
const QUANTITIES = ['air_temperature', 'pm10'] as const;
/** Five readings per device and quantity, a minute apart; values say which device and quantity they are. */
const READINGS = DEVICES.flatMap((d, di) =>
  QUANTITIES.flatMap((q, qi) =>
    [0, 1, 2, 3, 4].map((i) => ({ device: d, q, time: T0 + i * MIN, value: 100 * di + 10 * qi + i })),
  ),
);

describe('SensorThings API 1.1 (read) at /sta/v1.1', () => {
  let h: Harness;
  let sta: string;
  const anon = (path: string) => apiClient('')('GET', `${sta}${path}`);
  let admin: ReturnType<typeof apiClient>;
  let publicGrant = '';

  beforeAll(async () => {
    h = await startHarness();
    sta = `${h.base}/sta/v1.1`;
    admin = apiClient(
      '',
      (await h.admin<{ key: string }>('POST', '/v1/keys', { name: 'sta', scopes: ['admin'] })).body.key,
    );
    const res = await h.admin('POST', '/v1/device-types', {
      id: 'air_quality',
      name: 'Air quality station',
      description: 'Particulates and temperature',
      quantities: [...QUANTITIES],
      expectedIntervalS: 60,
      profile: { vendor: 'Example' },
    });
    expect(res.status).toBe(201);
    for (const d of DEVICES) {
      const r = await h.admin('POST', '/v1/devices', {
        id: d.id,
        name: d.id.toUpperCase(),
        department: d.dept,
        type: 'air_quality',
        district: d.district,
        lat: d.lat,
        lon: d.lon,
      });
      expect(r.status).toBe(201);
    }
    await h.write(
      READINGS.filter((r) => !(r.device.id === 'env-aq-1' && r.q === 'pm10' && r.time === T0 + 4 * MIN)).map((r) => ({
        q: r.q,
        device: r.device.id,
        dept: r.device.dept,
        district: r.device.district ?? '',
        type: 'air_quality',
        value: r.value,
        time: r.time,
      })),
    );
    // One flagged reading (ingest stores it so when SUS_RANGE_POLICY is 'flag').
    await h.write([
      {
        q: 'pm10',
        device: 'env-aq-1',
        dept: 'environment',
        district: 'Nord',
        type: 'air_quality',
        value: 14,
        time: T0 + 4 * MIN,
        flags: ['out_of_range'],
      },
    ]);
    const envAdmin = await h.as('environment', ['admin']);
    const g = await envAdmin<{ id: string }>('POST', '/v1/grants', {
      grantee: 'public',
      title: 'Feinstaub Nord',
      purpose: 'open data',
      quantities: ['pm10'],
      districts: ['Nord'],
      expiresAt: iso(Date.now() + 86_400_000),
    });
    expect(g.status).toBe(201);
    publicGrant = g.body.id;
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('serves the service root with every entity set as an absolute URL and the conformance classes', async () => {
    const res = await anon('');
    expect(res.status).toBe(200);
    expect(res.body).toStrictEqual({
      value: [
        'Things',
        'Locations',
        'HistoricalLocations',
        'Sensors',
        'ObservedProperties',
        'Datastreams',
        'Observations',
        'FeaturesOfInterest',
      ].map((name) => ({ name, url: `${sta}/${name}` })),
      serverSettings: {
        conformance: [
          'http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel',
          'http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities',
          'http://www.opengis.net/spec/iot_sensing/1.1/req/request-data',
        ],
      },
    });
  });

  it('serves a Thing with stable ids, absolute selfLinks and navigation links', async () => {
    const res = await admin('GET', `${sta}/Things('env-aq-1')`);
    const self = `${sta}/Things('env-aq-1')`;
    expect(res.body).toStrictEqual({
      '@iot.id': 'env-aq-1',
      '@iot.selfLink': self,
      name: 'ENV-AQ-1',
      description: 'air_quality device of department environment in Nord',
      properties: { department: 'environment', district: 'Nord', deviceType: 'air_quality', lastSeenAt: null },
      'Locations@iot.navigationLink': `${self}/Locations`,
      'HistoricalLocations@iot.navigationLink': `${self}/HistoricalLocations`,
      'Datastreams@iot.navigationLink': `${self}/Datastreams`,
    });
  });

  it('answers anonymous callers with what public grants publish only', async () => {
    const ids = async (path: string) =>
      ((await anon(path)).body as { value: Array<{ '@iot.id': string }> }).value.map((e) => e['@iot.id']);
    expect(await ids('/Things')).toStrictEqual(['env-aq-1']);
    expect(await ids('/Datastreams')).toStrictEqual(['env-aq-1:pm10']);
    expect(await ids('/Locations')).toStrictEqual(['env-aq-1']);
    expect(await ids('/Sensors')).toStrictEqual(['air_quality']);
    expect((await anon(`/Things('env-aq-2')`)).status).toBe(404);
    const hidden = await anon(`/Datastreams('env-aq-1:air_temperature')/Observations`);
    expect(hidden.status).toBe(404);
    expect(hidden.body).toMatchObject({ code: 'SUS_ERR_STA_NOT_FOUND', error: { code: 'SUS_ERR_STA_NOT_FOUND' } });
    // Expanding and filtering reach no further than the public slice.
    const expanded = await anon(`/Things('env-aq-1')?$select=id&$expand=Datastreams($select=id)`);
    expect(expanded.body).toStrictEqual({ '@iot.id': 'env-aq-1', Datastreams: [{ '@iot.id': 'env-aq-1:pm10' }] });
    expect(
      (
        (await anon(`/Observations?$filter=Datastream/ObservedProperty/name eq 'air_temperature'`)).body as {
          value: unknown[];
        }
      ).value,
    ).toStrictEqual([]);
  });

  it('answers a department key with its own devices and what grants to it or the public cover', async () => {
    const traffic = await h.as('traffic', ['read']);
    const env = await h.as('environment', ['read']);
    const ids = async (api: typeof traffic, path: string) =>
      ((await api('GET', `/sta/v1.1${path}`)).body as { value: Array<{ '@iot.id': string }> }).value.map(
        (e) => e['@iot.id'],
      );
    expect(await ids(traffic, '/Things')).toStrictEqual(['env-aq-1', 'tr-aq-1']);
    expect(await ids(traffic, '/Datastreams')).toStrictEqual([
      'env-aq-1:pm10',
      'tr-aq-1:air_temperature',
      'tr-aq-1:pm10',
    ]);
    expect(await ids(env, '/Things')).toStrictEqual(['env-aq-1', 'env-aq-2', 'env-aq-3']);
    expect(await ids(env, '/FeaturesOfInterest')).toStrictEqual(['env-aq-1', 'env-aq-2']);
  });

  it('reads Observations of a Datastream from InfluxDB, flags as resultQuality, and audits an anonymous grant read', async () => {
    const res = await anon(`/Datastreams('env-aq-1:pm10')/Observations?$orderby=phenomenonTime desc&$top=2`);
    const obs = (i: number, value: number, quality: string[] | null) => ({
      '@iot.id': `env-aq-1:pm10:${T0 + i * MIN}`,
      '@iot.selfLink': `${sta}/Observations('env-aq-1:pm10:${T0 + i * MIN}')`,
      phenomenonTime: iso(T0 + i * MIN),
      resultTime: iso(T0 + i * MIN),
      result: value,
      resultQuality: quality,
      'Datastream@iot.navigationLink': `${sta}/Observations('env-aq-1:pm10:${T0 + i * MIN}')/Datastream`,
      'FeatureOfInterest@iot.navigationLink': `${sta}/Observations('env-aq-1:pm10:${T0 + i * MIN}')/FeatureOfInterest`,
    });
    expect(res.body).toStrictEqual({
      '@iot.nextLink': `${sta}/Datastreams('env-aq-1:pm10')/Observations?%24orderby=phenomenonTime%20desc&%24top=2&%24skip=2`,
      value: [obs(4, 14, ['out_of_range']), obs(3, 13, null)],
    });
    const byId = await anon(`/Observations('env-aq-1:pm10:${T0 + 3 * MIN}')`);
    expect(byId.body).toStrictEqual(obs(3, 13, null));
    const envAdmin = await h.as('environment', ['admin']);
    const audit = await envAdmin<{ entries: Array<{ reader: string | null; route: string }> }>('GET', '/v1/audit');
    expect(
      audit.body.entries.filter((e) => e.route === '/sta/v1.1/*' && e.reader === null).length,
    ).toBeGreaterThanOrEqual(2);
  });

  it('expands nested navigation properties with their own options (the latest Observation of every Datastream)', async () => {
    const q =
      '$select=name&$expand=Datastreams($select=name,unitOfMeasurement;$orderby=name;$expand=ObservedProperty($select=name,definition),Observations($top=1;$orderby=phenomenonTime desc;$select=result,phenomenonTime))';
    const res = await admin('GET', `${sta}/Things('tr-aq-1')?${q}`);
    expect(res.body).toStrictEqual({
      name: 'TR-AQ-1',
      Datastreams: [
        {
          name: 'air_temperature of TR-AQ-1',
          unitOfMeasurement: {
            name: 'degree Celsius',
            symbol: 'Cel',
            definition: 'http://qudt.org/vocab/unit/DEG_C',
          },
          ObservedProperty: { name: 'air_temperature', definition: 'http://qudt.org/vocab/quantitykind/Temperature' },
          Observations: [{ phenomenonTime: iso(T0 + 4 * MIN), result: 304 }],
        },
        {
          name: 'pm10 of TR-AQ-1',
          unitOfMeasurement: {
            name: 'microgram per cubic metre',
            symbol: 'ug/m3',
            definition: 'http://qudt.org/vocab/unit/MicroGM-PER-M3',
          },
          ObservedProperty: { name: 'pm10', definition: 'http://dd.eionet.europa.eu/vocabulary/aq/pollutant/5' },
          Observations: [{ phenomenonTime: iso(T0 + 4 * MIN), result: 314 }],
        },
      ],
    });
  });

  it('filters Observations on Datastream/ObservedProperty/name, result and phenomenonTime', async () => {
    const values = async (path: string) =>
      ((await admin('GET', `${sta}${path}`)).body as { value: Array<{ result: number }> }).value.map((o) => o.result);
    expect(
      await values(
        `/Observations?$filter=Datastream/ObservedProperty/name eq 'pm10' and Datastream/Thing/properties/department eq 'traffic'`,
      ),
    ).toStrictEqual([310, 311, 312, 313, 314]);
    expect(
      await values(
        `/Datastreams('env-aq-2:pm10')/Observations?$filter=phenomenonTime ge ${iso(T0 + 2 * MIN)} and (result lt 113 or result add 1 eq 115)`,
      ),
    ).toStrictEqual([112, 114]);
    expect(await values(`/Datastreams('env-aq-2:pm10')/Observations?$filter=not (result gt 111)`)).toStrictEqual([
      110, 111,
    ]);
    const ds = await admin<{ value: Array<{ '@iot.id': string }> }>(
      'GET',
      `${sta}/Datastreams?$filter=ObservedProperty/name eq 'air_temperature' and startswith(Thing/name, 'ENV')`,
    );
    expect(ds.body.value.map((d) => d['@iot.id'])).toStrictEqual([
      'env-aq-1:air_temperature',
      'env-aq-2:air_temperature',
      'env-aq-3:air_temperature',
    ]);
  });

  it('pages through @iot.nextLink to the end with $count matching what was read', async () => {
    let url: string | undefined =
      `${sta}/Observations?$top=7&$count=true&$filter=Datastream/ObservedProperty/name eq 'pm10'`;
    const seen: string[] = [];
    const counts: number[] = [];
    while (url) {
      const res: { body: { '@iot.count': number; '@iot.nextLink'?: string; value: Array<{ '@iot.id': string }> } } =
        await admin('GET', url);
      counts.push(res.body['@iot.count']);
      seen.push(...res.body.value.map((o) => o['@iot.id']));
      url = res.body['@iot.nextLink'];
    }
    const want = READINGS.filter((r) => r.q === 'pm10')
      .sort((a, b) => a.time - b.time || a.device.id.localeCompare(b.device.id))
      .map((r) => `${r.device.id}:pm10:${r.time}`);
    expect(seen).toStrictEqual(want);
    expect(counts).toStrictEqual([20, 20, 20]);
  });

  it('filters Things and Locations by geo.distance, st_within and st_intersects', async () => {
    const ids = async (path: string) =>
      ((await admin('GET', `${sta}${path}`)).body as { value: Array<{ '@iot.id': string }> }).value.map(
        (e) => e['@iot.id'],
      );
    expect(
      await ids(`/Things?$filter=geo.distance(Locations/location, geography'POINT(9.2 48.5)') lt 0.05`),
    ).toStrictEqual(['env-aq-1', 'tr-aq-1']);
    const box = "geography'POLYGON((9.25 48.3, 9.35 48.3, 9.35 48.45, 9.25 48.45, 9.25 48.3))'";
    expect(await ids(`/Locations?$filter=st_within(location, ${box})`)).toStrictEqual(['env-aq-2']);
    expect(
      await ids(`/FeaturesOfInterest?$filter=st_intersects(feature, geography'LINESTRING(9.2 48.4, 9.2 48.6)')`),
    ).toStrictEqual(['env-aq-1']);
    expect(
      await ids(`/Things?$filter=st_within(Locations/location, ${box}) or properties/district eq null`),
    ).toStrictEqual(['env-aq-2', 'env-aq-3']);
  });

  it('applies $select, $orderby, $top, $skip and $count to registry entities', async () => {
    const res = await admin(
      'GET',
      `${sta}/Things?$select=id,name&$orderby=properties/district desc,name&$top=2&$skip=1&$count=true`,
    );
    expect(res.body).toStrictEqual({
      '@iot.count': 4,
      '@iot.nextLink': `${sta}/Things?%24select=id%2Cname&%24orderby=properties%2Fdistrict%20desc%2Cname&%24top=2&%24count=true&%24skip=3`,
      value: [
        { '@iot.id': 'env-aq-1', name: 'ENV-AQ-1' },
        { '@iot.id': 'tr-aq-1', name: 'TR-AQ-1' },
      ],
    });
    expect((await admin('GET', `${sta}/Things('env-aq-1')/name`)).body).toStrictEqual({ name: 'ENV-AQ-1' });
    expect((await admin('GET', `${sta}/Things('env-aq-1')/name/$value`)).body).toBe('ENV-AQ-1');
    expect((await admin('GET', `${sta}/Datastreams('env-aq-1:pm10')/Thing/$ref`)).body).toStrictEqual({
      '@iot.selfLink': `${sta}/Things('env-aq-1')`,
    });
  });

  it('refuses malformed options with 400 and the error JSON, and keeps request text out of queries', async () => {
    for (const [q, option] of [
      ['$filter=name eq', '$filter'],
      ['$filter=contains(name)', '$filter'],
      ['$top=-1', '$top'],
      ['$expand=Nothing', '$expand'],
      ['$frobnicate=1', '$frobnicate'],
    ] as const) {
      const res = await admin<{ code: string; context: { option: string }; error: { message: string } }>(
        'GET',
        `${sta}/Things?${q}`,
      );
      expect([q, res.status, res.body.code, res.body.context?.option]).toStrictEqual([
        q,
        400,
        'SUS_ERR_STA_QUERY',
        option,
      ]);
      expect(res.body.error.message).toContain(option);
    }
    const sneaky = await admin<{ value: unknown[] }>(
      'GET',
      `${sta}/Observations?$filter=Datastream/name eq 'x'' or ''1''=''1' or result eq 1e999`,
    );
    expect([sneaky.status, sneaky.body.value]).toStrictEqual([200, []]);
    // The whole request, expansions and merged Datastreams included, stays within SUS_QUERY_MAX_POINTS.
    const deep = await admin<{ code: string; context: { budget: number } }>(
      'GET',
      `${sta}/Observations?$top=1000&$skip=9000`,
    );
    expect([deep.status, deep.body.code, deep.body.context.budget]).toStrictEqual([
      400,
      'SUS_ERR_QUERY_BUDGET',
      10_000,
    ]);
    const ne = await admin<{ code: string }>(
      'GET',
      `${sta}/Datastreams('env-aq-1:pm10')/Observations?$filter=phenomenonTime ne 2026-01-01T00:00:00Z`,
    );
    expect([ne.status, ne.body.code]).toStrictEqual([400, 'SUS_ERR_STA_QUERY']);
  });

  // Last: it revokes the public grant the other cases read through.
  it('stops answering anonymous callers at once when the public grant is revoked', async () => {
    const envAdmin = await h.as('environment', ['admin']);
    expect((await envAdmin('DELETE', `/v1/grants/${publicGrant}`)).status).toBe(200);
    expect(((await anon('/Things')).body as { value: unknown[] }).value).toStrictEqual([]);
    expect((await anon(`/Datastreams('env-aq-1:pm10')/Observations`)).status).toBe(404);
  });
});
