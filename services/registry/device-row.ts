import type { Device } from './types.ts';

/** A row of `devices` as PostgreSQL returns it (the registry's device queries and its entity pages). */
export interface DeviceRow {
  id: string;
  name: string;
  department_id: string;
  type: string;
  district: string | null;
  lat: number | null;
  lon: number | null;
  secret_hash: string;
  created_at: Date;
  last_seen_at: Date | null;
}

export const DEVICE_COLUMNS =
  'id, name, department_id, type, district, lat, lon, secret_hash, created_at, last_seen_at';

export const toDevice = (r: Omit<DeviceRow, 'secret_hash'>): Device => ({
  id: r.id,
  name: r.name,
  department: r.department_id,
  type: r.type,
  district: r.district,
  lat: r.lat,
  lon: r.lon,
  createdAt: r.created_at.toISOString(),
  lastSeenAt: r.last_seen_at ? r.last_seen_at.toISOString() : null,
});
