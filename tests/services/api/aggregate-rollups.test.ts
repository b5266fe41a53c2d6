import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, HOUR_MS, windowStart } from '../../../services/common/rollups.ts';
import { eventually } from '../../helpers/env.ts';
import { expectedAggregate, fixtureReadings } from '../../helpers/rollups.ts';
import { type Harness, startRollupHarness } from './harness.ts';

interface Aggregate {
  source: string;
  series: unknown;
}
interface Problem {
  code: string;
  detail: string;
}

describe('aggregates: the API answers whole hours and days from rollups and says so', () => {
  const base = windowStart(Date.now(), DAY_MS) - 4 * DAY_MS;
  const readings = fixtureReadings(base);
  const iso = (t: number) => new Date(t).toISOString();
  let h: Harness;

  beforeAll(async () => {
    h = await startRollupHarness(readings, { SUS_QUERY_MAX_SCAN: '50000' });
  });
  afterAll(async () => h?.stop());

  /** A GET with the environment's read key, as a plain Response: the header tests need the headers. */
  let readKey: string | undefined;
  const get = async (path: string) => {
    readKey ??= (
      await h.admin<{ key: string }>('POST', '/v1/keys', {
        name: 'env-read',
        department: 'environment',
        scopes: ['read'],
      })
    ).body.key;
    return fetch(`${h.base}${path}`, { headers: { authorization: `Bearer ${readKey}` } });
  };

  it('daily means of whole days come from the daily rollups and equal the mean of the raw readings', async () => {
    const q = `quantity=pm10&department=environment&from=${iso(base)}&to=${iso(base + 3 * DAY_MS)}&every=1d&fn=mean&groupBy=device`;
    const res = await get(`/v1/readings/aggregate?${q}`);
    expect(res.headers.get('sus-source')).toBe('1d');
    expect(await res.json()).toStrictEqual({
      quantity: 'pm10',
      unit: 'ug/m3',
      fn: 'mean',
      every: '1d',
      from: iso(base),
      to: iso(base + 3 * DAY_MS),
      source: '1d',
      series: expectedAggregate(readings, {
        q: 'pm10',
        from: base,
        to: base + 3 * DAY_MS,
        everyMs: DAY_MS,
        fn: 'mean',
        groupBy: 'device',
      }),
    });
    const csv = await get(`/v1/readings/aggregate?${q}&format=csv`);
    expect([csv.headers.get('sus-source'), (await csv.text()).split('\r\n')[0]]).toStrictEqual([
      '1d',
      'time,group,value',
    ]);
  });

  it('combines rollups and raw readings exactly for ranges that do not start or end on a whole hour', async () => {
    const env = await h.as('environment', ['read']);
    const from = base + 5 * HOUR_MS + 30 * 60_000;
    const to = base + 2 * DAY_MS + 12 * HOUR_MS + 10 * 60_000;
    for (const [every, everyMs, source] of [
      ['1d', DAY_MS, '1d'],
      ['2h', 2 * HOUR_MS, '1h'],
    ] as const) {
      for (const fn of ['mean', 'count', 'sum', 'min', 'max'] as const) {
        const res = await env<Aggregate>(
          'GET',
          `/v1/readings/aggregate?quantity=no2&device=aq-rollup-2&from=${iso(from)}&to=${iso(to)}&every=${every}&fn=${fn}`,
        );
        expect([fn, every, res.body.source, res.body.series]).toStrictEqual([
          fn,
          every,
          source,
          expectedAggregate(
            readings.filter((r) => r.device === 'aq-rollup-2'),
            { q: 'no2', from, to, everyMs, fn },
          ),
        ]);
      }
    }
  });

  it('reads raw readings for medians and for windows that are not whole hours', async () => {
    const env = await h.as('environment', ['read']);
    const range = `from=${iso(base)}&to=${iso(base + DAY_MS)}`;
    const median = await env<Aggregate>('GET', `/v1/readings/aggregate?quantity=pm10&${range}&every=1d&fn=median`);
    const halfHours = await env<Aggregate>('GET', `/v1/readings/aggregate?quantity=pm10&${range}&every=30m&fn=mean`);
    expect([median.body.source, halfHours.body.source]).toStrictEqual(['raw', 'raw']);
    expect(halfHours.body.series).toStrictEqual(
      expectedAggregate(readings, { q: 'pm10', from: base, to: base + DAY_MS, everyMs: 30 * 60_000, fn: 'mean' }),
    );
  });

  it('budgets what the source costs: a year of daily means is allowed, a year of raw readings is not', async () => {
    const env = await h.as('environment', ['read']);
    const year = `from=${iso(base + 3 * DAY_MS - 365 * DAY_MS)}&to=${iso(base + 3 * DAY_MS)}`;
    const means = await env<Aggregate>('GET', `/v1/readings/aggregate?quantity=pm10&${year}&every=1d&fn=mean`);
    expect([means.status, means.body.source]).toStrictEqual([200, '1d']);
    expect(means.body.series).toStrictEqual(
      expectedAggregate(readings, { q: 'pm10', from: 0, to: base + 3 * DAY_MS, everyMs: DAY_MS, fn: 'mean' }),
    );
    const medians = await env<Problem>('GET', `/v1/readings/aggregate?quantity=pm10&${year}&every=1d&fn=median`);
    expect([medians.status, medians.body.code, medians.body.detail]).toStrictEqual([
      400,
      'SUS_ERR_QUERY_BUDGET',
      // Two devices of a type without a known interval (SUS_DEFAULT_INTERVAL_S, 300 s): 288 readings a day each.
      'the query would make InfluxDB read about 210240 stored points of 2 device(s) (source raw), more than the ' +
        'budget of 50000 (SUS_QUERY_MAX_SCAN): use fn count, min, max, mean or sum with every a whole number of ' +
        'hours or days (answered from rollups), a shorter from/to range, or fewer devices',
    ]);
  });

  it("keeps a grant's time window and districts: a shared read never gets a rollup of data outside them", async () => {
    const envAdmin = await h.as('environment', ['admin']);
    const grantFrom = base + DAY_MS + 6 * HOUR_MS + 20 * 60_000;
    const grant = await envAdmin('POST', '/v1/grants', {
      grantee: 'traffic',
      title: 'pm10 of the north',
      purpose: 'traffic planning',
      quantities: ['pm10'],
      districts: ['Nord'],
      from: iso(grantFrom),
      expiresAt: iso(Date.now() + DAY_MS),
    });
    expect(grant.status).toBe(201);
    const traffic = await h.as('traffic', ['read']);
    const res = await traffic<Aggregate>(
      'GET',
      `/v1/readings/aggregate?quantity=pm10&department=environment&from=${iso(base)}&to=${iso(base + 3 * DAY_MS)}&every=1d&fn=mean&groupBy=device`,
    );
    expect([res.body.source, res.body.series]).toStrictEqual([
      '1d',
      expectedAggregate(
        readings.filter((r) => r.device === 'aq-rollup-1'),
        { q: 'pm10', from: grantFrom, to: base + 3 * DAY_MS, everyMs: DAY_MS, fn: 'mean', groupBy: 'device' },
      ),
    ]);
  });

  it("keeps apart what each reader's access selects: a grant's reader never gets the owner's cached days", async () => {
    const q = `quantity=no2&department=environment&from=${iso(base)}&to=${iso(base + 3 * DAY_MS)}&every=1d&fn=sum`;
    const env = await h.as('environment', ['read']);
    const own = await env<Aggregate>('GET', `/v1/readings/aggregate?${q}`);
    const range = { q: 'no2', from: base, to: base + 3 * DAY_MS, everyMs: DAY_MS, fn: 'sum' } as const;
    expect([own.body.source, own.body.series]).toStrictEqual(['1d', expectedAggregate(readings, range)]);
    const water = await h.as('parks', ['read']);
    const envAdmin = await h.as('environment', ['admin']);
    const grant = await envAdmin<{ id: string }>('POST', '/v1/grants', {
      grantee: 'parks',
      title: 'no2 of the south',
      purpose: 'tree health',
      quantities: ['no2'],
      districts: ['Sued'],
      expiresAt: iso(Date.now() + DAY_MS),
    });
    expect(grant.status).toBe(201);
    const shared = await water<Aggregate>('GET', `/v1/readings/aggregate?${q}`);
    expect([shared.body.source, shared.body.series]).toStrictEqual([
      '1d',
      expectedAggregate(
        readings.filter((r) => r.district === 'Sued'),
        range,
      ),
    ]);
    // A revoked grant refuses the next read at once, cached days or not.
    expect((await envAdmin('DELETE', `/v1/grants/${grant.body.id}`)).status).toBe(200);
    const refused = await water<Problem>('GET', `/v1/readings/aggregate?${q}`);
    expect([refused.status, refused.body.code]).toStrictEqual([403, 'SUS_ERR_NOT_SHARED']);
  });

  it('answers a late reading of a rolled-up hour at once, before the rollup service recomputes that hour', async () => {
    const late = {
      ...readings.find((r) => r.q === 'no2' && r.device === 'aq-rollup-2')!,
      value: 500,
      time: base + DAY_MS + 3 * HOUR_MS + 5 * 60_000,
    };
    const write = await h.as('environment', ['write']);
    const pushed = await write('POST', '/v1/ingest/canonical?device=aq-rollup-2', {
      time: late.time,
      values: { no2: late.value },
    });
    expect([pushed.status, pushed.body]).toStrictEqual([200, { accepted: 1, rejected: [], deadLetterId: null }]);
    const q = `quantity=no2&device=aq-rollup-2&from=${iso(base)}&to=${iso(base + 3 * DAY_MS)}&every=1d&fn=mean`;
    const want = expectedAggregate(
      [...readings, late].filter((r) => r.device === 'aq-rollup-2'),
      { q: 'no2', from: base, to: base + 3 * DAY_MS, everyMs: DAY_MS, fn: 'mean' },
    );
    // No rollup pass runs meanwhile (SUS_ROLLUP_INTERVAL_S is an hour): only the stale mark makes the API read raw.
    const env = await h.as('environment', ['read']);
    const answer = await eventually(
      async () => (await env<Aggregate>('GET', `/v1/readings/aggregate?${q}`)).body,
      (b) => JSON.stringify(b.series) === JSON.stringify(want),
    );
    expect([answer.source, answer.series]).toStrictEqual(['1d', want]);
    // Recomputed, the daily rollups alone give the same answer.
    await h.platform.rollups!.runOnce();
    expect(await h.platform.registry.rollups.staleHours('no2', 10)).toStrictEqual([]);
    const after = await env<Aggregate>('GET', `/v1/readings/aggregate?${q}`);
    expect([after.body.source, after.body.series]).toStrictEqual(['1d', want]);
  });

  it('a cached year of daily rollups changes when a late reading arrives and its day is recomputed', async () => {
    const env = await h.as('environment', ['read']);
    const q = `quantity=pm10&device=aq-rollup-1&from=${iso(base)}&to=${iso(base + 3 * DAY_MS)}&every=1d&fn=mean`;
    const mean = (rs: typeof readings) =>
      expectedAggregate(
        rs.filter((r) => r.device === 'aq-rollup-1'),
        { q: 'pm10', from: base, to: base + 3 * DAY_MS, everyMs: DAY_MS, fn: 'mean' },
      );
    // Twice: the second answer is the one this node keeps the days for.
    for (let i = 0; i < 2; i++) {
      const before = await env<Aggregate>('GET', `/v1/readings/aggregate?${q}`);
      expect([before.body.source, before.body.series]).toStrictEqual(['1d', mean(readings)]);
    }
    const late = { ...readings.find((r) => r.q === 'pm10' && r.device === 'aq-rollup-1')!, value: 400 };
    late.time = base + 2 * DAY_MS + 7 * HOUR_MS + 5 * 60_000;
    const write = await h.as('environment', ['write']);
    const pushed = await write('POST', '/v1/ingest/canonical?device=aq-rollup-1', {
      time: late.time,
      values: { pm10: late.value },
    });
    expect(pushed.status).toBe(200);
    const hour = windowStart(late.time, HOUR_MS);
    await eventually(
      () => h.platform.registry.rollups.staleHours('pm10', 10),
      (hours) => hours.includes(hour),
    );
    // The rollup pass rewrites the day and clears its mark: from then on the day is answered from the rollups again.
    await h.platform.rollups!.runOnce();
    expect(await h.platform.registry.rollups.staleHours('pm10', 10)).toStrictEqual([]);
    const after = await env<Aggregate>('GET', `/v1/readings/aggregate?${q}`);
    expect([after.body.source, after.body.series]).toStrictEqual(['1d', mean([...readings, late])]);
  });

  it('counts the devices a read covers as the registry holds them now: one added or moved changes the budget at once', async () => {
    const q = `/v1/readings/aggregate?quantity=pm10&department=environment&from=${iso(base - 365 * DAY_MS)}&to=${iso(base)}&every=1h&fn=mean&groupBy=district`;
    const groups = async () => {
      const res = await h.admin<Problem>('GET', q);
      return [res.status, res.body.detail.split(' = ')[0]];
    };
    expect(await groups()).toStrictEqual([400, '8760 windows × 2 group(s)']);
    const added = await h.admin('POST', '/v1/devices', {
      id: 'aq-rollup-3',
      name: 'aq-rollup-3',
      department: 'environment',
      type: 'air_quality',
      district: 'West',
    });
    expect(added.status).toBe(201);
    expect(await groups()).toStrictEqual([400, '8760 windows × 3 group(s)']);
    expect((await h.admin('PATCH', '/v1/devices/aq-rollup-3', { district: 'Nord' })).status).toBe(200);
    expect(await groups()).toStrictEqual([400, '8760 windows × 2 group(s)']);
  });
});
