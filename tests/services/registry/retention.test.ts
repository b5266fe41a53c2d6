import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../services/common/logger.ts';
import {
  type Db,
  migrate,
  REASONS_OMITTED,
  Registry,
  RegistryHousekeeping,
  type RetentionSettings,
} from '../../../services/registry/index.ts';
import { eventually } from '../../helpers/env.ts';
import { openTestDb } from '../../helpers/pg.ts';

/**
 * Bounds of the registry's growing tables, on embedded PGlite and on a real PostgreSQL (a random schema each run):
 * reasons per dead letter, retention of dead letters, device answers and audit entries, and the dead-letter cap.
 */
const BACKENDS = [
  { name: 'PGlite', url: undefined },
  { name: 'PostgreSQL', url: process.env.TEST_DATABASE_URL },
] as const;
if (!process.env.TEST_DATABASE_URL) console.warn('TEST_DATABASE_URL is unset: PostgreSQL retention tests skipped');

const NOW = new Date('2026-06-01T12:00:00.000Z');
const DAY = 24 * 3600 * 1000;
const daysAgo = (d: number) => new Date(NOW.getTime() - d * DAY);
const SETTINGS: RetentionSettings = {
  deadLetterDays: 30,
  deadLetterMaxRows: 1000,
  ackDays: 90,
  auditDays: 3650,
  alertDays: 365,
};

describe.each(BACKENDS)('registry bounds on $name', (backend) => {
  describe.skipIf(backend.name === 'PostgreSQL' && !backend.url)('behaviour', () => {
    let db: Db;
    let drop: () => Promise<void>;
    let registry: Registry;

    beforeAll(async () => {
      ({ db, drop } = await openTestDb(backend.url));
      await migrate(db);
    });

    afterAll(async () => {
      await drop?.();
    });

    beforeEach(async () => {
      await db.exec('TRUNCATE dead_letters, device_acks, audit_log, alerts, alert_rules RESTART IDENTITY CASCADE');
      await db.exec('INSERT INTO departments (id, name) VALUES ($$drainage$$, $$d$$) ON CONFLICT DO NOTHING');
      registry = new Registry(db, { rawBytes: 16, maxReasons: 3 });
    });

    const deadLetter = (receivedAt: Date, device = 'aq-1') =>
      registry.deadLetters.add({
        source: 'mqtt',
        device,
        reasons: [{ code: 'INGEST_MALFORMED_JSON', message: 'x' }],
        payload: Buffer.from('{'),
        receivedAt,
      });
    const ack = (at: Date) =>
      db.query('INSERT INTO device_acks (device_id, topic, received_at, payload) VALUES ($1, $2, $3, $4)', [
        'aq-1',
        'sus/v1/devices/aq-1/down/ack',
        at,
        '{}',
      ]);
    const audit = (at: Date) =>
      db.query(
        `INSERT INTO audit_log (at, grant_id, owner_department, reader_department, route, query)
         VALUES ($1, 'g1', 'parks', 'waste', '/v1/readings', '{}')`,
        [at],
      );
    const count = async (table: string) =>
      (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`))[0]!.n;

    it('keeps the first reasons of a dead letter and counts the rest by code in one last reason', async () => {
      const reasons = [
        ...Array.from({ length: 500 }, (_, i) => ({
          code: 'INGEST_UNKNOWN_QUANTITY',
          message: `'k${i}'`,
          field: `k${i}`,
        })),
        { code: 'INGEST_NOT_A_NUMBER', message: 'x'.repeat(5000), field: 'y'.repeat(5000) },
      ];
      const id = await registry.deadLetters.add({ source: 'mqtt', device: 'aq-1', reasons, payload: Buffer.from('') });
      expect((await registry.deadLetters.get(id))?.reasons).toStrictEqual([
        { code: 'INGEST_UNKNOWN_QUANTITY', message: "'k0'", field: 'k0' },
        { code: 'INGEST_UNKNOWN_QUANTITY', message: "'k1'", field: 'k1' },
        { code: 'INGEST_UNKNOWN_QUANTITY', message: "'k2'", field: 'k2' },
        {
          code: REASONS_OMITTED,
          message: '498 more reasons not kept: INGEST_NOT_A_NUMBER ×1, INGEST_UNKNOWN_QUANTITY ×497',
        },
      ]);
      // A replay's reasons are bounded the same way, and each reason's text is cut to a bounded length.
      await registry.deadLetters.recordReplay(id, reasons.slice(500));
      const [replayed] = (await registry.deadLetters.get(id))?.reasons ?? [];
      expect([replayed?.message.length, replayed?.field?.length, replayed?.message.endsWith('…')]).toStrictEqual([
        1024,
        256,
        true,
      ]);
    });

    it('deletes dead letters, acks and audit entries past their retention, and nothing younger', async () => {
      for (const d of [400, 31, 29, 0]) await deadLetter(daysAgo(d));
      for (const d of [100, 91, 89]) await ack(daysAgo(d));
      for (const d of [4000, 3651, 3649, 1]) await audit(daysAgo(d));
      const hk = new RegistryHousekeeping(registry, SETTINGS, silentLogger);
      expect(await hk.runOnce(NOW)).toStrictEqual({ deadLetters: 2, acks: 2, audit: 2, alerts: 0, sessions: 0 });
      expect([await count('dead_letters'), await count('device_acks'), await count('audit_log')]).toStrictEqual([
        2, 1, 2,
      ]);
      expect(await hk.runOnce(NOW)).toStrictEqual({ deadLetters: 0, acks: 0, audit: 0, alerts: 0, sessions: 0 });
    });

    it('keeps everything when a retention is 0 (forever)', async () => {
      await deadLetter(daysAgo(5000));
      await ack(daysAgo(5000));
      await audit(daysAgo(50_000));
      const forever = { deadLetterDays: 0, deadLetterMaxRows: 1000, ackDays: 0, auditDays: 0, alertDays: 0 };
      expect(await new RegistryHousekeeping(registry, forever, silentLogger).runOnce(NOW)).toStrictEqual({
        deadLetters: 0,
        acks: 0,
        audit: 0,
        alerts: 0,
        sessions: 0,
      });
    });

    it('deletes the oldest dead letters beyond the cap, in chunks, and keeps the newest', async () => {
      await db.query(
        `INSERT INTO dead_letters (received_at, source, reasons, payload, payload_size)
         SELECT $1, 'mqtt', '[]'::jsonb, ''::bytea, 0 FROM generate_series(1, 12000)`,
        [NOW],
      );
      const hk = new RegistryHousekeeping(registry, { ...SETTINGS, deadLetterMaxRows: 500 }, silentLogger);
      expect(await hk.runOnce(NOW)).toStrictEqual({ deadLetters: 11_500, acks: 0, audit: 0, alerts: 0, sessions: 0 });
      const [range] = await db.query<{ lo: number; hi: number }>(
        'SELECT min(id)::int AS lo, max(id)::int AS hi FROM dead_letters',
      );
      expect(range).toStrictEqual({ lo: 11_501, hi: 12_000 });
    });

    it('deletes resolved alerts with their history and deliveries past the retention; a firing one keeps recent history', async () => {
      const rule = { id: 'weir-high', owner: 'drainage', name: 'w' };
      await db.query('INSERT INTO alert_rules (id, department_id, name, spec) VALUES ($1, $2, $3, $4)', [
        rule.id,
        rule.owner,
        rule.name,
        JSON.stringify(rule),
      ]);
      const change = (device: string, state: 'firing' | 'resolved', at: Date) =>
        registry.alerts.transition({
          rule: rule.id,
          device,
          department: 'drainage',
          state,
          value: 1,
          at,
          notify: [{ url: 'http://127.0.0.1:9/x', secret: 's' }],
          body: () => '{}',
        });
      await change('old', 'firing', daysAgo(400));
      await change('old', 'resolved', daysAgo(380));
      await change('recent', 'firing', daysAgo(10));
      await change('recent', 'resolved', daysAgo(5));
      await change('long', 'firing', daysAgo(500));
      await db.query('UPDATE alert_deliveries SET created_at = $1 WHERE id = 1', [daysAgo(400)]);
      const hk = new RegistryHousekeeping(registry, SETTINGS, silentLogger);
      // old: 2 history entries, 1 delivery (by age) and then its row; long: its one (old) history entry.
      expect((await hk.runOnce(NOW)).alerts).toBe(5);
      const alerts = await registry.alerts.list({ limit: 10 });
      expect(alerts.map((a) => [a.device, a.state])).toStrictEqual([
        ['long', 'firing'],
        ['recent', 'resolved'],
      ]);
      expect([await count('alert_history'), await count('alert_deliveries')]).toStrictEqual([2, 3]);
    });

    it('runs on its own once started and stops cleanly', async () => {
      await deadLetter(daysAgo(40));
      await deadLetter(new Date());
      const hk = new RegistryHousekeeping(registry, SETTINGS, silentLogger, 60_000, 10);
      hk.start();
      await eventually(
        () => count('dead_letters'),
        (n) => n === 1,
      );
      await hk.stop();
    });

    it.skipIf(!backend.url)('does the work once when two processes run it at the same time', async () => {
      for (let i = 0; i < 20; i++) await deadLetter(daysAgo(40));
      const a = new RegistryHousekeeping(registry, SETTINGS, silentLogger);
      const b = new RegistryHousekeeping(new Registry(db), SETTINGS, silentLogger);
      const [ra, rb] = await Promise.all([a.runOnce(NOW), b.runOnce(NOW)]);
      expect(ra.deadLetters + rb.deadLetters).toBe(20);
      expect(await count('dead_letters')).toBe(0);
    });
  });
});
