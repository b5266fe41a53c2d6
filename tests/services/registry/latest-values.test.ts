import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Db, type LatestValue, migrate, Registry } from '../../../services/registry/index.ts';
import { openTestDb } from '../../helpers/pg.ts';

const BACKENDS = [
  { name: 'PGlite', url: undefined },
  { name: 'PostgreSQL', url: process.env.TEST_DATABASE_URL },
] as const;

const T = Date.UTC(2026, 11, 1, 10, 0, 0);
const v = (device: string, quantity: string, value: number, time: number, flags?: string[]): LatestValue => ({
  device,
  quantity,
  value,
  unit: quantity === 'pm10' ? 'ug/m3' : 'Cel',
  time,
  ...(flags ? { flags } : {}),
});

describe.each(BACKENDS)('latest-value store on $name', (backend) => {
  describe.skipIf(backend.name === 'PostgreSQL' && !backend.url)('behaviour', () => {
    let db: Db;
    let drop: () => Promise<void>;
    let registry: Registry;

    beforeAll(async () => {
      ({ db, drop } = await openTestDb(backend.url));
      registry = new Registry(db);
      await migrate(db);
    });
    afterAll(async () => drop?.());
    beforeEach(async () => {
      await db.exec('TRUNCATE latest_values, devices, departments CASCADE');
      await registry.createDepartment({ id: 'environment', name: 'Environment' });
      await registry.createDepartment({ id: 'traffic', name: 'Traffic' });
      await registry.createDevices([
        { id: 'a', name: 'A', department: 'environment', type: 'air_quality', district: 'Nord', lat: 48.5, lon: 9.2 },
        { id: 'b', name: 'B', department: 'environment', type: 'air_quality', district: 'Sued', lat: 48.4, lon: 9.3 },
        { id: 't', name: 'T', department: 'traffic', type: 'counter', district: null, lat: null, lon: null },
      ]);
    });

    const all = async (s: Partial<Parameters<Registry['latest']['read']>[0]> = {}) =>
      (await registry.latest.read({ quantities: ['air_temperature', 'pm10'], ...s })).sort(
        (x, y) => x.device.localeCompare(y.device) || x.quantity.localeCompare(y.quantity),
      );

    it('keeps the newest value per device × quantity: a late backlog never overwrites it, an equal time does', async () => {
      expect(
        await registry.latest.upsert([v('a', 'pm10', 1, T), v('a', 'pm10', 3, T + 2000), v('a', 'pm10', 2, T + 1000)]),
      ).toBe(1);
      // An offline device's backlog arrives after the newer value.
      expect(await registry.latest.upsert([v('a', 'pm10', 9, T + 1000), v('a', 'pm10', 8, T)])).toBe(0);
      expect(await all()).toStrictEqual([v('a', 'pm10', 3, T + 2000)]);
      // The same time again: the rewrite wins, as a rewritten point does in InfluxDB.
      expect(await registry.latest.upsert([v('a', 'pm10', 4, T + 2000, ['out_of_range'])])).toBe(1);
      expect(await all()).toStrictEqual([v('a', 'pm10', 4, T + 2000, ['out_of_range'])]);
      expect(await registry.latest.upsert([v('a', 'pm10', 5, T + 3000, ['time_replaced', 'out_of_range'])])).toBe(1);
      expect(await all()).toStrictEqual([v('a', 'pm10', 5, T + 3000, ['time_replaced', 'out_of_range'])]);
    });

    it('holds one row per registered device × quantity: unknown devices are skipped, a deleted device takes its rows', async () => {
      await registry.latest.upsert([
        v('a', 'pm10', 1, T),
        v('a', 'air_temperature', 2, T),
        v('b', 'pm10', 3, T),
        v('ghost', 'pm10', 4, T),
      ]);
      expect(await db.query('SELECT count(*)::int AS n FROM latest_values')).toStrictEqual([{ n: 3 }]);
      await db.query("DELETE FROM devices WHERE id = 'a'");
      expect(await all()).toStrictEqual([v('b', 'pm10', 3, T)]);
    });

    it('reads by quantity, department, devices and window start', async () => {
      await registry.latest.upsert([
        v('a', 'pm10', 1, T),
        v('a', 'air_temperature', 2, T + 5000),
        v('b', 'pm10', 3, T + 1000),
        v('t', 'pm10', 4, T),
      ]);
      expect(await all({ quantities: ['pm10'], department: 'environment' })).toStrictEqual([
        v('a', 'pm10', 1, T),
        v('b', 'pm10', 3, T + 1000),
      ]);
      expect(await all({ devices: ['a', 't'] })).toStrictEqual([
        v('a', 'air_temperature', 2, T + 5000),
        v('a', 'pm10', 1, T),
        v('t', 'pm10', 4, T),
      ]);
      expect(await all({ department: 'environment', from: T + 1000 })).toStrictEqual([
        v('a', 'air_temperature', 2, T + 5000),
        v('b', 'pm10', 3, T + 1000),
      ]);
      expect(await all({ devices: [] })).toStrictEqual([]);
      expect(await all({ quantities: [] })).toStrictEqual([]);
    });

    it("moves its version when a value or a device's place or kind changes, not on last-seen or an older value", async () => {
      const versions: string[] = [await registry.latest.version()];
      const step = async (what: string, fn: () => Promise<unknown>) => {
        await fn();
        const now = await registry.latest.version();
        const moved = now !== versions.at(-1);
        versions.push(now);
        return [what, moved];
      };
      expect([
        await step('value', () => registry.latest.upsert([v('a', 'pm10', 1, T + 1000)])),
        await step('older value', () => registry.latest.upsert([v('a', 'pm10', 0, T)])),
        await step('last seen', () => registry.touchDevices(['a', 'b'], new Date())),
        await step('moved', () => registry.updateDevice('a', { lat: 48.6 })),
        await step('renamed', () => registry.updateDevice('a', { name: 'A2' })),
        await step('new device', () =>
          registry.createDevices([{ id: 'c', name: 'C', department: 'environment', type: 'air_quality' }]),
        ),
      ]).toStrictEqual([
        ['value', true],
        ['older value', false],
        ['last seen', false],
        ['moved', true],
        ['renamed', false],
        ['new device', true],
      ]);
    });

    // PostgreSQL is written by other processes too: there every version is read from the database.
    it.skipIf(backend.name === 'PostgreSQL')(
      'knows an unchanged version without a query, and reads again after any statement, also one issued during a read',
      async () => {
        const issued = () => db.statementsIssued?.();
        const first = await registry.latest.version();
        const before = issued();
        const polls = await Promise.all([registry.latest.version(), registry.latest.version()]);
        const queriesForPolls = issued()! - before!;
        // An upsert issued while a version read is under way: the read may not see it, the next version must.
        const during = registry.latest.version();
        const upsert = registry.latest.upsert([v('a', 'pm10', 5, T + 5000)]);
        await Promise.all([during, upsert]);
        const after = await registry.latest.version();
        expect([polls, queriesForPolls, after !== first, await registry.latest.version()]).toStrictEqual([
          [first, first],
          0,
          true,
          after,
        ]);
      },
    );
  });
});
