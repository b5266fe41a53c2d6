import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogue } from '../../../services/common/catalogue.ts';
import { loadConfig } from '../../../services/common/config.ts';
import { silentLogger } from '../../../services/common/logger.ts';
import { FORMATS } from '../../../services/ingest/decoders/index.ts';
import { DeviceDirectory } from '../../../services/ingest/device-directory.ts';
import { Ingestor, type IngestResult, ingestorExtras } from '../../../services/ingest/ingestor.ts';
import type { PointWriter } from '../../../services/ingest/writer.ts';
import { openRegistry, type Registry } from '../../../services/registry/index.ts';

/**
 * Property: whatever arrives (random bytes, random JSON, mutated golden payloads, structurally valid messages with
 * hostile values), the real Ingestor never throws, and every message is accounted for: it is either fully
 * accepted or it has a dead-letter entry in the real registry (PGlite in memory).
 */
const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures/decoders');
const GOLDEN = readdirSync(FIXTURES).map((f) => {
  const text = readFileSync(path.join(FIXTURES, f), 'utf8');
  return f.endsWith('.hex') ? Buffer.from(text.trim(), 'hex') : Buffer.from(text);
});

class RecordingWriter implements PointWriter {
  lines = 0;
  async write(lines: string[]): Promise<void> {
    this.lines += lines.length;
  }
  async flush(): Promise<void> {}
}

const mutate = (buf: Buffer, at: number, kind: number, byte: number): Buffer => {
  const i = buf.length === 0 ? 0 : at % buf.length;
  if (kind === 0) return buf.subarray(0, i); // truncated
  const out = Buffer.from(buf);
  if (kind === 1 && out.length > 0) out[i] = byte; // one byte replaced
  if (kind === 2) return Buffer.concat([out.subarray(0, i), Buffer.from([byte]), out.subarray(i)]); // one inserted
  return out;
};

const hostileValue = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.string({ maxLength: 8 }),
  fc.constant(null),
  fc.boolean(),
  fc.constant(Number.NaN),
  fc.array(fc.integer(), { maxLength: 2 }),
);
const name = fc.oneof(
  fc.constantFrom(...catalogue.names(), 'temp', 'PM2.5', 'rssi', 'water_level_cm'),
  fc.string({ maxLength: 6 }),
);

const payload = fc.oneof(
  fc.uint8Array({ maxLength: 256 }).map((a) => Buffer.from(a)),
  fc.json({ maxDepth: 3 }).map((j) => Buffer.from(j)),
  fc
    .tuple(fc.constantFrom(...GOLDEN), fc.nat(), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 255 }))
    .map(([g, at, kind, byte]) => mutate(g, at, kind, byte)),
  fc
    .record({
      time: fc.oneof(fc.constant(undefined), fc.integer(), fc.string({ maxLength: 10 }), fc.double()),
      values: fc.dictionary(name, hostileValue, { maxKeys: 5 }),
      units: fc.option(fc.dictionary(name, fc.constantFrom('K', 'hPa', 'cm', 'furlong', '°F', ''), { maxKeys: 2 })),
    })
    .map((m) => Buffer.from(JSON.stringify(m))),
  fc
    .array(
      fc.record({ n: name, v: hostileValue, t: fc.option(fc.double()), u: fc.option(fc.string({ maxLength: 4 })) }),
      {
        maxLength: 4,
      },
    )
    .map((p) => Buffer.from(JSON.stringify(p))),
);

const channel = fc.oneof(
  fc.constantFrom('up', ...FORMATS.filter((f) => f !== 'canonical').map((f) => `up/${f}`)),
  fc.string({ maxLength: 8 }),
);

let registry: Registry;
let ingestor: Ingestor;
const writer = new RecordingWriter();

beforeAll(async () => {
  const config = loadConfig({ SUS_DATA_DIR: 'memory://' });
  registry = await openRegistry(config);
  await registry.createDepartment({ id: 'environment', name: 'Environment' });
  await registry.createDevice({ id: 'aq-1', name: 'AQ', department: 'environment', type: 'air_quality' });
  await registry.createDevice({
    id: 'water-level-7',
    name: 'WL',
    department: 'environment',
    type: 'water_level_radar',
  });
  const extras = ingestorExtras(config, registry);
  ingestor = new Ingestor({
    writer,
    directory: new DeviceDirectory(registry),
    store: extras.store,
    profiles: extras.profiles,
    catalogue,
    log: silentLogger,
    options: {
      maxPayloadBytes: 4096,
      timePolicy: { maxAgeMs: 7 * 24 * 3600e3, maxSkewMs: 300e3 },
      plausibility: 'reject',
      lastSeenFlushMs: 60_000,
    },
  });
  ingestor.start();
});

afterAll(async () => {
  await ingestor?.stop();
  await registry?.close();
});

describe('ingest pipeline property', () => {
  it('never throws on random and mutated payloads, and accepted + dead-lettered = received', async () => {
    let received = 0;
    let accepted = 0;
    let deadLettered = 0;
    let acceptedReadings = 0;
    await fc.assert(
      fc.asyncProperty(payload, channel, fc.constantFrom('aq-1', 'water-level-7', 'ghost', ''), async (p, ch, dev) => {
        received++;
        const r: IngestResult = await ingestor.handle({
          device: dev,
          topic: `sus/v1/devices/${dev}/${ch}`,
          channel: ch,
          payload: p,
          receivedAt: Date.now(),
          source: 'mqtt',
        });
        acceptedReadings += r.accepted;
        if (r.rejected.length === 0) {
          // Fully accepted: at least one reading, no dead letter.
          expect(r.accepted).toBeGreaterThan(0);
          expect(r.deadLetterId).toBeUndefined();
          accepted++;
        } else {
          expect(r.deadLetterId).toEqual(expect.any(Number));
          deadLettered++;
        }
      }),
      { numRuns: 200, seed: Number(process.env.FC_SEED ?? 4242) },
    );
    expect(accepted + deadLettered).toBe(received);
    expect(ingestor.stats.messages).toBe(received);
    expect(ingestor.stats.deadLetters).toBe(deadLettered);
    expect(writer.lines).toBe(acceptedReadings);
    const [row] = await registry.db.query<{ n: number }>('SELECT count(*)::int AS n FROM dead_letters');
    expect(row!.n).toBe(deadLettered);
  });
});
