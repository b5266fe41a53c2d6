import { connectAsync, type MqttClient } from 'mqtt';
import { type Platform, startPlatform } from '../../services/cli/platform.ts';
import type { Config } from '../../services/common/config.ts';
import { silentLogger } from '../../services/common/logger.ts';
import { type ApiResponse, apiClient } from './api-client.ts';
import { TEST_ADMIN_KEY, testConfig } from './env.ts';

/**
 * The scene of the single-notification alert tests: a platform (real broker, InfluxDB, registry) beside a receiver
 * the test runs (SMTP sink, webhook receiver); `river(notify)` adds department `environment`, water gauge `river-1`
 * connected over MQTT and rule `river-high` (water_level above 1.5 m) notifying `notify`. `close` stops all three.
 */
export async function startRiverScene<R extends { close(): Promise<void> }>(
  receiver: R,
  settings: (receiver: R) => Partial<Record<keyof Config, string>>,
) {
  const platform: Platform = await startPlatform(testConfig(settings(receiver)), silentLogger);
  const api = apiClient(`http://127.0.0.1:${platform.httpPort}`, TEST_ADMIN_KEY);
  let client: MqttClient | undefined;
  return {
    platform,
    api,
    receiver,
    /** Creates the department, device and rule; resolves with the API's answer to the rule. */
    async river(notify: unknown[]): Promise<ApiResponse> {
      const department = await api('POST', '/v1/departments', { id: 'environment', name: 'environment' });
      if (department.status !== 201) throw new Error(`department not created: ${department.status}`);
      const dev = await api<{ credentials: { username: string; password: string; clientId: string } }>(
        'POST',
        '/v1/devices',
        { id: 'river-1', name: 'river-1', department: 'environment', type: 'water_gauge' },
      );
      const rule = await api('POST', '/v1/rules', {
        owner: 'environment',
        id: 'river-high',
        name: 'River high',
        quantity: 'water_level',
        device: 'river-1',
        above: 1.5,
        notify,
      });
      client = await connectAsync(`mqtt://127.0.0.1:${platform.mqttPort}`, {
        ...dev.body.credentials,
        reconnectPeriod: 0,
      });
      return rule;
    },
    /** Publishes river-1's water level with QoS 1; resolves at the PUBACK. */
    async publish(level: number): Promise<void> {
      if (!client) throw new Error('river() first');
      await client.publishAsync('sus/v1/devices/river-1/up', JSON.stringify({ values: { water_level: level } }), {
        qos: 1,
      });
    },
    async close(): Promise<void> {
      await client?.endAsync(true);
      await platform.stop();
      await receiver.close();
    },
  };
}

export type RiverScene<R extends { close(): Promise<void> }> = Awaited<ReturnType<typeof startRiverScene<R>>>;
