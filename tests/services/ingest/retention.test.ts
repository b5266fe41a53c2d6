import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform } from '../../../services/cli/platform.ts';
import type { Config } from '../../../services/common/config.ts';
import { InfluxQuery } from '../../../services/common/influx.ts';
import { silentLogger } from '../../../services/common/logger.ts';
import { DAY_MS, HOUR_MS, windowStart } from '../../../services/common/rollups.ts';
import { RetentionPolicies } from '../../../services/ingest/rollups/index.ts';
import { apiClient } from '../../helpers/api-client.ts';
import { eventually, TEST_ADMIN_KEY, testConfig } from '../../helpers/env.ts';
import { influxdUnavailable, type PrivateInfluxd, startPrivateInfluxd } from '../../helpers/influxd.ts';
import {
  expectedAggregate,
  expectedRollups,
  FIXTURE_DEVICES,
  fixtureReadings,
  storedRollups,
  writeReadings,
} from '../../helpers/rollups.ts';

const skip = influxdUnavailable();
if (skip) console.warn(`retention test skipped: ${skip}`);

const policies = async (influx: InfluxQuery, db: string) => {
  const [series = []] = await influx.query(`SHOW RETENTION POLICIES ON "${db}"`);
  return Object.fromEntries((series[0]?.values ?? []).map((v) => [v[0], [v[1], v[4]]]));
};

describe('retention: raw readings age out, rollups stay and still answer', () => {
  it('shortens the raw policy only once the hourly rollups reach past the new limit', async () => {
    const config = testConfig({ INFLUX_DB: `sus_test_${randomBytes(4).toString('hex')}` });
    const influx = new InfluxQuery(config);
    await influx.ensureDatabase();
    const retention = new RetentionPolicies(influx, config.INFLUX_DB, { raw: 30, hourly: 400, daily: 0 }, silentLogger);
    const now = Date.now();
    await retention.apply(undefined, now);
    await retention.apply(now - 31 * DAY_MS, now);
    expect([retention.settled, await policies(influx, config.INFLUX_DB)]).toStrictEqual([
      false,
      { autogen: ['0s', true], rollup_1h: ['9600h0m0s', false], rollup_1d: ['0s', false] },
    ]);
    await retention.apply(now - 29 * DAY_MS, now);
    expect([retention.settled, (await policies(influx, config.INFLUX_DB)).autogen]).toStrictEqual([
      true,
      ['720h0m0s', true],
    ]);
  });

  describe.skipIf(skip !== undefined)('on an InfluxDB that enforces retention every second', () => {
    let influxd: PrivateInfluxd;
    let config: Config;
    let platform: Platform;
    const old = fixtureReadings(windowStart(Date.now(), DAY_MS) - 60 * DAY_MS);
    const recent = fixtureReadings(windowStart(Date.now(), DAY_MS) - 4 * DAY_MS);

    beforeAll(async () => {
      influxd = await startPrivateInfluxd({ retentionCheckInterval: '1s' });
      config = testConfig({
        INFLUX_URL: influxd.url,
        INFLUX_API: 'v1',
        SUS_RAW_RETENTION_DAYS: '30',
        SUS_ROLLUP_INTERVAL_S: '3600',
        SUS_SELF_METRICS_INTERVAL_S: '3600',
      });
      // Two months of history before the platform first starts with a 30-day raw retention.
      await new InfluxQuery(config).ensureDatabase();
      await writeReadings(config, [...old, ...recent]);
      platform = await startPlatform(config, silentLogger, { broker: true, api: true });
      await platform.registry.createDepartment({ id: 'environment', name: 'Environment' });
      for (const d of FIXTURE_DEVICES) {
        await platform.registry.createDevice({ ...d, name: d.id, department: 'environment', type: 'air_quality' });
      }
    }, 60_000);

    afterAll(async () => {
      await platform?.stop();
      await influxd?.destroy();
    });

    it('removes the raw readings past SUS_RAW_RETENTION_DAYS and answers their days from the rollups', async () => {
      const influx = platform.influx;
      await platform.rollups!.runOnce();
      expect((await policies(influx, config.INFLUX_DB)).autogen).toStrictEqual(['720h0m0s', true]);
      const from = old[0]!.time;
      const range = `time >= '${new Date(from).toISOString()}' AND time < '${new Date(from + 3 * DAY_MS).toISOString()}'`;
      await eventually(
        async () => (await influx.query(`SELECT count("value") FROM "pm10" WHERE ${range}`))[0]?.length,
        (n) => n === 0,
        20_000,
      );
      const [recentRaw = []] = await influx.query(`SELECT count("value") FROM "pm10"`);
      expect(recentRaw[0]?.values[0]?.[1]).toBe(recent.length / 2);

      const all = [...old, ...recent];
      expect(await storedRollups(influx, '1h', ['no2', 'pm10'])).toStrictEqual(expectedRollups(all, '1h'));
      expect(await storedRollups(influx, '1d', ['no2', 'pm10'])).toStrictEqual(expectedRollups(all, '1d'));
      const api = apiClient(`http://127.0.0.1:${platform.httpPort}`, TEST_ADMIN_KEY);
      const iso = (t: number) => new Date(t).toISOString();
      for (const [every, everyMs] of [
        ['1d', DAY_MS],
        ['6h', 6 * HOUR_MS],
      ] as const) {
        const res = await api<{ source: string; series: unknown }>(
          'GET',
          `/v1/readings/aggregate?quantity=pm10&department=environment&from=${iso(from)}&to=${iso(from + 3 * DAY_MS)}&every=${every}&fn=mean&groupBy=device`,
        );
        expect([res.status, res.body.source, res.body.series]).toStrictEqual([
          200,
          every === '1d' ? '1d' : '1h',
          expectedAggregate(old, { q: 'pm10', from, to: from + 3 * DAY_MS, everyMs, fn: 'mean', groupBy: 'device' }),
        ]);
      }
    });
  });
});
