import type { InfluxQuery, InfluxSeries } from '../../services/common/influx.ts';
import { DAY_MS, HOUR_MS, ROLLUP, ROLLUP_TAGS, type RollupWindow, windowStart } from '../../services/common/rollups.ts';

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
