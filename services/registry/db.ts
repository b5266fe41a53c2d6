import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

/** The SQL surface the registry needs; both PGlite (embedded) and PostgreSQL (pg.Pool) provide it. */
export interface Queryable {
  query<T extends object>(sql: string, params?: unknown[]): Promise<T[]>;
}

export interface Db extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  exec(sql: string): Promise<void>;
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

class PGliteDb implements Db {
  readonly kind = 'pglite';
  constructor(private readonly pglite: PGlite) {}
  async query<T extends object>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.pglite.query<T>(sql, params)).rows;
  }
  async exec(sql: string): Promise<void> {
    await this.pglite.exec(sql);
  }
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.pglite.transaction((tx) =>
      fn({
        query: async <R extends object>(sql: string, params: unknown[] = []) => (await tx.query<R>(sql, params)).rows,
      }),
    );
  }
  async close(): Promise<void> {
    if (!this.pglite.closed) await this.pglite.close();
  }
}

// int8 (bigserial ids, counts) as numbers: registry values stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

class PostgresDb implements Db {
  readonly kind = 'postgres';
  constructor(private readonly pool: pg.Pool) {}
  async query<T extends object>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.pool.query(sql, params)).rows as T[];
  }
  async exec(sql: string): Promise<void> {
    await this.pool.query(sql);
  }
  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn({
        query: async <R extends object>(sql: string, params: unknown[] = []) =>
          (await client.query(sql, params)).rows as R[],
      });
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }
  async close(): Promise<void> {
    await this.pool.end();
  }
}

export interface DbOptions {
  /** postgres:// URL; unset = embedded PGlite. */
  databaseUrl?: string;
  /** Directory for PGlite's files; `memory://` keeps it in memory (tests). */
  dataDir: string;
}

export async function openDb(opts: DbOptions): Promise<Db> {
  if (opts.databaseUrl) {
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: 10 });
    // A pool error (server restart) must not crash the process; the next query reports it.
    pool.on('error', () => undefined);
    const db = new PostgresDb(pool);
    await db.query('SELECT 1');
    return db;
  }
  if (opts.dataDir === 'memory://') return new PGliteDb(await PGlite.create());
  const dir = path.resolve(opts.dataDir, 'registry');
  mkdirSync(dir, { recursive: true });
  return new PGliteDb(await PGlite.create(dir));
}
