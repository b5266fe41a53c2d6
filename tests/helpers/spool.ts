import type { Spool } from '../../services/ingest/spool/spool.ts';
import type { LineSender } from '../../services/ingest/writer.ts';

/** Reads everything unread from the spool, in order, as lines. */
export async function readAll(spool: Spool): Promise<string[]> {
  const out: string[] = [];
  for (let b = await spool.read(1000); b; b = await spool.read(1000)) out.push(...b.body.toString().split('\n'));
  return out;
}

/** InfluxDB behind the LineSender seam, for spool tests: takes every batch at once and keeps its lines in order. */
export function recordingSender(): { lines: string[]; sender: LineSender } {
  const lines: string[] = [];
  const sender: LineSender = {
    async send(body) {
      lines.push(...body.toString().split('\n'));
    },
  };
  return { lines, sender };
}
