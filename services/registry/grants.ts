import { randomBytes } from 'node:crypto';
import { notFound } from '../common/errors.ts';
import type { Db } from './db.ts';

/** `public` as grantee shares the slice as open data, without a key. */
export const PUBLIC_GRANTEE = 'public';

export interface Grant {
  id: string;
  owner: string;
  grantee: string;
  title: string;
  purpose: string;
  licence: string | null;
  quantities: string[];
  /** null = every device type / district of the owner. */
  deviceTypes: string[] | null;
  districts: string[] | null;
  /** Optional window of reading times the grant covers. */
  from: string | null;
  to: string | null;
  /** Smallest aggregation window in seconds the grantee may ask for; null = raw readings allowed. */
  aggregationFloorS: number | null;
  updateIntervalS: number | null;
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
}

export type NewGrant = Omit<Grant, 'id' | 'createdAt' | 'revokedAt'> & { createdBy?: string | null };

/** A slice of an owner's data a read asks for; only the parts given are checked. */
export interface GrantSlice {
  /** Every one of them must be shared (an empty list is not covered: a shared read names its quantities). */
  quantities?: readonly string[];
  deviceType?: string;
  /** The device's district; null: the device has none. */
  district?: string | null;
  /** A reading's time (epoch ms). */
  time?: number;
  /** Raw readings (true) or aggregates of this window (everyS). */
  raw?: boolean;
  everyS?: number;
}

/** Why a grant does not cover a slice. */
export type GrantMismatch = 'quantity' | 'device type' | 'district' | 'window' | 'floor';

/**
 * The one rule of what a grant covers, for every route that reads through grants (latest, readings, aggregates,
 * stream, open data) and for the InfluxDB filters built from it. A device without a district is outside a grant
 * limited to districts: the owner shared the named districts, nothing else.
 */
export function grantMismatch(g: Grant, s: GrantSlice): GrantMismatch | undefined {
  if (s.quantities && (s.quantities.length === 0 || s.quantities.some((q) => !g.quantities.includes(q))))
    return 'quantity';
  if (s.deviceType !== undefined && g.deviceTypes && !g.deviceTypes.includes(s.deviceType)) return 'device type';
  if (s.district !== undefined && g.districts && (s.district === null || !g.districts.includes(s.district)))
    return 'district';
  if (s.time !== undefined && ((g.from && s.time < Date.parse(g.from)) || (g.to && s.time > Date.parse(g.to))))
    return 'window';
  if (g.aggregationFloorS !== null && (s.raw || (s.everyS !== undefined && s.everyS < g.aggregationFloorS)))
    return 'floor';
  return undefined;
}

export const grantCovers = (g: Grant, s: GrantSlice): boolean => grantMismatch(g, s) === undefined;

interface Row {
  id: string;
  owner_department: string;
  grantee: string;
  title: string;
  purpose: string;
  licence: string | null;
  quantities: string[];
  device_types: string[] | null;
  districts: string[] | null;
  window_from: Date | null;
  window_to: Date | null;
  aggregation_floor_s: number | null;
  update_interval_s: number | null;
  created_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

const toGrant = (r: Row): Grant => ({
  id: r.id,
  owner: r.owner_department,
  grantee: r.grantee,
  title: r.title,
  purpose: r.purpose,
  licence: r.licence,
  quantities: r.quantities,
  deviceTypes: r.device_types,
  districts: r.districts,
  from: iso(r.window_from),
  to: iso(r.window_to),
  aggregationFloorS: r.aggregation_floor_s,
  updateIntervalS: r.update_interval_s,
  createdAt: r.created_at.toISOString(),
  expiresAt: r.expires_at.toISOString(),
  revokedAt: iso(r.revoked_at),
});

const COLUMNS = `id, owner_department, grantee, title, purpose, licence, quantities, device_types, districts, window_from,
  window_to, aggregation_floor_s, update_interval_s, created_at, expires_at, revoked_at`;
const ACTIVE = 'revoked_at IS NULL AND expires_at > now()';

/** Grants: the data-trustee model's "department X may read this slice of department Y's data". */
export class GrantStore {
  constructor(
    private readonly db: Db,
    /** A grant was made or revoked: caches of what a department may read are stale. */
    private readonly changed: (id: string) => void = () => undefined,
  ) {}

  async create(g: NewGrant): Promise<Grant> {
    const [r] = await this.db.query<Row>(
      `INSERT INTO grants (id, owner_department, grantee, title, purpose, licence, quantities, device_types, districts,
         window_from, window_to, aggregation_floor_s, update_interval_s, created_by, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING ${COLUMNS}`,
      [
        `grant_${randomBytes(6).toString('hex')}`,
        g.owner,
        g.grantee,
        g.title,
        g.purpose,
        g.licence,
        g.quantities,
        g.deviceTypes,
        g.districts,
        g.from,
        g.to,
        g.aggregationFloorS,
        g.updateIntervalS,
        g.createdBy ?? null,
        g.expiresAt,
      ],
    );
    this.changed(r!.id);
    return toGrant(r!);
  }

  async get(id: string): Promise<Grant | undefined> {
    const [r] = await this.db.query<Row>(`SELECT ${COLUMNS} FROM grants WHERE id = $1`, [id]);
    return r && toGrant(r);
  }

  /** Grants a department gave or received (every grant for platform-wide keys). */
  async listFor(department: string | undefined): Promise<Grant[]> {
    const rows =
      department === undefined
        ? await this.db.query<Row>(`SELECT ${COLUMNS} FROM grants ORDER BY created_at, id`)
        : await this.db.query<Row>(
            `SELECT ${COLUMNS} FROM grants WHERE owner_department = $1 OR grantee = $1 ORDER BY created_at, id`,
            [department],
          );
    return rows.map(toGrant);
  }

  /** Active grants from `owner` to `grantee` or to the public. */
  async active(owner: string, grantee: string | null): Promise<Grant[]> {
    const rows = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM grants WHERE owner_department = $1 AND (grantee = $2 OR grantee = '${PUBLIC_GRANTEE}')
       AND ${ACTIVE} ORDER BY created_at, id`,
      [owner, grantee ?? PUBLIC_GRANTEE],
    );
    return rows.map(toGrant);
  }

  /** Every active grant to a grantee (for the live stream's filter). */
  async activeTo(grantee: string): Promise<Grant[]> {
    const rows = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM grants WHERE (grantee = $1 OR grantee = '${PUBLIC_GRANTEE}') AND ${ACTIVE}`,
      [grantee],
    );
    return rows.map(toGrant);
  }

  async publicDatasets(): Promise<Grant[]> {
    const rows = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM grants WHERE grantee = '${PUBLIC_GRANTEE}' AND ${ACTIVE} ORDER BY created_at, id`,
    );
    return rows.map(toGrant);
  }

  async revoke(id: string, owner: string | undefined): Promise<Grant> {
    const [r] = await this.db.query<Row>(
      `UPDATE grants SET revoked_at = COALESCE(revoked_at, now())
       WHERE id = $1 AND ($2::text IS NULL OR owner_department = $2) RETURNING ${COLUMNS}`,
      [id, owner ?? null],
    );
    if (!r) throw notFound('grant', id, 'SUS_ERR_GRANT_NOT_FOUND');
    this.changed(r.id);
    return toGrant(r);
  }
}
