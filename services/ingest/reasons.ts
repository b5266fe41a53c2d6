import type { DeadLetterReason } from '../registry/types.ts';

/** Reason codes of rejected messages and readings: stable, listed in docs/ingest.md, counted in metrics. */
export const REASON = {
  PAYLOAD_TOO_LARGE: 'INGEST_PAYLOAD_TOO_LARGE',
  MALFORMED_JSON: 'INGEST_MALFORMED_JSON',
  INVALID_MESSAGE: 'INGEST_INVALID_MESSAGE',
  UNSUPPORTED_FORMAT: 'INGEST_UNSUPPORTED_FORMAT',
  UNKNOWN_DEVICE: 'INGEST_UNKNOWN_DEVICE',
  UNKNOWN_QUANTITY: 'INGEST_UNKNOWN_QUANTITY',
  NOT_A_NUMBER: 'INGEST_NOT_A_NUMBER',
  NOT_FINITE: 'INGEST_NOT_FINITE',
  UNIT_UNSUPPORTED: 'INGEST_UNIT_UNSUPPORTED',
  OUT_OF_RANGE: 'INGEST_OUT_OF_RANGE',
} as const;

export type ReasonCode = (typeof REASON)[keyof typeof REASON];

export const reason = (code: ReasonCode, message: string, field?: string): DeadLetterReason =>
  field === undefined ? { code, message } : { code, message, field };
