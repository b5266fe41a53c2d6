import { type InfluxSeries, influxIdent, influxString } from '../../common/influx.ts';
import { HOUR_MS, ROLLUP, windowStart } from '../../common/rollups.ts';
import type { Rule, WindowAggregate } from '../../common/rules.ts';

/**
 * Window rules (an aggregate over a trailing window, e.g. PM10 24-hour mean above 50 µg/m³) read the hourly rollups
 * for the whole hours the rollup service has done and the raw readings only after its checkpoint: a 24 h mean over
 * 1,000 devices costs about 24,000 rollup points and the current hour's readings, not 24 hours of raw data. Hours a
 * late reading made stale are read from the rollups as they are until the rollup service recomputes them.
 */

const time = (t: number) => influxString(new Date(t).toISOString());

function scopeWhere(rule: Rule): string {
  const s = rule.scope;
  const parts = [`"department" = ${influxString(s.department)}`];
  if (s.device !== null) parts.push(`"device" = ${influxString(s.device)}`);
  if (s.type !== null) parts.push(`"device_type" = ${influxString(s.type)}`);
  if (s.district !== null) parts.push(`"district" = ${influxString(s.district)}`);
  return parts.join(' AND ');
}

/**
 * The two statements of one evaluation at `now`: the hourly rollups in [from, split) and the raw readings in
 * [split, now], where split is the rollups' checkpoint (never before the window's start, never after now), each
 * grouped by device.
 */
export function windowQueries(rule: Rule, now: number, rollupsUntil: number): string {
  const m = influxIdent(rule.quantity!);
  const from = windowStart(now - rule.window!.seconds * 1000, HOUR_MS);
  const split = Math.max(from, Math.min(windowStart(rollupsUntil, HOUR_MS), windowStart(now, HOUR_MS)));
  const where = scopeWhere(rule);
  const rollup =
    'SELECT sum("sum") AS "sum", sum("count") AS "count", min("min") AS "min", max("max") AS "max" ' +
    `FROM ${influxIdent(ROLLUP['1h'].policy)}.${m} WHERE ${where} AND time >= ${time(from)} AND time < ${time(split)} ` +
    'GROUP BY "device"';
  const raw =
    'SELECT sum("value") AS "sum", count("value") AS "count", min("value") AS "min", max("value") AS "max" ' +
    `FROM ${m} WHERE ${where} AND time >= ${time(split)} AND time <= ${time(now)} GROUP BY "device"`;
  return `${rollup}; ${raw}`;
}

interface Part {
  sum: number;
  count: number;
  min: number;
  max: number;
}

/** Each device's aggregate over the window, from the answers of {@link windowQueries}. */
export function windowValues(answers: readonly InfluxSeries[][], aggregate: WindowAggregate): Map<string, number> {
  const parts = new Map<string, Part>();
  for (const series of answers)
    for (const s of series) {
      const device = s.tags?.device;
      const row = s.values[0];
      if (!device || !row) continue;
      const col = (name: string) => row[s.columns.indexOf(name)];
      const count = col('count');
      if (typeof count !== 'number' || count <= 0) continue;
      const p = parts.get(device) ?? { sum: 0, count: 0, min: Infinity, max: -Infinity };
      p.sum += col('sum') as number;
      p.count += count;
      p.min = Math.min(p.min, col('min') as number);
      p.max = Math.max(p.max, col('max') as number);
      parts.set(device, p);
    }
  const out = new Map<string, number>();
  // A mean over rollups and raw readings is Σ sum / Σ count: exact, never a mean of means.
  for (const [device, p] of parts) out.set(device, aggregate === 'mean' ? p.sum / p.count : p[aggregate]);
  return out;
}
