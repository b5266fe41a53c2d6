import { EventEmitter } from 'node:events';
import type { Catalogue } from '../common/catalogue.ts';
import type { Logger } from '../common/logger.ts';
import {
  CanonicalBatchSchema,
  type CanonicalMessage,
  CanonicalMessageSchema,
  type Reading,
  type ReadingTags,
} from '../common/reading.ts';
import type { Uplink } from '../common/uplink.ts';
import type { DeadLetterReason, NewDeadLetter } from '../registry/types.ts';
import type { DeviceDirectory } from './device-directory.ts';
import { readingLine, tagSet } from './line-protocol.ts';
import { normaliseMessage, type TimePolicy } from './normalise.ts';
import { REASON, reason } from './reasons.ts';
import type { PointWriter } from './writer.ts';

export interface IngestResult {
  accepted: number;
  rejected: DeadLetterReason[];
  deadLetterId?: number;
}

export interface DeadLetterSink {
  addDeadLetter(d: NewDeadLetter): Promise<number>;
  touchDevices(ids: string[], at: Date): Promise<void>;
}

export interface IngestOptions {
  maxPayloadBytes: number;
  timePolicy: TimePolicy;
  /** How often last-seen times are written to the registry (one statement for all devices seen). */
  lastSeenFlushMs: number;
}

export interface IngestStats {
  messages: number;
  readings: number;
  deadLetters: number;
  timeAdjusted: number;
  rejectedByReason: Record<string, number>;
}

const MAX_ISSUES_REPORTED = 10;

/**
 * Layer 2 pipeline: decode → validate → normalise → enrich → batch write. Each message is handled in isolation:
 * whatever it holds, it ends as stored readings, a dead-letter entry with reasons, or both — never as a throw.
 */
export class Ingestor extends EventEmitter<{ readings: [Reading[], ReadingTags] }> {
  readonly stats: IngestStats = { messages: 0, readings: 0, deadLetters: 0, timeAdjusted: 0, rejectedByReason: {} };
  private readonly seen = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: {
      writer: PointWriter;
      directory: DeviceDirectory;
      store: DeadLetterSink;
      catalogue: Catalogue;
      log: Logger;
      options: IngestOptions;
    },
  ) {
    super();
  }

  start(): void {
    this.deps.directory.start();
    this.timer = setInterval(() => void this.flushLastSeen(), this.deps.options.lastSeenFlushMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flushLastSeen();
    await this.deps.writer
      .flush()
      .catch((err: Error) => this.deps.log.error({ err: err.message }, 'flush on stop failed'));
    this.deps.directory.stop();
  }

  async handle(u: Uplink): Promise<IngestResult> {
    this.stats.messages++;
    try {
      return await this.process(u);
    } catch (err) {
      // A bug or an outage (registry down) must cost this message at most, never the process.
      this.deps.log.error({ err, device: u.device, topic: u.topic }, 'ingest failed unexpectedly');
      return this.reject(u, [reason(REASON.INVALID_MESSAGE, `internal error: ${(err as Error).message}`)], 0);
    }
  }

  private async process(u: Uplink): Promise<IngestResult> {
    const { options, catalogue } = this.deps;
    if (u.payload.length > options.maxPayloadBytes) {
      return this.reject(
        u,
        [reason(REASON.PAYLOAD_TOO_LARGE, `${u.payload.length} bytes exceed the limit of ${options.maxPayloadBytes}`)],
        0,
      );
    }
    if (u.channel !== 'up') {
      return this.reject(
        u,
        [reason(REASON.UNSUPPORTED_FORMAT, `no decoder for channel '${u.channel}' of topic ${u.topic}`)],
        0,
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(u.payload.toString('utf8'));
    } catch (err) {
      return this.reject(u, [reason(REASON.MALFORMED_JSON, `payload is not JSON: ${(err as Error).message}`)], 0);
    }
    // Object or batch decided up front: a union would report a bare "Invalid input" without the field at fault.
    const parsed = Array.isArray(json) ? CanonicalBatchSchema.safeParse(json) : CanonicalMessageSchema.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues
        .slice(0, MAX_ISSUES_REPORTED)
        .map((i) => reason(REASON.INVALID_MESSAGE, i.message, i.path.join('.') || undefined));
      return this.reject(u, issues, 0);
    }
    const device = await this.deps.directory.get(u.device);
    if (!device) return this.reject(u, [reason(REASON.UNKNOWN_DEVICE, `device '${u.device}' is not registered`)], 0);

    const messages: CanonicalMessage[] = Array.isArray(parsed.data) ? parsed.data : [parsed.data];
    const tags: ReadingTags = {
      device: device.id,
      department: device.department,
      district: device.district ?? '',
      device_type: device.type,
      source: u.source,
    };
    const tagString = tagSet(tags);
    const readings: Reading[] = [];
    const rejected: DeadLetterReason[] = [];
    for (let i = 0; i < messages.length; i++) {
      const prefix = messages.length > 1 ? `${i}.` : '';
      const n = normaliseMessage(messages[i]!, device.id, u.receivedAt, catalogue, options.timePolicy, prefix);
      readings.push(...n.readings);
      rejected.push(...n.rejected);
      if (n.timeAdjusted) this.stats.timeAdjusted++;
    }
    if (readings.length > 0) {
      const lines = new Array<string>(readings.length);
      for (let i = 0; i < readings.length; i++) {
        const r = readings[i]!;
        lines[i] = readingLine(r.quantity, tagString, r.value, r.time);
      }
      this.deps.writer.write(lines);
      this.stats.readings += readings.length;
      this.seen.add(device.id);
      this.emit('readings', readings, tags);
    }
    if (rejected.length > 0) return this.reject(u, rejected, readings.length);
    return { accepted: readings.length, rejected };
  }

  private async reject(u: Uplink, reasons: DeadLetterReason[], accepted: number): Promise<IngestResult> {
    const byReason = this.stats.rejectedByReason;
    for (const r of reasons) byReason[r.code] = (byReason[r.code] ?? 0) + 1;
    if (this.deps.log.isLevelEnabled('debug')) {
      this.deps.log.debug({ device: u.device, topic: u.topic, reasons }, 'message dead-lettered');
    }
    try {
      const deadLetterId = await this.deps.store.addDeadLetter({
        source: u.source,
        topic: u.topic,
        device: u.device,
        reasons,
        payload: u.payload,
        receivedAt: new Date(u.receivedAt),
      });
      this.stats.deadLetters++;
      return { accepted, rejected: reasons, deadLetterId };
    } catch (err) {
      // Last resort: the log keeps what the dead-letter store could not.
      this.deps.log.error(
        { err, device: u.device, topic: u.topic, reasons, payload: u.payload.subarray(0, 4096).toString('base64') },
        'dead-letter store unavailable',
      );
      return { accepted, rejected: reasons };
    }
  }

  private async flushLastSeen(): Promise<void> {
    if (this.seen.size === 0) return;
    const ids = [...this.seen];
    this.seen.clear();
    try {
      await this.deps.store.touchDevices(ids, new Date());
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, 'last-seen update failed');
      for (const id of ids) this.seen.add(id);
    }
  }
}
