import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SusError } from '../../../services/common/errors.ts';
import { silentLogger } from '../../../services/common/logger.ts';
import { refusedLineDeadLetter, splitRefused } from '../../../services/ingest/refused-lines.ts';
import { Spool } from '../../../services/ingest/spool/spool.ts';
import { type LineSender, type RefusedLineStore, SpoolDrainer } from '../../../services/ingest/writer.ts';
import type { NewDeadLetter } from '../../../services/registry/types.ts';
import { eventually } from '../../helpers/env.ts';
import { recordingDeadLetters } from '../../helpers/spool.ts';

const refused = (status: number, reason: string) =>
  new SusError('SUS_ERR_INFLUX_REJECTED', `InfluxDB write failed (${status}): ${reason}`, 502, { status, reason });

/**
 * A stand-in for InfluxDB's write endpoint. `whole`: InfluxDB 2.x, which refuses a request with any bad line and
 * stores nothing of it; `partial`: 1.x, which stores the good lines and answers 400 "partial write". Lines holding
 * `BAD` are bad; requests of more than `maxLines` lines are too large (413).
 */
class FakeInflux implements LineSender {
  readonly stored = new Map<string, number>();
  requests = 0;
  down = false;
  constructor(
    private readonly mode: 'whole' | 'partial',
    private readonly maxLines = Number.POSITIVE_INFINITY,
  ) {}
  async send(body: Buffer): Promise<void> {
    this.requests++;
    if (this.down) throw new SusError('SUS_ERR_INFLUX_UNAVAILABLE', 'InfluxDB is unreachable', 503);
    const lines = body.toString().split('\n');
    if (lines.length > this.maxLines) throw refused(413, 'Request Entity Too Large');
    const bad = lines.filter((l) => l.includes('BAD'));
    if (bad.length > 0 && this.mode === 'whole') throw refused(400, `unable to parse '${bad[0]}'`);
    for (const l of lines) if (!l.includes('BAD')) this.stored.set(l, (this.stored.get(l) ?? 0) + 1);
    if (bad.length > 0) throw refused(400, `partial write: field type conflict dropped=${bad.length}`);
  }
}

const batchOf = (n: number, bad: number[]) =>
  Array.from({ length: n }, (_, i) =>
    bad.includes(i)
      ? `pm10,department=env,device=aq-${i},source=mqtt value="BAD" ${i}`
      : `pm10,department=env,device=aq-${i},source=mqtt value=${i}.5 ${i}`,
  );

describe('splitRefused: a batch InfluxDB refused is halved until every line is written or refused alone', () => {
  for (const mode of ['whole', 'partial'] as const) {
    it(`writes the 4,998 good lines of 5,000 and names the two bad ones (InfluxDB ${mode === 'whole' ? '2.x' : '1.x'})`, async () => {
      const lines = batchOf(5000, [137, 4321]);
      const influx = new FakeInflux(mode);
      await influx.send(Buffer.from(lines.join('\n'))).catch(() => undefined);
      const first = refused(400, 'first answer');
      const out = await splitRefused(lines, first, (b) => influx.send(b));
      expect(out.written).toBe(4998);
      expect(out.refused.map((r) => [r.index, r.line, r.status])).toStrictEqual([
        [137, lines[137], 400],
        [4321, lines[4321], 400],
      ]);
      expect(new Set(influx.stored.keys())).toStrictEqual(new Set(lines.filter((_, i) => i !== 137 && i !== 4321)));
      // Two bad lines among 5,000: about 2·2·log2(5000) ≈ 50 requests, not one per line.
      expect(out.requests).toBeLessThanOrEqual(52);
    });
  }

  it('keeps InfluxDB reason of the line refused alone', async () => {
    const lines = batchOf(4, [2]);
    const out = await splitRefused(lines, refused(400, 'x'), (b) => new FakeInflux('whole').send(b));
    expect(out.refused).toStrictEqual([
      { index: 2, line: lines[2], status: 400, reason: `unable to parse '${lines[2]}'` },
    ]);
  });

  it('refuses a one-line batch with the first answer, without sending it again', async () => {
    const influx = new FakeInflux('whole');
    const out = await splitRefused(['m BAD=1 1'], refused(422, 'beyond retention'), (b) => influx.send(b));
    expect(out).toStrictEqual({
      written: 0,
      refused: [{ index: 0, line: 'm BAD=1 1', status: 422, reason: 'beyond retention' }],
      requests: 0,
    });
    expect(influx.requests).toBe(0);
  });

  it('splits a batch too large for InfluxDB (413) until the parts fit, refusing nothing', async () => {
    const lines = batchOf(1000, []);
    const influx = new FakeInflux('whole', 300);
    const out = await splitRefused(lines, refused(413, 'too large'), (b) => influx.send(b));
    expect(out.written).toBe(1000);
    expect(out.refused).toStrictEqual([]);
    expect(new Set(influx.stored.keys())).toStrictEqual(new Set(lines));
  });

  it('throws when InfluxDB becomes unavailable during the split (the caller retries the batch)', async () => {
    const influx = new FakeInflux('whole');
    influx.down = true;
    await expect(splitRefused(batchOf(10, [3]), refused(400, 'x'), (b) => influx.send(b))).rejects.toMatchObject({
      code: 'SUS_ERR_INFLUX_UNAVAILABLE',
    });
  });
});

describe('refusedLineDeadLetter', () => {
  it('files the line under the device and source of its tags, with the reason', () => {
    const at = new Date(5);
    const line = 'pm10,department=env,device=aq\\ 1\\,x,source=mqtt:ttn value="x" 5';
    expect(refusedLineDeadLetter({ index: 0, line, status: 400, reason: 'field type conflict' }, at)).toStrictEqual({
      source: 'mqtt:ttn',
      topic: null,
      device: 'aq 1,x',
      reasons: [{ code: 'INGEST_INFLUX_REFUSED', message: 'InfluxDB refused the line (400): field type conflict' }],
      payload: Buffer.from(line),
      receivedAt: at,
      format: 'line-protocol',
    });
    expect(
      refusedLineDeadLetter({ index: 0, line: 'sus_spool depth=x 5', status: 400, reason: 'r' }, at),
    ).toMatchObject({ source: 'influxdb', device: null });
  });
});

describe('SpoolDrainer with an InfluxDB that refuses whole batches (2.x)', () => {
  const dirs: string[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const start = async (influx: FakeInflux, store: RefusedLineStore) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sus-refused-test-'));
    dirs.push(dir);
    const spool = new Spool({ dir, maxBytes: 1 << 30 }, silentLogger);
    await spool.open();
    cleanups.push(() => spool.close());
    const drainer = new SpoolDrainer(
      spool,
      influx,
      { batchSize: 5000, lingerMs: 10, retryMinMs: 10, retryMaxMs: 20 },
      silentLogger,
      store,
    );
    drainer.start();
    cleanups.push(() => drainer.stop());
    return { spool, drainer };
  };

  it('stores every good line of a 5,000-line batch and dead-letters the bad one: nothing else lost', async () => {
    const influx = new FakeInflux('whole');
    const { filed, store } = recordingDeadLetters();
    const { spool, drainer } = await start(influx, store);
    const lines = batchOf(5000, [2500]);
    await drainer.write(lines);
    await eventually(
      async () => spool.depth,
      (d) => d === 0,
    );
    expect(influx.stored.size).toBe(4999);
    expect(filed.map((d) => [d.device, d.payload.toString(), d.reasons[0]!.code])).toStrictEqual([
      ['aq-2500', lines[2500], 'INGEST_INFLUX_REFUSED'],
    ]);
    expect(drainer.stats).toStrictEqual({ written: 4999, batches: 1, failures: 0, refused: 1 });
  });

  it('keeps the batch in the spool while the dead-letter store is down, and files each refused line once', async () => {
    const influx = new FakeInflux('whole');
    const filed: NewDeadLetter[] = [];
    let storeDown = true;
    const { spool, drainer } = await start(influx, {
      addDeadLetter: async (d) => {
        if (storeDown && filed.length === 1) throw new Error('registry down');
        filed.push(d);
        return filed.length;
      },
    });
    await drainer.write(batchOf(100, [10, 90]));
    await eventually(
      async () => drainer.stats.failures,
      (n) => n >= 2,
    );
    // The first bad line is filed, the second is not: the batch must not leave the spool.
    expect(spool.depth).toBe(100);
    storeDown = false;
    await eventually(
      async () => spool.depth,
      (d) => d === 0,
    );
    expect(filed.map((d) => d.device)).toStrictEqual(['aq-10', 'aq-90']);
    expect(influx.stored.size).toBe(98);
    expect(drainer.stats.refused).toBe(2);
    expect(drainer.stats.written).toBe(98);
  });
});
