import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Db, openDb, registryRefusal, sqlState } from '../../../services/registry/db.ts';

const BACKENDS = [
  { name: 'PGlite', url: undefined },
  { name: 'PostgreSQL', url: process.env.TEST_DATABASE_URL },
];

/** The error `sql` rejects with (the test fails when it does not reject). */
async function refusalOf(db: Db, sql: string, params: unknown[]): Promise<unknown> {
  return db.query(sql, params).then(
    () => expect.fail(`${sql} should have been refused`),
    (err: unknown) => err,
  );
}

describe.each(BACKENDS)("the registry's refusals on $name are coded client errors", (backend) => {
  describe.skipIf(backend.name === 'PostgreSQL' && !backend.url)('mapping', () => {
    let db: Db;
    // A table of its own (not TEMP: PostgreSQL's pool may run each statement on another connection).
    const probe = `refusal_probe_${randomBytes(4).toString('hex')}`;
    beforeAll(async () => {
      db = await openDb({ databaseUrl: backend.url, dataDir: 'memory://' });
      await db.exec(`CREATE TABLE ${probe} (id int PRIMARY KEY, short varchar(2))`);
      await db.query(`INSERT INTO ${probe} (id) VALUES (1)`);
    });
    afterAll(async () => {
      await db?.exec(`DROP TABLE IF EXISTS ${probe}`);
      await db?.close();
    });

    it('maps encoding, number, JSON and constraint refusals to 400/409 with a code and the SQLSTATE', async () => {
      const cases: Array<[string, unknown[], number, string, string]> = [
        ['SELECT $1::text', ['a\u0000b'], 400, 'SUS_ERR_INVALID_VALUE', '22021'],
        ['SELECT $1::jsonb', ['{"a":"\\u0000"}'], 400, 'SUS_ERR_INVALID_VALUE', '22P05'],
        ['SELECT $1::bigint', ['1e300'], 400, 'SUS_ERR_INVALID_VALUE', '22P02'],
        ['SELECT 1 / $1::int', [0], 400, 'SUS_ERR_INVALID_VALUE', '22012'],
        [`INSERT INTO ${probe} (id, short) VALUES (2, $1)`, ['abc'], 400, 'SUS_ERR_INVALID_VALUE', '22001'],
      ];
      for (const [sql, params, status, code, state] of cases) {
        const refused = registryRefusal(await refusalOf(db, sql, params));
        expect([sql, refused?.statusCode, refused?.code, refused?.context]).toStrictEqual([
          sql,
          status,
          code,
          { sqlState: state },
        ]);
      }
      const dup = registryRefusal(await refusalOf(db, `INSERT INTO ${probe} (id) VALUES (1)`, []));
      expect([dup?.statusCode, dup?.code, dup?.context]).toStrictEqual([
        409,
        'SUS_ERR_CONFLICT',
        { sqlState: '23505' },
      ]);
    });

    it('leaves outages and defects alone: they stay server errors', async () => {
      const syntax = await refusalOf(db, 'SELEKT 1', []);
      expect([sqlState(syntax), registryRefusal(syntax)]).toStrictEqual(['42601', undefined]);
      expect(registryRefusal(new Error('connection refused'))).toBeUndefined();
      expect(registryRefusal(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBeUndefined();
    });
  });
});
