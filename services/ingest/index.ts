import { catalogue } from '../common/catalogue.ts';
import type { Config } from '../common/config.ts';
import { createInfluxWriteApi } from '../common/influx.ts';
import type { Logger } from '../common/logger.ts';
import type { Registry } from '../registry/index.ts';
import { DeviceDirectory } from './device-directory.ts';
import { Ingestor } from './ingestor.ts';
import { InfluxPointWriter } from './writer.ts';

export type { Uplink } from '../common/uplink.ts';
export { DeviceDirectory } from './device-directory.ts';
export { Ingestor, type IngestResult, type IngestStats } from './ingestor.ts';
export { readingLine, tagSet } from './line-protocol.ts';
export { REASON } from './reasons.ts';
export { InfluxPointWriter, type PointWriter } from './writer.ts';

export interface IngestService {
  ingestor: Ingestor;
  writer: InfluxPointWriter;
  start(): void;
  stop(): Promise<void>;
}

/** Wires the pipeline to the configured InfluxDB and registry. */
export function createIngestService(config: Config, registry: Registry, log: Logger): IngestService {
  const writer = new InfluxPointWriter(
    (callbacks) =>
      createInfluxWriteApi(config, {
        batchSize: config.SUS_WRITE_BATCH_SIZE,
        flushInterval: config.SUS_WRITE_FLUSH_MS,
        maxRetries: 10,
        maxRetryDelay: 30_000,
        maxBufferLines: 200_000,
        ...callbacks,
      }),
    log.child({ component: 'influx-writer' }),
  );
  const ingestor = new Ingestor({
    writer,
    directory: new DeviceDirectory(registry),
    store: registry,
    catalogue,
    log: log.child({ component: 'ingest' }),
    options: {
      maxPayloadBytes: config.SUS_MAX_PAYLOAD_BYTES,
      timePolicy: { maxAgeMs: config.SUS_MAX_AGE_S * 1000, maxSkewMs: config.SUS_MAX_SKEW_S * 1000 },
      lastSeenFlushMs: 5000,
    },
  });
  return {
    ingestor,
    writer,
    start() {
      writer.start();
      ingestor.start();
    },
    async stop() {
      await ingestor.stop();
      await writer.stop();
    },
  };
}
