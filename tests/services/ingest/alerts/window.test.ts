import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform } from '../../../../services/cli/platform.ts';
import { InfluxQuery } from '../../../../services/common/influx.ts';
import { silentLogger } from '../../../../services/common/logger.ts';
import { HOUR_MS, windowStart } from '../../../../services/common/rollups.ts';
import { apiClient } from '../../../helpers/api-client.ts';
import { eventually, TEST_ADMIN_KEY, testConfig } from '../../../helpers/env.ts';
import { type RawReading, writeReadings } from '../../../helpers/rollups.ts';
import { startReceiver } from '../../../helpers/webhook-receiver.ts';

const SECRET = 'receiver-secret-0123456789';

describe('window rules: PM10 24-hour mean from the hourly rollups plus the current hour', () => {
  const now = Date.now();
  // 30 hours of 10-minute PM10 readings (multiples of 1/4: sums are exact) up to a minute ago.
  const readings: RawReading[] = Array.from({ length: 180 }, (_, i) => ({
    q: 'pm10',
    device: 'aq-win',
    department: 'environment',
    district: 'Nord',
    type: 'air_quality',
    value: 40 + ((i * 7) % 41) * 0.25,
    time: now - 60_000 - i * 600_000,
  }));
  const from = windowStart(now - 24 * HOUR_MS, HOUR_MS);
  const inWindow = readings.filter((r) => r.time >= from);
  const expectedMean = inWindow.reduce((s, r) => s + r.value, 0) / inWindow.length;
  let platform: Platform;
  let config: ReturnType<typeof testConfig>;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    receiver = await startReceiver();
    const overrides = {
      INFLUX_DB: `sus_test_${randomBytes(4).toString('hex')}`,
      SUS_ROLLUP_INTERVAL_S: '3600',
      SUS_WINDOW_RULE_INTERVAL_S: '3600',
      SUS_WEBHOOK_ALLOW_NETWORKS: '127.0.0.1',
    };
    config = testConfig(overrides);
    await new InfluxQuery(config).ensureDatabase();
    await writeReadings(config, readings);
    platform = await startPlatform(config, silentLogger);
  });
  afterAll(async () => {
    await platform?.stop();
    await receiver?.close();
  });

  it('fires with the exact window mean, read from rollups for the hours they cover (raw hours overwritten)', async () => {
    const api = apiClient(`http://127.0.0.1:${platform.httpPort}`, TEST_ADMIN_KEY);
    expect((await api('POST', '/v1/departments', { id: 'environment', name: 'environment' })).status).toBe(201);
    const dev = await api('POST', '/v1/devices', {
      id: 'aq-win',
      name: 'aq-win',
      department: 'environment',
      type: 'air_quality',
      district: 'Nord',
    });
    expect(dev.status).toBe(201);
    const rule = await api('POST', '/v1/rules', {
      owner: 'environment',
      id: 'pm10-daily',
      name: 'PM10 24 h mean',
      kind: 'window',
      quantity: 'pm10',
      window: '24h',
      aggregate: 'mean',
      district: 'Nord',
      above: 41,
      notify: [{ type: 'webhook', url: `${receiver.url}/window`, secret: SECRET }],
    });
    expect(rule.status).toBe(201);
    // The engine closes the hours before `now - SUS_ROLLUP_SETTLE_S`: on its own clock, in the first two minutes of an
    // hour, it stopped an hour short of what this test expects from its `now`.
    await platform.rollups!.runOnce(now + config.SUS_ROLLUP_SETTLE_S * 1000);
    const until = (await platform.registry.rollups.progress())['1h']!.doneUntil;
    expect(until).toBe(windowStart(now, HOUR_MS));
    // The raw readings of the hours the rollups cover are overwritten with 1000 (InfluxDB's DELETE would take the
    // rollups too): the exact old mean can only come from the rollups.
    await writeReadings(
      config,
      readings.filter((r) => r.time < until).map((r) => ({ ...r, value: 1000 })),
    );
    await platform.alerting!.engine.windows(now);
    const [hook] = await eventually(
      async () => receiver.received.filter((r) => r.path === '/window'),
      (r) => r.length === 1,
    );
    const notice = JSON.parse(hook!.body) as Record<string, unknown>;
    expect([
      notice.state,
      notice.device,
      notice.value,
      notice.unit,
      (notice.rule as { kind: string }).kind,
    ]).toStrictEqual(['firing', 'aq-win', expectedMean, 'ug/m3', 'window']);
  });
});
