import { SusError } from '../common/errors.ts';
import { type Db, sqlState } from './db.ts';
import { hashToken, newToken } from './secrets.ts';

export interface NewClaim {
  department: string;
  type: string;
  name?: string | null;
  district?: string | null;
  lat?: number | null;
  lon?: number | null;
  ttlS: number;
  createdBy?: string | null;
}

export interface Claim {
  department: string;
  type: string;
  name: string | null;
  district: string | null;
  lat: number | null;
  lon: number | null;
  expiresAt: string;
}

interface Row {
  department_id: string;
  type: string;
  name: string | null;
  district: string | null;
  lat: number | null;
  lon: number | null;
  expires_at: Date;
}

const toClaim = (r: Row): Claim => ({
  department: r.department_id,
  type: r.type,
  name: r.name,
  district: r.district,
  lat: r.lat,
  lon: r.lon,
  expiresAt: r.expires_at.toISOString(),
});

const RETURNING = 'RETURNING department_id, type, name, district, lat, lon, expires_at';

/** One-time, expiring claim codes: only their hash is stored, like every other secret. */
export class ClaimStore {
  constructor(private readonly db: Db) {}

  /**
   * Makes a code, unless the department already holds `maxOpen` unused, unexpired ones (409 SUS_ERR_CLAIM_LIMIT):
   * the table is bounded per department. Unused codes that expired are deleted on the way (a used code stays: it
   * records which device it provisioned).
   */
  async create(c: NewClaim, maxOpen: number): Promise<{ code: string; claim: Claim }> {
    const code = newToken('claim_');
    let rows: Row[];
    try {
      await this.db.query(
        'DELETE FROM claim_codes WHERE department_id = $1 AND used_at IS NULL AND expires_at <= now()',
        [c.department],
      );
      rows = await this.db.query<Row>(
        `INSERT INTO claim_codes (code_hash, department_id, type, name, district, lat, lon, created_by, expires_at)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(secs => $9)
         WHERE (SELECT count(*) FROM claim_codes WHERE department_id = $2 AND used_at IS NULL) < $10
         ${RETURNING}`,
        [
          hashToken(code),
          c.department,
          c.type,
          c.name ?? null,
          c.district ?? null,
          c.lat ?? null,
          c.lon ?? null,
          c.createdBy ?? null,
          c.ttlS,
          maxOpen,
        ],
      );
    } catch (err) {
      if (sqlState(err) === '23503')
        throw new SusError('SUS_ERR_UNKNOWN_DEPARTMENT', `department '${c.department}' does not exist`, 400, {
          field: 'department',
        });
      throw err;
    }
    const [r] = rows;
    if (!r)
      throw new SusError(
        'SUS_ERR_CLAIM_LIMIT',
        `department '${c.department}' holds ${maxOpen} unused claim codes, the most it may (SUS_CLAIM_MAX_OPEN): use them or let them expire`,
        409,
        { limit: maxOpen },
      );
    return { code, claim: toClaim(r) };
  }

  /** Marks the code used and returns its claim; a used, expired or unknown code is one and the same error. */
  async redeem(code: string): Promise<Claim> {
    const [r] = await this.db.query<Row>(
      `UPDATE claim_codes SET used_at = now() WHERE code_hash = $1 AND used_at IS NULL AND expires_at > now() ${RETURNING}`,
      [hashToken(code)],
    );
    if (!r) throw new SusError('SUS_ERR_CLAIM_INVALID', 'the claim code is unknown, already used or expired', 400);
    return toClaim(r);
  }

  async bind(code: string, deviceId: string): Promise<void> {
    await this.db.query('UPDATE claim_codes SET device_id = $2 WHERE code_hash = $1', [hashToken(code), deviceId]);
  }

  /** Gives the code back when provisioning failed after redeeming it. */
  async release(code: string): Promise<void> {
    await this.db.query('UPDATE claim_codes SET used_at = NULL WHERE code_hash = $1 AND device_id IS NULL', [
      hashToken(code),
    ]);
  }
}
