import type { Logger } from '../../common/logger.ts';
import { type SpoolFile, type SpoolFs, segmentPath, syncDir, writeFully } from './segment-files.ts';

/**
 * The segment file records are appended to. Writes go to explicit offsets, so a failed write is simply overwritten
 * by the next one; a new file starts once the current one reaches `segmentBytes`. No fault leaves the spool without
 * a file to write to: a new file that cannot be opened (EMFILE, ENOSPC) leaves the current one in use.
 */
export class ActiveSegment {
  private fh: SpoolFile | undefined;
  private current = 0;
  /** Set by a failed write (disk full): the next write starts a new file, so the drained current one can be freed. */
  private rollWanted = false;
  private rollFailing = false;

  constructor(
    private readonly fs: SpoolFs,
    private readonly dir: string,
    /** Durable size of every segment file, shared with the spool: this class adds and grows the active one. */
    private readonly segments: Map<number, number>,
    private readonly segmentBytes: number,
    private readonly log: Logger,
  ) {}

  get id(): number {
    return this.current;
  }

  async open(id: number): Promise<void> {
    this.fh = await this.create(id);
    this.current = id;
    this.segments.set(id, 0);
  }

  /**
   * Appends one record and syncs it (fdatasync); rolls over to a new file first when this one is full. Rejects when
   * the record is not durable; whatever part of it reached the file is cut off again, so no unacknowledged record
   * is left behind to be replayed after a restart.
   */
  async append(record: Buffer): Promise<void> {
    if (!this.fh) throw new Error('the spool segment is closed');
    const size = this.segments.get(this.current)!;
    if (size > 0 && (size >= this.segmentBytes || this.rollWanted)) await this.roll();
    const fh = this.fh;
    const at = this.segments.get(this.current)!;
    try {
      await writeFully(fh, record, at);
      await fh.datasync();
    } catch (err) {
      await fh.truncate(at).catch(() => undefined);
      this.rollWanted = true;
      throw err;
    }
    this.segments.set(this.current, at + record.length);
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
  }

  private async create(id: number): Promise<SpoolFile> {
    // 'w' not 'a': writes go to explicit offsets (see above).
    const fh = await this.fs.open(segmentPath(this.dir, id), 'w');
    try {
      await syncDir(this.fs, this.dir);
    } catch (err) {
      // Not durable in the directory: records written to it could vanish with a power cut.
      await fh.close().catch(() => undefined);
      throw err;
    }
    return fh;
  }

  /** Switches to a new file; when it cannot be created the current file stays in use and the next write retries. */
  private async roll(): Promise<void> {
    const next = this.current + 1;
    let fh: SpoolFile;
    try {
      fh = await this.create(next);
    } catch (err) {
      if (!this.rollFailing) {
        this.rollFailing = true;
        this.log.warn(
          { err: (err as Error).message, segment: this.current },
          'cannot start a new spool segment; the current one is used until a new one can be created',
        );
      }
      return;
    }
    if (this.rollFailing) {
      this.rollFailing = false;
      this.log.info({ segment: next }, 'new spool segment started again');
    }
    const old = this.fh;
    this.fh = fh;
    this.current = next;
    this.segments.set(next, 0);
    this.rollWanted = false;
    await old?.close().catch((err: Error) => this.log.warn({ err: err.message }, 'closing a spool segment failed'));
  }
}
