import { createHmac, timingSafeEqual } from 'node:crypto';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InfluxQLAnnotationTarget } from '../../../../dashboards/src/annotations.ts';
import { DASHBOARDS } from '../../../../dashboards/src/index.ts';
import { type Platform, startPlatform } from '../../../../services/cli/platform.ts';
import { silentLogger } from '../../../../services/common/logger.ts';
import { apiClient } from '../../../helpers/api-client.ts';
import { eventually, TEST_ADMIN_KEY, testConfig } from '../../../helpers/env.ts';
import { readEvents } from '../../../helpers/sse.ts';
import { type Received, startReceiver } from '../../../helpers/webhook-receiver.ts';

const SECRET = 'receiver-secret-0123456789';
type Api = ReturnType<typeof apiClient>;
interface Notice {
  alert: number;
  state: string;
  value: number | null;
  [k: string]: unknown;
}

/** The receiver's side of SUS-Signature, as services/api/README.md tells receivers to check it. */
function verified(r: Received, secret = SECRET): boolean {
  const timestamp = String(r.headers['sus-timestamp']);
  const expected = `sha256=${createHmac('sha256', secret).update(`${timestamp}.${r.body}`).digest('hex')}`;
  const given = Buffer.from(String(r.headers['sus-signature']));
  const fresh = Math.abs(Date.now() / 1000 - Number(timestamp)) < 300;
  return fresh && given.length === expected.length && timingSafeEqual(given, Buffer.from(expected));
}
const notices = (rs: Received[]) => rs.map((r) => JSON.parse(r.body) as Notice);

describe('alerts end to end: MQTT → ingest → rule → registry → signed webhook (real broker, InfluxDB, receiver)', () => {
  let platform: Platform;
  let api: Api;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const clients: MqttClient[] = [];
  const devices = new Map<string, MqttClient>();
  const credentials = new Map<string, { username: string; password: string; clientId: string }>();

  const device = async (id: string, type = 'water_gauge', department = 'environment') => {
    const res = await api<{ credentials: { username: string; password: string; clientId: string } }>(
      'POST',
      '/v1/devices',
      { id, name: id, department, type, district: 'Altstadt' },
    );
    expect(res.status).toBe(201);
    const c = res.body.credentials;
    credentials.set(id, c);
    const client = await connectAsync(`mqtt://127.0.0.1:${platform.mqttPort}`, {
      username: c.username,
      password: c.password,
      clientId: c.clientId,
      reconnectPeriod: 0,
    });
    clients.push(client);
    devices.set(id, client);
  };
  /** Publishes with QoS 1 and resolves at the PUBACK; returns when it started. */
  const publish = async (id: string, values: Record<string, number>) => {
    const t0 = Date.now();
    await devices.get(id)!.publishAsync(`sus/v1/devices/${id}/up`, JSON.stringify({ values }), { qos: 1 });
    return t0;
  };
  const hooksTo = (path: string) => receiver.received.filter((r) => r.path === path);
  const rule = async (body: Record<string, unknown>) => {
    const res = await api('POST', '/v1/rules', { owner: 'environment', ...body });
    expect({ status: res.status, body: res.body }).toMatchObject({ status: 201 });
    return res.body;
  };

  beforeAll(async () => {
    receiver = await startReceiver();
    platform = await startPlatform(
      testConfig({
        SUS_PUBLIC_URL: 'https://sus.example',
        SUS_WEBHOOK_BACKOFF_MS: '200',
        SUS_WEBHOOK_MAX_ATTEMPTS: '3',
        SUS_WEBHOOK_ALLOW_NETWORKS: '127.0.0.1',
      }),
      silentLogger,
    );
    api = apiClient(`http://127.0.0.1:${platform.httpPort}`, TEST_ADMIN_KEY);
    for (const id of ['environment', 'traffic'])
      expect((await api('POST', '/v1/departments', { id, name: id })).status).toBe(201);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await platform?.stop();
    await receiver?.close();
  });

  it('threshold crossed → exactly one signed webhook within 1 s → resolved → one resolved notification', async () => {
    await device('river-1');
    await rule({
      id: 'river-high',
      name: 'River high',
      quantity: 'water_level',
      device: 'river-1',
      above: 1.5,
      notify: [{ type: 'webhook', url: `${receiver.url}/river`, secret: SECRET }],
    });
    const stream = await fetch(`http://127.0.0.1:${platform.httpPort}/v1/stream?device=river-1`, {
      headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` },
    });
    const alertEvents = readEvents(stream, 6);
    await publish('river-1', { water_level: 1.2 });
    const t0 = await publish('river-1', { water_level: 1.7 });
    const [fired] = await eventually(
      async () => hooksTo('/river'),
      (r) => r.length === 1,
    );
    expect(fired!.at - t0).toBeLessThan(1000);
    await publish('river-1', { water_level: 1.9 });
    await publish('river-1', { water_level: 1.4 });
    const hooks = await eventually(
      async () => hooksTo('/river'),
      (r) => r.length >= 2,
    );
    await platform.alerting!.engine.idle();
    expect(hooks.length).toBe(2);
    expect(hooks.map((h) => verified(h))).toStrictEqual([true, true]);
    const [firing, resolved] = notices(hooks);
    const id = firing!.alert;
    expect(hooks.map((h) => h.headers['idempotency-key'])).toStrictEqual([
      `alert-${id}-1-firing-0`,
      `alert-${id}-1-resolved-0`,
    ]);
    expect(firing).toStrictEqual({
      alert: id,
      rule: { id: 'river-high', name: 'River high', kind: 'threshold', severity: 'warning' },
      state: 'firing',
      department: 'environment',
      device: 'river-1',
      quantity: 'water_level',
      value: 1.7,
      unit: 'm',
      threshold: { op: 'above', value: 1.5, low: null, high: null },
      hysteresis: 0,
      time: firing!.time,
      link: `https://sus.example/v1/alerts/${id}`,
      description: '',
      runbook: null,
    });
    expect([resolved!.alert, resolved!.state, resolved!.value]).toStrictEqual([id, 'resolved', 1.4]);

    const history = await api<{ history: Array<{ state: string; value: number }> }>('GET', `/v1/alerts/${id}/history`);
    expect(history.body.history.map((e) => [e.state, e.value])).toStrictEqual([
      ['firing', 1.7],
      ['resolved', 1.4],
    ]);
    const deliveries = await api<{ deliveries: Array<{ state: string; attempts: number }> }>(
      'GET',
      `/v1/alerts/${id}/deliveries`,
    );
    expect(deliveries.body.deliveries.map((d) => [d.state, d.attempts])).toStrictEqual([
      ['delivered', 1],
      ['delivered', 1],
    ]);
    const events = (await alertEvents).filter((e) => e.event === 'alert');
    expect(events.map((e) => (JSON.parse(e.data) as Notice).state)).toStrictEqual(['firing', 'resolved']);
    const points = await eventually(
      async () => {
        const [series = []] = await platform.influx.query(
          `SELECT "state", "value", "alert" FROM "sus_alert" WHERE "rule" = 'river-high'`,
        );
        return series.flatMap((s) => (s.values ?? []).map((v) => v.slice(1)));
      },
      (p) => p.length === 2,
    );
    expect(points).toStrictEqual([
      ['firing', 1.7, id],
      ['resolved', 1.4, id],
    ]);
  });

  it("the dashboards' alert annotation, run on InfluxDB, returns a device's firing and resolved changes", async () => {
    await device('river-9');
    await rule({
      id: 'river-annotated',
      name: 'River annotated',
      quantity: 'water_level',
      device: 'river-9',
      above: 1.5,
      notify: [],
    });
    await publish('river-9', { water_level: 1.7 });
    await publish('river-9', { water_level: 1.2 });
    await platform.alerting!.engine.idle();
    const waterLevel = DASHBOARDS.find((d) => d.file === 'water-level')!.build();
    const target = waterLevel.annotations!.list![0]!.target as unknown as InfluxQLAnnotationTarget;
    const run = async (department: string, device: string) => {
      const q = target.query
        .replace('$department', department)
        .replace('$device', device)
        .replace('$timeFilter', 'time > now() - 1h');
      const [series = []] = await platform.influx.query(q);
      return series.flatMap((s) => (s.values ?? []).map((v) => v.slice(1)));
    };
    const rows = await eventually(
      () => run('environment', 'river-9'),
      (r) => r.length === 2,
    );
    expect(rows).toStrictEqual([
      ['River annotated: firing on river-9 (water_level 1.7 m)', 'river-annotated', 'river-9', 'firing', 'warning'],
      ['River annotated: resolved on river-9 (water_level 1.2 m)', 'river-annotated', 'river-9', 'resolved', 'warning'],
    ]);
    // The dashboard's variables scope it: another department's selection shows none of these.
    expect(await run('traffic', '.*')).toStrictEqual([]);
  });

  it('waits for `for` (a dip resets it) and resolves only past the hysteresis', async () => {
    await device('river-2');
    await rule({
      id: 'river-for',
      name: 'River high for a while',
      quantity: 'water_level',
      unit: 'cm',
      device: 'river-2',
      above: 150,
      hysteresis: 20,
      for: '1s',
      notify: [{ type: 'webhook', url: `${receiver.url}/for`, secret: SECRET }],
    });
    await publish('river-2', { water_level: 1.6 });
    await publish('river-2', { water_level: 1.4 }); // back below before 1 s: the pending alert ends unnotified
    await platform.alerting!.engine.idle();
    const [alert] = (await api<{ alerts: Array<{ id: number; state: string }> }>('GET', '/v1/alerts?rule=river-for'))
      .body.alerts;
    expect(alert!.state).toBe('resolved');
    const t0 = await publish('river-2', { water_level: 1.6 }); // held: fires after 1 s without another reading
    const [fired] = await eventually(
      async () => hooksTo('/for'),
      (r) => r.length === 1,
    );
    expect(fired!.at - t0).toBeGreaterThanOrEqual(1000);
    await publish('river-2', { water_level: 1.35 }); // inside the hysteresis band (1.3 … 1.5): still firing
    await platform.alerting!.engine.idle();
    expect(hooksTo('/for').length).toBe(1);
    await publish('river-2', { water_level: 1.3 });
    const hooks = await eventually(
      async () => hooksTo('/for'),
      (r) => r.length === 2,
    );
    expect(notices(hooks).map((n) => [n.state, n.value])).toStrictEqual([
      ['firing', 1.6],
      ['resolved', 1.3],
    ]);
    const history = await api<{ history: Array<{ state: string }> }>('GET', `/v1/alerts/${alert!.id}/history`);
    expect(history.body.history.map((e) => e.state)).toStrictEqual([
      'pending',
      'resolved',
      'pending',
      'firing',
      'resolved',
    ]);
  });

  it('a rate-of-change rule fires on a rise faster than its limit per minute and resolves when it slows', async () => {
    await device('river-rate');
    await rule({
      id: 'river-rising',
      name: 'River rising fast',
      kind: 'rate',
      quantity: 'water_level',
      unit: 'cm',
      per: 'minute',
      device: 'river-rate',
      above: 50,
      notify: [{ type: 'webhook', url: `${receiver.url}/rate`, secret: SECRET }],
    });
    const t0 = Date.now() - 600_000;
    // Reading times a minute apart: +0.25 m/min (below 0.5), +0.75 m/min (fires), +0.125 m/min (resolves).
    const levels = [1, 1.25, 2, 2.125];
    for (const [i, level] of levels.entries())
      await devices
        .get('river-rate')!
        .publishAsync(
          'sus/v1/devices/river-rate/up',
          JSON.stringify({ time: t0 + i * 60_000, values: { water_level: level } }),
          { qos: 1 },
        );
    const hooks = await eventually(
      async () => hooksTo('/rate'),
      (r) => r.length >= 2,
    );
    await platform.alerting!.engine.idle();
    expect(
      notices(hooksTo('/rate')).map((n) => [n.state, n.value, n.unit, n.threshold, (n.rule as { kind: string }).kind]),
    ).toStrictEqual([
      ['firing', 0.75, 'm/min', { op: 'above', value: 0.5, low: null, high: null }, 'rate'],
      ['resolved', 0.125, 'm/min', { op: 'above', value: 0.5, low: null, high: null }, 'rate'],
    ]);
    expect(hooks.map((h) => verified(h))).toStrictEqual([true, true]);
  });

  it("publishes alert changes on sus/v1/alerts/{department}/{rule}/{device} (QoS 1) to that department's accounts only", async () => {
    const account = async (department: string) => {
      const key = await api<{ key: string }>('POST', '/v1/keys', {
        name: `svc-${department}`,
        department,
        scopes: ['read'],
      });
      expect(key.status).toBe(201);
      const c = await connectAsync(`mqtt://127.0.0.1:${platform.mqttPort}`, {
        username: `svc:${department}`,
        password: key.body.key,
        clientId: `@svc/${department}`,
        reconnectPeriod: 0,
      });
      clients.push(c);
      return c;
    };
    const own = await account('environment');
    const other = await account('traffic');
    const got: Array<[string, string, number]> = [];
    own.on('message', (topic, payload, packet) => {
      const n = JSON.parse(payload.toString()) as Notice;
      got.push([topic, n.state, packet.qos]);
    });
    expect((await own.subscribeAsync('sus/v1/alerts/environment/#', { qos: 1 })).map((g) => g.qos)).toStrictEqual([1]);
    // Another department's filter, and a wildcard over every department, are refused (SUBACK 0x80).
    const refused = await other.subscribeAsync('sus/v1/alerts/+/#', { qos: 1 }).catch(() => [{ qos: 128 }]);
    expect(refused.map((g) => g.qos)).toStrictEqual([128]);
    await device('river-mqtt');
    await rule({
      id: 'river-mqtt-high',
      name: 'River high (MQTT)',
      quantity: 'water_level',
      device: 'river-mqtt',
      above: 1.5,
    });
    await publish('river-mqtt', { water_level: 1.8 });
    await publish('river-mqtt', { water_level: 1.1 });
    await eventually(
      async () => got.length,
      (n) => n === 2,
    );
    expect(got).toStrictEqual([
      ['sus/v1/alerts/environment/river-mqtt-high/river-mqtt', 'firing', 1],
      ['sus/v1/alerts/environment/river-mqtt-high/river-mqtt', 'resolved', 1],
    ]);
  });

  it('groups the changes of one rule within its group wait into one signed notification listing the devices', async () => {
    await device('flood-a');
    await device('flood-b');
    await rule({
      id: 'flood-district',
      name: 'Flood warning',
      quantity: 'water_level',
      type: 'water_gauge',
      above: 10,
      group: '1s',
      notify: [{ type: 'webhook', url: `${receiver.url}/group`, secret: SECRET }],
    });
    const t0 = await publish('flood-a', { water_level: 12 });
    await publish('flood-b', { water_level: 13 });
    const [hook] = await eventually(
      async () => hooksTo('/group'),
      (r) => r.length === 1,
    );
    expect(hook!.at - t0).toBeGreaterThanOrEqual(1000);
    expect(verified(hook!)).toBe(true);
    const body = JSON.parse(hook!.body) as { group: unknown; alerts: Notice[] };
    expect(body.group).toStrictEqual({
      rule: { id: 'flood-district', name: 'Flood warning', kind: 'threshold', severity: 'warning' },
      state: 'firing',
      count: 2,
    });
    expect(body.alerts.map((a) => [a.device, a.state, a.value])).toStrictEqual([
      ['flood-a', 'firing', 12],
      ['flood-b', 'firing', 13],
    ]);
    expect(hook!.headers['idempotency-key']).toBe(`group-alert-${body.alerts[0]!.alert}-1-firing-0-2`);
    const deliveries = await api<{ deliveries: Array<{ state: string }> }>(
      'GET',
      `/v1/alerts/${body.alerts[1]!.alert}/deliveries`,
    );
    expect(deliveries.body.deliveries.map((d) => d.state)).toStrictEqual(['delivered']);
    await platform.alerting!.engine.idle();
    expect(hooksTo('/group').length).toBe(1);
    await api('DELETE', '/v1/rules/flood-district');
  });

  it('a silent-device rule fires at once when the device goes offline, and resolves when it reports again', async () => {
    await device('gauge-offline');
    await rule({
      id: 'gauge-gone',
      name: 'Gauge gone',
      kind: 'silent',
      device: 'gauge-offline',
      silentFactor: 1000,
      notify: [{ type: 'webhook', url: `${receiver.url}/offline`, secret: SECRET }],
    });
    await publish('gauge-offline', { water_level: 1 });
    await platform.alerting!.engine.idle();
    await devices.get('gauge-offline')!.endAsync(true);
    const [fired] = await eventually(
      async () => hooksTo('/offline'),
      (r) => r.length === 1,
    );
    expect(notices([fired!]).map((n) => [n.state, n.device])).toStrictEqual([['firing', 'gauge-offline']]);
    const again = await connectAsync(`mqtt://127.0.0.1:${platform.mqttPort}`, {
      ...credentials.get('gauge-offline')!,
      reconnectPeriod: 0,
    });
    clients.push(again);
    devices.set('gauge-offline', again);
    await publish('gauge-offline', { water_level: 1 });
    const hooks = await eventually(
      async () => hooksTo('/offline'),
      (r) => r.length === 2,
    );
    expect(notices(hooks).map((n) => n.state)).toStrictEqual(['firing', 'resolved']);
    await api('DELETE', '/v1/rules/gauge-gone');
  });

  it('a silent device fires and resolves when it reports again', async () => {
    expect(
      (await api('POST', '/v1/device-types', { id: 'fast_gauge', name: 'Fast gauge', expectedIntervalS: 1 })).status,
    ).toBe(201);
    await device('gauge-quiet', 'fast_gauge');
    await rule({
      id: 'gauge-silent',
      name: 'Gauge silent',
      kind: 'silent',
      type: 'fast_gauge',
      silentFactor: 2,
      notify: [{ type: 'webhook', url: `${receiver.url}/silent`, secret: SECRET }],
    });
    await eventually(
      async () => hooksTo('/silent'),
      (r) => r.length === 1,
    );
    await publish('gauge-quiet', { water_level: 1 });
    const hooks = await eventually(
      async () => hooksTo('/silent'),
      (r) => r.length >= 2,
    );
    const [fired, resolved] = notices(hooks);
    expect([fired!.state, fired!.device, fired!.unit, resolved!.state]).toStrictEqual([
      'firing',
      'gauge-quiet',
      's',
      'resolved',
    ]);
    expect(fired!.value).toBeGreaterThanOrEqual(2);
    await api('DELETE', '/v1/rules/gauge-silent');
  });

  it('a receiver that is down gets the notifications once it is up, once each and in order', async () => {
    await device('river-3');
    await rule({
      id: 'river-down',
      name: 'River high (receiver down)',
      quantity: 'water_level',
      device: 'river-3',
      above: 1.5,
      notify: [{ type: 'webhook', url: `${receiver.url}/down`, secret: SECRET }],
    });
    receiver.answer(503);
    await publish('river-3', { water_level: 1.8 });
    await publish('river-3', { water_level: 1.0 });
    await eventually(
      async () =>
        (await api<{ alerts: Array<{ id: number }> }>('GET', '/v1/alerts?rule=river-down')).body.alerts.map(
          (a) => a.id,
        ),
      (ids) => ids.length === 1,
    );
    const [{ id } = { id: 0 }] = (await api<{ alerts: Array<{ id: number }> }>('GET', '/v1/alerts?rule=river-down'))
      .body.alerts;
    // Both wait: the resolution queues behind the firing the receiver has not taken yet.
    await eventually(
      async () =>
        (await api<{ deliveries: Array<{ attempts: number }> }>('GET', `/v1/alerts/${id}/deliveries`)).body.deliveries,
      (d) => d.length === 2 && d[0]!.attempts >= 1,
    );
    receiver.answer(204);
    const hooks = await eventually(
      async () => hooksTo('/down'),
      (r) => r.length === 2,
    );
    expect(notices(hooks).map((n) => n.state)).toStrictEqual(['firing', 'resolved']);
    const deliveries = await api<{ deliveries: Array<{ state: string }> }>('GET', `/v1/alerts/${id}/deliveries`);
    expect(deliveries.body.deliveries.map((d) => d.state)).toStrictEqual(['delivered', 'delivered']);
  });

  it('a receiver that does not answer delays neither the PUBACK nor another receiver', async () => {
    const slow = await startReceiver();
    slow.answer('hang');
    try {
      await device('river-6');
      await rule({
        id: 'river-slow',
        name: 'River high (slow receiver)',
        quantity: 'water_level',
        device: 'river-6',
        above: 1.5,
        notify: [
          { type: 'webhook', url: `${slow.url}/slow`, secret: SECRET },
          { type: 'webhook', url: `${receiver.url}/fast`, secret: SECRET },
        ],
      });
      const t0 = await publish('river-6', { water_level: 1.8 });
      const acked = Date.now();
      const [fast] = await eventually(
        async () => hooksTo('/fast'),
        (r) => r.length === 1,
      );
      expect(fast!.at - t0).toBeLessThan(1000);
      // The slow receiver holds its request: it took it, and the PUBACK came before it was asked at all.
      await eventually(
        async () => slow.held(),
        (n) => n === 1,
      );
      expect(acked - t0).toBeLessThanOrEqual(fast!.at - t0); // same millisecond on a fast run
    } finally {
      await slow.close();
    }
  });

  it('keeps an undeliverable notification as a dead letter that can be re-sent', async () => {
    await device('river-4');
    await rule({
      id: 'river-dead',
      name: 'River high (dead letter)',
      quantity: 'water_level',
      device: 'river-4',
      above: 1.5,
      notify: [{ type: 'webhook', url: `${receiver.url}/dead`, secret: SECRET }],
    });
    receiver.answer(500);
    await publish('river-4', { water_level: 1.8 });
    const alerts = await eventually(
      async () => (await api<{ alerts: Array<{ id: number }> }>('GET', '/v1/alerts?rule=river-dead')).body.alerts,
      (a) => a.length === 1,
    );
    const id = alerts[0]!.id;
    const [dead] = await eventually(
      async () =>
        (
          await api<{ deliveries: Array<{ id: number; state: string; attempts: number; lastError: string }> }>(
            'GET',
            `/v1/alerts/${id}/deliveries`,
          )
        ).body.deliveries,
      (d) => d[0]?.state === 'dead',
    );
    expect([dead!.attempts, dead!.lastError]).toStrictEqual([3, 'HTTP 500']);
    receiver.answer(204);
    const resent = await api<{ state: string }>('POST', `/v1/deliveries/${dead!.id}/resend`);
    expect([resent.status, resent.body.state]).toStrictEqual([200, 'pending']);
    const hooks = await eventually(
      async () => hooksTo('/dead'),
      (r) => r.length === 1,
    );
    expect(hooks[0]!.headers['idempotency-key']).toBe(`alert-${id}-1-firing-0`);
    const again = await api<{ code: string }>('POST', `/v1/deliveries/${dead!.id}/resend`);
    expect([again.status, again.body.code]).toStrictEqual([404, 'SUS_ERR_DELIVERY_NOT_FOUND']);
  });

  it('a silence holds notifications back; an acknowledgement is recorded with its note', async () => {
    await device('river-5');
    await rule({
      id: 'river-silenced',
      name: 'River high (silenced)',
      quantity: 'water_level',
      device: 'river-5',
      above: 1.5,
      notify: [{ type: 'webhook', url: `${receiver.url}/silenced`, secret: SECRET }],
    });
    const endsAt = new Date(Date.now() + 3600_000).toISOString();
    const silence = await api<{ id: string }>('POST', '/v1/silences', {
      department: 'environment',
      rule: 'river-silenced',
      reason: 'gauge maintenance',
      endsAt,
    });
    expect(silence.status).toBe(201);
    await publish('river-5', { water_level: 1.8 });
    await platform.alerting!.engine.idle();
    const [alert] = (
      await api<{ alerts: Array<{ id: number; state: string }> }>('GET', '/v1/alerts?rule=river-silenced')
    ).body.alerts;
    expect(alert!.state).toBe('firing');
    const ack = await api<{ ackNote: string; ackedBy: string }>('POST', `/v1/alerts/${alert!.id}/ack`, {
      note: 'crew on site',
    });
    expect([ack.status, ack.body.ackNote]).toStrictEqual([200, 'crew on site']);
    const history = await api<{ history: Array<{ state: string; note: string | null }> }>(
      'GET',
      `/v1/alerts/${alert!.id}/history`,
    );
    expect(history.body.history.map((e) => [e.state, e.note])).toStrictEqual([
      ['firing', 'notifications held back by a silence'],
      ['acknowledged', 'crew on site'],
    ]);
    expect(hooksTo('/silenced')).toStrictEqual([]);
    expect((await api('DELETE', `/v1/silences/${silence.body.id}`)).status).toBe(200);
  });

  it('keeps departments apart: another department neither sees nor acknowledges an alert, nor hears of it', async () => {
    const res = await api<{ key: string }>('POST', '/v1/keys', {
      name: 'traffic',
      department: 'traffic',
      scopes: ['read', 'write'],
    });
    const traffic = apiClient(`http://127.0.0.1:${platform.httpPort}`, res.body.key);
    const [alert] = (await api<{ alerts: Array<{ id: number }> }>('GET', '/v1/alerts?rule=river-high')).body.alerts;
    expect((await traffic<{ alerts: unknown[] }>('GET', '/v1/alerts')).body.alerts).toStrictEqual([]);
    for (const [method, path] of [
      ['GET', `/v1/alerts/${alert!.id}`],
      ['GET', `/v1/alerts/${alert!.id}/history`],
      ['GET', `/v1/alerts/${alert!.id}/deliveries`],
      ['POST', `/v1/alerts/${alert!.id}/ack`],
    ] as const) {
      const r = await traffic<{ code: string }>(method, path, method === 'POST' ? { note: 'x' } : undefined);
      expect([path, r.status, r.body.code]).toStrictEqual([path, 404, 'SUS_ERR_ALERT_NOT_FOUND']);
    }
    const stream = await fetch(`http://127.0.0.1:${platform.httpPort}/v1/stream`, {
      headers: { authorization: `Bearer ${res.body.key}` },
      signal: AbortSignal.timeout(60_000),
    });
    const seen = readEvents(stream, 1);
    await publish('river-1', { water_level: 2.5 });
    await eventually(
      async () => hooksTo('/river'),
      (r) => r.length === 3,
    );
    await device('traffic-probe', 'water_gauge', 'traffic');
    await publish('traffic-probe', { water_level: 0.5 });
    // The first event traffic's stream gets is its own reading, not environment's alert.
    expect((await seen).map((e) => e.event)).toStrictEqual(['reading']);
  });
});
