import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform } from '../../services/cli/platform.ts';
import { silentLogger } from '../../services/common/logger.ts';
import { eventually, testConfig } from '../helpers/env.ts';
import { influxdUnavailable, type PrivateInfluxd, startPrivateInfluxd } from '../helpers/influxd.ts';

const MESSAGES = 20_000;
const IN_FLIGHT = 1000;
const DEVICE = 'aq-outage-1';
const MID_STREAM = 5_000;
const QUANTITIES = ['air_temperature', 'pm10', 'pm2_5', 'relative_humidity'] as const;
/** Within every quantity's plausible range; the per-quantity sum then proves the values, not only the count. */
const readingValue = (i: number, k: number) => (i % 50) + k;

const skip = influxdUnavailable();
if (skip) console.warn(`outage test skipped: ${skip}`);

/** Count and sum per quantity of `device`'s readings, as InfluxDB has them. */
async function storedOf(platform: Platform, device: string) {
  const [series = []] = await platform.influx.query(
    `SELECT count("value"), sum("value") FROM ${QUANTITIES.map((q) => `"${q}"`).join(',')} WHERE "device" = '${device}'`,
  );
  return series.map((s) => ({ name: s.name, count: s.values[0]?.[1], sum: s.values[0]?.[2] }));
}

function expectedOf(messages: number) {
  return QUANTITIES.map((q, k) => {
    let sum = 0;
    for (let i = 0; i < messages; i++) sum += readingValue(i, k);
    return { name: q, count: messages, sum };
  });
}

describe.skipIf(skip !== undefined)('outage: InfluxDB is down while devices publish', () => {
  let influxd: PrivateInfluxd;
  let platform: Platform;
  let client: MqttClient | undefined;

  beforeAll(async () => {
    influxd = await startPrivateInfluxd();
    // No self-metric points in the spool: its depth is then exactly the readings published.
    const config = testConfig({ INFLUX_URL: influxd.url, INFLUX_API: 'v1', SUS_SELF_METRICS_INTERVAL_S: '3600' });
    platform = await startPlatform(config, silentLogger, { broker: true, api: false });
    await platform.registry.createDepartment({ id: 'environment', name: 'Environment' });
  }, 60_000);

  afterAll(async () => {
    await client?.endAsync(true);
    await platform?.stop();
    await influxd?.destroy();
  });

  it('stores every one of 20,000 QoS 1 messages exactly once after InfluxDB comes back', async () => {
    const { secret } = await platform.registry.createDevice({
      id: DEVICE,
      name: 'outage test',
      department: 'environment',
      type: 'air_quality',
    });
    const written = platform.ingest!.writer.stats.written;
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
    expect(ingest.writer.stats.written).toBe(written);
    expect(ingest.writer.stats.failures).toBeGreaterThan(0);

    await influxd.start();
    await eventually(
      async () => ingest.spool.depth,
      (d) => d === 0,
      40_000,
    );
    expect(await storedOf(platform, DEVICE)).toStrictEqual(expectedOf(MESSAGES));
  }, 120_000);

  it('stores every QoS 1 message exactly once when InfluxDB stops and restarts mid-stream, batches in flight', async () => {
    const device = 'aq-outage-2';
    const { secret } = await platform.registry.createDevice({
      id: device,
      name: 'outage test, mid-stream',
      department: 'environment',
      type: 'air_quality',
    });
    const ingest = platform.ingest!;
    const failuresBefore = ingest.writer.stats.failures;
    const mid = await connectAsync(`mqtt://127.0.0.1:${platform.mqttPort}`, {
      clientId: device,
      username: device,
      password: secret,
      reconnectPeriod: 0,
    });
    try {
      const t0 = Date.now() - 7_200_000;
      let next = 0;
      let acked = 0;
      const milestones = new Map<number, () => Promise<void>>([
        [MID_STREAM / 5, () => influxd.stop()],
        [(MID_STREAM * 3) / 5, () => influxd.start()],
      ]);
      const publishSome = async () => {
        while (next < MID_STREAM) {
          const i = next++;
          const values = Object.fromEntries(QUANTITIES.map((q, k) => [q, readingValue(i, k)]));
          await mid.publishAsync(`sus/v1/devices/${device}/up`, JSON.stringify({ time: t0 + i, values }), { qos: 1 });
          // InfluxDB goes down with writes in flight and comes back while the stream goes on.
          await milestones.get(++acked)?.();
        }
      };
      await Promise.all(Array.from({ length: 200 }, publishSome));
      expect(ingest.writer.stats.failures).toBeGreaterThan(failuresBefore);
      await eventually(
        async () => ingest.spool.depth,
        (d) => d === 0,
        40_000,
      );
      expect(await storedOf(platform, device)).toStrictEqual(expectedOf(MID_STREAM));
    } finally {
      await mid.endAsync();
    }
  }, 120_000);
});
