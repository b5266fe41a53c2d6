import { type FileHandle, mkdir, open, readdir, readFile, rename, truncate, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SusError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { checksum, decodeHeader, HEADER_BYTES } from './record.ts';

/** A place in the spool: byte offset within a segment file. */
export interface SpoolPosition {
  segment: number;
  offset: number;
}

/** Lines read from the spool for one InfluxDB write; `commit(batch)` once InfluxDB acknowledged them. */
export interface SpoolBatch {
  /** Line protocol, `\n`-separated, ready to POST. */
  body: Buffer;
  lines: number;
  /** Spool bytes the batch covers (records and their headers). */
  bytes: number;
  end: SpoolPosition;
  oldestAppendedAt: number;
}

export interface SpoolOptions {
  dir: string;
  /** Upper bound of bytes waiting (appended, not yet committed); appends beyond it are refused. */
  maxBytes: number;
  /** A new segment file starts once the active one reaches this size; drained segments are deleted whole. */
  segmentBytes?: number;
  /** Fraction of maxBytes at which the spool logs an alarm (and clears it below `alarmRatio - 0.1`). */
  alarmRatio?: number;
}

export interface SpoolStats {
  /** Group commits (one write + one fdatasync each). */
  commits: number;
  appends: number;
  refusedFull: number;
  /** Bytes dropped on open because a record was torn or corrupt. */
  recoveredBytesDropped: number;
}

const SEGMENT_NAME = /^(\d{12})\.seg$/;
const COMMITTED_FILE = 'committed.json';
const READ_CHUNK = 1 << 20;
// Upper bound of one group commit: keeps a single record (and the drainer's read of it) to a sane size.
const MAX_RECORD_BYTES = 8 << 20;

const segmentName = (id: number) => `${String(id).padStart(12, '0')}.seg`;

/**
 * The appends that will share one group commit, encoded straight into the record that will be written: the first
 * HEADER_BYTES are left for the header, the lines follow `\n`-separated. One buffer and one promise per commit,
 * not a string, a join and a promise per message.
 */
interface Group {
  buf: Buffer;
  /** Bytes used, header space included. */
  end: number;
  lines: number;
  /** Set once the flush loop took the group: later appends start a new one. */
  sealed: boolean;
  done: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

const INITIAL_GROUP_BYTES = 64 << 10;

function newGroup(): Group {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return {
    buf: Buffer.allocUnsafe(INITIAL_GROUP_BYTES),
    end: HEADER_BYTES,
    lines: 0,
    sealed: false,
    done,
    resolve,
    reject,
  };
}

/**
 * Append-only on-disk spool between the pipeline and InfluxDB. `append()` resolves once the lines are on disk
 * (fdatasync): appends arriving while a sync runs share the next one (group commit), so a thousand messages cost
 * one fsync, not a thousand. A reader takes batches in append order and commits them once InfluxDB has them; the
 * committed position survives restarts, so after a crash everything not committed is written again (InfluxDB
 * overwrites identical points: no duplicates).
 */
export class Spool {
  readonly stats: SpoolStats = { commits: 0, appends: 0, refusedFull: 0, recoveredBytesDropped: 0 };
  /** Called after each group commit: new lines are readable. */
  onDurable: (() => void) | undefined;

  private readonly segmentBytes: number;
  private readonly alarmRatio: number;
  /** Durable size of every segment file still on disk. */
  private readonly segments = new Map<number, number>();
  private active: FileHandle | undefined;
  private activeId = 0;
  private reader: { id: number; fh: FileHandle } | undefined;
  private committed: SpoolPosition = { segment: 1, offset: 0 };
  private readPos: SpoolPosition = { segment: 1, offset: 0 };
  private groups: Group[] = [];
  private flushing: Promise<void> | undefined;
  private closed = true;
  private waitingLines = 0;
  private unread = 0;
  private diskBytes = 0;
  private reservedBytes = 0;
  private alarmed = false;
  private full = false;

  constructor(
    private readonly options: SpoolOptions,
    private readonly log: Logger,
  ) {
    this.segmentBytes = options.segmentBytes ?? 16 << 20;
    this.alarmRatio = options.alarmRatio ?? 0.8;
  }

  /** Lines appended (or being appended) and not yet committed. */
  get depth(): number {
    return this.waitingLines;
  }

  /** Lines on disk that no batch has taken yet. */
  get unreadLines(): number {
    return this.unread;
  }

  /** Bytes counted against `maxBytes`. */
  get bytes(): number {
    return this.diskBytes + this.reservedBytes;
  }

  get maxBytes(): number {
    return this.options.maxBytes;
  }

  /** Recovers the spool directory: drops drained segments, truncates a torn tail, counts what still waits. */
  async open(): Promise<void> {
    const { dir } = this.options;
    await mkdir(dir, { recursive: true });
    const committed = await this.readCommitted();
    const ids = (await readdir(dir))
      .map((f) => SEGMENT_NAME.exec(f)?.[1])
      .filter((m): m is string => m !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    this.committed = committed ?? { segment: ids[0] ?? 1, offset: 0 };
    for (const id of ids) {
      if (id < this.committed.segment) {
        await unlink(path.join(dir, segmentName(id)));
        continue;
      }
      await this.recoverSegment(id, id === this.committed.segment ? this.committed.offset : 0);
    }
    const start = this.segments.get(this.committed.segment);
    if (start === undefined || this.committed.offset > start) this.committed.offset = start ?? 0;
    this.readPos = { ...this.committed };
    this.activeId = Math.max(this.committed.segment, ids.at(-1) ?? 0);
    await this.openActive(this.activeId + 1);
    this.closed = false;
    if (this.waitingLines > 0) {
      this.log.info(
        { lines: this.waitingLines, bytes: this.diskBytes, dir },
        'spool holds readings from before the restart; draining them to InfluxDB',
      );
    }
    this.checkAlarm();
  }

  /** Resolves once `lines` are durably on disk; rejects (SUS_ERR_SPOOL_FULL, …) when they are not accepted. */
  append(lines: string[]): Promise<void> {
    if (lines.length === 0) return Promise.resolve();
    if (this.closed) return Promise.reject(new SusError('SUS_ERR_SPOOL_CLOSED', 'the spool is closed', 503));
    // UTF-8 takes at most 3 bytes per UTF-16 unit; one more per line for the separator.
    let room = 0;
    for (const line of lines) room += line.length * 3 + 1;
    let group = this.groups.at(-1);
    if (!group || group.sealed || (group.lines > 0 && group.end + room > MAX_RECORD_BYTES + HEADER_BYTES)) {
      group = newGroup();
      this.groups.push(group);
    }
    if (group.end + room > group.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(group.buf.length * 2, group.end + room));
      group.buf.copy(grown, 0, 0, group.end);
      group.buf = grown;
    }
    const start = group.end;
    let at = start;
    for (const line of lines) {
      if (at > HEADER_BYTES) group.buf[at++] = 0x0a;
      at += group.buf.write(line, at, 'utf8');
    }
    const bytes = at - start + (start === HEADER_BYTES ? 1 : 0);
    if (this.bytes + bytes + HEADER_BYTES > this.options.maxBytes) {
      // Not taken: the bytes just encoded are dropped again.
      this.stats.refusedFull++;
      if (!this.full) {
        this.full = true;
        this.log.error(
          { bytes: this.bytes, maxBytes: this.options.maxBytes, depth: this.waitingLines },
          'spool is full (SUS_SPOOL_MAX_BYTES): new readings are refused until InfluxDB takes the backlog',
        );
      }
      return Promise.reject(
        new SusError('SUS_ERR_SPOOL_FULL', `the spool holds ${this.bytes} bytes, its limit`, 503, {
          maxBytes: this.options.maxBytes,
        }),
      );
    }
    group.end = at;
    group.lines += lines.length;
    this.stats.appends++;
    this.reservedBytes += bytes;
    this.waitingLines += lines.length;
    this.flushing ??= this.flushLoop();
    return group.done;
  }

  /** The next lines in append order, up to about `maxLines` (whole records); undefined when nothing is unread. */
  async read(maxLines: number): Promise<SpoolBatch | undefined> {
    const parts: Buffer[] = [];
    let lines = 0;
    let bytes = 0;
    let oldest = 0;
    const pos = { ...this.readPos };
    while (lines < maxLines) {
      const size = this.segments.get(pos.segment);
      if (size === undefined || pos.offset >= size) {
        const next = this.nextSegment(pos.segment);
        if (next === undefined) break;
        pos.segment = next;
        pos.offset = 0;
        continue;
      }
      const fh = await this.readerFor(pos.segment);
      const chunk = Buffer.allocUnsafe(Math.min(size - pos.offset, READ_CHUNK));
      await readExactly(fh, chunk, pos.offset);
      let at = 0;
      while (at + HEADER_BYTES <= chunk.length && lines < maxLines) {
        const h = decodeHeader(chunk.subarray(at, at + HEADER_BYTES));
        const recordBytes = HEADER_BYTES + h.bodyBytes;
        let body: Buffer;
        if (at + recordBytes <= chunk.length) {
          body = chunk.subarray(at + HEADER_BYTES, at + recordBytes);
        } else if (at === 0) {
          // A record larger than the chunk: read it whole.
          body = Buffer.allocUnsafe(h.bodyBytes);
          await readExactly(fh, body, pos.offset + HEADER_BYTES);
        } else {
          break;
        }
        if (oldest === 0) oldest = h.appendedAt;
        parts.push(body);
        lines += h.lines;
        bytes += recordBytes;
        at += recordBytes;
        pos.offset += recordBytes;
      }
      if (at === 0) break; // cannot happen with record-aligned sizes; never spin on it
    }
    this.readPos = pos;
    if (lines === 0) return undefined;
    this.unread -= lines;
    const joined: Buffer[] = [];
    for (const p of parts) {
      if (joined.length > 0) joined.push(NEWLINE);
      joined.push(p);
    }
    return { body: Buffer.concat(joined), lines, bytes, end: { ...pos }, oldestAppendedAt: oldest };
  }

  /** Marks a batch as stored in InfluxDB: its space is freed and a restart will not write it again. */
  async commit(batch: SpoolBatch): Promise<void> {
    this.committed = { ...batch.end };
    this.waitingLines -= batch.lines;
    this.diskBytes -= batch.bytes;
    const file = path.join(this.options.dir, COMMITTED_FILE);
    // No fsync: a lost commit only means the batch is written again, and InfluxDB overwrites identical points.
    await writeFile(`${file}.tmp`, JSON.stringify(this.committed));
    await rename(`${file}.tmp`, file);
    for (const id of [...this.segments.keys()]) {
      if (id >= this.committed.segment || id === this.activeId) continue;
      this.segments.delete(id);
      if (this.reader?.id === id) {
        await this.reader.fh.close();
        this.reader = undefined;
      }
      await unlink(path.join(this.options.dir, segmentName(id))).catch((err: Error) =>
        this.log.warn({ err: err.message, segment: id }, 'could not delete a drained spool segment'),
      );
    }
    this.checkAlarm();
  }

  /** Append time of the oldest line not yet committed (epoch ms), or undefined when nothing waits. */
  async oldestAppendedAt(): Promise<number | undefined> {
    if (this.waitingLines === 0) return undefined;
    const pos = { ...this.committed };
    for (;;) {
      const size = this.segments.get(pos.segment);
      if (size !== undefined && pos.offset + HEADER_BYTES <= size) break;
      const next = this.nextSegment(pos.segment);
      if (next === undefined) return Date.now(); // only appends still being synced: they are this young
      pos.segment = next;
      pos.offset = 0;
    }
    const fh = await open(path.join(this.options.dir, segmentName(pos.segment)), 'r');
    try {
      const buf = Buffer.allocUnsafe(HEADER_BYTES);
      await readExactly(fh, buf, pos.offset);
      return decodeHeader(buf).appendedAt;
    } finally {
      await fh.close();
    }
  }

  /** Refuses new appends, waits for the group commit in progress and closes the files. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing) await this.flushing;
    await this.active?.close();
    this.active = undefined;
    await this.reader?.fh.close();
    this.reader = undefined;
  }

  private async flushLoop(): Promise<void> {
    // Yield once so every append of this turn of the event loop joins the first commit.
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      for (let group = this.groups[0]; group; group = this.groups[0]) {
        group.sealed = true;
        // A group whose only append was refused (spool full) holds nothing to write.
        if (group.lines > 0) await this.commitGroup(group);
        else group.resolve();
        this.groups.shift();
      }
    } finally {
      this.flushing = undefined;
    }
  }

  private async commitGroup(group: Group): Promise<void> {
    const { buf, end, lines } = group;
    const record = buf.subarray(0, end);
    buf.writeUInt32LE(end - HEADER_BYTES, 0);
    buf.writeUInt32LE(lines, 8);
    buf.writeDoubleLE(Date.now(), 12);
    buf.writeUInt32LE(checksum(buf.subarray(8, HEADER_BYTES), buf.subarray(HEADER_BYTES, end)), 4);
    // What the appends reserved: the body plus one separator each (the first one's stands for the header's share).
    const reserved = end - HEADER_BYTES + 1;
    this.reservedBytes -= reserved;
    try {
      if (!this.active) throw new Error('no active segment');
      if (this.segments.get(this.activeId)! >= this.segmentBytes) await this.roll();
      const at = this.segments.get(this.activeId)!;
      await this.active.write(record, 0, record.length, at);
      await this.active.datasync();
      this.segments.set(this.activeId, at + record.length);
    } catch (err) {
      this.waitingLines -= lines;
      this.log.error({ err: (err as Error).message, lines }, 'spool write failed: the messages are not acknowledged');
      group.reject(new SusError('SUS_ERR_SPOOL_WRITE', `spool write failed: ${(err as Error).message}`, 503));
      return;
    }
    this.stats.commits++;
    this.diskBytes += record.length;
    this.unread += lines;
    this.checkAlarm();
    group.resolve();
    this.onDurable?.();
  }

  private async roll(): Promise<void> {
    await this.active?.close();
    this.active = undefined;
    await this.openActive(this.activeId + 1);
  }

  private async openActive(id: number): Promise<void> {
    // 'w' not 'a': writes go to explicit offsets, so a failed partial write is simply overwritten by the next one.
    this.active = await open(path.join(this.options.dir, segmentName(id)), 'w');
    this.activeId = id;
    this.segments.set(id, 0);
    await syncDir(this.options.dir);
  }

  private nextSegment(after: number): number | undefined {
    let best: number | undefined;
    for (const id of this.segments.keys()) if (id > after && (best === undefined || id < best)) best = id;
    return best;
  }

  private async readerFor(id: number): Promise<FileHandle> {
    if (this.reader?.id === id) return this.reader.fh;
    await this.reader?.fh.close();
    const fh = await open(path.join(this.options.dir, segmentName(id)), 'r');
    this.reader = { id, fh };
    return fh;
  }

  private async readCommitted(): Promise<SpoolPosition | undefined> {
    try {
      const raw = JSON.parse(await readFile(path.join(this.options.dir, COMMITTED_FILE), 'utf8')) as SpoolPosition;
      if (Number.isInteger(raw.segment) && Number.isInteger(raw.offset) && raw.offset >= 0) return raw;
    } catch {
      // Absent (fresh spool) or unreadable: start at the oldest segment; replays are harmless.
    }
    return undefined;
  }

  /** Validates every record from `from` on; cuts the file at the first torn or corrupt one. */
  private async recoverSegment(id: number, from: number): Promise<void> {
    const file = path.join(this.options.dir, segmentName(id));
    const data = await readFile(file);
    let at = Math.min(from, data.length);
    while (at + HEADER_BYTES <= data.length) {
      const h = decodeHeader(data.subarray(at, at + HEADER_BYTES));
      const end = at + HEADER_BYTES + h.bodyBytes;
      if (end > data.length) break;
      if (checksum(data.subarray(at + 8, at + HEADER_BYTES), data.subarray(at + HEADER_BYTES, end)) !== h.crc) break;
      this.waitingLines += h.lines;
      this.unread += h.lines;
      this.diskBytes += end - at;
      at = end;
    }
    if (at < data.length) {
      this.stats.recoveredBytesDropped += data.length - at;
      this.log.warn(
        { segment: id, keptBytes: at, droppedBytes: data.length - at },
        'spool segment ends in a torn or corrupt record (never acknowledged); cutting it off',
      );
      await truncate(file, at);
    }
    this.segments.set(id, at);
  }

  private checkAlarm(): void {
    const ratio = this.bytes / this.options.maxBytes;
    if (!this.alarmed && ratio >= this.alarmRatio) {
      this.alarmed = true;
      this.log.warn(
        { bytes: this.bytes, maxBytes: this.options.maxBytes, depth: this.waitingLines },
        `spool is ${Math.round(ratio * 100)}% full: InfluxDB is not keeping up or is unreachable`,
      );
    } else if (this.alarmed && ratio < this.alarmRatio - 0.1) {
      this.alarmed = false;
      this.full = false;
      this.log.info({ bytes: this.bytes, maxBytes: this.options.maxBytes }, 'spool is back below its alarm level');
    }
  }
}

const NEWLINE = Buffer.from('\n');

async function readExactly(fh: FileHandle, into: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await fh.read(into, done, into.length - done, position + done);
    if (bytesRead === 0) throw new Error(`unexpected end of spool segment at ${position + done}`);
    done += bytesRead;
  }
}

/** Makes a new segment file's directory entry durable, not just its contents. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
