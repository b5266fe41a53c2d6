import { ROLLUP, type RollupFn } from '../../services/common/rollups.ts';
import { type InfluxQLBuilder, influxql } from './datasource.ts';

/**
 * Which stored data a time-series panel reads, chosen by Grafana's `$__interval` (the range divided by the
 * panel's width in points): raw readings below HOURLY_FROM_MS, the hourly rollups up to DAILY_FROM_MS, the daily
 * rollups beyond (services/common/rollups.ts). Each source is its own target whose WHERE holds a constant
 * comparison of `$__interval_ms`: InfluxDB answers the targets that do not apply with nothing, so exactly one
 * source is read, and a month or a year no longer walks every raw reading.
 */
export const HOURLY_FROM_MS = 300_000; // a 5-minute interval: past ~2 days on a third-width panel, ~7 on a full one
export const DAILY_FROM_MS = 7_200_000; // 2 hours: past ~2 months on a third-width panel, ~6 on a full one

/** The raw aggregate and the one over rollup fields that gives the same value (a mean is Σ sum / Σ count). */
const SELECT: Record<RollupFn, { raw: string; rollup: string }> = {
  mean: { raw: 'mean("value")', rollup: 'sum("sum") / sum("count")' },
  min: { raw: 'min("value")', rollup: 'min("min")' },
  max: { raw: 'max("value")', rollup: 'max("max")' },
  sum: { raw: 'sum("value")', rollup: 'sum("sum")' },
  count: { raw: 'count("value")', rollup: 'sum("count")' },
};

export interface SeriesSpec {
  measurement: string;
  fn: RollupFn;
  /** Tag conditions (without the time filter), e.g. tagFilter([…]). */
  where: string;
  /** `, "device"` and the like: what follows `GROUP BY time($__interval)`. */
  groupBy: string;
  alias: string;
  /** Appended to the aggregate (`* 100`, `/ 100`): unit conversions. */
  scale?: string;
}

/** Three targets (A raw, B hourly, C daily), of which the panel's interval selects one. */
export function readingSeries(s: SeriesSpec): InfluxQLBuilder[] {
  const scale = s.scale ? ` ${s.scale}` : '';
  const group = `GROUP BY time($__interval)${s.groupBy} fill(none)`;
  const query = (select: string, from: string, interval: string, refId: string) =>
    influxql(
      `SELECT ${select}${scale} AS "${s.fn}" FROM ${from} WHERE ${s.where} AND $timeFilter AND ${interval} ${group}`,
      refId,
    ).alias(s.alias);
  const m = `"${s.measurement}"`;
  return [
    query(SELECT[s.fn].raw, m, `$__interval_ms < ${HOURLY_FROM_MS}`, 'A'),
    query(
      SELECT[s.fn].rollup,
      `"${ROLLUP['1h'].policy}".${m}`,
      `$__interval_ms >= ${HOURLY_FROM_MS} AND $__interval_ms < ${DAILY_FROM_MS}`,
      'B',
    ),
    query(SELECT[s.fn].rollup, `"${ROLLUP['1d'].policy}".${m}`, `$__interval_ms >= ${DAILY_FROM_MS}`, 'C'),
  ];
}
