import type { Logger } from './logger.ts';
import type { Service } from './service.ts';

export interface LastSeenStore {
  touchDevices(ids: string[], at: Date): Promise<void>;
}

/**
 * Collects device ids and writes their last-seen time in one statement per interval (SUS_LAST_SEEN_FLUSH_MS), never
 * one per message: the broker marks logins and disconnects, ingest marks readings. Ids whose write failed are kept
 * for the next interval (the set is bounded by the registered devices).
 */
export class LastSeenBatcher implements Service {
  private pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: LastSeenStore,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  mark(id: string): void {
    this.pending.add(id);
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const ids = [...this.pending];
    this.pending = new Set();
    try {
      await this.store.touchDevices(ids, new Date());
    } catch (err) {
      this.log.warn({ err: (err as Error).message, devices: ids.length }, 'last-seen update failed; retried');
      for (const id of ids) this.pending.add(id);
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
