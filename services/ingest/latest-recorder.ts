import type { Logger } from '../common/logger.ts';
import type { LatestValue } from '../registry/index.ts';
import type { IngestedReading } from './normalise.ts';

export interface LatestSink {
  upsert(values: readonly LatestValue[]): Promise<number>;
}

/**
 * Pending values past which a flush starts at once instead of at the next tick. The map holds one entry per device ×
 * quantity, so registered devices × catalogue quantities bound it in any case.
 */
const FLUSH_AT = 20_000;

/**
 * Keeps the newest spooled reading of every device × quantity and writes them to the latest-value store in one
 * statement per interval: off the acknowledgement path (noting is a map update), like last-seen times. A failed
 * write keeps its values for the next one (newer ones noted meanwhile win).
 */
export class LatestRecorder {
  private pending = new Map<string, LatestValue>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly store: LatestSink,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  /** Called with readings once they are durable in the spool. */
  note(readings: readonly IngestedReading[]): void {
    // The reading itself is kept (it has the store's shape): no copy per reading on the message path.
    for (const r of readings) this.keep(r);
    if (this.pending.size >= FLUSH_AT && !this.flushing) void this.flush();
  }

  private keep(v: LatestValue): void {
    const k = `${v.device}\u0000${v.quantity}`;
    const had = this.pending.get(k);
    if (!had || had.time <= v.time) this.pending.set(k, v);
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  /** Writes what is pending; one write at a time (a second caller waits for the first, then writes the rest). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    this.flushing = this.store.upsert(batch).then(
      () => undefined,
      (err: Error) => {
        this.log.warn({ err: err.message, values: batch.length }, 'latest-value update failed; retried');
        for (const v of batch) this.keep(v);
      },
    );
    try {
      await this.flushing;
    } finally {
      this.flushing = undefined;
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
