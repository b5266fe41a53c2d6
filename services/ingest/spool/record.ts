import { crc32 } from 'node:zlib';

/**
 * One spool record: the lines of one group commit, framed so a torn tail (power loss mid-write) is detected on open.
 *
 *   u32 body length · u32 crc32(line count, appended-at, body) · u32 line count · f64 appended-at (epoch ms) · body
 *
 * The body is line protocol, lines separated by `\n`, exactly what InfluxDB's write endpoints take.
 */
export const HEADER_BYTES = 20;

export interface RecordHeader {
  bodyBytes: number;
  crc: number;
  lines: number;
  appendedAt: number;
}

export function encodeRecord(body: Buffer, lines: number, appendedAt: number): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  out.writeUInt32LE(body.length, 0);
  out.writeUInt32LE(lines, 8);
  out.writeDoubleLE(appendedAt, 12);
  body.copy(out, HEADER_BYTES);
  out.writeUInt32LE(checksum(out.subarray(8, HEADER_BYTES), body), 4);
  return out;
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
