import type { Logger } from '../../common/logger.ts';
import { checksum, decodeHeader, HEADER_BYTES } from './record.ts';
import { listSegments, readCommitted, type SpoolFs, type SpoolPosition, segmentPath } from './segment-files.ts';

/** What a spool directory holds after a restart. */
export interface RecoveredSpool {
  committed: SpoolPosition;
  /** Valid bytes of every segment file kept, by id. */
  segments: Map<number, number>;
  /** Lines (and their record bytes) after the committed position: they wait to be written again. */
  lines: number;
  bytes: number;
  /** Bytes cut off because a record was torn or corrupt. */
  droppedBytes: number;
  /** The highest segment id in use: a new active segment takes the next one. */
  lastSegment: number;
}

/**
 * Recovers a spool directory on open: deletes drained segments, validates every record after the committed
 * position and cuts each file at its first torn or corrupt record (a power cut mid-write: never acknowledged).
 */
export async function recoverSpool(fs: SpoolFs, dir: string, log: Logger): Promise<RecoveredSpool> {
  const saved = await readCommitted(fs, dir);
  const ids = await listSegments(fs, dir);
  const committed = saved ?? { segment: ids[0] ?? 1, offset: 0 };
  const r: RecoveredSpool = { committed, segments: new Map(), lines: 0, bytes: 0, droppedBytes: 0, lastSegment: 0 };
  for (const id of ids) {
    if (id < committed.segment) {
      await fs.unlink(segmentPath(dir, id));
      continue;
    }
    await recoverSegment(fs, dir, id, id === committed.segment ? committed.offset : 0, r, log);
  }
  const start = r.segments.get(committed.segment);
  if (start === undefined || committed.offset > start) committed.offset = start ?? 0;
  r.lastSegment = Math.max(committed.segment, ids.at(-1) ?? 0);
  return r;
}

/** Validates every record of one segment from `from` on; cuts the file at the first torn or corrupt one. */
async function recoverSegment(
  fs: SpoolFs,
  dir: string,
  id: number,
  from: number,
  r: RecoveredSpool,
  log: Logger,
): Promise<void> {
  const file = segmentPath(dir, id);
  const data = await fs.readFile(file);
  let at = Math.min(from, data.length);
  while (at + HEADER_BYTES <= data.length) {
    const h = decodeHeader(data.subarray(at, at + HEADER_BYTES));
    const end = at + HEADER_BYTES + h.bodyBytes;
    if (end > data.length) break;
    if (checksum(data.subarray(at + 8, at + HEADER_BYTES), data.subarray(at + HEADER_BYTES, end)) !== h.crc) break;
    r.lines += h.lines;
    r.bytes += end - at;
    at = end;
  }
  if (at < data.length) {
    r.droppedBytes += data.length - at;
    log.warn(
      { segment: id, keptBytes: at, droppedBytes: data.length - at },
      'spool segment ends in a torn or corrupt record (never acknowledged); cutting it off',
    );
    await fs.truncate(file, at);
  }
  r.segments.set(id, at);
}
