import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform } from '../../../services/cli/platform.ts';
import { silentLogger } from '../../../services/common/logger.ts';
import { DeadLetterStore } from '../../../services/registry/index.ts';
import { eventually, testConfig } from '../../helpers/env.ts';

/**
 * External MQTT sources against a second real Aedes broker playing The Things Stack / ChirpStack: the platform
 * connects to it as a client with credentials, subscribes to the integration topics and ingests what arrives.
 */
let ttn: Aedes;
let ttnServer: net.Server;
let platform: Platform;
let dir: string;
let publisher: mqtt.MqttClient;
const subscribed = new Set<string>();

async function stored(device: string): Promise<string[]> {
  const [series = []] = await platform.influx.query(
    `SELECT "value" FROM /.*/ WHERE "device" = '${device}' AND time > now() - 1h GROUP BY "source"`,
  );
  return series.flatMap((s) => (s.values ?? []).map((v) => `${s.name} ${s.tags?.source} ${v[1]} ${v[0]}`)).sort();
}

beforeAll(async () => {
  ttn = await Aedes.createBroker({
    authenticate: (_client, username, password, done) =>
      done(null, username === 'city@ttn' && password?.toString() === 'NNSXS.secret'),
  });
  ttn.on('subscribe', (subs) => {
    for (const sub of subs) subscribed.add(sub.topic);
  });
  ttnServer = net.createServer(ttn.handle);
  await new Promise<void>((resolve) => ttnServer.listen(0, '127.0.0.1', resolve));
  const port = (ttnServer.address() as net.AddressInfo).port;
  dir = mkdtempSync(path.join(tmpdir(), 'sus-sources-'));
  const file = path.join(dir, 'integrations.json');
  process.env.SUS_TEST_TTN_KEY = 'NNSXS.secret';
  writeFileSync(
    file,
    JSON.stringify([
      {
        name: 'ttn',
        url: `mqtt://127.0.0.1:${port}`,
        username: 'city@ttn',
        passwordEnv: 'SUS_TEST_TTN_KEY',
        topic: 'v3/city@ttn/devices/+/up',
        format: 'ttn',
      },
      {
        name: 'chirpstack',
        url: `mqtt://127.0.0.1:${port}`,
        username: 'city@ttn',
        password: 'NNSXS.secret',
        topic: 'application/+/device/+/event/up',
        format: 'chirpstack',
      },
    ]),
  );
  platform = await startPlatform(testConfig({ SUS_INTEGRATIONS_FILE: file }), silentLogger, {
    broker: true,
    api: false,
  });
  await platform.registry.createDepartment({ id: 'drainage', name: 'Drainage' });
  await platform.registry.createDevice({ id: 'wl-1', name: 'Gauge', department: 'drainage', type: 'river_gauge' });
  await platform.registry.createDevice({ id: '0101010101010101', name: 'Soil', department: 'drainage', type: 'soil' });
  publisher = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { username: 'city@ttn', password: 'NNSXS.secret' });
  // Both integrations subscribed before anything is published (a new session would miss earlier messages).
  await eventually(
    async () => subscribed.size,
    (n) => n === 2,
  );
});

afterAll(async () => {
  await publisher?.endAsync();
  await platform?.stop();
  await new Promise<void>((resolve) => ttn?.close(() => resolve()));
  ttnServer?.close();
  rmSync(dir, { recursive: true, force: true });
  delete process.env.SUS_TEST_TTN_KEY;
});

describe('external MQTT sources', () => {
  it('ingests a The Things Stack v3 uplink from v3/{app}@{tenant}/devices/{dev}/up with source mqtt:ttn', async () => {
    const at = Date.now() - 2000;
    const uplink = {
      end_device_ids: { device_id: 'wl-1', application_ids: { application_id: 'city' } },
      uplink_message: {
        decoded_payload: { water_level: 2.5 },
        rx_metadata: [{ gateway_ids: { gateway_id: 'gw' }, rssi: -101, snr: 3 }],
        received_at: new Date(at).toISOString(),
      },
    };
    await publisher.publishAsync('v3/city@ttn/devices/wl-1/up', JSON.stringify(uplink), { qos: 1 });
    expect(
      await eventually(
        () => stored('wl-1'),
        (s) => s.length === 3,
      ),
    ).toStrictEqual([`rssi mqtt:ttn -101 ${at}`, `snr mqtt:ttn 3 ${at}`, `water_level mqtt:ttn 2.5 ${at}`]);
  });

  it('ingests a ChirpStack v4 uplink from application/{app}/device/{devEui}/event/up', async () => {
    const at = Date.now() - 1000;
    const event = {
      time: new Date(at).toISOString(),
      deviceInfo: { devEui: '0101010101010101', deviceName: 'soil' },
      object: { soil_moisture: 30 },
      rxInfo: [{ gatewayId: 'g', rssi: -50, snr: 9 }],
    };
    await publisher.publishAsync('application/abc/device/0101010101010101/event/up', JSON.stringify(event), { qos: 1 });
    expect(
      await eventually(
        () => stored('0101010101010101'),
        (s) => s.length === 3,
      ),
    ).toStrictEqual([
      `rssi mqtt:chirpstack -50 ${at}`,
      `snr mqtt:chirpstack 9 ${at}`,
      `soil_moisture mqtt:chirpstack 30 ${at}`,
    ]);
  });

  it('dead-letters a payload naming another device than its topic, with the integration as source', async () => {
    const uplink = { end_device_ids: { device_id: 'wl-2' }, uplink_message: { decoded_payload: { water_level: 1 } } };
    await publisher.publishAsync('v3/city@ttn/devices/wl-1/up', JSON.stringify(uplink), { qos: 1 });
    const store = new DeadLetterStore(platform.registry.db);
    const [entry] = await eventually(
      () => store.list({ source: 'mqtt:ttn', limit: 10 }),
      (l) => l.length === 1,
    );
    expect([entry!.topic, entry!.device, entry!.format, entry!.reasons]).toStrictEqual([
      'v3/city@ttn/devices/wl-1/up',
      'wl-1',
      'ttn',
      [{ code: 'INGEST_DEVICE_MISMATCH', message: "the payload names device 'wl-2', the sender is 'wl-1'" }],
    ]);
  });
});

describe('in-process source: device topic channels of the own broker', () => {
  it('routes up/senml and up/senml-cbor of a real device client to their decoders', async () => {
    await platform.registry.createDepartment({ id: 'environment', name: 'Environment' });
    const { secret } = await platform.registry.createDevice({
      id: 'aq-9',
      name: 'AQ 9',
      department: 'environment',
      type: 'air_quality',
    });
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${platform.mqttPort}`, {
      clientId: 'aq-9',
      username: 'aq-9',
      password: secret,
    });
    try {
      const at = Date.now() - 3000;
      const pack = [{ bn: 'aq-9/', bt: at / 1000, n: 'temp', u: 'Cel', v: 7.5 }];
      await device.publishAsync('sus/v1/devices/aq-9/up/senml', JSON.stringify(pack), { qos: 1 });
      // [{0: "co2", 2: 420, 6: -2}]: RFC 8428 §6 labels, two seconds before the receive time
      const cbor = Buffer.concat([
        Buffer.from([0x81, 0xa3, 0x00, 0x63]),
        Buffer.from('co2'),
        Buffer.from([0x02, 0x19, 0x01, 0xa4, 0x06, 0x21]),
      ]);
      await device.publishAsync('sus/v1/devices/aq-9/up/senml-cbor', cbor, { qos: 1 });
      const s = await eventually(
        () => stored('aq-9'),
        (l) => l.length === 2,
      );
      expect(s[0]).toBe(`air_temperature mqtt 7.5 ${at}`);
      expect(s[1]).toMatch(/^co2 mqtt 420 \d+$/);
    } finally {
      await device.endAsync();
    }
  });
});
