import { randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { type Db, migrate, openDb, type Registry } from '../../../services/registry/index.ts';
import { adminQuery, withSearchPath } from '../../helpers/pg.ts';
import { BACKENDS, expectPlausibleIso, MIGRATION_VERSIONS, unavailable, useRegistry } from './backends.ts';

describe.each(BACKENDS)('registry migrations and backend on $name', (backend) => {
  describe.skipIf(unavailable(backend))('behaviour', () => {
    const under = useRegistry(backend);
    let db: Db;
    let registry: Registry;
    let schema: string | undefined;
    let firstMigration: number[];
    beforeEach(() => {
      ({ db, registry, schema, firstMigration } = under);
    });

    it('opens the expected backend kind', () => {
      expect(db.kind).toBe(backend.url ? 'postgres' : 'pglite');
      expect(registry.kind).toBe(db.kind);
    });

    it.skipIf(!backend.url)(
      'keeps every pooled connection in the private test schema (PostgreSQL pool only)',
      async () => {
        // Concurrent queries force several pool connections; each must have the search_path from the URL.
        const rows = await Promise.all(
          Array.from({ length: 6 }, () =>
            db.query<{ schema: string; pid: number }>(
              'SELECT current_schema() AS schema, pg_backend_pid() AS pid FROM pg_sleep(0.05)',
            ),
          ),
        );
        const flat = rows.flat();
        expect(new Set(flat.map((r) => r.pid)).size).toBeGreaterThan(1);
        expect(new Set(flat.map((r) => r.schema))).toStrictEqual(new Set([schema]));
      },
    );

    it('migrate creates the schema, records every migration version once and is idempotent', async () => {
      expect(firstMigration).toStrictEqual(MIGRATION_VERSIONS);
      const tables = await db.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`,
      );
      expect(tables.map((t) => t.table_name)).toEqual(
        expect.arrayContaining(['api_keys', 'dead_letters', 'departments', 'devices', 'schema_migrations']),
      );
      expect(await migrate(db)).toStrictEqual([]);
      expect(await migrate(db)).toStrictEqual([]);
      const versions = await db.query<{ version: number; applied_at: Date }>(
        'SELECT version, applied_at FROM schema_migrations ORDER BY version',
      );
      expect(versions.map((v) => v.version)).toStrictEqual(MIGRATION_VERSIONS);
      expect(versions[0]!.applied_at).toBeInstanceOf(Date);
      expectPlausibleIso(versions[0]!.applied_at.toISOString());
    });

    // `sus broker` and `sus api` are separate processes that both call openRegistry → migrate on start-up; started
    // together against a fresh PostgreSQL, both must come up (one applies version 1, the other nothing).
    it.skipIf(!backend.url)(
      'migrate run by two processes at once applies each version exactly once (PostgreSQL only)',
      async () => {
        const url = backend.url as string;
        const fresh = `sus_test_${randomBytes(6).toString('hex')}`;
        await adminQuery(url, `CREATE SCHEMA ${fresh}`);
        const a = await openDb({ databaseUrl: withSearchPath(url, fresh), dataDir: 'unused' });
        const b = await openDb({ databaseUrl: withSearchPath(url, fresh), dataDir: 'unused' });
        try {
          const results = await Promise.allSettled([migrate(a), migrate(b)]);
          const errors = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
          expect(errors).toStrictEqual([]);
          const applied = results.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
          expect(applied.sort((x, y) => x - y)).toStrictEqual(MIGRATION_VERSIONS);
          expect(await a.query('SELECT version FROM schema_migrations ORDER BY version')).toStrictEqual(
            MIGRATION_VERSIONS.map((version) => ({ version })),
          );
        } finally {
          await a.close();
          await b.close();
          await adminQuery(url, `DROP SCHEMA IF EXISTS ${fresh} CASCADE`);
        }
      },
    );

    it('ping succeeds', async () => {
      await expect(registry.ping()).resolves.toBeUndefined();
    });
  });
});
