import type { Format } from '../../common/uplink.ts';
import type { DeadLetterReason } from '../../registry/index.ts';

export { FORMATS, type Format, isFormat } from '../../common/uplink.ts';

/** Formats whose payload names the device (LoRaWAN ids, sensor.community chip id): it must match the sender. */
export const IDENTITY_FORMATS: ReadonlySet<Format> = new Set(['ttn', 'chirpstack', 'sensor-community']);

/**
 * One value as the payload states it, before the catalogue has seen it: the device's own field name, the raw value
 * (still `unknown`, so a string or null gets its own reason code later), the unit and time as given.
 */
export interface RawReading {
  name: string;
  value: unknown;
  unit?: string;
  /** Device time: epoch ms or an ISO 8601 string; absent when the payload has none. */
  time?: number | string;
  /** Where the value sits in the payload, for reason codes (`values.pm2_5`, `3.v`, `decoded_payload.temp`). */
  field: string;
  /** Where the unit sits, when that differs from `field`. */
  unitField?: string;
}

export interface Decoded {
  /** Device id the payload itself names (LoRaWAN network servers, sensor.community, SenML base name). */
  device?: string;
  readings: RawReading[];
  /** Parts of the payload the decoder refused while keeping the rest (one broken SenML record of a pack). */
  rejected?: DeadLetterReason[];
}

export type DecodeResult = { ok: true; value: Decoded } | { ok: false; reasons: DeadLetterReason[] };

export interface DecodeContext {
  /** Receive time, epoch ms: SenML relative times count from it. */
  receivedAt: number;
}

export type Decoder = (payload: Buffer, ctx: DecodeContext) => DecodeResult;

export const fail = (...reasons: DeadLetterReason[]): DecodeResult => ({ ok: false, reasons });
export const decoded = (value: Decoded): DecodeResult => ({ ok: true, value });
