import { describe, expect, it } from 'vitest';
import { devEuiFor, encode, type SimReading } from '../../../devices/simulator/formats.ts';

const r: SimReading = { time: 1764000000123, seq: 9, values: { air_temperature: 21.4, relative_humidity: 55 } };

describe('simulator message formats', () => {
  it('canonical JSON', () => {
    expect(JSON.parse(encode('canonical', 'aq-1', r))).toStrictEqual({
      time: 1764000000123,
      seq: 9,
      values: { air_temperature: 21.4, relative_humidity: 55 },
    });
  });

  it('SenML with the device as base name and the time in seconds', () => {
    expect(JSON.parse(encode('senml', 'aq-1', r))).toStrictEqual([
      { bn: 'aq-1/', bt: 1764000000.123, n: 'air_temperature', v: 21.4 },
      { n: 'relative_humidity', v: 55 },
    ]);
  });

  it('The Things Stack v3 uplink with decoded payload and gateway metadata', () => {
    expect(JSON.parse(encode('ttn', 'aq-1', { ...r, rssi: -88 }))).toStrictEqual({
      end_device_ids: { device_id: 'aq-1', application_ids: { application_id: 'sus-sim' }, dev_eui: devEuiFor('aq-1') },
      received_at: '2025-11-24T16:00:00.123Z',
      uplink_message: {
        f_port: 1,
        f_cnt: 9,
        decoded_payload: { air_temperature: 21.4, relative_humidity: 55 },
        rx_metadata: [{ gateway_ids: { gateway_id: 'sim-gw-1' }, rssi: -88, snr: 7.5 }],
        received_at: '2025-11-24T16:00:00.123Z',
      },
    });
  });

  it('ChirpStack v4 up event named by a stable 16-hex-digit DevEUI', () => {
    const eui = devEuiFor('aq-1');
    expect(eui).toMatch(/^[0-9a-f]{16}$/);
    expect(devEuiFor('aq-1')).toBe(eui);
    expect(devEuiFor('aq-2')).not.toBe(eui);
    expect(JSON.parse(encode('chirpstack', 'aq-1', r))).toStrictEqual({
      time: '2025-11-24T16:00:00.123Z',
      deviceInfo: { devEui: eui, deviceName: 'aq-1', applicationName: 'sus-sim' },
      fCnt: 9,
      fPort: 1,
      object: { air_temperature: 21.4, relative_humidity: 55 },
      rxInfo: [{ gatewayId: 'a84041ffff000001', rssi: -95, snr: 7.5 }],
    });
  });
});
