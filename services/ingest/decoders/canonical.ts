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

// `values.<name>` and `units.<name>` of single messages, kept per name: a device sends the same names every time,
// and building both strings per reading was a tenth of the decoder's allocations (bench:ingest-path heap sampling).
const FIELDS = new Map<string, readonly [field: string, unitField: string]>();
const MAX_FIELDS = 4096;

function fieldsOf(prefix: string, name: string): readonly [string, string] {
  if (prefix !== '') return [`${prefix}values.${name}`, `${prefix}units.${name}`];
  let f = FIELDS.get(name);
  if (!f) {
    f = [`values.${name}`, `units.${name}`];
    // Arbitrary names from devices must not grow the table without bound.
    if (FIELDS.size < MAX_FIELDS) FIELDS.set(name, f);
  }
  return f;
}

/**
 * The raw readings of one canonical message, appended to `out`; `prefix` is the batch index path (`3.`) of a batch
 * element.
 */
export function canonicalReadings(msg: CanonicalMessage, prefix = '', out: RawReading[] = []): RawReading[] {
  const values = msg.values;
  // for…in with an own-property check instead of Object.entries: no [name, value] array per reading.
  for (const name in values) {
    if (!Object.hasOwn(values, name)) continue;
    const [field, unitField] = fieldsOf(prefix, name);
    const r: RawReading = { name, value: values[name], field, unitField };
    // Own keys only: a value named `constructor` must not find Object.prototype's as its unit.
    const units = msg.units;
    if (units !== undefined && Object.hasOwn(units, name)) r.unit = units[name]!;
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
  for (let i = 0; i < messages.length; i++)
    canonicalReadings(messages[i]!, messages.length > 1 ? `${i}.` : '', readings);
  return decoded({ readings });
}
