import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { catalogue } from '../common/catalogue.ts';
import type { Config } from '../common/config.ts';
import type { Logger } from '../common/logger.ts';
import type { MetricsRegistry } from '../common/metrics.ts';
import type { Service } from '../common/service.ts';
import type { Registry } from '../registry/index.ts';
import { DeviceDirectory } from './device-directory.ts';
import { Ingestor, ingestorExtras } from './ingestor.ts';
import { LatestRecorder } from './latest-recorder.ts';
import { IngestSelfMetrics } from './self-metrics.ts';
import { Spool } from './spool/spool.ts';
import { InfluxLineSender, SpoolDrainer } from './writer.ts';

export type { Uplink } from '../common/uplink.ts';
export { type Alerting, createAlerting } from './alerts/index.ts';
export { FORMATS, type Format, isFormat } from './decoders/index.ts';
export { DeviceDirectory } from './device-directory.ts';
export { Ingestor, type IngestResult, type IngestStats } from './ingestor.ts';
export { decodeOffline, type OfflineDecoded } from './offline.ts';
export { type DeviceProfile, loadProfileFile } from './profiles.ts';
export { REASON } from './reasons.ts';
export { createRollupService, type RollupService } from './rollups/index.ts';
export { IngestSelfMetrics } from './self-metrics.ts';
export { DeviceTreeSource, deviceTreeOptions } from './sources/device-tree.ts';
export { type Integration, loadIntegrations } from './sources/integrations.ts';
export { IntegrationSources } from './sources/mqtt-source.ts';
export { Spool } from './spool/spool.ts';
export { InfluxLineSender, type PointWriter, SpoolDrainer } from './writer.ts';

export interface IngestService extends Service {
  ingestor: Ingestor;
  writer: SpoolDrainer;
  spool: Spool;
  selfMetrics: IngestSelfMetrics;
}

/** Where the spool lives: SUS_DATA_DIR/spool; with the in-memory registry of tests, a temporary directory. */
function spoolDir(config: Config): { dir: string; temporary: boolean } {
  if (config.SUS_DATA_DIR !== 'memory://') return { dir: path.resolve(config.SUS_DATA_DIR, 'spool'), temporary: false };
  return { dir: path.join(tmpdir(), `sus-spool-${randomBytes(6).toString('hex')}`), temporary: true };
}

/**
 * Wires the pipeline: Ingestor → durable spool → drainer → InfluxDB, plus self-metrics. `start()` recovers the spool
 * (what a crash left in it is drained first) before the Ingestor takes messages.
 */
export function createIngestService(
  config: Config,
  registry: Registry,
  log: Logger,
  metrics?: MetricsRegistry,
): IngestService {
  const where = spoolDir(config);
  const spool = new Spool(
    { dir: where.dir, maxBytes: config.SUS_SPOOL_MAX_BYTES, segmentBytes: config.SUS_SPOOL_SEGMENT_BYTES },
    log.child({ component: 'spool' }),
  );
  const extras = ingestorExtras(config, registry);
  const writer = new SpoolDrainer(
    spool,
    new InfluxLineSender(config),
    { batchSize: config.SUS_WRITE_BATCH_SIZE, lingerMs: config.SUS_WRITE_FLUSH_MS },
    log.child({ component: 'influx-writer' }),
    extras.store,
  );
  const ingestor = new Ingestor({
    writer,
    directory: new DeviceDirectory(registry, { maxEntries: config.SUS_DEVICE_CACHE_MAX }),
    store: extras.store,
    profiles: extras.profiles,
    catalogue,
    log: log.child({ component: 'ingest' }),
    options: {
      maxPayloadBytes: config.SUS_MAX_PAYLOAD_BYTES,
      timePolicy: { maxAgeMs: config.SUS_MAX_AGE_S * 1000, maxSkewMs: config.SUS_MAX_SKEW_S * 1000 },
      plausibility: extras.plausibility,
      lastSeenFlushMs: config.SUS_LAST_SEEN_FLUSH_MS,
      registryTimeoutMs: config.SUS_REGISTRY_TIMEOUT_MS,
      deadLetterRate: { limit: config.SUS_DEAD_LETTER_RATE, windowMs: config.SUS_DEAD_LETTER_RATE_WINDOW_S * 1000 },
    },
  });
  // Every spooled reading updates the shared latest-value store, in batches, off the acknowledgement path.
  const latest = new LatestRecorder(
    registry.latest,
    config.SUS_LATEST_FLUSH_MS,
    log.child({ component: 'latest-values' }),
  );
  ingestor.on('readings', (readings) => latest.note(readings));
  const selfMetrics = new IngestSelfMetrics({
    ingest: ingestor,
    drainer: writer,
    spool,
    metrics,
    node: hostname(),
    intervalMs: config.SUS_SELF_METRICS_INTERVAL_S * 1000,
    log: log.child({ component: 'ingest-metrics' }),
  });
  let started = false;
  return {
    ingestor,
    writer,
    spool,
    selfMetrics,
    async start() {
      await spool.open();
      started = true;
      writer.start();
      selfMetrics.start();
      ingestor.start();
      latest.start();
    },
    async stop() {
      if (!started) return;
      started = false;
      selfMetrics.stop();
      await ingestor.stop();
      await latest.stop();
      await writer.stop();
      await spool.close();
      if (where.temporary) await rm(where.dir, { recursive: true, force: true });
    },
  };
}
