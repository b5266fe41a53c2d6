import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform } from '../../../services/cli/platform.ts';
import type { Config } from '../../../services/common/config.ts';
import { InfluxQuery } from '../../../services/common/influx.ts';
import { floatValue, tagSet } from '../../../services/common/line-protocol.ts';
import { silentLogger } from '../../../services/common/logger.ts';
import { DAY_MS, HOUR_MS, windowStart } from '../../../services/common/rollups.ts';
import { eventually, testConfig } from '../../helpers/env.ts';
import { freshSchema } from '../../helpers/postgres.ts';
import {
  expectedRollups,
  FIXTURE_DEVICES,
  fixtureReadings,
  type RawReading,
  storedRollups,
  writeReadings,
} from '../../helpers/rollups.ts';

const QUANTITIES = ['no2', 'pm10', 'o3'];
describe('rollups: hourly and daily count, min, max, mean, sum, first, last computed by the platform', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'sus-rollups-'));
  const base = windowStart(Date.now(), DAY_MS) - 4 * DAY_MS;
  const readings = fixtureReadings(base);
  let config: Config;
  let influx: InfluxQuery;
  let platform: Platform | undefined;
  let schema: Awaited<ReturnType<typeof freshSchema>>;

  const start = async () => {
    platform = await startPlatform(config, silentLogger, { broker: true, api: false });
    return platform;
  };

  beforeAll(async () => {
    // A registry and data directory of its own: the checkpoint, the dirty windows and the spool survive the restart
    // (PostgreSQL where the suite has it: the embedded registry on disk takes ~20 s to create under load).
    schema = await freshSchema();
    config = testConfig({
      SUS_DATA_DIR: dataDir,
      DATABASE_URL: schema?.url ?? '',
      SUS_ROLLUP_INTERVAL_S: '3600',
      SUS_SELF_METRICS_INTERVAL_S: '3600',
    });
    influx = new InfluxQuery(config);
    await influx.ensureDatabase();
    await writeReadings(config, readings);
  });

  afterAll(async () => {
    await platform?.stop();
    await schema?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('equal the raw aggregates exactly after a restart in the middle of the catch-up', async () => {
    const first = await start();
    // Stopped after its first window run: the checkpoint says how far it got. Listening at once: the service starts a
    // pass of its own when it starts, and registering the devices first let that pass's first run go unseen (CI).
    const stopAt: number[] = [];
    first.rollups!.engine.once('progress', (window, doneUntil) => {
      stopAt.push(doneUntil);
      expect(window).toBe('1h');
      first.rollups!.engine.halt();
    });
    await first.registry.createDepartment({ id: 'environment', name: 'Environment' });
    for (const d of FIXTURE_DEVICES) {
      await first.registry.createDevice({
        id: d.id,
        name: d.id,
        department: 'environment',
        type: 'air_quality',
        district: d.district,
      });
    }
    await first.rollups!.runOnce();
    expect(stopAt).toStrictEqual([base + DAY_MS]);
    expect((await first.registry.rollups.progress())['1h']).toStrictEqual({
      coveredFrom: base,
      doneUntil: base + DAY_MS,
    });
    await first.stop();

    const second = await start();
    const closed = windowStart(Date.now() - 120_000, HOUR_MS);
    await second.rollups!.runOnce();
    const progress = await second.registry.rollups.progress();
    // Every closed hour (SUS_ROLLUP_SETTLE_S after its end) is rolled up.
    expect(progress['1h']!.doneUntil).toBeGreaterThanOrEqual(closed);
    expect(progress['1h']!.coveredFrom).toBe(base);
    expect(progress['1d']).toStrictEqual({
      coveredFrom: base,
      doneUntil: windowStart(progress['1h']!.doneUntil, DAY_MS),
    });
    expect(await storedRollups(influx, '1h', QUANTITIES)).toStrictEqual(expectedRollups(readings, '1h'));
    expect(await storedRollups(influx, '1d', QUANTITIES)).toStrictEqual(expectedRollups(readings, '1d'));

    // The daily mean is the mean of the raw readings as InfluxDB itself computes it, not a mean of hourly means.
    const [raw = []] = await influx.query(
      `SELECT mean("value") FROM "pm10" WHERE time >= '${new Date(base).toISOString()}' AND time < '${new Date(base + 3 * DAY_MS).toISOString()}' GROUP BY time(1d), "device"`,
    );
    const rawMeans = raw.flatMap((s) => s.values.map((v) => [s.tags?.device, v[0], v[1]]));
    const dailyMeans = (await storedRollups(influx, '1d', ['pm10'])).map((r) => [r.device, r.time, r.mean]);
    expect(dailyMeans).toStrictEqual(rawMeans);

    // sus_rollup self-metrics: the points written since the last line, and, five hours on without a pass, the
    // closed hours behind and the lag.
    const engine = second.rollups!.engine;
    const done = progress['1h']!.doneUntil;
    const now = Date.now();
    const head = `sus_rollup${tagSet({ node: hostname() })}`;
    expect(await second.rollups!.selfMetricLine(now)).toMatch(
      new RegExp(
        `^${head} windows_behind=0i,lag_s=${floatValue(Math.round((now - done) / 1000))},dirty=0i,points=${engine.stats.points}i,points_per_s=[0-9.]+ ${now}$`,
      ),
    );
    const later = now + 5 * HOUR_MS;
    const behind = (windowStart(later - 120_000, HOUR_MS) - done) / HOUR_MS;
    expect(behind).toBeGreaterThanOrEqual(4);
    expect(await second.rollups!.selfMetricLine(later)).toBe(
      `${head} windows_behind=${behind}i,lag_s=${floatValue(Math.round((later - done) / 1000))},dirty=0i,points=0i,points_per_s=0.0 ${later}`,
    );
  });

  it('recomputes the windows of late and out-of-order readings that came through ingest, without duplicates', async () => {
    const p = platform!;
    // Out of order: newest first, into hours and days that were rolled up already, plus a quantity that is new there.
    const late: RawReading[] = [
      { t: base + 2 * DAY_MS + 5 * HOUR_MS + 61_000, q: 'pm10', v: 99.5 },
      { t: base + DAY_MS + 3 * HOUR_MS + 30_000, q: 'pm10', v: 0.25 },
      { t: base + DAY_MS + 3 * HOUR_MS + 29_000, q: 'o3', v: 41 },
      { t: base + 7 * HOUR_MS + 1_000, q: 'no2', v: 120.75 },
    ].map(({ t, q, v }) => ({
      q,
      device: 'aq-rollup-1',
      department: 'environment',
      district: 'Nord',
      type: 'air_quality',
      value: v,
      time: t,
    }));
    const payload = late.map((r) => ({ time: r.time, values: { [r.q]: r.value } }));
    const result = await p.ingest!.ingestor.handle({
      device: 'aq-rollup-1',
      topic: 'sus/v1/devices/aq-rollup-1/up',
      channel: 'up',
      payload: Buffer.from(JSON.stringify(payload)),
      receivedAt: Date.now(),
      source: 'mqtt',
    });
    expect(result).toStrictEqual({ accepted: 4, rejected: [] });
    const all = [...readings, ...late];
    // Once the drainer has written the batch, its windows are marked; each pass recomputes what is marked.
    await eventually(
      async () => {
        await p.rollups!.runOnce();
        return storedRollups(influx, '1d', QUANTITIES);
      },
      (rows) => JSON.stringify(rows) === JSON.stringify(expectedRollups(all, '1d')),
    );
    expect(await storedRollups(influx, '1h', QUANTITIES)).toStrictEqual(expectedRollups(all, '1h'));
    expect(await p.registry.rollups.dirtyCount()).toBe(0);
    expect(p.rollups!.engine.stats.recomputed).toBe(3);
  });
});
