import { type FileHandle, open, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/** A place in the spool: byte offset within a segment file. */
export interface SpoolPosition {
  segment: number;
  offset: number;
}

const SEGMENT_NAME = /^(\d{12})\.seg$/;
/** How far the drainer got: `{ segment, offset }` as JSON, replaced atomically (write + rename). */
export const COMMITTED_FILE = 'committed.json';

export const segmentName = (id: number) => `${String(id).padStart(12, '0')}.seg`;
export const segmentPath = (dir: string, id: number) => path.join(dir, segmentName(id));

/** Ids of the segment files in `dir`, oldest first. */
export async function listSegments(dir: string): Promise<number[]> {
  return (await readdir(dir))
    .map((f) => SEGMENT_NAME.exec(f)?.[1])
    .filter((m): m is string => m !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/** The committed position, or undefined when absent (fresh spool) or unreadable (replays are harmless). */
export async function readCommitted(dir: string): Promise<SpoolPosition | undefined> {
  try {
    const raw = JSON.parse(await readFile(path.join(dir, COMMITTED_FILE), 'utf8')) as SpoolPosition;
    if (Number.isInteger(raw.segment) && Number.isInteger(raw.offset) && raw.offset >= 0) return raw;
  } catch {
    // Absent or unreadable: the caller starts at the oldest segment.
  }
  return undefined;
}

export async function readExactly(fh: FileHandle, into: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await fh.read(into, done, into.length - done, position + done);
    if (bytesRead === 0) throw new Error(`unexpected end of spool segment at ${position + done}`);
    done += bytesRead;
  }
}

/** Makes a new segment file's directory entry durable, not just its contents. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
