import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { catalogue } from '../../../../services/common/catalogue.ts';
import { DECODERS, type Format, formatOfChannel } from '../../../../services/ingest/decoders/index.ts';
import { jsonDepth, MAX_JSON_DEPTH } from '../../../../services/ingest/decoders/json.ts';
import { MAX_CBOR_DEPTH } from '../../../../services/ingest/decoders/senml.ts';
import { parseDecimal } from '../../../../services/ingest/decoders/sensor-community.ts';
import { type NormaliseOptions, normaliseDecoded } from '../../../../services/ingest/normalise.ts';
import { type DeviceProfile, parseProfile } from '../../../../services/ingest/profiles.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../../../fixtures/decoders');
const NOW = 1_764_000_000_000; // 2025-11-24T16:00:00.000Z
const OPTS: NormaliseOptions = { timePolicy: { maxAgeMs: 7 * 24 * 3600e3, maxSkewMs: 300e3 }, plausibility: 'reject' };

const fixture = (name: string) =>
  name.endsWith('.hex')
    ? Buffer.from(readFileSync(path.join(FIXTURES, name), 'utf8').trim(), 'hex')
    : readFileSync(path.join(FIXTURES, name));

/** decode → profile → normalise, as `sus decode` and the Ingestor run it; values rounded to 1e-9 for float noise. */
function run(format: Format, payload: Buffer, device = 'dev', profile?: DeviceProfile) {
  const d = DECODERS[format](payload, { receivedAt: NOW });
  if (!d.ok) return { decodeRejected: d.reasons };
  const n = normaliseDecoded(d.value, d.value.device ?? device, profile, NOW, catalogue, OPTS);
  return {
    device: d.value.device,
    readings: n.readings.map((r) => ({ ...r, value: Math.round(r.value * 1e9) / 1e9 })),
    rejected: n.rejected,
  };
}

const reading = (device: string, quantity: string, value: number, unit: string, time: number) => ({
  device,
  quantity,
  value,
  unit,
  time,
});

describe('golden payloads', () => {
  it('canonical object: values in canonical units at the device time', () => {
    expect(run('canonical', fixture('canonical.json'), 'aq-1')).toStrictEqual({
      device: undefined,
      readings: [
        reading('aq-1', 'air_temperature', 21.4, 'Cel', 1764000000123),
        reading('aq-1', 'relative_humidity', 55.2, '%RH', 1764000000123),
        reading('aq-1', 'pm2_5', 12.1, 'ug/m3', 1764000000123),
      ],
      rejected: [],
    });
  });

  it('canonical batch: each element with its own ISO time, aliases resolved and units converted', () => {
    expect(run('canonical', fixture('canonical-batch.json'), 'aq-1')).toStrictEqual({
      device: undefined,
      readings: [
        reading('aq-1', 'air_temperature', 21.5, 'Cel', NOW - 60_000),
        reading('aq-1', 'air_pressure', 101320, 'Pa', NOW - 30_000),
      ],
      rejected: [],
    });
  });

  it('SenML JSON: base name, base time, base unit and relative times resolved to absolute records', () => {
    expect(run('senml', fixture('senml.json'))).toStrictEqual({
      device: 'urn:dev:ow:10e2073a01080063',
      readings: [
        reading('urn:dev:ow:10e2073a01080063', 'air_temperature', 23.1, 'Cel', 1_764_000_000_000),
        reading('urn:dev:ow:10e2073a01080063', 'air_temperature', 23.4, 'Cel', 1_764_000_010_000),
        reading('urn:dev:ow:10e2073a01080063', 'relative_humidity', 41, '%RH', 1_764_000_010_000),
        reading('urn:dev:ow:10e2073a01080063', 'air_pressure', 101250, 'Pa', 1_764_000_000_000),
      ],
      rejected: [],
    });
  });

  it('SenML JSON: times below 2^28 are relative to the receive time and base values add up', () => {
    expect(run('senml', fixture('senml-relative.json'))).toStrictEqual({
      device: 'aq-1',
      readings: [
        reading('aq-1', 'air_temperature', 21.5, 'Cel', NOW - 60_000),
        reading('aq-1', 'air_temperature', 22, 'Cel', NOW),
        reading('aq-1', 'pm2_5', 8, 'ug/m3', NOW - 30_000),
      ],
      rejected: [],
    });
  });

  it('SenML CBOR: integer labels decode to the same records as JSON', () => {
    expect(run('senml-cbor', fixture('senml-cbor.hex'))).toStrictEqual({
      device: 'urn:dev:ow:10e2073a01080063',
      readings: [
        reading('urn:dev:ow:10e2073a01080063', 'air_temperature', 23.5, 'Cel', 1_764_000_000_000),
        reading('urn:dev:ow:10e2073a01080063', 'air_temperature', 23.75, 'Cel', 1_764_000_005_000),
        reading('urn:dev:ow:10e2073a01080063', 'co2', 415, 'ppm', 1_764_000_000_000),
      ],
      rejected: [],
    });
  });

  it('The Things Stack v3: decoded_payload through the device profile, rssi and snr of the best gateway', () => {
    const profile = parseProfile(
      {
        type: 'water_level_radar',
        fields: { water_level_cm: { quantity: 'water_level', unit: 'cm' }, battery: { quantity: 'battery_voltage' } },
      },
      'inline',
      catalogue,
    );
    const t = Date.parse('2025-11-24T15:59:58.000Z');
    expect(run('ttn', fixture('ttn.json'), 'ignored', profile)).toStrictEqual({
      device: 'water-level-7',
      readings: [
        reading('water-level-7', 'water_level', 1.23, 'm', t),
        reading('water-level-7', 'battery_voltage', 3.61, 'V', t),
        reading('water-level-7', 'rssi', -87, 'dBm', t),
        reading('water-level-7', 'snr', 8.25, 'dB', t),
      ],
      rejected: [],
    });
  });

  it('The Things Stack v3 without a profile: unknown device field names are rejected, never guessed', () => {
    const r = run('ttn', fixture('ttn.json'));
    expect(r.rejected).toStrictEqual([
      {
        code: 'INGEST_UNKNOWN_QUANTITY',
        message: "'water_level_cm' is not a quantity of the catalogue",
        field: 'uplink_message.decoded_payload.water_level_cm',
      },
      {
        code: 'INGEST_UNKNOWN_QUANTITY',
        message: "'battery' is not a quantity of the catalogue",
        field: 'uplink_message.decoded_payload.battery',
      },
    ]);
  });

  it('ChirpStack v4: object values and the best rxInfo gateway, device = DevEUI in lower case', () => {
    const t = Date.parse('2025-11-24T15:59:40.000Z');
    expect(run('chirpstack', fixture('chirpstack.json'))).toStrictEqual({
      device: '0101010101010101',
      readings: [
        reading('0101010101010101', 'soil_moisture', 31.5, '%', t),
        reading('0101010101010101', 'soil_temperature', 12.25, 'Cel', t),
        reading('0101010101010101', 'rssi', -36, 'dBm', t),
        reading('0101010101010101', 'snr', 10.5, 'dB', t),
      ],
      rejected: [],
    });
  });

  it('sensor.community: string values, SDS_P1→pm10, SDS_P2→pm2_5, BME280 values, signal→rssi, housekeeping ignored', () => {
    expect(run('sensor-community', fixture('sensor-community.json'))).toStrictEqual({
      device: 'esp8266-15549471',
      readings: [
        reading('esp8266-15549471', 'pm10', 21.3, 'ug/m3', NOW),
        reading('esp8266-15549471', 'pm2_5', 8.7, 'ug/m3', NOW),
        reading('esp8266-15549471', 'air_temperature', 7.4, 'Cel', NOW),
        reading('esp8266-15549471', 'relative_humidity', 80.1, '%RH', NOW),
        reading('esp8266-15549471', 'air_pressure', 98765.43, 'Pa', NOW),
        reading('esp8266-15549471', 'rssi', -71, 'dBm', NOW),
      ],
      rejected: [],
    });
  });
});

describe('decoder rejections', () => {
  const reasons = (format: Format, payload: string | Buffer) => {
    const d = DECODERS[format](typeof payload === 'string' ? Buffer.from(payload) : payload, { receivedAt: NOW });
    return d.ok ? d.value.rejected : d.reasons;
  };

  it('SenML: a pack that is not an array, an empty pack, and an unsupported version', () => {
    expect(reasons('senml', '{"n":"temp","v":1}')).toStrictEqual([
      { code: 'INGEST_INVALID_MESSAGE', message: 'a SenML pack must be an array of records' },
    ]);
    expect(reasons('senml', '[]')).toStrictEqual([
      { code: 'INGEST_INVALID_MESSAGE', message: 'the SenML pack holds no records' },
    ]);
    expect(reasons('senml', '[{"bver":11,"n":"temp","v":1}]')).toStrictEqual([
      { code: 'INGEST_UNSUPPORTED_FORMAT', message: 'SenML version 11 is not supported (≤ 10)', field: '0.bver' },
    ]);
  });

  it('SenML: a must-understand field rejects the pack; a bad record is rejected alone', () => {
    expect(reasons('senml', '[{"n":"temp","v":1,"foo_":2}]')).toStrictEqual([
      { code: 'INGEST_INVALID_MESSAGE', message: "unsupported must-understand field 'foo_'", field: '0' },
    ]);
    const d = DECODERS.senml(Buffer.from('[{"n":"temp","v":1},{"n":"bad name","v":2},{"n":"hum"}]'), {
      receivedAt: NOW,
    });
    expect(d.ok && d.value.readings.map((r) => r.name)).toStrictEqual(['temp']);
    expect(d.ok && d.value.rejected).toStrictEqual([
      {
        code: 'INGEST_INVALID_MESSAGE',
        message: "resolved name 'bad name' is empty or holds characters RFC 8428 does not allow",
        field: '1.n',
      },
      { code: 'INGEST_INVALID_MESSAGE', message: 'the record has no value (v, vs, vb, vd or s)', field: '2.v' },
    ]);
  });

  it('SenML: a string value (vs) is refused by the number check with its field', () => {
    expect(run('senml', Buffer.from('[{"n":"temp","vs":"warm"}]')).rejected).toStrictEqual([
      { code: 'INGEST_NOT_A_NUMBER', message: 'expected a number, got string', field: '0.vs' },
    ]);
  });

  it('SenML CBOR: bytes that are not CBOR get INGEST_MALFORMED_CBOR', () => {
    expect(reasons('senml-cbor', Buffer.from([0xff]))).toStrictEqual([
      { code: 'INGEST_MALFORMED_CBOR', message: expect.stringMatching(/^payload is not CBOR: /) },
    ]);
  });

  it('TTN and ChirpStack: a payload without device ids is an invalid message naming the field', () => {
    expect(reasons('ttn', '{"uplink_message":{}}')).toStrictEqual([
      { code: 'INGEST_INVALID_MESSAGE', message: expect.any(String), field: 'end_device_ids' },
    ]);
    expect(reasons('chirpstack', '{"deviceInfo":{"devEui":"xyz"}}')).toStrictEqual([
      { code: 'INGEST_INVALID_MESSAGE', message: 'devEui must be 16 hex digits', field: 'deviceInfo.devEui' },
    ]);
  });

  it('sensor.community: a value that is not a number string is refused by the number check', () => {
    const payload = '{"esp8266id":"1","sensordatavalues":[{"value_type":"SDS_P1","value":"n/a"}]}';
    expect(run('sensor-community', Buffer.from(payload)).rejected).toStrictEqual([
      { code: 'INGEST_NOT_A_NUMBER', message: 'expected a number, got string', field: 'sensordatavalues.0.value' },
    ]);
  });

  it('malformed JSON gets INGEST_MALFORMED_JSON in every JSON format', () => {
    for (const f of ['canonical', 'senml', 'ttn', 'chirpstack', 'sensor-community'] as const) {
      expect(reasons(f, '{"a":')).toStrictEqual([
        { code: 'INGEST_MALFORMED_JSON', message: expect.stringMatching(/^payload is not JSON: /) },
      ]);
    }
  });
});

describe('formatOfChannel', () => {
  it('maps up to canonical and up/{format} to the format, anything else to undefined', () => {
    expect(formatOfChannel('up')).toBe('canonical');
    expect(formatOfChannel('up/senml')).toBe('senml');
    expect(formatOfChannel('up/senml-cbor')).toBe('senml-cbor');
    expect(formatOfChannel('up/ttn')).toBe('ttn');
    expect(formatOfChannel('up/xml')).toBeUndefined();
    expect(formatOfChannel('ack')).toBeUndefined();
  });
});

describe('number and nesting scans', () => {
  it('reads the decimal numbers the sensor.community firmware writes, and nothing else', () => {
    const cases: Array<[string, number | undefined]> = [
      ['21.30', 21.3],
      [' -3 ', -3],
      ['.5', 0.5],
      ['-.5', -0.5],
      ['7.', 7],
      ['1e3', 1000],
      ['2.5E-2', 0.025],
      ['1e+2', 100],
      ['', undefined],
      ['-', undefined],
      ['.', undefined],
      ['1e', undefined],
      ['1e+', undefined],
      ['0x10', undefined],
      ['Infinity', undefined],
      ['1 2', undefined],
      ['12a', undefined],
      ['--1', undefined],
      [`${'1'.repeat(200_000)}x`, undefined],
    ];
    expect(cases.map(([s]) => parseDecimal(s))).toStrictEqual(cases.map(([, n]) => n));
  });

  it('measures JSON nesting outside strings, escaped quotes included', () => {
    expect(jsonDepth(Buffer.from('{"a":[1,{"b":[]}]}'))).toBe(4);
    expect(jsonDepth(Buffer.from('{"a":"[[[[\\"[[[","b":["]]]"]}'))).toBe(2);
    expect(jsonDepth(Buffer.from('"[[["'))).toBe(0);
    expect(jsonDepth(Buffer.from('['.repeat(100_000)), 64)).toBe(65);
  });

  it('refuses JSON nested deeper than MAX_JSON_DEPTH with a reason, and CBOR deeper than MAX_CBOR_DEPTH', () => {
    const deep = Buffer.from(`{"values":{"pm10":${'['.repeat(MAX_JSON_DEPTH)}1${']'.repeat(MAX_JSON_DEPTH)}}}`);
    expect(DECODERS.canonical(deep, { receivedAt: NOW })).toStrictEqual({
      ok: false,
      reasons: [{ code: 'INGEST_INVALID_MESSAGE', message: `JSON nested deeper than ${MAX_JSON_DEPTH} levels` }],
    });
    const ok = Buffer.from(`{"values":{"pm10":${'['.repeat(MAX_JSON_DEPTH - 2)}1${']'.repeat(MAX_JSON_DEPTH - 2)}}}`);
    expect(DECODERS.canonical(ok, { receivedAt: NOW }).ok).toBe(true);
    expect(DECODERS['senml-cbor'](Buffer.alloc(MAX_CBOR_DEPTH + 1, 0x81), { receivedAt: NOW })).toStrictEqual({
      ok: false,
      reasons: [
        { code: 'INGEST_MALFORMED_CBOR', message: `payload is not CBOR: nested deeper than ${MAX_CBOR_DEPTH} levels` },
      ],
    });
    // Exactly MAX_CBOR_DEPTH levels decode (and are refused as SenML for holding no records, not as CBOR).
    const atLimit = DECODERS['senml-cbor'](
      Buffer.concat([Buffer.alloc(MAX_CBOR_DEPTH - 1, 0x81), Buffer.from([0x80])]),
      {
        receivedAt: NOW,
      },
    );
    expect(atLimit.ok ? atLimit.value.rejected?.[0]?.code : atLimit.reasons[0]?.code).toBe('INGEST_INVALID_MESSAGE');
  });

  it('refuses SenML names over 256 characters per record, with short reasons, however long the base name', () => {
    const pack = [
      { bn: `${'a'.repeat(200_000)}:`, n: 'x', v: 1 },
      ...Array.from({ length: 999 }, () => ({ n: 'x', v: 1 })),
    ];
    const d = DECODERS.senml(Buffer.from(JSON.stringify(pack)), { receivedAt: NOW });
    const rejected = d.ok ? (d.value.rejected ?? []) : d.reasons;
    expect(rejected).toHaveLength(1000);
    expect(rejected[999]).toStrictEqual({
      code: 'INGEST_INVALID_MESSAGE',
      message: 'the resolved name has 200002 characters, at most 256',
      field: '999.n',
    });
    const bad = [{ bn: `${'a'.repeat(200)}!`, n: 'x', v: 1 }];
    const r = DECODERS.senml(Buffer.from(JSON.stringify(bad)), { receivedAt: NOW });
    expect(r.ok && r.value.rejected?.[0]?.message).toBe(
      `resolved name '${'a'.repeat(64)}…' is empty or holds characters RFC 8428 does not allow`,
    );
  });
});
