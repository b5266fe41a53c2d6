import { z } from 'zod';
import { REASON, reason } from '../reasons.ts';
import { parseJson } from './json.ts';
import { type DecodeResult, decoded, fail, type RawReading } from './types.ts';

/** The JSON the sensor.community (luftdaten.info) firmware posts to a custom API. */
export const SensorCommunitySchema = z.looseObject({
  esp8266id: z.union([z.string().regex(/^[0-9]{1,20}$/), z.number().int().nonnegative()]),
  software_version: z.string().optional(),
  sensordatavalues: z
    .array(z.looseObject({ value_type: z.string().min(1).max(64), value: z.unknown() }))
    .min(1)
    .max(256),
});

/** Firmware value types → catalogue quantity and the unit the firmware sends (a Map: value types are untrusted keys). */
const FIXED = new Map<string, { quantity: string; unit: string }>([
  ['P0', { quantity: 'pm1', unit: 'ug/m3' }],
  ['P1', { quantity: 'pm10', unit: 'ug/m3' }],
  ['P2', { quantity: 'pm2_5', unit: 'ug/m3' }],
  ['signal', { quantity: 'rssi', unit: 'dBm' }],
]);
const SUFFIX = new Map<string, { quantity: string; unit: string }>([
  ['temperature', { quantity: 'air_temperature', unit: 'Cel' }],
  ['humidity', { quantity: 'relative_humidity', unit: '%RH' }],
  // BMP/BME280 report Pa.
  ['pressure', { quantity: 'air_pressure', unit: 'Pa' }],
  ['noise_LAeq', { quantity: 'noise_laeq', unit: 'dBA' }],
]);
/** Firmware housekeeping values, not measurements: loop statistics and the send interval. */
const HOUSEKEEPING = new Set(['samples', 'min_micro', 'max_micro', 'interval', 'GPS_lat', 'GPS_lon', 'GPS_height']);

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isSpace = (c: number) => c === 0x20 || (c >= 0x09 && c <= 0x0d);

/**
 * A decimal number as the firmware writes it (`21.30`, `-3`, `.5`, `1e3`, surrounding blanks allowed), else
 * undefined. A single left-to-right scan: the regex it replaces backtracked, and 200,000 digits followed by `x`
 * held the event loop for 50 s.
 */
export function parseDecimal(s: string): number | undefined {
  let i = 0;
  const n = s.length;
  while (i < n && isSpace(s.charCodeAt(i))) i++;
  const start = i;
  if (s.charCodeAt(i) === 0x2d) i++; // -
  const intStart = i;
  while (i < n && isDigit(s.charCodeAt(i))) i++;
  let digits = i - intStart;
  if (s.charCodeAt(i) === 0x2e) {
    const fracStart = ++i; // after the .
    while (i < n && isDigit(s.charCodeAt(i))) i++;
    digits += i - fracStart;
  }
  if (digits === 0) return undefined;
  const c = s.charCodeAt(i);
  if (c === 0x65 || c === 0x45) {
    i++; // e, E
    if (s.charCodeAt(i) === 0x2b || s.charCodeAt(i) === 0x2d) i++;
    const expStart = i;
    while (i < n && isDigit(s.charCodeAt(i))) i++;
    if (i === expStart) return undefined;
  }
  const end = i;
  while (i < n && isSpace(s.charCodeAt(i))) i++;
  return i === n ? Number(s.slice(start, end)) : undefined;
}

/** `SDS_P1` → pm10, `BME280_temperature` → air_temperature, …; undefined for value types with no mapping. */
export function sensorCommunityQuantity(valueType: string): { quantity: string; unit: string } | undefined {
  const sep = valueType.indexOf('_');
  const tail = sep >= 0 ? valueType.slice(sep + 1) : valueType;
  return FIXED.get(valueType) ?? FIXED.get(tail) ?? SUFFIX.get(tail);
}

/** Device id `esp8266-<chip id>`: the `X-Sensor` header convention of the firmware. */
export function decodeSensorCommunity(payload: Buffer): DecodeResult {
  const parsed = parseJson(payload);
  if (!parsed.ok) return parsed;
  const r = SensorCommunitySchema.safeParse(parsed.json);
  if (!r.success) {
    return fail(...r.error.issues.slice(0, 10).map((i) => reason(REASON.INVALID_MESSAGE, i.message, i.path.join('.'))));
  }
  const readings: RawReading[] = [];
  r.data.sensordatavalues.forEach((v, i) => {
    if (HOUSEKEEPING.has(v.value_type)) return;
    const mapped = sensorCommunityQuantity(v.value_type);
    // Values arrive as strings ("21.30"); anything that does not read as a number goes on as is and is refused
    // by the normaliser's number check.
    const parsed = typeof v.value === 'string' ? parseDecimal(v.value) : undefined;
    const value = parsed ?? v.value;
    const rr: RawReading = { name: mapped?.quantity ?? v.value_type, value, field: `sensordatavalues.${i}.value` };
    if (mapped) rr.unit = mapped.unit;
    readings.push(rr);
  });
  if (readings.length === 0) {
    return fail(reason(REASON.INVALID_MESSAGE, 'no measurement among sensordatavalues', 'sensordatavalues'));
  }
  return decoded({ device: `esp8266-${r.data.esp8266id}`, readings });
}
