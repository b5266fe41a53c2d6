import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installProblemHandlers } from '../../../services/api/problem.ts';
import { type Db, openDb } from '../../../services/registry/db.ts';

describe('problem handler: the safety net behind the grammars', () => {
  let db: Db;
  const app = Fastify();
  beforeAll(async () => {
    db = await openDb({ dataDir: 'memory://' });
    installProblemHandlers(app);
    // A route without a grammar on its value: what the registry refuses must still be a coded 4xx.
    app.get('/probe', async (req) => db.query('SELECT $1::text AS v', [(req.query as { v: string }).v]));
    app.get('/defect', async () => {
      throw new TypeError('a bug');
    });
  });
  afterAll(async () => {
    await app.close();
    await db?.close();
  });

  it('answers a value the registry refuses as 400 SUS_ERR_INVALID_VALUE, not SUS_ERR_INTERNAL', async () => {
    const res = await app.inject({ method: 'GET', url: '/probe?v=%00' });
    expect([res.statusCode, res.headers['content-type'], res.json()]).toStrictEqual([
      400,
      'application/problem+json; charset=utf-8',
      {
        type: '/docs/errors.md#sus_err_invalid_value',
        title: 'Bad Request',
        status: 400,
        code: 'SUS_ERR_INVALID_VALUE',
        detail: 'the registry cannot store a value of this request (SQLSTATE 22021)',
        context: { sqlState: '22021' },
      },
    ]);
  });

  it('keeps a defect a 500 with the request id, its details only in the log', async () => {
    const res = await app.inject({ method: 'GET', url: '/defect' });
    expect([res.statusCode, res.json()]).toStrictEqual([
      500,
      {
        type: '/docs/errors.md#sus_err_internal',
        title: 'Internal Server Error',
        status: 500,
        code: 'SUS_ERR_INTERNAL',
        detail: 'internal error; see the server log',
        instance: 'req-2',
      },
    ]);
  });
});
