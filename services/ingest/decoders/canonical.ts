import {
  CanonicalBatchSchema,
  type CanonicalMessage,
  CanonicalMessageSchema,
  isPlainCanonicalMessage,
  MAX_BATCH_MESSAGES,
} from '../../common/reading.ts';
import { REASON, reason } from '../reasons.ts';
import { parseJson } from './json.ts';
import { type DecodeResult, decoded, fail, type RawReading } from './types.ts';

const MAX_ISSUES_REPORTED = 10;

/** The raw readings of one canonical message; `prefix` is the batch index path (`3.`) of a batch element. */
export function canonicalReadings(msg: CanonicalMessage, prefix = ''): RawReading[] {
  const out: RawReading[] = [];
  for (const [name, value] of Object.entries(msg.values)) {
    const r: RawReading = { name, value, field: `${prefix}values.${name}`, unitField: `${prefix}units.${name}` };
    const unit = msg.units?.[name];
    if (unit !== undefined) r.unit = unit;
    if (msg.time !== undefined) r.time = msg.time;
    out.push(r);
  }
  return out;
}

/** Canonical JSON of DESIGN.md: one message object or a batch array of them (offline backlog). */
export function decodeCanonical(payload: Buffer): DecodeResult {
  const parsed = parseJson(payload);
  if (!parsed.ok) return parsed;
  const json = parsed.json;
  let messages: CanonicalMessage[];
  if (isPlainCanonicalMessage(json)) messages = [json];
  else if (
    Array.isArray(json) &&
    json.length > 0 &&
    json.length <= MAX_BATCH_MESSAGES &&
    json.every(isPlainCanonicalMessage)
  ) {
    messages = json;
  } else {
    // Object or batch decided up front: a union would report a bare "Invalid input" without the field at fault.
    const result = Array.isArray(json) ? CanonicalBatchSchema.safeParse(json) : CanonicalMessageSchema.safeParse(json);
    if (!result.success) {
      return fail(
        ...result.error.issues
          .slice(0, MAX_ISSUES_REPORTED)
          .map((i) => reason(REASON.INVALID_MESSAGE, i.message, i.path.join('.') || undefined)),
      );
    }
    messages = Array.isArray(result.data) ? result.data : [result.data];
  }
  const readings: RawReading[] = [];
  for (let i = 0; i < messages.length; i++) {
    readings.push(...canonicalReadings(messages[i]!, messages.length > 1 ? `${i}.` : ''));
  }
  return decoded({ readings });
}
