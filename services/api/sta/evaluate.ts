import type { BinaryOp, Expr, Instant, Value } from './expression.ts';
import { StaQueryError } from './expression.ts';
import * as geo from './geo.ts';

/**
 * Evaluation of a parsed expression against one entity. A path across a to-many navigation property (a Thing's
 * Datastreams) stands for all of its values, and a comparison holds when it holds for any of them (OData's `any`),
 * so every intermediate result is a list of candidate values.
 */
export type Resolve = (path: string[]) => Value[];

const isInstant = (v: Value): v is Instant => typeof v === 'object' && v !== null && v.kind === 'time';
const isGeo = (v: Value): v is { kind: 'geo'; g: geo.Geometry } =>
  typeof v === 'object' && v !== null && v.kind === 'geo';

const COMPARE: Record<string, (c: number) => boolean> = {
  eq: (c) => c === 0,
  ne: (c) => c !== 0,
  gt: (c) => c > 0,
  ge: (c) => c >= 0,
  lt: (c) => c < 0,
  le: (c) => c <= 0,
};

/** Order of two values, or undefined where they do not compare (a number and a word, null and anything). */
export function compareValues(a: Value, b: Value): number | undefined {
  if (a === null || b === null) return a === b ? 0 : undefined;
  if (isInstant(a) || isInstant(b)) {
    const ms = (v: Value) => (isInstant(v) ? v.ms : typeof v === 'string' ? Date.parse(v) : Number.NaN);
    const x = ms(a);
    const y = ms(b);
    return Number.isNaN(x) || Number.isNaN(y) ? undefined : Math.sign(x - y);
  }
  if (isGeo(a) || isGeo(b)) return isGeo(a) && isGeo(b) && geo.equals(a.g, b.g) ? 0 : undefined;
  if (typeof a === 'number' && typeof b === 'number') return Math.sign(a - b);
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean') return a === b ? 0 : a ? 1 : -1;
  return undefined;
}

/** A comparison operator on two values as the filter evaluates it (null and mismatched kinds included). */
export function compare(op: string, a: Value, b: Value): boolean {
  const c = compareValues(a, b);
  if (c === undefined) return op === 'ne' && !(a === null && b === null);
  return COMPARE[op]!(c);
}

const ARITH: Record<string, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  mod: (a, b) => a % b,
};

const truthy = (vs: Value[]) => vs.some((v) => v === true);

const str = (v: Value): string | null => (typeof v === 'string' ? v : null);
const num = (v: Value): number | null => (typeof v === 'number' ? v : null);
const time = (v: Value): Date | null =>
  isInstant(v) ? new Date(v.ms) : typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? new Date(v) : null;
const geom = (v: Value): geo.Geometry | null => (isGeo(v) ? v.g : null);

/** Every function of the Filtering Extension this service evaluates on registry entities. */
function call(name: string, a: Value[]): Value {
  const [x = null, y = null, z = null] = a;
  switch (name) {
    case 'substringof':
      return str(x) !== null && str(y) !== null ? str(y)!.includes(str(x)!) : null;
    case 'contains':
      return str(x) !== null && str(y) !== null ? str(x)!.includes(str(y)!) : null;
    case 'endswith':
      return str(x) !== null && str(y) !== null ? str(x)!.endsWith(str(y)!) : null;
    case 'startswith':
      return str(x) !== null && str(y) !== null ? str(x)!.startsWith(str(y)!) : null;
    case 'length':
      return str(x)?.length ?? null;
    case 'indexof':
      return str(x) !== null && str(y) !== null ? str(x)!.indexOf(str(y)!) : null;
    case 'substring': {
      const s = str(x);
      const from = num(y);
      if (s === null || from === null) return null;
      const n = num(z);
      return n === null ? s.slice(from) : s.slice(from, from + n);
    }
    case 'tolower':
      return str(x)?.toLowerCase() ?? null;
    case 'toupper':
      return str(x)?.toUpperCase() ?? null;
    case 'trim':
      return str(x)?.trim() ?? null;
    case 'concat':
      return str(x) !== null && str(y) !== null ? str(x)! + str(y)! : null;
    case 'year':
      return time(x)?.getUTCFullYear() ?? null;
    case 'month':
      return time(x) ? time(x)!.getUTCMonth() + 1 : null;
    case 'day':
      return time(x)?.getUTCDate() ?? null;
    case 'hour':
      return time(x)?.getUTCHours() ?? null;
    case 'minute':
      return time(x)?.getUTCMinutes() ?? null;
    case 'second':
      return time(x)?.getUTCSeconds() ?? null;
    case 'fractionalseconds':
      return time(x) ? time(x)!.getUTCMilliseconds() / 1000 : null;
    case 'date':
      return time(x) ? time(x)!.toISOString().slice(0, 10) : null;
    case 'now':
      return { kind: 'time', ms: Date.now() };
    case 'mindatetime':
      return { kind: 'time', ms: Date.UTC(1678, 0, 1) };
    case 'maxdatetime':
      return { kind: 'time', ms: Date.UTC(2262, 0, 1) };
    case 'round':
      return num(x) === null ? null : Math.round(num(x)!);
    case 'floor':
      return num(x) === null ? null : Math.floor(num(x)!);
    case 'ceiling':
      return num(x) === null ? null : Math.ceil(num(x)!);
    case 'geo.distance':
      return geom(x) && geom(y) ? geo.distance(geom(x)!, geom(y)!) : null;
    case 'geo.length':
      return geom(x) ? geo.length(geom(x)!) : null;
    case 'geo.intersects':
    case 'st_intersects':
      return geom(x) && geom(y) ? geo.intersects(geom(x)!, geom(y)!) : null;
    case 'st_disjoint':
      return geom(x) && geom(y) ? !geo.intersects(geom(x)!, geom(y)!) : null;
    case 'st_within':
      return geom(x) && geom(y) ? geo.within(geom(x)!, geom(y)!) : null;
    case 'st_contains':
      return geom(x) && geom(y) ? geo.within(geom(y)!, geom(x)!) : null;
    case 'st_equals':
      return geom(x) && geom(y) ? geo.equals(geom(x)!, geom(y)!) : null;
    default:
      throw new StaQueryError(`function '${name}' is not supported`, '$filter');
  }
}

/** The candidate values of `e`; products of to-many paths are bounded by the entities one request reads. */
function values(e: Expr, resolve: Resolve): Value[] {
  switch (e.k) {
    case 'lit':
      return [e.v];
    case 'path':
      return resolve(e.p);
    case 'not':
      return [!truthy(values(e.e, resolve))];
    case 'neg':
      return values(e.e, resolve).map((v) => (typeof v === 'number' ? -v : null));
    case 'fn': {
      let combos: Value[][] = [[]];
      for (const arg of e.args) {
        const vs = values(arg, resolve);
        combos = combos.flatMap((c) => vs.map((v) => [...c, v]));
      }
      return combos.map((c) => call(e.name, c));
    }
    case 'bin': {
      if (e.op === 'and') return [truthy(values(e.l, resolve)) && truthy(values(e.r, resolve))];
      if (e.op === 'or') return [truthy(values(e.l, resolve)) || truthy(values(e.r, resolve))];
      const ls = values(e.l, resolve);
      const rs = values(e.r, resolve);
      const arith = ARITH[e.op];
      if (arith)
        return ls.flatMap((a) => rs.map((b) => (typeof a === 'number' && typeof b === 'number' ? arith(a, b) : null)));
      return [ls.some((a) => rs.some((b) => compare(e.op, a, b)))];
    }
  }
}

export const matches = (e: Expr, resolve: Resolve): boolean => truthy(values(e, resolve));
/** The value of an expression without paths (literals, functions of literals, arithmetic). */
export const constantValue = (e: Expr): Value => values(e, () => [null])[0] ?? null;
/** The value an `$orderby` key gives an entity (the first, for to-many paths). */
export const sortKey = (e: Expr, resolve: Resolve): Value => values(e, resolve)[0] ?? null;

// ---- Observations: what is not known before InfluxDB is asked becomes InfluxQL ---------------------------------

/** A filter on Observations after everything known in the registry was evaluated. */
export type Residual =
  | { k: 'const'; v: boolean }
  | {
      k: 'query';
      /** InfluxQL conditions on "value", joined by AND. */
      where: string[];
      /** Conditions on time (phenomenonTime / resultTime), joined by AND; InfluxQL cannot OR or negate them. */
      time: string[];
    };

type Part = { k: 'vals'; vs: Value[] } | { k: 'num'; q: string } | { k: 'time' } | Residual;

const FLIP: Record<string, BinaryOp> = {
  eq: 'ne',
  ne: 'eq',
  gt: 'le',
  ge: 'lt',
  lt: 'ge',
  le: 'gt',
  and: 'or',
  or: 'and',
};
const MIRROR: Record<string, string> = { eq: 'eq', ne: 'ne', gt: 'lt', ge: 'le', lt: 'gt', le: 'ge' };
const INFLUX_OP: Record<string, string> = { eq: '=', ne: '!=', gt: '>', ge: '>=', lt: '<', le: '<=' };
const INFLUX_ARITH: Record<string, string> = { add: '+', sub: '-', mul: '*', div: '/', mod: '%' };

const unsupported = (what: string) =>
  new StaQueryError(
    `${what} cannot be evaluated on Observations (InfluxDB); filter on result and phenomenonTime with comparison, arithmetic and logical operators`,
    '$filter',
  );

/**
 * Compiles a filter on Observations of one Datastream: `resolve` gives the registry-side values (Datastream/…,
 * FeatureOfInterest/…) and returns undefined for `result`, `phenomenonTime` and `resultTime`, which become
 * InfluxQL. Numbers are written by the service (never copied from the request) and times as quoted RFC 3339, so
 * nothing of the request's text reaches the query.
 */
export function compileObservationFilter(
  e: Expr,
  resolve: (path: string[]) => Value[] | 'result' | 'time',
  quoteTime: (ms: number) => string,
): Residual {
  const part = (x: Expr, neg: boolean): Part => {
    switch (x.k) {
      case 'lit':
        return { k: 'vals', vs: [x.v] };
      case 'path': {
        const r = resolve(x.p);
        if (r === 'result') return { k: 'num', q: '"value"' };
        if (r === 'time') return { k: 'time' };
        return { k: 'vals', vs: r };
      }
      case 'not':
        return boolPart(x.e, !neg);
      case 'neg': {
        const p = part(x.e, false);
        if (p.k === 'num') return { k: 'num', q: `(-${p.q})` };
        if (p.k === 'vals') return { k: 'vals', vs: p.vs.map((v) => (typeof v === 'number' ? -v : null)) };
        throw unsupported('negating a time');
      }
      case 'fn': {
        const ps = x.args.map((a) => part(a, false));
        if (ps.some((p) => p.k !== 'vals')) throw unsupported(`function ${x.name} on result or phenomenonTime`);
        const vs = values(x, (p) => {
          const r = resolve(p);
          return typeof r === 'string' ? [] : r;
        });
        return { k: 'vals', vs };
      }
      case 'bin':
        return binPart(x, neg);
    }
  };
  const numQ = (p: Part): string | undefined => {
    if (p.k === 'num') return p.q;
    if (p.k === 'vals' && p.vs.length === 1 && typeof p.vs[0] === 'number' && Number.isFinite(p.vs[0]))
      return String(p.vs[0]);
    return undefined;
  };
  const timeMs = (p: Part): number | undefined => {
    if (p.k !== 'vals' || p.vs.length !== 1) return undefined;
    const v = p.vs[0]!;
    const ms = isInstant(v) ? v.ms : typeof v === 'string' ? Date.parse(v) : Number.NaN;
    return Number.isNaN(ms) ? undefined : ms;
  };
  const asResidual = (p: Part): Residual => {
    if (p.k === 'const' || p.k === 'query') return p;
    if (p.k === 'vals') return { k: 'const', v: truthy(p.vs) };
    throw unsupported('a bare result or time as a condition');
  };
  const boolPart = (x: Expr, neg: boolean): Part => {
    const p = part(x, neg);
    if (p.k === 'vals') return { k: 'const', v: truthy(p.vs) !== neg };
    return p;
  };
  const binPart = (x: Extract<Expr, { k: 'bin' }>, neg: boolean): Part => {
    if (x.op === 'and' || x.op === 'or') {
      const op = neg ? FLIP[x.op] : x.op;
      const l = asResidual(boolPart(x.l, neg));
      const r = asResidual(boolPart(x.r, neg));
      if (op === 'and') {
        if (l.k === 'const') return l.v ? r : l;
        if (r.k === 'const') return r.v ? l : r;
        return { k: 'query', where: [...l.where, ...r.where], time: [...l.time, ...r.time] };
      }
      if (l.k === 'const') return l.v ? l : r;
      if (r.k === 'const') return r.v ? r : l;
      if (l.time.length || r.time.length) throw unsupported('phenomenonTime inside an or');
      return { k: 'query', where: [`((${l.where.join(' AND ')}) OR (${r.where.join(' AND ')}))`], time: [] };
    }
    const l = part(x.l, false);
    const r = part(x.r, false);
    const arith = INFLUX_ARITH[x.op];
    if (arith) {
      if (l.k === 'vals' && r.k === 'vals')
        return { k: 'vals', vs: values(x, (p) => (typeof resolve(p) === 'string' ? [] : (resolve(p) as Value[]))) };
      const a = numQ(l);
      const b = numQ(r);
      if (a === undefined || b === undefined) throw unsupported('arithmetic on a time or a non-number');
      return { k: 'num', q: `(${a} ${arith} ${b})` };
    }
    // A comparison.
    if (l.k === 'vals' && r.k === 'vals') {
      const v = l.vs.some((a) => r.vs.some((b) => compare(x.op, a, b)));
      return { k: 'const', v: v !== neg };
    }
    const op = neg ? FLIP[x.op]! : x.op;
    if (l.k === 'time' || r.k === 'time') {
      const [other, o] = l.k === 'time' ? [r, op] : [l, MIRROR[op]!];
      const ms = timeMs(other);
      if (ms === undefined) throw unsupported('comparing phenomenonTime with something other than a time');
      if (o === 'ne') throw unsupported("'ne' on phenomenonTime");
      return { k: 'query', where: [], time: [`time ${INFLUX_OP[o]} ${quoteTime(ms)}`] };
    }
    const a = numQ(l);
    const b = numQ(r);
    if (a === undefined || b === undefined) {
      // result compared with a word or null matches nothing: results are numbers.
      if ((l.k === 'num' || r.k === 'num') && (l.k === 'vals' || r.k === 'vals')) return { k: 'const', v: op === 'ne' };
      throw unsupported(`the comparison '${x.op}'`);
    }
    return { k: 'query', where: [`${a} ${INFLUX_OP[op]} ${b}`], time: [] };
  };
  return asResidual(boolPart(e, false));
}
