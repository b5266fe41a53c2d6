import type { WriteApi } from '@influxdata/influxdb-client';
import type { Logger } from '../common/logger.ts';

/** Where normalised points go: InfluxDB in production, a recorder in unit tests of the pipeline. */
export interface PointWriter {
  write(lines: string[]): void;
  flush(): Promise<void>;
}

export interface WriterStats {
  queued: number;
  written: number;
  failedBatches: number;
}

/**
 * Batched line-protocol writes through `@influxdata/influxdb-client`: the client buffers, batches by size and
 * interval and retries with backoff; `stop()` flushes what is pending so a graceful shutdown loses nothing.
 */
export class InfluxPointWriter implements PointWriter {
  readonly stats: WriterStats = { queued: 0, written: 0, failedBatches: 0 };
  private api: WriteApi | undefined;

  constructor(
    private readonly createApi: (callbacks: {
      writeSuccess: (lines: string[]) => void;
      writeFailed: (error: Error, lines: string[], attempt: number) => void;
    }) => WriteApi,
    private readonly log: Logger,
  ) {}

  start(): void {
    const stats = this.stats;
    const log = this.log;
    this.api = this.createApi({
      writeSuccess(lines) {
        stats.written += lines.length;
      },
      writeFailed(error, lines, attempt) {
        stats.failedBatches++;
        log.warn({ err: error.message, lines: lines.length, attempt }, 'InfluxDB write failed; the client retries');
      },
    });
  }

  write(lines: string[]): void {
    if (!this.api) throw new Error('InfluxPointWriter.write() before start()');
    this.stats.queued += lines.length;
    this.api.writeRecords(lines);
  }

  async flush(): Promise<void> {
    await this.api?.flush();
  }

  async stop(): Promise<void> {
    const api = this.api;
    this.api = undefined;
    if (!api) return;
    try {
      await api.close();
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'final InfluxDB flush failed');
    }
  }
}
