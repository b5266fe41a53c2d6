import { describe, expect, it } from 'vitest';
import { DailyRollupCache } from '../../../services/api/rollup-cache.ts';
import type { InfluxSeries } from '../../../services/common/influx.ts';
import { DAY_MS } from '../../../services/common/rollups.ts';

/** Answers each statement with one row per day of its time range (value: the day number), and counts the queries. */
class FakeInflux {
  queries: string[] = [];
  async query(q: string): Promise<InfluxSeries[][]> {
    this.queries.push(q);
    return q.split('; ').map((statement) => {
      const [from, to] = [...statement.matchAll(/time [<>]=? '([^']+)'/g)].map((m) => Date.parse(m[1]!));
      const values: unknown[][] = [];
      for (let d = from!; d < to!; d += DAY_MS) values.push([d, d / DAY_MS, 1, d / DAY_MS, d / DAY_MS]);
      return [{ name: 'pm10', columns: ['time', 's', 'c', 'mn', 'mx'], values }];
    });
  }
}

const day0 = 20_000 * DAY_MS;
const days = (n: number) => ({ source: '1d' as const, from: day0, to: day0 + n * DAY_MS });
const row = (d: number) => ({
  group: '',
  time: day0 + d * DAY_MS,
  s: 20_000 + d,
  c: 1,
  mn: 20_000 + d,
  mx: 20_000 + d,
});

describe('daily rollup cache: days read once per generation, within its bounds', () => {
  it('reads the days of a part once, then only the days it lacks, and again all under a newer generation', async () => {
    const influx = new FakeInflux();
    const cache = new DailyRollupCache(influx);
    expect(await cache.read('pm10', { department: 'a' }, undefined, days(3), '0')).toStrictEqual([0, 1, 2].map(row));
    expect(await cache.read('pm10', { department: 'a' }, undefined, days(3), '0')).toStrictEqual([0, 1, 2].map(row));
    expect(await cache.read('pm10', { department: 'a' }, undefined, days(5), '0')).toStrictEqual(
      [0, 1, 2, 3, 4].map(row),
    );
    expect(influx.queries.length).toBe(2);
    expect(influx.queries[1]).toContain(`time >= '${new Date(day0 + 3 * DAY_MS).toISOString()}'`);
    await cache.read('pm10', { department: 'a' }, undefined, days(5), '1');
    expect([influx.queries.length, cache.size]).toStrictEqual([3, { entries: 1, rows: 5 }]);
  });

  it('keeps filters apart and ten concurrent misses of one read cost one query', async () => {
    const influx = new FakeInflux();
    const cache = new DailyRollupCache(influx);
    await Promise.all(
      Array.from({ length: 10 }, () => cache.read('pm10', { department: 'a' }, undefined, days(2), '0')),
    );
    await cache.read('pm10', { department: 'a', districts: ['Nord'] }, undefined, days(2), '0');
    expect(influx.queries.length).toBe(2);
    expect(influx.queries[1]).toContain(`"district" = 'Nord'`);
  });

  it('drops the least recently used entries past its bounds and keeps no entry larger than the row bound', async () => {
    const cache = new DailyRollupCache(new FakeInflux(), { entries: 2, rows: 10 });
    for (const d of ['a', 'b', 'c']) await cache.read('pm10', { department: d }, undefined, days(4), '0');
    expect(cache.size).toStrictEqual({ entries: 2, rows: 8 });
    const large = await cache.read('pm10', { department: 'd' }, undefined, days(12), '0');
    expect([large.length, cache.size.rows <= 10]).toStrictEqual([12, true]);
  });
});
