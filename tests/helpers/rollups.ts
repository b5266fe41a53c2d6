import type { Config } from '../../services/common/config.ts';
import type { InfluxQuery, InfluxSeries } from '../../services/common/influx.ts';
import { readingLine, tagSet } from '../../services/common/line-protocol.ts';
import { DAY_MS, HOUR_MS, ROLLUP, ROLLUP_TAGS, type RollupWindow, windowStart } from '../../services/common/rollups.ts';
import { InfluxLineSender } from '../../services/ingest/index.ts';

/** A stored reading as tests write it: the storage model's tags and value. */
export interface RawReading {
  q: string;
  device: string;
  department: string;
  district: string;
  type: string;
  value: number;
  time: number;
}

/** The fixture's devices: department environment, type air_quality. */
export const FIXTURE_DEVICES = [
  { id: 'aq-rollup-1', district: 'Nord' },
  { id: 'aq-rollup-2', district: 'Sued' },
] as const;

/**
 * Three whole days from `base` of 10-minute no2 and pm10 readings of the two fixture devices. Values are multiples
 * of 1/4, so every sum is exact in floating point and "equal" means equal.
 */
export function fixtureReadings(base: number): RawReading[] {
  const out: RawReading[] = [];
  for (const [d, dev] of FIXTURE_DEVICES.entries()) {
    for (const [k, q] of ['no2', 'pm10'].entries()) {
      for (let i = 0; i < 3 * 144; i++) {
        out.push({
          q,
          device: dev.id,
          department: 'environment',
          district: dev.district,
          type: 'air_quality',
          value: ((i * 7 + d * 13 + k * 5) % 83) * 0.25,
          time: base + i * 600_000 + d * 1000,
        });
      }
    }
  }
  return out;
}

/** Writes readings straight into InfluxDB with the ingest line builder (an import that bypassed ingest). */
export async function writeReadings(config: Config, readings: readonly RawReading[]): Promise<void> {
  const lines = readings.map((r) =>
    readingLine(
      r.q,
      tagSet({
        device: r.device,
        department: r.department,
        district: r.district,
        device_type: r.type,
        source: 'import',
      }),
      r.value,
      r.time,
    ),
  );
  const sender = new InfluxLineSender(config);
  for (let i = 0; i < lines.length; i += 5000) await sender.send(Buffer.from(lines.slice(i, i + 5000).join('\n')));
  sender.close();
}

/** One rollup point as compared in tests: its series, window and fields. */
export interface RollupRow {
  measurement: string;
  time: number;
  department: string;
  device: string;
  device_type: string;
  district: string;
  count: number;
  first: number;
  last: number;
  max: number;
  mean: number;
  min: number;
  sum: number;
}

const byKey = (a: RollupRow, b: RollupRow) =>
  a.measurement.localeCompare(b.measurement) || a.device.localeCompare(b.device) || a.time - b.time;

/** The rollups `readings` must produce, computed here from the readings themselves (the test's oracle). */
export function expectedRollups(readings: readonly RawReading[], window: RollupWindow): RollupRow[] {
  const ms = window === '1h' ? HOUR_MS : DAY_MS;
  const groups = new Map<string, RawReading[]>();
  for (const r of readings) {
    const key = [r.q, r.department, r.device, r.type, r.district, windowStart(r.time, ms)].join('|');
    const list = groups.get(key) ?? [];
    list.push(r);
    groups.set(key, list);
  }
  return [...groups.values()]
    .map((list) => {
      const sorted = [...list].sort((a, b) => a.time - b.time);
      const r = sorted[0]!;
      const sum = sorted.reduce((s, x) => s + x.value, 0);
      return {
        measurement: r.q,
        time: windowStart(r.time, ms),
        department: r.department,
        device: r.device,
        device_type: r.type,
        district: r.district,
        count: sorted.length,
        first: sorted[0]!.value,
        last: sorted.at(-1)!.value,
        max: Math.max(...sorted.map((x) => x.value)),
        mean: sum / sorted.length,
        min: Math.min(...sorted.map((x) => x.value)),
        sum,
      };
    })
    .sort(byKey);
}

/** Every rollup point of `window` in InfluxDB, in the order expectedRollups() uses. */
export async function storedRollups(
  influx: InfluxQuery,
  window: RollupWindow,
  measurements: readonly string[],
): Promise<RollupRow[]> {
  const from = measurements.map((m) => `"${ROLLUP[window].policy}"."${m}"`).join(', ');
  const [series = []] = await influx.query(`SELECT * FROM ${from}`);
  return series
    .flatMap((s: InfluxSeries) =>
      s.values.map((v) => {
        const at = (c: string) => v[s.columns.indexOf(c)];
        const row: Record<string, unknown> = { measurement: s.name, time: at('time') };
        for (const t of ROLLUP_TAGS) row[t] = at(t) ?? '';
        for (const f of ['count', 'first', 'last', 'max', 'mean', 'min', 'sum']) row[f] = at(f);
        return row as unknown as RollupRow;
      }),
    )
    .sort(byKey);
}

/** What /v1/readings/aggregate must answer for `readings`, computed from the readings (windows aligned to the epoch). */
export function expectedAggregate(
  readings: readonly RawReading[],
  a: {
    q: string;
    from: number;
    to: number;
    everyMs: number;
    fn: 'mean' | 'count' | 'sum' | 'min' | 'max';
    groupBy?: 'device';
  },
): Array<{ group: Record<string, string>; points: Array<{ time: string; value: number }> }> {
  const groups = new Map<string, Map<number, number[]>>();
  for (const r of readings) {
    if (r.q !== a.q || r.time < a.from || r.time >= a.to) continue;
    const g = a.groupBy ? r.device : '';
    const windows = groups.get(g) ?? new Map<number, number[]>();
    const w = windowStart(r.time, a.everyMs);
    windows.set(w, [...(windows.get(w) ?? []), r.value]);
    groups.set(g, windows);
  }
  const fn = {
    mean: (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length,
    count: (v: number[]) => v.length,
    sum: (v: number[]) => v.reduce((s, x) => s + x, 0),
    min: (v: number[]) => Math.min(...v),
    max: (v: number[]) => Math.max(...v),
  }[a.fn];
  return [...groups.entries()]
    .sort(([x], [y]) => x.localeCompare(y))
    .map(([g, windows]) => ({
      group: (a.groupBy ? { device: g } : {}) as Record<string, string>,
      points: [...windows.entries()]
        .sort(([x], [y]) => x - y)
        .map(([t, v]) => ({ time: new Date(t).toISOString(), value: fn(v) })),
    }));
}
