/**
 * The one InfluxDB line-protocol builder of the platform: readings, flagged readings, device presence and every
 * self-metric are formatted here, so escaping is decided in one place.
 *
 * Line protocol has no escape for a line break: a raw `\n` in a tag ends the line and turns the rest into a forged
 * point (another measurement, no device tag) while the real one is refused. Whatever a caller hands in, control
 * characters (U+0000–U+001F, U+007F) never reach the output: they become U+FFFD. Strings that become tags or
 * measurements are validated where they enter (API, import); this is the defence behind that.
 */

const REPLACEMENT = '\uFFFD';
const BACKSLASH = 0x5c;

/**
 * Escapes `s` for one line-protocol position: a backslash before every character `special` names, U+FFFD for
 * control characters. A scan over char codes instead of a regex: it
 * costs the usual plain identifier one pass and no allocation.
 */
function escaped(s: string, special: (c: number) => boolean): string {
  let i = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || special(c)) break;
  }
  if (i === s.length) return s;
  let out = s.slice(0, i);
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) out += REPLACEMENT;
    else if (special(c)) out += `\\${s[i]}`;
    else out += s[i];
  }
  return out;
}

// Measurement: comma and space; tag keys, tag values and field keys: comma, equals sign and space; string field
// values: double quote. Backslashes are doubled everywhere so a trailing one cannot swallow the separator after it.
const inMeasurement = (c: number) => c === 0x2c || c === 0x20 || c === BACKSLASH;
const inKey = (c: number) => c === 0x2c || c === 0x3d || c === 0x20 || c === BACKSLASH;
const inString = (c: number) => c === 0x22 || c === BACKSLASH;

export const escapeMeasurement = (s: string): string => escaped(s, inMeasurement);
/** Tag keys, tag values and field keys. */
export const escapeTag = (s: string): string => escaped(s, inKey);

/** A float field value. */
export function floatValue(v: number): string {
  // Written with a decimal point when it has none, for readers of the raw lines; beyond 1e21 String() already
  // gives exponent notation, and `1e+21.0` is a line InfluxDB refuses.
  return Number.isInteger(v) && Math.abs(v) < 1e21 ? `${v}.0` : String(v);
}

/** An integer field value (`42i`). */
export const intValue = (v: number): string => `${Math.trunc(v)}i`;

/** A string field value, quoted. */
export const stringValue = (s: string): string => `"${escaped(s, inString)}"`;

/**
 * `,key=value,…` in lexicographic key order (InfluxDB sorts them anyway, and pre-sorted input spares it the work);
 * empty, null and undefined values are left out (InfluxDB refuses empty tag values). Built once per device by the
 * hot path, so it may sort.
 */
export function tagSet<K extends string>(tags: Readonly<Record<K, string | null | undefined>>): string {
  let out = '';
  for (const key of (Object.keys(tags) as K[]).sort()) {
    const value = tags[key];
    if (value) out += `,${escapeTag(key)}=${escapeTag(value)}`;
  }
  return out;
}

/** `key=value,…` of already formatted values ({@link floatValue}, {@link intValue}, {@link stringValue}), in the given order. */
export function fieldSet(fields: Readonly<Record<string, string>>): string {
  let out = '';
  for (const key in fields) {
    if (!Object.hasOwn(fields, key)) continue;
    out += `${out === '' ? '' : ','}${escapeTag(key)}=${fields[key]}`;
  }
  return out;
}

/** One point: `measurement,tags fields time`; `tags` from {@link tagSet}, `fields` from {@link fieldSet}. */
export const pointLine = (measurement: string, tags: string, fields: string, timeMs: number): string =>
  `${escapeMeasurement(measurement)}${tags} ${fields} ${Math.trunc(timeMs)}`;

/**
 * A stored reading (DESIGN.md): `quantity,tags value=<float>[,flags="…"] <ms>`. The reading's flags go as a string
 * field next to `value` (InfluxQL reads `value` alone). The hot path's own shape of {@link pointLine}.
 */
export function readingLine(
  quantity: string,
  tags: string,
  value: number,
  timeMs: number,
  flags?: readonly string[],
): string {
  const f = flags && flags.length > 0 ? `,flags=${stringValue(flags.join(','))}` : '';
  return `${escapeMeasurement(quantity)}${tags} value=${floatValue(value)}${f} ${Math.trunc(timeMs)}`;
}

/**
 * The tags of a line this builder made (the inverse of {@link tagSet}): for a line InfluxDB refused, whose device
 * and source its dead letter names. Linear: one pass over the series key.
 */
export function lineTags(line: string): Map<string, string> {
  const tags = new Map<string, string>();
  let part = '';
  let key: string | undefined;
  let first = true; // the measurement comes before the first unescaped comma
  const end = () => {
    if (!first && key !== undefined) tags.set(key, part);
    first = false;
    part = '';
    key = undefined;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '\\' && i + 1 < line.length) part += line[++i];
    else if (c === ',') end();
    else if (c === ' ') break;
    else if (c === '=' && !first && key === undefined) {
      key = part;
      part = '';
    } else part += c;
  }
  end();
  return tags;
}

/** Where finished line-protocol lines go; in `sus run` and `sus broker` this is ingest's durable spool. */
export interface LineSink {
  append(lines: string[]): Promise<unknown>;
}
