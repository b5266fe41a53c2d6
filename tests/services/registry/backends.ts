import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import { SusError } from '../../../services/common/errors.ts';
import { type Db, migrate, openDb, Registry } from '../../../services/registry/index.ts';
import { adminQuery, withSearchPath } from '../../helpers/pg.ts';

/**
 * The registry must behave identically on embedded PGlite and on a real PostgreSQL: every store's tests run on both.
 * PostgreSQL runs get a fresh schema (random name, dropped afterwards) selected through the connection string, so
 * they never see or leave data in the shared test database.
 */
export interface Backend {
  name: 'PGlite' | 'PostgreSQL';
  url: string | undefined;
}

export const BACKENDS: Backend[] = [
  { name: 'PGlite', url: undefined },
  { name: 'PostgreSQL', url: process.env.TEST_DATABASE_URL },
];

if (!process.env.TEST_DATABASE_URL) {
  console.warn('TEST_DATABASE_URL is unset: PostgreSQL registry tests skipped; npm test starts a local PostgreSQL');
}

/** Whether a backend cannot run here (PostgreSQL without TEST_DATABASE_URL). */
export const unavailable = (backend: Backend): boolean => backend.name === 'PostgreSQL' && !backend.url;

export interface RegistryUnderTest {
  readonly db: Db;
  readonly registry: Registry;
  /** The private PostgreSQL schema (undefined on PGlite). */
  readonly schema: string | undefined;
  /** What the first migrate() applied. */
  readonly firstMigration: number[];
}

/**
 * Opens and migrates a registry on `backend` for the enclosing describe (closed and dropped after it) and empties
 * its tables before each test; call it before the describe's own hooks.
 */
export function useRegistry(backend: Backend): RegistryUnderTest {
  const state: { db?: Db; registry?: Registry; schema?: string; firstMigration: number[] } = { firstMigration: [] };
  beforeAll(async () => {
    if (backend.url) {
      state.schema = `sus_test_${randomBytes(6).toString('hex')}`;
      await adminQuery(backend.url, `CREATE SCHEMA ${state.schema}`);
      state.db = await openDb({ databaseUrl: withSearchPath(backend.url, state.schema), dataDir: 'unused' });
    } else {
      state.db = await openDb({ dataDir: 'memory://' });
    }
    state.firstMigration = await migrate(state.db);
  });
  afterAll(async () => {
    await state.db?.close();
    if (backend.url && state.schema) await adminQuery(backend.url, `DROP SCHEMA IF EXISTS ${state.schema} CASCADE`);
  });
  beforeEach(async () => {
    await state.db!.exec('TRUNCATE dead_letters, api_keys, devices, departments RESTART IDENTITY CASCADE');
    state.registry = new Registry(state.db!);
  });
  return {
    get db() {
      return state.db!;
    },
    get registry() {
      return state.registry!;
    },
    get schema() {
      return state.schema;
    },
    get firstMigration() {
      return state.firstMigration;
    },
  };
}

/** Dead letters as the base shape (ingest's status fields are covered by dead-letters.test.ts). */
export async function listBase(r: Registry, f: Parameters<Registry['deadLetters']['list']>[0]) {
  return (await r.deadLetters.list(f)).map(
    ({ format: _f, status: _s, resolvedAt: _r, replays: _n, suppressed: _c, ...base }) => base,
  );
}

/** Versions of services/registry/migrations/NNN_*.sql, in order. */
export const MIGRATION_VERSIONS = readdirSync(new URL('../../../services/registry/migrations/', import.meta.url))
  .filter((f) => /^\d{3}_.+\.sql$/.test(f))
  .map((f) => Number(f.slice(0, 3)))
  .sort((a, b) => a - b);

export const sha256Hex = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const SUITE_STARTED = Date.now();

/** An ISO-8601 UTC string (as `Date#toISOString` writes it) between the start of this file and a minute from now. */
export function expectPlausibleIso(value: string | null | undefined): void {
  expect(value).toMatch(ISO_UTC);
  const t = Date.parse(value as string);
  expect(t).toBeGreaterThanOrEqual(SUITE_STARTED - 60_000);
  expect(t).toBeLessThanOrEqual(Date.now() + 60_000);
}

/** Runs `fn`, which must reject with a SusError of the given code and status. */
export async function expectSusError(fn: () => Promise<unknown>, code: string, statusCode: number): Promise<SusError> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(SusError);
  const err = caught as SusError;
  expect({ code: err.code, statusCode: err.statusCode }).toStrictEqual({ code, statusCode });
  return err;
}
