import { encode as cborEncode } from 'cborg';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { catalogue } from '../../../../services/common/catalogue.ts';
import { loadConfig } from '../../../../services/common/config.ts';
import { silentLogger } from '../../../../services/common/logger.ts';
import { DECODERS, FORMATS, type Format } from '../../../../services/ingest/decoders/index.ts';
import { Ingestor } from '../../../../services/ingest/ingestor.ts';
import { type NormaliseOptions, normaliseDecoded } from '../../../../services/ingest/normalise.ts';
import { parseProfile } from '../../../../services/ingest/profiles.ts';
import type { Device } from '../../../../services/registry/types.ts';
import { Recorder } from '../recorder.ts';

/**
 * Property: every decoder, followed by a device profile and the normaliser, handles any payload up to
 * SUS_MAX_PAYLOAD_BYTES in time linear in its size, and never throws. Each payload goes to every format (a device
 * chooses the channel), at growing sizes, so a quadratic pattern fails at the first size where it shows.
 */
const MAX = loadConfig({}).SUS_MAX_PAYLOAD_BYTES;
const KIB = 1024;
const SIZES = [4 * KIB, 32 * KIB, MAX];
// The budget (CPU time) for the fastest of three runs. Measured on the loaded 2-core machine: at most ~0.4 ms/KiB (deep JSON,
// many keys); the backtracking number pattern this replaced took ~40 ms/KiB at 32 KiB and 50 s at 200,000 digits.
const BASE_MS = 50;
const MS_PER_KIB = 4;

const NOW = 1_764_000_000_000;
const OPTS: NormaliseOptions = { timePolicy: { maxAgeMs: 7 * 24 * 3600e3, maxSkewMs: 300e3 }, plausibility: 'flag' };
const PROFILE = parseProfile(
  {
    type: 'odd_names',
    fields: {
      constructor: { quantity: 'co2' },
      toString: { quantity: 'pm10', scale: 0.1 },
      k1: { quantity: 'air_temperature', unit: 'Cel' },
    },
    ignore: ['hasOwnProperty', 'k2'],
  },
  'inline',
  catalogue,
);

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
/** A string of about `n` characters cycling through `alphabet`. */
const run = (alphabet: string, n: number) => alphabet.repeat(Math.ceil(n / alphabet.length)).slice(0, n);
const CONTROLS = String.fromCharCode(...Array.from({ length: 32 }, (_, i) => i), 0x7f);

/** The envelopes of every format around one value, so each decoder reaches the value and not only its parser. */
const envelopes = (value: unknown, name = 'pm10'): Array<() => Buffer> => [
  () => json({ time: NOW, values: { [name]: value } }),
  () => json([{ bn: 'aq-1:', n: name, vs: value, v: 1 }]),
  () => json({ end_device_ids: { device_id: 'aq-1' }, uplink_message: { decoded_payload: { [name]: value } } }),
  () => json({ deviceInfo: { devEui: '0011223344556677' }, object: { [name]: value } }),
  () => json({ esp8266id: '1', sensordatavalues: [{ value_type: 'SDS_P1', value }] }),
];

/** Payload builders by a size parameter `k` (a length or a count); {@link sized} finds the `k` for a byte size. */
type Builder = (k: number) => Buffer;
const around = (value: (k: number) => unknown, name?: (k: number) => string): Builder[] =>
  envelopes(0).map((_, i) => (k: number) => envelopes(value(k), name?.(k))[i]!());

const built = new Map<Builder, Map<number, Buffer>>();

/**
 * The payload of `build` for a `k` that brings it close to `n` bytes without passing it: payload size grows about
 * linearly with `k`, so two probes give the slope; remembered, as the property asks for the same sizes again.
 */
function sized(build: Builder, n: number): Buffer {
  const memo = built.get(build) ?? new Map<number, Buffer>();
  built.set(build, memo);
  const hit = memo.get(n);
  if (hit) return hit;
  const b1 = build(16).length;
  const slope = Math.max(1, (build(1024).length - b1) / 1008);
  let k = Math.max(0, Math.floor(16 + (n - b1) / slope));
  let payload = build(k);
  while (payload.length > n && k > 0) {
    k = Math.floor(k * Math.min(0.99, n / payload.length));
    payload = build(k);
  }
  memo.set(n, payload);
  return payload;
}

const nested = (k: number) => `${'['.repeat(k)}${']'.repeat(k)}`;
const keys = (k: number) => Object.fromEntries(Array.from({ length: k }, (_, i) => [`k${i}`, i]));

/** Adversarial payloads, by the class of trouble they make. */
const SHAPES: Record<string, Builder[]> = {
  'long digit run then x': around((k) => `${run('1', k)}x`),
  'long digit run with a decimal point': around((k) => `${run('1', k)}.${run('1', k)}e`),
  'long digit run as a JSON number': [
    (k) => Buffer.from(`{"values":{"pm10":${run('9', k)}}}`),
    (k) => Buffer.from(`{"esp8266id":${run('9', k)},"sensordatavalues":[{"value_type":"P1","value":"1"}]}`),
    (k) => Buffer.from(`[{"n":"pm10","v":0.${run('1', k)}e-${run('9', k)}}]`),
  ],
  'long time string': [(k) => json({ time: `2025-11-24T16:00:00${run('0', k)}Z`, values: { pm10: 1 } })],
  'deep nesting, bare': [(k) => Buffer.from(nested(k)), (k) => Buffer.from(`${'{"a":'.repeat(k)}1${'}'.repeat(k)}`)],
  'deep nesting inside a value': [
    ...envelopes('@').map((env) => (k: number) => Buffer.from(env().toString().replace('"@"', nested(k)))),
    (k) => Buffer.from(`[{"bver":${nested(k)}}]`),
  ],
  'huge array': [
    (k) => Buffer.from(`[${run('1,', 2 * k)}1]`),
    (k) => json(Array.from({ length: k }, (_, i) => ({ values: { pm10: i } }))),
    (k) => json(Array.from({ length: k }, (_, i) => ({ n: `aq-1:p${i}`, v: i }))),
    (k) =>
      json({ esp8266id: '1', sensordatavalues: Array.from({ length: k }, () => ({ value_type: 'P1', value: '1' })) }),
    (k) => {
      const rx = Array.from({ length: k }, (_, i) => ({ rssi: -i }));
      return json({
        end_device_ids: { device_id: 'aq-1' },
        uplink_message: { decoded_payload: { pm10: 1 }, rx_metadata: rx },
      });
    },
  ],
  'many distinct keys': [
    (k) => json({ values: keys(k) }),
    (k) => json({ end_device_ids: { device_id: 'aq-1' }, uplink_message: { decoded_payload: keys(k) } }),
    (k) => json({ deviceInfo: { devEui: '0011223344556677' }, object: keys(k) }),
    (k) => json([{ n: 'pm10', v: 1, ...keys(k) }]),
  ],
  'separators in names': [
    (k) => json([{ bn: run(':/', k), n: 'pm10', v: 1 }]),
    (k) => json([{ n: `${run('a:', k)}/`, v: 1 }]),
    (k) => json({ values: { [run('a:/', Math.min(k, 60))]: 1 } }),
  ],
  'control characters': [
    ...around(
      (k) => run(CONTROLS, k),
      () => `pm${CONTROLS}10`,
    ),
    (k) => Buffer.from(run(`\u0000\u0001\n\r${CONTROLS}`, k)),
    (k) =>
      json({
        values: Object.fromEntries(
          Array.from({ length: Math.min(k, 64) }, (_, i) => [`${CONTROLS.slice(i % 33)}${i}`, i]),
        ),
      }),
  ],
  'a long base field over many records': [
    (k) => json([{ bn: `${run('a', k)}:`, n: 'x', v: 1 }, ...Array.from({ length: 999 }, () => ({ n: 'x', v: 1 }))]),
    (k) => json([{ bn: `${run('a', k)}!`, n: 'x', v: 1 }, ...Array.from({ length: 999 }, () => ({ n: 'x', v: 1 }))]),
    (k) => json([{ bn: run('a', k), n: 'x', v: 1 }, ...Array.from({ length: 999 }, () => ({ n: 'x', v: 1 }))]),
    (k) => json([{ bu: run('u', k), n: 'pm10', v: 1 }, ...Array.from({ length: 999 }, () => ({ n: 'pm10', v: 1 }))]),
  ],
  'long units and names': [
    (k) => json({ values: { pm10: 1 }, units: { pm10: run(' ', k) } }),
    (k) => json([{ n: run('a', k), u: 'Cel', v: 1 }]),
    (k) => json({ end_device_ids: { device_id: run('d', k) }, uplink_message: { decoded_payload: { pm10: 1 } } }),
  ],
  CBOR: [
    (k) => Buffer.alloc(k, 0x81), // an array holding an array holding …
    (k) => Buffer.concat([Buffer.alloc(k, 0x9f), Buffer.from([0xff])]), // indefinite-length arrays
    (k) =>
      Buffer.from(
        cborEncode(
          Array.from(
            { length: k },
            (_, i) =>
              new Map<number, unknown>([
                [0, `p${i}`],
                [2, i],
              ]),
          ),
        ),
      ),
    (k) => Buffer.from(cborEncode([new Map(Array.from({ length: k }, (_, i) => [i + 100, i]))])),
    (k) =>
      Buffer.from(
        cborEncode([
          new Map<number | string, unknown>([
            [0, run('a:', k)],
            [2, 1],
            ['__proto__', 1],
          ]),
        ]),
      ),
    () => Buffer.from([0x9a, 0x7f, 0xff, 0xff, 0xff, 0x01]), // declares 2^31 elements, holds one
  ],
};

function decodeAndNormalise(format: Format, payload: Buffer): void {
  const d = DECODERS[format](payload, { receivedAt: NOW });
  if (d.ok) normaliseDecoded(d.value, d.value.device ?? 'aq-1', PROFILE, NOW, catalogue, OPTS);
}

/** CPU milliseconds this process spent since `from` (user + system). */
const cpuMsSince = (from: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
};

/**
 * Fastest of up to three runs, in CPU ms of this process: wall time on a machine whose cores are shared with the
 * rest of the suite measures the neighbours, CPU time measures the decoder. A run within budget ends the trial early.
 */
function fastest(format: Format, payload: Buffer, budget: number): number {
  let best = Number.POSITIVE_INFINITY;
  for (let attempt = 0; attempt < 3 && best > budget; attempt++) {
    const t = process.cpuUsage();
    decodeAndNormalise(format, payload);
    best = Math.min(best, cpuMsSince(t));
    // Far beyond the budget: no use repeating a quadratic run.
    if (best > 10 * budget) break;
  }
  return best;
}

describe('decoders under adversarial payloads', () => {
  for (const [shape, builders] of Object.entries(SHAPES)) {
    it(`${shape}: every format answers in linear time and never throws, up to ${MAX / KIB} KiB`, () => {
      for (const size of SIZES) {
        for (const build of builders) {
          const payload = sized(build, size);
          expect(payload.length).toBeLessThanOrEqual(MAX);
          const budget = BASE_MS + MS_PER_KIB * (payload.length / KIB);
          for (const format of FORMATS) {
            const ms = fastest(format, payload, budget);
            expect({ shape, size, format, bytes: payload.length, ms: Math.round(ms) }).toStrictEqual({
              shape,
              size,
              format,
              bytes: payload.length,
              ms: ms <= budget ? Math.round(ms) : `≤ ${budget} ms`,
            });
          }
        }
      }
    });
  }
});

const device = (id: string): Device => ({
  id,
  name: id,
  department: 'environment',
  type: 'odd_names',
  district: null,
  lat: null,
  lon: null,
  createdAt: '2025-01-01T00:00:00.000Z',
  lastSeenAt: null,
});

describe('the Ingestor under adversarial payloads', () => {
  it('accounts for every message with readings or reasons, and nothing throws inside it (no internal error)', async () => {
    const rec = new Recorder();
    const ingestor = new Ingestor({
      writer: rec,
      store: rec,
      // Every device exists: payloads that name one get as far as the profile and the normaliser.
      directory: { get: async (id) => device(id), cached: () => undefined, start() {}, stop() {} },
      catalogue,
      log: silentLogger,
      profiles: { get: () => PROFILE },
      options: {
        maxPayloadBytes: MAX,
        timePolicy: OPTS.timePolicy,
        plausibility: 'flag',
        lastSeenFlushMs: 60_000,
      },
    });
    const shapes = Object.values(SHAPES);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: shapes.length - 1 }),
        fc.constantFrom(...SIZES),
        fc.constantFrom(...FORMATS),
        fc.nat(),
        async (s, size, format, pick) => {
          const builders = shapes[s]!;
          const payload = sized(builders[pick % builders.length]!, size);
          const r = await ingestor.handle(
            { device: '', topic: `/v1/ingest/${format}`, channel: 'up', payload, receivedAt: NOW, source: 'http' },
            { format },
          );
          expect(r.accepted + r.rejected.length).toBeGreaterThan(0);
          expect(r.rejected.filter((x) => x.message.startsWith('internal error'))).toStrictEqual([]);
        },
      ),
      { numRuns: 120, seed: Number(process.env.FC_SEED ?? 1111) },
    );
    expect(ingestor.stats.messages).toBe(120);
  });
});
