import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../../services/common/config.ts';
import { InfluxQuery } from '../../../services/common/influx.ts';
import { silentLogger } from '../../../services/common/logger.ts';
import { createIngestService, type IngestService } from '../../../services/ingest/index.ts';
import { openRegistry, type Registry } from '../../../services/registry/index.ts';
import { testConfig } from '../../helpers/env.ts';

/**
 * The real pipeline (spool, drainer, registry on PGlite) against the real InfluxDB of the local stack (Debian's
 * 1.6): what InfluxDB refuses is dead-lettered line by line, and no tag can break a line.
 */
let config: Config;
let influx: InfluxQuery;
let registry: Registry;
let ingest: IngestService;

beforeAll(async () => {
  config = testConfig();
  influx = new InfluxQuery(config);
  await influx.ensureDatabase();
  registry = await openRegistry(config);
  await registry.createDepartment({ id: 'environment', name: 'Environment' });
  ingest = createIngestService(config, registry, silentLogger);
  await ingest.start();
});

afterAll(async () => {
  await ingest?.stop();
  await registry?.close();
});

const deadLetters = () =>
  registry.db.query<{
    device_id: string | null;
    source: string;
    reasons: unknown;
    payload: Uint8Array;
    format: string;
  }>('SELECT device_id, source, reasons, payload, format FROM dead_letters ORDER BY id');

describe('a batch with one line InfluxDB refuses', () => {
  it('stores the other N−1 points and files the refused line as a dead letter with InfluxDB reason', async () => {
    const t = Date.now() - 60_000;
    await ingest.writer.write([`noise_laeq,device=first,source=mqtt value=40.5 ${t}`]);
    await ingest.writer.flush();
    // One spool append: one batch of 50 lines, of which the 20th is a string where InfluxDB holds floats.
    const lines = Array.from({ length: 50 }, (_, i) =>
      i === 20
        ? `noise_laeq,device=bad-1,source=mqtt value="loud" ${t + i + 1}`
        : `noise_laeq,device=good-${i},source=mqtt value=${50 + i}.5 ${t + i + 1}`,
    );
    await ingest.writer.write(lines);
    await ingest.writer.flush();

    expect(ingest.spool.depth).toBe(0);
    const [[series] = []] = await influx.query('SELECT count("value") FROM "noise_laeq"');
    expect(series?.values[0]?.[1]).toBe(50);
    const [[bad] = []] = await influx.query(`SELECT "value" FROM "noise_laeq" WHERE "device" = 'bad-1'`);
    expect(bad).toBeUndefined();
    const rows = await deadLetters();
    expect(rows.map((r) => ({ ...r, payload: Buffer.from(r.payload).toString() }))).toStrictEqual([
      {
        device_id: 'bad-1',
        source: 'mqtt',
        reasons: [
          {
            code: 'INGEST_INFLUX_REFUSED',
            message:
              'InfluxDB refused the line (400): partial write: field type conflict: input field "value" on measurement "noise_laeq" is type string, already exists as type float dropped=1',
          },
        ],
        payload: lines[20],
        format: 'line-protocol',
      },
    ]);
    expect(ingest.writer.stats.refused).toBe(1);
    expect(ingest.writer.stats.written).toBe(50);
  });
});

describe('a device whose district holds a line break', () => {
  it('keeps every reading under its own measurement and forges no point into another', async () => {
    await registry.createDevice({
      id: 'aq-newline',
      name: 'newline',
      department: 'environment',
      type: 'air_quality',
      district: 'x\npm2_5',
    });
    const t = Date.now() - 30_000;
    for (let i = 0; i < 5; i++) {
      const r = await ingest.ingestor.handle({
        device: 'aq-newline',
        topic: 'sus/v1/devices/aq-newline/up',
        channel: 'up',
        payload: Buffer.from(JSON.stringify({ time: t + i, values: { pm10: 10 + i } })),
        receivedAt: Date.now(),
        source: 'mqtt',
      });
      expect(r).toStrictEqual({ accepted: 1, rejected: [] });
    }
    await ingest.writer.flush();
    const [[series] = []] = await influx.query(
      `SELECT "value", "district" FROM "pm10" WHERE "device" = 'aq-newline' ORDER BY time`,
    );
    expect(series?.values).toStrictEqual([0, 1, 2, 3, 4].map((i) => [t + i, 10 + i, 'x\uFFFDpm2_5']));
    const [measurements = []] = await influx.query('SHOW MEASUREMENTS');
    expect(measurements[0]?.values.flat()).not.toContain('pm2_5');
    expect(await deadLetters()).toHaveLength(1); // the refused line of the test above, nothing new
  });
});
