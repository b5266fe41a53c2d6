import { catalogue } from '../common/catalogue.ts';
import type { DeadLetterReason } from '../registry/index.ts';
import { DECODERS, type Format, IDENTITY_FORMATS } from './decoders/index.ts';
import { type IngestedReading, type NormaliseOptions, normaliseDecoded } from './normalise.ts';
import type { DeviceProfile } from './profiles.ts';
import { REASON, reason } from './reasons.ts';

export interface OfflineDecoded {
  /** The device the readings belong to: named by the payload (LoRaWAN, sensor.community) or by the caller. */
  device: string | null;
  readings: IngestedReading[];
  rejected: DeadLetterReason[];
}

/**
 * One payload through ingest's decode and normalise steps without the registry, the spool or InfluxDB: what
 * `sus decode` shows when someone debugs a sensor.
 */
export function decodeOffline(
  format: Format,
  payload: Buffer,
  input: { device?: string; profile?: DeviceProfile; receivedAt: number },
  options: NormaliseOptions & { maxPayloadBytes: number },
): OfflineDecoded {
  if (payload.length > options.maxPayloadBytes) {
    const r = reason(
      REASON.PAYLOAD_TOO_LARGE,
      `${payload.length} bytes exceed the limit of ${options.maxPayloadBytes}`,
    );
    return { device: input.device ?? null, readings: [], rejected: [r] };
  }
  const d = DECODERS[format](payload, { receivedAt: input.receivedAt });
  if (!d.ok) return { device: input.device ?? null, readings: [], rejected: d.reasons };
  // LoRaWAN and sensor.community payloads name their device; for the others the caller says who sent it.
  const identity = IDENTITY_FORMATS.has(format);
  const device = (identity ? d.value.device : (input.device ?? d.value.device)) ?? null;
  const n = normaliseDecoded(d.value, device ?? '', input.profile, input.receivedAt, catalogue, options);
  if (identity && input.device && d.value.device && input.device !== d.value.device) {
    n.rejected.unshift(
      reason(REASON.DEVICE_MISMATCH, `the payload names device '${d.value.device}', --device is '${input.device}'`),
    );
  }
  return { device, readings: n.readings, rejected: n.rejected };
}
