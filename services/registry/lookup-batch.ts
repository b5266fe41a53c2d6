/**
 * Single-key lookups answered by one query for all their keys. A reconnect storm of thousands of devices would
 * otherwise cost one registry round trip per CONNECT; with PostgreSQL as the registry each round trip is a socket
 * write and read on both sides of the same machine. In a storm CONNECTs arrive one per event-loop turn and a round
 * trip is shorter than the time between two of them, so batching by turn alone left ~1 key per query (9,888 queries
 * for 10,000 logins): now keys wait while a query is out, and queries are at least `minIntervalMs` apart. A quiet
 * node's lookup still goes at once. Every caller gets its answer from a query sent after its lookup (nothing is kept
 * once a batch is answered, no key joins a query already sent), so a rotation or revocation takes effect exactly as
 * with one query per lookup.
 */
export class LookupBatch<K, V> {
  private pending = new Map<K, Array<{ resolve: (v: V | undefined) => void; reject: (e: unknown) => void }>>();
  private scheduled = false;
  private inFlight = 0;
  private lastSent = Number.NEGATIVE_INFINITY;

  constructor(
    /** The rows of these keys (absent keys are simply missing from the map). */
    private readonly lookupMany: (keys: K[]) => Promise<Map<K, V>>,
    /** The most keys one query carries; more are split across queries. */
    private readonly maxKeys = 500,
    /**
     * The shortest time between two queries: keys asked sooner after the last one wait for the rest of it. A quiet
     * node's lookup goes at once; in a storm a lookup waits at most this long and shares its query with the others.
     */
    private readonly minIntervalMs = 5,
  ) {}

  load(key: K): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      const waiting = this.pending.get(key);
      if (waiting) waiting.push({ resolve, reject });
      else this.pending.set(key, [{ resolve, reject }]);
      // A full batch goes at once, query out or not: the wait stays bounded by one batch per round trip.
      if (this.pending.size >= this.maxKeys) this.flush();
      else if (!this.scheduled && this.inFlight === 0) this.schedule();
    });
  }

  private schedule(): void {
    this.scheduled = true;
    const wait = this.lastSent + this.minIntervalMs - performance.now();
    // setImmediate, not a microtask: the CONNECTs of one poll phase (each read in its own callback) share a query.
    if (wait > 0) setTimeout(() => this.flush(), wait);
    else setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.inFlight++;
    this.lastSent = performance.now();
    this.lookupMany([...batch.keys()])
      .then(
        (found) => {
          for (const [key, waiting] of batch) for (const w of waiting) w.resolve(found.get(key));
        },
        (err: unknown) => {
          for (const waiting of batch.values()) for (const w of waiting) w.reject(err);
        },
      )
      .finally(() => {
        this.inFlight--;
        // The keys that arrived while this query was out.
        if (this.inFlight === 0 && !this.scheduled && this.pending.size > 0) this.schedule();
      });
  }
}
