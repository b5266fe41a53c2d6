import { type FileHandle, open } from 'node:fs/promises';
import { segmentPath, syncDir } from './segment-files.ts';

/**
 * The segment file records are appended to. Writes go to explicit offsets, so a failed partial write is simply
 * overwritten by the next one; a new file starts once the current one reaches `segmentBytes`.
 */
export class ActiveSegment {
  private fh: FileHandle | undefined;
  private current = 0;

  constructor(
    private readonly dir: string,
    /** Durable size of every segment file, shared with the spool: this class adds and grows the active one. */
    private readonly segments: Map<number, number>,
    private readonly segmentBytes: number,
  ) {}

  get id(): number {
    return this.current;
  }

  async open(id: number): Promise<void> {
    // 'w' not 'a': writes go to explicit offsets (see above).
    this.fh = await open(segmentPath(this.dir, id), 'w');
    this.current = id;
    this.segments.set(id, 0);
    await syncDir(this.dir);
  }

  /** Appends one record and syncs it (fdatasync); rolls over to a new file first when this one is full. */
  async append(record: Buffer): Promise<void> {
    if (!this.fh) throw new Error('no active segment');
    if (this.segments.get(this.current)! >= this.segmentBytes) await this.roll();
    const at = this.segments.get(this.current)!;
    await this.fh.write(record, 0, record.length, at);
    await this.fh.datasync();
    this.segments.set(this.current, at + record.length);
  }

  async close(): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
  }

  private async roll(): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
    await this.open(this.current + 1);
  }
}
