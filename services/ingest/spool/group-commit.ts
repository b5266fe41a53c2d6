import { HEADER_BYTES, sealRecord } from './record.ts';

// Upper bound of one group commit: keeps a single record (and the drainer's read of it) to a sane size.
const MAX_RECORD_BYTES = 8 << 20;
const INITIAL_GROUP_BYTES = 64 << 10;

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
 * Group commit: appends arriving while a record is being written and synced share the next record, so a thousand
 * messages cost one write and one fdatasync, not a thousand. `write` stores one sealed record durably (or throws:
 * every append of that record is then rejected with the error).
 */
export class GroupCommit {
  private groups: Group[] = [];
  private flushing: Promise<void> | undefined;
  // What stage() encoded last, for take(): fields, not a returned object, on the per-message path.
  private stagedGroup: Group | undefined;
  private stagedEnd = 0;

  constructor(private readonly write: (record: Buffer, lines: number) => Promise<void>) {}

  /**
   * Encodes `lines` into the open group (a new one when it is sealed or would grow too large) without adding them:
   * `take()` adds them, the next `stage()` overwrites them. Returns the bytes they count for: their UTF-8 bytes plus
   * one separator each (the first one's stands for the header's share).
   */
  stage(lines: string[]): number {
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
    this.stagedGroup = group;
    this.stagedEnd = at;
    return at - start + (start === HEADER_BYTES ? 1 : 0);
  }

  /** Adds the `lines` lines staged last to their group; resolves once the group's record is durable. */
  take(lines: number): Promise<void> {
    const group = this.stagedGroup!;
    this.stagedGroup = undefined;
    group.end = this.stagedEnd;
    group.lines += lines;
    this.flushing ??= this.flushLoop();
    return group.done;
  }

  /** Waits until every group taken so far is written (or failed). */
  async settled(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private async flushLoop(): Promise<void> {
    // Yield once so every append of this turn of the event loop joins the first commit.
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      for (let group = this.groups[0]; group; group = this.groups[0]) {
        group.sealed = true;
        // A group whose only append was refused (spool full) holds nothing to write.
        if (group.lines > 0) {
          try {
            await this.write(sealRecord(group.buf, group.end, group.lines, Date.now()), group.lines);
            group.resolve();
          } catch (err) {
            group.reject(err as Error);
          }
        } else group.resolve();
        this.groups.shift();
      }
    } finally {
      this.flushing = undefined;
    }
  }
}
