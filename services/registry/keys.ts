import { notFound } from '../common/errors.ts';
import type { Db } from './db.ts';
import type { ApiKey, Scope } from './types.ts';

/** Row and mapping shared with Registry's key creation and lookup. */
export interface KeyRow {
  id: string;
  name: string;
  department_id: string | null;
  scopes: string[];
  created_at: Date;
  revoked_at: Date | null;
}

export const toKey = (r: KeyRow): ApiKey => ({
  id: r.id,
  name: r.name,
  department: r.department_id,
  scopes: r.scopes as Scope[],
  createdAt: r.created_at.toISOString(),
  revokedAt: r.revoked_at ? r.revoked_at.toISOString() : null,
});

/** Listing and revoking API keys (creation lives in Registry.createApiKey: it owns the hashing). */
export class KeyStore {
  constructor(private readonly db: Db) {}

  /** `department` undefined lists every key; a department sees only its own keys. */
  async list(department?: string): Promise<ApiKey[]> {
    const rows =
      department === undefined
        ? await this.db.query<KeyRow>(
            'SELECT id, name, department_id, scopes, created_at, revoked_at FROM api_keys ORDER BY created_at, id',
          )
        : await this.db.query<KeyRow>(
            'SELECT id, name, department_id, scopes, created_at, revoked_at FROM api_keys WHERE department_id = $1 ORDER BY created_at, id',
            [department],
          );
    return rows.map(toKey);
  }

  /** Revokes a key; a department may only revoke its own keys (another's is reported as absent). */
  async revoke(id: string, department?: string): Promise<ApiKey> {
    const [r] = await this.db.query<KeyRow>(
      `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now())
       WHERE id = $1 AND ($2::text IS NULL OR department_id = $2)
       RETURNING id, name, department_id, scopes, created_at, revoked_at`,
      [id, department ?? null],
    );
    if (!r) throw notFound('API key', id, 'SUS_ERR_KEY_NOT_FOUND');
    return toKey(r);
  }
}
