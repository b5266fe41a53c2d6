import { crc32 } from 'node:zlib';

/**
 * One spool record: the lines of one group commit, framed so a torn tail (power loss mid-write) is detected on open.
 *
 *   u32 body length · u32 crc32(line count, appended-at, body) · u32 line count · f64 appended-at (epoch ms) · body
 *
 * The body is line protocol, lines separated by `\n`, exactly what InfluxDB's write endpoints take. The spool
 * encodes records in place (group-commit.ts): appends write into the body, `sealRecord` fills in the header.
 */
export const HEADER_BYTES = 20;

export interface RecordHeader {
  bodyBytes: number;
  crc: number;
  lines: number;
  appendedAt: number;
}

export function decodeHeader(buf: Buffer): RecordHeader {
  return {
    bodyBytes: buf.readUInt32LE(0),
    crc: buf.readUInt32LE(4),
    lines: buf.readUInt32LE(8),
    appendedAt: buf.readDoubleLE(12),
  };
}

/** The crc covers the header fields after it as well, so a corrupt line count cannot go unnoticed. */
export function checksum(headerTail: Buffer, body: Buffer): number {
  return crc32(body, crc32(headerTail));
}

/** Fills in the header of a record encoded in place (`buf[HEADER_BYTES, end)` holds the body); returns the record. */
export function sealRecord(buf: Buffer, end: number, lines: number, appendedAt: number): Buffer {
  buf.writeUInt32LE(end - HEADER_BYTES, 0);
  buf.writeUInt32LE(lines, 8);
  buf.writeDoubleLE(appendedAt, 12);
  buf.writeUInt32LE(checksum(buf.subarray(8, HEADER_BYTES), buf.subarray(HEADER_BYTES, end)), 4);
  return buf.subarray(0, end);
}
