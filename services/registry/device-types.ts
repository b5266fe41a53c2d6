import { conflict } from '../common/errors.ts';
import type { Db } from './db.ts';

export interface DeviceType {
  id: string;
  name: string;
  description: string;
  /** Catalogue quantities a device of this type reports. */
  quantities: string[];
  /** How often a device of this type reports; "silent" means no data for k times this. */
  expectedIntervalS: number;
  /** Free-form profile (firmware, vendor, decoder hints). */
  profile: Record<string, unknown>;
  createdAt: string;
}

export type NewDeviceType = Omit<DeviceType, 'createdAt'>;

interface Row {
  id: string;
  name: string;
  description: string;
  quantities: string[];
  expected_interval_s: number;
  profile: Record<string, unknown>;
  created_at: Date;
}

const toType = (r: Row): DeviceType => ({
  id: r.id,
  name: r.name,
  description: r.description,
  quantities: r.quantities,
  expectedIntervalS: r.expected_interval_s,
  profile: r.profile,
  createdAt: r.created_at.toISOString(),
});

const COLUMNS = 'id, name, description, quantities, expected_interval_s, profile, created_at';

export class DeviceTypeStore {
  constructor(private readonly db: Db) {}

  async list(): Promise<DeviceType[]> {
    return (await this.db.query<Row>(`SELECT ${COLUMNS} FROM device_types ORDER BY id`)).map(toType);
  }

  async get(id: string): Promise<DeviceType | undefined> {
    const [r] = await this.db.query<Row>(`SELECT ${COLUMNS} FROM device_types WHERE id = $1`, [id]);
    return r && toType(r);
  }

  async create(t: NewDeviceType): Promise<DeviceType> {
    const rows = await this.db.query<Row>(
      `INSERT INTO device_types (id, name, description, quantities, expected_interval_s, profile)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING RETURNING ${COLUMNS}`,
      [t.id, t.name, t.description, t.quantities, t.expectedIntervalS, JSON.stringify(t.profile)],
    );
    if (!rows[0]) throw conflict(`device type '${t.id}' already exists`, 'SUS_ERR_DEVICE_TYPE_EXISTS', { id: t.id });
    return toType(rows[0]);
  }

  /** Expected interval per type id, for the silent-devices rule. */
  async intervals(): Promise<Map<string, number>> {
    const rows = await this.db.query<{ id: string; expected_interval_s: number }>(
      'SELECT id, expected_interval_s FROM device_types',
    );
    return new Map(rows.map((r) => [r.id, r.expected_interval_s]));
  }
}
