import { connectAsync, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform } from '../../../services/cli/platform.ts';
import type { Config } from '../../../services/common/config.ts';
import { silentLogger } from '../../../services/common/logger.ts';
import { apiClient } from '../../helpers/api-client.ts';
import { eventually, TEST_ADMIN_KEY, testConfig } from '../../helpers/env.ts';
import { freshSchema } from '../../helpers/postgres.ts';

interface Credentials {
  username: string;
  password: string;
  clientId: string;
  topics: { up: string };
}
interface Latest {
  device: string;
  values: Array<{ quantity: string; value: number; unit: string; time: string }>;
}

const ETAG = /^W\/"[A-Za-z0-9_-]{27}"$/;
const iso = (t: number) => new Date(t).toISOString();

/** Status, the headers a conditional answer is about, and the body text. */
async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  return {
    status: res.status,
    etag: res.headers.get('etag'),
    vary: res.headers.get('vary'),
    type: res.headers.get('content-type'),
    encoding: res.headers.get('content-encoding'),
    body: await res.text(),
  };
}

/**
 * Split mode as an operator runs it: `sus broker` (broker + ingest) and `sus api` as two platforms that share only
 * the registry (PostgreSQL) and InfluxDB. The API must answer latest values from the store ingest keeps, without
 * asking InfluxDB.
 */
describe.skipIf(!process.env.TEST_DATABASE_URL)('latest-value store in split mode (sus broker + sus api)', () => {
  let schema: Awaited<ReturnType<typeof freshSchema>>;
  let ingestSide: Platform;
  let apiSide: Platform;
  let apiConfig: Config;
  let base: string;
  let admin: ReturnType<typeof apiClient>;
  let client: MqttClient;
  let creds: Credentials;
  const influxQueries: string[] = [];
  const T = Date.now() - 60_000;

  const startApi = async (log = silentLogger) => {
    const p = await startPlatform(apiConfig, log, { broker: false, api: true });
    const query = p.influx.query.bind(p.influx);
    p.influx.query = (q, method) => {
      influxQueries.push(q);
      return query(q, method);
    };
    return p;
  };
  const publish = (message: unknown) => client.publishAsync(creds.topics.up, JSON.stringify(message), { qos: 1 });
  const latestOf = async () => (await admin<Latest>('GET', '/v1/devices/aq-split-1/latest')).body;

  beforeAll(async () => {
    schema = await freshSchema();
    const shared = { DATABASE_URL: schema!.url };
    const ingestConfig = testConfig(shared);
    apiConfig = testConfig({ ...shared, INFLUX_DB: ingestConfig.INFLUX_DB });
    ingestSide = await startPlatform(ingestConfig, silentLogger, { broker: true, api: false });
    apiSide = await startApi();
    await Promise.all([ingestSide.latestReady, apiSide.latestReady]);
    base = `http://127.0.0.1:${apiSide.httpPort}`;
    admin = apiClient(base, TEST_ADMIN_KEY);
    expect((await admin('POST', '/v1/departments', { id: 'environment', name: 'Environment' })).status).toBe(201);
    const res = await admin<{ credentials: Credentials }>('POST', '/v1/devices', {
      id: 'aq-split-1',
      name: 'Split 1',
      department: 'environment',
      type: 'air_quality',
      district: 'Altstadt',
      lat: 48.49,
      lon: 9.21,
    });
    expect(res.status).toBe(201);
    creds = res.body.credentials;
    client = await connectAsync(
      `mqtt://127.0.0.1:${ingestSide.mqttPort}`,
      { username: creds.username, password: creds.password, clientId: creds.clientId, reconnectPeriod: 0 },
      false,
    );
  }, 180_000);
  afterAll(async () => {
    await client?.endAsync(true);
    await apiSide?.stop();
    await ingestSide?.stop();
    await ingestSide?.influx.query(`DROP DATABASE "${apiConfig.INFLUX_DB}"`, 'POST').catch(() => undefined);
    await schema?.drop();
  });

  it('answers what the other process ingested, from the store, and keeps the newest value over a late backlog', async () => {
    influxQueries.length = 0;
    await publish({ time: T, values: { air_temperature: 21.5, pm10: 12 } });
    const first = await eventually(latestOf, (b) => b.values.length === 2);
    expect(first).toStrictEqual({
      device: 'aq-split-1',
      values: [
        { quantity: 'air_temperature', value: 21.5, unit: 'Cel', time: iso(T) },
        { quantity: 'pm10', value: 12, unit: 'ug/m3', time: iso(T) },
      ],
    });
    // An offline backlog of older readings, then a newer pm10 value: the backlog was noted before it.
    await publish([
      { time: T - 120_000, values: { air_temperature: 1, pm10: 1 } },
      { time: T - 60_000, values: { air_temperature: 2, pm10: 2 } },
    ]);
    await publish({ time: T + 1000, values: { pm10: 14 } });
    const after = await eventually(latestOf, (b) => b.values.some((v) => v.value === 14));
    expect(after).toStrictEqual({
      device: 'aq-split-1',
      values: [
        { quantity: 'air_temperature', value: 21.5, unit: 'Cel', time: iso(T) },
        { quantity: 'pm10', value: 14, unit: 'ug/m3', time: iso(T + 1000) },
      ],
    });
    const all = await admin('GET', '/v1/latest?department=environment&quantity=air_temperature');
    expect(all.body).toStrictEqual({
      devices: [
        {
          device: 'aq-split-1',
          department: 'environment',
          type: 'air_quality',
          district: 'Altstadt',
          lat: 48.49,
          lon: 9.21,
          values: [{ quantity: 'air_temperature', value: 21.5, unit: 'Cel', time: iso(T) }],
        },
      ],
    });
    // The API process never asked InfluxDB for a latest value.
    expect(influxQueries).toStrictEqual([]);
  });

  it('answers If-None-Match with 304 until the store changes, on latest and on open-data GeoJSON', async () => {
    // fetch asks for gzip by default: identity unless a case is about the coding.
    const auth = { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'accept-encoding': 'identity' };
    const plain = { 'accept-encoding': 'identity' };
    const url = `${base}/v1/latest?department=environment&quantity=pm10`;
    const first = await get(url, auth);
    expect({ ...first, etag: ETAG.test(first.etag ?? '') }).toStrictEqual({
      status: 200,
      etag: true,
      vary: 'Accept, Accept-Encoding',
      type: 'application/json; charset=utf-8',
      encoding: null,
      body: first.body,
    });
    expect(await get(url, { ...auth, 'if-none-match': first.etag! })).toStrictEqual({
      status: 304,
      etag: first.etag,
      vary: 'Accept, Accept-Encoding',
      type: null,
      encoding: null,
      body: '',
    });
    // A list of validators, one of them weak-equal; and `*`.
    expect((await get(url, { ...auth, 'if-none-match': `"other", ${first.etag!.slice(2)}` })).status).toBe(304);
    expect((await get(url, { ...auth, 'if-none-match': '*' })).status).toBe(304);
    // The device route has its own validator.
    const device = await get(`${base}/v1/devices/aq-split-1/latest`, auth);
    expect(device.etag).toMatch(ETAG);
    expect((await get(`${base}/v1/devices/aq-split-1/latest`, { ...auth, 'if-none-match': device.etag! })).status).toBe(
      304,
    );

    // Open data: a public grant, no key.
    const grant = await admin<{ id: string }>('POST', '/v1/grants', {
      owner: 'environment',
      grantee: 'public',
      title: 'PM10',
      purpose: 'open data',
      quantities: ['pm10'],
      expiresAt: iso(Date.now() + 3600_000),
    });
    expect(grant.status).toBe(201);
    const geoUrl = `${base}/v1/open/datasets/${grant.body.id}/latest?format=geojson`;
    const geo = await get(geoUrl, plain);
    expect({ ...geo, etag: ETAG.test(geo.etag ?? ''), body: JSON.parse(geo.body) }).toStrictEqual({
      status: 200,
      etag: true,
      vary: 'Accept, Accept-Encoding',
      type: 'application/geo+json',
      encoding: null,
      body: {
        type: 'FeatureCollection',
        features: [
          {
            type: 'Feature',
            geometry: { type: 'Point', coordinates: [9.21, 48.49] },
            properties: {
              device: 'aq-split-1',
              department: 'environment',
              type: 'air_quality',
              district: 'Altstadt',
              pm10: 14,
              time: iso(T + 1000),
            },
          },
        ],
      },
    });
    expect(await get(geoUrl, { ...plain, 'if-none-match': geo.etag! })).toStrictEqual({
      status: 304,
      etag: geo.etag,
      vary: 'Accept, Accept-Encoding',
      type: null,
      encoding: null,
      body: '',
    });
    // gzip for clients that take it, with the same validator (fetch undoes the coding).
    const zipped = await get(geoUrl, { 'accept-encoding': 'gzip' });
    expect([zipped.status, zipped.encoding, zipped.etag, zipped.body]).toStrictEqual([200, 'gzip', geo.etag, geo.body]);

    // A new reading from the ingest process: the old validators no longer match.
    await publish({ time: T + 2000, values: { pm10: 15 } });
    const changed = await eventually(
      () => get(url, { ...auth, 'if-none-match': first.etag! }),
      (r) => r.status === 200,
    );
    expect(changed.etag).toMatch(ETAG);
    expect(changed.etag).not.toBe(first.etag);
    expect(JSON.parse(changed.body).devices[0].values).toStrictEqual([
      { quantity: 'pm10', value: 15, unit: 'ug/m3', time: iso(T + 2000) },
    ]);
    expect((await get(geoUrl, { ...plain, 'if-none-match': geo.etag! })).status).toBe(200);
  });

  it('is warm after a restart on an emptied store: rebuilt from InfluxDB, with progress in the log', async () => {
    const before = await latestOf();
    await apiSide.stop();
    await ingestSide.registry.db.query('DELETE FROM latest_values');
    const lines: Array<{ msg: string; values?: number }> = [];
    const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
    apiSide = await startApi(log);
    await apiSide.latestReady;
    base = `http://127.0.0.1:${apiSide.httpPort}`;
    admin = apiClient(base, TEST_ADMIN_KEY);
    expect(
      lines
        // Progress lines come every 5 s, so only on a slow machine.
        .filter((l) => l.msg.startsWith('latest-value store') && !l.msg.endsWith('progress'))
        .map((l) => [l.msg, l.values ?? null]),
    ).toStrictEqual([
      ['latest-value store is empty: rebuilding it from InfluxDB', null],
      ['latest-value store rebuilt from InfluxDB', 2],
    ]);
    expect(await latestOf()).toStrictEqual(before);
  });
});
