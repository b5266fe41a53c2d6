import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { catalogue } from '../../../services/common/catalogue.ts';
import { silentLogger } from '../../../services/common/logger.ts';
import type { Uplink } from '../../../services/common/uplink.ts';
import type { DeviceLookup } from '../../../services/ingest/device-directory.ts';
import { type IngestOptions, Ingestor } from '../../../services/ingest/ingestor.ts';
import { parseProfile } from '../../../services/ingest/profiles.ts';
import type { Device } from '../../../services/registry/types.ts';
import { Recorder } from './recorder.ts';

const NOW = 1_764_000_000_000; // 2025-11-24T16:00:00.000Z
const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures/decoders');

const device = (id: string, department: string, type: string): Device => ({
  id,
  name: id,
  department,
  type,
  district: null,
  lat: null,
  lon: null,
  createdAt: '2025-01-01T00:00:00.000Z',
  lastSeenAt: null,
});
const DEVICES = new Map<string, Device>(
  [
    device('aq-1', 'environment', 'air_quality'),
    device('water-level-7', 'drainage', 'water_level_radar'),
    device('esp8266-15549471', 'environment', 'sensor_community'),
    device('odd-1', 'environment', 'odd_names'),
  ].map((d) => [d.id, d]),
);
const PROFILES = new Map([
  [
    'water_level_radar',
    parseProfile(
      {
        type: 'water_level_radar',
        fields: { water_level_cm: { quantity: 'water_level', unit: 'cm' }, battery: { quantity: 'battery_voltage' } },
      },
      'inline',
      catalogue,
    ),
  ],
  [
    'odd_names',
    parseProfile(
      { type: 'odd_names', fields: { constructor: { quantity: 'co2' }, toString: { quantity: 'pm10' } } },
      'inline',
      catalogue,
    ),
  ],
]);

const running: Ingestor[] = [];
afterEach(async () => {
  for (const i of running.splice(0)) await i.stop();
});

function setup(over: Partial<IngestOptions> = {}) {
  const rec = new Recorder();
  const directory: DeviceLookup = {
    get: async (id: string) => DEVICES.get(id),
    cached: () => undefined,
    start() {},
    stop() {},
  };
  const ingestor = new Ingestor({
    writer: rec,
    store: rec,
    directory,
    catalogue,
    log: silentLogger,
    profiles: { get: (t) => PROFILES.get(t) },
    options: {
      maxPayloadBytes: 64 * 1024,
      timePolicy: { maxAgeMs: 7 * 24 * 3600e3, maxSkewMs: 300e3 },
      lastSeenFlushMs: 60_000,
      ...over,
    },
  });
  ingestor.start();
  running.push(ingestor);
  return { rec, ingestor };
}

const up = (payload: string | Buffer, over: Partial<Uplink> = {}): Uplink => ({
  device: 'aq-1',
  topic: `sus/v1/devices/aq-1/${over.channel ?? 'up'}`,
  channel: 'up',
  payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
  receivedAt: NOW,
  source: 'mqtt',
  ...over,
});
const TAGS = ',department=environment,device=aq-1,device_type=air_quality,source=mqtt';

describe('Ingestor routes each channel and format to its decoder', () => {
  it('decodes SenML JSON on up/senml, taking the device from the topic, not from the base name', async () => {
    const { rec, ingestor } = setup();
    const pack = '[{"bn":"urn:dev:mac:0024befffe804ff1:","n":"temp","u":"Cel","v":21.5,"t":-10}]';
    expect(await ingestor.handle(up(pack, { channel: 'up/senml' }))).toStrictEqual({ accepted: 1, rejected: [] });
    expect(rec.lines).toStrictEqual([`air_temperature${TAGS} value=21.5 ${NOW - 10_000}`]);
  });

  it('decodes SenML CBOR on up/senml-cbor', async () => {
    const { rec, ingestor } = setup();
    const cbor = Buffer.from(readFileSync(path.join(FIXTURES, 'senml-cbor.hex'), 'utf8').trim(), 'hex');
    expect(await ingestor.handle(up(cbor, { channel: 'up/senml-cbor' }))).toStrictEqual({ accepted: 3, rejected: [] });
    expect(rec.lines).toStrictEqual([
      `air_temperature${TAGS} value=23.5 1764000000000`,
      `air_temperature${TAGS} value=23.75 1764000005000`,
      `co2${TAGS} value=415.0 1764000000000`,
    ]);
  });

  it('takes the device from a TTN payload when the uplink names none and applies the device type profile', async () => {
    const { rec, ingestor } = setup();
    const u = up(readFileSync(path.join(FIXTURES, 'ttn.json')), {
      device: '',
      topic: '/v1/ingest/ttn',
      source: 'http',
    });
    expect(await ingestor.handle(u, { format: 'ttn' })).toStrictEqual({ accepted: 4, rejected: [] });
    const tags = ',department=drainage,device=water-level-7,device_type=water_level_radar,source=http';
    const t = Date.parse('2025-11-24T15:59:58.000Z');
    expect(rec.lines).toStrictEqual([
      `water_level${tags} value=1.23 ${t}`,
      `battery_voltage${tags} value=3.61 ${t}`,
      `rssi${tags} value=-87.0 ${t}`,
      `snr${tags} value=8.25 ${t}`,
    ]);
  });

  it('dead-letters a payload naming another device than the sender with INGEST_DEVICE_MISMATCH', async () => {
    const { rec, ingestor } = setup();
    const payload = readFileSync(path.join(FIXTURES, 'sensor-community.json'));
    const result = await ingestor.handle(up(payload, { channel: 'up/sensor-community' }));
    expect(result).toStrictEqual({
      accepted: 0,
      rejected: [
        {
          code: 'INGEST_DEVICE_MISMATCH',
          message: "the payload names device 'esp8266-15549471', the sender is 'aq-1'",
        },
      ],
      deadLetterId: 1,
    });
    expect(rec.deadLetters.map((d) => [d.device, d.format])).toStrictEqual([['aq-1', 'sensor-community']]);
    expect(rec.lines).toStrictEqual([]);
  });

  it('answers a device of another department like an unknown one and files it under no device (integration keys)', async () => {
    const { rec, ingestor } = setup();
    const u = up(readFileSync(path.join(FIXTURES, 'ttn.json')), {
      device: '',
      topic: '/v1/ingest/ttn',
      source: 'http',
    });
    const result = await ingestor.handle(u, { format: 'ttn', department: 'environment' });
    expect(result.rejected).toStrictEqual([
      {
        code: 'INGEST_UNKNOWN_DEVICE',
        message: "device 'water-level-7' is not a device of department 'environment'",
      },
    ]);
    expect(rec.lines).toStrictEqual([]);
    expect(rec.deadLetters.map((d) => d.device)).toStrictEqual([null]);
  });

  it('dead-letters a payload that names no device when the uplink has none', async () => {
    const { rec, ingestor } = setup();
    const result = await ingestor.handle(up('{"values":{"co2":400}}', { device: '', topic: '/v1/ingest/canonical' }));
    expect(result.rejected).toStrictEqual([
      { code: 'INGEST_UNKNOWN_DEVICE', message: 'neither the topic nor the payload names a device' },
    ]);
    expect(rec.deadLetters.map((d) => d.device)).toStrictEqual([null]);
  });
});

describe('Ingestor time policy and plausibility', () => {
  it('stores a reading whose device time is implausible at the receive time with the time_replaced flag', async () => {
    const { rec, ingestor } = setup();
    await ingestor.handle(up(JSON.stringify({ time: NOW + 3600e3, values: { co2: 400 } })));
    await ingestor.handle(up(JSON.stringify({ values: { co2: 401 } })));
    expect(rec.lines).toStrictEqual([
      `co2${TAGS} value=400.0,flags="time_replaced" ${NOW}`,
      `co2${TAGS} value=401.0 ${NOW}`,
    ]);
    expect(ingestor.stats.flagged).toStrictEqual({ time_replaced: 1 });
    expect(ingestor.stats.timeAdjusted).toStrictEqual(2);
  });

  it('rejects an out-of-range value by default', async () => {
    const { rec, ingestor } = setup();
    const result = await ingestor.handle(up('{"values":{"co2":50000}}'));
    expect(result.rejected.map((r) => r.code)).toStrictEqual(['INGEST_OUT_OF_RANGE']);
    expect(rec.lines).toStrictEqual([]);
  });

  it('stores an out-of-range value with the out_of_range flag when plausibility is flag', async () => {
    const { rec, ingestor } = setup({ plausibility: 'flag' });
    expect(await ingestor.handle(up('{"values":{"co2":50000}}'))).toStrictEqual({ accepted: 1, rejected: [] });
    expect(rec.lines).toStrictEqual([`co2${TAGS} value=50000.0,flags="out_of_range" ${NOW}`]);
  });
});

describe('Ingestor replay', () => {
  it('returns the outcome of a replay without filing a new dead letter or counting a message', async () => {
    const { rec, ingestor } = setup();
    const result = await ingestor.handle(up('{"values":{"foo":1}}'), { replay: true });
    expect(result).toStrictEqual({
      accepted: 0,
      rejected: [
        { code: 'INGEST_UNKNOWN_QUANTITY', message: "'foo' is not a quantity of the catalogue", field: 'values.foo' },
      ],
    });
    expect(rec.deadLetters).toStrictEqual([]);
    expect([ingestor.stats.messages, ingestor.stats.replays, ingestor.stats.deadLetters]).toStrictEqual([0, 1, 0]);
  });
});

describe('Ingestor with field names that are Object.prototype members', () => {
  const oddTags = ',department=environment,device=odd-1,device_type=odd_names,source=mqtt';
  const odd = (payload: string, channel = 'up') =>
    up(payload, { device: 'odd-1', topic: `sus/v1/devices/odd-1/${channel}`, channel });

  it('maps profile fields named constructor and toString, and refuses the unmapped valueOf on its own', async () => {
    const { rec, ingestor } = setup();
    const payload = JSON.stringify({
      values: { constructor: 400, toString: 12, valueOf: 1 },
      units: { toString: 'ug/m3' },
    });
    expect(await ingestor.handle(odd(payload))).toStrictEqual({
      accepted: 2,
      rejected: [
        {
          code: 'INGEST_UNKNOWN_QUANTITY',
          message: "'valueOf' is not a quantity of the catalogue",
          field: 'values.valueOf',
        },
      ],
      deadLetterId: 1,
    });
    expect(rec.lines).toStrictEqual([`co2${oddTags} value=400.0 ${NOW}`, `pm10${oddTags} value=12.0 ${NOW}`]);
  });

  it('refuses sensor.community value types named constructor or x_toString as unknown quantities', async () => {
    const { rec, ingestor } = setup();
    const payload = JSON.stringify({
      esp8266id: 15549471,
      sensordatavalues: [
        { value_type: 'constructor', value: '1' },
        { value_type: 'SDS_toString', value: '2' },
        { value_type: 'SDS_P1', value: '12.5' },
      ],
    });
    const u = up(payload, {
      device: 'esp8266-15549471',
      topic: 'sus/v1/devices/esp8266-15549471/up/sensor-community',
      channel: 'up/sensor-community',
    });
    const result = await ingestor.handle(u);
    expect(result.accepted).toBe(1);
    expect(result.rejected.map((r) => [r.code, r.field])).toStrictEqual([
      ['INGEST_UNKNOWN_QUANTITY', 'sensordatavalues.0.value'],
      ['INGEST_UNKNOWN_QUANTITY', 'sensordatavalues.1.value'],
    ]);
    expect(rec.lines).toStrictEqual([
      `pm10,department=environment,device=esp8266-15549471,device_type=sensor_community,source=mqtt value=12.5 ${NOW}`,
    ]);
  });

  it("refuses a payload naming '__proto__' whole, with the reason, instead of dropping that value unseen", async () => {
    const { rec, ingestor } = setup();
    const result = await ingestor.handle(odd('{"values":{"__proto__":5,"constructor":400}}'));
    expect(result.rejected).toStrictEqual([
      { code: 'INGEST_INVALID_MESSAGE', message: "the name '__proto__' is not allowed in a payload" },
    ]);
    expect(rec.lines).toStrictEqual([]);
  });
});
