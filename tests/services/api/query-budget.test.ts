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
    expect(first.body).toStrictEqual({
      // The 100th row's millisecond might continue beyond the page: it starts the next page.
      readings: expected.slice(0, 99),
      next: new Date(t0 + 2 * 1000 + 19).toISOString(),
    });
    const second = await h.admin<Page>(
      'GET',
      `/v1/readings?department=environment&quantity=pm10&from=${first.body.next}&limit=100`,
    );
    expect(second.body.readings).toStrictEqual(expected.slice(99, 198));
  });

  it('counts every quantity read against the budget: limit × quantities must fit', async () => {
    const all = await h.admin<Problem>('GET', '/v1/readings?department=environment&limit=50');
    expect([all.status, all.body.code, all.body.detail]).toStrictEqual([
      400,
      'SUS_ERR_QUERY_BUDGET',
      "limit 50 × 24 quantities exceeds the query budget of 100 points: name a quantity, or ask for fewer and follow the 'next' cursor",
    ]);
    const one = await h.admin<Problem>('GET', '/v1/readings?department=environment&quantity=pm10&limit=101');
    expect([one.status, one.body.detail]).toStrictEqual([
      400,
      "limit 101 × 1 quantity exceeds the query budget of 100 points: ask for fewer and follow the 'next' cursor",
    ]);
    // Without a limit, every quantity gets its share of the budget: 100 / 24 = 4 rows, 3 after the cursor's cut.
    const page = await h.admin<Page>('GET', `/v1/readings?department=environment&from=${t0}`);
    expect([page.status, page.body.readings.length, page.body.next]).toStrictEqual([
      200,
      3,
      new Date(t0 + 3).toISOString(),
    ]);
  });
});
