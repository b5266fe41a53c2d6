import type { RollupWindow } from '../common/rollups.ts';
import type { Queryable } from './db.ts';
import { SharedRead } from './shared-read.ts';

/** How far one rollup is computed: every window in [coveredFrom, doneUntil) exists (epoch ms). */
export interface RollupProgress {
  coveredFrom: number;
  doneUntil: number;
}

/** An hour whose rollups a late reading made stale, for one quantity (measurement). */
export interface DirtyMark {
  window: number;
  measurement: string;
}

/** A stored mark; `markedAt` (PostgreSQL's text form, microseconds) tells a later re-mark from this one. */
export interface DirtyRow extends DirtyMark {
  markedAt: string;
}

/** A quantity's stale hours (ascending, epoch ms) and its rollup generation. */
export interface Staleness {
  /** Shared by the callers of one read: not to be changed. */
  readonly staleHours: readonly number[];
  readonly generation: string;
}

// Shared stale-hour reads kept (quantity × limit).
const MAX_STALENESS_READS = 256;

/** The rollup engine's checkpoint and its dirty windows (tables of migrations/006_rollups.sql). */
export class RollupStore {
  constructor(private readonly db: Queryable) {}

  async progress(): Promise<Partial<Record<RollupWindow, RollupProgress>>> {
    const rows = await this.db.query<{ rollup: RollupWindow; covered_from: Date; done_until: Date }>(
      'SELECT rollup, covered_from, done_until FROM rollup_progress',
    );
    return Object.fromEntries(
      rows.map((r) => [r.rollup, { coveredFrom: r.covered_from.getTime(), doneUntil: r.done_until.getTime() }]),
    );
  }

  /** Starts a rollup at `at` unless it has started already; returns its progress either way. */
  async begin(rollup: RollupWindow, at: number): Promise<RollupProgress> {
    await this.db.query(
      `INSERT INTO rollup_progress (rollup, covered_from, done_until) VALUES ($1, $2, $2)
       ON CONFLICT (rollup) DO NOTHING`,
      [rollup, new Date(at)],
    );
    const p = (await this.progress())[rollup];
    if (!p) throw new Error(`rollup ${rollup} has no progress row`);
    return p;
  }

  /** Records that every window before `doneUntil` is computed (never moves back). */
  async advance(rollup: RollupWindow, doneUntil: number): Promise<void> {
    await this.db.query(
      `UPDATE rollup_progress SET done_until = GREATEST(done_until, $2), updated_at = now() WHERE rollup = $1`,
      [rollup, new Date(doneUntil)],
    );
  }

  /** Records that rollups exist from `from` on (a late reading older than the first computed window). */
  async cover(rollup: RollupWindow, from: number): Promise<void> {
    await this.db.query(
      `UPDATE rollup_progress SET covered_from = LEAST(covered_from, $2), updated_at = now() WHERE rollup = $1`,
      [rollup, new Date(from)],
    );
  }

  /** Marks hours dirty; marking one again refreshes its time, so a recomputation running meanwhile keeps it. */
  async markDirty(marks: readonly DirtyMark[]): Promise<void> {
    if (marks.length === 0) return;
    await this.db.query(
      `INSERT INTO rollup_dirty (window_start, measurement)
       SELECT * FROM unnest($1::timestamptz[], $2::text[])
       ON CONFLICT (window_start, measurement) DO UPDATE SET marked_at = clock_timestamp()`,
      [marks.map((m) => new Date(m.window)), marks.map((m) => m.measurement)],
    );
  }

  /** The oldest dirty hours first, at most `limit`. */
  async dirty(limit: number): Promise<DirtyRow[]> {
    const rows = await this.db.query<{ window_start: Date; measurement: string; marked_at: string }>(
      `SELECT window_start, measurement, marked_at::text AS marked_at FROM rollup_dirty
       ORDER BY window_start, measurement LIMIT $1`,
      [limit],
    );
    return rows.map((r) => ({ window: r.window_start.getTime(), measurement: r.measurement, markedAt: r.marked_at }));
  }

  /**
   * Removes marks that were not marked again since they were read, once their rollups were rewritten, and moves
   * their quantities' generation in the same statement: a reader that no longer sees a mark sees the new generation
   * too, so a cached rollup of the old data is never taken for the rewritten one (services/api/rollup-cache.ts).
   */
  async clearDirty(rows: readonly DirtyRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db.query(
      `WITH bump AS (
         INSERT INTO rollup_generation (measurement, generation) SELECT DISTINCT m, 1 FROM unnest($2::text[]) AS m
         ON CONFLICT (measurement) DO UPDATE SET generation = rollup_generation.generation + 1
       )
       DELETE FROM rollup_dirty d USING unnest($1::timestamptz[], $2::text[], $3::timestamptz[]) AS r(w, m, at)
       WHERE d.window_start = r.w AND d.measurement = r.m AND d.marked_at <= r.at`,
      [rows.map((r) => new Date(r.window)), rows.map((r) => r.measurement), rows.map((r) => r.markedAt)],
    );
  }

  /** The oldest hours of one quantity whose rollups are stale, ascending, at most `limit` (epoch ms). */
  async staleHours(measurement: string, limit: number): Promise<number[]> {
    return [...(await this.staleness(measurement, limit)).staleHours];
  }

  /**
   * The stale hours of one quantity (as {@link staleHours}) and its generation (see {@link clearDirty}; '0' before
   * any recomputation), read together in one statement: one round trip per aggregate, and a consistent pair. Read
   * on every aggregate, so callers share reads (shared-read.ts): on PGlite the pair is known without a query while
   * no statement was issued since, elsewhere the callers that arrive during a read share the next one.
   */
  staleness(measurement: string, limit: number): Promise<Staleness> {
    const key = `${measurement}\n${limit}`;
    let read = this.stalenessReads.get(key);
    if (!read) {
      read = new SharedRead(this.db, () => this.readStaleness(measurement, limit));
      // Keys are catalogue quantities (the API resolves them first) × the few limits callers use; bounded anyway.
      if (this.stalenessReads.size >= MAX_STALENESS_READS) this.stalenessReads.clear();
      this.stalenessReads.set(key, read);
    }
    return read.get();
  }

  private readonly stalenessReads = new Map<string, SharedRead<Staleness>>();

  private async readStaleness(measurement: string, limit: number): Promise<Staleness> {
    const rows = await this.db.query<{ hour: Date | null; generation: string }>(
      `SELECT NULL::timestamptz AS hour, COALESCE((SELECT generation FROM rollup_generation WHERE measurement = $1), 0)::text AS generation
       UNION ALL
       (SELECT window_start, NULL FROM rollup_dirty WHERE measurement = $1 ORDER BY window_start LIMIT $2)`,
      [measurement, limit],
    );
    let generation = '0';
    const staleHours: number[] = [];
    for (const r of rows) {
      if (r.hour === null) generation = r.generation;
      else staleHours.push(r.hour.getTime());
    }
    return { staleHours: staleHours.sort((a, b) => a - b), generation };
  }

  async dirtyCount(): Promise<number> {
    const [r] = await this.db.query<{ n: number }>('SELECT count(*)::int AS n FROM rollup_dirty');
    return r?.n ?? 0;
  }
}
