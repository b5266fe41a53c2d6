import { Point, setLogger, type WriteApi } from '@influxdata/influxdb-client';
import { createInfluxWriteApi, type InfluxConfig } from '../common/influx.ts';
import { escapeTag, type LineSink } from '../common/line-protocol.ts';
import type { Logger } from '../common/logger.ts';
import { SELF_METRICS } from '../common/self-metrics.ts';
import type { Device } from '../registry/types.ts';

/** Where presence events go besides the retained status topic: InfluxDB, for uptime and online-count dashboards. */
export interface PresenceSink {
  write(device: Device, online: boolean, at: number): void;
  close(): Promise<void>;
}

/** `device_status` points (see SELF_METRICS), batched by the client library like every other write. */
export class InfluxPresenceSink implements PresenceSink {
  private readonly api: WriteApi;

  constructor(config: InfluxConfig, log: Logger) {
    // The client prints failures with stack traces to the console; `writeFailed` below already logs them once.
    setLogger({
      error: (message, err?: Error) => log.debug({ err: err?.message }, message),
      warn: (message, err?: Error) => log.debug({ err: err?.message }, message),
    });
    this.api = createInfluxWriteApi(config, {
      batchSize: 1000,
      flushInterval: 1000,
      maxRetries: 3,
      // Presence is telemetry about the fleet, not readings: a lost point after an outage is acceptable.
      maxBufferLines: 50_000,
      writeFailed: (err, lines) => {
        log.warn({ err: err.message, lines: lines.length }, 'device_status write failed');
      },
    });
  }

  write(device: Device, online: boolean, at: number): void {
    const point = new Point(SELF_METRICS.deviceStatus)
      .tag('device', device.id)
      .tag('department', device.department)
      .tag('device_type', device.type)
      .intField('online', online ? 1 : 0)
      .timestamp(new Date(at));
    if (device.district) point.tag('district', device.district);
    this.api.writePoint(point);
  }

  async close(): Promise<void> {
    await this.api.close().catch(() => undefined);
  }
}

/**
 * `device_status` points into a durable line sink: when the broker shares its process with ingest, presence goes
 * through ingest's spool and survives an InfluxDB outage like the readings do.
 */
export class LinePresenceSink implements PresenceSink {
  constructor(
    private readonly sink: LineSink,
    private readonly log: Logger,
  ) {}

  write(device: Device, online: boolean, at: number): void {
    let tags = `,department=${escapeTag(device.department)},device=${escapeTag(device.id)},device_type=${escapeTag(device.type)}`;
    if (device.district) tags += `,district=${escapeTag(device.district)}`;
    this.sink
      .append([`${SELF_METRICS.deviceStatus}${tags} online=${online ? 1 : 0}i ${at}`])
      .catch((err: Error) => this.log.warn({ device: device.id, err: err.message }, 'device_status not written'));
  }

  async close(): Promise<void> {}
}

export interface LastSeenStore {
  touchDevices(ids: string[], at: Date): Promise<void>;
}

/** Collects device ids and writes their last-seen time in one statement per interval, never one per event. */
export class LastSeenBatcher {
  private pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: LastSeenStore,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  mark(id: string): void {
    this.pending.add(id);
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const ids = [...this.pending];
    this.pending = new Set();
    try {
      await this.store.touchDevices(ids, new Date());
    } catch (err) {
      this.log.warn({ err: (err as Error).message, devices: ids.length }, 'last-seen update failed');
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
