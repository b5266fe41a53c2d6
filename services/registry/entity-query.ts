import type { Db } from './db.ts';
import { type DeviceRow, toDevice } from './device-row.ts';
import type { Device } from './types.ts';

/**
 * Pages of the registry's devices, their Datastreams (device × quantity of its type) and device types, filtered,
 * ordered and paged in SQL: what the SensorThings API (services/api/sta) asks instead of reading the whole fleet.
 * The statement's skeleton and the access rule are written here; the caller adds a condition and an order over the
 * aliases below, through `bind` (every value of a request is a parameter, never text of the statement).
 *
 * Aliases: `d` devices, `t` device_types (its type), `s.q` the quantity of a Datastream, `c` its catalogue entry
 * (`c.name, c.description, c.unit, c.unit_name, c.unit_definition, c.definition`).
 */
export type EntityRows = 'devices' | 'located' | 'streams' | 'types';

/** What a caller may see: everything, or a department's own devices (null: none) and what its grants cover. */
export type EntityAccess =
  | { all: true }
  | {
      all: false;
      department: string | null;
      /** Active grants without an aggregation floor (raw readings): the same fields as grantCovers checks. */
      grants: Array<{ owner: string; quantities: string[]; deviceTypes: string[] | null; districts: string[] | null }>;
    };

export interface CatalogueRow {
  name: string;
  description: string;
  unit: string;
  unitName: string | null;
  unitDefinition: string | null;
  definition: string | null;
}

/** What a fragment writer gets: a parameter binder and the visibility of a Datastream for EXISTS sub-queries. */
export interface SqlContext {
  bind(value: unknown): string;
  /**
   * The visible Datastreams of device alias `dev` for an EXISTS sub-query: `sql` is `<from-list> WHERE <conditions>`
   * (continue with `AND …`), `q` the quantity, `c` the catalogue row and `t` the type aliases inside it.
   */
  streamsOf(dev: string): { sql: string; q: string; c: string; t: string };
  /** A fresh alias (`x3`) for a sub-query's own rows. */
  alias(prefix: string): string;
  /** The condition that device alias `dev` has at least one visible Datastream (or belongs to the reader). */
  visible(dev: string): string;
}

export interface EntityQuery {
  rows: EntityRows;
  access: EntityAccess;
  catalogue: CatalogueRow[];
  where?: (c: SqlContext) => string;
  orderBy?: (c: SqlContext) => string;
  limit: number;
  offset: number;
  count: boolean;
}

export interface EntityRow {
  device?: Device;
  quantity?: string;
  typeId?: string;
}

const DEVICE_SELECT =
  'd.id, d.name, d.department_id, d.type, d.district, d.lat, d.lon, d.created_at, d.last_seen_at, t.id AS type_id';

interface Row extends Omit<DeviceRow, 'secret_hash'> {
  type_id: string;
  q?: string;
}

export class EntityQueries {
  constructor(private readonly db: Db) {}

  /** One page (`limit` rows from `offset`) and, when asked, the total: two statements at most. */
  async page(q: EntityQuery): Promise<{ rows: EntityRow[]; count?: number }> {
    const params: unknown[] = [];
    const bind = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    // Bound when first used: a parameter the statement does not use has no type PostgreSQL can infer.
    let catTable: string | undefined;
    const cat = () => {
      catTable ??= catalogueTable(q.catalogue, bind);
      return catTable;
    };
    const grantCond = (dev: string, quantity: string): string => {
      if (q.access.all) return 'TRUE';
      const own = q.access.department === null ? 'FALSE' : `${dev}.department_id = ${bind(q.access.department)}`;
      const gs = q.access.grants.map(
        (g) =>
          `(${dev}.department_id = ${bind(g.owner)} AND ${quantity} = ANY(${bind(g.quantities)}::text[])` +
          (g.deviceTypes ? ` AND ${dev}.type = ANY(${bind(g.deviceTypes)}::text[])` : '') +
          (g.districts ? ` AND ${dev}.district = ANY(${bind(g.districts)}::text[])` : '') +
          ')',
      );
      return `(${[own, ...gs].join(' OR ')})`;
    };
    let sub = 0;
    const alias = (prefix: string) => `${prefix}${++sub}`;
    const streamsOf = (dev: string) => {
      // Aliases inside a sub-query are its own (t1, s1, c1 …), so nested sub-queries do not shadow the outer row.
      const n = ++sub;
      return {
        sql: `device_types t${n} CROSS JOIN LATERAL unnest(t${n}.quantities) AS s${n}(q) JOIN ${cat()} AS c${n} ON c${n}.name = s${n}.q WHERE t${n}.id = ${dev}.type AND ${grantCond(dev, `s${n}.q`)}`,
        q: `s${n}.q`,
        c: `c${n}`,
        t: `t${n}`,
      };
    };
    const visible = (dev: string): string =>
      q.access.all
        ? 'TRUE'
        : q.access.department === null
          ? `EXISTS (SELECT 1 FROM ${streamsOf(dev).sql})`
          : `(${dev}.department_id = ${bind(q.access.department)} OR EXISTS (SELECT 1 FROM ${streamsOf(dev).sql}))`;
    const ctx: SqlContext = { bind, streamsOf, visible, alias };
    let from: string;
    let select: string;
    let conds: string[];
    switch (q.rows) {
      case 'devices':
      case 'located':
        from = 'devices d JOIN device_types t ON t.id = d.type';
        select = DEVICE_SELECT;
        conds = [visible('d'), ...(q.rows === 'located' ? ['d.lat IS NOT NULL AND d.lon IS NOT NULL'] : [])];
        break;
      case 'streams':
        from = `devices d JOIN device_types t ON t.id = d.type CROSS JOIN LATERAL unnest(t.quantities) AS s(q) JOIN ${cat()} AS c ON c.name = s.q`;
        select = `${DEVICE_SELECT}, s.q`;
        conds = [grantCond('d', 's.q')];
        break;
      case 'types':
        from = 'device_types t';
        select = 't.id AS type_id';
        conds = [`EXISTS (SELECT 1 FROM devices d WHERE d.type = t.id AND ${visible('d')})`];
        break;
    }
    const where = q.where?.(ctx);
    if (where) conds.push(`(${where})`);
    const body = `FROM ${from} WHERE ${conds.join(' AND ')}`;
    // The count reads the condition's parameters only (an unused parameter has no type PostgreSQL can infer).
    const fixed = params.length;
    const order = q.orderBy?.(ctx);
    const rows = await this.db.query<Row>(
      `SELECT ${select} ${body}${order ? ` ORDER BY ${order}` : ''} LIMIT ${bind(q.limit)} OFFSET ${bind(q.offset)}`,
      params,
    );
    let count: number | undefined;
    if (q.count) {
      const [r] = await this.db.query<{ n: number }>(`SELECT count(*)::int AS n ${body}`, params.slice(0, fixed));
      count = r?.n ?? 0;
    }
    return {
      rows: rows.map((r) =>
        q.rows === 'types'
          ? { typeId: r.type_id }
          : {
              device: toDevice(r),
              typeId: r.type_id,
              ...(r.q !== undefined ? { quantity: r.q } : {}),
            },
      ),
      ...(count !== undefined ? { count } : {}),
    };
  }
}

/** The catalogue as a table of parameters: the registry does not hold it, the filter reads its names and units. */
function catalogueTable(rows: CatalogueRow[], bind: (v: unknown) => string): string {
  const col = (f: (r: CatalogueRow) => string | null) => `${bind(rows.map(f))}::text[]`;
  return `(SELECT * FROM unnest(${col((r) => r.name)}, ${col((r) => r.description)}, ${col((r) => r.unit)}, ${col(
    (r) => r.unitName,
  )}, ${col((r) => r.unitDefinition)}, ${col((r) => r.definition)}) AS x(name, description, unit, unit_name, unit_definition, definition))`;
}
