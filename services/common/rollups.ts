/**
 * Rollups: hourly and daily aggregates of every device × quantity, kept in the readings' InfluxDB database under
 * retention policies of their own (InfluxDB 2.x/3.x: buckets named `<db>/<policy>`, see services/ingest/README.md).
 * Contract between the rollup engine (services/ingest/rollups, the writer), the API (which reads them when a
 * window allows) and the dashboards.
 *
 * A rollup point has the reading's measurement (the quantity), the reading tags that select data (department,
 * device, device_type, district; `source` is merged) and the fields below; its time is the window's start (UTC).
 */
export const ROLLUP_WINDOWS = ['1h', '1d'] as const;
export type RollupWindow = (typeof ROLLUP_WINDOWS)[number];

export const HOUR_MS = 3600_000;
export const DAY_MS = 24 * HOUR_MS;

/** Window length and retention policy (bucket `<db>/<policy>` on InfluxDB 2.x/3.x) of each rollup. */
export const ROLLUP: Readonly<Record<RollupWindow, { ms: number; policy: string }>> = {
  '1h': { ms: HOUR_MS, policy: 'rollup_1h' },
  '1d': { ms: DAY_MS, policy: 'rollup_1d' },
};

/**
 * Fields of a rollup point: `count` an integer, the others floats. A window's mean is `sum / count`, so a longer
 * window's mean is the count-weighted mean of its parts (Σ sum / Σ count), never a mean of means.
 */
export const ROLLUP_FIELDS = ['count', 'first', 'last', 'max', 'mean', 'min', 'sum'] as const;
export type RollupField = (typeof ROLLUP_FIELDS)[number];

/** Reading tags a rollup keeps (every tag the API filters on), in line-protocol order. */
export const ROLLUP_TAGS = ['department', 'device', 'device_type', 'district'] as const;

/** Aggregate functions a rollup can answer exactly; others (median, percentiles) need the raw readings. */
export const ROLLUP_FNS = ['count', 'min', 'max', 'mean', 'sum'] as const;
export type RollupFn = (typeof ROLLUP_FNS)[number];

/** Start of the window of `window` that holds `t` (epoch ms; windows are aligned to the epoch, i.e. UTC). */
export const windowStart = (t: number, ms: number): number => Math.floor(t / ms) * ms;
/** The first window boundary at or after `t`. */
export const windowCeil = (t: number, ms: number): number => Math.ceil(t / ms) * ms;
