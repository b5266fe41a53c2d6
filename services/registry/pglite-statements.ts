import type { PGlite } from '@electric-sql/pglite';

/** What the statements need of `@electric-sql/pglite` (loaded lazily by openDb, so passed in). */
export type PGliteModule = Pick<typeof import('@electric-sql/pglite'), 'protocol' | 'parse'>;

type Backend = Awaited<ReturnType<PGlite['execProtocolStream']>>[number];

interface Prepared {
  name: string;
  paramTypes: number[];
  /** The statement's RowDescription (null: it returns no rows), which parseResults reads the rows by. */
  row: Backend | null;
}

const SYNC = new Uint8Array([0x53, 0, 0, 0, 4]); // the protocol's Sync message ('S', length 4)

/** Statements kept prepared at most; the least recently used one is closed beyond it (dynamic SQL). */
const MAX_PREPARED = 256;

/**
 * Registry statements on the embedded PGlite as named prepared statements, by their SQL text. PGlite's query()
 * parses and plans every statement anew, in the same thread as ingest: ~0.7–1 ms of CPU for an alert's row lookup,
 * against ~0.3 ms bound to a statement prepared once (bench:alerts, each alert change runs about seven).
 * Must be called inside PGlite's query mutex (see PGliteDb), as its own query() does.
 */
export class PreparedStatements {
  private readonly byText = new Map<string, Prepared>();
  private next = 0;

  constructor(
    private readonly pglite: PGlite,
    private readonly mod: PGliteModule,
  ) {}

  async query<T>(sql: string, params: readonly unknown[]): Promise<T[]> {
    const { serialize } = this.mod.protocol;
    const p = await this.prepared(sql);
    const values = params.map((v, i) => {
      if (v === null || v === undefined) return null;
      const type = p.paramTypes[i];
      const toText = type === undefined ? undefined : this.pglite.serializers[type];
      return toText ? (toText(v) as string) : String(v);
    });
    // Bind, Execute and Sync in one call into PGlite (one pass of its backend; a Sync ends an error's exchange too).
    const messages = await this.run(serialize.bind({ statement: p.name, values }), serialize.execute({}), SYNC);
    if (p.row) messages.unshift(p.row);
    return (this.mod.parse.parseResults(messages, this.pglite.parsers)[0]?.rows ?? []) as T[];
  }

  private run(...parts: Uint8Array[]) {
    const message = new Uint8Array(parts.reduce((n, m) => n + m.length, 0));
    let at = 0;
    for (const m of parts) {
      message.set(m, at);
      at += m.length;
    }
    return this.pglite.execProtocolStream(message, { syncToFs: false });
  }

  private async prepared(sql: string): Promise<Prepared> {
    const hit = this.byText.get(sql);
    if (hit) {
      // Most recently used last: Map order is the eviction order.
      this.byText.delete(sql);
      this.byText.set(sql, hit);
      return hit;
    }
    const { serialize } = this.mod.protocol;
    if (this.byText.size >= MAX_PREPARED) {
      const [oldText, old] = this.byText.entries().next().value as [string, Prepared];
      this.byText.delete(oldText);
      await this.run(serialize.close({ type: 'S', name: old.name }), SYNC);
    }
    const name = `sus_${this.next++}`;
    const described = await this.run(
      serialize.parse({ name, text: sql }),
      serialize.describe({ type: 'S', name }),
      SYNC,
    );
    const p: Prepared = {
      name,
      paramTypes: this.mod.parse.parseDescribeStatementResults(described),
      row: described.find((m) => m.name === 'rowDescription') ?? null,
    };
    this.byText.set(sql, p);
    return p;
  }
}
