import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from './harness.ts';

interface Page {
  readings: Array<{ device: string; quantity: string; value: number; unit: string; time: string }>;
  next: string | null;
}
interface Problem {
  code: string;
  detail: string;
}

const DEVICES = 40;
const POINTS = 30;

describe('query budget of raw readings: what InfluxDB sends is bounded, not only what the API returns', () => {
  let h: Harness;
  const t0 = Date.now() - 3600_000;
  beforeAll(async () => {
    // 101 points fit the byte bound, the 1,200 points of the range do not: a query the devices multiply fails.
    h = await startHarness({ SUS_QUERY_MAX_POINTS: '100', SUS_QUERY_MAX_BYTES: '16384' });
    const points = [];
    for (let d = 0; d < DEVICES; d++)
      for (let i = 0; i < POINTS; i++)
        points.push({
          q: 'pm10',
          device: `dev-${String(d).padStart(2, '0')}`,
          dept: 'environment',
          district: 'Nord',
          type: 'air_quality',
          value: d * 1000 + i,
          time: t0 + i * 1000 + d,
        });
    await h.write(points);
  });
  afterAll(async () => h?.stop());

  it("pages 40 devices' readings in time order with one LIMIT the devices cannot multiply", async () => {
    const first = await h.admin<Page>('GET', `/v1/readings?department=environment&quantity=pm10&from=${t0}&limit=100`);
    expect(first.status).toBe(200);
    const expected = [];
    for (let i = 0; i < POINTS; i++)
      for (let d = 0; d < DEVICES; d++)
        expected.push({
          device: `dev-${String(d).padStart(2, '0')}`,
          quantity: 'pm10',
          value: d * 1000 + i,
          unit: 'ug/m3',
          time: new Date(t0 + i * 1000 + d).toISOString(),
        });
    // The 101st point fetched is the first of the next page: everything before it is on this one.
    expect(first.body).toStrictEqual({
      readings: expected.slice(0, 100),
      next: new Date(t0 + 2 * 1000 + 20).toISOString(),
    });
    const second = await h.admin<Page>(
      'GET',
      `/v1/readings?department=environment&quantity=pm10&from=${first.body.next}&limit=100`,
    );
    expect(second.body.readings).toStrictEqual(expected.slice(100, 200));
  });

  it('asks each quantity for its share of the limit and ends the page where a quantity may have more', async () => {
    // 24 quantities share a limit of 50: 3 rows each (and one to know there are more). Only pm10 has data here.
    const page = await h.admin<Page>('GET', `/v1/readings?department=environment&from=${t0}&limit=50`);
    expect([page.status, page.body.readings.map((r) => r.device), page.body.next]).toStrictEqual([
      200,
      ['dev-00', 'dev-01', 'dev-02'],
      new Date(t0 + 3).toISOString(),
    ]);
    const after = await h.admin<Page>('GET', `/v1/readings?department=environment&from=${page.body.next}&limit=50`);
    expect(after.body.readings.map((r) => r.device)).toStrictEqual(['dev-03', 'dev-04', 'dev-05']);
    const over = await h.admin<Problem>('GET', '/v1/readings?department=environment&quantity=pm10&limit=101');
    expect([over.status, over.body.code, over.body.detail]).toStrictEqual([
      400,
      'SUS_ERR_QUERY_BUDGET',
      "limit 101 exceeds the query budget of 100 points: ask for fewer and follow the 'next' cursor",
    ]);
  });
});
