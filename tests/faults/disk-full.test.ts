import { rmSync } from 'node:fs';
import path from 'node:path';
import { connectAsync } from 'mqtt';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startPlatform } from '../../services/cli/platform.ts';
import { silentLogger } from '../../services/common/logger.ts';
import { Spool, type SpoolOptions } from '../../services/ingest/spool/spool.ts';
import { SpoolDrainer } from '../../services/ingest/writer.ts';
import { eventually, testConfig } from '../helpers/env.ts';
import { freshSchema } from '../helpers/postgres.ts';
import { readAll, recordingDeadLetters, recordingSender } from '../helpers/spool.ts';
import { fillDisk, keepFull, mountTmpfs } from '../helpers/tmpfs.ts';

const tmpfs = mountTmpfs(1 << 20);
const skip = typeof tmpfs === 'string' ? tmpfs : undefined;
if (skip) console.warn(`disk-full tests skipped: ${skip}`);

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(() => {
  if (typeof tmpfs !== 'string') tmpfs.unmount();
});

let dirs = 0;
/** A spool directory on the tmpfs, deleted after the test (so the next one finds the disk empty). */
const spoolDir = () => {
  if (typeof tmpfs === 'string') throw new Error(tmpfs);
  const dir = path.join(tmpfs.dir, `spool-${++dirs}`);
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

const opened = async (opts: Partial<SpoolOptions> & { dir: string }) => {
  const spool = new Spool({ maxBytes: 1 << 30, ...opts }, silentLogger);
  await spool.open();
  cleanups.push(() => spool.close());
  return spool;
};

describe.skipIf(skip !== undefined)('disk full: the spool on a 1 MiB tmpfs', () => {
  it('does not acknowledge a record that only partly fits on the disk, and loses nothing it acknowledged', async () => {
    const dir = spoolDir();
    const spool = await opened({ dir });
    await spool.append(['first v=1 1']);
    const release = fillDisk(dir);
    cleanups.push(release);
    // The segment's first page has room for the start of this record, not for all of it: a short write.
    await expect(spool.append([`big v=2 ${'2'.repeat(9000)}`])).rejects.toMatchObject({
      code: 'SUS_ERR_SPOOL_WRITE',
      statusCode: 503,
    });
    release();
    await spool.append(['after v=3 3']);
    expect(spool.depth).toBe(2);
    await spool.close();
    const again = await opened({ dir });
    expect([await readAll(again), again.stats.recoveredBytesDropped]).toStrictEqual([
      ['first v=1 1', 'after v=3 3'],
      0,
    ]);
  });

  it.each([
    ['within one segment', 1 << 30],
    ['across 16 KiB segments', 16 << 10],
  ])(
    'takes appends again without a restart once InfluxDB drained what filled the disk (%s)',
    async (_, segmentBytes) => {
      const dir = spoolDir();
      const spool = await opened({ dir, segmentBytes });
      const acked: string[] = [];
      let n = 0;
      const linesOf = (count: number) => Array.from({ length: count }, () => `d,device=x value=${n} ${++n}`);
      // The spool's own records fill the disk (its SUS_SPOOL_MAX_BYTES is larger than the disk).
      for (;;) {
        const lines = linesOf(100);
        const outcome = await spool.append(lines).then(
          () => 'ok',
          (err: { code: string }) => err.code,
        );
        if (outcome !== 'ok') {
          expect(outcome).toBe('SUS_ERR_SPOOL_WRITE');
          break;
        }
        acked.push(...lines);
      }
      expect(acked.length).toBeGreaterThan(10_000);

      // InfluxDB takes the backlog: committing must free the disk although the position file cannot be written first.
      const influx = recordingSender();
      const drainer = new SpoolDrainer(
        spool,
        influx.sender,
        { batchSize: 5000, lingerMs: 20, retryMinMs: 20, retryMaxMs: 50 },
        silentLogger,
        recordingDeadLetters().store,
      );
      drainer.start();
      cleanups.push(() => drainer.stop());
      await eventually(
        async () => spool.depth,
        (d) => d === 0,
      );
      // The first append after the drain may still meet the full disk: it starts the new segment that lets the
      // drained one go. The one after it is taken.
      const later = linesOf(100);
      await eventually(
        () =>
          spool.append(later).then(
            () => true,
            () => false,
          ),
        (ok) => ok,
      );
      await eventually(
        async () => spool.depth,
        (d) => d === 0,
      );
      expect(influx.lines.length).toBe(acked.length + later.length);
      expect(influx.lines).toStrictEqual([...acked, ...later]);
    },
  );

  // The registry in PostgreSQL: the embedded one would live on the full disk too.
  it.skipIf(!process.env.TEST_DATABASE_URL)(
    'stores every QoS 1 message the device saw acknowledged, exactly, when the disk under the spool fills mid-stream',
    async () => {
      const dir = spoolDir();
      const schema = await freshSchema();
      cleanups.push(() => schema!.drop());
      const platform = await startPlatform(
        testConfig({
          SUS_DATA_DIR: dir,
          DATABASE_URL: schema!.url,
          SUS_SPOOL_SEGMENT_BYTES: String(16 << 10),
          SUS_SELF_METRICS_INTERVAL_S: '3600',
        }),
        silentLogger,
        { broker: true, api: false },
      );
      cleanups.push(() => platform.stop());
      await platform.registry.createDepartment({ id: 'environment', name: 'Environment' });
      const { secret } = await platform.registry.createDevice({
        id: 'aq-disk-1',
        name: 'disk full test',
        department: 'environment',
        type: 'air_quality',
      });
      const client = await connectAsync(`mqtt://127.0.0.1:${platform.mqttPort}`, {
        clientId: 'aq-disk-1',
        username: 'aq-disk-1',
        password: secret,
        reconnectPeriod: 100,
      });
      cleanups.push(() => client.endAsync(true));
      client.on('error', () => {});
      let closes = 0;
      client.on('close', () => closes++);

      const messages = 1000;
      const t0 = Date.now() - 3_600_000;
      const acked = new Set<number>();
      let next = 0;
      let release: (() => void) | undefined;
      const done = new Promise<void>((resolve) => {
        const pump = () => {
          if (acked.size === messages) resolve();
          while (next < messages && next - acked.size < 50) {
            const i = next++;
            // A backlog of five readings per message: records larger than a page, so the disk fills mid-record.
            const payload = JSON.stringify(
              Array.from({ length: 5 }, (_, k) => ({ time: t0 + i * 5 + k, values: { pm10: i % 50, pm2_5: k } })),
            );
            client.publish('sus/v1/devices/aq-disk-1/up', payload, { qos: 1 }, (err) => {
              if (err) return;
              acked.add(i);
              // A quarter in: the disk under the spool fills up, and stays full while the spool deletes what it drained.
              if (acked.size === messages / 4) release = keepFull(dir);
              setImmediate(pump);
            });
          }
        };
        pump();
      });
      await eventually(
        async () => release !== undefined && closes > 0,
        (yes) => yes,
        20_000,
      );
      // The device was refused (no PUBACK, connection closed) while the spool could not write: now there is room.
      release!();
      await done;
      await eventually(
        async () => platform.ingest!.spool.depth,
        (d) => d === 0,
        20_000,
      );
      const stored = async (q: string) => {
        const [series = []] = await platform.influx.query(`SELECT "value" FROM "${q}" WHERE "device" = 'aq-disk-1'`);
        return (series[0]?.values ?? []).map(([t, v]) => [Number(t) - t0, v]);
      };
      const all = Array.from({ length: messages * 5 }, (_, j) => j);
      expect(await stored('pm10')).toStrictEqual(all.map((j) => [j, Math.floor(j / 5) % 50]));
      expect(await stored('pm2_5')).toStrictEqual(all.map((j) => [j, j % 5]));
    },
    60_000,
  );
});
