import { randomBytes } from 'node:crypto';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform } from '../../services/cli/platform.ts';
import { silentLogger } from '../../services/common/logger.ts';
import { apiClient } from '../helpers/api-client.ts';
import { eventually, TEST_ADMIN_KEY, testConfig } from '../helpers/env.ts';
import { freshSchema } from '../helpers/postgres.ts';
import { readEvents } from '../helpers/sse.ts';

const REDIS = process.env.TEST_REDIS_URL;
const PG = process.env.TEST_DATABASE_URL;
if (!REDIS || !PG)
  console.warn('shared-state.test.ts skipped: TEST_REDIS_URL or TEST_DATABASE_URL is unset (npm test sets both)');

interface Credentials {
  username: string;
  password: string;
  clientId: string;
}

/**
 * Several nodes in one test process, as `sus broker` and `sus api` run them: two broker nodes, two API nodes, one
 * PostgreSQL schema, one Redis (a prefix of their own), one InfluxDB database. What one node learns, the others
 * must act on.
 */
describe.skipIf(!REDIS || !PG)('nodes sharing state through Redis and PostgreSQL', () => {
  let schema: { url: string; drop(): Promise<void> };
  let broker: Platform;
  let broker2: Platform;
  let api1: Platform;
  let api2: Platform;
  const clients: MqttClient[] = [];
  const url = (p: Platform) => `http://127.0.0.1:${p.httpPort}`;

  beforeAll(async () => {
    schema = (await freshSchema())!;
    const base = testConfig({
      DATABASE_URL: schema.url,
      REDIS_URL: REDIS!,
      SUS_REDIS_PREFIX: `sus-test-${randomBytes(4).toString('hex')}:`,
      SUS_LEASE_TTL_MS: '1500',
      SUS_API_RATE_LIMIT: '200',
      SUS_LAST_SEEN_FLUSH_MS: '200',
      SUS_HEALTH_PORT: '0',
      SUS_PLAUSIBILITY: 'flag',
    });
    broker = await startPlatform(base, silentLogger, { broker: true });
    broker2 = await startPlatform(base, silentLogger, { broker: true });
    api1 = await startPlatform(base, silentLogger, { api: true });
    api2 = await startPlatform(base, silentLogger, { api: true });
    await broker.registry.createDepartment({ id: 'environment', name: 'Environment' });
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) await c.endAsync(true).catch(() => undefined);
    for (const p of [api2, api1, broker2, broker]) await p?.stop();
    await schema?.drop();
  });

  const register = async (id: string): Promise<Credentials> => {
    const res = await apiClient(url(api1), TEST_ADMIN_KEY)<{ credentials: Credentials }>('POST', '/v1/devices', {
      id,
      name: id,
      department: 'environment',
      type: 'air_quality',
      district: 'Altstadt',
    });
    expect(res.status).toBe(201);
    return res.body.credentials;
  };
  const connect = async (c: Credentials) => {
    const client = await connectAsync(`mqtt://127.0.0.1:${broker.mqttPort}`, { ...c, reconnectPeriod: 0 }, false);
    clients.push(client);
    return client;
  };
  const stream = (p: Platform, lastEventId?: string) =>
    fetch(`${url(p)}/v1/stream?device=cl-stream-01`, {
      headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
    });

  it("streams a broker node's readings on an API node without ingest, and resumes with Last-Event-ID on another", async () => {
    const device = await connect(await register('cl-stream-01'));
    const live = await stream(api2);
    expect(live.status).toBe(200);
    const first = readEvents(live, 1);
    await eventually(
      async () => {
        await device.publishAsync('sus/v1/devices/cl-stream-01/up', JSON.stringify({ values: { pm2_5: 11 } }), {
          qos: 1,
        });
        return Promise.race([first, new Promise((r) => setTimeout(() => r(undefined), 500))]);
      },
      (e) => e !== undefined,
    );
    const [event] = await first;
    expect(event?.event).toBe('reading');
    expect(JSON.parse(event!.data)).toMatchObject({ device: 'cl-stream-01', quantity: 'pm2_5', value: 11 });
    // Two more after the event the client saw; it reconnects to the other API node with that event's id.
    for (const value of [12, 13])
      await device.publishAsync('sus/v1/devices/cl-stream-01/up', JSON.stringify({ values: { pm2_5: value } }), {
        qos: 1,
      });
    const resumed = await readEvents(await stream(api1, event!.id), 2);
    expect(resumed.map((e) => (JSON.parse(e.data) as { value: number }).value)).toStrictEqual([12, 13]);
    expect(resumed.map((e) => Number(e.id))).toStrictEqual([Number(event!.id) + 1, Number(event!.id) + 2]);
  });

  it('delivers a reading ingested on one broker node to a SensorThings MQTT reader on the other, flags and all', async () => {
    // SensorThings shows devices of the registry's device types (the Sensors).
    const admin = apiClient(url(api1), TEST_ADMIN_KEY);
    expect((await admin('POST', '/v1/device-types', { id: 'cl_aq', name: 'AQ', quantities: ['pm10'] })).status).toBe(
      201,
    );
    const made = await admin<{ credentials: Credentials }>('POST', '/v1/devices', {
      id: 'cl-sta-01',
      name: 'cl-sta-01',
      department: 'environment',
      type: 'cl_aq',
    });
    expect(made.status).toBe(201);
    const device = await connect(made.body.credentials);
    const reader = await connectAsync(
      `mqtt://127.0.0.1:${broker2.mqttPort}`,
      { username: 'sta', password: TEST_ADMIN_KEY, clientId: '@sta/cluster', reconnectPeriod: 0 },
      false,
    );
    clients.push(reader);
    const received: Array<{ result: number; resultQuality: unknown }> = [];
    reader.on('message', (_t, payload) => received.push(JSON.parse(payload.toString())));
    const granted = await reader.subscribeAsync("v1.1/Datastreams('cl-sta-01:pm10')/Observations", { qos: 1 });
    expect(granted.map((g) => g.qos)).toStrictEqual([1]);
    await eventually(
      async () => {
        await device.publishAsync('sus/v1/devices/cl-sta-01/up', JSON.stringify({ values: { pm10: 21 } }), { qos: 1 });
        return received;
      },
      (r) => r.length > 0,
    );
    expect(received[0]).toMatchObject({ result: 21, resultQuality: null });
    // 5,000 µg/m³ is outside pm10's plausible range: stored with the flag out_of_range, shown on the other node too.
    await device.publishAsync('sus/v1/devices/cl-sta-01/up', JSON.stringify({ values: { pm10: 5000 } }), { qos: 1 });
    await eventually(
      async () => received,
      (r) => r.some((o) => o.result === 5000),
    );
    expect(received.find((o) => o.result === 5000)).toMatchObject({ resultQuality: ['out_of_range'] });
  });

  it("sends a broker node's alert to an API node's stream (the rule made through another API node)", async () => {
    const device = await connect(await register('cl-alert-01'));
    const made = await apiClient(url(api1), TEST_ADMIN_KEY)('POST', '/v1/rules', {
      name: 'pm10 high',
      owner: 'environment',
      quantity: 'pm10',
      device: 'cl-alert-01',
      above: 100,
    });
    expect(made.status).toBe(201);
    const live = await fetch(`${url(api2)}/v1/stream?device=cl-alert-01&quantity=pm10`, {
      headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` },
    });
    // The broker node learns of the rule through the relayed registry change: send until an alert comes.
    const sending = setInterval(
      () =>
        void device.publishAsync('sus/v1/devices/cl-alert-01/up', JSON.stringify({ values: { pm10: 150 } }), {
          qos: 1,
        }),
      300,
    );
    let alert: { event?: string; data: string } | undefined;
    try {
      const reader = live.body!.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      const until = Date.now() + 10_000;
      while (!alert && Date.now() < until) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        const m = /event: alert\ndata: (.*)\n/.exec(buffer);
        if (m) alert = { event: 'alert', data: m[1]! };
      }
      await reader.cancel();
    } finally {
      clearInterval(sending);
    }
    expect(alert?.event).toBe('alert');
    expect(JSON.parse(alert!.data)).toMatchObject({ device: 'cl-alert-01', state: 'firing', value: 150 });
  });

  it('ends a key revoked through one API node on the other within a second (its key cache holds keys for 10 s)', async () => {
    const admin = apiClient(url(api1), TEST_ADMIN_KEY);
    const made = await admin<{ key: string; record: { id: string } }>('POST', '/v1/keys', {
      name: 'cl-revoked',
      department: 'environment',
      scopes: ['read'],
    });
    expect(made.status).toBe(201);
    const other = apiClient(url(api2), made.body.key);
    expect((await other('GET', '/v1/devices')).status).toBe(200);
    expect((await admin('DELETE', `/v1/keys/${made.body.record.id}`)).status).toBe(200);
    const started = Date.now();
    await eventually(
      async () => (await other('GET', '/v1/devices')).status,
      (s) => s === 401,
      1000,
    );
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('holds one rate limit across API nodes', async () => {
    const admin = apiClient(url(api1), TEST_ADMIN_KEY);
    const made = await admin<{ key: string }>('POST', '/v1/keys', {
      name: 'cl-limited',
      department: 'environment',
      scopes: ['read'],
    });
    const statuses: number[] = [];
    // 200 per minute for the key: 100 through each node, then one more through either is refused. (A key's first
    // request on each node is also charged to the address, as an authentication attempt: not to the key.)
    for (let i = 0; i < 100; i++) {
      const [a, b] = await Promise.all([
        apiClient(url(api1), made.body.key)('GET', '/v1/device-types'),
        apiClient(url(api2), made.body.key)('GET', '/v1/device-types'),
      ]);
      statuses.push(a.status, b.status);
    }
    const over = await apiClient(url(api2), made.body.key)('GET', '/v1/device-types');
    expect(statuses.filter((s) => s !== 200)).toStrictEqual([]);
    expect(over.status).toBe(429);
  });

  it('carries a command sent through an API node to the device on the broker node and records its ack', async () => {
    const creds = await register('cl-down-01');
    const device = await connect(creds);
    await device.subscribeAsync('sus/v1/devices/cl-down-01/down/#', { qos: 1 });
    const received = new Promise<{ command: number; name: string }>((resolve) =>
      device.on('message', (_t, payload) =>
        resolve(JSON.parse(payload.toString()) as { command: number; name: string }),
      ),
    );
    const sent = await apiClient(url(api2), TEST_ADMIN_KEY)<{ id: number }>('POST', '/v1/devices/cl-down-01/commands', {
      name: 'reboot',
    });
    expect(sent.status).toBe(202);
    const command = await received;
    expect(command).toMatchObject({ command: sent.body.id, name: 'reboot' });
    await device.publishAsync(
      'sus/v1/devices/cl-down-01/ack',
      JSON.stringify({ command: command.command, status: 'ok' }),
      {
        qos: 1,
      },
    );
    const list = await eventually(
      () =>
        apiClient(url(api1), TEST_ADMIN_KEY)<{ commands: Array<{ id: number; ackStatus: string | null }> }>(
          'GET',
          '/v1/devices/cl-down-01/commands',
        ),
      (r) => r.body.commands[0]?.ackStatus === 'ok',
    );
    expect(list.body.commands[0]?.id).toBe(sent.body.id);
  });

  it('answers liveness and readiness on every node, and readiness 503 once a node drains', async () => {
    const probe = async (base: string) =>
      Promise.all(['/livez', '/readyz'].map(async (p) => (await fetch(`${base}${p}`)).status));
    const brokerBase = `http://127.0.0.1:${broker.healthPort}`;
    expect([await probe(brokerBase), await probe(url(api1))]).toStrictEqual([
      [200, 200],
      [200, 200],
    ]);
    broker.draining = true;
    try {
      expect(await probe(brokerBase)).toStrictEqual([200, 503]);
    } finally {
      broker.draining = false;
    }
  });

  it('runs the elected duties on the broker node only, and hands them over when it stops', async () => {
    // API nodes hold none of the duties (they are ingest's); the one broker node holds the lease.
    await eventually(
      async () => broker.elected?.leading,
      (l) => l === true,
    );
    expect([api1.elected, api2.elected]).toStrictEqual([undefined, undefined]);
    await broker.elected!.stop();
    expect(broker.elected!.leading).toBe(false);
  });
});
