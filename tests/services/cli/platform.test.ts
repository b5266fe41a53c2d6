import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform } from '../../../services/cli/platform.ts';
import { silentLogger } from '../../../services/common/logger.ts';
import { apiClient } from '../../helpers/api-client.ts';
import { eventually, TEST_ADMIN_KEY, testConfig } from '../../helpers/env.ts';

interface Credentials {
  username: string;
  password: string;
  clientId: string;
  topics: { up: string; down: string };
}
interface Latest {
  device: string;
  values: Array<{ quantity: string; value: number; unit: string; time: string }>;
}
interface DeadLetterList {
  deadLetters: Array<{
    device: string;
    topic: string;
    payload: string;
    reasons: Array<{ code: string; field?: string }>;
  }>;
}

describe('platform end to end: device → Aedes → ingest → InfluxDB → API', () => {
  let platform: Platform;
  let api: ReturnType<typeof apiClient>;
  let mqttUrl: string;
  const clients: MqttClient[] = [];

  const connect = async (
    c: Omit<Credentials, 'username' | 'password'> & { username?: string; password?: string },
    extra: IClientOptions = {},
  ) => {
    const client = await connectAsync(
      mqttUrl,
      { username: c.username, password: c.password, clientId: c.clientId, reconnectPeriod: 0, ...extra },
      false,
    );
    clients.push(client);
    return client;
  };
  const register = async (id: string, department = 'environment') => {
    const res = await api<{ credentials: Credentials }>('POST', '/v1/devices', {
      id,
      name: `Test ${id}`,
      department,
      type: 'air_quality',
      district: 'Altstadt',
      lat: 48.49,
      lon: 9.21,
    });
    expect(res.status).toBe(201);
    return res.body.credentials;
  };
  const readingsOf = async (device: string) =>
    (await api<{ readings: unknown[] }>('GET', `/v1/readings?device=${device}&from=${Date.now() - 3600_000}`)).body
      .readings;

  beforeAll(async () => {
    platform = await startPlatform(testConfig(), silentLogger);
    api = apiClient(`http://127.0.0.1:${platform.httpPort}`, TEST_ADMIN_KEY);
    mqttUrl = `mqtt://127.0.0.1:${platform.mqttPort}`;
    for (const [id, name] of [
      ['environment', 'Environment Office'],
      ['traffic', 'Traffic Department'],
    ]) {
      expect((await api('POST', '/v1/departments', { id, name })).status).toBe(201);
    }
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await platform?.stop();
  });

  it('stores a published reading and the API returns exactly those values', async () => {
    const creds = await register('aq-e2e-01');
    const client = await connect(creds);
    const time = Date.now() - 2000;
    await client.publishAsync(
      creds.topics.up,
      JSON.stringify({
        time,
        seq: 1,
        values: { air_temperature: 21.4, relative_humidity: 55.2, pm2_5: 12.1 },
        units: { air_temperature: 'Cel' },
      }),
      { qos: 1 },
    );
    const iso = new Date(time).toISOString();
    const latest = await eventually(
      () => api<Latest>('GET', '/v1/devices/aq-e2e-01/latest'),
      (r) => r.body.values?.length === 3,
    );
    expect(latest.status).toBe(200);
    expect(latest.body).toStrictEqual({
      device: 'aq-e2e-01',
      values: [
        { quantity: 'air_temperature', value: 21.4, unit: 'Cel', time: iso },
        { quantity: 'pm2_5', value: 12.1, unit: 'ug/m3', time: iso },
        { quantity: 'relative_humidity', value: 55.2, unit: '%RH', time: iso },
      ],
    });
    // The latest-value store is written when the spool commits; InfluxDB gets the batch a moment later.
    const readings = await eventually(
      () => api<{ readings: unknown[] }>('GET', `/v1/readings?device=aq-e2e-01&from=${time - 1000}`),
      (r) => r.body.readings?.length === 3,
    );
    expect(readings.body).toStrictEqual({
      readings: [
        { device: 'aq-e2e-01', quantity: 'air_temperature', value: 21.4, unit: 'Cel', time: iso },
        { device: 'aq-e2e-01', quantity: 'pm2_5', value: 12.1, unit: 'ug/m3', time: iso },
        { device: 'aq-e2e-01', quantity: 'relative_humidity', value: 55.2, unit: '%RH', time: iso },
      ],
      next: null,
    });
  });

  it('stores the readings with the tags of the storage model', async () => {
    const res = await platform.influx.query(
      `SHOW TAG VALUES FROM "air_temperature" WITH KEY IN ("department","device","device_type","district","source") WHERE "device" = 'aq-e2e-01'`,
    );
    const pairs = (res[0]?.[0]?.values ?? []).map(([k, v]) => `${k}=${v}`);
    expect(pairs.sort()).toStrictEqual([
      'department=environment',
      'device=aq-e2e-01',
      'device_type=air_quality',
      'district=Altstadt',
      'source=mqtt',
    ]);
  });

  it('refuses a wrong password with CONNACK 4 and an unknown device likewise', async () => {
    const creds = await register('aq-e2e-02');
    await expect(connect({ ...creds, password: 'not-the-secret' })).rejects.toMatchObject({ code: 4 });
    await expect(connect({ ...creds, username: 'no-such-device', clientId: 'no-such-device' })).rejects.toMatchObject({
      code: 4,
    });
    await expect(connect({ ...creds, username: undefined, password: undefined })).rejects.toMatchObject({ code: 5 });
  });

  it("refuses a client id that belongs to another device (CONNACK 2), so no device can take over another's session", async () => {
    const creds = await register('aq-e2e-03');
    await expect(connect({ ...creds, clientId: 'aq-e2e-01' })).rejects.toMatchObject({ code: 2 });
  });

  it("stores nothing when a device publishes to another device's topic, and disconnects it", async () => {
    const attacker = await register('aq-e2e-04');
    const victim = await register('aq-e2e-05');
    const client = await connect(attacker);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.publish(victim.topics.up, JSON.stringify({ values: { air_temperature: 99 } }), { qos: 1 });
    await closed;
    // The victim's own reading afterwards is the only one stored: the forged one never reached ingest.
    const own = await connect(victim);
    await own.publishAsync(victim.topics.up, JSON.stringify({ values: { air_temperature: 5.5 } }), { qos: 1 });
    const readings = await eventually(
      () => readingsOf('aq-e2e-05'),
      (r) => r.length > 0,
    );
    expect(readings.map((r) => (r as { value: number }).value)).toStrictEqual([5.5]);
    expect(await readingsOf('aq-e2e-04')).toStrictEqual([]);
  });

  it('lets a device subscribe only to its own downlink tree (SUBACK 0x80 and a disconnect otherwise)', async () => {
    const creds = await register('aq-e2e-06');
    const client = await connect(creds);
    const own = await client.subscribeAsync(creds.topics.down, { qos: 1 });
    expect(own.map((g) => g.qos)).toStrictEqual([1]);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    await expect(client.subscribeAsync('sus/v1/devices/aq-e2e-01/down/#', { qos: 1 })).rejects.toMatchObject({
      packet: { granted: [128] },
    });
    await closed;
  });

  it('puts malformed JSON and out-of-range values into dead letters with their reasons', async () => {
    const creds = await register('aq-e2e-07');
    const client = await connect(creds);
    await client.publishAsync(creds.topics.up, '{"values": {"air_temperature": 21.', { qos: 1 });
    await client.publishAsync(creds.topics.up, JSON.stringify({ values: { air_temperature: 500, pm10: 20 } }), {
      qos: 1,
    });
    const list = await eventually(
      () => api<DeadLetterList>('GET', '/v1/dead-letters?device=aq-e2e-07'),
      (r) => r.body.deadLetters?.length === 2,
    );
    const [outOfRange, malformed] = list.body.deadLetters;
    expect(malformed).toMatchObject({
      device: 'aq-e2e-07',
      topic: creds.topics.up,
      payload: '{"values": {"air_temperature": 21.',
      reasons: [{ code: 'INGEST_MALFORMED_JSON' }],
    });
    expect(outOfRange?.reasons).toStrictEqual([
      {
        code: 'INGEST_OUT_OF_RANGE',
        field: 'values.air_temperature',
        message: '500 Cel is outside the plausible range [-50, 70] of air_temperature',
      },
    ]);
    // The good value next to the bad one was stored.
    const readings = await eventually(
      () => readingsOf('aq-e2e-07'),
      (r) => r.length > 0,
    );
    expect(readings).toMatchObject([{ quantity: 'pm10', value: 20 }]);
    const byReason = await api<DeadLetterList>('GET', '/v1/dead-letters?device=aq-e2e-07&reason=INGEST_MALFORMED_JSON');
    expect(byReason.body.deadLetters.map((d) => d.reasons[0]?.code)).toStrictEqual(['INGEST_MALFORMED_JSON']);
  });

  it('shows a department key its own devices only', async () => {
    await register('tc-e2e-01', 'traffic');
    const { key } = await platform.registry.keys.create({
      name: 'traffic app',
      department: 'traffic',
      scopes: ['read'],
    });
    const devices = await api<{ devices: Array<{ id: string }> }>('GET', '/v1/devices', undefined, key);
    expect(devices.body.devices.map((d) => d.id)).toStrictEqual(['tc-e2e-01']);
    const foreign = await api('GET', '/v1/devices/aq-e2e-01/latest', undefined, key);
    expect(foreign.status).toBe(404);
    const write = await api('POST', '/v1/devices', { name: 'x', type: 'parking' }, key);
    expect(write.status).toBe(403);
    expect(write.body).toMatchObject({ code: 'SUS_ERR_FORBIDDEN' });
  });

  it('answers errors as application/problem+json with a stable code and the field at fault', async () => {
    const unauth = await api('GET', '/v1/devices', undefined, '');
    expect(unauth.status).toBe(401);
    expect(unauth.type).toContain('application/problem+json');
    expect(unauth.body).toMatchObject({ status: 401, code: 'SUS_ERR_UNAUTHENTICATED' });

    const invalid = await api('POST', '/v1/devices', { name: '', type: 'Air Quality', department: 'environment' });
    expect(invalid.status).toBe(400);
    expect(invalid.body).toMatchObject({ code: 'SUS_ERR_VALIDATION' });
    expect((invalid.body as { errors: Array<{ field: string }> }).errors.map((e) => e.field).sort()).toStrictEqual([
      'body.name',
      'body.type',
    ]);

    const missing = await api('GET', '/v1/devices/nope');
    expect(missing.body).toMatchObject({ status: 404, code: 'SUS_ERR_DEVICE_NOT_FOUND' });

    const budget = await api('GET', '/v1/readings?limit=999999');
    expect(budget.status).toBe(400);
    expect(budget.body).toMatchObject({ code: 'SUS_ERR_QUERY_BUDGET' });

    const dup = await api('POST', '/v1/departments', { id: 'traffic', name: 'again' });
    expect(dup.body).toMatchObject({ status: 409, code: 'SUS_ERR_DEPARTMENT_EXISTS' });
  });

  it('reports health and serves the OpenAPI document and its UI', async () => {
    expect((await api('GET', '/v1/health', undefined, '')).body).toStrictEqual({
      status: 'ok',
      influx: { ok: true },
      registry: { ok: true, kind: 'pglite' },
    });
    const doc = await api<{ openapi: string; paths: Record<string, unknown> }>('GET', '/docs/json', undefined, '');
    expect(doc.body.openapi).toMatch(/^3\./);
    // The full route list and each route's scope are pinned by tests/services/api/authz-matrix.test.ts.
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        '/v1/dead-letters',
        '/v1/departments',
        '/v1/devices',
        '/v1/devices/{id}',
        '/v1/devices/{id}/latest',
        '/v1/health',
        '/v1/quantities',
        '/v1/readings',
      ]),
    );
    const metrics = await fetch(`http://127.0.0.1:${platform.httpPort}/metrics`);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(await metrics.text()).toContain('sus_process_cpu_seconds_total ');
    const ui = await fetch(`http://127.0.0.1:${platform.httpPort}/docs/`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain('<html');
  });
});
