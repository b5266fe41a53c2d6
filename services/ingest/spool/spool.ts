import { type FileHandle, mkdir, open, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SusError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { ActiveSegment } from './active-segment.ts';
import { GroupCommit } from './group-commit.ts';
import { decodeHeader, HEADER_BYTES } from './record.ts';
import { recoverSpool } from './recovery.ts';
import { COMMITTED_FILE, readExactly, type SpoolPosition, segmentPath } from './segment-files.ts';

export type { SpoolPosition } from './segment-files.ts';

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

const READ_CHUNK = 1 << 20;

/**
 * Append-only on-disk spool between the pipeline and InfluxDB. `append()` resolves once the lines are on disk
 * (fdatasync, shared by concurrent appends: group-commit.ts). A reader takes batches in append order and commits
 * them once InfluxDB has them; the committed position survives restarts, so after a crash everything not committed
 * is written again (recovery.ts; InfluxDB overwrites identical points: no duplicates).
 */
export class Spool {
  readonly stats: SpoolStats = { commits: 0, appends: 0, refusedFull: 0, recoveredBytesDropped: 0 };
  /** Called after each group commit: new lines are readable. */
  onDurable: (() => void) | undefined;

  private readonly segmentBytes: number;
  private readonly alarmRatio: number;
  /** Durable size of every segment file still on disk. */
  private segments = new Map<number, number>();
  private active: ActiveSegment | undefined;
  private reader: { id: number; fh: FileHandle } | undefined;
  private committed: SpoolPosition = { segment: 1, offset: 0 };
  private readPos: SpoolPosition = { segment: 1, offset: 0 };
  private readonly groups = new GroupCommit((record, lines) => this.writeRecord(record, lines));
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

  /** Recovers the spool directory (recovery.ts) and starts a fresh active segment. */
  async open(): Promise<void> {
    const { dir } = this.options;
    await mkdir(dir, { recursive: true });
    const r = await recoverSpool(dir, this.log);
    this.segments = r.segments;
    this.committed = r.committed;
    this.readPos = { ...r.committed };
    this.waitingLines = r.lines;
    this.unread = r.lines;
    this.diskBytes = r.bytes;
    this.stats.recoveredBytesDropped += r.droppedBytes;
    this.active = new ActiveSegment(dir, this.segments, this.segmentBytes);
    await this.active.open(r.lastSegment + 1);
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
    const bytes = this.groups.stage(lines);
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
    this.stats.appends++;
    this.reservedBytes += bytes;
    this.waitingLines += lines.length;
    return this.groups.take(lines.length);
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
      if (id >= this.committed.segment || id === this.active?.id) continue;
      this.segments.delete(id);
      if (this.reader?.id === id) {
        await this.reader.fh.close();
        this.reader = undefined;
      }
      await unlink(segmentPath(this.options.dir, id)).catch((err: Error) =>
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
    const fh = await open(segmentPath(this.options.dir, pos.segment), 'r');
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
    await this.groups.settled();
    await this.active?.close();
    await this.reader?.fh.close();
    this.reader = undefined;
  }

  /** Writes one sealed group record to the active segment (GroupCommit's `write`). */
  private async writeRecord(record: Buffer, lines: number): Promise<void> {
    // What the appends reserved: the body plus one separator each (the first one's stands for the header's share).
    this.reservedBytes -= record.length - HEADER_BYTES + 1;
    try {
      if (!this.active) throw new Error('no active segment');
      await this.active.append(record);
    } catch (err) {
      this.waitingLines -= lines;
      this.log.error({ err: (err as Error).message, lines }, 'spool write failed: the messages are not acknowledged');
      throw new SusError('SUS_ERR_SPOOL_WRITE', `spool write failed: ${(err as Error).message}`, 503);
    }
    this.stats.commits++;
    this.diskBytes += record.length;
    this.unread += lines;
    this.checkAlarm();
    this.onDurable?.();
  }

  private nextSegment(after: number): number | undefined {
    let best: number | undefined;
    for (const id of this.segments.keys()) if (id > after && (best === undefined || id < best)) best = id;
    return best;
  }

  private async readerFor(id: number): Promise<FileHandle> {
    if (this.reader?.id === id) return this.reader.fh;
    await this.reader?.fh.close();
    const fh = await open(segmentPath(this.options.dir, id), 'r');
    this.reader = { id, fh };
    return fh;
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
