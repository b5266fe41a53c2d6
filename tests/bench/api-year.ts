/**
 * bench:api's year case: a year of 10-minute pm10 readings of BENCH_YEAR_DEVICES devices (50), rolled up by the
 * platform's rollup engine from nothing (the catch-up rate), then a year of daily means of their department through
 * the API (answered from the daily rollups) beside the same question put to InfluxDB directly, once over the raw
 * readings and once over the rollups.
 */

import type { Platform } from '../../services/cli/platform.ts';
import { catalogue } from '../../services/common/catalogue.ts';
import type { Config } from '../../services/common/config.ts';
import { readingLine, tagSet } from '../../services/common/line-protocol.ts';
import { silentLogger } from '../../services/common/logger.ts';
import { DAY_MS, ROLLUP, windowStart } from '../../services/common/rollups.ts';
import { InfluxLineSender } from '../../services/ingest/index.ts';
import { RetentionPolicies, RollupEngine } from '../../services/ingest/rollups/index.ts';

const YEAR_DEVICES = Number(process.env.BENCH_YEAR_DEVICES ?? 50);
const EVERY_MS = 600_000;

export interface YearFigures {
  devices: number;
  rawPoints: number;
  writeS: number;
  catchUpS: number;
  /** Raw readings rolled up per second and rollup points written per second during the catch-up. */
  catchUpRawPerS: number;
  catchUpRollupPerS: number;
  rollupPoints: number;
}

/** Writes the year and rolls it up; returns the figures and the query range (whole days). */
export async function prepareYear(
  platform: Platform,
  config: Config,
  admin: string,
  log: (s: string) => void,
): Promise<{ figures: YearFigures; from: string; to: string }> {
  const base = `http://127.0.0.1:${platform.httpPort}`;
  const type = await fetch(`${base}/v1/device-types`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      id: 'aq_year',
      name: 'PM10 every 10 minutes',
      quantities: ['pm10'],
      expectedIntervalS: 600,
    }),
  });
  if (type.status !== 201) throw new Error(`device type: ${type.status} ${await type.text()}`);
  // A department of their own: the aggregate budget counts the devices a read covers, and environment has 10,000.
  await platform.registry.createDepartment({ id: 'climate', name: 'Climate' });
  const devices = Array.from({ length: YEAR_DEVICES }, (_, i) => ({
    id: `aqy-${String(i).padStart(3, '0')}`,
    name: `AQ year ${i}`,
    department: 'climate',
    type: 'aq_year',
    district: `y${i % 5}`,
  }));
  await platform.registry.createDevices(devices);

  const to = windowStart(Date.now(), DAY_MS);
  const from = to - 365 * DAY_MS;
  const sender = new InfluxLineSender(config);
  const t0 = performance.now();
  let rawPoints = 0;
  // One day of every device per write (50 × 144 = 7,200 lines): InfluxDB takes ~5,000–10,000 lines a batch best.
  for (let day = from; day < to; day += DAY_MS) {
    const lines: string[] = [];
    for (const [i, d] of devices.entries()) {
      const tags = tagSet({
        department: d.department,
        device: d.id,
        device_type: d.type,
        district: d.district,
        source: 'bench',
      });
      for (let t = day; t < day + DAY_MS; t += EVERY_MS) {
        lines.push(readingLine('pm10', tags, 20 + ((t / EVERY_MS + i * 7) % 40) / 2, t));
      }
    }
    await sender.send(Buffer.from(lines.join('\n')));
    rawPoints += lines.length;
  }
  sender.close();
  const writeS = (performance.now() - t0) / 1000;
  log(`year: ${rawPoints} raw points of ${devices.length} devices written in ${writeS.toFixed(1)} s`);

  const retention = new RetentionPolicies(
    platform.influx,
    config.INFLUX_DB,
    { raw: 0, hourly: 0, daily: 0 },
    silentLogger,
  );
  await retention.apply(undefined);
  const engine = new RollupEngine({
    influx: platform.influx,
    senders: {
      '1h': new InfluxLineSender(config, ROLLUP['1h'].policy),
      '1d': new InfluxLineSender(config, ROLLUP['1d'].policy),
    },
    store: platform.registry.rollups,
    log: silentLogger,
    options: {
      measurements: catalogue.names(),
      settleMs: config.SUS_ROLLUP_SETTLE_S * 1000,
      rawRetentionMs: 0,
      hourlyRetentionMs: 0,
      writeBatch: config.SUS_WRITE_BATCH_SIZE,
    },
  });
  const t1 = performance.now();
  await engine.runOnce();
  const catchUpS = (performance.now() - t1) / 1000;
  const figures: YearFigures = {
    devices: devices.length,
    rawPoints,
    writeS,
    catchUpS,
    catchUpRawPerS: Math.round(rawPoints / catchUpS),
    catchUpRollupPerS: Math.round(engine.stats.points / catchUpS),
    rollupPoints: engine.stats.points,
  };
  log(
    `year: rolled up in ${catchUpS.toFixed(1)} s (${figures.catchUpRawPerS} raw points/s, ${engine.stats.points} rollup points)`,
  );
  return { figures, from: new Date(from).toISOString(), to: new Date(to).toISOString() };
}
