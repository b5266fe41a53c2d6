import { request } from 'node:http';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from '../../helpers/api-client.ts';
import { eventually } from '../../helpers/env.ts';
import { readEvents } from '../../helpers/sse.ts';
import { type Harness, startHarness } from './harness.ts';

interface Bundle {
  device: string;
  department: string;
  type: string;
  mqtt: { urls: string[]; username: string; password: string; clientId: string };
  topics: { up: string; status: string; down: string; ack: string };
  caCertificate: string | null;
}

describe('claim codes → provisioning bundle → device connects; live stream of ingested readings', () => {
  let h: Harness;
  const clients: MqttClient[] = [];
  beforeAll(async () => {
    h = await startHarness({}, true);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await h?.stop();
  });

  const claim = async (dept: 'environment' | 'traffic', extra: Record<string, unknown> = {}) => {
    const prov = await h.as(dept, ['provision']);
    const res = await prov<{ code: string; department: string; type: string; expiresAt: string }>(
      'POST',
      '/v1/claims',
      {
        type: 'air_quality',
        district: 'Nord',
        lat: 48.5,
        lon: 9.2,
        ...extra,
      },
    );
    expect(res.status).toBe(201);
    return res.body.code;
  };
  const connect = async (b: Bundle) => {
    const c = await connectAsync(b.mqtt.urls[0]!, {
      username: b.mqtt.username,
      password: b.mqtt.password,
      clientId: b.mqtt.clientId,
      reconnectPeriod: 0,
    });
    clients.push(c);
    return c;
  };

  it('redeems a claim code once for a bundle with which the device connects and its readings arrive', async () => {
    const code = await claim('environment');
    const anonymous = apiClient(h.base);
    const res = await anonymous<Bundle>('POST', '/v1/provision/claim', { code, id: 'aq-claimed-1' });
    expect(res.status).toBe(201);
    expect(res.body).toStrictEqual({
      device: 'aq-claimed-1',
      department: 'environment',
      type: 'air_quality',
      mqtt: {
        urls: [`mqtt://127.0.0.1:${h.platform.mqttPort}`],
        username: 'aq-claimed-1',
        password: res.body.mqtt.password,
        clientId: 'aq-claimed-1',
      },
      topics: {
        up: 'sus/v1/devices/aq-claimed-1/up',
        status: 'sus/v1/devices/aq-claimed-1/status',
        down: 'sus/v1/devices/aq-claimed-1/down/#',
        ack: 'sus/v1/devices/aq-claimed-1/ack',
      },
      caCertificate: null,
    });
    const again = await anonymous<{ code: string }>('POST', '/v1/provision/claim', { code, id: 'aq-claimed-2' });
    expect([again.status, again.body.code]).toStrictEqual([400, 'SUS_ERR_CLAIM_INVALID']);

    const device = await connect(res.body);
    const time = Date.now() - 1000;
    await device.publishAsync(res.body.topics.up, JSON.stringify({ time, values: { pm10: 17.5 } }), { qos: 1 });
    const env = await h.as('environment', ['read']);
    const latest = await eventually(
      () => env<{ values: unknown[] }>('GET', '/v1/devices/aq-claimed-1/latest'),
      (r) => r.body.values?.length === 1,
    );
    expect(latest.body.values).toStrictEqual([
      { quantity: 'pm10', value: 17.5, unit: 'ug/m3', time: new Date(time).toISOString() },
    ]);
  });

  it('returns the bundle as a QR code in PNG and SVG for the technician', async () => {
    const png = await fetch(`${h.base}/v1/provision/claim`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'image/png' },
      body: JSON.stringify({ code: await claim('environment') }),
    });
    expect(png.status).toBe(201);
    expect(png.headers.get('content-type')).toBe('image/png');
    expect(
      Buffer.from(await png.arrayBuffer())
        .subarray(0, 8)
        .toString('hex'),
    ).toBe('89504e470d0a1a0a');
    const svg = await fetch(`${h.base}/v1/provision/claim?format=svg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: await claim('environment') }),
    });
    expect(svg.headers.get('content-type')).toBe('image/svg+xml');
    expect(await svg.text()).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  });

  it('puts only a plain host from the Host header into a bundle, refusing anything else before the code is spent', async () => {
    const code = await claim('environment');
    const post = (host: string) =>
      new Promise<{ status: number; body: { code?: string; mqtt?: { urls: string[] } } }>((resolve, reject) => {
        const body = JSON.stringify({ code });
        const req = request(
          {
            host: '127.0.0.1',
            port: new URL(h.base).port,
            path: '/v1/provision/claim',
            method: 'POST',
            headers: { host, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          },
          (res) => {
            let text = '';
            res.on('data', (c: Buffer) => {
              text += c.toString();
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    for (const host of ['evil.example/#', 'user@evil.example', 'a b', 'evil.example:1883,mqtt://x']) {
      const res = await post(host);
      expect([host, res.status, res.body.code]).toStrictEqual([host, 400, 'SUS_ERR_BAD_HOST']);
    }
    const ok = await post(`sensors.city.example:${new URL(h.base).port}`);
    expect([ok.status, ok.body.mqtt?.urls]).toStrictEqual([
      201,
      [`mqtt://sensors.city.example:${h.platform.mqttPort}`],
    ]);
  });

  it('refuses an expired claim code', async () => {
    const prov = await h.as('environment', ['provision']);
    const created = await prov<{ code: string }>('POST', '/v1/claims', { type: 'air_quality', ttlS: 60 });
    await h.platform.registry.db.query("UPDATE claim_codes SET expires_at = now() - interval '1 second'");
    const res = await apiClient(h.base)<{ code: string }>('POST', '/v1/provision/claim', { code: created.body.code });
    expect([res.status, res.body.code]).toStrictEqual([400, 'SUS_ERR_CLAIM_INVALID']);
  });

  it("streams the department's ingested readings as SSE (not other departments') and resumes with Last-Event-ID", async () => {
    const envBundle = (
      await apiClient(h.base)<Bundle>('POST', '/v1/provision/claim', {
        code: await claim('environment'),
        id: 'aq-live-env',
      })
    ).body;
    const trBundle = (
      await apiClient(h.base)<Bundle>('POST', '/v1/provision/claim', { code: await claim('traffic'), id: 'aq-live-tr' })
    ).body;
    const envDevice = await connect(envBundle);
    const trDevice = await connect(trBundle);
    const key = (
      await h.admin<{ key: string }>('POST', '/v1/keys', { name: 'sse', department: 'environment', scopes: ['read'] })
    ).body.key;
    const open = (lastEventId?: string) =>
      fetch(`${h.base}/v1/stream?quantity=air_temperature`, {
        headers: { authorization: `Bearer ${key}`, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
      });
    const res = await open();
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const received = readEvents(res, 1);
    const time = Date.now() - 500;
    await trDevice.publishAsync(trBundle.topics.up, JSON.stringify({ time, values: { air_temperature: 1 } }), {
      qos: 1,
    });
    await envDevice.publishAsync(envBundle.topics.up, JSON.stringify({ time, values: { air_temperature: 21.5 } }), {
      qos: 1,
    });
    const [first] = await received;
    expect(first!.event).toBe('reading');
    expect(JSON.parse(first!.data)).toStrictEqual({
      device: 'aq-live-env',
      quantity: 'air_temperature',
      value: 21.5,
      unit: 'Cel',
      time: new Date(time).toISOString(),
      department: 'environment',
      district: 'Nord',
      deviceType: 'air_quality',
    });
    // Published while no client listens: the reconnect with Last-Event-ID gets it from the replay buffer.
    await envDevice.publishAsync(
      envBundle.topics.up,
      JSON.stringify({ time: time + 1, values: { air_temperature: 22.5 } }),
      { qos: 1 },
    );
    const resumed = await readEvents(await open(first!.id), 1);
    expect(JSON.parse(resumed[0]!.data).value).toBe(22.5);
    expect(Number(resumed[0]!.id)).toBeGreaterThan(Number(first!.id));
  });
});
