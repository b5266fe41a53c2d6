import type { Reading } from '../common/reading.ts';
import type { Queryable } from './db.ts';
import { SharedRead } from './shared-read.ts';

/** The newest reading of one device × quantity: a reading as ingest accepted it, flags and all. */
export type LatestValue = Reading;

/** Which latest values a read wants; the caller has already narrowed devices by access rights (access.ts). */
export interface LatestSelection {
  quantities: string[];
  /** One department's devices; undefined: every department (platform-wide keys). */
  department?: string;
  /** Only these devices (a named device, a bounding box). */
  devices?: string[];
  /** Only values at or after this time (a grant's window start). */
  from?: number;
}

interface Row {
  device_id: string;
  quantity: string;
  value: number;
  unit: string;
  time_ms: string | number;
  flags: string | null;
}

const key = (v: LatestValue) => `${v.device}\u0000${v.quantity}`;

/** The newest of each device × quantity: one statement must not update a row twice. */
export function newestPerSeries(values: readonly LatestValue[]): LatestValue[] {
  const newest = new Map<string, LatestValue>();
  for (const v of values) {
    const k = key(v);
    const had = newest.get(k);
    if (!had || had.time <= v.time) newest.set(k, v);
  }
  return [...newest.values()];
}

/**
 * The latest-value store in the registry (PGlite or PostgreSQL): one row per device × quantity, written in batches
 * by ingest and read by every API node. A write only wins when its time is not older than the stored one, so a late
 * backlog never hides a newer value; an equal time wins, as a rewritten point does in InfluxDB.
 */
export class LatestValueStore {
  private readonly versionRead: SharedRead<string>;

  constructor(private readonly db: Queryable) {
    this.versionRead = new SharedRead(db, async () => {
      const [r] = await db.query<{ v: string }>(
        'SELECT CASE WHEN is_called THEN last_value ELSE 0 END::text AS v FROM latest_version',
      );
      return r?.v ?? '0';
    });
  }

  /** Upserts the values (newest per series wins); returns how many rows changed. Unregistered devices are skipped. */
  async upsert(values: readonly LatestValue[]): Promise<number> {
    if (values.length === 0) return 0;
    const batch = newestPerSeries(values);
    const cols: [string[], string[], number[], string[], string[], Array<string | null>] = [[], [], [], [], [], []];
    for (const v of batch) {
      cols[0].push(v.device);
      cols[1].push(v.quantity);
      cols[2].push(v.value);
      cols[3].push(v.unit);
      // bigint as text: JavaScript numbers past 2^53 never occur for ms times, but pg sends numbers as float8.
      cols[4].push(String(Math.trunc(v.time)));
      cols[5].push(v.flags && v.flags.length > 0 ? v.flags.join(',') : null);
    }
    // One statement for the whole batch (unnest of column arrays), the join skipping ids the registry does not hold.
    const changed = await this.db.query<{ device_id: string }>(
      `INSERT INTO latest_values (device_id, quantity, value, unit, time_ms, flags)
       SELECT u.device_id, u.quantity, u.value, u.unit, u.time_ms, u.flags
         FROM unnest($1::text[], $2::text[], $3::float8[], $4::text[], $5::bigint[], $6::text[])
              AS u(device_id, quantity, value, unit, time_ms, flags)
         JOIN devices d ON d.id = u.device_id
       ON CONFLICT (device_id, quantity) DO UPDATE
         SET value = EXCLUDED.value, unit = EXCLUDED.unit, time_ms = EXCLUDED.time_ms, flags = EXCLUDED.flags
         WHERE latest_values.time_ms <= EXCLUDED.time_ms
       RETURNING device_id`,
      cols,
    );
    if (changed.length > 0) await this.db.query("SELECT nextval('latest_version')");
    return changed.length;
  }

  /**
   * What cached answers were built from: it moves whenever a value or a device's department, type, district or
   * location changed. One row read, shared by every node of one registry, and by the callers of this process that
   * ask at once (shared-read.ts; on PGlite known without a query while no statement was issued).
   */
  version(): Promise<string> {
    return this.versionRead.get();
  }

  /** The selected values, by device and quantity. */
  async read(s: LatestSelection): Promise<LatestValue[]> {
    if (s.quantities.length === 0 || s.devices?.length === 0) return [];
    const where = ['l.quantity = ANY($1::text[])'];
    const params: unknown[] = [s.quantities];
    if (s.department !== undefined) {
      params.push(s.department);
      where.push(`d.department_id = $${params.length}`);
    }
    if (s.devices !== undefined) {
      params.push(s.devices);
      where.push(`l.device_id = ANY($${params.length}::text[])`);
    }
    if (s.from !== undefined) {
      params.push(String(Math.trunc(s.from)));
      where.push(`l.time_ms >= $${params.length}::bigint`);
    }
    const join = s.department !== undefined ? ' JOIN devices d ON d.id = l.device_id' : '';
    const rows = await this.db.query<Row>(
      `SELECT l.device_id, l.quantity, l.value, l.unit, l.time_ms, l.flags FROM latest_values l${join}
        WHERE ${where.join(' AND ')}`,
      params,
    );
    return rows.map((r) => {
      const v: LatestValue = {
        device: r.device_id,
        quantity: r.quantity,
        value: r.value,
        unit: r.unit,
        time: Number(r.time_ms),
      };
      if (r.flags) v.flags = r.flags.split(',');
      return v;
    });
  }

  async isEmpty(): Promise<boolean> {
    return (await this.db.query('SELECT 1 FROM latest_values LIMIT 1')).length === 0;
  }
}
