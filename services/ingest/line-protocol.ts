import { escapeMeasurement, escapeTag } from '../common/line-protocol.ts';
import type { ReadingTags } from '../common/reading.ts';

// Tag keys in lexicographic order: InfluxDB sorts them anyway and pre-sorted input spares it the work.
const TAG_KEYS = [
  'department',
  'device',
  'device_type',
  'district',
  'source',
] as const satisfies readonly (keyof ReadingTags)[];

/** Serialises the tag set once per message; every reading of the message reuses it. */
export function tagSet(tags: ReadingTags): string {
  let out = '';
  for (const key of TAG_KEYS) {
    const value = tags[key];
    // InfluxDB rejects empty tag values: an unknown district is simply absent.
    if (value) out += `,${key}=${escapeTag(value)}`;
  }
  return out;
}

/** `measurement,tags value=<float> <ms>`: the stored-reading shape of DESIGN.md, millisecond precision. */
export function readingLine(quantity: string, tags: string, value: number, timeMs: number): string {
  // A float field must always look like one, or InfluxDB types the field as integer on first write.
  const v = Number.isInteger(value) ? `${value}.0` : String(value);
  return `${escapeMeasurement(quantity)}${tags} value=${v} ${timeMs}`;
}
