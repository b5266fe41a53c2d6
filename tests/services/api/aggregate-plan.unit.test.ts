import { describe, expect, it } from 'vitest';
import { planAggregate } from '../../../services/api/aggregate-plan.ts';
import { DAY_MS, HOUR_MS } from '../../../services/common/rollups.ts';

const D0 = Date.UTC(2026, 2, 1);
// Hourly rollups reach 10:00 of the fourth day, daily ones the end of the third.
const progress = {
  '1h': { coveredFrom: D0, doneUntil: D0 + 3 * DAY_MS + 10 * HOUR_MS },
  '1d': { coveredFrom: D0, doneUntil: D0 + 3 * DAY_MS },
};
const coverage = { progress, staleHours: [] };

describe('aggregate source plan', () => {
  it('answers whole days from daily rollups, the edges from hourly ones and the rest from raw readings', () => {
    const from = D0 + 5 * HOUR_MS + 30 * 60_000;
    const to = D0 + 3 * DAY_MS + 12 * HOUR_MS;
    expect(planAggregate({ from, to, everyS: 86400, fn: 'mean' }, coverage)).toStrictEqual({
      source: '1d',
      parts: [
        { source: 'raw', from, to: D0 + 6 * HOUR_MS },
        { source: '1h', from: D0 + 6 * HOUR_MS, to: D0 + DAY_MS },
        { source: '1d', from: D0 + DAY_MS, to: D0 + 3 * DAY_MS },
        { source: '1h', from: D0 + 3 * DAY_MS, to: D0 + 3 * DAY_MS + 10 * HOUR_MS },
        { source: 'raw', from: D0 + 3 * DAY_MS + 10 * HOUR_MS, to },
      ],
    });
  });

  it('uses hourly rollups for windows of whole hours, and treats the time before their first window as empty', () => {
    const from = D0 - 30 * DAY_MS;
    const to = D0 + 2 * DAY_MS;
    expect(planAggregate({ from, to, everyS: 7200, fn: 'max' }, coverage)).toStrictEqual({
      source: '1h',
      parts: [{ source: '1h', from, to }],
    });
  });

  it('reads raw readings for medians, percentiles, windows that are not whole hours, and without rollups', () => {
    const a = { from: D0, to: D0 + DAY_MS };
    const raw = { source: 'raw', parts: [{ source: 'raw', ...a }] };
    expect(planAggregate({ ...a, everyS: 3600, fn: 'median' }, coverage)).toStrictEqual(raw);
    expect(planAggregate({ ...a, everyS: 1800, fn: 'mean' }, coverage)).toStrictEqual(raw);
    expect(planAggregate({ ...a, everyS: 86400, fn: 'mean' }, { progress: {}, staleHours: [] })).toStrictEqual(raw);
    // Rollups that do not reach the range yet: raw.
    const later = { from: D0 + 5 * DAY_MS, to: D0 + 6 * DAY_MS };
    expect(planAggregate({ ...later, everyS: 3600, fn: 'sum' }, coverage)).toStrictEqual({
      source: 'raw',
      parts: [{ source: 'raw', ...later }],
    });
  });

  it('answers the hours late readings made stale, and their days, from raw readings until they are recomputed', () => {
    // Two stale hours on the second day, one before the rollups' first window (a backfill).
    const stale = [D0 - 5 * DAY_MS, D0 + DAY_MS + 3 * HOUR_MS, D0 + DAY_MS + 4 * HOUR_MS];
    const from = D0 - 6 * DAY_MS;
    const to = D0 + 3 * DAY_MS;
    expect(planAggregate({ from, to, everyS: 86400, fn: 'sum' }, { progress, staleHours: stale })).toStrictEqual({
      source: '1d',
      parts: [
        { source: '1d', from, to: D0 - 5 * DAY_MS },
        { source: 'raw', from: D0 - 5 * DAY_MS, to: D0 - 5 * DAY_MS + HOUR_MS },
        { source: '1h', from: D0 - 5 * DAY_MS + HOUR_MS, to: D0 - 4 * DAY_MS },
        { source: '1d', from: D0 - 4 * DAY_MS, to: D0 + DAY_MS },
        { source: '1h', from: D0 + DAY_MS, to: D0 + DAY_MS + 3 * HOUR_MS },
        { source: 'raw', from: D0 + DAY_MS + 3 * HOUR_MS, to: D0 + DAY_MS + 5 * HOUR_MS },
        { source: '1h', from: D0 + DAY_MS + 5 * HOUR_MS, to: D0 + 2 * DAY_MS },
        { source: '1d', from: D0 + 2 * DAY_MS, to },
      ],
    });
  });
});
