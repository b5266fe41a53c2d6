import { beforeEach, describe, expect, it } from 'vitest';
import type { Db, Registry } from '../../../services/registry/index.ts';
import { BACKENDS, unavailable, useRegistry } from './backends.ts';

const HOUR = 3600_000;
const T = Date.UTC(2026, 10, 30, 10, 0, 0);

/**
 * Every aggregate reads its quantity's stale hours and rollup generation (the API's rollup coverage); the reads are
 * shared between callers (services/registry/shared-read.ts) and must still show every mark and every recomputation
 * to the next read after it.
 */
describe.each(BACKENDS)('stale hours of the rollups on $name', (backend) => {
  describe.skipIf(unavailable(backend))('behaviour', () => {
    // A new Registry per test (useRegistry): no shared read carries over from the test before.
    const under = useRegistry(backend);
    let db: Db;
    let registry: Registry;
    beforeEach(async () => {
      ({ db, registry } = under);
      await db.exec('TRUNCATE rollup_dirty, rollup_generation');
    });

    it('shows a mark issued while a read is under way to the next read, and a recomputation with its generation', async () => {
      const first = await registry.rollups.staleness('pm10', 10);
      // A mark issued while reads are under way: they may not see it, the next one must.
      const during = [registry.rollups.staleness('pm10', 10), registry.rollups.staleness('pm10', 10)];
      const mark = registry.rollups.markDirty([{ window: T, measurement: 'pm10' }]);
      await Promise.all([...during, mark]);
      const marked = await registry.rollups.staleness('pm10', 10);
      const other = await registry.rollups.staleness('no2', 10);
      await registry.rollups.clearDirty(await registry.rollups.dirty(10));
      const cleared = await registry.rollups.staleness('pm10', 10);
      expect([first, marked, other, cleared]).toStrictEqual([
        { staleHours: [], generation: '0' },
        { staleHours: [T], generation: '0' },
        { staleHours: [], generation: '0' },
        { staleHours: [], generation: '1' },
      ]);
    });

    // PostgreSQL is written by other processes too: there every read goes to the database.
    it.skipIf(backend.name === 'PostgreSQL')(
      'knows unchanged stale hours without a query, beside the latest-value version, until any other statement',
      async () => {
        const issued = () => db.statementsIssued!();
        await registry.rollups.markDirty([{ window: T + HOUR, measurement: 'pm10' }]);
        // An aggregate reads both; neither read makes the other unknown.
        const known = [await registry.rollups.staleness('pm10', 10), await registry.latest.version()];
        const before = issued();
        const polls = [];
        for (let i = 0; i < 3; i++)
          polls.push(await registry.rollups.staleness('pm10', 10), await registry.latest.version());
        const queries = issued() - before;
        await registry.rollups.markDirty([{ window: T, measurement: 'pm10' }]);
        const after = await registry.rollups.staleness('pm10', 10);
        expect([queries, polls, after]).toStrictEqual([
          0,
          [...known, ...known, ...known],
          { staleHours: [T, T + HOUR], generation: '0' },
        ]);
      },
    );
  });
});
