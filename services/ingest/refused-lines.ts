import { SusError } from '../common/errors.ts';
import { lineTags } from '../common/line-protocol.ts';
import type { NewDeadLetter } from '../registry/index.ts';
import { REASON, reason } from './reasons.ts';

/** A line InfluxDB refused on its own, with InfluxDB's reason. */
export interface RefusedLine {
  /** Index of the line in its batch. */
  index: number;
  line: string;
  status: number;
  reason: string;
}

export interface SplitOutcome {
  /** Lines InfluxDB took (some may have been sent more than once: a rewrite stores the same point). */
  written: number;
  refused: RefusedLine[];
  /** Requests the split took. */
  requests: number;
}

/** True for InfluxDB's answer that the request's lines are refused (400, 413, 422), not that it is unavailable. */
export const isRefusal = (err: unknown): err is SusError =>
  err instanceof SusError && err.code === 'SUS_ERR_INFLUX_REJECTED';

/**
 * Delivers a batch InfluxDB refused (`refusal`): halves it until every line is written or refused on its own.
 *
 * InfluxDB 2.x refuses a whole request for one bad line (and 413 one too large); 1.x writes the good lines and
 * answers 400 "partial write". Halving serves both: a half that holds no bad line is written (on 1.x again, which
 * stores the same points — a rewrite is idempotent), a refused half is halved again, and a single refused line is
 * what the caller dead-letters. One bad line among n costs about 2·log2(n) requests. Any other failure (InfluxDB
 * unavailable) is thrown: the caller retries the whole batch later.
 */
export async function splitRefused(
  lines: readonly string[],
  refusal: SusError,
  send: (body: Buffer) => Promise<void>,
): Promise<SplitOutcome> {
  const out: SplitOutcome = { written: 0, refused: [], requests: 0 };
  // Ranges [from, to) still to deliver, left half on top: lines stay in order.
  const todo: Array<[number, number]> = [];
  const settle = (from: number, to: number, err: SusError) => {
    if (to - from > 1) {
      const mid = (from + to) >>> 1;
      todo.push([mid, to], [from, mid]);
      return;
    }
    const status = typeof err.context.status === 'number' ? err.context.status : 0;
    const why = typeof err.context.reason === 'string' ? err.context.reason : err.message;
    out.refused.push({ index: from, line: lines[from]!, status, reason: why });
  };
  if (lines.length > 0) settle(0, lines.length, refusal);
  for (let range = todo.pop(); range !== undefined; range = todo.pop()) {
    const [from, to] = range;
    out.requests++;
    try {
      await send(Buffer.from(lines.slice(from, to).join('\n')));
      out.written += to - from;
    } catch (err) {
      if (!isRefusal(err)) throw err;
      settle(from, to, err);
    }
  }
  return out;
}

/**
 * The dead letter of a refused line: its device and source from the line's tags (self-metrics and presence lines
 * have no source: `influxdb`), the line itself as the payload, InfluxDB's reason.
 */
export function refusedLineDeadLetter(r: RefusedLine, at: Date): NewDeadLetter & { format: string } {
  const tags = lineTags(r.line);
  return {
    source: tags.get('source') || 'influxdb',
    topic: null,
    device: tags.get('device') || null,
    reasons: [reason(REASON.INFLUX_REFUSED, `InfluxDB refused the line (${r.status}): ${r.reason}`)],
    payload: Buffer.from(r.line),
    receivedAt: at,
    format: 'line-protocol',
  };
}
