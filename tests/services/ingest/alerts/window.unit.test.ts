import { describe, expect, it } from 'vitest';
import type { Rule } from '../../../../services/common/rules.ts';
import { windowQueries, windowValues } from '../../../../services/ingest/alerts/window.ts';

const rule = {
  quantity: 'pm10',
  scope: { department: 'environment', device: null, type: 'air_quality', district: "Nord'x" },
  window: { seconds: 86_400, aggregate: 'mean' },
} as unknown as Rule;

describe('window rule queries', () => {
  it('reads the rollups up to their checkpoint and the raw readings after it, by device', () => {
    const now = Date.parse('2026-12-01T10:30:00Z');
    expect(windowQueries(rule, now, Date.parse('2026-12-01T09:00:00Z'))).toBe(
      'SELECT sum("sum") AS "sum", sum("count") AS "count", min("min") AS "min", max("max") AS "max" FROM "rollup_1h"."pm10" ' +
        `WHERE "department" = 'environment' AND "device_type" = 'air_quality' AND "district" = 'Nord\\'x' ` +
        "AND time >= '2026-11-30T10:00:00.000Z' AND time < '2026-12-01T09:00:00.000Z' GROUP BY \"device\"; " +
        'SELECT sum("value") AS "sum", count("value") AS "count", min("value") AS "min", max("value") AS "max" FROM "pm10" ' +
        `WHERE "department" = 'environment' AND "device_type" = 'air_quality' AND "district" = 'Nord\\'x' ` +
        "AND time >= '2026-12-01T09:00:00.000Z' AND time <= '2026-12-01T10:30:00.000Z' GROUP BY \"device\"",
    );
  });

  it('combines the parts: mean is Σ sum / Σ count, never a mean of means', () => {
    const columns = ['time', 'sum', 'count', 'min', 'max'];
    const answers = [
      [{ name: 'pm10', columns, tags: { device: 'a' }, values: [[0, 100, 4, 10, 40]] }],
      [{ name: 'pm10', columns, tags: { device: 'a' }, values: [[0, 60, 1, 60, 60]] }],
    ];
    expect([...windowValues(answers, 'mean')]).toStrictEqual([['a', 32]]);
    expect([...windowValues(answers, 'max')]).toStrictEqual([['a', 60]]);
    expect([...windowValues(answers, 'count')]).toStrictEqual([['a', 5]]);
  });
});
