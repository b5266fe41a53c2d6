import { encode as cbor } from 'cborg';
import { catalogue } from '../../services/common/catalogue.ts';
import { FORMATS, type Format } from '../../services/ingest/decoders/index.ts';
import { HOSTILE_STRINGS } from './http-cases.ts';
import type { Rng } from './rng.ts';

/**
 * Seeded MQTT publish payloads for every uplink channel ingest decodes (`up` canonical JSON, `up/{format}` for each
 * other format of the decoders, plus channels no decoder serves) and the `ack` channel: valid messages, messages
 * with one hostile field or key, broken structure, broken bytes and adversarial sizes.
 */

/** The device a format names itself by, where the payload carries an identity (TTN, ChirpStack, sensor.community). */
export interface FuzzDevices {
  /** Sends canonical JSON, SenML and TTN (device_id = this id). */
  plain: string;
  /** ChirpStack: the id is the DevEUI in lower case. */
  devEui: string;
  /** sensor.community: `esp8266-<chip id>`. */
  esp: string;
}

export interface PayloadCase {
  device: string;
  channel: string;
  payload: Buffer;
  /** How the payload was made, for the failure report. */
  what: string;
}

/** Every channel a device may publish on that ingest takes: the decoders' formats and some no decoder serves. */
export const UPLINK_CHANNELS: readonly string[] = [
  ...FORMATS.map((f) => (f === 'canonical' ? 'up' : `up/${f}`)),
  'up/xml',
  'up/',
  'up/senml/extra',
];
const formatOf = (channel: string): Format | undefined =>
  channel === 'up'
    ? 'canonical'
    : (FORMATS as readonly string[]).includes(channel.slice(3))
      ? (channel.slice(3) as Format)
      : undefined;

const QUANTITIES = catalogue.names();
/** Device names a payload may carry that no registered device can have. */
const HOSTILE_IDS = ['\u0000', 'a\u0000b', 'x'.repeat(65), '', 'A-B', 'fz-dev\n', '../x', '\ud800'];
const HOSTILE_KEYS = [
  'a\u0000b',
  '__proto__',
  'constructor',
  'toString',
  'x\npm2_5',
  'x y,z=1',
  '',
  'k'.repeat(300),
  '\ud800',
];

function quantityName(rng: Rng): string {
  if (rng.chance(0.8)) return rng.pick(QUANTITIES);
  if (rng.chance(0.5)) return rng.pick(['PM2.5', 'temp', 'hum', 'unknown_thing', 'warp_speed']);
  return rng.pick(HOSTILE_KEYS);
}

function value(rng: Rng): unknown {
  if (rng.chance(0.75)) return Math.round(rng.next() * 400 * 100) / 100 - 50;
  return rng.pick<unknown>([null, true, '12.5', 'NaN', [], {}, 1e308, -1e308, 2 ** 53 + 1, 'x'.repeat(500), -0]);
}

function time(rng: Rng, now: number): unknown {
  if (rng.chance(0.6)) return now - rng.int(3600_000);
  return rng.pick<unknown>([
    new Date(now).toISOString(),
    '2024-02-30T00:00:00Z',
    '0000-00-00T00:00:00Z',
    0,
    -1,
    1e20,
    now + 86_400_000,
    now - 30 * 86_400_000,
    'yesterday',
    null,
    [],
  ]);
}

function values(rng: Rng): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const n = 1 + rng.int(4);
  for (let i = 0; i < n; i++) out[quantityName(rng)] = value(rng);
  return out;
}

/** A message of the format the device could well send (some of its parts made odd by the seed). */
function message(format: Format, devices: FuzzDevices, rng: Rng, now: number): unknown {
  switch (format) {
    case 'canonical': {
      const one = () => ({ time: time(rng, now), seq: rng.int(1e6), values: values(rng) });
      return rng.chance(0.15) ? Array.from({ length: 1 + rng.int(5) }, one) : one();
    }
    case 'senml':
    case 'senml-cbor':
      return [
        { bn: `${devices.plain}:`, bt: (now - rng.int(60_000)) / 1000, n: quantityName(rng), v: value(rng) },
        ...Array.from({ length: rng.int(4) }, () => ({ n: quantityName(rng), v: value(rng), t: -rng.int(60) })),
      ];
    case 'ttn':
      return {
        end_device_ids: { device_id: rng.chance(0.8) ? devices.plain : rng.pick(HOSTILE_IDS) },
        received_at: new Date(now).toISOString(),
        uplink_message: { decoded_payload: values(rng), rx_metadata: [{ rssi: -80 - rng.int(40), snr: rng.int(10) }] },
      };
    case 'chirpstack':
      return {
        time: new Date(now).toISOString(),
        deviceInfo: { devEui: rng.chance(0.9) ? devices.devEui : rng.pick(['zz', '00112233445566778899', '\u0000']) },
        object: values(rng),
        rxInfo: [{ rssi: -90, snr: 5 }],
      };
    case 'sensor-community':
      return {
        esp8266id: rng.chance(0.9) ? devices.esp.slice('esp8266-'.length) : rng.pick(['x', -1, '9'.repeat(30)]),
        software_version: 'NRZ-2020-133',
        sensordatavalues: Array.from({ length: 1 + rng.int(4) }, () => ({
          value_type: rng.pick([
            'SDS_P1',
            'SDS_P2',
            'BME280_temperature',
            'BME280_humidity',
            'signal',
            'samples',
            'weird',
          ]),
          value: rng.chance(0.8) ? String(value(rng)) : rng.pick(['', '1'.repeat(2000), '1e999', ' 12 ', '--1']),
        })),
      };
  }
}

/** Replaces one value somewhere in the document with a hostile one, or adds a hostile key. */
function mutateJson(doc: unknown, rng: Rng): unknown {
  if (doc === null || typeof doc !== 'object') return rng.pick(HOSTILE_STRINGS);
  const copy: Record<string, unknown> | unknown[] = Array.isArray(doc) ? [...doc] : { ...(doc as object) };
  const keys = Object.keys(copy);
  if (keys.length === 0 || rng.chance(0.25)) {
    (copy as Record<string, unknown>)[rng.pick(HOSTILE_KEYS)] = value(rng);
    return copy;
  }
  const key = rng.pick(keys);
  const child = (copy as Record<string, unknown>)[key];
  (copy as Record<string, unknown>)[key] =
    child !== null && typeof child === 'object' && rng.chance(0.6)
      ? mutateJson(child, rng)
      : rng.pick<unknown>([...HOSTILE_STRINGS.slice(0, 20), null, true, 1e308, [], {}, [[[]]], -1]);
  return copy;
}

/** CBOR the decoder must survive: deep nesting, absurd declared lengths, tags, simple values, non-string keys. */
const HOSTILE_CBOR: readonly Buffer[] = [
  Buffer.concat([Buffer.alloc(5000, 0x81), Buffer.from([0x00])]),
  Buffer.from([0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
  Buffer.from([0x7b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x61]),
  Buffer.from([0xbf, 0x61, 0x6e, 0x61, 0x78, 0xff]),
  Buffer.from([0x9f, 0x9f, 0x9f, 0xff]),
  Buffer.from([0xc2, 0x49, 0x01, 0, 0, 0, 0, 0, 0, 0, 0]),
  Buffer.from([0x81, 0xa1, 0x01, 0x02]),
  Buffer.from([0x81, 0xa2, 0x61, 0x6e, 0x61, 0x78, 0x61, 0x6e, 0x61, 0x79]),
  Buffer.from([0xf7]),
  Buffer.from([0xf9, 0x7e, 0x00]),
  Buffer.from([0xff]),
  Buffer.from([0x1c]),
];

function mutateBytes(buf: Buffer, rng: Rng): Buffer {
  const out = Buffer.from(buf);
  switch (rng.int(5)) {
    case 0:
      return out.subarray(0, rng.int(out.length + 1));
    case 1:
      for (let i = 0; i < 1 + rng.int(4) && out.length > 0; i++) out[rng.int(out.length)] = rng.int(256);
      return out;
    case 2:
      return Buffer.concat([
        out.subarray(0, Math.floor(out.length / 2)),
        Buffer.from([0]),
        out.subarray(Math.floor(out.length / 2)),
      ]);
    case 3:
      return Buffer.concat([out, Buffer.from([0xc3, 0x28, 0xff, 0xfe])]);
    default:
      return rng.bytes(rng.int(256));
  }
}

const encodeFor = (format: Format | undefined, doc: unknown): Buffer =>
  format === 'senml-cbor' ? Buffer.from(cbor(doc)) : Buffer.from(JSON.stringify(doc) ?? 'null', 'utf8');

/** A payload at most `maxBytes` long for `channel`, from the seed. */
export function payloadFor(
  channel: string,
  devices: FuzzDevices,
  rng: Rng,
  now: number,
  maxBytes: number,
): { payload: Buffer; what: string } {
  const format = formatOf(channel) ?? rng.pick(FORMATS);
  const doc = message(format, devices, rng, now);
  const mode = rng.int(20);
  let payload: Buffer;
  let what: string;
  if (mode < 5) {
    payload = encodeFor(format, doc);
    what = 'valid shape';
  } else if (mode < 11) {
    const mutated = mutateJson(doc, rng);
    try {
      payload = encodeFor(format, mutated);
    } catch {
      payload = Buffer.from(JSON.stringify(mutated) ?? 'null');
    }
    what = 'one hostile field or key';
  } else if (mode < 14) {
    payload = mutateBytes(encodeFor(format, doc), rng);
    what = 'broken bytes';
  } else if (mode < 16) {
    payload = Buffer.from(
      rng.pick([
        `${'['.repeat(5000)}${']'.repeat(5000)}`,
        `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`,
        `{"values":{"pm2_5":${'9'.repeat(2000)}}}`,
        '{"values":{"pm2_5":1e999999}}',
        `{"values":{${Array.from({ length: 5000 }, (_, i) => `"k${i}":${i}`).join(',')}}}`,
        `[${Array.from({ length: 5000 }, () => '{"values":{"pm2_5":1}}').join(',')}]`,
        '',
        'null',
        '"just a string"',
        '{"values":{"pm2_5":1},"values":{"pm10":2}}',
        '{"values":{"pm2_5":1}}\u0000garbage',
        '\ufeff{"values":{"pm2_5":1}}',
      ]),
    );
    what = 'adversarial structure';
  } else if (mode < 17 && format === 'senml-cbor') {
    payload = rng.pick(HOSTILE_CBOR);
    what = 'hostile CBOR';
  } else if (mode < 18) {
    // Near the size limit: a long but well-formed message.
    const big = {
      values: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`${rng.pick(QUANTITIES)}_${i}`, i])),
    };
    payload = encodeFor(format, big);
    what = 'large message';
  } else {
    payload = rng.bytes(rng.int(1024));
    what = 'random bytes';
  }
  if (payload.length > maxBytes) payload = payload.subarray(0, maxBytes);
  return { payload, what };
}

/** Device answers on `ack`: JSON with odd command ids, versions and statuses, or anything else. */
export function ackPayload(rng: Rng): Buffer {
  const doc = {
    command: rng.pick<unknown>([1, 2 ** 31, 2 ** 53 - 1, -1, 1.5, '1', null]),
    config: rng.pick<unknown>([1, 2 ** 31, 2 ** 53 - 1, 0, '2']),
    status: rng.pick<unknown>(['ok', 'error', 'a\u0000b', 'x'.repeat(100), 7]),
  };
  if (rng.chance(0.7)) return Buffer.from(JSON.stringify(doc));
  return rng.chance(0.5) ? Buffer.from(`${rng.pick(HOSTILE_STRINGS)}`) : rng.bytes(rng.int(300));
}
