import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from '../../helpers/api-client.ts';
import { freePort } from '../../helpers/net.ts';
import { type Harness, startHarness } from './harness.ts';

interface Problem {
  status: number;
  code: string;
  detail: string;
  instance?: string;
}

describe('problem bodies carry no internals: no InfluxQL, no InfluxDB address', () => {
  let h: Harness;
  let down: Harness;
  let influxUrl: string;
  const database = `sus_test_${randomBytes(4).toString('hex')}`;
  beforeAll(async () => {
    h = await startHarness({ INFLUX_DB: database });
    influxUrl = `http://127.0.0.1:${await freePort()}`;
    down = await startHarness({ INFLUX_URL: influxUrl });
  });
  afterAll(async () => {
    await h?.stop();
    await down?.stop();
  });

  it('answers a failed InfluxDB query with a generic 502 and the request id, not the query', async () => {
    await h.platform.influx.query(`DROP DATABASE "${database}"`, 'POST');
    const res = await h.admin<Problem>('GET', '/v1/readings?quantity=pm10');
    expect(res.body).toStrictEqual({
      type: `/docs/errors.md#sus_err_influx_query`,
      title: 'Bad Gateway',
      status: 502,
      code: 'SUS_ERR_INFLUX_QUERY',
      detail: 'InfluxDB could not answer the query',
      instance: res.body.instance,
    });
    expect(res.body.instance).toMatch(/^req-/);
    expect(JSON.stringify(res.body)).not.toMatch(/SELECT|database not found/);
  });

  it('answers an unreachable InfluxDB with a generic 503 that does not name its address', async () => {
    const res = await down.admin<Problem>('GET', '/v1/readings/aggregate?quantity=pm10&every=1h');
    expect([res.status, res.body.code, res.body.detail]).toStrictEqual([
      503,
      'SUS_ERR_INFLUX_UNAVAILABLE',
      'InfluxDB is unreachable; try again later',
    ]);
    expect(JSON.stringify(res.body)).not.toContain(influxUrl.replace('http://', ''));
  });
});

describe("conflicts never confirm another department's device id", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    expect(
      (await h.admin('POST', '/v1/devices', { id: 'tr-secret', name: 'x', department: 'traffic', type: 'counter' }))
        .status,
    ).toBe(201);
  });
  afterAll(async () => h?.stop());

  const unavailable = {
    type: `/docs/errors.md#sus_err_device_id_unavailable`,
    title: 'Conflict',
    status: 409,
    code: 'SUS_ERR_DEVICE_ID_UNAVAILABLE',
    detail: "device id 'tr-secret' is not available: choose another",
    context: { field: 'id' },
  };

  it("answers a create with another department's id as 'not available', an own id as existing", async () => {
    const env = await h.as('environment', ['provision']);
    const foreign = await env('POST', '/v1/devices', { id: 'tr-secret', name: 'mine', type: 'air_quality' });
    expect([foreign.status, foreign.body]).toStrictEqual([409, unavailable]);
    expect((await env('POST', '/v1/devices', { id: 'env-own', name: 'own', type: 'air_quality' })).status).toBe(201);
    const own = await env<Problem>('POST', '/v1/devices', { id: 'env-own', name: 'again', type: 'air_quality' });
    expect([own.status, own.body.code, own.body.detail]).toStrictEqual([
      409,
      'SUS_ERR_DEVICE_EXISTS',
      "device 'env-own' already exists",
    ]);
  });

  it("answers an import row with another department's id as 'not available'", async () => {
    const key = (
      await h.admin<{ key: string }>('POST', '/v1/keys', {
        name: 'imp',
        department: 'environment',
        scopes: ['provision'],
      })
    ).body.key;
    const res = await fetch(`${h.base}/v1/devices/import`, {
      method: 'POST',
      headers: { 'content-type': 'text/csv', authorization: `Bearer ${key}` },
      body: 'id,name,type\ntr-secret,x,air_quality\nenv-own,y,air_quality\n',
    });
    expect([res.status, ((await res.json()) as { errors: unknown }).errors]).toStrictEqual([
      400,
      [
        { line: 2, field: 'id', message: "device id 'tr-secret' is not available: choose another" },
        { line: 3, field: 'id', message: "device 'env-own' already exists" },
      ],
    ]);
  });

  it("answers a claim for another department's id as 'not available' and keeps the code usable", async () => {
    const env = await h.as('environment', ['provision']);
    const { code } = (await env<{ code: string }>('POST', '/v1/claims', { type: 'air_quality' })).body;
    const anonymous = apiClient(h.base);
    const taken = await anonymous('POST', '/v1/provision/claim', { code, id: 'tr-secret' });
    expect([taken.status, taken.body]).toStrictEqual([409, unavailable]);
    expect((await anonymous('POST', '/v1/provision/claim', { code, id: 'env-claimed' })).status).toBe(201);
  });
});

describe('a registry outage answers without the registry’s own error', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({}, true);
  });
  afterAll(async () => h?.stop().catch(() => undefined));

  it('answers an HTTP push it cannot look up with a generic 503', async () => {
    // The admin key is looked up now and cached: the push below reaches ingest without the registry.
    expect((await h.admin('GET', '/v1/devices')).status).toBe(200);
    await h.platform.registry.db.close();
    const res = await h.admin<Problem>('POST', '/v1/ingest/canonical?device=aq-unknown', { values: { pm10: 1 } });
    expect([res.status, res.body.code, res.body.detail]).toStrictEqual([
      503,
      'SUS_ERR_REGISTRY_UNAVAILABLE',
      'the registry is unavailable, so the device could not be looked up; not acknowledged, send it again',
    ]);
    expect(JSON.stringify(res.body)).not.toMatch(/PGlite|closed/i);
  });
});
