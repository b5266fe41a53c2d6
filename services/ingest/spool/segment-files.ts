import * as fsp from 'node:fs/promises';
import path from 'node:path';

/** A place in the spool: byte offset within a segment file. */
export interface SpoolPosition {
  segment: number;
  offset: number;
}

/** The file operations the spool uses (node:fs/promises' FileHandle has them all). */
export interface SpoolFile {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  write(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * The file system as the spool sees it: node:fs/promises in production; a test wraps it to inject faults (EMFILE,
 * ENOSPC, EIO) into exactly the call it means.
 */
export interface SpoolFs {
  open(file: string, flags: 'r' | 'w'): Promise<SpoolFile>;
  mkdir(dir: string): Promise<void>;
  readdir(dir: string): Promise<string[]>;
  readFile(file: string): Promise<Buffer>;
  writeFile(file: string, data: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(file: string): Promise<void>;
  truncate(file: string, length: number): Promise<void>;
}

export const nodeFs: SpoolFs = {
  open: (file, flags) => fsp.open(file, flags),
  mkdir: async (dir) => {
    await fsp.mkdir(dir, { recursive: true });
  },
  readdir: (dir) => fsp.readdir(dir),
  readFile: (file) => fsp.readFile(file),
  writeFile: (file, data) => fsp.writeFile(file, data),
  rename: (from, to) => fsp.rename(from, to),
  unlink: (file) => fsp.unlink(file),
  truncate: (file, length) => fsp.truncate(file, length),
};

const SEGMENT_NAME = /^(\d{12})\.seg$/;
/** How far the drainer got: `{ segment, offset }` as JSON, replaced atomically (write + rename). */
const COMMITTED_FILE = 'committed.json';

export const segmentName = (id: number) => `${String(id).padStart(12, '0')}.seg`;
export const segmentPath = (dir: string, id: number) => path.join(dir, segmentName(id));

/** Ids of the segment files in `dir`, oldest first. */
export async function listSegments(fs: SpoolFs, dir: string): Promise<number[]> {
  return (await fs.readdir(dir))
    .map((f) => SEGMENT_NAME.exec(f)?.[1])
    .filter((m): m is string => m !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/** The committed position, or undefined when absent (fresh spool) or unreadable (replays are harmless). */
export async function readCommitted(fs: SpoolFs, dir: string): Promise<SpoolPosition | undefined> {
  try {
    const raw = JSON.parse((await fs.readFile(path.join(dir, COMMITTED_FILE))).toString('utf8')) as SpoolPosition;
    if (Number.isInteger(raw.segment) && Number.isInteger(raw.offset) && raw.offset >= 0) return raw;
  } catch {
    // Absent or unreadable: the caller starts at the oldest segment.
  }
  return undefined;
}

/** No fsync: a lost position only means batches are written again, and InfluxDB overwrites identical points. */
export async function writeCommitted(fs: SpoolFs, dir: string, pos: SpoolPosition): Promise<void> {
  const file = path.join(dir, COMMITTED_FILE);
  await fs.writeFile(`${file}.tmp`, JSON.stringify(pos));
  await fs.rename(`${file}.tmp`, file);
}

export async function readExactly(fh: SpoolFile, into: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await fh.read(into, done, into.length - done, position + done);
    if (bytesRead === 0) throw new Error(`unexpected end of spool segment at ${position + done}`);
    done += bytesRead;
  }
}

/** write(2) may write less than asked (a disk filling up mid-record): carry on until all of it is written or it fails. */
export async function writeFully(fh: SpoolFile, data: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
    if (bytesWritten === 0) throw new Error(`spool segment write made no progress at ${position + done}`);
    done += bytesWritten;
  }
}

/** Makes a new segment file's directory entry durable, not just its contents. */
export async function syncDir(fs: SpoolFs, dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
