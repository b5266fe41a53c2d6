import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SusError } from '../../../services/common/errors.ts';
import { InfluxQuery } from '../../../services/common/influx.ts';
import { silentLogger } from '../../../services/common/logger.ts';
import type { Uplink } from '../../../services/common/uplink.ts';
import { DeviceTreeSource } from '../../../services/ingest/index.ts';
import { openRegistry, type Registry } from '../../../services/registry/index.ts';
import { eventually, TEST_ADMIN_KEY, testConfig } from '../../helpers/env.ts';
import { type Mosquitto, mosquittoUnavailable, startMosquitto } from '../../helpers/mosquitto.ts';
import { freshSchema } from '../../helpers/postgres.ts';
import { type SusProcess, startSus } from '../../helpers/sus-process.ts';

/**
 * `sus ingest` as a client of the city's broker: two ingest nodes on one real Debian Mosquitto, sharing the device
 * tree through an MQTT 5 shared subscription, with the registry on PostgreSQL (both nodes read it) and a spool each.
 * Devices authenticate at Mosquitto and publish QoS 1 readings; one node is killed (SIGKILL) mid-stream and started
 * again. What Mosquitto 2.0 does (and this test asserts): a shared subscriber's persistent session keeps its
 * unacknowledged and queued messages while the node is away (the other node does not get them) and hands them over
 * when the node comes back under the same client id; every reading a device saw acknowledged is then in InfluxDB
 * exactly once, and what no decoder or registry entry accepts is in the dead letters.
 */
const DEVICES = 8;
const PER_DEVICE = 60;
const TOTAL = DEVICES * PER_DEVICE;
const skip = !process.env.TEST_DATABASE_URL
  ? 'TEST_DATABASE_URL is unset: two ingest nodes need the PostgreSQL registry (npm test starts one)'
  : mosquittoUnavailable();
if (skip) console.warn(`sus ingest on Mosquitto skipped: ${skip}`);

interface LogLine {
  msg?: string;
  received?: number;
  filters?: string[];
}
const lines = (p: SusProcess): LogLine[] =>
  p.log().flatMap((l) => {
    try {
      return [JSON.parse(l) as LogLine];
    } catch {
      return [];
    }
  });
const subscribed = (p: SusProcess) => lines(p).find((l) => l.msg === 'MQTT source subscribed');
const received = (p: SusProcess) => lines(p).find((l) => l.msg === 'MQTT source stopping')?.received;

describe.skipIf(skip !== undefined)('sus ingest: two nodes on Mosquitto', () => {
  let broker: Mosquitto;
  let schema: { url: string; drop(): Promise<void> };
  let registry: Registry;
  let influx: InfluxQuery;
  let env: Record<string, string>;
  const dirs: string[] = [];
  const nodes: SusProcess[] = [];
  const devices: MqttClient[] = [];
  const at0 = Date.now() - 3_600_000;

  const node = async (name: string, dir: string): Promise<SusProcess> => {
    const p = startSus(['ingest'], { ...env, SUS_DATA_DIR: dir, SUS_INGEST_MQTT_CLIENT_ID: `ingest-${name}` });
    nodes.push(p);
    if (!(await p.ready)) throw new Error(`sus ingest ${name} exited: ${p.stderr()}`);
    await eventually(
      async () => subscribed(p),
      (l) => l !== undefined,
    );
    return p;
  };

  beforeAll(async () => {
    const users: Record<string, string> = { ingest: 'ingest-password', ghost: 'ghost-secret' };
    for (let i = 0; i < DEVICES; i++) users[`d${i}`] = `secret-${i}`;
    broker = await startMosquitto({
      users,
      // The platform's topic contract in Mosquitto's ACL: devices write their own uplinks, ingest reads them all.
      acl: [
        'pattern write sus/v1/devices/%u/up',
        'pattern write sus/v1/devices/%u/up/#',
        'user ingest',
        'topic read sus/v1/devices/#',
      ],
      // No cap on what a session queues while its node is away (mosquitto's default drops beyond 1,000).
      settings: ['max_queued_messages 0', 'max_inflight_messages 20'],
    });
    schema = (await freshSchema())!;
    const config = testConfig({ DATABASE_URL: schema.url });
    registry = await openRegistry(config);
    await registry.createDepartment({ id: 'environment', name: 'Environment' });
    for (let i = 0; i < DEVICES; i++)
      await registry.createDevice({ id: `d${i}`, name: `Device ${i}`, department: 'environment', type: 'air_quality' });
    influx = new InfluxQuery(config);
    await influx.ensureDatabase();
    env = {
      DATABASE_URL: schema.url,
      INFLUX_DB: config.INFLUX_DB,
      SUS_ADMIN_KEY: TEST_ADMIN_KEY,
      SUS_INGEST_MQTT_URL: `mqtt://127.0.0.1:${broker.port}`,
      SUS_INGEST_MQTT_USERNAME: 'ingest',
      SUS_INGEST_MQTT_PASSWORD: 'ingest-password',
      SUS_WRITE_FLUSH_MS: '50',
      SUS_LATEST_FLUSH_MS: '50',
      LOG_LEVEL: 'info',
      SUS_LOG_JSON: '1',
    };
    for (const name of ['a', 'b']) dirs.push(mkdtempSync(path.join(tmpdir(), `sus-ingest-${name}-`)));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(devices.map((d) => d.endAsync(true)));
    for (const p of nodes) await p.stop();
    await registry?.close();
    await schema?.drop();
    await broker?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('stores every reading Mosquitto acknowledged exactly once through a SIGKILL of one node, and dead-letters bad payloads', async () => {
    const a = await node('a', dirs[0]!);
    const b = await node('b', dirs[1]!);
    expect(subscribed(a)!.filters).toStrictEqual([
      '$share/sus-ingest/sus/v1/devices/+/up',
      '$share/sus-ingest/sus/v1/devices/+/up/+',
    ]);

    for (let i = 0; i < DEVICES; i++)
      devices.push(
        await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
          clientId: `d${i}`,
          username: `d${i}`,
          password: `secret-${i}`,
          reconnectPeriod: 0,
        }),
      );
    let acknowledged = 0;
    let killed = false;
    await Promise.all(
      devices.map(async (device, i) => {
        for (let seq = 0; seq < PER_DEVICE; seq++) {
          const reading = { time: at0 + seq * 1000, seq, values: { air_temperature: seq } };
          await device.publishAsync(`sus/v1/devices/d${i}/up`, JSON.stringify(reading), { qos: 1 });
          acknowledged++;
          if (!killed && acknowledged >= TOTAL / 3) {
            killed = true;
            a.child.kill('SIGKILL');
          }
        }
      }),
    );
    expect(acknowledged).toBe(TOTAL);
    await a.exited;
    // Published while node a is dead: a reading is not JSON, another comes from a device the registry does not know.
    await devices[0]!.publishAsync('sus/v1/devices/d0/up', 'not json {', { qos: 1 });
    const ghost = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
      username: 'ghost',
      password: 'ghost-secret',
    });
    await ghost.publishAsync('sus/v1/devices/ghost/up', JSON.stringify({ values: { air_temperature: 1 } }), {
      qos: 1,
    });
    await ghost.endAsync();

    // Node a comes back under its client id and data directory: its session's messages, its spool's lines.
    const a2 = await node('a', dirs[0]!);
    const stored = async () => {
      const series = await influx.query(
        `SELECT "value" FROM "air_temperature" WHERE time >= ${at0}ms AND time < ${at0 + PER_DEVICE * 1000}ms GROUP BY "device"`,
      );
      return Object.fromEntries(
        (series[0] ?? []).map((s) => [s.tags?.device ?? '', (s.values ?? []).map((v) => v[1] as number)]),
      );
    };
    const all = await eventually(stored, (s) => Object.values(s).reduce((n, v) => n + v.length, 0) >= TOTAL, 90_000);
    const expected = Array.from({ length: PER_DEVICE }, (_, seq) => seq);
    expect(all).toStrictEqual(Object.fromEntries(devices.map((_, i) => [`d${i}`, expected])));

    const letters = await eventually(
      () => registry.deadLetters.list({ source: 'mqtt', limit: 10 }),
      (l) => l.length >= 2,
      30_000,
    );
    expect(
      letters
        .map((l) => [l.topic, l.device, l.reasons.map((r) => r.code)])
        .sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
    ).toStrictEqual([
      ['sus/v1/devices/d0/up', 'd0', ['INGEST_MALFORMED_JSON']],
      ['sus/v1/devices/ghost/up', 'ghost', ['INGEST_UNKNOWN_DEVICE']],
    ]);

    expect(await a2.stop()).toBe(0);
    expect(await b.stop()).toBe(0);
    // Everything was published before node a came back: what it received then had waited in its session at
    // Mosquitto (not handed to node b), and both nodes shared the load.
    expect(received(a2)).toBeGreaterThan(0);
    expect(received(b)).toBeGreaterThan(0);
    expect(received(b)).toBeLessThan(TOTAL);
  }, 180_000);
});

const noMosquitto = mosquittoUnavailable();
describe.skipIf(noMosquitto !== undefined)('sus ingest: the acknowledgement waits for ingest', () => {
  it('a message ingest refuses (spool full) is not acknowledged: Mosquitto sends it again, and not once it was taken', async () => {
    const broker = await startMosquitto({});
    const seen: string[] = [];
    let refuse = true;
    const sink = {
      async handle(u: Uplink) {
        seen.push(`${u.device} ${u.channel} ${u.payload.toString()}`);
        if (refuse) {
          refuse = false;
          throw new SusError('SUS_ERR_SPOOL_FULL', 'spool full', 503);
        }
      },
    };
    const options = {
      url: `mqtt://127.0.0.1:${broker.port}`,
      clientId: 'ingest-ack',
      topics: ['sus/v1/devices/+/up', 'sus/v1/devices/+/up/+'],
      qos: 1 as const,
      sessionExpiryS: 600,
      shareGroup: 'sus-ingest',
    };
    const source = new DeviceTreeSource(options, sink, silentLogger);
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { reconnectPeriod: 0 });
    try {
      await source.start();
      expect(source.plan).toStrictEqual({
        filters: ['$share/sus-ingest/sus/v1/devices/+/up', '$share/sus-ingest/sus/v1/devices/+/up/+'],
        shared: true,
      });
      await device.publishAsync('sus/v1/devices/d1/up/senml', 'first', { qos: 1 });
      await eventually(
        async () => seen.length,
        (n) => n >= 2,
      );
      await device.publishAsync('sus/v1/devices/d1/up', 'second', { qos: 1 });
      // The refused message came again (after the reconnect), was taken, and was not sent a third time.
      expect(
        await eventually(
          async () => [...seen],
          (l) => l.length >= 3,
        ),
      ).toStrictEqual(['d1 up/senml first', 'd1 up/senml first', 'd1 up second']);
      expect(source.stats).toMatchObject({ received: 3, failed: 1 });
    } finally {
      await device.endAsync();
      await source.stop();
      await broker.stop();
    }
  });
});
