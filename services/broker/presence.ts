import type { LastSeenBatcher } from '../common/last-seen.ts';
import { intValue, type LineSink, pointLine, tagSet } from '../common/line-protocol.ts';
import type { Logger } from '../common/logger.ts';
import { SELF_METRICS } from '../common/self-metrics.ts';
import { deviceTopic } from '../common/topics.ts';
import type { Device } from '../registry/index.ts';
import { Multimap } from './multimap.ts';

/**
 * Where presence events go besides the retained status topic: InfluxDB through ingest's spool, for uptime and
 * online-count dashboards.
 */
export interface PresenceSink {
  write(device: Device, online: boolean, at: number): void;
  close(): Promise<void>;
}

/** How long presence changes gather before they go to the spool together: a status point is not a reading. */
const PRESENCE_BATCH_MS = 100;

/**
 * `device_status` points into a durable line sink: the broker shares its process with ingest, so presence goes
 * through ingest's spool and survives an InfluxDB outage like the readings do. The changes of PRESENCE_BATCH_MS go in
 * one append: a reconnect storm is one presence change per CONNECT, and an append per change (or per event-loop
 * turn, ~2,000 in a storm of 10,000) was a spool record, a file write and an fdatasync each. `close()` writes what is
 * waiting.
 */
export class LinePresenceSink implements PresenceSink {
  private pending: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly writing = new Set<Promise<void>>();

  constructor(
    private readonly sink: LineSink,
    private readonly log: Logger,
  ) {}

  write(device: Device, online: boolean, at: number): void {
    const tags = tagSet({
      department: device.department,
      device: device.id,
      device_type: device.type,
      district: device.district,
    });
    this.pending.push(pointLine(SELF_METRICS.deviceStatus, tags, `online=${intValue(online ? 1 : 0)}`, at));
    // Unref'd: a pending batch never holds the process open; close() writes it.
    this.timer ??= setTimeout(this.flush, PRESENCE_BATCH_MS).unref();
  }

  private readonly flush = (): void => {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const lines = this.pending;
    this.pending = [];
    const done = this.sink
      .append(lines)
      .then(
        () => undefined,
        (err: Error) => this.log.warn({ changes: lines.length, err: err.message }, 'device_status not written'),
      )
      .finally(() => this.writing.delete(done));
    this.writing.add(done);
  };

  async close(): Promise<void> {
    this.flush();
    await Promise.all(this.writing);
  }
}

/** Publishes a status message (retained) through the broker; resolves without publishing once it has stopped. */
export type StatusPublisher = (topic: string, payload: Buffer) => Promise<void>;

/**
 * Which devices are online on this node. The first connection of a device publishes the retained
 * `…/status` = online, its last one offline; a takeover by the same client id does not flap it. Each change also
 * goes to the presence sink and marks the device for the batched last-seen update.
 */
export class PresenceTracker {
  /** Live connections per device: a device may hold several (id:suffix), and a takeover closes the old one late. */
  private readonly live = new Multimap<string, object>();

  constructor(
    private readonly deps: {
      publish: StatusPublisher;
      sink?: PresenceSink;
      lastSeen?: LastSeenBatcher;
    },
    private readonly log: Logger,
  ) {}

  /** Devices with at least one live connection on this node. */
  isOnline(device: string): boolean {
    return this.live.count(device) > 0;
  }

  /** A connection of the device is ready (after CONNACK). */
  connected(device: Device, connection: object): void {
    const id = device.id;
    const first = this.live.count(id) === 0;
    this.live.add(id, connection);
    this.deps.lastSeen?.mark(id);
    if (first) this.changed(device, true);
  }

  /** A connection of the device is gone (clean, killed socket, keepalive timeout, takeover). */
  disconnected(device: Device, connection: object): void {
    const id = device.id;
    if (!this.live.delete(id, connection)) return;
    this.deps.lastSeen?.mark(id);
    if (this.live.count(id) > 0) return; // another connection of the device is still up (or a takeover replaced it)
    this.changed(device, false);
  }

  private changed(device: Device, online: boolean): void {
    const time = Date.now();
    this.deps.sink?.write(device, online, time);
    const payload = Buffer.from(JSON.stringify({ status: online ? 'online' : 'offline', time }));
    this.deps.publish(deviceTopic.status(device.id), payload).catch((err: Error) => {
      this.log.warn({ device: device.id, err: err.message }, 'status publish failed');
    });
  }
}
