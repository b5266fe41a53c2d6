import type { Catalogue } from '../common/catalogue.ts';
import type { CanonicalMessage, Reading } from '../common/reading.ts';
import type { DeadLetterReason } from '../registry/index.ts';
import { canonicalReadings } from './decoders/canonical.ts';
import type { Decoded, RawReading } from './decoders/types.ts';
import { applyProfile, type DeviceProfile } from './profiles.ts';
import { FLAG, quoted, REASON, type ReadingFlag, reason } from './reasons.ts';

export interface TimePolicy {
  maxAgeMs: number;
  maxSkewMs: number;
}

/** What a value outside its plausible range gets: refused (dead letter) or stored with the `out_of_range` flag. */
export type PlausibilityMode = 'reject' | 'flag';

export interface NormaliseOptions {
  timePolicy: TimePolicy;
  plausibility: PlausibilityMode;
}

/** A normalised reading; `flags` only when something about it was corrected or is doubtful. */
export interface IngestedReading extends Reading {
  flags?: ReadingFlag[];
}

export interface Normalised {
  readings: IngestedReading[];
  rejected: DeadLetterReason[];
  /** True when a device time was missing or implausible and the receive time was used. */
  timeAdjusted: boolean;
}

/** Device time if it lies in [now − maxAge, now + maxSkew], else undefined (the caller uses the receive time). */
export function resolveTime(
  time: number | string | undefined,
  receivedAt: number,
  policy: TimePolicy,
): number | undefined {
  if (time === undefined) return undefined;
  const ms = typeof time === 'number' ? time : Date.parse(time);
  if (!Number.isFinite(ms)) return undefined;
  if (ms < receivedAt - policy.maxAgeMs || ms > receivedAt + policy.maxSkewMs) return undefined;
  return Math.round(ms);
}

/**
 * Raw readings → readings in canonical units. Bad values are rejected one by one (each with its own reason and
 * field) so a single broken sensor channel does not discard the good readings next to it.
 */
export function normaliseReadings(
  raw: readonly RawReading[],
  device: string,
  receivedAt: number,
  catalogue: Catalogue,
  opts: NormaliseOptions,
): Normalised {
  const readings: IngestedReading[] = [];
  const rejected: DeadLetterReason[] = [];
  let timeAdjusted = false;
  for (const r of raw) {
    const q = catalogue.get(r.name);
    if (!q) {
      rejected.push(reason(REASON.UNKNOWN_QUANTITY, `${quoted(r.name)} is not a quantity of the catalogue`, r.field));
      continue;
    }
    const v = r.value;
    if (typeof v !== 'number') {
      rejected.push(reason(REASON.NOT_A_NUMBER, `expected a number, got ${v === null ? 'null' : typeof v}`, r.field));
      continue;
    }
    if (!Number.isFinite(v)) {
      rejected.push(reason(REASON.NOT_FINITE, `value ${v} is not finite`, r.field));
      continue;
    }
    const converted = catalogue.toCanonical(q, v, r.unit);
    if (!converted.ok) {
      rejected.push(
        reason(
          REASON.UNIT_UNSUPPORTED,
          `unit ${quoted(converted.unit)} cannot be converted to ${q.unit} for ${q.name}`,
          r.unitField ?? r.field,
        ),
      );
      continue;
    }
    // A finite value can overflow in conversion (1e306 klx); with SUS_PLAUSIBILITY=flag it would reach InfluxDB as
    // `value=Infinity`, a line InfluxDB refuses.
    if (!Number.isFinite(converted.value)) {
      rejected.push(
        reason(REASON.NOT_FINITE, `value ${v} ${quoted(r.unit ?? '')} is not finite in ${q.unit}`, r.field),
      );
      continue;
    }
    // Created only for a flagged reading: the usual clean one allocates no array.
    let flags: ReadingFlag[] | undefined;
    if (!catalogue.inRange(q, converted.value)) {
      const message = `${converted.value} ${q.unit} is outside the plausible range [${q.range[0]}, ${q.range[1]}] of ${q.name}`;
      if (opts.plausibility === 'reject') {
        rejected.push(reason(REASON.OUT_OF_RANGE, message, r.field));
        continue;
      }
      flags = [FLAG.OUT_OF_RANGE];
    }
    const deviceTime = resolveTime(r.time, receivedAt, opts.timePolicy);
    if (deviceTime === undefined) {
      timeAdjusted = true;
      // Only a time the device did send is "replaced"; a device without a clock is simply timed on receipt.
      if (r.time !== undefined) {
        flags ??= [];
        flags.push(FLAG.TIME_REPLACED);
      }
    }
    const reading: IngestedReading = {
      device,
      quantity: q.name,
      value: converted.value,
      unit: q.unit,
      time: deviceTime ?? receivedAt,
    };
    if (flags) reading.flags = flags;
    readings.push(reading);
  }
  return { readings, rejected, timeAdjusted };
}

/** One canonical message → readings (plausibility `reject`), e.g. for tools that hold a parsed message. */
export function normaliseMessage(
  msg: CanonicalMessage,
  device: string,
  receivedAt: number,
  catalogue: Catalogue,
  policy: TimePolicy,
  prefix = '',
): Normalised {
  const n = normaliseReadings(canonicalReadings(msg, prefix), device, receivedAt, catalogue, {
    timePolicy: policy,
    plausibility: 'reject',
  });
  // A message without any time is "adjusted" even when all its values were refused: it is one message, one clock.
  if (resolveTime(msg.time, receivedAt, policy) === undefined) n.timeAdjusted = true;
  return n;
}

/** A decoded payload → readings: the device profile first (field names → quantities), then the catalogue. */
export function normaliseDecoded(
  d: Decoded,
  device: string,
  profile: DeviceProfile | undefined,
  receivedAt: number,
  catalogue: Catalogue,
  opts: NormaliseOptions,
): Normalised {
  const n = normaliseReadings(applyProfile(d.readings, profile), device, receivedAt, catalogue, opts);
  if (d.rejected && d.rejected.length > 0) n.rejected.unshift(...d.rejected);
  return n;
}
