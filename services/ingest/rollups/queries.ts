import { type InfluxSeries, influxIdent, influxString } from '../../common/influx.ts';
import { fieldSet, floatValue, intValue, pointLine, tagSet } from '../../common/line-protocol.ts';
import { ROLLUP, ROLLUP_TAGS, type RollupWindow } from '../../common/rollups.ts';

/**
 * The InfluxQL that computes rollups and the line protocol that stores them: pure, so the exact statements and
 * lines are unit-tested. Reads go through `/query` (InfluxDB 1.x, 2.x, 3.x alike); no continuous query or task.
 */

const time = (t: number) => influxString(new Date(t).toISOString());
const GROUP_TAGS = ROLLUP_TAGS.map(influxIdent).join(', ');

/**
 * Hourly rollups of `measurements` for the hours in [from, to): one row per hour and series (tag combination) that
 * has readings. The mean is not asked for: it is `sum / count`, the same division InfluxDB's mean() makes.
 */
export function hourlyQuery(measurements: readonly string[], from: number, to: number): string {
  return (
    'SELECT count("value") AS "count", first("value") AS "first", last("value") AS "last", max("value") AS "max", ' +
    `min("value") AS "min", sum("value") AS "sum" FROM ${measurements.map(influxIdent).join(', ')} ` +
    `WHERE time >= ${time(from)} AND time < ${time(to)} GROUP BY time(1h), ${GROUP_TAGS} fill(none)`
  );
}

/** Daily rollups from the hourly ones for the days in [from, to): counts and sums add up, so means stay exact. */
export function dailyQuery(measurements: readonly string[], from: number, to: number): string {
  const hourly = measurements.map((m) => `${influxIdent(ROLLUP['1h'].policy)}.${influxIdent(m)}`).join(', ');
  return (
    'SELECT sum("count") AS "count", first("first") AS "first", last("last") AS "last", max("max") AS "max", ' +
    `min("min") AS "min", sum("sum") AS "sum" FROM ${hourly} ` +
    `WHERE time >= ${time(from)} AND time < ${time(to)} GROUP BY time(1d), ${GROUP_TAGS} fill(none)`
  );
}

/** The query that computes `window` rollups. */
export const rollupQuery = (window: RollupWindow, measurements: readonly string[], from: number, to: number) =>
  window === '1h' ? hourlyQuery(measurements, from, to) : dailyQuery(measurements, from, to);

/**
 * Rollup points from the answer of {@link hourlyQuery} / {@link dailyQuery}: fields in ROLLUP_FIELDS order, `count`
 * an integer (floats typed as floats by the one line builder: InfluxDB types a field by its first write), the window
 * start as the time. Rows without a count (none with fill(none)) are skipped.
 */
export function rollupLines(series: readonly InfluxSeries[]): string[] {
  const lines: string[] = [];
  for (const s of series) {
    const col = (name: string) => s.columns.indexOf(name);
    const [t, c, first, last, max, min, sum] = ['time', 'count', 'first', 'last', 'max', 'min', 'sum'].map(col);
    const tags = tagSet(Object.fromEntries(ROLLUP_TAGS.map((key) => [key, s.tags?.[key]])));
    for (const row of s.values) {
      const count = row[c!];
      const total = row[sum!];
      if (typeof count !== 'number' || count <= 0 || typeof total !== 'number') continue;
      const f = (i: number) => floatValue(row[i] as number);
      const fields = fieldSet({
        count: intValue(count),
        first: f(first!),
        last: f(last!),
        max: f(max!),
        mean: floatValue(total / count),
        min: f(min!),
        sum: floatValue(total),
      });
      lines.push(pointLine(s.name, tags, fields, row[t!] as number));
    }
  }
  return lines;
}

/** `SELECT first("value")` of every quantity: the oldest reading decides where a first catch-up starts. */
export const oldestQuery = (measurements: readonly string[]) =>
  `SELECT first("value") FROM ${measurements.map(influxIdent).join(', ')}`;
