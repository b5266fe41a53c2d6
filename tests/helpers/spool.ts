import type { Spool } from '../../services/ingest/spool/spool.ts';
import type { LineSender, RefusedLineStore } from '../../services/ingest/writer.ts';
import type { NewDeadLetter } from '../../services/registry/types.ts';

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

/** The dead-letter store behind the drainer, for spool tests: keeps the lines InfluxDB refused, as filed. */
export function recordingDeadLetters(): { filed: NewDeadLetter[]; store: RefusedLineStore } {
  const filed: NewDeadLetter[] = [];
  return { filed, store: { addDeadLetter: async (d) => filed.push(d) } };
}
