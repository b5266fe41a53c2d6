import type { Db } from './db.ts';

export interface AuditEntry {
  id: number;
  at: string;
  grantId: string;
  owner: string;
  /** null: an anonymous open-data read. */
  reader: string | null;
  keyId: string | null;
  route: string;
  query: Record<string, unknown>;
}

interface Row {
  id: number;
  at: Date;
  grant_id: string;
  owner_department: string;
  reader_department: string | null;
  key_id: string | null;
  route: string;
  query: Record<string, unknown>;
}

/** Append-only record of every read of one department's data by another (or the public) through a grant. */
export class AuditLog {
  constructor(private readonly db: Db) {}

  async record(e: Omit<AuditEntry, 'id' | 'at'>): Promise<void> {
    await this.db.query(
      `INSERT INTO audit_log (grant_id, owner_department, reader_department, key_id, route, query)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [e.grantId, e.owner, e.reader, e.keyId, e.route, JSON.stringify(e.query)],
    );
  }

  /** Newest first; `owner` undefined lists every department's (platform operators). */
  async list(owner: string | undefined, limit: number, before?: number): Promise<AuditEntry[]> {
    const rows = await this.db.query<Row>(
      `SELECT id, at, grant_id, owner_department, reader_department, key_id, route, query FROM audit_log
       WHERE ($1::text IS NULL OR owner_department = $1) AND ($2::bigint IS NULL OR id < $2)
       ORDER BY id DESC LIMIT $3`,
      [owner ?? null, before ?? null, limit],
    );
    return rows.map((r) => ({
      id: r.id,
      at: r.at.toISOString(),
      grantId: r.grant_id,
      owner: r.owner_department,
      reader: r.reader_department,
      keyId: r.key_id,
      route: r.route,
      query: r.query,
    }));
  }
}
