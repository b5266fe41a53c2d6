import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Db, openDb } from '../../../services/registry/db.ts';

/**
 * The embedded registry keeps its statements prepared by SQL text (services/registry/pglite-statements.ts): typed
 * parameters and rows, statement errors that leave the connection usable, transactions that still commit or roll
 * back as a whole, and more distinct statements than it keeps (the least recently used ones closed).
 */
describe('PGlite registry with prepared statements', () => {
  let db: Db;
  beforeAll(async () => {
    db = await openDb({ dataDir: 'memory://' });
    await db.exec('CREATE TABLE t (id bigserial PRIMARY KEY, name text NOT NULL UNIQUE, at timestamptz, tags text[])');
  });
  afterAll(() => db.close());

  it('binds typed parameters and parses typed rows, the first time and when the statement is reused', async () => {
    const at = new Date('2026-03-01T10:00:00.000Z');
    const insert = 'INSERT INTO t (name, at, tags) VALUES ($1, $2, $3::text[]) RETURNING id, name, at, tags';
    expect(await db.query(insert, ['a', at, ['x', 'y, z']])).toStrictEqual([
      { id: 1, name: 'a', at, tags: ['x', 'y, z'] },
    ]);
    expect(await db.query(insert, ['b', null, []])).toStrictEqual([{ id: 2, name: 'b', at: null, tags: [] }]);
    expect(await db.query('UPDATE t SET at = $2 WHERE id = $1', [1, at])).toStrictEqual([]);
  });

  it('answers a statement error with its SQLSTATE and runs the next statement as usual', async () => {
    const insert = 'INSERT INTO t (name) VALUES ($1)';
    await db.query(insert, ['dup']);
    await expect(db.query(insert, ['dup'])).rejects.toMatchObject({ code: '23505' });
    await expect(db.query('SELECT nope FROM t')).rejects.toMatchObject({ code: '42703' });
    expect(await db.query('SELECT name FROM t WHERE name = $1', ['dup'])).toStrictEqual([{ name: 'dup' }]);
  });

  it('rolls a failed transaction back as a whole and commits the next one', async () => {
    const insert = 'INSERT INTO t (name) VALUES ($1)';
    await expect(
      db.transaction(async (tx) => {
        await tx.query(insert, ['in-tx']);
        await tx.query(insert, ['dup']);
      }),
    ).rejects.toMatchObject({ code: '23505' });
    await db.transaction(async (tx) => {
      await tx.query(insert, ['committed']);
    });
    const names = await db.query<{ name: string }>('SELECT name FROM t WHERE name = ANY($1) ORDER BY name', [
      ['in-tx', 'committed'],
    ]);
    expect(names).toStrictEqual([{ name: 'committed' }]);
  });

  it('keeps answering with more distinct statements than it keeps prepared', async () => {
    for (let i = 0; i < 300; i++)
      expect(await db.query(`SELECT $1::int + ${i} AS n`, [1])).toStrictEqual([{ n: 1 + i }]);
    expect(await db.query('SELECT $1::int + 0 AS n', [5])).toStrictEqual([{ n: 5 }]);
  });
});
