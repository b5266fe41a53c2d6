import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type Db, openDb } from '../../services/registry/index.ts';

/** Runs one statement on its own connection (creating and dropping test schemas). */
export async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** `url` with `options=-c search_path=<schema>` added, so every pooled connection starts in that schema. */
export function withSearchPath(url: string, schema: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}options=-c%20search_path%3D${schema}`;
}

/**
 * A registry database for a test file: on PostgreSQL (`url`) a fresh schema of a random name, else an in-memory
 * PGlite; `drop()` closes it and removes the schema.
 */
export async function openTestDb(url: string | undefined): Promise<{ db: Db; drop(): Promise<void> }> {
  if (!url) {
    const db = await openDb({ dataDir: 'memory://' });
    return { db, drop: () => db.close() };
  }
  const schema = `sus_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(url, `CREATE SCHEMA ${schema}`);
  const db = await openDb({ databaseUrl: withSearchPath(url, schema), dataDir: 'unused' });
  return {
    db,
    async drop() {
      await db.close();
      await adminQuery(url, `DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  };
}
