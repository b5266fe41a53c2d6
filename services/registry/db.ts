import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { SusError } from '../common/errors.ts';

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Text from devices as PostgreSQL can store it: NUL (refused by text and jsonb) and lone surrogates (a JSON escape
 * such as "\ud800", refused by jsonb) become U+FFFD, so a hostile message still leaves a readable record.
 */
export function storableText(s: string): string {
  const noNul = s.includes('\u0000') ? s.replaceAll('\u0000', '\uFFFD') : s;
  LONE_SURROGATE.lastIndex = 0;
  return LONE_SURROGATE.test(noNul) ? noNul.replace(LONE_SURROGATE, '\uFFFD') : noNul;
}

/** The SQLSTATE of a database error (PGlite and PostgreSQL alike); undefined for any other error. */
export function sqlState(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err) || !('severity' in err)) return undefined;
  const code = (err as { code: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * The registry refusing a value of a request (SQLSTATE class 22 "data exception": encoding, length, number or
 * time out of range; 23 "integrity constraint"; 54 "program limit exceeded") as the coded 4xx it is. The grammars
 * of services/common/grammar.ts keep such values out; this is the safety net that keeps a gap in them from
 * answering 500. Outages and bugs (any other class) stay undefined: they are the server's fault.
 */
export function registryRefusal(err: unknown): SusError | undefined {
  const state = sqlState(err);
  if (state === undefined) return undefined;
  const kind = state.slice(0, 2);
  const context = { sqlState: state };
  if (kind === '22' || kind === '54') {
    const message = `the registry cannot store a value of this request (SQLSTATE ${state})`;
    return new SusError('SUS_ERR_INVALID_VALUE', message, 400, context);
  }
  if (kind === '23') {
    const message = `the request conflicts with the registry's data (SQLSTATE ${state})`;
    return new SusError('SUS_ERR_CONFLICT', message, 409, context);
  }
  return undefined;
}

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
