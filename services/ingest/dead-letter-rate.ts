import type { DeadLetterReason, NewIngestDeadLetter } from '../registry/index.ts';
import { REASON, reason } from './reasons.ts';

/** Where summary rows go: filed like a dead letter, then kept up to date with their count. */
export interface SummaryStore {
  addDeadLetter(d: NewIngestDeadLetter): Promise<number>;
  updateSuppressed(id: number, suppressed: number, reasons: DeadLetterReason[]): Promise<void>;
}

export interface DeadLetterRateOptions {
  /** Dead letters one device may file per window (SUS_DEAD_LETTER_RATE). */
  limit: number;
  windowMs: number;
}

/** Devices tracked per window; beyond it the rest share one count, so made-up ids cannot grow the map. */
const MAX_KEYS = 10_000;
const OVERFLOW_KEY = '\u0000other devices';

interface Summary {
  id: Promise<number>;
  device: string | null;
  count: number;
  /** Count written to the row so far. */
  written: number;
  byCode: Map<string, number>;
  first: number;
  last: number;
}

/**
 * A per-device rate of dead letters. A device that keeps sending what ingest cannot use (a broken firmware, a
 * hostile client) files at most `limit` dead letters per window; every further reject of the window is counted into
 * one summary row of that device — filed with the first such message as its sample, its count and reasons brought
 * up to date by `flush()` — never dropped unseen: the row lists how many it stands for, and `suppressed` counts
 * them for the self-metrics.
 */
export class DeadLetterRate {
  /** Rejects counted into summary rows since start. */
  suppressed = 0;
  private window = Number.NaN;
  private readonly filed = new Map<string, number>();
  private summaries = new Map<string, Summary>();
  /** Summaries of past windows whose last counts are not written yet. */
  private closing: Summary[] = [];

  constructor(
    private readonly options: DeadLetterRateOptions,
    private readonly store: SummaryStore,
  ) {}

  /** The key a reject counts under: its device, or its source for rejects that name none. */
  static key(device: string | null | undefined, source: string): string {
    return device ? `d:${device}` : `s:${source}`;
  }

  /** True when `key` may file one more dead letter in this window (and counts it). */
  admit(key: string, now: number): boolean {
    this.roll(now);
    const k = this.filed.has(key) || this.filed.size < MAX_KEYS ? key : OVERFLOW_KEY;
    const n = this.filed.get(k) ?? 0;
    if (n >= this.options.limit) return false;
    this.filed.set(k, n + 1);
    return true;
  }

  /**
   * Counts a reject `admit` refused into its device's summary row; resolves with the row id once the row is stored
   * (the first reject of the window files it, with its payload as the sample).
   */
  suppress(key: string, d: NewIngestDeadLetter, now: number): Promise<number> {
    this.suppressed++;
    const s = this.summaries.get(key) ?? this.summaries.get(OVERFLOW_KEY);
    if (!s) {
      const k = this.summaries.size < MAX_KEYS ? key : OVERFLOW_KEY;
      const first: Summary = {
        id: Promise.resolve(0),
        device: k === OVERFLOW_KEY ? null : (d.device ?? null),
        count: 1,
        written: 1,
        byCode: countCodes(new Map(), d.reasons),
        first: now,
        last: now,
      };
      first.id = this.store.addDeadLetter({ ...d, reasons: this.describe(first), suppressed: 1 });
      // A failed insert must not leave a row id that never comes: the next reject files a new row.
      first.id.catch(() => {
        if (this.summaries.get(k) === first) this.summaries.delete(k);
      });
      this.summaries.set(k, first);
      return first.id;
    }
    s.count++;
    s.last = now;
    countCodes(s.byCode, d.reasons);
    return s.id;
  }

  /** Writes the counts that changed since the last flush (the summaries of closed windows too). */
  async flush(now = Date.now()): Promise<void> {
    this.roll(now);
    const current = new Set(this.summaries.values());
    let failure: unknown;
    for (const s of [...current, ...this.closing.splice(0)]) {
      if (s.count === s.written) continue;
      // A row whose insert failed has nothing to update (its rejects were refused with the insert).
      const id = await s.id.catch(() => undefined);
      if (id === undefined) continue;
      const count = s.count;
      try {
        await this.store.updateSuppressed(id, count, this.describe(s));
        s.written = count;
      } catch (err) {
        failure ??= err;
        // A current summary is retried by the next flush anyway; a closed one is kept for it.
        if (!current.has(s)) this.closing.push(s);
      }
    }
    if (failure !== undefined) throw failure;
  }

  private roll(now: number): void {
    const window = Math.floor(now / this.options.windowMs);
    if (window === this.window) return;
    this.window = window;
    this.filed.clear();
    for (const s of this.summaries.values()) if (s.count !== s.written) this.closing.push(s);
    this.summaries = new Map();
  }

  private describe(s: Summary): DeadLetterReason[] {
    const { limit, windowMs } = this.options;
    const who = s.device === null ? 'of senders without a device or beyond the tracked devices' : `of '${s.device}'`;
    const codes = [...s.byCode]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([code, n]) => `${code} ×${n}`)
      .join(', ');
    return [
      reason(
        REASON.DEAD_LETTERS_SUPPRESSED,
        `${s.count} rejected messages ${who} from ${new Date(s.first).toISOString()} to ` +
          `${new Date(s.last).toISOString()} are counted here, not filed one by one: more than ${limit} dead ` +
          `letters within ${windowMs / 1000} s (SUS_DEAD_LETTER_RATE); the payload is the first of them. By reason: ${codes}`,
      ),
    ];
  }
}

function countCodes(byCode: Map<string, number>, reasons: readonly DeadLetterReason[]): Map<string, number> {
  // Codes come from a fixed set; the bound is for reasons that did not.
  for (const r of reasons)
    if (byCode.size < 50 || byCode.has(r.code)) byCode.set(r.code, (byCode.get(r.code) ?? 0) + 1);
  return byCode;
}
