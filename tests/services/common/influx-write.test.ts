import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
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
