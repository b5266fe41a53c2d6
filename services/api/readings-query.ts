import type { Catalogue } from '../common/catalogue.ts';
import { badRequest } from '../common/errors.ts';
import { type InfluxQuery, type InfluxSeries, influxIdent, influxString } from '../common/influx.ts';
import { ROLLUP, type RollupFn, windowStart } from '../common/rollups.ts';
import type { PlanPart } from './aggregate-plan.ts';

export interface ReadingRow {
  device: string;
  quantity: string;
  value: number;
  unit: string;
  time: string;
}

/** Tag filters of a read; lists (from grants) restrict to any of their values. */
export interface SeriesFilter {
  device?: string;
  /** Any of these devices (registry-side selections such as a bounding box). */
  devices?: string[];
  /** Restricts to one department's data (department-scoped keys, shared reads). */
  department?: string;
  district?: string;
  deviceTypes?: string[] | null;
  districts?: string[] | null;
}

export interface ReadingsFilter extends SeriesFilter {
  /** Measurements read (catalogue names only). */
  names: string[];
  from: number;
  to: number;
  limit: number;
}

/** Quantity names become measurement identifiers: only catalogue names are ever put into a query. */
export function measurements(catalogue: Catalogue, quantity: string | undefined): string[] {
  if (quantity === undefined) return catalogue.names();
  const q = catalogue.get(quantity);
  if (!q)
    throw badRequest(`'${quantity}' is not a quantity of the catalogue`, 'SUS_ERR_UNKNOWN_QUANTITY', {
      field: 'quantity',
    });
  return [q.name];
}

const anyOf = (tag: string, values: string[]) =>
  values.length === 0 ? 'false' : `(${values.map((v) => `${influxIdent(tag)} = ${influxString(v)}`).join(' OR ')})`;

/** The tag conditions of a filter, each an InfluxQL expression (joined with AND). */
export function tagConditions(f: SeriesFilter): string[] {
  const parts: string[] = [];
  if (f.device !== undefined) parts.push(`"device" = ${influxString(f.device)}`);
  if (f.devices) parts.push(anyOf('device', f.devices));
  if (f.department !== undefined) parts.push(`"department" = ${influxString(f.department)}`);
  if (f.district !== undefined) parts.push(`"district" = ${influxString(f.district)}`);
  if (f.deviceTypes) parts.push(anyOf('device_type', f.deviceTypes));
  if (f.districts) parts.push(anyOf('district', f.districts));
  return parts;
}

export function whereClause(f: SeriesFilter, from?: number, to?: number): string {
  const parts: string[] = [];
  if (from !== undefined) parts.push(`time >= ${influxString(new Date(from).toISOString())}`);
  if (to !== undefined) parts.push(`time <= ${influxString(new Date(to).toISOString())}`);
  parts.push(...tagConditions(f));
  return parts.length ? ` WHERE ${parts.join(' AND ')}` : '';
}

/**
 * Raw readings in time order, a page of at most `limit` with a time cursor. What InfluxDB sends is bounded too, at
 * limit + 2 × quantities points: the query has no GROUP BY (the device comes as a column, so each quantity is one
 * series and the number of devices cannot multiply the LIMIT), and each quantity is asked for its share of the
 * limit plus one. A quantity that filled its share is complete only before its last fetched row's time: the page
 * ends there (it may hold fewer than `limit` rows) and `next` continues from it.
 */
export async function queryReadings(
  influx: InfluxQuery,
  catalogue: Catalogue,
  f: ReadingsFilter,
): Promise<{ readings: ReadingRow[]; next: string | null }> {
  const share = Math.ceil(f.limit / f.names.length);
  const from = f.names.map(influxIdent).join(',');
  const q = `SELECT "value", "device" FROM ${from}${whereClause(f, f.from, f.to)} ORDER BY time ASC LIMIT ${share + 1}`;
  const [series = []] = await influx.query(q);
  const rows: Array<ReadingRow & { ms: number }> = [];
  // Every row before this time is in `rows`; undefined: every row of the range is.
  let horizon: number | undefined;
  for (const s of series) {
    const unit = catalogue.get(s.name)?.unit ?? '';
    const at = s.columns.indexOf('device');
    const last = s.values[share]?.[0];
    if (typeof last === 'number' && (horizon === undefined || last < horizon)) horizon = last;
    for (const row of s.values) {
      const [t, v] = row;
      if (typeof v !== 'number' || typeof t !== 'number') continue;
      const device = row[at];
      rows.push({
        device: typeof device === 'string' ? device : '',
        quantity: s.name,
        value: v,
        unit,
        time: new Date(t).toISOString(),
        ms: t,
      });
    }
  }
  rows.sort((a, b) => a.ms - b.ms || a.device.localeCompare(b.device) || a.quantity.localeCompare(b.quantity));
  let page = horizon === undefined ? rows : rows.filter((r) => r.ms < horizon);
  let next: string | null = null;
  if (page.length > f.limit) {
    // The next page starts after the last returned millisecond (rows sharing it are all on this page).
    page = page.slice(0, f.limit);
    const lastMs = page[page.length - 1]!.ms;
    const cut = page.findIndex((r) => r.ms === lastMs);
    if (cut > 0) page.length = cut;
    next = new Date(page[page.length - 1]!.ms + 1).toISOString();
  } else if (horizon !== undefined) {
    if (page.length > 0) next = new Date(horizon).toISOString();
    else {
      // More rows share one millisecond than a share holds: hand out those fetched and go on after it.
      page = rows.filter((r) => r.ms === horizon);
      next = new Date(horizon + 1).toISOString();
    }
  }
  return { readings: page.map(({ ms: _ms, ...r }) => r), next };
}

export interface LatestRow {
  device: string;
  quantity: string;
  value: number;
  unit: string;
  time: string;
}

/** Last value per device and quantity, one query for any number of devices (GROUP BY "device"). */
export async function queryLatestMany(
  influx: InfluxQuery,
  catalogue: Catalogue,
  names: string[],
  f: SeriesFilter,
  from?: number,
  to?: number,
): Promise<LatestRow[]> {
  const q = `SELECT last("value") AS "value" FROM ${names.map(influxIdent).join(',')}${whereClause(f, from, to)} GROUP BY "device"`;
  const [series = []] = await influx.query(q);
  const rows: LatestRow[] = [];
  for (const s of series) {
    const [t, v] = s.values[0] ?? [];
    if (typeof v !== 'number' || typeof t !== 'number') continue;
    rows.push({
      device: s.tags?.device ?? '',
      quantity: s.name,
      value: v,
      unit: catalogue.get(s.name)?.unit ?? '',
      time: new Date(t).toISOString(),
    });
  }
  return rows;
}

export const AGGREGATE_FNS = ['mean', 'min', 'max', 'count', 'sum', 'median', 'p95'] as const;
export type AggregateFn = (typeof AGGREGATE_FNS)[number];
export const GROUP_BY = ['device', 'district', 'department'] as const;
export type GroupBy = (typeof GROUP_BY)[number];

const SELECTOR: Record<AggregateFn, string> = {
  mean: 'mean("value")',
  min: 'min("value")',
  max: 'max("value")',
  count: 'count("value")',
  sum: 'sum("value")',
  median: 'median("value")',
  p95: 'percentile("value", 95)',
};

export interface AggregateSeries {
  group: Partial<Record<GroupBy, string>>;
  points: Array<{ time: string; value: number }>;
}

/**
 * Windows of `everyS` seconds over [from, to). The caller has checked the window count against the budget:
 * `fill(none)` keeps empty windows out of the answer, but InfluxDB still walks every window of the range.
 */
export async function queryAggregate(
  influx: InfluxQuery,
  quantity: string,
  f: SeriesFilter,
  a: { from: number; to: number; everyS: number; fn: AggregateFn; groupBy?: GroupBy },
): Promise<AggregateSeries[]> {
  const where = whereClause(f, a.from);
  const to = `time < ${influxString(new Date(a.to).toISOString())}`;
  const group = a.groupBy ? `, ${influxIdent(a.groupBy)}` : '';
  const q = `SELECT ${SELECTOR[a.fn]} AS "value" FROM ${influxIdent(quantity)}${where} AND ${to} GROUP BY time(${a.everyS}s)${group} fill(none)`;
  const [series = []] = await influx.query(q);
  return series
    .map((s) => ({
      group: a.groupBy ? { [a.groupBy]: s.tags?.[a.groupBy] ?? '' } : {},
      points: s.values.flatMap(([t, v]) =>
        typeof v === 'number' && typeof t === 'number' ? [{ time: new Date(t).toISOString(), value: v }] : [],
      ),
    }))
    .sort((x, y) => JSON.stringify(x.group).localeCompare(JSON.stringify(y.group)));
}

/** The partial aggregates a window's parts combine from: from raw readings and from rollup fields. */
const PARTIALS: Record<RollupFn, Array<{ as: PartialName; raw: string; rollup: string }>> = {
  mean: [
    { as: 's', raw: 'sum("value")', rollup: 'sum("sum")' },
    { as: 'c', raw: 'count("value")', rollup: 'sum("count")' },
  ],
  count: [{ as: 'c', raw: 'count("value")', rollup: 'sum("count")' }],
  sum: [{ as: 's', raw: 'sum("value")', rollup: 'sum("sum")' }],
  min: [{ as: 'mn', raw: 'min("value")', rollup: 'min("min")' }],
  max: [{ as: 'mx', raw: 'max("value")', rollup: 'max("max")' }],
};
type PartialName = 's' | 'c' | 'mn' | 'mx';
/** Every partial: what a cached rollup keeps, so one read serves every function. */
export const ALL_PARTIALS = [...PARTIALS.mean, ...PARTIALS.min, ...PARTIALS.max];

/** One window's partial aggregates of one group, as one part of a plan gave them (absent: not asked for). */
export interface PartialRow {
  group: string;
  /** Window start (epoch ms). */
  time: number;
  s?: number;
  c?: number;
  mn?: number;
  mx?: number;
}

/** The statement that reads one part's partials per window of `everyS` (and group). */
export function partialsStatement(
  quantity: string,
  f: SeriesFilter,
  part: PlanPart,
  a: {
    everyS: number;
    groupBy?: GroupBy | undefined;
    partials: ReadonlyArray<{ as: string; raw: string; rollup: string }>;
  },
): string {
  const rollup = part.source === 'raw' ? undefined : ROLLUP[part.source];
  const select = a.partials.map((p) => `${rollup ? p.rollup : p.raw} AS "${p.as}"`).join(', ');
  const from = rollup ? `${influxIdent(rollup.policy)}.${influxIdent(quantity)}` : influxIdent(quantity);
  const until = `time < ${influxString(new Date(part.to).toISOString())}`;
  const group = a.groupBy ? `, ${influxIdent(a.groupBy)}` : '';
  return `SELECT ${select} FROM ${from}${whereClause(f, part.from)} AND ${until} GROUP BY time(${a.everyS}s)${group} fill(none)`;
}

/** The rows of a {@link partialsStatement}'s answer. */
export function partialRows(series: readonly InfluxSeries[], groupBy: GroupBy | undefined): PartialRow[] {
  const out: PartialRow[] = [];
  for (const s of series) {
    const group = groupBy ? (s.tags?.[groupBy] ?? '') : '';
    const cols = (['s', 'c', 'mn', 'mx'] as const).map((as) => [as, s.columns.indexOf(as)] as const);
    for (const row of s.values) {
      const t = row[0];
      if (typeof t !== 'number') continue;
      const r: PartialRow = { group, time: t };
      for (const [as, i] of cols) {
        const v = i < 0 ? undefined : row[i];
        if (typeof v === 'number') r[as] = v;
      }
      out.push(r);
    }
  }
  return out;
}

/**
 * Windows of `everyS` over [from, to) answered by several sources (aggregate-plan.ts): one statement per part,
 * sent together, each giving per window the sums, counts, minima or maxima that the windows then combine — so a
 * daily mean is Σ sum / Σ count of all readings of the day, wherever they were read from. `cached` answers the
 * parts it can (daily rollups kept in memory, rollup-cache.ts) with rows of whole days.
 */
export async function queryAggregateParts(
  influx: InfluxQuery,
  quantity: string,
  f: SeriesFilter,
  a: {
    parts: readonly PlanPart[];
    everyS: number;
    fn: RollupFn;
    groupBy?: GroupBy;
    cached?: (part: PlanPart) => Promise<PartialRow[]> | undefined;
  },
): Promise<AggregateSeries[]> {
  const everyMs = a.everyS * 1000;
  const fromCache: Array<Promise<PartialRow[]>> = [];
  const statements: string[] = [];
  for (const part of a.parts) {
    const hit = a.cached?.(part);
    if (hit) fromCache.push(hit);
    else statements.push(partialsStatement(quantity, f, part, { ...a, partials: PARTIALS[a.fn] }));
  }
  const [cachedRows, results] = await Promise.all([
    Promise.all(fromCache),
    statements.length > 0 ? influx.query(statements.join('; ')) : Promise.resolve([]),
  ]);
  const windows = new Map<string, { group: string; time: number; s: number; c: number; mn: number; mx: number }>();
  const add = (r: PartialRow) => {
    // Cached rows are days; InfluxDB's windows are epoch-aligned like this, so its own times stay as they are.
    const time = windowStart(r.time, everyMs);
    const key = `${r.group}\n${time}`;
    const w = windows.get(key) ?? { group: r.group, time, s: 0, c: 0, mn: Infinity, mx: -Infinity };
    if (r.s !== undefined) w.s += r.s;
    if (r.c !== undefined) w.c += r.c;
    if (r.mn !== undefined) w.mn = Math.min(w.mn, r.mn);
    if (r.mx !== undefined) w.mx = Math.max(w.mx, r.mx);
    windows.set(key, w);
  };
  for (const series of results) for (const r of partialRows(series, a.groupBy)) add(r);
  for (const rows of cachedRows) for (const r of rows) add(r);
  const value: Record<RollupFn, (w: { s: number; c: number; mn: number; mx: number }) => number> = {
    mean: (w) => w.s / w.c,
    count: (w) => w.c,
    sum: (w) => w.s,
    min: (w) => w.mn,
    max: (w) => w.mx,
  };
  const byGroup = new Map<string, AggregateSeries>();
  for (const w of [...windows.values()].sort((x, y) => x.time - y.time)) {
    let series = byGroup.get(w.group);
    if (!series) {
      series = { group: a.groupBy ? { [a.groupBy]: w.group } : {}, points: [] };
      byGroup.set(w.group, series);
    }
    series.points.push({ time: new Date(w.time).toISOString(), value: value[a.fn](w) });
  }
  return [...byGroup.values()].sort((x, y) => JSON.stringify(x.group).localeCompare(JSON.stringify(y.group)));
}
