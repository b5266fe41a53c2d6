import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { queryAggregateParts } from '../../../services/api/readings-query.ts';
import { DAY_MS, HOUR_MS, windowStart } from '../../../services/common/rollups.ts';
import { eventually } from '../../helpers/env.ts';
import { expectedAggregate, fixtureReadings } from '../../helpers/rollups.ts';
import { type Dept, type Harness, startRollupHarness } from './harness.ts';

// The real query, watched: a request answered from the kept answers builds nothing (no merge of parts).
vi.mock('../../../services/api/readings-query.ts', async (original) => {
  const real = await original<typeof import('../../../services/api/readings-query.ts')>();
  return { ...real, queryAggregateParts: vi.fn(real.queryAggregateParts) };
});
const builds = () => vi.mocked(queryAggregateParts).mock.calls.length;

interface Answer {
  status: number;
  source: string | null;
  etag: string | null;
  body: string;
}

/**
 * Aggregate answers of the daily rollups alone are built once per API node and sent to the requests after them
 * (services/api/routes/aggregate.ts). Each case counts the builds and checks the bytes against what a build gives.
 */
describe('kept aggregate answers stay correct', () => {
  const base = windowStart(Date.now(), DAY_MS) - 4 * DAY_MS;
  const readings = fixtureReadings(base);
  const iso = (t: number) => new Date(t).toISOString();
  const days = `from=${iso(base)}&to=${iso(base + 3 * DAY_MS)}&every=1d`;
  let h: Harness;

  const get = async (path: string, dept: Dept | null, headers: Record<string, string> = {}): Promise<Answer> => {
    const key = dept === null ? undefined : await h.key(dept, ['read']);
    const res = await fetch(`${h.base}${path}`, {
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
    });
    return {
      status: res.status,
      source: res.headers.get('sus-source'),
      etag: res.headers.get('etag'),
      body: await res.text(),
    };
  };
  const answer = (range: { from: number; to: number }, series: unknown, extra: Record<string, string> = {}) =>
    JSON.stringify({
      quantity: extra.quantity ?? 'pm10',
      unit: 'ug/m3',
      fn: extra.fn ?? 'mean',
      every: '1d',
      from: iso(range.from),
      to: iso(range.to),
      source: '1d',
      series,
    });

  beforeAll(async () => {
    h = await startRollupHarness(readings);
  });
  afterAll(async () => h?.stop());

  it('sends a repeated year of daily means as the bytes built for the first request, in JSON and CSV', async () => {
    const path = `/v1/readings/aggregate?quantity=pm10&department=environment&${days}&fn=mean&groupBy=device`;
    const before = builds();
    const [built, kept] = [await get(path, 'environment'), await get(path, 'environment')];
    const [csvBuilt, csvKept] = [
      await get(`${path}&format=csv`, 'environment'),
      await get(`${path}&format=csv`, 'environment'),
    ];
    const revalidated = await get(path, 'environment', { 'if-none-match': built.etag! });
    const range = { from: base, to: base + 3 * DAY_MS };
    const series = expectedAggregate(readings, { q: 'pm10', ...range, everyMs: DAY_MS, fn: 'mean', groupBy: 'device' });
    expect([builds() - before, built, kept, csvKept, revalidated.status]).toStrictEqual([
      2,
      { status: 200, source: '1d', etag: built.etag, body: answer(range, series) },
      built,
      csvBuilt,
      304,
    ]);
    expect(csvBuilt.body.split('\r\n').slice(0, 2)).toStrictEqual([
      'time,group,value',
      `${iso(base)},aq-rollup-1,${series[0]!.points[0]!.value}`,
    ]);
  });

  it('builds anew what raw readings answer in part: a range ending now, or starting within an hour', async () => {
    const until = `/v1/readings/aggregate?quantity=pm10&department=environment&from=${iso(base)}&every=1d&fn=mean`;
    const within = `/v1/readings/aggregate?quantity=pm10&department=environment&from=${iso(base + 30 * 60_000)}&to=${iso(base + 3 * DAY_MS)}&every=1d&fn=mean`;
    const before = builds();
    const answers = [];
    for (const path of [until, until, within, within]) answers.push((await get(path, 'environment')).status);
    expect([answers, builds() - before]).toStrictEqual([[200, 200, 200, 200], 4]);
  });

  it("never sends one reader the answer kept for another's access: owner, grantee, open data", async () => {
    const q = `quantity=no2&${days}&fn=sum`;
    const envAdmin = await h.as('environment', ['admin']);
    const grant = await envAdmin<{ id: string }>('POST', '/v1/grants', {
      grantee: 'traffic',
      title: 'no2 of the north',
      purpose: 'traffic planning',
      quantities: ['no2'],
      districts: ['Nord'],
      expiresAt: iso(Date.now() + DAY_MS),
    });
    const open = await envAdmin<{ id: string }>('POST', '/v1/grants', {
      grantee: 'public',
      title: 'no2 of the south',
      purpose: 'open data',
      quantities: ['no2'],
      districts: ['Sued'],
      expiresAt: iso(Date.now() + DAY_MS),
    });
    expect([grant.status, open.status]).toStrictEqual([201, 201]);
    const before = builds();
    const keyed = `/v1/readings/aggregate?${q}&department=environment`;
    // The owner's answer is built and kept first; the others ask for the very same read right after, twice.
    const answers = [];
    for (const [path, dept] of [
      [keyed, 'environment'],
      [keyed, 'traffic'],
      [keyed, 'traffic'],
      [`/v1/open/datasets/${open.body.id}/aggregate?${q}`, null],
      [`/v1/open/datasets/${open.body.id}/aggregate?${q}`, null],
      [keyed, 'environment'],
    ] as const)
      answers.push(await get(path, dept));
    const range = { from: base, to: base + 3 * DAY_MS };
    const sum = (district?: string) =>
      answer(
        range,
        expectedAggregate(
          readings.filter((r) => district === undefined || r.district === district),
          { q: 'no2', ...range, everyMs: DAY_MS, fn: 'sum' },
        ),
        { quantity: 'no2', fn: 'sum' },
      );
    expect([answers.map((a) => [a.status, a.body]), builds() - before]).toStrictEqual([
      [
        [200, sum()],
        [200, sum('Nord')],
        [200, sum('Nord')],
        [200, sum('Sued')],
        [200, sum('Sued')],
        [200, sum()],
      ],
      3,
    ]);
  });

  it('sends a new answer once the rollup engine rewrote a day after a late reading (its generation moved)', async () => {
    const path = `/v1/readings/aggregate?quantity=pm10&device=aq-rollup-2&${days}&fn=max`;
    const range = { from: base, to: base + 3 * DAY_MS };
    const max = (rs: typeof readings) =>
      answer(
        range,
        expectedAggregate(
          rs.filter((r) => r.device === 'aq-rollup-2'),
          { q: 'pm10', ...range, everyMs: DAY_MS, fn: 'max' },
        ),
        { fn: 'max' },
      );
    const kept = [await get(path, 'environment'), await get(path, 'environment')].map((a) => a.body);
    const late = { ...readings.find((r) => r.q === 'pm10' && r.device === 'aq-rollup-2')!, value: 900 };
    late.time = base + DAY_MS + 5 * HOUR_MS + 5 * 60_000;
    await h.write([{ ...late, dept: late.department }]);
    // Stale: its day is read raw, and such an answer is not kept.
    const stale = await eventually(
      () => get(path, 'environment'),
      (a) => a.body.includes('900'),
    );
    await h.platform.rollups!.runOnce();
    expect(await h.platform.registry.rollups.staleHours('pm10', 10)).toStrictEqual([]);
    const before = builds();
    const rewritten = [await get(path, 'environment'), await get(path, 'environment')].map((a) => a.body);
    expect([kept, stale.source, rewritten, builds() - before]).toStrictEqual([
      [max(readings), max(readings)],
      '1d',
      [max([...readings, late]), max([...readings, late])],
      1,
    ]);
  });
});
