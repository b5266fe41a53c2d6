import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiTarget } from '../../../services/cli/api-client.ts';
import { checkDevice } from '../../../services/cli/device-check.ts';
import { type Platform, startPlatform } from '../../../services/cli/platform.ts';
import { addDevice, createClaimCode, rebundleDevice } from '../../../services/cli/provisioning.ts';
import { silentLogger } from '../../../services/common/logger.ts';
import { BundleSchema } from '../../../services/common/provisioning.ts';
import { eventually, TEST_ADMIN_KEY, testConfig } from '../../helpers/env.ts';

describe('sus device: provisioning bundle and the live check on a real stream', () => {
  let platform: Platform;
  let api: ApiTarget;
  let mqttUrl: string;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    platform = await startPlatform(testConfig(), silentLogger);
    api = { url: `http://127.0.0.1:${platform.httpPort}`, key: TEST_ADMIN_KEY };
    mqttUrl = `mqtt://127.0.0.1:${platform.mqttPort}`;
    await platform.registry.ensureDepartment({ id: 'environment', name: 'Environment Office' });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await platform?.stop();
  });

  it('add prints a bundle a device connects with; bundle rotates the password', async () => {
    const bundle = await addDevice(
      api,
      { id: 'dev-add-01', name: 'Lamp post 7', department: 'environment', type: 'air_quality' },
      [mqttUrl],
      null,
    );
    expect(bundle).toStrictEqual({
      device: 'dev-add-01',
      department: 'environment',
      type: 'air_quality',
      mqtt: { urls: [mqttUrl], username: 'dev-add-01', password: bundle.mqtt.password, clientId: 'dev-add-01' },
      topics: {
        up: 'sus/v1/devices/dev-add-01/up',
        status: 'sus/v1/devices/dev-add-01/status',
        down: 'sus/v1/devices/dev-add-01/down/#',
        ack: 'sus/v1/devices/dev-add-01/ack',
      },
      caCertificate: null,
    });
    const again = await rebundleDevice(api, 'dev-add-01', [mqttUrl], null);
    expect(again.mqtt.password).not.toBe(bundle.mqtt.password);
    const { username, password, clientId } = again.mqtt;
    const client = await connectAsync(mqttUrl, { username, password, clientId, reconnectPeriod: 0 }, false);
    clients.push(client);
    expect(client.connected).toBe(true);
    await expect(
      connectAsync(mqttUrl, { ...bundle.mqtt, clientId: 'dev-add-01:old', reconnectPeriod: 0 }, false),
    ).rejects.toThrow();
  });

  it('claim-code gives a one-time code whose redemption is a bundle of the same shape', async () => {
    const claim = await createClaimCode(api, { department: 'environment', type: 'air_quality' });
    expect(claim.department).toBe('environment');
    const redeem = (id: string) =>
      fetch(`${api.url}/v1/provision/claim`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ code: claim.code, id }),
      });
    const res = await redeem('dev-claim-01');
    expect(res.status).toBe(201);
    const bundle = BundleSchema.parse(await res.json());
    expect(bundle.device).toBe('dev-claim-01');
    expect(bundle.topics.down).toBe('sus/v1/devices/dev-claim-01/down/#');
    // One-time: a second redemption is refused (the status code is the API's contract, not this tool's).
    const again = await redeem('dev-claim-02');
    expect(again.status >= 400 && again.status < 500).toBe(true);
  });

  it('check shows state, battery, signal, decoded values and dead-letter reasons as messages arrive', async () => {
    const bundle = await addDevice(
      api,
      { id: 'dev-chk-01', name: 'Check me', department: 'environment', type: 'air_quality' },
      [mqttUrl],
      null,
    );
    const { username, password, clientId } = bundle.mqtt;
    const device = await connectAsync(mqttUrl, { username, password, clientId, reconnectPeriod: 0 }, false);
    clients.push(device);
    const t1 = Date.now() - 5000;
    await device.publishAsync(
      bundle.topics.up,
      JSON.stringify({ time: t1, seq: 1, values: { air_temperature: 21.5, battery_voltage: 3.9, rssi: -71 } }),
      { qos: 1 },
    );

    const lines: string[] = [];
    const controller = new AbortController();
    const running = checkDevice(api, 'dev-chk-01', {
      pollMs: 100,
      signal: controller.signal,
      write: (l) => lines.push(l),
    });
    const statusLines = () => lines.filter((l) => l.startsWith('device '));
    const messageLines = () => lines.filter((l) => !l.startsWith('device '));
    try {
      await eventually(
        async () => messageLines().length,
        (n) => n >= 1,
      );
      // Arrives while the technician watches.
      await device.publishAsync(bundle.topics.up, '{"values":{"air_temperature":2', { qos: 1 });
      await eventually(
        async () => [messageLines().length, statusLines().at(-1)] as const,
        ([n, status]) => n >= 2 && / · online · /.test(status ?? ''),
      );
    } finally {
      controller.abort();
      await running;
    }
    // A status line whenever state, battery or signal change (the broker records "last seen" in batches).
    expect(statusLines().at(-1)).toMatch(
      /^device dev-chk-01 · online · last seen \d{4}-\d\d-\d\dT[\d:.]+Z · battery 3\.9 V · signal -71 dBm$/,
    );
    const messages = messageLines();
    expect(messages).toHaveLength(2);
    expect(messages[0]).toBe(
      `${new Date(t1).toISOString()}  reading      air_temperature=21.5 Cel  battery_voltage=3.9 V  rssi=-71 dBm`,
    );
    expect(messages[1]).toMatch(
      /^\d{4}-\d\d-\d\dT[\d:.]+Z {2}dead-letter {2}INGEST_MALFORMED_JSON: .+ {2}payload \{"values":\{"air_temperature":2$/,
    );
  });
});
