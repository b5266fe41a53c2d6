import type { DeadLetterReason } from '../registry/index.ts';

/**
 * Reason codes of rejected messages and readings: stable (programs and dashboards key on them), listed in
 * services/ingest/README.md, counted in metrics. One code per distinct cause so an operator can tell them apart.
 */
export const REASON = {
  PAYLOAD_TOO_LARGE: 'INGEST_PAYLOAD_TOO_LARGE',
  MALFORMED_JSON: 'INGEST_MALFORMED_JSON',
  MALFORMED_CBOR: 'INGEST_MALFORMED_CBOR',
  INVALID_MESSAGE: 'INGEST_INVALID_MESSAGE',
  UNSUPPORTED_FORMAT: 'INGEST_UNSUPPORTED_FORMAT',
  UNKNOWN_DEVICE: 'INGEST_UNKNOWN_DEVICE',
  /** The payload names another device than the topic or credentials it came with. */
  DEVICE_MISMATCH: 'INGEST_DEVICE_MISMATCH',
  UNKNOWN_QUANTITY: 'INGEST_UNKNOWN_QUANTITY',
  NOT_A_NUMBER: 'INGEST_NOT_A_NUMBER',
  NOT_FINITE: 'INGEST_NOT_FINITE',
  UNIT_UNSUPPORTED: 'INGEST_UNIT_UNSUPPORTED',
  OUT_OF_RANGE: 'INGEST_OUT_OF_RANGE',
  /** InfluxDB refused a stored line on its own (type conflict, beyond retention, too large): InfluxDB's reason. */
  INFLUX_REFUSED: 'INGEST_INFLUX_REFUSED',
  /** A summary row: rejects of one device beyond SUS_DEAD_LETTER_RATE, counted instead of filed one by one. */
  DEAD_LETTERS_SUPPRESSED: 'INGEST_DEAD_LETTERS_SUPPRESSED',
} as const;

export type ReasonCode = (typeof REASON)[keyof typeof REASON];

export const reason = (code: ReasonCode, message: string, field?: string): DeadLetterReason =>
  field === undefined ? { code, message } : { code, message, field };

/** Longest piece of a payload's own text a reason quotes. */
const QUOTE_CHARS = 64;

/**
 * A name, unit or id from a payload, quoted for a reason message and cut to QUOTE_CHARS: a message repeats it per
 * rejected value, and a 200 KB name in each of 1,000 reasons would be 200 MB of text.
 */
export const quoted = (s: string): string => `'${s.length > QUOTE_CHARS ? `${s.slice(0, QUOTE_CHARS)}…` : s}'`;

/** Flags on accepted readings: stored as the `flags` field next to `value`, so the reading is kept but marked. */
export const FLAG = {
  /** The device sent a time outside [now − SUS_MAX_AGE_S, now + SUS_MAX_SKEW_S]; the receive time replaced it. */
  TIME_REPLACED: 'time_replaced',
  /** The value lies outside the quantity's plausible range and SUS_PLAUSIBILITY=flag kept it. */
  OUT_OF_RANGE: 'out_of_range',
} as const;

export type ReadingFlag = (typeof FLAG)[keyof typeof FLAG];
