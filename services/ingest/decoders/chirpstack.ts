import { z } from 'zod';
import { REASON, reason } from '../reasons.ts';
import { bestGateway, parseJson } from './json.ts';
import { type DecodeResult, decoded, fail, type RawReading } from './types.ts';

/** ChirpStack v4 uplink event (`application/{app}/device/{devEui}/event/up`, JSON marshaler, and the HTTP integration). */
export const ChirpstackUplinkSchema = z.looseObject({
  time: z.string().optional(),
  deviceInfo: z.looseObject({
    devEui: z.string().regex(/^[0-9a-fA-F]{16}$/, 'devEui must be 16 hex digits'),
    deviceName: z.string().optional(),
  }),
  object: z.record(z.string(), z.unknown()).optional(),
  rxInfo: z.array(z.looseObject({ rssi: z.number().optional(), snr: z.number().optional() })).optional(),
});

/** Devices are registered under their DevEUI in lower case: the one identifier ChirpStack never changes. */
export function decodeChirpstack(payload: Buffer): DecodeResult {
  const parsed = parseJson(payload);
  if (!parsed.ok) return parsed;
  const r = ChirpstackUplinkSchema.safeParse(parsed.json);
  if (!r.success) {
    return fail(...r.error.issues.slice(0, 10).map((i) => reason(REASON.INVALID_MESSAGE, i.message, i.path.join('.'))));
  }
  const ev = r.data;
  const readings: RawReading[] = [];
  const add = (name: string, value: unknown, field: string, unit?: string) => {
    const rr: RawReading = { name, value, field };
    if (unit !== undefined) rr.unit = unit;
    if (ev.time !== undefined) rr.time = ev.time;
    readings.push(rr);
  };
  for (const [name, value] of Object.entries(ev.object ?? {})) add(name, value, `object.${name}`);
  const gateways = ev.rxInfo ?? [];
  const best = bestGateway(gateways);
  if (best) {
    const i = gateways.indexOf(best);
    add('rssi', best.rssi, `rxInfo.${i}.rssi`, 'dBm');
    if (best.snr !== undefined) add('snr', best.snr, `rxInfo.${i}.snr`, 'dB');
  }
  if (readings.length === 0) {
    return fail(reason(REASON.INVALID_MESSAGE, 'the uplink has no decoded object and no gateway metadata', 'object'));
  }
  return decoded({ device: ev.deviceInfo.devEui.toLowerCase(), readings });
}
