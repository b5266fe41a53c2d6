import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { SusError } from '../common/errors.ts';
import { within } from '../common/within.ts';
import { type PGliteModule, PreparedStatements } from './pglite-statements.ts';

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
  /**
   * Only where this process is the database's one client (PGlite: its files are locked to one process): how many
   * statements were issued through it so far. A value read is still current while no statement was issued after
   * the read, since only statements of this process can change it. Undefined where other processes write too.
   */
  statementsIssued?(): number;
}

export interface Db extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  exec(sql: string): Promise<void>;
  transaction<T>(fn: (tx: Queryable) => Promise<T>, opts?: CallOptions): Promise<T>;
  close(): Promise<void>;
}

class PGliteDb implements Db {
  readonly kind = 'pglite';
  private readonly statements: PreparedStatements;
  private issued = 0;
  constructor(
    private readonly pglite: PGlite,
    mod: PGliteModule,
  ) {
    this.statements = new PreparedStatements(pglite, mod);
  }
  statementsIssued(): number {
    return this.issued;
  }
  /** Outside a transaction: waits for one to end (PGlite's transaction mutex), synced to its files after. */
  query<T extends object>(sql: string, params: unknown[] = []): Promise<T[]> {
    this.issued++;
    return this.pglite._runExclusiveTransaction(() =>
      this.pglite._runExclusiveQuery(async () => {
        try {
          return await this.statements.query<T>(sql, params);
        } finally {
          await this.pglite.syncToFs();
        }
      }),
    );
  }
  async exec(sql: string): Promise<void> {
    this.issued++;
    await this.pglite.exec(sql);
  }
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    this.issued++;
    // PGlite's transaction holds its transaction mutex: statements inside take only the query mutex, as tx.query does.
    return this.pglite.transaction(() =>
      fn({
        query: <R extends object>(sql: string, params: unknown[] = []) => {
          this.issued++;
          return this.pglite._runExclusiveQuery(() => this.statements.query<R>(sql, params));
        },
      }),
    );
  }
  async close(): Promise<void> {
    if (!this.pglite.closed) await this.pglite.close();
  }
}

// int8 (bigserial ids, counts) as numbers: registry values stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/**
 * PostgreSQL errors that say the server or the way to it failed, not the statement: class 08 (connection
 * exception), 53 (insufficient resources), 57P01–57P05 (shut down, cannot connect now, idle session timeout) and
 * 57014 (canceled: statement_timeout).
 */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P0|57014)/;

/** Whether `err` is the registry being unreachable, slow or gone (503, try again) rather than a fault of the statement. */
function unreachable(err: unknown): boolean {
  if (err instanceof SusError) return err.code === 'SUS_ERR_REGISTRY_UNAVAILABLE';
  const state = sqlState(err);
  if (state !== undefined) return UNAVAILABLE_SQLSTATE.test(state);
  const e = err as { code?: unknown; message?: unknown };
  // A socket's errno (ECONNREFUSED, ECONNRESET, ETIMEDOUT…).
  if (typeof e.code === 'string') return /^E[A-Z]+$/.test(e.code);
  // pg's own failures carry no code: connect and query timeouts, a connection that ended under a query.
  return typeof e.message === 'string' && /timeout|terminated|Connection ended|not queryable/i.test(e.message);
}

/** An unreachable registry whose connection cannot be trusted again (no answer, or it ended); not a server's error. */
const broken = (err: unknown) => unreachable(err) && !(err instanceof pg.DatabaseError);

/**
 * SUS_ERR_REGISTRY_UNAVAILABLE. A driver's or server's own error (the server's address, its user) travels as the
 * cause, which the API logs and never answers.
 */
function unavailable(why: string | Error): SusError {
  const err = new SusError(
    'SUS_ERR_REGISTRY_UNAVAILABLE',
    typeof why === 'string'
      ? `the registry (PostgreSQL) is unavailable: ${why}; try again`
      : 'the registry (PostgreSQL) is unavailable; try again',
    503,
  );
  if (why instanceof Error) err.cause = { error: why.message };
  return err;
}

/** How long one registry call may take, and how many may wait for a connection (see SUS_REGISTRY_*). */
export interface DbBounds {
  timeoutMs: number;
  maxWaiting: number;
  idleMs: number;
}

export const DEFAULT_DB_BOUNDS: DbBounds = { timeoutMs: 10_000, maxWaiting: 1000, idleMs: 30_000 };

/** `unbounded` lifts the statement bound (migrations wait for another process's lock and may rewrite tables). */
export interface CallOptions {
  unbounded?: boolean;
}

/** setTimeout's longest delay: pg reads 0 as "use the connection's query_timeout", so "no bound" is this. */
const NO_TIMEOUT_MS = 2 ** 31 - 1;

class PostgresDb implements Db {
  readonly kind = 'postgres';
  constructor(
    private readonly pool: pg.Pool,
    private readonly bounds: DbBounds,
  ) {}

  /** One statement, answered within the bound, waiting for a connection included. */
  query<T extends object>(sql: string, params: unknown[] = []): Promise<T[]> {
    const { timeoutMs } = this.bounds;
    const work = this.withClient(async (client) => (await client.query(sql, params)).rows as T[]);
    return within(work, timeoutMs, () => unavailable(`no answer within ${timeoutMs} ms`));
  }

  async exec(sql: string): Promise<void> {
    await this.query(sql);
  }

  /**
   * Bounded per step, not as a whole: the connection within the bound, then each statement (pg's
   * connectionTimeoutMillis and query_timeout) — a bulk import of 10,000 devices takes longer than one lookup, but
   * never stands still longer than the bound.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, opts: CallOptions = {}): Promise<T> {
    const config = opts.unbounded ? { query_timeout: NO_TIMEOUT_MS } : {};
    return this.withClient(async (client) => {
      const run = async <R extends object>(text: string, values: unknown[] = []) =>
        (await client.query({ text, values, ...config })).rows as R[];
      await run('BEGIN');
      try {
        if (opts.unbounded) await run('SET LOCAL statement_timeout = 0');
        const result = await fn({ query: run });
        await run('COMMIT');
        return result;
      } catch (err) {
        // A connection that stopped answering would hold the ROLLBACK as long; it is discarded instead.
        if (!broken(err)) await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /**
   * `fn` on a pooled connection. A registry that hangs (frozen, its connections black-holed) or is gone fails the
   * call with SUS_ERR_REGISTRY_UNAVAILABLE (503: try again) rather than holding a login, request or acknowledgement
   * for the kernel's TCP timeout; a connection that stopped answering is discarded, never pooled again.
   */
  private async withClient<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const { maxWaiting } = this.bounds;
    if (this.pool.waitingCount >= maxWaiting) {
      throw unavailable(`${maxWaiting} statements already wait for a connection`);
    }
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw unavailable(err as Error);
    }
    let failed: Error | undefined;
    try {
      return await fn(client);
    } catch (err) {
      if (broken(err)) failed = err as Error;
      if (unreachable(err) && !(err instanceof SusError)) throw unavailable(err as Error);
      throw err;
    } finally {
      // With an error the pool ends the connection (destroying its socket when a statement is still out).
      client.release(failed ?? connectionErrors.get(client));
    }
  }
}

/** Connections the server or network ended: released with the error, so the pool discards them. */
const connectionErrors = new WeakMap<pg.PoolClient, Error>();

export interface DbOptions {
  /** postgres:// URL; unset = embedded PGlite. */
  databaseUrl?: string;
  /** Directory for PGlite's files; `memory://` keeps it in memory (tests). */
  dataDir: string;
  /** PostgreSQL only (PGlite runs in this process: nothing between it and the caller can hang). */
  bounds?: Partial<DbBounds>;
}

/** PostgreSQL connections per process. */
export const POOL_SIZE = 10;

const definedOnly = <T extends object>(o: T | undefined): Partial<T> =>
  Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;

export async function openDb(opts: DbOptions): Promise<Db> {
  if (opts.databaseUrl) {
    const bounds = { ...DEFAULT_DB_BOUNDS, ...definedOnly(opts.bounds) };
    const pool = new pg.Pool({
      connectionString: opts.databaseUrl,
      max: POOL_SIZE,
      // A new connection and each statement end after the bound: a call that gave up waiting must not leave its
      // connection stuck behind a server or network that does not answer (it is discarded, see withClient).
      connectionTimeoutMillis: bounds.timeoutMs,
      query_timeout: bounds.timeoutMs,
      // Server side too, so a statement the caller gave up on stops holding locks and CPU there.
      statement_timeout: bounds.timeoutMs,
      idleTimeoutMillis: bounds.idleMs,
      // TCP keepalive finds a connection whose peer vanished (no FIN, no RST) while it sits idle in the pool.
      keepAlive: true,
    });
    // A pool error (server restart) must not crash the process; the next query reports it.
    pool.on('error', () => undefined);
    // Every connection has a listener from its first moment on: pg-pool takes its own off a client it hands out, and
    // a server that ends connections (shutdown, 57P01) before withClient could attach one made an 'error' without a
    // listener, which ends the process. The error is kept so the client is discarded when it comes back.
    pool.on('connect', (client) => client.on('error', (err) => connectionErrors.set(client, err)));
    const db = new PostgresDb(pool, bounds);
    try {
      await db.query('SELECT 1');
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
    return db;
  }
  // Loaded only for the embedded registry: its module alone is ~40 MB of RSS that a node on PostgreSQL never needs
  // (bench:broker, memory by phase).
  const mod = await import('@electric-sql/pglite');
  if (opts.dataDir === 'memory://') return new PGliteDb(await mod.PGlite.create(), mod);
  const dir = path.resolve(opts.dataDir, 'registry');
  mkdirSync(dir, { recursive: true });
  return new PGliteDb(await mod.PGlite.create(dir), mod);
}
