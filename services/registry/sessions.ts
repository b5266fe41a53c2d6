import type { Db } from './db.ts';
import { hashToken } from './secrets.ts';
import type { ApiKey, Scope } from './types.ts';

/** How many sessions the store keeps: per person (oldest ends first) and in all (oldest ends first). */
export interface SessionBounds {
  perPerson: number;
  total: number;
}

/** A session as opened: an API key's (re-checked on every use) or the principal an OpenID sign-in made. */
export type NewConsoleSession = { csrf: string; ttlMs: number } & (
  | { apiKeyId: string; principal?: undefined; role?: undefined }
  | { apiKeyId?: undefined; principal: ApiKey; role: string }
);

/** A live session: who it acts as (the key's current record, or the OpenID principal), its CSRF token and role. */
export interface ConsoleSession {
  key: ApiKey;
  csrf: string;
  role: string | null;
  via: 'api-key' | 'oidc';
  expiresAt: string;
}

/** A pending OpenID Connect sign-in: what the callback must find again. */
export interface PendingSignIn {
  verifier: string;
  nonce: string;
}

interface Row {
  csrf: string;
  role: string | null;
  principal: ApiKey | null;
  expires_at: Date;
  key_id: string | null;
  key_name: string | null;
  key_department: string | null;
  key_scopes: string[] | null;
  key_created_at: Date | null;
  key_revoked_at: Date | null;
}

/**
 * Web console sessions, shared by every API node through the registry. The cookie's session id is a 256-bit random
 * token: only its SHA-256 is stored (like API keys). Bounded three ways: each session expires, a person keeps at
 * most `perPerson` (their oldest ends first), the table at most `total`; housekeeping sweeps expired rows.
 */
export class ConsoleSessionStore {
  constructor(
    private readonly db: Db,
    private readonly bounds: SessionBounds = { perPerson: 20, total: 10_000 },
  ) {}

  async open(id: string, s: NewConsoleSession): Promise<void> {
    const person = s.apiKeyId ?? s.principal.id;
    await this.db.transaction(async (tx) => {
      await tx.query('DELETE FROM console_sessions WHERE person = $1 AND expires_at <= now()', [person]);
      await tx.query(
        `INSERT INTO console_sessions (id_hash, person, csrf, api_key_id, principal, role, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))`,
        [
          hashToken(id),
          person,
          s.csrf,
          s.apiKeyId ?? null,
          s.principal ? JSON.stringify(s.principal) : null,
          s.role ?? null,
          s.ttlMs / 1000,
        ],
      );
      await tx.query(
        `DELETE FROM console_sessions WHERE person = $1 AND seq <= (
           SELECT seq FROM console_sessions WHERE person = $1 ORDER BY seq DESC OFFSET $2 LIMIT 1)`,
        [person, this.bounds.perPerson],
      );
      await tx.query(
        `DELETE FROM console_sessions WHERE seq <= (
           SELECT seq FROM console_sessions ORDER BY seq DESC OFFSET $1 LIMIT 1)`,
        [this.bounds.total],
      );
    });
  }

  /** The live session of this id: unknown, expired and revoked-key sessions are all none. */
  async get(id: string | undefined): Promise<ConsoleSession | undefined> {
    if (id === undefined) return undefined;
    const [r] = await this.db.query<Row>(
      `SELECT s.csrf, s.role, s.principal, s.expires_at, k.id AS key_id, k.name AS key_name,
              k.department_id AS key_department, k.scopes AS key_scopes, k.created_at AS key_created_at,
              k.revoked_at AS key_revoked_at
       FROM console_sessions s LEFT JOIN api_keys k ON k.id = s.api_key_id
       WHERE s.id_hash = $1 AND s.expires_at > now()`,
      [hashToken(id)],
    );
    if (!r) return undefined;
    const expiresAt = r.expires_at.toISOString();
    if (r.principal) return { key: r.principal, csrf: r.csrf, role: r.role, via: 'oidc', expiresAt };
    if (r.key_id === null || r.key_revoked_at !== null) return undefined;
    const key: ApiKey = {
      id: r.key_id,
      name: r.key_name!,
      department: r.key_department,
      scopes: r.key_scopes as Scope[],
      createdAt: r.key_created_at!.toISOString(),
      revokedAt: null,
    };
    return { key, csrf: r.csrf, role: r.role, via: 'api-key', expiresAt };
  }

  async end(id: string): Promise<void> {
    await this.db.query('DELETE FROM console_sessions WHERE id_hash = $1', [hashToken(id)]);
  }

  /** Keeps a pending OpenID sign-in under its state (hashed), bounded in all like the sessions. */
  async begin(state: string, p: PendingSignIn, ttlMs: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('DELETE FROM oidc_sign_ins WHERE expires_at <= now()');
      await tx.query(
        `INSERT INTO oidc_sign_ins (state_hash, verifier, nonce, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))`,
        [hashToken(state), p.verifier, p.nonce, ttlMs / 1000],
      );
      await tx.query(
        `DELETE FROM oidc_sign_ins WHERE seq <= (SELECT seq FROM oidc_sign_ins ORDER BY seq DESC OFFSET $1 LIMIT 1)`,
        [this.bounds.total],
      );
    });
  }

  /** The pending sign-in of this state, used once: a second callback with the same state finds none. */
  async take(state: string): Promise<PendingSignIn | undefined> {
    const [r] = await this.db.query<{ verifier: string; nonce: string }>(
      'DELETE FROM oidc_sign_ins WHERE state_hash = $1 AND expires_at > now() RETURNING verifier, nonce',
      [hashToken(state)],
    );
    return r;
  }
}
