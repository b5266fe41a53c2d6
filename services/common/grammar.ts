import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { DEVICE_ID_PATTERN } from './topics.ts';

/**
 * What every string that enters the platform from outside (API paths, queries and bodies, the CSV import, claims)
 * may look like. Each value is checked here, where it enters, so nothing outside these grammars reaches the
 * registry, InfluxDB or a log line: identifiers are a small safe alphabet; names, descriptions and tag values are
 * free text without control characters (tags also without line breaks, which would split a line-protocol line),
 * well-formed UTF-16 and bounded in length; JSON documents are bounded in depth and hold no NUL (PostgreSQL's jsonb
 * refuses it).
 */

/** Why `s` is not acceptable free text, or undefined; one pass over the characters, no regex backtracking. */
export function textProblem(s: string, opts: { lineBreaks: boolean }): string | undefined {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) return 'must not contain a NUL character';
    if (c === 0x0a || c === 0x0d || c === 0x2028 || c === 0x2029 || c === 0x85) {
      if (!opts.lineBreaks) return 'must not contain a line break';
    } else if (c === 0x09) {
      if (!opts.lineBreaks) return 'must not contain a tab';
    } else if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) {
      return `must not contain control characters (U+${c.toString(16).padStart(4, '0').toUpperCase()})`;
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return 'must be well-formed Unicode (a lone surrogate)';
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return 'must be well-formed Unicode (a lone surrogate)';
    }
  }
  return undefined;
}

const checked = (schema: z.ZodString, lineBreaks: boolean) =>
  schema.superRefine((s, ctx) => {
    const problem = textProblem(s, { lineBreaks });
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/** A one-line name or title: 1 to `max` characters, no control characters or line breaks. */
export const name = (max = 200) => checked(z.string().min(1).max(max), false);
/** Free text that may span lines (descriptions, purposes): tabs and line breaks allowed, other controls not. */
export const text = (max = 2000) => checked(z.string().max(max), true);
/**
 * A value stored as an InfluxDB tag (district): one line, no control characters, at most `max` characters, and no
 * leading or trailing space (InfluxQL comparisons are exact, so ' Altstadt' would be a district of its own).
 */
export const tagValue = (max = 100) =>
  name(max).refine((s) => s.trim() === s, 'must not start or end with white space');

export const DeviceId = z
  .string()
  .regex(DEVICE_ID_PATTERN, 'lowercase letters, digits, _ . - (1–64 characters, starting with a letter or digit)');
/**
 * A server-chosen device id: the type (as device-id characters) and 8 random hex digits, within the 64 characters
 * of the grammar even for the longest type name.
 */
export function generatedDeviceId(type: string): string {
  return `${type.replace(/[^a-z0-9]+/g, '-').slice(0, 55)}-${randomBytes(4).toString('hex')}`;
}

export const DepartmentId = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{1,31}$/, 'lowercase letters, digits, - and _ (2–32 characters)');
export const DeviceTypeId = z.string().regex(/^[a-z][a-z0-9_]{1,63}$/, 'lowercase letters, digits and _');
export const KeyId = z.string().regex(/^key_[a-z0-9]{1,60}$/, "an API key id such as 'key_0123456789ab'");
export const GrantId = z.string().regex(/^grant_[a-z0-9]{1,58}$/, "a grant id such as 'grant_0123456789ab'");
/** An open dataset is a public grant: the same ids. */
export const DatasetId = GrantId;
/** Claim codes are `claim_` + base64url; only their hash is looked up. */
export const ClaimCode = z.string().regex(/^[A-Za-z0-9_-]{1,200}$/, 'a claim code (letters, digits, - and _)');
/** Alert rules: the same alphabet as device ids, so a rule id is safe in a topic or a tag. */
export const RuleId = DeviceId;
export const SilenceId = z.string().regex(/^silence_[a-z0-9]{1,56}$/, "a silence id such as 'silence_0123456789ab'");
export const CommandName = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'lowercase letters, digits and _');
/** A quantity name or alias as a client writes it; the catalogue resolves it (case-insensitively for aliases). */
export const QuantityName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_.]{0,63}$/, 'a quantity of the catalogue, e.g. pm2_5 (see /v1/quantities)');
/** Dead-letter reason codes, e.g. INGEST_MALFORMED_JSON. */
export const ReasonCode = z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/, 'a reason code such as INGEST_MALFORMED_JSON');
/** Where a message came from: `mqtt`, `http`, `mqtt:<integration>`. */
export const SourceName = z.string().regex(/^[a-z][a-z0-9_:-]{0,63}$/, "'mqtt', 'http' or 'mqtt:<integration>'");
/** Database row ids (dead letters, audit entries, commands): positive and exact in a double. */
export const RowId = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/**
 * InfluxDB keeps times as int64 nanoseconds (1677-09-21 to 2262-04-11) and refuses a query that names a time
 * outside; a time a client gives for a query or a grant window stays inside, with a margin for defaults (24 h).
 */
export const EARLIEST_TIME_MS = Date.UTC(1678, 0, 1);
export const LATEST_TIME_MS = Date.UTC(2262, 0, 1);
const TIME_RANGE = 'between 1678-01-01 and 2262-01-01 (the range InfluxDB stores)';
const inTimeRange = (ms: number) => ms >= EARLIEST_TIME_MS && ms <= LATEST_TIME_MS;

/** An ISO 8601 time with offset, within the stored range. */
export const IsoTime = z.iso.datetime({ offset: true }).refine((s) => inTimeRange(Date.parse(s)), TIME_RANGE);

/** A query time: ISO 8601 or epoch milliseconds, as epoch milliseconds, within the stored range. */
export const QueryTime = z
  .union([z.iso.datetime({ offset: true }), z.string().regex(/^\d{10,14}$/, 'epoch milliseconds')])
  .transform((v) => (/^\d+$/.test(v) ? Number(v) : Date.parse(v)))
  .refine(inTimeRange, TIME_RANGE);

const UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
/** Seconds of a duration such as `15m`. */
export const durationS = (d: string): number => Number(d.slice(0, -1)) * (UNIT_S[d.slice(-1)] ?? Number.NaN);
/** Longest window a client may ask for: ten years, well inside InfluxQL's int64-nanosecond durations. */
const MAX_DURATION_S = 3660 * 86400;
/** A window length such as 30s, 15m, 1h, 1d: at least a second, at most ten years. */
export const Duration = z
  .string()
  .regex(/^\d{1,12}[smhd]$/, 'a duration such as 30s, 15m, 1h, 1d')
  .refine((d) => durationS(d) >= 1 && durationS(d) <= MAX_DURATION_S, 'between 1s and 3660d');

/** Deepest nesting a JSON document from a client may have (profiles, command arguments, configurations). */
export const MAX_JSON_DEPTH = 32;

/** Why a JSON value is not storable, or undefined: too deep, or a NUL in a key or string. Iterative: no recursion. */
export function jsonProblem(value: unknown, maxDepth = MAX_JSON_DEPTH): string | undefined {
  const stack: Array<{ v: unknown; depth: number }> = [{ v: value, depth: 0 }];
  while (stack.length > 0) {
    const { v, depth } = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return 'must not contain a NUL character';
    } else if (typeof v === 'object' && v !== null) {
      if (depth >= maxDepth) return `must not be nested deeper than ${maxDepth} levels`;
      for (const [k, child] of Object.entries(v)) {
        if (k.includes('\u0000')) return 'keys must not contain a NUL character';
        stack.push({ v: child, depth: depth + 1 });
      }
    }
  }
  return undefined;
}

/** A JSON object a client stores (device profile, command arguments, desired configuration). */
export const JsonObject = z.record(z.string(), z.unknown()).superRefine((v, ctx) => {
  const problem = jsonProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
