import type { InfluxQuery } from '../common/influx.ts';
import { DAY_MS } from '../common/rollups.ts';
import type { PlanPart } from './aggregate-plan.ts';
import {
  ALL_PARTIALS,
  type GroupBy,
  type PartialRow,
  partialRows,
  partialsStatement,
  type SeriesFilter,
} from './readings-query.ts';

/** Bounds of one API node's cache: a department's year of daily points grouped by device is 50 × 365 rows. */
export interface DailyCacheBounds {
  /** Distinct reads (quantity × access filter × grouping) kept. */
  entries: number;
  /** Day rows kept over all entries (~100 bytes each). */
  rows: number;
}

const DEFAULT_BOUNDS: DailyCacheBounds = { entries: 256, rows: 500_000 };
// Days loaded per InfluxDB statement at most: a miss of a year is one request of a few statements, not 365.
const MAX_RUN_DAYS = 366;

interface Entry {
  key: string;
  /** The quantity's generation the days were read under (a decimal number). */
  generation: number;
  /** Loaded days (day start → its rows, one per group; empty: no data that day). */
  days: Map<number, PartialRow[]>;
  rows: number;
  /** The load under way, which the next reader waits for before it looks for what is still missing. */
  loading: Promise<void> | undefined;
}

/**
 * Daily rollup points (their sums, counts, minima and maxima per day and group) as an API node read them, so the
 * days of a year of daily means are read from InfluxDB once, not on every request — InfluxDB 1.6 needs ~60–350 ms
 * for a year of 50 devices' daily rollups, which a polling dashboard would otherwise pay each time
 * (docs/decisions/0002-daily-rollup-cache.md). Keyed by quantity, the access filter the API already narrowed
 * (department, grant's device types and districts, device) and the grouping, so a read only ever gets rows its own
 * filter selected. Closed days change only when the rollup engine rewrites them after late readings: it moves the
 * quantity's generation as it clears their dirty marks (RollupStore.clearDirty), and an entry read under an older
 * generation is dropped. Days still marked stale are never asked for here: the aggregate plan reads them raw.
 */
export class DailyRollupCache {
  private readonly entries = new Map<string, Entry>();
  private rows = 0;

  constructor(
    private readonly influx: Pick<InfluxQuery, 'query'>,
    private readonly bounds: DailyCacheBounds = DEFAULT_BOUNDS,
  ) {}

  /**
   * Rows of the days of a daily-rollup part [from, to) (whole days the rollups reach, none of them stale) for
   * `filter`, loading the days not held yet.
   */
  async read(
    quantity: string,
    filter: SeriesFilter,
    groupBy: GroupBy | undefined,
    part: PlanPart,
    generation: string,
  ): Promise<PartialRow[]> {
    const key = JSON.stringify([quantity, filter, groupBy ?? null]);
    const gen = Number(generation);
    let entry = this.entries.get(key);
    if (entry && entry.generation > gen) {
      // This request read the generation before the rollups were rewritten: its own read, kept by nobody.
      entry = { key, generation: gen, days: new Map(), rows: 0, loading: undefined };
      await this.load(entry, quantity, filter, groupBy, missingRuns(entry.days, part.from, part.to));
      return collect(entry.days, part.from, part.to);
    }
    if (entry && entry.generation < gen) this.drop(key);
    if (!entry || entry.generation < gen) {
      entry = { key, generation: gen, days: new Map(), rows: 0, loading: undefined };
    } else this.entries.delete(key); // Most recently used last: eviction takes the oldest.
    this.entries.set(key, entry);
    for (;;) {
      while (entry.loading) await entry.loading;
      const missing = missingRuns(entry.days, part.from, part.to);
      if (missing.length === 0 || !this.holds(entry)) break;
      const load = this.load(entry, quantity, filter, groupBy, missing);
      entry.loading = load;
      try {
        await load;
      } finally {
        if (entry.loading === load) entry.loading = undefined;
      }
    }
    // An entry dropped meanwhile (evicted, or a newer generation) still answers the read it was loaded for.
    if (missingRuns(entry.days, part.from, part.to).length > 0)
      await this.load(entry, quantity, filter, groupBy, missingRuns(entry.days, part.from, part.to));
    return collect(entry.days, part.from, part.to);
  }

  private async load(
    entry: Entry,
    quantity: string,
    filter: SeriesFilter,
    groupBy: GroupBy | undefined,
    runs: ReadonlyArray<{ from: number; to: number }>,
  ): Promise<void> {
    const statements = runs.map((r) =>
      partialsStatement(
        quantity,
        filter,
        { source: '1d', from: r.from, to: r.to },
        { everyS: DAY_MS / 1000, groupBy, partials: ALL_PARTIALS },
      ),
    );
    const results = await this.influx.query(statements.join('; '));
    const loaded = new Map<number, PartialRow[]>();
    for (const r of runs) for (let d = r.from; d < r.to; d += DAY_MS) loaded.set(d, []);
    let added = 0;
    for (const series of results) {
      for (const row of partialRows(series, groupBy)) {
        const day = loaded.get(row.time);
        if (!day) continue;
        day.push(row);
        added++;
      }
    }
    for (const [d, rows] of loaded) if (!entry.days.has(d)) entry.days.set(d, rows);
    entry.rows += added;
    if (!this.holds(entry)) return;
    this.rows += added;
    this.evict(entry);
  }

  private holds(entry: Entry): boolean {
    return this.entries.get(entry.key) === entry;
  }

  /** The least recently used entries go until both bounds hold; one larger than the row bound alone goes too. */
  private evict(latest: Entry): void {
    for (const [k, e] of this.entries) {
      if (this.rows <= this.bounds.rows && this.entries.size <= this.bounds.entries) return;
      if (e !== latest) this.drop(k);
    }
    if (this.rows > this.bounds.rows) this.drop(latest.key);
  }

  private drop(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.rows -= e.rows;
    this.entries.delete(key);
  }

  /** Entries and day rows held (tests). */
  get size(): { entries: number; rows: number } {
    return { entries: this.entries.size, rows: this.rows };
  }
}

/** Contiguous runs of days in [from, to) not loaded yet, each at most MAX_RUN_DAYS. */
function missingRuns(
  days: ReadonlyMap<number, unknown>,
  from: number,
  to: number,
): Array<{ from: number; to: number }> {
  const runs: Array<{ from: number; to: number }> = [];
  for (let d = from; d < to; d += DAY_MS) {
    if (days.has(d)) continue;
    const last = runs.at(-1);
    if (last && last.to === d && (last.to - last.from) / DAY_MS < MAX_RUN_DAYS) last.to = d + DAY_MS;
    else runs.push({ from: d, to: d + DAY_MS });
  }
  return runs;
}

function collect(days: ReadonlyMap<number, PartialRow[]>, from: number, to: number): PartialRow[] {
  const out: PartialRow[] = [];
  for (let d = from; d < to; d += DAY_MS) {
    const rows = days.get(d);
    if (rows) for (const r of rows) out.push(r);
  }
  return out;
}
