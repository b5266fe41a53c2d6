import { randomBytes } from 'node:crypto';
import { notFound, SusError } from '../common/errors.ts';
import { type Db, sqlState } from './db.ts';
import { hashToken, newToken } from './secrets.ts';
import type { ApiKey, Scope } from './types.ts';

interface KeyRow {
  id: string;
  name: string;
  department_id: string | null;
  scopes: string[];
  created_at: Date;
  revoked_at: Date | null;
}

const KEY_COLUMNS = 'id, name, department_id, scopes, created_at, revoked_at';

const toKey = (r: KeyRow): ApiKey => ({
  id: r.id,
  name: r.name,
  department: r.department_id,
  scopes: r.scopes as Scope[],
  createdAt: r.created_at.toISOString(),
  revokedAt: r.revoked_at ? r.revoked_at.toISOString() : null,
});

const newKeyId = () => `key_${randomBytes(6).toString('hex')}`;

export interface NewApiKey {
  name: string;
  /** null: a platform-wide key. */
  department: string | null;
  scopes: Scope[];
}

/**
 * API keys: minted, registered, looked up, listed and revoked here and nowhere else. Only a key's SHA-256 hash is
 * stored; the token itself is shown once.
 */
export class KeyStore {
  constructor(
    private readonly db: Db,
    /** Told of every revocation, so the sessions a key opened (MQTT service accounts) can end at once. */
    private readonly onRevoked: (id: string) => void = () => {},
  ) {}

  async create(k: NewApiKey): Promise<{ key: string; record: ApiKey }> {
    const token = newToken('sus_');
    try {
      const [r] = await this.db.query<KeyRow>(
        `INSERT INTO api_keys (id, name, department_id, scopes, key_hash) VALUES ($1, $2, $3, $4, $5)
         RETURNING ${KEY_COLUMNS}`,
        [newKeyId(), k.name, k.department, k.scopes, hashToken(token)],
      );
      return { key: token, record: toKey(r!) };
    } catch (err) {
      if (sqlState(err) === '23503')
        throw new SusError('SUS_ERR_UNKNOWN_DEPARTMENT', `department '${k.department}' does not exist`, 400, {
          field: 'department',
        });
      throw err;
    }
  }

  /**
   * Registers a key the operator chose (SUS_ADMIN_KEY); idempotent for the same token. A revoked key stays revoked
   * (a restart with the same setting must not undo a revocation): the answer says so, the caller tells the operator.
   */
  async ensure(k: NewApiKey, token: string): Promise<'created' | 'active' | 'revoked'> {
    const hash = hashToken(token);
    const inserted = await this.db.query(
      `INSERT INTO api_keys (id, name, department_id, scopes, key_hash) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (key_hash) DO NOTHING RETURNING id`,
      [newKeyId(), k.name, k.department, k.scopes, hash],
    );
    if (inserted.length > 0) return 'created';
    const [r] = await this.db.query<{ revoked_at: Date | null }>(
      'SELECT revoked_at FROM api_keys WHERE key_hash = $1',
      [hash],
    );
    return r?.revoked_at ? 'revoked' : 'active';
  }

  /** Whether keys of this name exist: `active` when one is not revoked, `revoked` when all are. */
  async named(name: string): Promise<'active' | 'revoked' | 'none'> {
    const [r] = await this.db.query<{ active: boolean }>(
      'SELECT bool_or(revoked_at IS NULL) AS active FROM api_keys WHERE name = $1 HAVING count(*) > 0',
      [name],
    );
    return r === undefined ? 'none' : r.active ? 'active' : 'revoked';
  }

  /** Looks a presented key up by its hash (a unique index): the token itself is never stored. */
  async find(token: string): Promise<ApiKey | undefined> {
    const [r] = await this.db.query<KeyRow>(
      `SELECT ${KEY_COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`,
      [hashToken(token)],
    );
    return r && toKey(r);
  }

  /** `department` undefined lists every key; a department sees only its own keys. */
  async list(department?: string): Promise<ApiKey[]> {
    const rows =
      department === undefined
        ? await this.db.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys ORDER BY created_at, id`)
        : await this.db.query<KeyRow>(
            `SELECT ${KEY_COLUMNS} FROM api_keys WHERE department_id = $1 ORDER BY created_at, id`,
            [department],
          );
    return rows.map(toKey);
  }

  /** Revokes a key; a department may only revoke its own keys (another's is reported as absent). */
  async revoke(id: string, department?: string): Promise<ApiKey> {
    const [r] = await this.db.query<KeyRow>(
      `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now())
       WHERE id = $1 AND ($2::text IS NULL OR department_id = $2)
       RETURNING ${KEY_COLUMNS}`,
      [id, department ?? null],
    );
    if (!r) throw notFound('API key', id, 'SUS_ERR_KEY_NOT_FOUND');
    this.onRevoked(r.id);
    return toKey(r);
  }
}
