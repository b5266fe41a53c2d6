import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Point } from '@influxdata/influxdb-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createInfluxWriteApi, InfluxQuery } from '../../../services/common/influx.ts';
import { InfluxLineSender } from '../../../services/ingest/writer.ts';
import { testConfig } from '../../helpers/env.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A real HTTP server in InfluxDB's place that records what the client sends. */
async function recordingServer() {
  const seen: Array<{ url: string; auth: string | undefined; body: string }> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => {
      body += d.toString();
    });
    req.on('end', () => {
      seen.push({ url: req.url ?? '', auth: req.headers.authorization, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

describe('the official client in v1 mode (InfluxDB before 1.8)', () => {
  it('posts to /write with the one-letter precision and Basic auth', async () => {
    const server = await recordingServer();
    const config = testConfig({
      INFLUX_URL: server.url,
      INFLUX_API: 'v1',
      INFLUX_DB: 'city',
      INFLUX_USERNAME: 'sus',
      INFLUX_PASSWORD: 'pw',
    });
    for (const precision of ['us', 'ms'] as const) {
      const api = createInfluxWriteApi(config, { maxRetries: 0 }, precision);
      api.writePoint(
        new Point('air_temperature').tag('device', 'd1').floatField('value', 7.5).timestamp('1700000000000'),
      );
      await api.close();
    }
    expect(server.seen).toStrictEqual([
      {
        url: '/write?db=city&precision=u',
        auth: `Basic ${Buffer.from('sus:pw').toString('base64')}`,
        body: 'air_temperature,device=d1 value=7.5 1700000000000',
      },
      {
        url: '/write?db=city&precision=ms',
        auth: `Basic ${Buffer.from('sus:pw').toString('base64')}`,
        body: 'air_temperature,device=d1 value=7.5 1700000000000',
      },
    ]);
  });

  it('stores batched points in the real InfluxDB of the local stack', async () => {
    const config = testConfig();
    const influx = new InfluxQuery(config);
    await influx.ensureDatabase();
    cleanups.push(async () => {
      await influx.query(`DROP DATABASE "${config.INFLUX_DB}"`, 'POST');
    });
    const api = createInfluxWriteApi(config, { batchSize: 2, maxRetries: 0 });
    const t = Date.now() - 60_000;
    api.writePoints([
      new Point('pm10').tag('device', 'd1').floatField('value', 12).timestamp(String(t)),
      new Point('pm10')
        .tag('device', 'd1')
        .floatField('value', 13)
        .timestamp(String(t + 1)),
      new Point('pm10')
        .tag('device', 'd2')
        .floatField('value', 14)
        .timestamp(String(t + 2)),
    ]);
    await api.close();
    const [series] = await influx.query('SELECT "device", "value" FROM "pm10" ORDER BY time');
    expect(series?.[0]?.values.map((v) => [v[1], v[2]])).toStrictEqual([
      ['d1', 12],
      ['d1', 13],
      ['d2', 14],
    ]);
  });
});

describe("ingest's InfluxLineSender and InfluxQuery share one Authorization header", () => {
  it('posts the spooled lines to /write with Basic auth (v1) and to /api/v2/write with a token (v2)', async () => {
    const server = await recordingServer();
    const body = Buffer.from('pm10,device=d1 value=3.0 1700000000000');
    const v1 = testConfig({
      INFLUX_URL: server.url,
      INFLUX_API: 'v1',
      INFLUX_DB: 'city',
      INFLUX_USERNAME: 'sus',
      INFLUX_PASSWORD: 'pw',
    });
    const v2 = testConfig({
      INFLUX_URL: server.url,
      INFLUX_API: 'v2',
      INFLUX_DB: 'city',
      INFLUX_ORG: 'town',
      INFLUX_TOKEN: 'tok',
    });
    for (const config of [v1, v2]) {
      const sender = new InfluxLineSender(config);
      await sender.send(body);
      sender.close();
    }
    expect(server.seen).toStrictEqual([
      {
        url: '/write?db=city&precision=ms',
        auth: `Basic ${Buffer.from('sus:pw').toString('base64')}`,
        body: body.toString(),
      },
      { url: '/api/v2/write?org=town&bucket=city&precision=ms', auth: 'Token tok', body: body.toString() },
    ]);
  });
});
