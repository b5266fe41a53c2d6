import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform } from '../../../services/cli/platform.ts';
import { silentLogger } from '../../../services/common/logger.ts';
import { apiClient } from '../../helpers/api-client.ts';
import { eventually, TEST_ADMIN_KEY, testConfig } from '../../helpers/env.ts';

interface Received {
  topic: string;
  body: Record<string, unknown>;
}

describe('downlink through the API: commands, desired config on reconnect, acks (sus run)', () => {
  let platform: Platform;
  let api: ReturnType<typeof apiClient>;
  const secrets: Record<string, string> = {};
  const clients: MqttClient[] = [];

  const connect = async (id: string, url = `mqtt://127.0.0.1:${platform.mqttPort}`, extra: IClientOptions = {}) => {
    const client = await connectAsync(
      url,
      { username: id, password: secrets[id], clientId: id, reconnectPeriod: 0, ...extra },
      false,
    );
    clients.push(client);
    return client;
  };
  /** Connects, subscribes to the device's downlink tree and collects what arrives. */
  const listen = async (id: string) => {
    const client = await connect(id);
    const received: Received[] = [];
    client.on('message', (topic, payload) => {
      const { time: _time, ...body } = JSON.parse(payload.toString()) as Record<string, unknown>;
      received.push({ topic, body });
    });
    await client.subscribeAsync(`sus/v1/devices/${id}/down/#`, { qos: 1 });
    return { client, received };
  };

  beforeAll(async () => {
    platform = await startPlatform(testConfig(), silentLogger);
    api = apiClient(`http://127.0.0.1:${platform.httpPort}`, TEST_ADMIN_KEY);
    await platform.registry.ensureDepartment({ id: 'environment', name: 'Environment Office' });
    await platform.registry.ensureDepartment({ id: 'traffic', name: 'Traffic Department' });
    for (const id of ['dl-cmd', 'dl-cfg', 'dl-ws']) {
      secrets[id] = (
        await platform.registry.createDevice({ id, name: id, department: 'environment', type: 'air_quality' })
      ).secret;
    }
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await platform?.stop();
  });

  it('publishes a command QoS 1 to an online device and records its ack', async () => {
    const { client, received } = await listen('dl-cmd');
    const sent = await api<{ id: number; name: string; args: unknown; ackedAt: unknown }>(
      'POST',
      '/v1/devices/dl-cmd/commands',
      { name: 'reboot', args: { delay_s: 5 } },
    );
    expect([sent.status, sent.body.name, sent.body.args, sent.body.ackedAt]).toStrictEqual([
      202,
      'reboot',
      { delay_s: 5 },
      null,
    ]);
    await eventually(
      async () => received,
      (r) => r.length === 1,
    );
    expect(received).toStrictEqual([
      {
        topic: 'sus/v1/devices/dl-cmd/down/command',
        body: { command: sent.body.id, name: 'reboot', args: { delay_s: 5 } },
      },
    ]);

    await client.publishAsync('sus/v1/devices/dl-cmd/ack', JSON.stringify({ command: sent.body.id, status: 'done' }), {
      qos: 1,
    });
    const commands = await api<{ commands: Array<{ id: number; ackStatus: string | null }> }>(
      'GET',
      '/v1/devices/dl-cmd/commands',
    );
    expect(commands.body.commands.map((c) => [c.id, c.ackStatus])).toStrictEqual([[sent.body.id, 'done']]);
    const acks = await api<{ acks: Array<Record<string, unknown>> }>('GET', '/v1/devices/dl-cmd/acks');
    expect(acks.body.acks.map(({ id: _id, receivedAt: _at, ...a }) => a)).toStrictEqual([
      {
        device: 'dl-cmd',
        topic: 'sus/v1/devices/dl-cmd/ack',
        command: sent.body.id,
        configVersion: null,
        status: 'done',
        payload: JSON.stringify({ command: sent.body.id, status: 'done' }),
      },
    ]);
  });

  it('delivers the desired config set while the device was offline when it reconnects', async () => {
    const first = await api('PUT', '/v1/devices/dl-cfg/config', { config: { interval_s: 60 } });
    const second = await api<{ version: number; ackedVersion: number | null }>('PUT', '/v1/devices/dl-cfg/config', {
      config: { interval_s: 30 },
    });
    expect([first.status, second.status, second.body.version, second.body.ackedVersion]).toStrictEqual([
      200,
      200,
      2,
      null,
    ]);

    const { client, received } = await listen('dl-cfg');
    await eventually(
      async () => received,
      (r) => r.length >= 1,
    );
    expect(received[0]).toStrictEqual({
      topic: 'sus/v1/devices/dl-cfg/down/config',
      body: { version: 2, config: { interval_s: 30 } },
    });

    await client.publishAsync('sus/v1/devices/dl-cfg/ack', JSON.stringify({ config: 2, status: 'applied' }), {
      qos: 1,
    });
    const desired = await api<Record<string, unknown>>('GET', '/v1/devices/dl-cfg/config');
    expect([desired.body.version, desired.body.config, desired.body.ackedVersion]).toStrictEqual([
      2,
      { interval_s: 30 },
      2,
    ]);
  });

  it("answers 404 to another department's key, without disclosing the device", async () => {
    const { key } = await platform.registry.keys.create({
      name: 'traffic-ops',
      department: 'traffic',
      scopes: ['read', 'write'],
    });
    const res = await api<{ code: string }>('POST', '/v1/devices/dl-cmd/commands', { name: 'reboot' }, key);
    expect([res.status, res.body.code]).toStrictEqual([404, 'SUS_ERR_DEVICE_NOT_FOUND']);
    const cfg = await api<{ code: string }>('PUT', '/v1/devices/dl-cmd/config', { config: {} }, key);
    expect([cfg.status, cfg.body.code]).toStrictEqual([404, 'SUS_ERR_DEVICE_NOT_FOUND']);
  });

  it('accepts MQTT over WebSocket on the HTTP port at /mqtt', async () => {
    const client = await connect('dl-ws', `ws://127.0.0.1:${platform.httpPort}/mqtt`);
    const ack = await client.publishAsync('sus/v1/devices/dl-ws/up', JSON.stringify({ values: { pm2_5: 4 } }), {
      qos: 1,
    });
    expect(ack?.cmd).toBe('publish');
    expect(platform.broker?.isOnline('dl-ws')).toBe(true);
  });

  it('serves the broker counters on /metrics', async () => {
    const res = await api<string>('GET', '/metrics');
    const lines = res.body.split('\n').filter((l) => /^sus_mqtt_(connects_total|acl_denials_total) /.test(l));
    expect(lines).toStrictEqual(['sus_mqtt_connects_total 3']);
  });
});
