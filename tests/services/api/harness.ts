import { randomBytes } from 'node:crypto';
import { type Platform, startPlatform } from '../../../services/cli/platform.ts';
import { catalogue } from '../../../services/common/catalogue.ts';
import { InfluxQuery } from '../../../services/common/influx.ts';
import { readingLine, tagSet } from '../../../services/common/line-protocol.ts';
import { silentLogger } from '../../../services/common/logger.ts';
import { lateWindows } from '../../../services/ingest/rollups/dirty.ts';
import type { Scope } from '../../../services/registry/index.ts';
import { apiClient } from '../../helpers/api-client.ts';
import { TEST_ADMIN_KEY, testConfig } from '../../helpers/env.ts';
import { FIXTURE_DEVICES, type RawReading, writeReadings } from '../../helpers/rollups.ts';

const catalogueNames = new Set(catalogue.names());

export const DEPARTMENTS = ['environment', 'traffic', 'parks', 'waste'] as const;
export type Dept = (typeof DEPARTMENTS)[number];

export interface Harness {
  platform: Platform;
  base: string;
  admin: ReturnType<typeof apiClient>;
  /** A client acting with a key of `dept` holding exactly `scopes`. */
  as(dept: Dept | null, scopes: Scope[]): Promise<ReturnType<typeof apiClient>>;
  /** The key behind {@link as}, for requests that need their own headers. */
  key(dept: Dept | null, scopes: Scope[]): Promise<string>;
  /**
   * Writes readings straight to the test's InfluxDB with the storage model's tags, and their newest values to the
   * latest-value store as ingest does.
   */
  write(
    points: Array<{
      q: string;
      device: string;
      dept: string;
      district: string;
      type: string;
      value: number;
      time: number;
      flags?: string[];
    }>,
  ): Promise<void>;
  stop(): Promise<void>;
}

/** A real platform on free ports with three departments; keys are minted through the real API. */
export async function startHarness(overrides: Record<string, string> = {}, broker = false): Promise<Harness> {
  const config = testConfig(overrides);
  const platform = await startPlatform(config, silentLogger, { broker, api: true });
  // The rebuild of the empty latest-value store queries InfluxDB: done before a test watches its queries.
  await platform.latestReady;
  const base = `http://127.0.0.1:${platform.httpPort}`;
  const admin = apiClient(base, TEST_ADMIN_KEY);
  for (const id of DEPARTMENTS) {
    const res = await admin('POST', '/v1/departments', { id, name: id });
    if (res.status !== 201) throw new Error(`department ${id}: ${JSON.stringify(res.body)}`);
  }
  const keys = new Map<string, string>();
  const key = async (dept: Dept | null, scopes: Scope[]): Promise<string> => {
    const tag = `${dept}:${scopes.join(',')}`;
    let known = keys.get(tag);
    if (!known) {
      const res = await admin<{ key: string }>('POST', '/v1/keys', { name: tag, department: dept, scopes });
      if (res.status !== 201) throw new Error(`key ${tag}: ${JSON.stringify(res.body)}`);
      known = res.body.key;
      keys.set(tag, known);
    }
    return known;
  };
  return {
    platform,
    base,
    admin,
    as: async (dept, scopes) => apiClient(base, await key(dept, scopes)),
    key,
    async write(points) {
      const body = points
        .map((p) =>
          readingLine(
            p.q,
            tagSet({ department: p.dept, device: p.device, device_type: p.type, district: p.district, source: 'test' }),
            p.value,
            p.time,
            p.flags,
          ),
        )
        .join('\n');
      const res = await fetch(`${config.INFLUX_URL}/write?db=${config.INFLUX_DB}&precision=ms`, {
        method: 'POST',
        body,
      });
      if (res.status !== 204) throw new Error(`influx write: ${res.status} ${await res.text()}`);
      // Readings of ended hours make their rollups stale, as when ingest stores them (services/ingest/rollups).
      const late = lateWindows(Buffer.from(body), catalogueNames, Date.now(), config.SUS_ROLLUP_SETTLE_S * 1000);
      await platform.registry.rollups.markDirty([...late.values()]);
      await platform.registry.latest.upsert(
        points.map((p) => ({
          device: p.device,
          quantity: p.q,
          value: p.value,
          unit: catalogue.get(p.q)?.unit ?? '',
          time: p.time,
        })),
      );
    },
    async stop() {
      await platform.stop();
      await platform.influx.query(`DROP DATABASE "${config.INFLUX_DB}"`, 'POST').catch(() => undefined);
    },
  };
}

/**
 * A harness with the broker side (rollups) over `readings` that were in InfluxDB before the platform started, as
 * after an import, its devices registered and the rollups computed once: the rollups begin with the readings.
 */
export async function startRollupHarness(
  readings: readonly RawReading[],
  overrides: Record<string, string> = {},
): Promise<Harness> {
  const all = {
    INFLUX_DB: `sus_test_${randomBytes(4).toString('hex')}`,
    SUS_ROLLUP_INTERVAL_S: '3600',
    SUS_SELF_METRICS_INTERVAL_S: '3600',
    ...overrides,
  };
  const config = testConfig(all);
  await new InfluxQuery(config).ensureDatabase();
  await writeReadings(config, readings);
  const h = await startHarness(all, true);
  for (const d of FIXTURE_DEVICES) {
    const res = await h.admin('POST', '/v1/devices', {
      ...d,
      name: d.id,
      department: 'environment',
      type: 'air_quality',
    });
    if (res.status !== 201) throw new Error(`device ${d.id}: ${JSON.stringify(res.body)}`);
  }
  await h.platform.rollups!.runOnce();
  return h;
}
