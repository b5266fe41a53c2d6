/**
 * Single-key lookups made in the same turn of the event loop, answered by one query for all their keys. A reconnect
 * storm of thousands of devices would otherwise cost one registry round trip per CONNECT; with PostgreSQL as the
 * registry each round trip is a socket write and read on both sides of the same machine. Every caller still gets a
 * fresh answer from the registry (nothing is kept once its batch is answered), so a rotation or revocation takes
 * effect exactly as it did with one query per lookup.
 */
export class LookupBatch<K, V> {
  private pending = new Map<K, Array<{ resolve: (v: V | undefined) => void; reject: (e: unknown) => void }>>();
  private scheduled = false;

  constructor(
    /** The rows of these keys (absent keys are simply missing from the map). */
    private readonly lookupMany: (keys: K[]) => Promise<Map<K, V>>,
    /** The most keys one query carries; more are split across queries. */
    private readonly maxKeys = 500,
  ) {}

  load(key: K): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      const waiting = this.pending.get(key);
      if (waiting) waiting.push({ resolve, reject });
      else this.pending.set(key, [{ resolve, reject }]);
      if (this.pending.size >= this.maxKeys) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        // setImmediate, not a microtask: the CONNECTs of one poll phase (each read in its own callback) share a query.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.lookupMany([...batch.keys()]).then(
      (found) => {
        for (const [key, waiting] of batch) for (const w of waiting) w.resolve(found.get(key));
      },
      (err: unknown) => {
        for (const waiting of batch.values()) for (const w of waiting) w.reject(err);
      },
    );
  }
}
