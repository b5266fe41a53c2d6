import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { InfluxQuery } from '../../../services/common/influx.ts';
import { silentLogger } from '../../../services/common/logger.ts';
import { Spool } from '../../../services/ingest/spool/spool.ts';
import { InfluxLineSender, SpoolDrainer } from '../../../services/ingest/writer.ts';
import { eventually, testConfig } from '../../helpers/env.ts';
import { recordingDeadLetters } from '../../helpers/spool.ts';

const dirs: string[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const openSpool = async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sus-drain-test-'));
  dirs.push(dir);
  const spool = new Spool({ dir, maxBytes: 1 << 30 }, silentLogger);
  await spool.open();
  cleanups.push(() => spool.close());
  return spool;
};

const startDrainer = (
  spool: Spool,
  sender: InfluxLineSender,
  batchSize = 1000,
  store = recordingDeadLetters().store,
) => {
  const drainer = new SpoolDrainer(
    spool,
    sender,
    { batchSize, lingerMs: 20, retryMinMs: 20, retryMaxMs: 50 },
    silentLogger,
    store,
  );
  drainer.start();
  cleanups.push(() => drainer.stop());
  return drainer;
};

/** A real HTTP server standing in for InfluxDB: answers with the scripted statuses, then 204. */
const fakeInflux = async (statuses: number[], probe: () => number = () => 0) => {
  const bodies: string[] = [];
  // What `probe` returned when each request arrived (e.g. the spool depth while InfluxDB was failing).
  const probed: number[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => {
      body += d.toString();
    });
    req.on('end', () => {
      bodies.push(`${req.method} ${req.url} ${body}`);
      probed.push(probe());
      const status = statuses.shift() ?? 204;
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(status === 204 ? '' : JSON.stringify({ error: `scripted ${status}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, bodies, probed };
};

/** A stand-in InfluxDB that holds its answer to the first write until `release()`; every other write gets 204. */
const holdingInflux = async () => {
  const bodies: string[] = [];
  let release = () => {};
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => {
      body += d.toString();
    });
    req.on('end', () => {
      bodies.push(body);
      const answer = () => res.writeHead(204).end();
      if (bodies.length === 1) release = answer;
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, bodies, release: () => release() };
};

describe('spool drainer → InfluxDB', () => {
  it('writes spooled lines to the real InfluxDB and empties the spool', async () => {
    const config = testConfig();
    const influx = new InfluxQuery(config);
    await influx.ensureDatabase();
    const spool = await openSpool();
    const drainer = startDrainer(spool, new InfluxLineSender(config), 2);
    const t = Date.now() - 60_000;
    await drainer.write([`air_temperature,device=d1 value=21.5 ${t}`, `pm10,device=d1 value=3.0 ${t}`]);
    await drainer.write([`air_temperature,device=d1 value=22.5 ${t + 1}`]);
    await drainer.flush();
    expect(spool.depth).toBe(0);
    const res = await influx.query('SELECT "value" FROM "air_temperature","pm10" ORDER BY time');
    expect(res[0]).toStrictEqual([
      {
        name: 'air_temperature',
        columns: ['time', 'value'],
        values: [
          [t, 21.5],
          [t + 1, 22.5],
        ],
      },
      { name: 'pm10', columns: ['time', 'value'], values: [[t, 3]] },
    ]);
    expect(drainer.stats).toStrictEqual({ written: 3, batches: 2, failures: 0, refused: 0 });
    await influx.query(`DROP DATABASE "${config.INFLUX_DB}"`, 'POST');
  });

  it('keeps a batch in the spool while InfluxDB fails and commits it only after a 2xx, in order', async () => {
    const spool = await openSpool();
    const fake = await fakeInflux([503, 500], () => spool.depth);
    const config = testConfig({ INFLUX_URL: fake.url, INFLUX_API: 'v1', INFLUX_DB: 'city' });
    const drainer = startDrainer(spool, new InfluxLineSender(config));
    await drainer.write(['a v=1 1', 'a v=2 2']);
    await eventually(
      async () => drainer.stats.failures,
      (n) => n >= 1,
    );
    await drainer.write(['a v=3 3']);
    await eventually(
      async () => spool.depth,
      (d) => d === 0,
    );
    expect(drainer.stats).toStrictEqual({ written: 3, batches: 2, failures: 2, refused: 0 });
    expect(fake.bodies).toStrictEqual([
      'POST /write?db=city&precision=ms a v=1 1\na v=2 2',
      'POST /write?db=city&precision=ms a v=1 1\na v=2 2',
      'POST /write?db=city&precision=ms a v=1 1\na v=2 2',
      'POST /write?db=city&precision=ms a v=3 3',
    ]);
    // While InfluxDB failed, both lines stayed in the spool (the third may have joined them); they left only after the 2xx.
    expect(Math.min(...fake.probed.slice(0, 2))).toBeGreaterThanOrEqual(2);
  });

  it('dead-letters a line InfluxDB refuses (400) instead of retrying it, and carries on with the next batch', async () => {
    const fake = await fakeInflux([400]);
    const config = testConfig({ INFLUX_URL: fake.url, INFLUX_API: 'v2', INFLUX_DB: 'city', INFLUX_ORG: 'town' });
    const spool = await openSpool();
    const { store, filed } = recordingDeadLetters();
    const drainer = startDrainer(spool, new InfluxLineSender(config), 1000, store);
    await drainer.write(['bad line']);
    await eventually(
      async () => drainer.stats.refused,
      (n) => n === 1,
    );
    await drainer.write(['b v=1 1']);
    await eventually(
      async () => spool.depth,
      (d) => d === 0,
    );
    expect(fake.bodies).toStrictEqual([
      'POST /api/v2/write?org=town&bucket=city&precision=ms bad line',
      'POST /api/v2/write?org=town&bucket=city&precision=ms b v=1 1',
    ]);
    expect(drainer.stats).toStrictEqual({ written: 1, batches: 2, failures: 0, refused: 1 });
    expect(filed).toStrictEqual([
      {
        source: 'influxdb',
        topic: null,
        device: null,
        reasons: [{ code: 'INGEST_INFLUX_REFUSED', message: 'InfluxDB refused the line (400): scripted 400' }],
        payload: Buffer.from('bad line'),
        receivedAt: expect.any(Date),
        format: 'line-protocol',
      },
    ]);
  });
  it('posts the next batch while InfluxDB works on one, and commits them in append order', async () => {
    const spool = await openSpool();
    const fake = await holdingInflux();
    const config = testConfig({ INFLUX_URL: fake.url, INFLUX_API: 'v1', INFLUX_DB: 'city' });
    // Two records of a full batch each, waiting when the drainer starts (as after an outage).
    await spool.append(['a v=1 1', 'a v=2 2']);
    await spool.append(['a v=3 3', 'a v=4 4']);
    startDrainer(spool, new InfluxLineSender(config), 2);
    await eventually(
      async () => fake.bodies.length,
      (n) => n === 2,
    );
    // The second write is acknowledged, the first is not: nothing may leave the spool yet.
    expect(spool.depth).toBe(4);
    fake.release();
    await eventually(
      async () => spool.depth,
      (d) => d === 0,
    );
    expect(fake.bodies).toStrictEqual(['a v=1 1\na v=2 2', 'a v=3 3\na v=4 4']);
  });

  it('writes what arrived during a full batch right after it, without waiting out the linger', async () => {
    const spool = await openSpool();
    const fake = await holdingInflux();
    const config = testConfig({ INFLUX_URL: fake.url, INFLUX_API: 'v1', INFLUX_DB: 'city' });
    const drainer = new SpoolDrainer(
      spool,
      new InfluxLineSender(config),
      { batchSize: 2, lingerMs: 600_000 },
      silentLogger,
      recordingDeadLetters().store,
    );
    drainer.start();
    cleanups.push(() => drainer.stop());
    await drainer.write(['a v=1 1', 'a v=2 2']);
    await eventually(
      async () => fake.bodies.length,
      (n) => n === 1,
    );
    await drainer.write(['a v=3 3']);
    fake.release();
    await eventually(
      async () => spool.depth,
      (d) => d === 0,
      5000,
    );
    expect(fake.bodies).toStrictEqual(['a v=1 1\na v=2 2', 'a v=3 3']);
  });
});
