import { EventEmitter } from 'node:events';
import { type Catalogue, catalogue } from '../common/catalogue.ts';
import type { Config } from '../common/config.ts';
import { SusError } from '../common/errors.ts';
import { LastSeenBatcher } from '../common/last-seen.ts';
import { readingLine, tagSet } from '../common/line-protocol.ts';
import type { Logger } from '../common/logger.ts';
import type { ReadingTags } from '../common/reading.ts';
import { HOUR_MS } from '../common/rollups.ts';
import type { Uplink } from '../common/uplink.ts';
import { within } from '../common/within.ts';
import type { DeadLetterReason, Device, NewDeadLetter, Registry } from '../registry/index.ts';
import { DeadLetterRate, type DeadLetterRateOptions, type SummaryStore } from './dead-letter-rate.ts';
import { DECODERS, type Format, formatOfChannel, IDENTITY_FORMATS } from './decoders/index.ts';
import type { DeviceLookup } from './device-directory.ts';
import { type IngestedReading, normaliseDecoded, type PlausibilityMode, type TimePolicy } from './normalise.ts';
import { BUILTIN_PROFILES_DIR, type DeviceProfile, ProfileSet } from './profiles.ts';
import { REASON, reason } from './reasons.ts';
import type { PointWriter } from './writer.ts';

export interface IngestResult {
  accepted: number;
  rejected: DeadLetterReason[];
  deadLetterId?: number;
}

/** A dead letter as ingest files it: with the format, so a replay decodes it the same way. */
export interface IngestDeadLetter extends NewDeadLetter {
  format?: Format;
}

export interface DeadLetterSink extends SummaryStore {
  addDeadLetter(d: IngestDeadLetter): Promise<number>;
  touchDevices(ids: string[], at: Date): Promise<void>;
}

/** Device profiles by device type (services/ingest/profiles.ts). */
export interface ProfileSource {
  get(type: string): DeviceProfile | undefined;
  /** Re-reads the profile files (a fixed profile applies to the next message and to replays). */
  reload?(): void;
}

/**
 * The parts of the pipeline this settings choose: dead letters filed with their format, device profiles
 * (built-in plus SUS_PROFILES_DIR) and the plausibility mode.
 */
export function ingestorExtras(
  config: Pick<Config, 'SUS_PROFILES_DIR' | 'SUS_PLAUSIBILITY'>,
  registry: Registry,
): { store: DeadLetterSink; profiles: ProfileSet; plausibility: PlausibilityMode } {
  const deadLetters = registry.deadLetters;
  const dirs = config.SUS_PROFILES_DIR ? [BUILTIN_PROFILES_DIR, config.SUS_PROFILES_DIR] : [BUILTIN_PROFILES_DIR];
  return {
    store: {
      addDeadLetter: (d) => deadLetters.add(d),
      updateSuppressed: (id, n, reasons) => deadLetters.updateSuppressed(id, n, reasons),
      touchDevices: (ids, at) => registry.touchDevices(ids, at),
    },
    profiles: new ProfileSet(dirs, catalogue),
    plausibility: config.SUS_PLAUSIBILITY,
  };
}

export interface IngestOptions {
  maxPayloadBytes: number;
  timePolicy: TimePolicy;
  /** Values outside the plausible range: `reject` (dead letter, the default) or `flag` (stored, flagged). */
  plausibility?: PlausibilityMode;
  /** How often last-seen times are written to the registry (one statement for all devices seen). */
  lastSeenFlushMs: number;
  /** How long a device lookup or dead-letter insert may take before the message is refused (SUS_REGISTRY_TIMEOUT_MS). */
  registryTimeoutMs?: number;
  /**
   * Dead letters per device and window (SUS_DEAD_LETTER_RATE); further rejects are counted into one summary row.
   * Absent: every reject is filed (tools and tests that count rows).
   */
  deadLetterRate?: DeadLetterRateOptions;
}

export interface HandleOptions {
  /** Payload format; by default taken from the uplink's channel (`up` canonical, `up/{format}`). */
  format?: Format;
  /** The department an integration key acts for: readings of another department's device are refused. */
  department?: string;
  /** Replaying a stored dead letter: the outcome is returned and no new dead letter is filed. */
  replay?: boolean;
}

export interface IngestStats {
  messages: number;
  readings: number;
  deadLetters: number;
  /** Rejected messages beyond their device's dead-letter rate, counted into summary rows instead of filed. */
  deadLettersSuppressed: number;
  /** Messages whose device time was missing or implausible (the receive time was used). */
  timeAdjusted: number;
  /** Readings stored with a flag, by flag (`time_replaced`, `out_of_range`). */
  flagged: Record<string, number>;
  replays: number;
  rejectedByReason: Record<string, number>;
}

/**
 * Errors that must withhold the acknowledgement (no PUBACK, HTTP 503): the message is neither in the spool nor in
 * the dead-letter store, so only its sender still holds it and must send it again.
 */
const WITHHOLD = new Set([
  'SUS_ERR_SPOOL_FULL',
  'SUS_ERR_SPOOL_WRITE',
  'SUS_ERR_SPOOL_CLOSED',
  'SUS_ERR_REGISTRY_UNAVAILABLE',
  'SUS_ERR_DEAD_LETTER_UNAVAILABLE',
]);

/**
 * Layer 2 pipeline: decode (by format) → validate → profile → normalise → plausibility → enrich → write. Each
 * message is handled in isolation: whatever it holds, it ends as stored readings, a dead-letter entry with
 * reasons, or both — or, when neither the spool nor the registry (device lookup, dead-letter store) takes it, as a
 * throw with a 503 SusError, which withholds the acknowledgement so the sender sends it again.
 */
export class Ingestor extends EventEmitter<{ readings: [IngestedReading[], ReadingTags] }> {
  readonly stats: IngestStats = {
    messages: 0,
    readings: 0,
    deadLetters: 0,
    deadLettersSuppressed: 0,
    timeAdjusted: 0,
    flagged: {},
    replays: 0,
    rejectedByReason: {},
  };
  private readonly lastSeen: LastSeenBatcher;
  /**
   * When readings of an hour that had already ended at their arrival were last spooled (epoch ms, 0: never): the
   * rollups' dirty-window recorder looks into the batches spooled up to then (services/ingest/rollups/dirty.ts).
   */
  lastLateAt = 0;
  // Weak: entries go with the Device objects the directory dropped.
  private readonly tagCache = new WeakMap<Device, Map<string, { tags: ReadingTags; tagString: string }>>();
  private timer: NodeJS.Timeout | undefined;
  private readonly rate: DeadLetterRate | undefined;

  constructor(
    private readonly deps: {
      writer: PointWriter;
      directory: DeviceLookup;
      store: DeadLetterSink;
      catalogue: Catalogue;
      log: Logger;
      options: IngestOptions;
      profiles?: ProfileSource;
    },
  ) {
    super();
    const rate = deps.options.deadLetterRate;
    this.rate = rate && new DeadLetterRate(rate, deps.store);
    this.lastSeen = new LastSeenBatcher(deps.store, deps.options.lastSeenFlushMs, deps.log);
  }

  start(): void {
    this.deps.directory.start();
    void this.lastSeen.start();
    // Summary rows of rejects beyond the dead-letter rate are brought up to date as often as last-seen times.
    this.timer = setInterval(() => void this.flushSuppressed(), this.deps.options.lastSeenFlushMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.lastSeen.stop();
    await this.flushSuppressed();
    await this.deps.writer
      .flush()
      .catch((err: Error) => this.deps.log.error({ err: err.message }, 'flush on stop failed'));
    this.deps.directory.stop();
  }

  /** Re-reads the device profiles; the API's replay calls it so a just-fixed profile applies. */
  reloadProfiles(): void {
    this.deps.profiles?.reload?.();
  }

  async handle(u: Uplink, opts: HandleOptions = {}): Promise<IngestResult> {
    if (opts.replay) this.stats.replays++;
    else this.stats.messages++;
    const format = opts.format ?? formatOfChannel(u.channel);
    try {
      return await this.process(u, format, opts);
    } catch (err) {
      // Spool or registry failing: no acknowledgement, so the sender keeps the message and retries.
      if (err instanceof SusError && WITHHOLD.has(err.code)) throw err;
      // A bug must cost this message at most, never the process; the dead letter keeps it for a replay once fixed.
      this.deps.log.error({ err, device: u.device, topic: u.topic }, 'ingest failed unexpectedly');
      return this.reject(u, format, opts, u.device, [
        // The error itself is in the log line above: the reason reaches HTTP answers and the department's dead letters.
        reason(REASON.INVALID_MESSAGE, 'internal error while handling the message; the server log has the details'),
      ]);
    }
  }

  private get registryTimeoutMs(): number {
    return this.deps.options.registryTimeoutMs ?? 10_000;
  }

  /** The device from the registry; a registry that fails or does not answer in time withholds the acknowledgement. */
  private async lookUp(id: string, topic: string): Promise<Device | undefined> {
    const ms = this.registryTimeoutMs;
    // The registry's own error (its address, its user) goes to the log as the cause, never into an answer.
    const unavailable = (why: string) => {
      const err = new SusError(
        'SUS_ERR_REGISTRY_UNAVAILABLE',
        'the registry is unavailable, so the device could not be looked up; not acknowledged, send it again',
        503,
        { device: id, topic },
      );
      err.cause = { error: why };
      return err;
    };
    try {
      return await within(this.deps.directory.get(id), ms, () => new Error(`no answer within ${ms} ms`));
    } catch (err) {
      throw unavailable((err as Error).message);
    }
  }

  private async process(u: Uplink, format: Format | undefined, opts: HandleOptions): Promise<IngestResult> {
    const { options, catalogue } = this.deps;
    if (u.payload.length > options.maxPayloadBytes) {
      const r = reason(
        REASON.PAYLOAD_TOO_LARGE,
        `${u.payload.length} bytes exceed the limit of ${options.maxPayloadBytes}`,
      );
      return this.reject(u, format, opts, u.device, [r]);
    }
    if (format === undefined) {
      const r = reason(REASON.UNSUPPORTED_FORMAT, `no decoder for channel '${u.channel}' of topic ${u.topic}`);
      return this.reject(u, format, opts, u.device, [r]);
    }
    const decoded = DECODERS[format](u.payload, { receivedAt: u.receivedAt });
    if (!decoded.ok) return this.reject(u, format, opts, u.device, decoded.reasons);

    const named = decoded.value.device;
    const id = u.device || named || '';
    if (u.device && named && named !== u.device && IDENTITY_FORMATS.has(format)) {
      const r = reason(REASON.DEVICE_MISMATCH, `the payload names device '${named}', the sender is '${u.device}'`);
      return this.reject(u, format, opts, u.device, [r]);
    }
    if (!id) {
      return this.reject(u, format, opts, null, [
        reason(REASON.UNKNOWN_DEVICE, 'neither the topic nor the payload names a device'),
      ]);
    }
    const hit = this.deps.directory.cached(id);
    const device = hit ? hit.device : await this.lookUp(id, u.topic);
    if (opts.department !== undefined && device?.department !== opts.department) {
      // A department's push (integration key) gets the same answer for another department's device as for an
      // unknown one, and the entry is filed under no device: the answer discloses nothing, and nothing lands in
      // (or can be replayed from) the other department's queue.
      const r = reason(REASON.UNKNOWN_DEVICE, `device '${id}' is not a device of department '${opts.department}'`);
      return this.reject(u, format, opts, null, [r]);
    }
    if (!device)
      return this.reject(u, format, opts, id, [reason(REASON.UNKNOWN_DEVICE, `device '${id}' is not registered`)]);

    const n = normaliseDecoded(
      decoded.value,
      device.id,
      this.deps.profiles?.get(device.type),
      u.receivedAt,
      catalogue,
      { timePolicy: options.timePolicy, plausibility: options.plausibility ?? 'reject' },
    );
    if (n.timeAdjusted) this.stats.timeAdjusted++;
    const readings: IngestedReading[] = n.readings;
    if (readings.length > 0) {
      const { tags, tagString } = this.tagsOf(device, u.source);
      const lines = new Array<string>(readings.length);
      // One comparison per reading: is it from an hour that ended before it arrived (a rollup may exist)?
      const hourStarted = u.receivedAt - (u.receivedAt % HOUR_MS);
      let late = false;
      for (let i = 0; i < readings.length; i++) {
        const r = readings[i]!;
        if (r.time < hourStarted) late = true;
        lines[i] = readingLine(r.quantity, tagString, r.value, r.time, r.flags);
        if (r.flags) for (const f of r.flags) this.stats.flagged[f] = (this.stats.flagged[f] ?? 0) + 1;
      }
      // Resolves once the lines are durably spooled: only then may the broker send the QoS 1 PUBACK.
      await this.deps.writer.write(lines);
      if (late) this.lastLateAt = Date.now();
      this.stats.readings += readings.length;
      this.lastSeen.mark(device.id);
      this.emit('readings', readings, tags);
    }
    if (n.rejected.length > 0) return this.reject(u, format, opts, device.id, n.rejected, readings.length);
    return { accepted: readings.length, rejected: n.rejected };
  }

  /**
   * A device's tags and their line-protocol form, built once per device and source: the directory hands out the same
   * Device object until the registry changes it, and the tag set was a tenth of the path's allocations.
   */
  private tagsOf(device: Device, source: string): { tags: ReadingTags; tagString: string } {
    let bySource = this.tagCache.get(device);
    if (!bySource) {
      bySource = new Map();
      this.tagCache.set(device, bySource);
    }
    let t = bySource.get(source);
    if (!t) {
      const tags: ReadingTags = {
        device: device.id,
        department: device.department,
        district: device.district ?? '',
        device_type: device.type,
        source,
      };
      t = { tags, tagString: tagSet(tags) };
      bySource.set(source, t);
    }
    return t;
  }

  private async reject(
    u: Uplink,
    format: Format | undefined,
    opts: HandleOptions,
    device: string | null,
    reasons: DeadLetterReason[],
    accepted = 0,
  ): Promise<IngestResult> {
    if (opts.replay) return { accepted, rejected: reasons };
    const byReason = this.stats.rejectedByReason;
    for (const r of reasons) byReason[r.code] = (byReason[r.code] ?? 0) + 1;
    if (this.deps.log.isLevelEnabled('debug')) {
      this.deps.log.debug({ device, topic: u.topic, reasons }, 'message dead-lettered');
    }
    const entry: IngestDeadLetter = {
      source: u.source,
      topic: u.topic,
      device: device || null,
      reasons,
      payload: u.payload,
      receivedAt: new Date(u.receivedAt),
    };
    if (format !== undefined) entry.format = format;
    const ms = this.registryTimeoutMs;
    const now = Date.now();
    const rate = this.rate;
    let suppressed = false;
    let deadLetterId: number;
    try {
      const key = rate && (await this.rateKey(entry.device, entry.source));
      // Beyond its device's rate a reject is counted into the device's summary entry instead of filed on its own.
      suppressed = rate !== undefined && key !== undefined && !rate.admit(key, now);
      deadLetterId = await within(
        rate && key !== undefined && suppressed ? rate.suppress(key, entry, now) : this.deps.store.addDeadLetter(entry),
        ms,
        () => new Error(`no answer within ${ms} ms`),
      );
    } catch (err) {
      // Not stored anywhere: withhold the acknowledgement so the sender sends it again (its readings, if some were
      // spooled already, then arrive twice: InfluxDB overwrites identical points). Never log-and-acknowledge.
      this.deps.log.error({ err, device, topic: u.topic, reasons }, 'dead-letter store unavailable; not acknowledged');
      // The store's own error is logged above, never put into an answer.
      throw new SusError(
        'SUS_ERR_DEAD_LETTER_UNAVAILABLE',
        'the dead-letter store did not take the message; not acknowledged, send it again',
        503,
        { ...(device ? { device } : {}), topic: u.topic },
      );
    }
    if (suppressed) this.stats.deadLettersSuppressed++;
    else this.stats.deadLetters++;
    return { accepted, rejected: reasons, deadLetterId };
  }

  /**
   * What a reject counts against in the dead-letter rate: its device when that is registered, else its source. An
   * id nobody registered (made up per message, or named by an integration) must not open a rate of its own.
   */
  private async rateKey(device: string | null | undefined, source: string): Promise<string> {
    if (!device) return DeadLetterRate.key(null, source);
    const { directory } = this.deps;
    // A registry that fails or hangs here only costs the device its own rate: the reject counts by source.
    const ms = this.registryTimeoutMs;
    const hit = directory.cached(device);
    const known = hit
      ? hit.device
      : await within(directory.get(device), ms, () => new Error(`no answer within ${ms} ms`)).catch(() => undefined);
    return DeadLetterRate.key(known ? device : null, source);
  }

  /** Brings the summary rows of rejects beyond the dead-letter rate up to date. */
  private async flushSuppressed(): Promise<void> {
    await this.rate
      ?.flush()
      .catch((err: Error) => this.deps.log.warn({ err: err.message }, 'dead-letter summary update failed; retried'));
  }
}
