import { EventEmitter } from 'node:events';
import type { InfluxQuery } from '../../common/influx.ts';
import type { Logger } from '../../common/logger.ts';
import { DAY_MS, HOUR_MS, ROLLUP, type RollupWindow, windowStart } from '../../common/rollups.ts';
import type { DirtyRow, RollupProgress, RollupStore } from '../../registry/index.ts';
import type { LineSender } from '../writer.ts';
import { oldestQuery, rollupLines, rollupQuery } from './queries.ts';

export interface RollupEngineOptions {
  /** The catalogue's quantities (measurements). */
  measurements: readonly string[];
  /** How long after an hour ends it is rolled up (SUS_ROLLUP_SETTLE_S); later arrivals mark it dirty. */
  settleMs: number;
  /** Raw readings older than this may be gone: their hours are never recomputed (0: kept forever). */
  rawRetentionMs: number;
  /** Hourly rollups older than this may be gone: their days are never recomputed (0: kept forever). */
  hourlyRetentionMs: number;
  /** Lines per InfluxDB write. */
  writeBatch: number;
  /** Rows one rollup query should answer with at most; the windows per query adapt to it. */
  targetRows?: number;
  /** Dirty hours taken per round. */
  dirtyBatch?: number;
}

/** Windows per query at most: a week of hours, a month of days. */
const MAX_SPAN: Record<RollupWindow, number> = { '1h': 7 * 24, '1d': 31 };
/** Dirty hours recomputed per query: contiguous runs up to a day. */
const DIRTY_SPAN = 24;

export interface RollupStats {
  /** Rollup points written. */
  points: number;
  /** Windows computed (catch-up and recomputation). */
  windows: number;
  /** Dirty hours recomputed. */
  recomputed: number;
}

/**
 * Computes the hourly and daily rollups (services/common/rollups.ts) by the platform itself, the same on InfluxDB
 * 1.x, 2.x and 3.x: closed windows are read with InfluxQL over `/query`, and the rollup points written through the
 * writer (InfluxLineSender) into the rollups' retention policies. Recomputing a window writes the same points with
 * the same timestamps, which InfluxDB overwrites: no duplicates. Progress is checkpointed in the registry
 * (rollup_progress) after each write, so a restart, or a day of downtime, continues where it stopped.
 */
export class RollupEngine extends EventEmitter<{ progress: [RollupWindow, number] }> {
  readonly stats: RollupStats = { points: 0, windows: 0, recomputed: 0 };
  /** Progress as last read or written; undefined before the first pass. */
  progress: Partial<Record<RollupWindow, RollupProgress>> = {};
  private readonly span: Record<RollupWindow, number> = { '1h': 24, '1d': 7 };
  private halted = false;
  private lastLog = 0;
  private readonly catchingUp = new Set<RollupWindow>();

  constructor(
    private readonly deps: {
      influx: InfluxQuery;
      senders: Record<RollupWindow, LineSender>;
      store: RollupStore;
      log: Logger;
      options: RollupEngineOptions;
    },
  ) {
    super();
  }

  /** Ends a running pass after the window it is writing (its checkpoint stays consistent). */
  halt(): void {
    this.halted = true;
  }

  resume(): void {
    this.halted = false;
  }

  /** Closed hours not rolled up yet. */
  behind(now = Date.now()): number {
    const done = this.progress['1h']?.doneUntil;
    if (done === undefined) return 0;
    return Math.max(0, (this.closedHoursUntil(now) - done) / HOUR_MS);
  }

  /** One pass: the closed windows not computed yet, then the dirty ones. */
  async runOnce(now = Date.now()): Promise<void> {
    await this.begin(now);
    await this.catchUp('1h', this.closedHoursUntil(now));
    await this.catchUp('1d', windowStart(this.progress['1h']!.doneUntil, DAY_MS));
    await this.recomputeDirty(now);
  }

  private closedHoursUntil(now: number): number {
    return windowStart(now - this.deps.options.settleMs, HOUR_MS);
  }

  /** Reads the checkpoint; a first start begins with the oldest reading (within the hourly rollups' retention). */
  private async begin(now: number): Promise<void> {
    const { store, options } = this.deps;
    this.progress = await store.progress();
    if (this.progress['1h'] && this.progress['1d']) return;
    if (!this.progress['1h']) {
      const [series = []] = await this.deps.influx.query(oldestQuery(options.measurements));
      const times = series.map((s) => s.values[0]?.[0]).filter((t): t is number => typeof t === 'number');
      let start = windowStart(times.length > 0 ? Math.min(...times) : now, HOUR_MS);
      if (options.hourlyRetentionMs > 0) start = Math.max(start, windowStart(now - options.hourlyRetentionMs, HOUR_MS));
      start = Math.min(start, this.closedHoursUntil(now));
      this.progress['1h'] = await store.begin('1h', start);
      this.deps.log.info({ from: new Date(start).toISOString() }, 'rollups begin with the oldest reading');
    }
    this.progress['1d'] = await store.begin('1d', windowStart(this.progress['1h'].coveredFrom, DAY_MS));
  }

  private async catchUp(window: RollupWindow, until: number): Promise<void> {
    const { store } = this.deps;
    const ms = ROLLUP[window].ms;
    let p = this.progress[window]!;
    while (p.doneUntil < until && !this.halted) {
      const end = Math.min(until, p.doneUntil + this.span[window] * ms);
      await this.compute(window, this.deps.options.measurements, p.doneUntil, end);
      await store.advance(window, end);
      p = { ...p, doneUntil: end };
      this.progress[window] = p;
      this.emit('progress', window, end);
      this.logProgress(window, end, until);
    }
  }

  /** Computes and writes the `window` rollups of [from, to); returns the points written. */
  private async compute(window: RollupWindow, measurements: readonly string[], from: number, to: number) {
    const { influx, senders, options } = this.deps;
    const [series = []] = await influx.query(rollupQuery(window, measurements, from, to), 'POST');
    const lines = rollupLines(series);
    for (let i = 0; i < lines.length; i += options.writeBatch) {
      await senders[window].send(Buffer.from(lines.slice(i, i + options.writeBatch).join('\n')));
    }
    const windows = (to - from) / ROLLUP[window].ms;
    // Windows per query follow the data's density: a sparse year goes a week per query, a dense fleet an hour.
    const perWindow = lines.length / windows;
    const target = options.targetRows ?? 20_000;
    this.span[window] = Math.max(
      1,
      Math.min(MAX_SPAN[window], perWindow > 0 ? Math.floor(target / perWindow) : MAX_SPAN[window]),
    );
    this.stats.points += lines.length;
    this.stats.windows += windows;
    return lines.length;
  }

  /**
   * Recomputes the hours late readings made stale (rollup_dirty), then their days. Hours the catch-up has not
   * reached are left to it; hours whose raw readings may be gone, and days whose hourly rollups may be gone, keep
   * their rollups as they are: a recomputation from part of the data would be wrong.
   */
  private async recomputeDirty(now: number): Promise<void> {
    const { store, options } = this.deps;
    const batch = options.dirtyBatch ?? 1000;
    const rawFloor = options.rawRetentionMs > 0 ? now - options.rawRetentionMs : -Infinity;
    const hourlyFloor = options.hourlyRetentionMs > 0 ? now - options.hourlyRetentionMs : -Infinity;
    while (!this.halted) {
      const rows = await store.dirty(batch);
      if (rows.length === 0) return;
      const hourly = this.progress['1h']!;
      const daily = this.progress['1d']!;
      const hours = groupByWindow(rows.filter((r) => r.window < hourly.doneUntil && r.window >= rawFloor));
      for (const run of runs(hours, HOUR_MS, DIRTY_SPAN)) {
        await this.compute('1h', run.measurements, run.from, run.to);
        if (run.from < hourly.coveredFrom) await store.cover('1h', run.from);
      }
      const days = new Map<number, Set<string>>();
      for (const [hour, ms] of hours) {
        const day = windowStart(hour, DAY_MS);
        if (day >= daily.doneUntil || day < hourlyFloor) continue;
        const set = days.get(day) ?? new Set<string>();
        for (const m of ms) set.add(m);
        days.set(day, set);
      }
      for (const run of runs(days, DAY_MS, MAX_SPAN['1d'])) {
        await this.compute('1d', run.measurements, run.from, run.to);
        if (run.from < daily.coveredFrom) await store.cover('1d', run.from);
      }
      await store.clearDirty(rows);
      this.stats.recomputed += hours.size;
      if (hours.size > 0) {
        this.deps.log.info({ hours: hours.size, days: days.size }, 'rollups recomputed for late readings');
      }
      if (rows.length < batch) return;
    }
  }

  /** A progress line every 10 s while more than one window is behind, and one when it has caught up. */
  private logProgress(window: RollupWindow, doneUntil: number, until: number): void {
    const t = Date.now();
    const behind = (until - doneUntil) / ROLLUP[window].ms;
    const line = {
      rollup: window,
      doneUntil: new Date(doneUntil).toISOString(),
      windowsBehind: behind,
      points: this.stats.points,
    };
    if (behind === 0) {
      if (this.catchingUp.delete(window)) this.deps.log.info(line, 'rollups caught up');
      return;
    }
    if (behind <= 1 || t - this.lastLog < 10_000) return;
    this.lastLog = t;
    this.catchingUp.add(window);
    this.deps.log.info(line, 'rollups catching up');
  }
}

const groupByWindow = (rows: readonly DirtyRow[]): Map<number, Set<string>> => {
  const out = new Map<number, Set<string>>();
  for (const r of rows) {
    const set = out.get(r.window) ?? new Set<string>();
    set.add(r.measurement);
    out.set(r.window, set);
  }
  return out;
};

/** Contiguous windows joined into runs of at most `max`, each with the union of its quantities. */
export function runs(
  windows: ReadonlyMap<number, ReadonlySet<string>>,
  ms: number,
  max: number,
): Array<{ from: number; to: number; measurements: string[] }> {
  const out: Array<{ from: number; to: number; measurements: Set<string> }> = [];
  for (const w of [...windows.keys()].sort((a, b) => a - b)) {
    const last = out.at(-1);
    if (last && last.to === w && (last.to - last.from) / ms < max) {
      last.to = w + ms;
      for (const m of windows.get(w)!) last.measurements.add(m);
    } else out.push({ from: w, to: w + ms, measurements: new Set(windows.get(w)) });
  }
  return out.map((r) => ({ ...r, measurements: [...r.measurements].sort() }));
}
