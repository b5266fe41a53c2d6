import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform } from '../../../services/cli/platform.ts';
import { silentLogger } from '../../../services/common/logger.ts';
import { eventually, testConfig } from '../../helpers/env.ts';
import { influxdUnavailable, type PrivateInfluxd, startPrivateInfluxd } from '../../helpers/influxd.ts';

const MESSAGES = 20_000;
const IN_FLIGHT = 1000;
const DEVICE = 'aq-outage-1';
const QUANTITIES = ['air_temperature', 'pm10', 'pm2_5', 'relative_humidity'] as const;
/** Within every quantity's plausible range; the per-quantity sum then proves the values, not only the count. */
const readingValue = (i: number, k: number) => (i % 50) + k;

const skip = influxdUnavailable();
if (skip) console.warn(`outage test skipped: ${skip}`);

describe.skipIf(skip !== undefined)('outage: InfluxDB is down while devices publish', () => {
  let influxd: PrivateInfluxd;
  let platform: Platform;
  let client: MqttClient | undefined;

  beforeAll(async () => {
    influxd = await startPrivateInfluxd();
  }, 40_000);

  afterAll(async () => {
    await client?.endAsync(true);
    await platform?.stop();
    await influxd?.destroy();
  });

  it('stores every one of 20,000 QoS 1 messages exactly once after InfluxDB comes back', async () => {
    // No self-metric points in the spool: its depth is then exactly the readings published.
    const config = testConfig({ INFLUX_URL: influxd.url, INFLUX_API: 'v1', SUS_SELF_METRICS_INTERVAL_S: '3600' });
    platform = await startPlatform(config, silentLogger, { broker: true, api: false });
    await platform.registry.createDepartment({ id: 'environment', name: 'Environment' });
    const { secret } = await platform.registry.createDevice({
      id: DEVICE,
      name: 'outage test',
      department: 'environment',
      type: 'air_quality',
    });
    await influxd.stop();

    client = await connectAsync(`mqtt://127.0.0.1:${platform.mqttPort}`, {
      clientId: DEVICE,
      username: DEVICE,
      password: secret,
      reconnectPeriod: 0,
    });
    const t0 = Date.now() - 3_600_000;
    let next = 0;
    const publishSome = async () => {
      while (next < MESSAGES) {
        const i = next++;
        const values = Object.fromEntries(QUANTITIES.map((q, k) => [q, readingValue(i, k)]));
        await client!.publishAsync(`sus/v1/devices/${DEVICE}/up`, JSON.stringify({ time: t0 + i, values }), {
          qos: 1,
        });
      }
    };
    // Every publish resolves on its PUBACK: all 20,000 were acknowledged while InfluxDB was down.
    await Promise.all(Array.from({ length: IN_FLIGHT }, publishSome));

    const ingest = platform.ingest!;
    // Every reading waits in the spool (next to the device's presence line, which shares it).
    expect(ingest.spool.depth).toBeGreaterThanOrEqual(MESSAGES * QUANTITIES.length);
    expect(ingest.writer.stats.written).toBe(0);
    expect(ingest.writer.stats.failures).toBeGreaterThan(0);

    await influxd.start();
    await eventually(
      async () => ingest.spool.depth,
      (d) => d === 0,
      40_000,
    );
    const [series = []] = await platform.influx.query(
      `SELECT count("value"), sum("value") FROM ${QUANTITIES.map((q) => `"${q}"`).join(',')} WHERE "device" = '${DEVICE}'`,
    );
    const expected = QUANTITIES.map((q, k) => {
      let sum = 0;
      for (let i = 0; i < MESSAGES; i++) sum += readingValue(i, k);
      return { name: q, count: MESSAGES, sum };
    });
    expect(series.map((s) => ({ name: s.name, count: s.values[0]?.[1], sum: s.values[0]?.[2] }))).toStrictEqual(
      expected,
    );
  }, 120_000);
});
