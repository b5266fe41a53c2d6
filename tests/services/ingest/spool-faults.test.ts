import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../services/common/logger.ts';
import { Spool, type SpoolOptions } from '../../../services/ingest/spool/spool.ts';
import { type LineSender, SpoolDrainer } from '../../../services/ingest/writer.ts';
import { eventually } from '../../helpers/env.ts';
import { faultyFs } from '../../helpers/faulty-fs.ts';
import { readAll, recordingDeadLetters, recordingSender } from '../../helpers/spool.ts';

/**
 * File-system faults the spool must survive without a restart and without losing an acknowledged line, injected
 * into exactly the call that fails in production (EMFILE on opening a file, EIO on saving the position). The same
 * faults for real (a full tmpfs, a process out of file descriptors) are in tests/faults/.
 */
const dirs: string[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const freshDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'sus-spool-faults-'));
  dirs.push(d);
  return d;
};
const segmentFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.seg'));

const opened = async (opts: Partial<SpoolOptions> & { dir: string }) => {
  const spool = new Spool({ maxBytes: 1 << 30, ...opts }, silentLogger);
  await spool.open();
  cleanups.push(() => spool.close());
  return spool;
};

const startDrainer = (spool: Spool, sender: LineSender) => {
  const drainer = new SpoolDrainer(
    spool,
    sender,
    { batchSize: 2, lingerMs: 20, retryMinMs: 20, retryMaxMs: 50 },
    silentLogger,
    recordingDeadLetters().store,
  );
  drainer.start();
  cleanups.push(() => drainer.stop());
  return drainer;
};

const linesNumbered = (n: number, prefix = 'f') => Array.from({ length: n }, (_, i) => `${prefix} v=${i} ${1000 + i}`);

describe('spool under file-system faults (injected)', () => {
  it('keeps writing into the current segment while a new one cannot be opened (EMFILE) and rolls once it can', async () => {
    const dir = freshDir();
    const faults = faultyFs();
    // 64 bytes: a new segment is due after every third record.
    const spool = await opened({ dir, segmentBytes: 64, fs: faults.fs });
    faults.fail('open:w', /\.seg$/, 'EMFILE');
    const lines = linesNumbered(12);
    for (const line of lines.slice(0, 6)) await spool.append([line]);
    // A fresh spool writes to segment 2 (1 is the committed position's); its successor could not be created.
    expect(faults.hits).toContain('open:w 000000000003.seg EMFILE');
    expect(segmentFiles(dir)).toStrictEqual(['000000000002.seg']);

    faults.clear();
    for (const line of lines.slice(6)) await spool.append([line]);
    expect(segmentFiles(dir).length).toBeGreaterThanOrEqual(2);
    expect(spool.depth).toBe(12);
    expect(await readAll(spool)).toStrictEqual(lines);
    await spool.close();
    expect(await readAll(await opened({ dir }))).toStrictEqual(lines);
  });

  it('commits while the position cannot be saved (EIO): depth and bytes drop, drained segments go, the position is saved with the next commit', async () => {
    const dir = freshDir();
    const faults = faultyFs();
    const spool = await opened({ dir, segmentBytes: 64, fs: faults.fs });
    const lines = linesNumbered(9);
    for (const line of lines) await spool.append([line]);
    expect(segmentFiles(dir)).toHaveLength(3);

    faults.fail('writeFile', /^committed\.json/, 'EIO');
    const first = await spool.read(6);
    expect(first?.lines).toBe(6);
    await spool.commit(first!);
    expect(faults.hits).toStrictEqual(['writeFile committed.json.tmp EIO']);
    expect([spool.depth, segmentFiles(dir)]).toStrictEqual([3, ['000000000004.seg']]);

    faults.clear();
    const rest = await spool.read(6);
    await spool.commit(rest!);
    expect([spool.depth, spool.bytes]).toStrictEqual([0, 0]);
    await spool.append(['g v=1 1']);
    await spool.close();
    // Only the line appended after the last commit is handed out again: the position was saved.
    expect(await readAll(await opened({ dir }))).toStrictEqual(['g v=1 1']);
  });

  it('leaves no phantom depth when a commit cannot save the position while another batch is in flight', async () => {
    const dir = freshDir();
    const faults = faultyFs();
    const spool = await opened({ dir, fs: faults.fs });
    const lines = linesNumbered(8);
    for (let i = 0; i < lines.length; i += 2) await spool.append(lines.slice(i, i + 2));
    faults.fail('writeFile', /^committed\.json/, 'EIO', 1);
    const influx = recordingSender();
    startDrainer(spool, influx.sender);
    await eventually(
      async () => spool.depth,
      (d) => d === 0,
    );
    expect(faults.hits).toStrictEqual(['writeFile committed.json.tmp EIO']);
    expect(influx.lines).toStrictEqual(lines);
    expect(spool.bytes).toBe(0);
  });

  it('reads a batch again when reading the next one fails (EMFILE), instead of skipping it or reusing a closed file', async () => {
    const dir = freshDir();
    const faults = faultyFs();
    // One line per record, three records per segment: the drainer's second batch crosses into a new segment.
    const spool = await opened({ dir, segmentBytes: 64, fs: faults.fs });
    const lines = linesNumbered(9);
    for (const line of lines) await spool.append([line]);
    faults.fail('open:r', /^000000000003\.seg$/, 'EMFILE', 1);
    const influx = recordingSender();
    startDrainer(spool, influx.sender);
    await eventually(
      async () => spool.depth,
      (d) => d === 0,
    );
    expect(faults.hits).toStrictEqual(['open:r 000000000003.seg EMFILE']);
    // The batch in flight when the read failed was written again (InfluxDB overwrites identical points): every line
    // arrived, none is missing, and the spool counts nothing that is not there.
    expect([...new Set(influx.lines)]).toStrictEqual(lines);
    expect([spool.bytes, spool.unreadLines]).toStrictEqual([0, 0]);
  });
});
