import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
      type: 'urn:sus:problem:SUS_ERR_INFLUX_QUERY',
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
