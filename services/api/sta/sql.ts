import type { SqlContext } from '../../registry/index.ts';
import { compare, constantValue } from './evaluate.ts';
import { type Expr, positionOf, StaQueryError, type Value } from './expression.ts';
import type { Geometry, Position } from './geo.ts';
import { OM_MEASUREMENT } from './model.ts';

/**
 * `$filter` and `$orderby` of the registry's entity sets as SQL (services/registry/entity-query.ts), with the
 * semantics of the in-memory evaluation (evaluate.ts): null and mismatched kinds compare as there, a path through a
 * collection holds when it holds for any member (EXISTS), geometry is planar. Every value of the request is a
 * parameter (`ctx.bind`); the statement's text comes from this file only. What has no translation is a
 * StaQueryError naming its position.
 */
type Kind = 'text' | 'num' | 'time' | 'bool' | 'point';
/** A condition on the row made to hold for "any" member of a collection (EXISTS) or guarded (a missing Location). */
interface Wrap {
  key: string;
  apply(cond: string): string;
}
type Operand =
  | { k: 'const'; v: Value }
  | { k: 'sql'; kind: Exclude<Kind, 'point'>; sql: string; wrap?: Wrap }
  | { k: 'sql'; kind: 'point'; lon: string; lat: string; wrap?: Wrap };

/** One row of an entity set: its aliases. */
export type Scope =
  | { s: 'Thing' | 'Location' | 'HistoricalLocation' | 'FeatureOfInterest'; d: string; wrap?: Wrap }
  | { s: 'Datastream'; d: string; q: string; c: string; t: string; wrap?: Wrap }
  | { s: 'Sensor'; t: string; wrap?: Wrap }
  | { s: 'ObservedProperty'; q: string; c: string; wrap?: Wrap };

const fail = (msg: string, e: Expr, option: string): never => {
  const at = positionOf(e);
  throw new StaQueryError(`${msg}${at === undefined ? '' : ` at position ${at}`}`, option);
};

const SQL_OP: Record<string, string> = { eq: '=', ne: '<>', gt: '>', ge: '>=', lt: '<', le: '<=' };
const CAST: Record<Exclude<Kind, 'point'>, string> = {
  text: 'text',
  num: 'float8',
  time: 'timestamptz',
  bool: 'boolean',
};

export class SqlFilter {
  constructor(
    private readonly ctx: SqlContext,
    private readonly option: string,
  ) {}

  private lit(kind: Exclude<Kind, 'point'>, v: unknown): string {
    return `${this.ctx.bind(v)}::${CAST[kind]}`;
  }

  /** A path from a row of `scope`: a column, a computed column, or another row through a navigation property. */
  private path(scope: Scope, p: string[], e: Expr): Operand {
    const [head, ...rest] = p;
    const w = scope.wrap;
    const col = (kind: Exclude<Kind, 'point'>, sql: string): Operand =>
      rest.length ? { k: 'const', v: null } : { k: 'sql', kind, sql, ...(w ? { wrap: w } : {}) };
    const text = (sql: string) => col('text', sql);
    const constant = (v: string) => (rest.length ? { k: 'const' as const, v: null } : { k: 'const' as const, v });
    const pt = (d: string): Operand =>
      rest.length
        ? { k: 'const', v: null }
        : { k: 'sql', kind: 'point', lon: `${d}.lon`, lat: `${d}.lat`, ...(w ? { wrap: w } : {}) };
    const prop = (map: Record<string, Operand>): Operand =>
      rest.length === 1 && rest[0]! in map ? map[rest[0]!]! : { k: 'const', v: null };
    const nav = (next: Scope): Operand => {
      if (rest.length === 0) fail(`'${p.join('/')}' is an entity, not a value`, e, this.option);
      return this.path(next, rest, e);
    };
    const located = (d: string): Wrap => {
      // A device without a position has no Location, HistoricalLocation or FeatureOfInterest.
      const g = (c: string) => `(${d}.lat IS NOT NULL AND ${d}.lon IS NOT NULL AND ${c})`;
      return w ? { key: `${w.key}/loc`, apply: (c) => w.apply(g(c)) } : { key: `loc:${d}`, apply: g };
    };
    const streamsOf = (d: string): Operand => {
      const x = this.ctx.streamsOf(d);
      const g = (c: string) => `EXISTS (SELECT 1 FROM ${x.sql} AND ${c})`;
      const wrap: Wrap = w ? { key: `${w.key}/${x.q}`, apply: (c) => w.apply(g(c)) } : { key: x.q, apply: g };
      return nav({ s: 'Datastream', d, q: x.q, c: x.c, t: x.t, wrap });
    };
    const whole = e.k === 'path' ? e.p : p;
    const unsupportedNav = (): never => fail(`'${whole.join('/')}' cannot be filtered in the registry`, e, this.option);
    if (head === 'id' || head === '@iot.id') {
      switch (scope.s) {
        case 'Datastream':
          return text(`(${scope.d}.id || ':' || ${scope.q})`);
        case 'Sensor':
          return text(`${scope.t}.id`);
        case 'ObservedProperty':
          return text(scope.q);
        default:
          return text(`${scope.d}.id`);
      }
    }
    switch (scope.s) {
      case 'Thing': {
        const d = scope.d;
        switch (head) {
          case 'name':
            return text(`${d}.name`);
          case 'description':
            return text(
              `(${d}.type || ' device of department ' || ${d}.department_id || COALESCE(' in ' || NULLIF(${d}.district, ''), ''))`,
            );
          case 'properties':
            return prop({
              department: { k: 'sql', kind: 'text', sql: `${d}.department_id`, ...(w ? { wrap: w } : {}) },
              district: { k: 'sql', kind: 'text', sql: `${d}.district`, ...(w ? { wrap: w } : {}) },
              deviceType: { k: 'sql', kind: 'text', sql: `${d}.type`, ...(w ? { wrap: w } : {}) },
              lastSeenAt: { k: 'sql', kind: 'time', sql: `${d}.last_seen_at`, ...(w ? { wrap: w } : {}) },
            });
          case 'Locations':
            return nav({ s: 'Location', d, wrap: located(d) });
          case 'HistoricalLocations':
            return nav({ s: 'HistoricalLocation', d, wrap: located(d) });
          case 'Datastreams':
            return streamsOf(d);
        }
        break;
      }
      case 'Location': {
        const d = scope.d;
        switch (head) {
          case 'name':
            return text(`('Location of ' || ${d}.name)`);
          case 'description':
            return text(`COALESCE(NULLIF(${d}.district, ''), 'Position of the device')`);
          case 'encodingType':
            return constant('application/geo+json');
          case 'location':
            return pt(d);
          case 'Things':
            return nav({ s: 'Thing', d, ...(w ? { wrap: w } : {}) });
          case 'HistoricalLocations':
            return nav({ s: 'HistoricalLocation', d, ...(w ? { wrap: w } : {}) });
        }
        break;
      }
      case 'HistoricalLocation': {
        const d = scope.d;
        switch (head) {
          case 'time':
            return col('time', `${d}.created_at`);
          case 'Thing':
            return nav({ s: 'Thing', d, ...(w ? { wrap: w } : {}) });
          case 'Locations':
            return nav({ s: 'Location', d, ...(w ? { wrap: w } : {}) });
        }
        break;
      }
      case 'FeatureOfInterest': {
        const d = scope.d;
        switch (head) {
          case 'name':
            return text(`('Surroundings of ' || ${d}.name)`);
          case 'description':
            return text(`('What ' || ${d}.name || ' observes' || COALESCE(' in ' || NULLIF(${d}.district, ''), ''))`);
          case 'encodingType':
            return constant('application/geo+json');
          case 'feature':
            return pt(d);
          case 'Observations':
            return unsupportedNav();
        }
        break;
      }
      case 'Datastream': {
        const { d, q, c, t } = scope;
        switch (head) {
          case 'name':
            return text(`(${q} || ' of ' || ${d}.name)`);
          case 'description':
            return text(`(${c}.description || ' Measured by ' || ${d}.name || '.')`);
          case 'observationType':
            return constant(OM_MEASUREMENT);
          case 'unitOfMeasurement':
            return prop({
              name: { k: 'sql', kind: 'text', sql: `COALESCE(${c}.unit_name, ${c}.unit)`, ...(w ? { wrap: w } : {}) },
              symbol: { k: 'sql', kind: 'text', sql: `${c}.unit`, ...(w ? { wrap: w } : {}) },
              definition: {
                k: 'sql',
                kind: 'text',
                sql: `COALESCE(${c}.unit_definition, 'http://unitsofmeasure.org/ucum.html#' || ${c}.unit)`,
                ...(w ? { wrap: w } : {}),
              },
            });
          case 'observedArea':
            return pt(d);
          case 'properties':
            return prop({
              department: { k: 'sql', kind: 'text', sql: `${d}.department_id`, ...(w ? { wrap: w } : {}) },
              district: { k: 'sql', kind: 'text', sql: `${d}.district`, ...(w ? { wrap: w } : {}) },
            });
          case 'Thing':
            return nav({ s: 'Thing', d, ...(w ? { wrap: w } : {}) });
          case 'Sensor':
            return nav({ s: 'Sensor', t, ...(w ? { wrap: w } : {}) });
          case 'ObservedProperty':
            return nav({ s: 'ObservedProperty', q, c, ...(w ? { wrap: w } : {}) });
          case 'Observations':
            return unsupportedNav();
        }
        break;
      }
      case 'Sensor': {
        const t = scope.t;
        switch (head) {
          case 'name':
            return text(`${t}.name`);
          case 'description':
            return text(`COALESCE(NULLIF(${t}.description, ''), ${t}.name)`);
          case 'encodingType':
            return constant('application/json');
          case 'properties':
            if (rest[0] === 'expectedIntervalS' && rest.length === 1)
              return { k: 'sql', kind: 'num', sql: `${t}.expected_interval_s`, ...(w ? { wrap: w } : {}) };
            if (rest[0] === 'quantities') return unsupportedNav();
            return { k: 'const', v: null };
          case 'metadata':
            return unsupportedNav();
          case 'Datastreams': {
            const dev = this.ctx.alias('d');
            const x = this.ctx.streamsOf(dev);
            const g = (cond: string) =>
              `EXISTS (SELECT 1 FROM devices ${dev} CROSS JOIN ${x.sql} AND ${dev}.type = ${t}.id AND ${this.ctx.visible(dev)} AND ${cond})`;
            const wrap: Wrap = w
              ? { key: `${w.key}/${x.q}`, apply: (cond) => w.apply(g(cond)) }
              : { key: x.q, apply: g };
            return nav({ s: 'Datastream', d: dev, q: x.q, c: x.c, t: x.t, wrap });
          }
        }
        break;
      }
      case 'ObservedProperty': {
        const { q, c } = scope;
        switch (head) {
          case 'name':
            return text(q);
          case 'definition':
            return text(`COALESCE(${c}.definition, 'urn:sus:quantity:' || ${q})`);
          case 'description':
            return text(`${c}.description`);
          case 'properties':
            if (rest[0] === 'unit' && rest.length === 1)
              return { k: 'sql', kind: 'text', sql: `${c}.unit`, ...(w ? { wrap: w } : {}) };
            if (rest[0] === 'range') return unsupportedNav();
            return { k: 'const', v: null };
          case 'Datastreams':
            return unsupportedNav();
        }
        break;
      }
    }
    // A property the entity does not have is null, as in the evaluation in memory.
    return { k: 'const', v: null };
  }

  /** The value of an expression: a constant, or SQL of a kind. */
  operand(scope: Scope, e: Expr): Operand {
    switch (e.k) {
      case 'lit':
        return { k: 'const', v: e.v };
      case 'path':
        return this.path(scope, e.p, e);
      case 'neg': {
        const x = this.operand(scope, e.e);
        if (x.k === 'const') return { k: 'const', v: typeof x.v === 'number' ? -x.v : null };
        if (x.kind !== 'num') return { k: 'const', v: null };
        return { ...x, sql: `(-${x.sql})` };
      }
      case 'not':
        return this.asBool(this.cond(scope, e));
      case 'bin': {
        if (!['add', 'sub', 'mul', 'div', 'mod'].includes(e.op)) return this.asBool(this.cond(scope, e));
        const l = this.operand(scope, e.l);
        const r = this.operand(scope, e.r);
        if (l.k === 'const' && r.k === 'const') return { k: 'const', v: constantValue(e) };
        const wrap = this.oneWrap(l, r, e);
        const a = this.num(l);
        const b = this.num(r);
        if (a === null || b === null) return { k: 'const', v: null };
        const sql =
          e.op === 'add'
            ? `(${a} + ${b})`
            : e.op === 'sub'
              ? `(${a} - ${b})`
              : e.op === 'mul'
                ? `(${a} * ${b})`
                : e.op === 'div'
                  ? `(${a} / NULLIF(${b}, 0))`
                  : `mod(${a}::numeric, NULLIF(${b}, 0)::numeric)::float8`;
        return { k: 'sql', kind: 'num', sql, ...(wrap ? { wrap } : {}) };
      }
      case 'fn':
        return this.call(scope, e);
    }
  }

  private asBool(cond: string): Operand {
    return { k: 'sql', kind: 'bool', sql: cond };
  }

  private num(x: Operand): string | null {
    if (x.k === 'const') return typeof x.v === 'number' && Number.isFinite(x.v) ? this.lit('num', x.v) : null;
    return x.kind === 'num' ? x.sql : null;
  }

  private text(x: Operand): string | null {
    if (x.k === 'const') return typeof x.v === 'string' ? this.lit('text', x.v) : null;
    return x.kind === 'text' ? x.sql : null;
  }

  private time(x: Operand): string | null {
    if (x.k === 'const') {
      const v = x.v;
      const ms =
        typeof v === 'object' && v !== null && v.kind === 'time'
          ? v.ms
          : typeof v === 'string'
            ? Date.parse(v)
            : Number.NaN;
      return Number.isNaN(ms) ? null : this.lit('time', new Date(ms).toISOString());
    }
    return x.kind === 'time' ? x.sql : null;
  }

  /** The one collection (or guard) both sides of an operator reach through; two different ones cannot be joined. */
  private oneWrap(l: Operand, r: Operand, e: Expr): Wrap | undefined {
    const a = l.k === 'sql' ? l.wrap : undefined;
    const b = r.k === 'sql' ? r.wrap : undefined;
    if (a && b && a.key !== b.key)
      fail('an expression over two different collections cannot be filtered', e, this.option);
    return a ?? b;
  }

  private call(scope: Scope, e: Extract<Expr, { k: 'fn' }>): Operand {
    const args = e.args.map((a) => this.operand(scope, a));
    if (args.every((a) => a.k === 'const')) return { k: 'const', v: constantValue(e) };
    let wrap: Wrap | undefined;
    for (const a of args) wrap = this.oneWrap(a, wrap ? { k: 'sql', kind: 'bool', sql: 'TRUE', wrap } : a, e);
    const out = (kind: Exclude<Kind, 'point'>, sql: string | null): Operand =>
      sql === null ? { k: 'const', v: null } : { k: 'sql', kind, sql, ...(wrap ? { wrap } : {}) };
    const [x, y, z] = args as [Operand, Operand | undefined, Operand | undefined];
    const t2 = (f: (a: string, b: string) => string, kind: Exclude<Kind, 'point'>) => {
      const a = this.text(x);
      const b = y ? this.text(y) : null;
      return out(kind, a !== null && b !== null ? f(a, b) : null);
    };
    const t1 = (f: (a: string) => string, kind: Exclude<Kind, 'point'>) => {
      const a = this.text(x);
      return out(kind, a !== null ? f(a) : null);
    };
    const n1 = (f: (a: string) => string) => {
      const a = this.num(x);
      return out('num', a !== null ? f(a) : null);
    };
    const tm = (f: (a: string) => string, kind: Exclude<Kind, 'point'> = 'num') => {
      const a = this.time(x);
      return out(kind, a !== null ? f(`(${a} AT TIME ZONE 'UTC')`) : null);
    };
    switch (e.name) {
      case 'substringof':
        return t2((a, b) => `(strpos(${b}, ${a}) > 0)`, 'bool');
      case 'contains':
        return t2((a, b) => `(strpos(${a}, ${b}) > 0)`, 'bool');
      case 'startswith':
        return t2((a, b) => `(left(${a}, char_length(${b})) = ${b})`, 'bool');
      case 'endswith':
        return t2((a, b) => `(right(${a}, char_length(${b})) = ${b})`, 'bool');
      case 'indexof':
        return t2((a, b) => `(strpos(${a}, ${b}) - 1)::float8`, 'num');
      case 'concat':
        return t2((a, b) => `(${a} || ${b})`, 'text');
      case 'length':
        return t1((a) => `char_length(${a})::float8`, 'num');
      case 'tolower':
        return t1((a) => `lower(${a})`, 'text');
      case 'toupper':
        return t1((a) => `upper(${a})`, 'text');
      case 'trim':
        return t1((a) => `btrim(${a})`, 'text');
      case 'substring': {
        const a = this.text(x);
        const from = y ? this.num(y) : null;
        if (a === null || from === null) return out('text', null);
        // Clamped so that no number of the request can make PostgreSQL fail (negative length, integer overflow).
        const f = `LEAST(GREATEST(trunc(${from}), 0), 2147483646)::int`;
        if (!z) return out('text', `substr(${a}, ${f} + 1)`);
        const n = this.num(z);
        return out(
          'text',
          n === null ? null : `substr(${a}, ${f} + 1, LEAST(GREATEST(trunc(${n}), 0), 2147483646)::int)`,
        );
      }
      case 'year':
      case 'month':
      case 'day':
      case 'hour':
      case 'minute':
        return tm((a) => `extract(${e.name} FROM ${a})::float8`);
      case 'second':
        return tm((a) => `floor(extract(second FROM ${a}))::float8`);
      case 'fractionalseconds':
        return tm((a) => `((floor(extract(milliseconds FROM ${a}))::int % 1000) / 1000.0)::float8`);
      case 'date':
        return tm((a) => `to_char(${a}, 'YYYY-MM-DD')`, 'text');
      case 'round':
        // Math.round: halves go up (PostgreSQL's round goes away from zero).
        return n1((a) => `floor(${a} + 0.5)`);
      case 'floor':
        return n1((a) => `floor(${a})`);
      case 'ceiling':
        return n1((a) => `ceil(${a})`);
      case 'geo.distance':
      case 'geo.intersects':
      case 'st_intersects':
      case 'st_disjoint':
      case 'st_within':
      case 'st_contains':
      case 'st_equals':
      case 'geo.length':
        return this.geo(e, x, y, wrap);
      default:
        return fail(`function '${e.name}' cannot be filtered in the registry`, e, this.option);
    }
  }

  /** Geometry functions between a device's position and a literal geometry, as geo.ts computes them. */
  private geo(e: Extract<Expr, { k: 'fn' }>, x: Operand, y: Operand | undefined, wrap: Wrap | undefined): Operand {
    const geomOf = (o: Operand | undefined): Geometry | null =>
      o?.k === 'const' && typeof o.v === 'object' && o.v !== null && o.v.kind === 'geo' ? o.v.g : null;
    const pointOf = (o: Operand | undefined) => (o?.k === 'sql' && o.kind === 'point' ? o : null);
    const p = pointOf(x) ?? pointOf(y);
    const g = pointOf(x) ? geomOf(y) : geomOf(x);
    if (e.name === 'geo.length') return p ? { k: 'const', v: 0 } : { k: 'const', v: null };
    if (!p) {
      // A function of a non-geometry value is null, as in memory.
      if ((x.k === 'sql' && x.kind !== 'point') || (y?.k === 'sql' && y.kind !== 'point'))
        return { k: 'const', v: null };
      return fail(`${e.name} compares a Location with a literal geometry`, e, this.option);
    }
    if (!g) {
      if ((x.k === 'const' && x.v === null) || (y?.k === 'const' && y.v === null)) return { k: 'const', v: null };
      return fail(`${e.name} compares a Location with a literal geometry (geography'…')`, e, this.option);
    }
    const first = pointOf(x) !== null;
    const guarded = (kind: 'num' | 'bool', sql: string): Operand => ({
      k: 'sql',
      kind,
      // A device without a position gives null, never a value from its missing coordinates.
      sql: `(CASE WHEN ${p.lon} IS NULL OR ${p.lat} IS NULL THEN NULL ELSE ${sql} END)`,
      ...(wrap ? { wrap } : {}),
    });
    const on = () => this.pointOn(p.lon, p.lat, g);
    const equal = () =>
      g.type === 'Point'
        ? `(${p.lon} = ${this.lit('num', g.coordinates[0])} AND ${p.lat} = ${this.lit('num', g.coordinates[1])})`
        : 'FALSE';
    switch (e.name) {
      case 'geo.distance':
        if (g.type !== 'Point') return fail('geo.distance is computed in the registry to a POINT only', e, this.option);
        return guarded(
          'num',
          `sqrt(power(${p.lon} - ${this.lit('num', g.coordinates[0])}, 2) + power(${p.lat} - ${this.lit('num', g.coordinates[1])}, 2))`,
        );
      case 'geo.intersects':
      case 'st_intersects':
        return guarded('bool', on());
      case 'st_disjoint':
        return guarded('bool', `NOT ${on()}`);
      case 'st_within':
        // A point lies within a geometry when it is on it; a geometry lies within a point only when it is that point.
        return guarded('bool', first ? on() : equal());
      case 'st_contains':
        return guarded('bool', first ? equal() : on());
      default:
        return guarded('bool', equal());
    }
  }

  /** geo.ts's pointOn as SQL: equal to a point, on a segment of a line, in a polygon or on its boundary. */
  private pointOn(lon: string, lat: string, g: Geometry): string {
    const n = (v: number) => this.lit('num', v);
    const onSeg = (a: Position, b: Position) =>
      // The differences are computed here, as geo.ts's cross() computes them, so the float results agree.
      `(${n(b[0] - a[0])} * (${lat} - ${n(a[1])}) - ${n(b[1] - a[1])} * (${lon} - ${n(a[0])}) = 0 AND ${lon} BETWEEN ${n(Math.min(a[0], b[0]))} AND ${n(Math.max(a[0], b[0]))} AND ${lat} BETWEEN ${n(Math.min(a[1], b[1]))} AND ${n(Math.max(a[1], b[1]))})`;
    const boundary = (ring: Position[]) =>
      ring.map((_, i) => onSeg(ring[i]!, ring[(i + ring.length - 1) % ring.length]!)).join(' OR ');
    const inRing = (ring: Position[]) => {
      const crossings: string[] = [];
      for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        const [xi, yi] = ring[i]!;
        const [xj, yj] = ring[j]!;
        // A horizontal edge never crosses the ray (and would divide by zero).
        if (yi === yj) continue;
        crossings.push(
          `(CASE WHEN (${n(yi)} > ${lat}) <> (${n(yj)} > ${lat}) AND ${lon} < (${n(xj - xi)} * (${lat} - ${n(yi)})) / ${n(yj - yi)} + ${n(xi)} THEN 1 ELSE 0 END)`,
        );
      }
      const odd = crossings.length ? `(${crossings.join(' + ')}) % 2 = 1` : 'FALSE';
      return `(${boundary(ring)} OR ${odd})`;
    };
    switch (g.type) {
      case 'Point':
        return `(${lon} = ${n(g.coordinates[0])} AND ${lat} = ${n(g.coordinates[1])})`;
      case 'LineString':
        return `(${g.coordinates
          .slice(1)
          .map((b, i) => onSeg(g.coordinates[i]!, b))
          .join(' OR ')})`;
      case 'Polygon': {
        const [outer, ...holes] = g.coordinates;
        const out = holes.map((h) => `(${inRing(h)} AND NOT (${boundary(h)}))`);
        return `(${inRing(outer!)}${out.length ? ` AND NOT (${out.join(' OR ')})` : ''})`;
      }
    }
  }

  /** A condition: SQL that is TRUE or FALSE, never NULL (NOT of it is the evaluation's `not`). */
  cond(scope: Scope, e: Expr): string {
    if (e.k === 'bin' && (e.op === 'and' || e.op === 'or'))
      return `(${this.cond(scope, e.l)} ${e.op.toUpperCase()} ${this.cond(scope, e.r)})`;
    if (e.k === 'not') return `(NOT ${this.cond(scope, e.e)})`;
    if (e.k === 'bin' && SQL_OP[e.op]) return this.comparison(scope, e);
    const x = this.operand(scope, e);
    if (x.k === 'const') return x.v === true ? 'TRUE' : 'FALSE';
    if (x.kind !== 'bool') return 'FALSE';
    const c = `COALESCE(${x.sql}, FALSE)`;
    return x.wrap ? x.wrap.apply(c) : c;
  }

  private comparison(scope: Scope, e: Extract<Expr, { k: 'bin' }>): string {
    const op = e.op;
    const l = this.operand(scope, e.l);
    const r = this.operand(scope, e.r);
    if (l.k === 'const' && r.k === 'const') return compare(op, l.v, r.v) ? 'TRUE' : 'FALSE';
    const wrap = this.oneWrap(l, r, e);
    const done = (c: string) => (wrap ? wrap.apply(c) : c);
    // null on either side: both null compare equal, one null compares with nothing (evaluate.ts's compareValues).
    const bothNull = op === 'eq' || op === 'ge' || op === 'le' ? 'TRUE' : 'FALSE';
    const oneNull = op === 'ne' ? 'TRUE' : 'FALSE';
    const isNull = (x: Operand) =>
      x.k === 'sql' && x.kind === 'point' ? `${x.lon} IS NULL` : `${(x as { sql: string }).sql} IS NULL`;
    const constNull = (x: Operand) => x.k === 'const' && x.v === null;
    if (constNull(l) || constNull(r)) {
      const other = constNull(l) ? r : l;
      return done(`(CASE WHEN ${isNull(other)} THEN ${bothNull} ELSE ${oneNull} END)`);
    }
    if ((l.k === 'sql' && l.kind === 'point') || (r.k === 'sql' && r.kind === 'point')) {
      const p = (l.k === 'sql' && l.kind === 'point' ? l : r) as Extract<Operand, { kind: 'point' }>;
      const other = p === l ? r : l;
      const g = other.k === 'const' && typeof other.v === 'object' && other.v?.kind === 'geo' ? other.v.g : null;
      if (!g && other.k === 'sql') return fail('two Locations cannot be compared', e, this.option);
      // Geometries compare equal or not at all.
      const equal =
        g?.type === 'Point'
          ? `(${p.lon} = ${this.lit('num', g.coordinates[0])} AND ${p.lat} = ${this.lit('num', g.coordinates[1])})`
          : 'FALSE';
      const c = op === 'eq' || op === 'ge' || op === 'le' ? equal : op === 'ne' ? `NOT ${equal}` : 'FALSE';
      return done(`(CASE WHEN ${isNull(p)} THEN ${oneNull} ELSE ${c} END)`);
    }
    const kindOf = (x: Operand): Kind | 'geo' | 'null' =>
      x.k === 'sql'
        ? x.kind
        : x.v === null
          ? 'null'
          : typeof x.v === 'number'
            ? 'num'
            : typeof x.v === 'string'
              ? 'text'
              : typeof x.v === 'boolean'
                ? 'bool'
                : x.v.kind === 'time'
                  ? 'time'
                  : 'geo';
    const lk = kindOf(l);
    const rk = kindOf(r);
    // A time compares with a string that reads as a time; otherwise kinds must agree.
    const kind = lk === 'time' || rk === 'time' ? 'time' : lk === rk ? lk : undefined;
    const side = (x: Operand): string | null =>
      kind === 'time'
        ? this.time(x)
        : kind === 'num'
          ? this.num(x)
          : kind === 'text'
            ? this.text(x)
            : kind === 'bool'
              ? x.k === 'const'
                ? this.lit('bool', x.v)
                : (x as { sql: string }).sql
              : null;
    const a = kind ? side(l) : null;
    const b = kind ? side(r) : null;
    if (a === null || b === null) {
      // Values that do not compare: only 'ne' holds, unless both are null (which compare equal).
      if (l.k === 'sql' && r.k === 'sql') {
        const both = `(${isNull(l)} AND ${isNull(r)})`;
        return done(op === 'ne' ? `NOT ${both}` : bothNull === 'TRUE' ? both : 'FALSE');
      }
      return done(oneNull);
    }
    const coll = kind === 'text' ? ' COLLATE "C"' : '';
    return done(
      `(CASE WHEN ${a} IS NULL AND ${b} IS NULL THEN ${bothNull} WHEN ${a} IS NULL OR ${b} IS NULL THEN ${oneNull} ELSE ${a}${coll} ${SQL_OP[op]} ${b}${coll} END)`,
    );
  }

  /** `$orderby` keys as SQL, nulls first ascending as the evaluation orders them. */
  orderBy(scope: Scope, keys: Array<{ e: Expr; desc: boolean }>): string[] {
    const out: string[] = [];
    for (const k of keys) {
      const x = this.operand(scope, k.e);
      if (x.k === 'const') continue;
      if (x.wrap) fail('$orderby cannot order by a value of a collection', k.e, '$orderby');
      if (x.kind === 'point') fail('$orderby cannot order by a geometry', k.e, '$orderby');
      const sql = (x as { sql: string }).sql;
      out.push(`${sql}${x.kind === 'text' ? ' COLLATE "C"' : ''} ${k.desc ? 'DESC NULLS LAST' : 'ASC NULLS FIRST'}`);
    }
    return out;
  }
}
