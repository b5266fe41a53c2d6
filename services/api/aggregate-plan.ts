import { ROLLUP, ROLLUP_FNS, type RollupFn, type RollupWindow, windowCeil, windowStart } from '../common/rollups.ts';
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
  coverage: Partial<Record<RollupWindow, RollupProgress>>,
): AggregatePlan {
  const everyMs = a.everyS * 1000;
  const levels = isRollupFn(a.fn)
    ? (['1d', '1h'] as const).filter((w) => everyMs % ROLLUP[w].ms === 0 && coverage[w] !== undefined)
    : [];
  const parts = cover(a.from, a.to, levels, coverage);
  const used = levels.find((w) => parts.some((p) => p.source === w));
  return { source: used ?? 'raw', parts };
}

function cover(
  from: number,
  to: number,
  levels: readonly RollupWindow[],
  coverage: Partial<Record<RollupWindow, RollupProgress>>,
): PlanPart[] {
  if (from >= to) return [];
  const [w, ...finer] = levels;
  if (w === undefined) return [{ source: 'raw', from, to }];
  const ms = ROLLUP[w].ms;
  const c = coverage[w]!;
  // Before the rollups' first window there is nothing: they began with the oldest reading (and a late reading
  // older than that moves their beginning back). So only how far they reach limits them.
  const start = windowCeil(from, ms);
  const end = Math.min(windowStart(to, ms), c.doneUntil);
  if (end <= start) return cover(from, to, finer, coverage);
  return [
    ...cover(from, start, finer, coverage),
    { source: w, from: start, to: end },
    ...cover(end, to, finer, coverage),
  ];
}
