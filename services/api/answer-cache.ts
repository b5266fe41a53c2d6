import type { SharedAnswer } from './etag.ts';

/** Bounds of one answer cache. */
export interface AnswerBounds {
  entries: number;
  bytes: number;
}

interface Entry {
  /** What the answer was built from (a store version, a rollup generation and plan): another one is not served. */
  version: string;
  /** Answers not tied to the version live `ttlMs` from when they were built. */
  expires: number | undefined;
  answer: Promise<SharedAnswer>;
  bytes: number;
}

/**
 * Finished answers (body, ETag, gzip form) by request, valid while what they were built from is unchanged: the
 * requests that arrive while one is built wait for it, and the polls after it are sent the same bytes. The caller's
 * key holds everything the answer depends on besides the version, the access scope first of all. Least recently
 * used answers go first once either bound is passed; a failed build is not kept.
 */
export class AnswerCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;

  constructor(
    private readonly bounds: AnswerBounds,
    /** How long an answer built as not tied to its version is served. */
    private readonly ttlMs = 0,
  ) {}

  /** The answer kept for `key` under `version`, or the one `build` makes (kept for the requests after it). */
  answer(
    key: string,
    version: string,
    build: () => Promise<{ answer: SharedAnswer; versioned: boolean }>,
    now = Date.now(),
  ): Promise<SharedAnswer> {
    const e = this.entries.get(key);
    if (e && e.version === version && (e.expires === undefined || now < e.expires)) {
      // Most recently used last: eviction takes the oldest.
      this.entries.delete(key);
      this.entries.set(key, e);
      return e.answer;
    }
    const built = build();
    const entry: Entry = { version, expires: undefined, answer: built.then((b) => b.answer), bytes: 0 };
    this.drop(key);
    this.entries.set(key, entry);
    built.then(
      ({ answer, versioned }) => {
        if (this.entries.get(key) !== entry) return;
        if (!versioned) entry.expires = Date.now() + this.ttlMs;
        entry.bytes = answer.body.length;
        this.bytes += entry.bytes;
        for (const k of this.entries.keys()) {
          if (this.bytes <= this.bounds.bytes && this.entries.size <= this.bounds.entries) break;
          if (k !== key) this.drop(k);
        }
        // One answer larger than the byte bound on its own is sent, not kept.
        if (this.bytes > this.bounds.bytes) this.drop(key);
      },
      // A failed build is not kept: the next request tries again.
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    return entry.answer;
  }

  private drop(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.bytes -= e.bytes;
    this.entries.delete(key);
  }

  /** Answers and bytes held (tests). */
  get size(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.bytes };
  }
}
