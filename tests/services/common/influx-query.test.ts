import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SusError } from '../../../services/common/errors.ts';
import { InfluxQuery } from '../../../services/common/influx.ts';
import { testConfig } from '../../helpers/env.ts';
import { freePort } from '../../helpers/net.ts';

/** The SusError a query fails with (fails the test when it succeeds or throws something else). */
async function failure(p: Promise<unknown>): Promise<SusError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof SusError) return err;
    throw err;
  }
  throw new Error('the query succeeded');
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A real HTTP server at INFLUX_URL that is not InfluxDB (a proxy's error page, a connection cut mid-answer). */
async function foreignServer(answer: (res: ServerResponse) => void): Promise<string> {
  const server = createServer((_req, res) => answer(res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('InfluxQuery reads a bounded answer and never mistakes a bad one for an empty result', () => {
  const config = testConfig();
  const influx = new InfluxQuery(config);
  const t0 = Date.now() - 3600_000;
  beforeAll(async () => {
    await influx.ensureDatabase();
    const lines = Array.from({ length: 500 }, (_, i) => `pm10,device=d${i % 50} value=${i} ${t0 + i}`).join('\n');
    const res = await fetch(`${config.INFLUX_URL}/write?db=${config.INFLUX_DB}&precision=ms`, {
      method: 'POST',
      body: lines,
    });
    expect(res.status).toBe(204);
  });
  afterAll(async () => {
    await influx.query(`DROP DATABASE "${config.INFLUX_DB}"`, 'POST');
  });

  it('refuses an answer larger than SUS_QUERY_MAX_BYTES while reading it, and answers smaller queries', async () => {
    const small = new InfluxQuery({ ...config, SUS_QUERY_MAX_BYTES: 4096 });
    const err = await failure(small.query('SELECT "value" FROM "pm10"'));
    expect([err.code, err.statusCode, err.message]).toStrictEqual([
      'SUS_ERR_QUERY_BUDGET',
      400,
      "InfluxDB's answer to this query exceeds 4096 bytes (SUS_QUERY_MAX_BYTES): narrow it (a shorter range, fewer devices or quantities)",
    ]);
    const counted = await small.query('SELECT count("value") FROM "pm10"');
    expect(counted[0]?.[0]?.values).toStrictEqual([[0, 500]]);
  });

  it('sends a query too long for a URL in a POST body', async () => {
    const devices = Array.from({ length: 400 }, (_, i) => `"device" = 'd${i}'`).join(' OR ');
    const q = `SELECT count("value") FROM "pm10" WHERE (${devices})`;
    expect(q.length).toBeGreaterThan(8000);
    expect((await influx.query(q))[0]?.[0]?.values).toStrictEqual([[0, 500]]);
  });

  it('fails with 502 when the server answers something that is not InfluxDB JSON', async () => {
    const url = await foreignServer((res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>'));
    const err = await failure(new InfluxQuery({ ...config, INFLUX_URL: url }).query('SELECT "value" FROM "pm10"'));
    expect([err.code, err.statusCode, err.message]).toStrictEqual([
      'SUS_ERR_INFLUX_QUERY',
      502,
      'InfluxDB could not answer the query (HTTP 200)',
    ]);
  });

  it('fails with 502 when the answer is cut off', async () => {
    const url = await foreignServer((res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"results":[{"statement_id":0,"series":[{"name":"pm10","columns":["time","value"],"values":[[1,');
      setTimeout(() => res.destroy(), 20);
    });
    const err = await failure(new InfluxQuery({ ...config, INFLUX_URL: url }).query('SELECT "value" FROM "pm10"'));
    expect([err.code, err.statusCode]).toStrictEqual(['SUS_ERR_INFLUX_QUERY', 502]);
  });

  it("keeps the query, the server's address and its error out of the message (they are the error's cause)", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const down = await failure(new InfluxQuery({ ...config, INFLUX_URL: url }).query('SELECT "value" FROM "pm10"'));
    expect([down.code, down.statusCode, down.message]).toStrictEqual([
      'SUS_ERR_INFLUX_UNAVAILABLE',
      503,
      'InfluxDB is unreachable; try again later',
    ]);
    expect(down.context).toStrictEqual({});
    expect(down.cause).toMatchObject({ url });
    const refused = await failure(new InfluxQuery({ ...config, INFLUX_DB: 'no_such_db' }).query('SELECT 1 FROM "x"'));
    expect([refused.code, refused.message, refused.context]).toStrictEqual([
      'SUS_ERR_INFLUX_QUERY',
      'InfluxDB could not answer the query',
      {},
    ]);
    expect(refused.cause).toStrictEqual({ query: 'SELECT 1 FROM "x"', error: 'database not found: no_such_db' });
  });
});
