import { z } from 'zod';
import { REASON, reason } from '../reasons.ts';
import { bestGateway, parseJson } from './json.ts';
import { type DecodeResult, decoded, fail, type RawReading } from './types.ts';

/**
 * The Things Stack v3 uplink message (`v3/{app}@{tenant}/devices/{dev}/up` and the webhook body): only the fields
 * ingest uses are checked, everything else the network server adds passes untouched.
 */
const GatewaySchema = z.looseObject({
  rssi: z.number().optional(),
  channel_rssi: z.number().optional(),
  snr: z.number().optional(),
});

export const TtnUplinkSchema = z.looseObject({
  end_device_ids: z.looseObject({ device_id: z.string().min(1).max(64) }),
  received_at: z.string().optional(),
  uplink_message: z.looseObject({
    decoded_payload: z.record(z.string(), z.unknown()).optional(),
    rx_metadata: z.array(GatewaySchema).optional(),
    received_at: z.string().optional(),
  }),
});

export function decodeTtn(payload: Buffer): DecodeResult {
  const parsed = parseJson(payload);
  if (!parsed.ok) return parsed;
  const r = TtnUplinkSchema.safeParse(parsed.json);
  if (!r.success) {
    return fail(...r.error.issues.slice(0, 10).map((i) => reason(REASON.INVALID_MESSAGE, i.message, i.path.join('.'))));
  }
  const up = r.data.uplink_message;
  // The network server's receive time: LoRaWAN frames carry no device clock.
  const time = up.received_at ?? r.data.received_at;
  const readings: RawReading[] = [];
  const add = (name: string, value: unknown, field: string, unit?: string) => {
    const rr: RawReading = { name, value, field };
    if (unit !== undefined) rr.unit = unit;
    if (time !== undefined) rr.time = time;
    readings.push(rr);
  };
  for (const [name, value] of Object.entries(up.decoded_payload ?? {})) {
    add(name, value, `uplink_message.decoded_payload.${name}`);
  }
  const gateways = (up.rx_metadata ?? []).map((g) => ({ ...g, rssi: g.rssi ?? g.channel_rssi }));
  const best = bestGateway(gateways);
  if (best) {
    const i = gateways.indexOf(best);
    add('rssi', best.rssi, `uplink_message.rx_metadata.${i}.rssi`, 'dBm');
    if (best.snr !== undefined) add('snr', best.snr, `uplink_message.rx_metadata.${i}.snr`, 'dB');
  }
  if (readings.length === 0) {
    return fail(
      reason(REASON.INVALID_MESSAGE, 'the uplink has no decoded_payload and no gateway metadata', 'uplink_message'),
    );
  }
  return decoded({ device: r.data.end_device_ids.device_id, readings });
}
