import { describe, expect, it } from 'vitest';
import { HOUR_MS } from '../../../services/common/rollups.ts';
import { lateWindows } from '../../../services/ingest/rollups/dirty.ts';
import { runs } from '../../../services/ingest/rollups/engine.ts';
import { dailyQuery, hourlyQuery, rollupLines } from '../../../services/ingest/rollups/queries.ts';
import { parseInfluxDuration, policyStatement, shardDuration } from '../../../services/ingest/rollups/retention.ts';

const T0 = Date.UTC(2026, 0, 5, 0, 0, 0);

describe('rollup queries and lines', () => {
  it('reads the hours of every quantity grouped by the tags the API filters on', () => {
    expect(hourlyQuery(['no2', 'pm10'], T0, T0 + 2 * HOUR_MS)).toBe(
      'SELECT count("value") AS "count", first("value") AS "first", last("value") AS "last", max("value") AS "max", ' +
        'min("value") AS "min", sum("value") AS "sum" FROM "no2", "pm10" ' +
        "WHERE time >= '2026-01-05T00:00:00.000Z' AND time < '2026-01-05T02:00:00.000Z' " +
        'GROUP BY time(1h), "department", "device", "device_type", "district" fill(none)',
    );
  });

  it('builds days from the hourly rollups: counts and sums add up', () => {
    expect(dailyQuery(['pm10'], T0, T0 + 24 * HOUR_MS)).toBe(
      'SELECT sum("count") AS "count", first("first") AS "first", last("last") AS "last", max("max") AS "max", ' +
        'min("min") AS "min", sum("sum") AS "sum" FROM "rollup_1h"."pm10" ' +
        "WHERE time >= '2026-01-05T00:00:00.000Z' AND time < '2026-01-06T00:00:00.000Z' " +
        'GROUP BY time(1d), "department", "device", "device_type", "district" fill(none)',
    );
  });

  it('writes count as an integer, floats with a decimal point, mean = sum / count, empty tags left out', () => {
    const lines = rollupLines([
      {
        name: 'pm10',
        tags: { department: 'environment', device: 'aq 1', device_type: 'air_quality', district: '' },
        columns: ['time', 'count', 'first', 'last', 'max', 'min', 'sum'],
        values: [
          [T0, 3, 2, 4, 4, 1, 7],
          [T0 + HOUR_MS, 1, 0.5, 0.5, 0.5, 0.5, 0.5],
          [T0 + 2 * HOUR_MS, 0, null, null, null, null, null],
        ],
      },
    ]);
    expect(lines).toStrictEqual([
      `pm10,department=environment,device=aq\\ 1,device_type=air_quality count=3i,first=2.0,last=4.0,max=4.0,mean=2.3333333333333335,min=1.0,sum=7.0 ${T0}`,
      `pm10,department=environment,device=aq\\ 1,device_type=air_quality count=1i,first=0.5,last=0.5,max=0.5,mean=0.5,min=0.5,sum=0.5 ${T0 + HOUR_MS}`,
    ]);
  });

  it('joins contiguous dirty windows into runs of at most `max`, with the union of their quantities', () => {
    const windows = new Map([
      [T0 + 3 * HOUR_MS, new Set(['pm10'])],
      [T0, new Set(['no2'])],
      [T0 + HOUR_MS, new Set(['pm10'])],
      [T0 + 2 * HOUR_MS, new Set(['o3'])],
      [T0 + 7 * HOUR_MS, new Set(['no2'])],
    ]);
    expect(runs(windows, HOUR_MS, 3)).toStrictEqual([
      { from: T0, to: T0 + 3 * HOUR_MS, measurements: ['no2', 'o3', 'pm10'] },
      { from: T0 + 3 * HOUR_MS, to: T0 + 4 * HOUR_MS, measurements: ['pm10'] },
      { from: T0 + 7 * HOUR_MS, to: T0 + 8 * HOUR_MS, measurements: ['no2'] },
    ]);
  });
});

describe('dirty windows of a written batch', () => {
  const now = T0 + 10 * HOUR_MS + 60_000;
  const body = Buffer.from(
    [
      // An hour that ended before the settle time: dirty.
      `pm10,device=a,department=environment value=1.0 ${T0 + 8 * HOUR_MS + 5}`,
      `pm10,device=b value=2.0,flags="time_replaced" ${T0 + 8 * HOUR_MS + 9}`,
      // The hour that just ended is within the settle time (2 min): its first rollup still takes it.
      `no2,device=a value=3.0 ${T0 + 9 * HOUR_MS + 30}`,
      // Not a quantity of the catalogue: presence and self-metrics have no rollups.
      `device_status,device=a online=1i ${T0}`,
      `o3,device=a value=4.0 ${T0 + 2 * HOUR_MS}`,
      'o3,device=a value=4.0 not-a-time',
    ].join('\n'),
  );

  it('marks the hour and quantity of each reading from an hour rolled up already', () => {
    expect([...lateWindows(body, new Set(['pm10', 'no2', 'o3']), now, 120_000).values()]).toStrictEqual([
      { window: T0 + 8 * HOUR_MS, measurement: 'pm10' },
      { window: T0 + 2 * HOUR_MS, measurement: 'o3' },
    ]);
  });

  it('marks the hour that just ended once the settle time has passed', () => {
    const later = T0 + 10 * HOUR_MS + 121_000;
    expect([...lateWindows(body, new Set(['no2']), later, 120_000).keys()]).toStrictEqual([`${T0 + 9 * HOUR_MS}|no2`]);
  });
});

describe('retention policies', () => {
  it('reads InfluxDB 1.x durations', () => {
    expect([parseInfluxDuration('0s'), parseInfluxDuration('168h0m0s'), parseInfluxDuration('1h30m0s')]).toStrictEqual([
      0,
      7 * 24 * HOUR_MS,
      1.5 * HOUR_MS,
    ]);
  });

  it('creates a missing policy, alters one of another duration and leaves a matching one alone', () => {
    expect(policyStatement('sus', 'rollup_1h', 1830, undefined)).toBe(
      'CREATE RETENTION POLICY "rollup_1h" ON "sus" DURATION 1830d REPLICATION 1 SHARD DURATION 7d',
    );
    expect(policyStatement('sus', 'autogen', 30, { name: 'autogen', durationMs: 0, isDefault: true })).toBe(
      'ALTER RETENTION POLICY "autogen" ON "sus" DURATION 30d REPLICATION 1 SHARD DURATION 1d',
    );
    expect(policyStatement('sus', 'rollup_1d', 0, { name: 'rollup_1d', durationMs: 0, isDefault: false })).toBe(
      undefined,
    );
    expect(
      policyStatement('sus', 'autogen', 0, { name: 'autogen', durationMs: 30 * 24 * HOUR_MS, isDefault: true }),
    ).toBe('ALTER RETENTION POLICY "autogen" ON "sus" DURATION INF REPLICATION 1 SHARD DURATION 7d');
  });

  it("follows InfluxDB's shard-group advice", () => {
    expect([1, 2, 183, 184, 0].map(shardDuration)).toStrictEqual(['1h', '1d', '1d', '7d', '7d']);
  });
});
