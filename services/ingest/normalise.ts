import type { Catalogue } from '../common/catalogue.ts';
import type { CanonicalMessage, Reading } from '../common/reading.ts';
import type { DeadLetterReason } from '../registry/types.ts';
import { REASON, reason } from './reasons.ts';

export interface TimePolicy {
  maxAgeMs: number;
  maxSkewMs: number;
}

export interface Normalised {
  readings: Reading[];
  rejected: DeadLetterReason[];
  /** True when the device's own time was missing or implausible and the receive time was used. */
  timeAdjusted: boolean;
}

/** Device time if it lies in [now − maxAge, now + maxSkew], else the receive time. */
export function resolveTime(
  time: CanonicalMessage['time'],
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
 * One canonical message → readings in canonical units. Bad values are rejected one by one (each with its own
 * reason and field) so a single broken sensor channel does not discard the good readings next to it.
 */
export function normaliseMessage(
  msg: CanonicalMessage,
  device: string,
  receivedAt: number,
  catalogue: Catalogue,
  policy: TimePolicy,
  prefix = '',
): Normalised {
  const readings: Reading[] = [];
  const rejected: DeadLetterReason[] = [];
  const deviceTime = resolveTime(msg.time, receivedAt, policy);
  const time = deviceTime ?? receivedAt;
  for (const [name, raw] of Object.entries(msg.values)) {
    const field = `${prefix}values.${name}`;
    const q = catalogue.get(name);
    if (!q) {
      rejected.push(reason(REASON.UNKNOWN_QUANTITY, `'${name}' is not a quantity of the catalogue`, field));
      continue;
    }
    if (typeof raw !== 'number') {
      rejected.push(reason(REASON.NOT_A_NUMBER, `expected a number, got ${raw === null ? 'null' : typeof raw}`, field));
      continue;
    }
    if (!Number.isFinite(raw)) {
      rejected.push(reason(REASON.NOT_FINITE, `value ${raw} is not finite`, field));
      continue;
    }
    const unit = msg.units?.[name];
    const converted = catalogue.toCanonical(q, raw, unit);
    if (!converted.ok) {
      rejected.push(
        reason(
          REASON.UNIT_UNSUPPORTED,
          `unit '${converted.unit}' cannot be converted to ${q.unit} for ${q.name}`,
          `${prefix}units.${name}`,
        ),
      );
      continue;
    }
    if (!catalogue.inRange(q, converted.value)) {
      rejected.push(
        reason(
          REASON.OUT_OF_RANGE,
          `${converted.value} ${q.unit} is outside the plausible range [${q.range[0]}, ${q.range[1]}] of ${q.name}`,
          field,
        ),
      );
      continue;
    }
    readings.push({ device, quantity: q.name, value: converted.value, unit: q.unit, time });
  }
  return { readings, rejected, timeAdjusted: deviceTime === undefined };
}
