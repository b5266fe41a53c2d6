import { readdirSync, readFileSync } from 'node:fs';
import type { Db, Queryable } from './db.ts';

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);
// Serialises migrations of processes starting at once (sus broker + sus api on one PostgreSQL).
const MIGRATION_LOCK = 0x5355_5301;

/** Applies `migrations/NNN_name.sql` in order, each in its own transaction; returns the versions applied now. */
export async function migrate(db: Db): Promise<number[]> {
  const lock = async (tx: Queryable) => {
    if (db.kind === 'postgres') await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
  };
  // Unbounded: the lock waits for another process's migrations, and DDL may rewrite a large table.
  const unbounded = { unbounded: true };
  await db.transaction(async (tx) => {
    await lock(tx);
    await tx.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
  }, unbounded);
  const files = readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d{3}_.+\.sql$/.test(f))
    .sort();
  const applied: number[] = [];
  for (const file of files) {
    const version = Number(file.slice(0, 3));
    const sql = readFileSync(new URL(file, MIGRATIONS_DIR), 'utf8');
    const done = await db.transaction(async (tx) => {
      await lock(tx);
      // Checked under the lock: another process may have applied it while this one waited.
      if ((await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [version])).length > 0) return false;
      // Statements one by one: the pg extended protocol (used for parameters) takes a single statement.
      for (const statement of splitSql(sql)) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version]);
      return true;
    }, unbounded);
    if (done) applied.push(version);
  }
  return applied;
}

function splitSql(sql: string): string[] {
  return sql
    .split(/;\s*$/m)
    .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
    .filter((s) => s.length > 0);
}
