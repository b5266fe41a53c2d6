import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SusError } from '../../../services/common/errors.ts';
import { DEVICE_ID_PATTERN } from '../../../services/common/topics.ts';
import {
  type Db,
  type DeadLetter,
  type Device,
  migrate,
  openDb,
  Registry,
  type RegistryEvent,
} from '../../../services/registry/index.ts';
import { adminQuery, withSearchPath } from '../../helpers/pg.ts';

/** Dead letters as the base shape (ingest's status fields are covered by dead-letters.test.ts). */
async function listBase(r: Registry, f: Parameters<Registry['deadLetters']['list']>[0]) {
  return (await r.deadLetters.list(f)).map(
    ({ format: _f, status: _s, resolvedAt: _r, replays: _n, suppressed: _c, ...base }) => base,
  );
}

/** Versions of services/registry/migrations/NNN_*.sql, in order. */
const MIGRATION_VERSIONS = readdirSync(new URL('../../../services/registry/migrations/', import.meta.url))
  .filter((f) => /^\d{3}_.+\.sql$/.test(f))
  .map((f) => Number(f.slice(0, 3)))
  .sort((a, b) => a - b);

/**
 * The registry must behave identically on embedded PGlite and on a real PostgreSQL: every test below runs on both.
 * PostgreSQL runs get a fresh schema (random name, dropped afterwards) selected through the connection string, so
 * they never see or leave data in the shared test database.
 */
interface Backend {
  name: 'PGlite' | 'PostgreSQL';
  url: string | undefined;
}

const BACKENDS: Backend[] = [
  { name: 'PGlite', url: undefined },
  { name: 'PostgreSQL', url: process.env.TEST_DATABASE_URL },
];

if (!process.env.TEST_DATABASE_URL) {
  console.warn('TEST_DATABASE_URL is unset: PostgreSQL registry tests skipped; npm test starts a local PostgreSQL');
}

const sha256Hex = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const SUITE_STARTED = Date.now();

/** An ISO-8601 UTC string (as `Date#toISOString` writes it) between the start of this file and a minute from now. */
function expectPlausibleIso(value: string | null | undefined): void {
  expect(value).toMatch(ISO_UTC);
  const t = Date.parse(value as string);
  expect(t).toBeGreaterThanOrEqual(SUITE_STARTED - 60_000);
  expect(t).toBeLessThanOrEqual(Date.now() + 60_000);
}

/** Runs `fn`, which must reject with a SusError of the given code and status. */
async function expectSusError(fn: () => Promise<unknown>, code: string, statusCode: number): Promise<SusError> {
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

describe.each(BACKENDS)('registry on $name', (backend) => {
  describe.skipIf(backend.name === 'PostgreSQL' && !backend.url)('behaviour', () => {
    let db: Db;
    let registry: Registry;
    let schema: string | undefined;
    let firstMigration: number[];

    beforeAll(async () => {
      if (backend.url) {
        schema = `sus_test_${randomBytes(6).toString('hex')}`;
        await adminQuery(backend.url, `CREATE SCHEMA ${schema}`);
        db = await openDb({ databaseUrl: withSearchPath(backend.url, schema), dataDir: 'unused' });
      } else {
        db = await openDb({ dataDir: 'memory://' });
      }
      firstMigration = await migrate(db);
    });

    afterAll(async () => {
      await db?.close();
      if (backend.url && schema) await adminQuery(backend.url, `DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    });

    beforeEach(async () => {
      await db.exec('TRUNCATE dead_letters, api_keys, devices, departments RESTART IDENTITY CASCADE');
      registry = new Registry(db);
    });

    // ---- migrations / backend ------------------------------------------------------------------------------------

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

    // ---- departments ---------------------------------------------------------------------------------------------

    describe('departments', () => {
      it('createDepartment returns the department with a creation timestamp', async () => {
        const dep = await registry.createDepartment({ id: 'parks', name: 'Parks & Gardens' });
        expectPlausibleIso(dep.createdAt);
        expect(dep).toStrictEqual({ id: 'parks', name: 'Parks & Gardens', createdAt: dep.createdAt });
      });

      it('listDepartments returns all departments ordered by id', async () => {
        expect(await registry.listDepartments()).toStrictEqual([]);
        const b = await registry.createDepartment({ id: 'water', name: 'Water' });
        const a = await registry.createDepartment({ id: 'environment', name: 'Environment' });
        expect(await registry.listDepartments()).toStrictEqual([a, b]);
      });

      it('getDepartment finds a department by id and returns undefined for an unknown id', async () => {
        const dep = await registry.createDepartment({ id: 'traffic', name: 'Traffic' });
        expect(await registry.getDepartment('traffic')).toStrictEqual(dep);
        expect(await registry.getDepartment('nope')).toBeUndefined();
      });

      it('a duplicate department id is a 409 SUS_ERR_DEPARTMENT_EXISTS and changes nothing', async () => {
        const dep = await registry.createDepartment({ id: 'parks', name: 'Parks' });
        const err = await expectSusError(
          () => registry.createDepartment({ id: 'parks', name: 'Other' }),
          'SUS_ERR_DEPARTMENT_EXISTS',
          409,
        );
        expect(err.context).toStrictEqual({ id: 'parks' });
        expect(await registry.listDepartments()).toStrictEqual([dep]);
      });

      it('ensureDepartment creates once and is idempotent (keeps the first name)', async () => {
        await registry.ensureDepartment({ id: 'waste', name: 'Waste' });
        await registry.ensureDepartment({ id: 'waste', name: 'Waste' });
        await registry.ensureDepartment({ id: 'waste', name: 'Renamed' });
        const list = await registry.listDepartments();
        expect(list).toHaveLength(1);
        expectPlausibleIso(list[0]!.createdAt);
        expect(list).toStrictEqual([{ id: 'waste', name: 'Waste', createdAt: list[0]!.createdAt }]);
      });

      it('ensureDepartment leaves an existing department untouched', async () => {
        const dep = await registry.createDepartment({ id: 'parks', name: 'Parks' });
        await registry.ensureDepartment({ id: 'parks', name: 'Something else' });
        expect(await registry.getDepartment('parks')).toStrictEqual(dep);
      });
    });

    // ---- devices -------------------------------------------------------------------------------------------------

    describe('devices', () => {
      beforeEach(async () => {
        await registry.ensureDepartment({ id: 'env', name: 'Environment' });
        await registry.ensureDepartment({ id: 'water', name: 'Water' });
      });

      const storedHash = async (id: string): Promise<string | undefined> =>
        (await db.query<{ secret_hash: string }>('SELECT secret_hash FROM devices WHERE id = $1', [id]))[0]
          ?.secret_hash;

      it('createDevice returns the device and a secret of at least 128 bits', async () => {
        const { device, secret } = await registry.createDevice({
          id: 'aq-001',
          name: 'Air quality, Main St',
          department: 'env',
          type: 'air_quality',
          district: 'centre',
          lat: 52.52,
          lon: 13.405,
        });
        expectPlausibleIso(device.createdAt);
        expect(device).toStrictEqual({
          id: 'aq-001',
          name: 'Air quality, Main St',
          department: 'env',
          type: 'air_quality',
          district: 'centre',
          lat: 52.52,
          lon: 13.405,
          createdAt: device.createdAt,
          lastSeenAt: null,
        } satisfies Device);
        expect(secret).toMatch(/^[A-Za-z0-9_-]{22,}$/);
        expect(Buffer.from(secret, 'base64url').length * 8).toBeGreaterThanOrEqual(128);
        expect(await registry.getDevice('aq-001')).toStrictEqual(device);
      });

      it('optional fields default to null', async () => {
        const { device } = await registry.createDevice({
          id: 'wl-1',
          name: 'Gauge',
          department: 'water',
          type: 'gauge',
        });
        expect(device).toStrictEqual({
          id: 'wl-1',
          name: 'Gauge',
          department: 'water',
          type: 'gauge',
          district: null,
          lat: null,
          lon: null,
          createdAt: device.createdAt,
          lastSeenAt: null,
        });
      });

      it('two devices get different secrets', async () => {
        const a = await registry.createDevice({ id: 'a', name: 'A', department: 'env', type: 'aq' });
        const b = await registry.createDevice({ id: 'b', name: 'B', department: 'env', type: 'aq' });
        expect(a.secret).not.toBe(b.secret);
      });

      it('stores only the sha256 hash of the secret, never the secret', async () => {
        const { secret } = await registry.createDevice({ id: 'aq-2', name: 'AQ', department: 'env', type: 'aq' });
        const hash = await storedHash('aq-2');
        expect(hash).not.toBe(secret);
        expect(hash).toBe(sha256Hex(secret));
        expect(hash).toMatch(/^[0-9a-f]{64}$/);
        const [row] = await db.query<Record<string, unknown>>('SELECT * FROM devices WHERE id = $1', ['aq-2']);
        expect(JSON.stringify(row)).not.toContain(secret);
      });

      it('an unknown department is a 400 SUS_ERR_UNKNOWN_DEPARTMENT and creates nothing', async () => {
        const err = await expectSusError(
          () => registry.createDevice({ id: 'x1', name: 'X', department: 'nope', type: 'aq' }),
          'SUS_ERR_UNKNOWN_DEPARTMENT',
          400,
        );
        expect(err.context).toStrictEqual({ field: 'department' });
        expect(await registry.getDevice('x1')).toBeUndefined();
      });

      it('a duplicate device id is a 409 SUS_ERR_DEVICE_EXISTS and keeps the original secret', async () => {
        const first = await registry.createDevice({ id: 'dup', name: 'First', department: 'env', type: 'aq' });
        const err = await expectSusError(
          () => registry.createDevice({ id: 'dup', name: 'Second', department: 'water', type: 'gauge' }),
          'SUS_ERR_DEVICE_EXISTS',
          409,
        );
        expect(err.context).toStrictEqual({ device: 'dup' });
        expect(await registry.getDevice('dup')).toStrictEqual(first.device);
        expect(await registry.authenticateDevice('dup', first.secret)).toStrictEqual(first.device);
      });

      it('generates a valid, type-derived id when none is given', async () => {
        const a = await registry.createDevice({ name: 'Auto', department: 'env', type: 'air_quality' });
        const b = await registry.createDevice({ name: 'Auto', department: 'env', type: 'air_quality' });
        expect(a.device.id).toMatch(/^air-quality-[0-9a-f]{8}$/);
        expect(a.device.id).toMatch(DEVICE_ID_PATTERN);
        expect(b.device.id).not.toBe(a.device.id);
        expect(await registry.getDevice(a.device.id)).toStrictEqual(a.device);
      });

      it('getDevice returns undefined for an unknown id', async () => {
        expect(await registry.getDevice('ghost')).toBeUndefined();
      });

      it('listDevices lists all devices ordered by id, or those of one department', async () => {
        expect(await registry.listDevices()).toStrictEqual([]);
        const c = (await registry.createDevice({ id: 'c', name: 'C', department: 'env', type: 'aq' })).device;
        const a = (await registry.createDevice({ id: 'a', name: 'A', department: 'water', type: 'gauge' })).device;
        const b = (await registry.createDevice({ id: 'b', name: 'B', department: 'env', type: 'aq' })).device;
        expect(await registry.listDevices()).toStrictEqual([a, b, c]);
        expect(await registry.listDevices({})).toStrictEqual([a, b, c]);
        expect(await registry.listDevices({ department: 'env' })).toStrictEqual([b, c]);
        expect(await registry.listDevices({ department: 'water' })).toStrictEqual([a]);
        expect(await registry.listDevices({ department: 'nope' })).toStrictEqual([]);
        expect(await registry.deviceIdsOf('env').then((ids) => ids.sort())).toStrictEqual(['b', 'c']);
      });

      it('authenticateDevice: right secret → device; wrong secret, unknown device, the hash itself → undefined', async () => {
        const { device, secret } = await registry.createDevice({
          id: 'auth',
          name: 'A',
          department: 'env',
          type: 'aq',
        });
        expect(await registry.authenticateDevice('auth', secret)).toStrictEqual(device);
        expect(await registry.authenticateDevice('auth', `${secret}x`)).toBeUndefined();
        expect(await registry.authenticateDevice('auth', '')).toBeUndefined();
        expect(await registry.authenticateDevice('auth', sha256Hex(secret))).toBeUndefined();
        expect(await registry.authenticateDevice('ghost', secret)).toBeUndefined();
      });

      it('authenticateDevice accepts the secret as a Buffer (MQTT password)', async () => {
        const { device, secret } = await registry.createDevice({ id: 'buf', name: 'B', department: 'env', type: 'aq' });
        expect(await registry.authenticateDevice('buf', Buffer.from(secret, 'utf8'))).toStrictEqual(device);
        expect(await registry.authenticateDevice('buf', Buffer.from('wrong', 'utf8'))).toBeUndefined();
        expect(await registry.authenticateDevice('buf', Buffer.alloc(0))).toBeUndefined();
      });

      it('rotateDeviceSecret: the old secret is refused, the new one accepted and stored hashed', async () => {
        const { device, secret: old } = await registry.createDevice({
          id: 'rot',
          name: 'R',
          department: 'env',
          type: 'aq',
        });
        const fresh = await registry.rotateDeviceSecret('rot');
        expect(fresh).not.toBe(old);
        expect(fresh).toMatch(/^[A-Za-z0-9_-]{22,}$/);
        expect(await registry.authenticateDevice('rot', old)).toBeUndefined();
        expect(await registry.authenticateDevice('rot', fresh)).toStrictEqual(device);
        expect(await storedHash('rot')).toBe(sha256Hex(fresh));
      });

      it('rotating an unknown device is a 404 SUS_ERR_DEVICE_NOT_FOUND', async () => {
        const err = await expectSusError(() => registry.rotateDeviceSecret('ghost'), 'SUS_ERR_DEVICE_NOT_FOUND', 404);
        expect(err.context).toStrictEqual({ id: 'ghost' });
      });

      it('emits a change event on create and on rotate, none on failures', async () => {
        const events: RegistryEvent[] = [];
        registry.on('change', (e) => events.push(e));
        await registry.createDevice({ id: 'ev', name: 'E', department: 'env', type: 'aq' });
        expect(events).toStrictEqual([{ type: 'device-changed', id: 'ev' }]);
        await registry.rotateDeviceSecret('ev');
        expect(events).toStrictEqual([
          { type: 'device-changed', id: 'ev' },
          { type: 'device-changed', id: 'ev' },
        ]);
        await registry.createDevice({ id: 'ev', name: 'E', department: 'env', type: 'aq' }).catch(() => undefined);
        await registry.createDevice({ id: 'ev2', name: 'E', department: 'nope', type: 'aq' }).catch(() => undefined);
        await registry.rotateDeviceSecret('ghost').catch(() => undefined);
        expect(events).toHaveLength(2);
      });

      it('touchDevices sets lastSeenAt for the given devices only and never moves it backwards', async () => {
        await registry.createDevice({ id: 't1', name: 'T1', department: 'env', type: 'aq' });
        await registry.createDevice({ id: 't2', name: 'T2', department: 'env', type: 'aq' });
        await registry.createDevice({ id: 't3', name: 'T3', department: 'env', type: 'aq' });
        const seen = async (id: string) => (await registry.getDevice(id))?.lastSeenAt;

        const t1 = new Date('2030-01-01T10:00:00.123Z');
        await registry.touchDevices(['t1', 't2', 'ghost'], t1);
        expect(await seen('t1')).toBe('2030-01-01T10:00:00.123Z');
        expect(await seen('t2')).toBe('2030-01-01T10:00:00.123Z');
        expect(await seen('t3')).toBeNull();

        await registry.touchDevices(['t1', 't3'], new Date('2030-01-01T09:00:00.000Z'));
        expect(await seen('t1')).toBe('2030-01-01T10:00:00.123Z');
        expect(await seen('t3')).toBe('2030-01-01T09:00:00.000Z');

        await registry.touchDevices(['t2'], new Date('2030-01-01T11:30:00.456Z'));
        expect(await seen('t2')).toBe('2030-01-01T11:30:00.456Z');
        expect(await seen('t1')).toBe('2030-01-01T10:00:00.123Z');

        await registry.touchDevices([], new Date('2031-01-01T00:00:00.000Z'));
        expect(await seen('t1')).toBe('2030-01-01T10:00:00.123Z');
        const listed = await registry.listDevices();
        expect(listed.map((d) => [d.id, d.lastSeenAt])).toStrictEqual([
          ['t1', '2030-01-01T10:00:00.123Z'],
          ['t2', '2030-01-01T11:30:00.456Z'],
          ['t3', '2030-01-01T09:00:00.000Z'],
        ]);
      });
    });

    // ---- API keys ------------------------------------------------------------------------------------------------

    describe('API keys', () => {
      beforeEach(async () => {
        await registry.ensureDepartment({ id: 'env', name: 'Environment' });
      });

      it('createApiKey returns a sus_ key and its record; only the hash is stored', async () => {
        const { key, record } = await registry.keys.create({
          name: 'env-reader',
          department: 'env',
          scopes: ['read', 'write'],
        });
        expect(key).toMatch(/^sus_[A-Za-z0-9_-]{22,}$/);
        expect(record.id).toMatch(/^key_[0-9a-f]{12}$/);
        expectPlausibleIso(record.createdAt);
        expect(record).toStrictEqual({
          id: record.id,
          name: 'env-reader',
          department: 'env',
          scopes: ['read', 'write'],
          createdAt: record.createdAt,
          revokedAt: null,
        });
        const [row] = await db.query<Record<string, unknown>>('SELECT * FROM api_keys WHERE id = $1', [record.id]);
        expect(row?.key_hash).toBe(sha256Hex(key));
        expect(JSON.stringify(row)).not.toContain(key);
      });

      it('findApiKey finds a key by its token; an unknown token gives undefined', async () => {
        const { key, record } = await registry.keys.create({ name: 'ops', department: null, scopes: ['admin'] });
        expect(await registry.keys.find(key)).toStrictEqual(record);
        expect(await registry.keys.find(`${key}x`)).toBeUndefined();
        expect(await registry.keys.find('sus_unknown')).toBeUndefined();
        expect(await registry.keys.find(sha256Hex(key))).toBeUndefined();

        const scoped = await registry.keys.create({ name: 'prov', department: 'env', scopes: ['provision'] });
        const found = await registry.keys.find(scoped.key);
        expect(found?.department).toBe('env');
        expect(found?.scopes).toStrictEqual(['provision']);
      });

      it('createApiKey with an unknown department is a 400 SUS_ERR_UNKNOWN_DEPARTMENT', async () => {
        await expectSusError(
          () => registry.keys.create({ name: 'x', department: 'nope', scopes: ['read'] }),
          'SUS_ERR_UNKNOWN_DEPARTMENT',
          400,
        );
        expect(await registry.keys.named('x')).toBe('none');
      });

      it('ensureApiKey registers an operator-chosen token once (idempotent)', async () => {
        const token = `sus_${randomBytes(24).toString('base64url')}`;
        await registry.keys.ensure({ name: 'admin', department: null, scopes: ['admin'] }, token);
        await registry.keys.ensure({ name: 'admin', department: null, scopes: ['admin'] }, token);
        const rows = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM api_keys');
        expect(rows).toStrictEqual([{ n: 1 }]);
        const found = await registry.keys.find(token);
        expectPlausibleIso(found?.createdAt);
        expect(found).toStrictEqual({
          id: expect.stringMatching(/^key_[0-9a-f]{12}$/),
          name: 'admin',
          department: null,
          scopes: ['admin'],
          createdAt: found?.createdAt,
          revokedAt: null,
        });
      });

      it('ensureApiKey leaves a revoked key revoked and says so', async () => {
        const token = 'operator-chosen-admin-key';
        const admin = { name: 'admin', department: null, scopes: ['admin' as const] };
        expect(await registry.keys.ensure(admin, token)).toBe('created');
        expect(await registry.keys.ensure(admin, token)).toBe('active');
        await db.query('UPDATE api_keys SET revoked_at = now()');
        expect(await registry.keys.ensure(admin, token)).toBe('revoked');
        expect(await registry.keys.find(token)).toBeUndefined();
        expect(await registry.keys.named('admin')).toBe('revoked');
      });

      it('keyNamed tells whether keys of a name exist and whether one is still active', async () => {
        expect(await registry.keys.named('reader')).toBe('none');
        const { key } = await registry.keys.create({ name: 'reader', department: 'env', scopes: ['read'] });
        expect(await registry.keys.named('reader')).toBe('active');
        expect(await registry.keys.named('other')).toBe('none');
        await db.query("UPDATE api_keys SET revoked_at = now() WHERE name = 'reader'");
        expect(await registry.keys.named('reader')).toBe('revoked');
        expect(await registry.keys.find(key)).toBeUndefined();
      });
    });

    // ---- dead letters --------------------------------------------------------------------------------------------

    describe('dead letters', () => {
      const reasons = [
        { code: 'SUS_ERR_SCHEMA', message: 'bad field', field: 'temperature' },
        { code: 'SUS_ERR_UNIT', message: 'unknown unit' },
      ];

      it('roundtrips a text payload with its reasons and metadata', async () => {
        const receivedAt = new Date('2030-05-06T07:08:09.010Z');
        const payload = Buffer.from('{"t":21.5,"city":"Zürich"}', 'utf8');
        const id = await registry.deadLetters.add({
          source: 'mqtt',
          topic: 'sus/v1/env/aq-1/up',
          device: 'aq-1',
          reasons,
          payload,
          receivedAt,
        });
        expect(typeof id).toBe('number');
        expect(await listBase(registry, { limit: 10 })).toStrictEqual([
          {
            id,
            receivedAt: '2030-05-06T07:08:09.010Z',
            source: 'mqtt',
            topic: 'sus/v1/env/aq-1/up',
            device: 'aq-1',
            reasons,
            payload: '{"t":21.5,"city":"Zürich"}',
            payloadEncoding: 'utf8',
            payloadSize: payload.length,
            truncated: false,
          },
        ] satisfies DeadLetter[]);
      });

      it('defaults topic/device to null and receivedAt to now', async () => {
        const id = await registry.deadLetters.add({
          source: 'http',
          reasons: [{ code: 'X', message: 'x' }],
          payload: Buffer.from('hi'),
        });
        const [dl] = await listBase(registry, { limit: 1 });
        expectPlausibleIso(dl?.receivedAt);
        expect(dl).toStrictEqual({
          id,
          receivedAt: dl?.receivedAt,
          source: 'http',
          topic: null,
          device: null,
          reasons: [{ code: 'X', message: 'x' }],
          payload: 'hi',
          payloadEncoding: 'utf8',
          payloadSize: 2,
          truncated: false,
        });
      });

      it('returns a binary payload as base64', async () => {
        const id = await registry.deadLetters.add({
          source: 'mqtt',
          reasons,
          payload: Buffer.from([0xff, 0x00, 0xa1]),
        });
        const [dl] = await listBase(registry, { limit: 10 });
        expect(dl).toMatchObject({ id, payload: '/wCh', payloadEncoding: 'base64', payloadSize: 3, truncated: false });
        expect(Buffer.from(dl!.payload, 'base64')).toStrictEqual(Buffer.from([0xff, 0x00, 0xa1]));
      });

      it('returns an empty payload as empty text', async () => {
        await registry.deadLetters.add({ source: 'mqtt', reasons, payload: Buffer.alloc(0) });
        const [dl] = await listBase(registry, { limit: 10 });
        expect(dl).toMatchObject({ payload: '', payloadEncoding: 'utf8', payloadSize: 0, truncated: false });
      });

      it('truncates a payload above deadLetterRawBytes and records the original size', async () => {
        const small = new Registry(db, { rawBytes: 16 });
        const text = 'abcdefghijklmnopqrstuvwxyz0123456789'; // 36 bytes
        await small.deadLetters.add({ source: 'mqtt', reasons, payload: Buffer.from(text) });
        await small.deadLetters.add({ source: 'exact', reasons, payload: Buffer.from(text.slice(0, 16)) });
        const [exact, long] = await listBase(small, { limit: 10 });
        expect(long).toMatchObject({
          payload: 'abcdefghijklmnop',
          payloadEncoding: 'utf8',
          payloadSize: 36,
          truncated: true,
        });
        expect(exact).toMatchObject({
          payload: 'abcdefghijklmnop',
          payloadEncoding: 'utf8',
          payloadSize: 16,
          truncated: false,
        });
        const [row] = await db.query<{ n: number }>(
          'SELECT octet_length(payload) AS n FROM dead_letters WHERE truncated ORDER BY id',
        );
        expect(row).toStrictEqual({ n: 16 });
      });

      it('a binary payload is truncated to its first bytes and returned as base64', async () => {
        const small = new Registry(db, { rawBytes: 16 });
        const bytes = Buffer.from(Array.from({ length: 40 }, (_, i) => (0xff - i) & 0xff));
        await small.deadLetters.add({ source: 'mqtt', reasons, payload: bytes });
        const [dl] = await listBase(small, { limit: 1 });
        expect(dl).toMatchObject({ payloadEncoding: 'base64', payloadSize: 40, truncated: true });
        expect(Buffer.from(dl!.payload, 'base64')).toStrictEqual(bytes.subarray(0, 16));
      });

      it('a text payload cut inside a multi-byte character is returned losslessly as base64', async () => {
        const small = new Registry(db, { rawBytes: 16 });
        const payload = Buffer.from('aaaaaaaaaaaaaaaé tail', 'utf8'); // 'é' occupies bytes 15-16
        await small.deadLetters.add({ source: 'mqtt', reasons, payload });
        const [dl] = await listBase(small, { limit: 1 });
        expect(dl).toMatchObject({ payloadEncoding: 'base64', payloadSize: payload.length, truncated: true });
        expect(Buffer.from(dl!.payload, 'base64')).toStrictEqual(payload.subarray(0, 16));
      });

      describe('listing and filters', () => {
        let ids: Record<string, number>;

        beforeEach(async () => {
          const add = (name: string, d: { source: string; device: string | null; codes: string[]; at: string }) =>
            registry.deadLetters
              .add({
                source: d.source,
                device: d.device,
                topic: d.device ? `sus/v1/env/${d.device}/up` : null,
                reasons: d.codes.map((code) => ({ code, message: `${code} happened` })),
                payload: Buffer.from(name),
                receivedAt: new Date(d.at),
              })
              .then((id) => [name, id] as const);
          // Sequential, so ids increase in this order.
          const entries: (readonly [string, number])[] = [];
          entries.push(
            await add('e1', { source: 'mqtt', device: 'd1', codes: ['SCHEMA'], at: '2030-01-01T00:00:01Z' }),
          );
          entries.push(
            await add('e2', { source: 'mqtt', device: 'd2', codes: ['UNIT', 'SCHEMA'], at: '2030-01-01T00:00:02Z' }),
          );
          entries.push(await add('e3', { source: 'http', device: 'd1', codes: ['UNIT'], at: '2030-01-01T00:00:03Z' }));
          entries.push(
            await add('e4', { source: 'mqtt', device: null, codes: ['DECODE'], at: '2030-01-01T00:00:04Z' }),
          );
          entries.push(
            await add('e5', { source: 'mqtt', device: 'd1', codes: ['SCHEMA'], at: '2030-01-01T00:00:05Z' }),
          );
          ids = Object.fromEntries(entries);
        });

        const names = (list: DeadLetter[]) => list.map((d) => d.payload);

        it('lists newest first with increasing ids', async () => {
          expect(ids.e1! < ids.e2! && ids.e2! < ids.e3! && ids.e3! < ids.e4! && ids.e4! < ids.e5!).toBe(true);
          const list = await listBase(registry, { limit: 100 });
          expect(names(list)).toStrictEqual(['e5', 'e4', 'e3', 'e2', 'e1']);
          expect(list.map((d) => d.id)).toStrictEqual([ids.e5, ids.e4, ids.e3, ids.e2, ids.e1]);
          expect(list[1]).toStrictEqual({
            id: ids.e4,
            receivedAt: '2030-01-01T00:00:04.000Z',
            source: 'mqtt',
            topic: null,
            device: null,
            reasons: [{ code: 'DECODE', message: 'DECODE happened' }],
            payload: 'e4',
            payloadEncoding: 'utf8',
            payloadSize: 2,
            truncated: false,
          });
        });

        it('limit caps the number of entries', async () => {
          expect(names(await listBase(registry, { limit: 2 }))).toStrictEqual(['e5', 'e4']);
          expect(names(await listBase(registry, { limit: 0 }))).toStrictEqual([]);
        });

        it('filters by device', async () => {
          expect(names(await listBase(registry, { device: 'd1', limit: 100 }))).toStrictEqual(['e5', 'e3', 'e1']);
          expect(names(await listBase(registry, { device: 'ghost', limit: 100 }))).toStrictEqual([]);
        });

        it('filters by reason code (any of the reasons, jsonb containment)', async () => {
          expect(names(await listBase(registry, { reason: 'SCHEMA', limit: 100 }))).toStrictEqual(['e5', 'e2', 'e1']);
          expect(names(await listBase(registry, { reason: 'UNIT', limit: 100 }))).toStrictEqual(['e3', 'e2']);
          expect(names(await listBase(registry, { reason: 'SCHEMA happened', limit: 100 }))).toStrictEqual([]);
          expect(names(await listBase(registry, { reason: 'nope"]', limit: 100 }))).toStrictEqual([]);
        });

        it('filters by source', async () => {
          expect(names(await listBase(registry, { source: 'http', limit: 100 }))).toStrictEqual(['e3']);
          expect(names(await listBase(registry, { source: 'mqtt', limit: 100 }))).toStrictEqual([
            'e5',
            'e4',
            'e2',
            'e1',
          ]);
        });

        it('before is an exclusive id cursor for paging', async () => {
          const page1 = await listBase(registry, { limit: 2 });
          expect(names(page1)).toStrictEqual(['e5', 'e4']);
          const page2 = await listBase(registry, { limit: 2, before: page1.at(-1)!.id });
          expect(names(page2)).toStrictEqual(['e3', 'e2']);
          const page3 = await listBase(registry, { limit: 2, before: page2.at(-1)!.id });
          expect(names(page3)).toStrictEqual(['e1']);
          expect(names(await listBase(registry, { limit: 2, before: ids.e1! }))).toStrictEqual([]);
        });

        it('since keeps entries received at or after the given time', async () => {
          const since = new Date('2030-01-01T00:00:03Z');
          expect(names(await listBase(registry, { since, limit: 100 }))).toStrictEqual(['e5', 'e4', 'e3']);
        });

        it('combines filters with AND', async () => {
          expect(
            names(await listBase(registry, { device: 'd1', source: 'mqtt', reason: 'SCHEMA', limit: 100 })),
          ).toStrictEqual(['e5', 'e1']);
          expect(
            names(await listBase(registry, { device: 'd1', reason: 'SCHEMA', before: ids.e5!, limit: 100 })),
          ).toStrictEqual(['e1']);
          expect(names(await listBase(registry, { device: 'd1', reason: 'UNIT', limit: 1 }))).toStrictEqual(['e3']);
        });
      });
    });
  });
});
