/**
 * Escaping rules of the InfluxDB line protocol, shared by every layer that writes points (readings, presence,
 * self-metrics): measurement (comma, space), tag keys and values (comma, equals, space).
 */
// The cheap non-global test skips the replace (and its allocation) for the usual plain identifiers.
const MEASUREMENT_HAS = /[, \\]/;
const MEASUREMENT_ALL = /[, \\]/g;
const TAG_HAS = /[,= \\]/;
const TAG_ALL = /[,= \\]/g;

export const escapeMeasurement = (s: string): string =>
  MEASUREMENT_HAS.test(s) ? s.replace(MEASUREMENT_ALL, '\\$&') : s;
export const escapeTag = (s: string): string => (TAG_HAS.test(s) ? s.replace(TAG_ALL, '\\$&') : s);

/** Where finished line-protocol lines go; in `sus run` and `sus broker` this is ingest's durable spool. */
export interface LineSink {
  append(lines: string[]): Promise<unknown>;
}
