export interface ThrottleOptions {
  /** Failures per (address, username) answered at once; each one after that waits twice as long as the one before. */
  freeFailures: number;
  /** From this many failures on, the (address, username) pair is refused without checking until the window ends. */
  maxFailures: number;
  /**
   * Failures per address, all usernames together, answered at once; each one after that doubles the wait of every
   * login from the address, and only this many of its logins may wait at the same time.
   */
  addressFreeFailures: number;
  baseDelayMs: number;
  maxDelayMs: number;
  windowMs: number;
  /** Entries kept per map (pairs, addresses); the oldest go first. */
  maxEntries: number;
}

interface Entry {
  failures: number;
  /** The window restarts with every failure: a slow, steady guesser stays blocked. */
  expires: number;
}

// Usernames come from the wire (up to 64 KiB): the key keeps enough to tell real ones apart (device ids ≤ 64).
const USERNAME_KEY_CHARS = 256;

/** Failure counts with a sliding window, at most `maxEntries` of them. */
class FailureCounts {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly options: Pick<ThrottleOptions, 'windowMs' | 'maxEntries'>,
    private readonly now: () => number,
  ) {}

  failures(key: string): number {
    const e = this.entries.get(key);
    if (e && e.expires <= this.now()) {
      this.entries.delete(key);
      return 0;
    }
    return e?.failures ?? 0;
  }

  record(key: string): void {
    this.put(key, this.failures(key) + 1);
  }

  private put(key: string, failures: number): void {
    // Re-inserted, so the map's order is by last failure and the eviction below drops the quietest entries.
    this.entries.delete(key);
    this.entries.set(key, { failures, expires: this.now() + this.options.windowMs });
    if (this.entries.size > this.options.maxEntries) {
      const keep = Math.floor(this.options.maxEntries * 0.9);
      for (const k of this.entries.keys()) {
        this.entries.delete(k);
        if (this.entries.size <= keep) break;
      }
    }
  }

  /** Takes a count seen elsewhere (another node, through Redis) when it is higher than this one's. */
  raise(key: string, failures: number): void {
    if (failures > this.failures(key)) this.put(key, failures);
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * Failed logins per (source address, username), and per address. Devices behind one carrier NAT share an address:
 * a guesser there locks out only the usernames it guessed at, never its neighbours. Its failures across usernames
 * still slow every login from the address down, and only a few of those logins may wait at once, so spraying many
 * usernames from one address stays slow and cannot pile up pending logins. A success does not clear any count:
 * otherwise one valid credential would let a guesser reset its budget.
 */
export class FailedAttemptThrottle {
  private readonly pairs: FailureCounts;
  private readonly addresses: FailureCounts;
  /** Logins waiting out a delay, per address: only addresses with one in progress have an entry. */
  private readonly waiting = new Map<string, number>();

  constructor(
    private readonly options: ThrottleOptions,
    now: () => number = Date.now,
  ) {
    this.pairs = new FailureCounts(options, now);
    this.addresses = new FailureCounts(options, now);
  }

  static pair(address: string, username: string | undefined): string {
    return `${address}\u0000${(username ?? '').slice(0, USERNAME_KEY_CHARS)}`;
  }

  /** True while the pair has used up its failures: refuse before spending any work on its credentials. */
  blocked(address: string, username: string | undefined): boolean {
    return this.pairs.failures(FailedAttemptThrottle.pair(address, username)) >= this.options.maxFailures;
  }

  /** How long to hold back the answer to the next attempt: the longer of the pair's and the address's delay. */
  delayMs(address: string, username: string | undefined): number {
    const o = this.options;
    const pairOver = this.pairs.failures(FailedAttemptThrottle.pair(address, username)) - o.freeFailures;
    const addressOver = this.addresses.failures(address) - o.addressFreeFailures;
    const over = Math.max(pairOver, addressOver);
    if (over < 0) return 0;
    return Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** over);
  }

  /** Takes one of the address's waiting places; false when all are taken (the login is refused at once). */
  startWaiting(address: string): boolean {
    const n = this.waiting.get(address) ?? 0;
    if (n >= this.options.addressFreeFailures) return false;
    this.waiting.set(address, n + 1);
    return true;
  }

  stopWaiting(address: string): void {
    const n = (this.waiting.get(address) ?? 1) - 1;
    if (n > 0) this.waiting.set(address, n);
    else this.waiting.delete(address);
  }

  recordFailure(address: string, username: string | undefined): void {
    this.pairs.record(FailedAttemptThrottle.pair(address, username));
    this.addresses.record(address);
  }

  /**
   * Counts of the whole cluster (SharedFailureCounts): a guesser that spreads its attempts over the broker nodes
   * behind a load balancer meets the same limits as on one node.
   */
  learn(address: string, username: string | undefined, counts: { pair: number; address: number }): void {
    this.pairs.raise(FailedAttemptThrottle.pair(address, username), counts.pair);
    this.addresses.raise(address, counts.address);
  }

  /** Entries held: (address, username) pairs, addresses, addresses with logins waiting. */
  get size(): { pairs: number; addresses: number; waiting: number } {
    return { pairs: this.pairs.size, addresses: this.addresses.size, waiting: this.waiting.size };
  }
}
