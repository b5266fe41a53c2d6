import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform } from '../../../../services/cli/platform.ts';
import { silentLogger } from '../../../../services/common/logger.ts';
import { apiClient } from '../../../helpers/api-client.ts';
import { eventually, TEST_ADMIN_KEY, testConfig } from '../../../helpers/env.ts';
import { startReceiver } from '../../../helpers/webhook-receiver.ts';

const SECRET = 'receiver-secret-0123456789';

describe('webhook SSRF guard: a name that resolves to loopback is refused when the socket connects', () => {
  let platform: Platform;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let client: MqttClient;
  beforeAll(async () => {
    receiver = await startReceiver();
    // No SUS_WEBHOOK_ALLOW_NETWORKS: the default refuses loopback, private and link-local addresses.
    platform = await startPlatform(testConfig({ SUS_WEBHOOK_MAX_ATTEMPTS: '1' }), silentLogger);
  });
  afterAll(async () => {
    await client?.endAsync(true);
    await platform?.stop();
    await receiver?.close();
  });

  it('passes the rule (a name is not an address) but never reaches the receiver; the delivery is a dead letter', async () => {
    const api = apiClient(`http://127.0.0.1:${platform.httpPort}`, TEST_ADMIN_KEY);
    expect((await api('POST', '/v1/departments', { id: 'environment', name: 'environment' })).status).toBe(201);
    const dev = await api<{ credentials: { username: string; password: string; clientId: string } }>(
      'POST',
      '/v1/devices',
      { id: 'river-1', name: 'river-1', department: 'environment', type: 'water_gauge' },
    );
    const port = new URL(receiver.url).port;
    const created = await api('POST', '/v1/rules', {
      owner: 'environment',
      id: 'river-high',
      name: 'River high',
      quantity: 'water_level',
      device: 'river-1',
      above: 1.5,
      notify: [{ type: 'webhook', url: `http://localhost:${port}/hook`, secret: SECRET }],
    });
    expect(created.status).toBe(201);
    client = await connectAsync(`mqtt://127.0.0.1:${platform.mqttPort}`, {
      ...dev.body.credentials,
      reconnectPeriod: 0,
    });
    await client.publishAsync('sus/v1/devices/river-1/up', JSON.stringify({ values: { water_level: 1.7 } }), {
      qos: 1,
    });
    const [alert] = await eventually(
      async () => (await api<{ alerts: Array<{ id: number }> }>('GET', '/v1/alerts?rule=river-high')).body.alerts,
      (a) => a.length === 1,
    );
    const deliveries = await eventually(
      async () =>
        (
          await api<{ deliveries: Array<{ state: string; attempts: number; lastError: string }> }>(
            'GET',
            `/v1/alerts/${alert!.id}/deliveries`,
          )
        ).body.deliveries,
      (d) => d[0]?.state === 'dead',
    );
    expect(
      deliveries.map((d) => [d.state, d.attempts, d.lastError.replace(/resolves to .*: /, 'resolves to …: ')]),
    ).toStrictEqual([
      [
        'dead',
        1,
        'SUS_ERR_WEBHOOK_ADDRESS: localhost resolves to …: loopback, private, link-local or reserved (SUS_WEBHOOK_ALLOW_NETWORKS allows networks)',
      ],
    ]);
    expect(receiver.received).toStrictEqual([]);
  });
});
