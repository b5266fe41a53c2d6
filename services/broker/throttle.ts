export interface ThrottleOptions {
  /** Failures per address answered at once; each one after that waits twice as long as the one before. */
  freeFailures: number;
  /** From this many failures on, the address is refused without checking its credentials until the window ends. */
  maxFailures: number;
  baseDelayMs: number;
  maxDelayMs: number;
  windowMs: number;
}

interface Entry {
  failures: number;
  /** The window restarts with every failure: a slow, steady guesser stays blocked. */
  expires: number;
}

/**
 * Failed logins per source address. Devices behind one NAT share an address, so the free failures leave room for a
 * few misconfigured devices; a password guesser is slowed down exponentially and then locked out for the window.
 * A success does not clear the count: otherwise one valid credential would let a guesser reset its budget.
 */
export class FailedAttemptThrottle {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly options: ThrottleOptions,
    private readonly now: () => number = Date.now,
  ) {}

  private entry(address: string): Entry | undefined {
    const e = this.entries.get(address);
    if (e && e.expires <= this.now()) {
      this.entries.delete(address);
      return undefined;
    }
    return e;
  }

  /** True while the address has used up its failures: refuse before spending any work on its credentials. */
  blocked(address: string): boolean {
    return (this.entry(address)?.failures ?? 0) >= this.options.maxFailures;
  }

  /** How long to hold back the answer to the next attempt from this address. */
  delayMs(address: string): number {
    const failures = this.entry(address)?.failures ?? 0;
    const over = failures - this.options.freeFailures;
    if (over < 0) return 0;
    return Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** over);
  }

  recordFailure(address: string): void {
    const e = this.entry(address) ?? { failures: 0, expires: 0 };
    e.failures++;
    e.expires = this.now() + this.options.windowMs;
    this.entries.set(address, e);
    // Bounded memory under a spoofed-address flood: drop the oldest entries (Map keeps insertion order).
    if (this.entries.size > 100_000) {
      for (const key of this.entries.keys()) {
        this.entries.delete(key);
        if (this.entries.size <= 90_000) break;
      }
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
