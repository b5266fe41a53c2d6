import { SusError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { ActiveSegment } from './active-segment.ts';
import { GroupCommit } from './group-commit.ts';
import { decodeHeader, HEADER_BYTES } from './record.ts';
import { recoverSpool } from './recovery.ts';
import {
  nodeFs,
  readExactly,
  type SpoolFile,
  type SpoolFs,
  type SpoolPosition,
  segmentPath,
  writeCommitted,
} from './segment-files.ts';

export type { SpoolFs, SpoolPosition } from './segment-files.ts';

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
  /** The file system (node:fs/promises); tests inject faults through it. */
  fs?: SpoolFs;
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
  private readonly fs: SpoolFs;
  /** Durable size of every segment file still on disk. */
  private segments = new Map<number, number>();
  private active: ActiveSegment | undefined;
  private reader: { id: number; fh: SpoolFile } | undefined;
  private committed: SpoolPosition = { segment: 1, offset: 0 };
  private readPos: SpoolPosition = { segment: 1, offset: 0 };
  private readonly groups = new GroupCommit((record, lines) => this.writeRecord(record, lines));
  private closed = true;
  private waitingLines = 0;
  private unread = 0;
  /** Lines handed out by read() and not yet committed: rewind() makes them unread again. */
  private readUncommitted = 0;
  private diskBytes = 0;
  private reservedBytes = 0;
  private alarmed = false;
  private full = false;
  private positionFailing = false;
  private deleteFailing = false;

  constructor(
    private readonly options: SpoolOptions,
    private readonly log: Logger,
  ) {
    this.segmentBytes = options.segmentBytes ?? 16 << 20;
    this.alarmRatio = options.alarmRatio ?? 0.8;
    this.fs = options.fs ?? nodeFs;
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
    await this.fs.mkdir(dir);
    const r = await recoverSpool(this.fs, dir, this.log);
    this.segments = r.segments;
    this.committed = r.committed;
    this.readPos = { ...r.committed };
    this.waitingLines = r.lines;
    this.unread = r.lines;
    this.diskBytes = r.bytes;
    this.stats.recoveredBytesDropped += r.droppedBytes;
    this.active = new ActiveSegment(this.fs, dir, this.segments, this.segmentBytes, this.log);
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
    this.readUncommitted += lines;
    const joined: Buffer[] = [];
    for (const p of parts) {
      if (joined.length > 0) joined.push(NEWLINE);
      joined.push(p);
    }
    return { body: Buffer.concat(joined), lines, bytes, end: { ...pos }, oldestAppendedAt: oldest };
  }

  /**
   * Marks a batch as stored in InfluxDB: its space is freed and a restart will not write it again. Batches are
   * committed in read order. Never fails for a file-system fault: drained segments are deleted before the position
   * is saved (on a full disk the deletion is what makes room), and a position that cannot be saved only means more
   * is written again after a restart; it is retried with the next commit.
   */
  async commit(batch: SpoolBatch): Promise<void> {
    this.committed = { ...batch.end };
    this.waitingLines -= batch.lines;
    this.readUncommitted -= batch.lines;
    this.diskBytes -= batch.bytes;
    await this.deleteDrained();
    try {
      await writeCommitted(this.fs, this.options.dir, this.committed);
      if (this.positionFailing) this.log.info('spool position saved again');
      this.positionFailing = false;
    } catch (err) {
      if (!this.positionFailing) {
        this.log.warn(
          { err: (err as Error).message },
          'cannot save the spool position; after a restart more would be written again (harmless); retrying',
        );
      }
      this.positionFailing = true;
    }
    this.checkAlarm();
  }

  /**
   * Forgets every batch read and not committed: the next read starts at the committed position again. The drainer
   * calls it after a fault, so a batch it could not commit is written again rather than skipped; batches read before
   * a rewind must not be committed after it.
   */
  rewind(): void {
    this.readPos = { ...this.committed };
    this.unread += this.readUncommitted;
    this.readUncommitted = 0;
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
    const fh = await this.fs.open(segmentPath(this.options.dir, pos.segment), 'r');
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
    await this.closeReader();
  }

  /** Writes one sealed group record to the active segment (GroupCommit's `write`). */
  private async writeRecord(record: Buffer, lines: number): Promise<void> {
    // What the appends reserved: the body plus one separator each (the first one's stands for the header's share).
    this.reservedBytes -= record.length - HEADER_BYTES + 1;
    const active = this.active;
    const segment = active?.id;
    try {
      if (!active) throw new Error('no active segment');
      await active.append(record);
    } catch (err) {
      this.waitingLines -= lines;
      this.log.error({ err: (err as Error).message, lines }, 'spool write failed: the messages are not acknowledged');
      throw new SusError('SUS_ERR_SPOOL_WRITE', `spool write failed: ${(err as Error).message}`, 503);
    } finally {
      // A new segment was started (after a failed write: the disk is full): the previous one may be drained already,
      // and deleting it is what makes room.
      if (active && active.id !== segment) await this.deleteDrained();
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

  private async readerFor(id: number): Promise<SpoolFile> {
    if (this.reader?.id === id) return this.reader.fh;
    await this.closeReader();
    // Forgotten before the open: when it fails (EMFILE), the next read opens again instead of using a closed file.
    const fh = await this.fs.open(segmentPath(this.options.dir, id), 'r');
    this.reader = { id, fh };
    return fh;
  }

  private async closeReader(): Promise<void> {
    const reader = this.reader;
    this.reader = undefined;
    await reader?.fh.close().catch(() => undefined);
  }

  /** Deletes drained segment files (never the active one); a failure is retried with the next commit. */
  private async deleteDrained(): Promise<void> {
    // A drained segment no longer written to: the position moves to the next one, so the file can go now rather
    // than once a record of the next one is committed (which, on a full disk, could never be written).
    for (;;) {
      const size = this.segments.get(this.committed.segment);
      const next = this.nextSegment(this.committed.segment);
      if (next === undefined || this.committed.segment === this.active?.id) break;
      if (size !== undefined && this.committed.offset < size) break;
      this.committed = { segment: next, offset: 0 };
    }
    for (const id of [...this.segments.keys()]) {
      if (id >= this.committed.segment || id === this.active?.id) continue;
      if (this.reader?.id === id) await this.closeReader();
      try {
        await this.fs.unlink(segmentPath(this.options.dir, id));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
          if (!this.deleteFailing) {
            this.log.warn(
              { err: (err as Error).message, segment: id },
              'cannot delete a drained spool segment; retrying',
            );
          }
          this.deleteFailing = true;
          continue;
        }
      }
      this.deleteFailing = false;
      this.segments.delete(id);
    }
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
