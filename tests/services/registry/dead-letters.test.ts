import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Db, DeadLetterStore, migrate, openDb } from '../../../services/registry/index.ts';
import { adminQuery, withSearchPath } from '../../helpers/pg.ts';

/**
 * The dead-letter store on real PostgreSQL (PGlite is covered by the API and property tests): migration 003,
 * format and status columns, filters, replay bookkeeping, NUL-safe text.
 */
const url = process.env.TEST_DATABASE_URL;
if (!url) console.warn('TEST_DATABASE_URL is unset: PostgreSQL dead-letter store tests skipped; npm test starts one');

describe.skipIf(!url)('DeadLetterStore on PostgreSQL', () => {
  const schema = `sus_test_${randomBytes(6).toString('hex')}`;
  let db: Db;
  let store: DeadLetterStore;

  beforeAll(async () => {
    await adminQuery(url!, `CREATE SCHEMA ${schema}`);
    db = await openDb({ databaseUrl: withSearchPath(url!, schema), dataDir: 'unused' });
    await migrate(db);
    store = new DeadLetterStore(db, { rawBytes: 8, maxReasons: 3 });
  });
  afterAll(async () => {
    await db?.close();
    await adminQuery(url!, `DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  it('files format, bounded payload and NUL-free text, and lists by status, devices, reason and source', async () => {
    const at = new Date('2026-01-02T03:04:05.000Z');
    const a = await store.add({
      source: 'http',
      topic: '/v1/ingest/ttn',
      device: 'wl-1',
      format: 'ttn',
      reasons: [{ code: 'INGEST_MALFORMED_JSON', message: "Unexpected token '\u0000'" }],
      payload: Buffer.from('{"end_device_ids":'),
      receivedAt: at,
    });
    const b = await store.add({
      source: 'mqtt',
      topic: 'sus/v1/devices/aq-1/up',
      device: 'aq-1',
      reasons: [{ code: 'INGEST_UNKNOWN_QUANTITY', message: 'x', field: 'values.x' }],
      payload: Buffer.from('{}'),
      receivedAt: at,
    });
    expect(await store.get(a)).toStrictEqual({
      id: a,
      receivedAt: '2026-01-02T03:04:05.000Z',
      source: 'http',
      topic: '/v1/ingest/ttn',
      device: 'wl-1',
      reasons: [{ code: 'INGEST_MALFORMED_JSON', message: "Unexpected token '\uFFFD'" }],
      payload: '{"end_de',
      payloadEncoding: 'utf8',
      payloadSize: 18,
      truncated: true,
      format: 'ttn',
      status: 'new',
      resolvedAt: null,
      replays: 0,
      suppressed: 0,
    });
    expect((await store.list({ limit: 10, devices: ['aq-1'] })).map((e) => e.id)).toStrictEqual([b]);
    expect((await store.list({ limit: 10, reason: 'INGEST_MALFORMED_JSON' })).map((e) => e.id)).toStrictEqual([a]);
    expect((await store.list({ limit: 10, source: 'mqtt', status: 'new' })).map((e) => e.id)).toStrictEqual([b]);
  });

  it('records a failed replay (new reasons, still new), a successful one (replayed) and a discard', async () => {
    const id = await store.add({ source: 'http', reasons: [{ code: 'A', message: 'a' }], payload: Buffer.from('1') });
    await store.recordReplay(id, [{ code: 'B', message: 'b' }]);
    expect(await store.get(id)).toMatchObject({ status: 'new', replays: 1, reasons: [{ code: 'B', message: 'b' }] });
    await store.recordReplay(id, []);
    const done = await store.get(id);
    expect([done?.status, done?.replays, typeof done?.resolvedAt]).toStrictEqual(['replayed', 2, 'string']);
    const other = await store.add({
      source: 'http',
      reasons: [{ code: 'A', message: 'a' }],
      payload: Buffer.from('2'),
    });
    expect(await store.discard(other)).toBe(true);
    expect(await store.discard(999_999)).toBe(false);
    expect((await store.list({ limit: 10, status: 'discarded' })).map((e) => e.id)).toStrictEqual([other]);
  });
});
