import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../services/common/logger.ts';
import { Spool, type SpoolOptions } from '../../../services/ingest/spool/spool.ts';
import { readAll } from '../../helpers/spool.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const freshDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'sus-spool-test-'));
  dirs.push(d);
  return d;
};

const opened = async (opts: Partial<SpoolOptions> & { dir: string }, log = silentLogger) => {
  const spool = new Spool({ maxBytes: 1 << 30, ...opts }, log);
  await spool.open();
  return spool;
};

const capture = () => {
  const records: Array<{ level: number; msg: string }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      records.push(JSON.parse(chunk.toString()));
      cb();
    },
  });
  return { log: pino({ level: 'info' }, stream), records };
};

describe('durable spool on real files', () => {
  it('keeps appended lines across a reopen, in append order', async () => {
    const dir = freshDir();
    const a = await opened({ dir });
    await a.append(['m a=1 1', 'm a=2 2']);
    await a.append(['m a=3 3']);
    await a.close();
    const b = await opened({ dir });
    expect(b.depth).toBe(3);
    expect(await readAll(b)).toStrictEqual(['m a=1 1', 'm a=2 2', 'm a=3 3']);
    await b.close();
  });

  it('does not hand out committed lines again after a restart, but does hand out read-but-uncommitted ones', async () => {
    const dir = freshDir();
    const a = await opened({ dir });
    await a.append(['x v=1 1']);
    await a.append(['x v=2 2']);
    const first = await a.read(1);
    expect(first?.body.toString()).toBe('x v=1 1');
    await a.commit(first!);
    const second = await a.read(1);
    expect(second?.body.toString()).toBe('x v=2 2');
    expect(a.depth).toBe(1);
    await a.close(); // "crash" before the second batch was acknowledged
    const b = await opened({ dir });
    expect(await readAll(b)).toStrictEqual(['x v=2 2']);
    await b.close();
  });

  it('group-commits appends made together: one write and one fsync for a thousand messages', async () => {
    const spool = await opened({ dir: freshDir() });
    await Promise.all(Array.from({ length: 1000 }, (_, i) => spool.append([`g v=${i} ${i}`])));
    expect(spool.stats).toStrictEqual({ commits: 1, appends: 1000, refusedFull: 0, recoveredBytesDropped: 0 });
    expect(spool.unreadLines).toBe(1000);
    await spool.close();
  });

  it('cuts off a torn record at the tail on open and keeps every complete one before it', async () => {
    const dir = freshDir();
    const a = await opened({ dir });
    await a.append(['t v=1 1']);
    await a.append(['t v=2 2']);
    await a.close();
    const segment = readdirSync(dir)
      .filter((f) => f.endsWith('.seg'))
      .map((f) => path.join(dir, f))
      .find((f) => statSync(f).size > 0)!;
    const goodSize = statSync(segment).size;
    // A record header claiming 100 bytes of body, followed by only 5: what a power cut mid-write leaves.
    const torn = Buffer.alloc(25);
    torn.writeUInt32LE(100, 0);
    appendFileSync(segment, torn);
    const b = await opened({ dir });
    expect(b.stats.recoveredBytesDropped).toBe(25);
    expect(statSync(segment).size).toBe(goodSize);
    expect(await readAll(b)).toStrictEqual(['t v=1 1', 't v=2 2']);
    await b.close();
  });

  it('refuses appends beyond SUS_SPOOL_MAX_BYTES with SUS_ERR_SPOOL_FULL, alarms near the limit, and accepts again once drained', async () => {
    const { log, records } = capture();
    const spool = await opened({ dir: freshDir(), maxBytes: 400 }, log);
    const line = `f v=1 ${'1'.repeat(90)}`; // 97 bytes + newline
    await spool.append([line]);
    await spool.append([line]);
    await spool.append([line]);
    await expect(spool.append([line])).rejects.toMatchObject({ code: 'SUS_ERR_SPOOL_FULL', statusCode: 503 });
    expect(spool.depth).toBe(3);
    const msgs = records.map((r) => r.msg);
    expect(msgs.some((m) => /^spool is \d+% full/.test(m))).toBe(true);
    expect(msgs).toContain(
      'spool is full (SUS_SPOOL_MAX_BYTES): new readings are refused until InfluxDB takes the backlog',
    );
    const batch = await spool.read(10);
    await spool.commit(batch!);
    expect(spool.bytes).toBe(0);
    await spool.append([line]);
    expect(spool.depth).toBe(1);
    await spool.close();
  });

  it('stores multi-byte UTF-8 lines byte-exact, in one record for appends made together, and counts their bytes', async () => {
    const spool = await opened({ dir: freshDir() });
    const lines = ['t,district=Südstadt v=1 1', 't,district=Øster\\ Bro v=2 2', 't,district=中心 v=3 3'];
    await Promise.all([spool.append([lines[0]!]), spool.append([lines[1]!, lines[2]!])]);
    expect(spool.stats.commits).toBe(1);
    const body = Buffer.from(lines.join('\n'));
    expect(spool.bytes).toBe(20 + body.length); // one record header + the body
    const batch = await spool.read(10);
    expect(batch?.body).toStrictEqual(body);
    expect(batch?.lines).toBe(3);
    await spool.commit(batch!);
    expect(spool.bytes).toBe(0);
    await spool.close();
  });

  it('writes nothing for an append it refused: the next commit holds only accepted lines', async () => {
    const spool = await opened({ dir: freshDir(), maxBytes: 100 });
    await spool.append(['a v=1 1']);
    const big = `b v=2 ${'2'.repeat(100)}`;
    const [refused, accepted] = await Promise.allSettled([spool.append([big]), spool.append(['c v=3 3'])]);
    expect(refused).toMatchObject({ status: 'rejected', reason: { code: 'SUS_ERR_SPOOL_FULL' } });
    expect(accepted.status).toBe('fulfilled');
    expect(await readAll(spool)).toStrictEqual(['a v=1 1', 'c v=3 3']);
    expect(spool.depth).toBe(2);
    await spool.close();
  });

  it('rolls over to new segment files and deletes segments once drained', async () => {
    const dir = freshDir();
    const spool = await opened({ dir, segmentBytes: 256 });
    for (let i = 0; i < 20; i++) await spool.append([`s v=${i} ${1000 + i}`, `s w=${i} ${1000 + i}`]);
    expect(readdirSync(dir).filter((f) => f.endsWith('.seg')).length).toBeGreaterThanOrEqual(3);
    const lines = await readAll(spool);
    expect(lines).toHaveLength(40);
    expect(lines.slice(0, 3)).toStrictEqual(['s v=0 1000', 's w=0 1000', 's v=1 1001']);
    expect(lines.at(-1)).toBe('s w=19 1019');
    // Commit everything read so far: a fresh read position covers all of it.
    await spool.close();
    const again = await opened({ dir, segmentBytes: 256 });
    let b = await again.read(1_000_000);
    while (b) {
      await again.commit(b);
      b = await again.read(1_000_000);
    }
    expect(again.depth).toBe(0);
    expect(readdirSync(dir).filter((f) => f.endsWith('.seg'))).toHaveLength(1);
    await again.close();
  });

  it('reports the append time of the oldest line still waiting', async () => {
    const spool = await opened({ dir: freshDir() });
    expect(await spool.oldestAppendedAt()).toBeUndefined();
    const before = Date.now();
    await spool.append(['o v=1 1']);
    const after = Date.now();
    const oldest = await spool.oldestAppendedAt();
    expect(oldest).toBeGreaterThanOrEqual(before);
    expect(oldest).toBeLessThanOrEqual(after);
    await spool.close();
  });
});
