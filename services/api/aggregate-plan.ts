import {
  DAY_MS,
  ROLLUP,
  ROLLUP_FNS,
  type RollupFn,
  type RollupWindow,
  windowCeil,
  windowStart,
} from '../common/rollups.ts';
import type { RollupProgress } from '../registry/index.ts';

/** Where an aggregate's data comes from: raw readings or the hourly / daily rollups. */
export type AggregateSource = 'raw' | RollupWindow;

/** A stretch of the requested range and the data that answers it. */
export interface PlanPart {
  source: AggregateSource;
  from: number;
  to: number;
}

export interface AggregatePlan {
  /** The coarsest rollup used, or raw when none is. */
  source: AggregateSource;
  /** In time order, together exactly [from, to). */
  parts: PlanPart[];
}

/** What the rollups can answer for one quantity: how far each reaches, and the hours late readings made stale. */
export interface RollupCoverage {
  progress: Partial<Record<RollupWindow, RollupProgress>>;
  /** Hours (window starts, ascending) whose rollups wait for recomputation: raw readings answer them and their days. */
  staleHours: readonly number[];
}

export const isRollupFn = (fn: string): fn is RollupFn => (ROLLUP_FNS as readonly string[]).includes(fn);

/**
 * Which data answers an aggregate of [from, to) in windows of `everyS`: the daily rollups for whole days (when
 * `every` is a whole number of days), the hourly ones for whole hours, raw readings for the rest — the edges that
 * do not fill an hour, and what the rollups do not reach yet (the hour in progress, a catch-up behind). A window
 * of `every` may so be made of parts of several sources; they are combined from sums, counts, minima and maxima,
 * so the answer is the one the raw readings give. Medians and percentiles always read raw readings.
 */
export function planAggregate(
  a: { from: number; to: number; everyS: number; fn: string },
  coverage: RollupCoverage,
): AggregatePlan {
  const everyMs = a.everyS * 1000;
  const levels = isRollupFn(a.fn)
    ? (['1d', '1h'] as const).filter((w) => everyMs % ROLLUP[w].ms === 0 && coverage.progress[w] !== undefined)
    : [];
  const stale: Record<RollupWindow, readonly number[]> = {
    '1h': coverage.staleHours,
    '1d': [...new Set(coverage.staleHours.map((h) => windowStart(h, DAY_MS)))],
  };
  const parts = coalesce(cover(a.from, a.to, levels, coverage.progress, stale));
  const used = levels.find((w) => parts.some((p) => p.source === w));
  return { source: used ?? 'raw', parts };
}

function cover(
  from: number,
  to: number,
  levels: readonly RollupWindow[],
  progress: Partial<Record<RollupWindow, RollupProgress>>,
  stale: Record<RollupWindow, readonly number[]>,
): PlanPart[] {
  if (from >= to) return [];
  const [w, ...finer] = levels;
  if (w === undefined) return [{ source: 'raw', from, to }];
  const ms = ROLLUP[w].ms;
  // Before the rollups' first window there is nothing: they began with the oldest reading, and a late reading
  // older than that marks its hour stale (answered raw below) until a pass moves their beginning back. So only
  // how far they reach and the stale hours limit them.
  const start = windowCeil(from, ms);
  const end = Math.min(windowStart(to, ms), progress[w]!.doneUntil);
  if (end <= start) return cover(from, to, finer, progress, stale);
  const hole = stale[w].find((t) => t >= start && t < end);
  if (hole !== undefined)
    return [
      ...cover(from, hole, levels, progress, stale),
      ...cover(hole, hole + ms, finer, progress, stale),
      ...cover(hole + ms, to, levels, progress, stale),
    ];
  return [
    ...cover(from, start, finer, progress, stale),
    { source: w, from: start, to: end },
    ...cover(end, to, finer, progress, stale),
  ];
}

/** Adjacent parts of one source as one (a query each: neighbouring stale hours are one raw range). */
function coalesce(parts: PlanPart[]): PlanPart[] {
  const out: PlanPart[] = [];
  for (const p of parts) {
    const last = out.at(-1);
    if (last && last.source === p.source && last.to === p.from) last.to = p.to;
    else out.push({ ...p });
  }
  return out;
}
