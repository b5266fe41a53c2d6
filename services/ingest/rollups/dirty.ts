import type { Logger } from '../../common/logger.ts';
import { HOUR_MS, windowStart } from '../../common/rollups.ts';
import type { DirtyMark } from '../../registry/index.ts';
import type { SpoolBatch } from '../spool/spool.ts';

const NEWLINE = 0x0a;
const SPACE = 0x20;
const COMMA = 0x2c;
const ZERO = 0x30;

/**
 * The (hour, quantity) of every reading in a batch of line protocol whose hour ended `settleMs` or more before now:
 * the rollup engine may have computed that hour already (it waits `settleMs` after an hour ends), so it must
 * compute it again. Lines of other measurements (presence, self-metrics) are skipped. Pure, so it is unit-tested.
 */
export function lateWindows(
  body: Buffer,
  measurements: ReadonlySet<string>,
  now: number,
  settleMs: number,
): Map<string, DirtyMark> {
  const closedBefore = windowStart(now - settleMs, HOUR_MS);
  const marks = new Map<string, DirtyMark>();
  let start = 0;
  while (start < body.length) {
    let end = body.indexOf(NEWLINE, start);
    if (end < 0) end = body.length;
    // Catalogue names are plain [a-z0-9_]: the measurement ends at the first comma or space.
    let m = start;
    while (m < end && body[m] !== COMMA && body[m] !== SPACE) m++;
    const measurement = body.toString('latin1', start, m);
    if (measurements.has(measurement)) {
      const sp = body.lastIndexOf(SPACE, end - 1);
      let ok = sp > m && end > sp + 1;
      let t = 0;
      for (let i = sp + 1; ok && i < end; i++) {
        const digit = body[i]! - ZERO;
        ok = digit >= 0 && digit <= 9;
        t = t * 10 + digit;
      }
      if (ok && t < closedBefore) {
        const window = windowStart(t, HOUR_MS);
        marks.set(`${window}|${measurement}`, { window, measurement });
      }
    }
    start = end + 1;
  }
  return marks;
}

export interface DirtyRecorderOptions {
  settleMs: number;
  /** The catalogue's quantities: only readings have rollups. */
  measurements: ReadonlySet<string>;
  /** Marks kept while the registry cannot take them; beyond it they are dropped and counted. */
  maxPending: number;
}

/**
 * Records which hours late readings made stale, off the message path: ingest notes when it spooled a reading of an
 * ended hour (one comparison per reading, `Ingestor.lastLateAt`); the spool drainer hands over each batch InfluxDB
 * took, before committing it, and only batches appended up to that moment are looked into. Marks go to the registry
 * (rollup_dirty) before the commit, so a crash in between writes the batch again and marks it again. While the
 * registry is away the marks wait in memory (bounded) and are retried with the next batch or flush().
 */
export class DirtyRecorder {
  readonly stats = { marked: 0, dropped: 0 };
  private readonly pending = new Map<string, DirtyMark>();
  // Batches recovered from the spool were appended before this process started: each is looked into.
  private readonly startedAt = Date.now();
  private failing = false;

  constructor(
    private readonly store: { markDirty(marks: readonly DirtyMark[]): Promise<void> },
    private readonly ingest: { readonly lastLateAt: number },
    private readonly options: DirtyRecorderOptions,
    private readonly log: Logger,
  ) {}

  /** For SpoolDrainer.onDelivered. Never throws: a registry fault must not hold up the readings. */
  readonly onDelivered = async (batch: SpoolBatch): Promise<void> => {
    if (batch.oldestAppendedAt > Math.max(this.ingest.lastLateAt, this.startedAt)) return;
    const found = lateWindows(batch.body, this.options.measurements, Date.now(), this.options.settleMs);
    for (const [key, mark] of found) {
      if (this.pending.size >= this.options.maxPending && !this.pending.has(key)) {
        this.stats.dropped++;
        continue;
      }
      this.pending.set(key, mark);
    }
    await this.flush();
  };

  /** Hands the waiting marks to the registry; keeps them when it fails. */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const marks = [...this.pending.values()];
    try {
      await this.store.markDirty(marks);
      for (const m of marks) this.pending.delete(`${m.window}|${m.measurement}`);
      this.stats.marked += marks.length;
      if (this.failing) {
        this.failing = false;
        this.log.info({ marks: marks.length }, 'rollup dirty windows recorded again');
      }
    } catch (err) {
      if (!this.failing) {
        this.failing = true;
        this.log.warn(
          { err: (err as Error).message, pending: this.pending.size },
          'could not record dirty rollup windows; they wait in memory and are retried',
        );
      }
    }
  }

  get waiting(): number {
    return this.pending.size;
  }
}
