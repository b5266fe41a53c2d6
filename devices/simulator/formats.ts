/**
 * The message formats a simulated device can speak: canonical JSON and SenML over MQTT, and the uplink webhooks of
 * The Things Stack v3 and ChirpStack v4 through the HTTP push route (`POST /v1/ingest/{format}`). Pure functions.
 */
import { hashSeed } from './rng.ts';

export const SIM_FORMATS = ['canonical', 'senml', 'ttn', 'chirpstack'] as const;
export type SimFormat = (typeof SIM_FORMATS)[number];

export function isSimFormat(s: string): s is SimFormat {
  return (SIM_FORMATS as readonly string[]).includes(s);
}

/** One reading as the simulator produced it (values in the catalogue's canonical units). */
export interface SimReading {
  time: number;
  seq: number;
  values: Record<string, number>;
  /** Radio metadata, for the LoRaWAN formats. */
  rssi?: number;
  snr?: number;
}

/** `{ "time", "seq", "values" }`; an array of them is a batch. */
export function canonical(r: SimReading): { time: number; seq: number; values: Record<string, number> } {
  return { time: r.time, seq: r.seq, values: r.values };
}

/** SenML (RFC 8428): base name `{device}/`, base time in seconds, one record per catalogue quantity. */
export function senml(deviceId: string, r: SimReading): Array<Record<string, string | number>> {
  return Object.entries(r.values).map(
    ([n, v], i): Record<string, string | number> =>
      i === 0 ? { bn: `${deviceId}/`, bt: r.time / 1000, n, v } : { n, v },
  );
}

/**
 * A stable 16-hex-digit DevEUI for a simulated LoRaWAN device: ChirpStack names devices by DevEUI, so a device
 * simulated in this format must be registered under this id.
 */
export function devEuiFor(deviceId: string): string {
  const a = hashSeed(deviceId).toString(16).padStart(8, '0');
  const b = hashSeed(`${deviceId}#eui`).toString(16).padStart(8, '0');
  return `${a}${b}`;
}

/** The Things Stack v3 uplink webhook body (only the parts a network server always sends, plus the decoded payload). */
export function ttnUplink(deviceId: string, r: SimReading): Record<string, unknown> {
  const at = new Date(r.time).toISOString();
  return {
    end_device_ids: {
      device_id: deviceId,
      application_ids: { application_id: 'sus-sim' },
      dev_eui: devEuiFor(deviceId),
    },
    received_at: at,
    uplink_message: {
      f_port: 1,
      f_cnt: r.seq,
      decoded_payload: r.values,
      rx_metadata: [{ gateway_ids: { gateway_id: 'sim-gw-1' }, rssi: r.rssi ?? -95, snr: r.snr ?? 7.5 }],
      received_at: at,
    },
  };
}

/** ChirpStack v4 `up` event (JSON marshaler / HTTP integration); the device is its DevEUI. */
export function chirpstackUplink(deviceId: string, r: SimReading): Record<string, unknown> {
  return {
    time: new Date(r.time).toISOString(),
    deviceInfo: { devEui: devEuiFor(deviceId), deviceName: deviceId, applicationName: 'sus-sim' },
    fCnt: r.seq,
    fPort: 1,
    object: r.values,
    rxInfo: [{ gatewayId: 'a84041ffff000001', rssi: r.rssi ?? -95, snr: r.snr ?? 7.5 }],
  };
}

/** The payload of one reading in `format`, ready to publish or POST. */
export function encode(format: SimFormat, deviceId: string, r: SimReading): string {
  switch (format) {
    case 'canonical':
      return JSON.stringify(canonical(r));
    case 'senml':
      return JSON.stringify(senml(deviceId, r));
    case 'ttn':
      return JSON.stringify(ttnUplink(deviceId, r));
    case 'chirpstack':
      return JSON.stringify(chirpstackUplink(deviceId, r));
  }
}
