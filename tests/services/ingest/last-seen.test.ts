import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InfluxQuery } from '../../../services/common/influx.ts';
import { silentLogger } from '../../../services/common/logger.ts';
import { createIngestService, type IngestService } from '../../../services/ingest/index.ts';
import { openRegistry, type Registry } from '../../../services/registry/index.ts';
import { eventually, testConfig } from '../../helpers/env.ts';

/** The real pipeline (spool, drainer, registry on PGlite, InfluxDB of the local stack) as `sus broker` composes it. */
let registry: Registry;
let ingest: IngestService;
const FLUSH_MS = 100;

beforeAll(async () => {
  const config = testConfig({ SUS_LAST_SEEN_FLUSH_MS: String(FLUSH_MS) });
  await new InfluxQuery(config).ensureDatabase();
  registry = await openRegistry(config);
  await registry.createDepartment({ id: 'environment', name: 'Environment' });
  await registry.createDevice({ id: 'aq-1', name: 'aq-1', department: 'environment', type: 'air_quality' });
  ingest = createIngestService(config, registry, silentLogger);
  await ingest.start();
});

afterAll(async () => {
  await ingest?.stop();
  await registry?.close();
});

describe('ingest writes last-seen times as often as SUS_LAST_SEEN_FLUSH_MS says', () => {
  it("sets a device's last-seen time within a few intervals of its reading (it used a fixed 5 s before)", async () => {
    const payload = Buffer.from(JSON.stringify({ values: { air_temperature: 21.5 } }));
    const receivedAt = Date.now();
    const result = await ingest.ingestor.handle({
      device: 'aq-1',
      topic: 'sus/v1/devices/aq-1/up',
      channel: 'up',
      payload,
      receivedAt,
      source: 'mqtt',
    });
    expect(result.accepted).toBe(1);
    // 25 intervals: room for a loaded machine, well short of the 5 s the old fixed interval took.
    const device = await eventually(
      () => registry.getDevice('aq-1'),
      (d) => d?.lastSeenAt != null,
      25 * FLUSH_MS,
    );
    expect(Date.parse(device!.lastSeenAt!)).toBeGreaterThanOrEqual(receivedAt - 1000);
  });
});
