import type { Queryable } from './db.ts';

const ignore = () => undefined;

// Per database, the statements the shared reads issued: reads change nothing, so one shared read (a version) does
// not make another's value (stale hours) unknown — otherwise each request's reads would undo each other's.
const sharedIssued = new WeakMap<Queryable, { n: number }>();

/**
 * A small registry read that every caller wants fresh and many callers ask for at once (a store's version, a
 * quantity's stale hours): callers that arrive while a read is under way share the next one — that read starts
 * after they asked, so it sees every change committed before — and polling clients cost one registry round trip
 * per burst instead of one each. Where this process is the database's one client (PGlite: `statementsIssued`), the
 * last value read is answered without a query while no statement was issued since: it can only change by a
 * statement of this process, so the next read after one sees it. On embedded PGlite each such read took about a
 * third of a cached answer's CPU (bench:api, tests/bench/README.md). The reads themselves do not count as such
 * statements: they must only read.
 */
export class SharedRead<T> {
  private current: Promise<T> | undefined;
  private next: Promise<T> | undefined;
  /**
   * The last value read and the count of other statements (not shared reads) just after its read was issued
   * (single-client databases only).
   */
  private known: { value: T; at: number } | undefined;
  private readonly own: { n: number };

  constructor(
    private readonly db: Queryable,
    /** Reads only, and issues its statement before its first await (the count taken right after includes it). */
    private readonly read: () => Promise<T>,
  ) {
    let own = sharedIssued.get(db);
    if (!own) {
      own = { n: 0 };
      sharedIssued.set(db, own);
    }
    this.own = own;
  }

  /** Statements issued through the database except the shared reads' own (undefined: other clients write too). */
  private others(): number | undefined {
    const issued = this.db.statementsIssued?.();
    return issued === undefined ? undefined : issued - this.own.n;
  }

  get(): Promise<T> {
    const known = this.known;
    if (known !== undefined && known.at === this.others()) return Promise.resolve(known.value);
    if (!this.current) return this.start();
    this.next ??= this.current.then(ignore, ignore).then(() => {
      this.next = undefined;
      return this.start();
    });
    return this.next;
  }

  private start(): Promise<T> {
    const before = this.db.statementsIssued?.() ?? 0;
    const query = this.read();
    this.own.n += (this.db.statementsIssued?.() ?? 0) - before;
    // Counted after the read was issued: a statement issued later (and so possibly run later) makes it stale.
    const at = this.others();
    const read = query.then((value) => {
      if (at !== undefined) this.known = { value, at };
      return value;
    });
    this.current = read;
    const done = () => {
      if (this.current === read) this.current = undefined;
    };
    read.then(done, done);
    return read;
  }
}
