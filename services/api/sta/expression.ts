import { type Geometry, parseWkt, WktError } from './geo.ts';

/**
 * The OData expression language of SensorThings `$filter` and `$orderby` (OGC 18-088 §9.3.3.5): literals, property
 * paths across navigation properties, the comparison, logical and arithmetic operators with OData's precedence,
 * and function calls. A recursive-descent parser with a bounded depth and length: every input ends in an AST or a
 * StaQueryError naming the position.
 */

/** A time instant (datetime literals, phenomenonTime); kept apart from strings so comparisons are by time. */
export interface Instant {
  kind: 'time';
  ms: number;
}
export interface Geo {
  kind: 'geo';
  g: Geometry;
}
export type Value = number | string | boolean | null | Instant | Geo;

export type BinaryOp = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le' | 'and' | 'or' | 'add' | 'sub' | 'mul' | 'div' | 'mod';

export type Expr =
  | { k: 'lit'; v: Value }
  | { k: 'path'; p: string[] }
  | { k: 'bin'; op: BinaryOp; l: Expr; r: Expr }
  | { k: 'not'; e: Expr }
  | { k: 'neg'; e: Expr }
  | { k: 'fn'; name: string; args: Expr[] };

/** A query the service cannot take: 400 with the standard's error JSON, naming the option. */
export class StaQueryError extends Error {
  constructor(
    message: string,
    readonly option: string,
  ) {
    super(message);
  }
}

/**
 * Where each path, call and operator starts in the option's text: kept beside the tree (not in it) so a compiler
 * can name the position of what it cannot translate while trees still compare by their shape.
 */
const POSITIONS = new WeakMap<Expr, number>();
export const positionOf = (e: Expr): number | undefined => POSITIONS.get(e);
const at = <E extends Expr>(e: E, pos: number): E => {
  POSITIONS.set(e, pos);
  return e;
};

export const MAX_EXPRESSION_LENGTH = 4000;
const MAX_DEPTH = 64;

/** Arity of every function the service evaluates: [min, max] arguments. */
export const FUNCTIONS: Record<string, [number, number]> = {
  substringof: [2, 2],
  contains: [2, 2],
  endswith: [2, 2],
  startswith: [2, 2],
  length: [1, 1],
  indexof: [2, 2],
  substring: [2, 3],
  tolower: [1, 1],
  toupper: [1, 1],
  trim: [1, 1],
  concat: [2, 2],
  year: [1, 1],
  month: [1, 1],
  day: [1, 1],
  hour: [1, 1],
  minute: [1, 1],
  second: [1, 1],
  fractionalseconds: [1, 1],
  date: [1, 1],
  now: [0, 0],
  mindatetime: [0, 0],
  maxdatetime: [0, 0],
  round: [1, 1],
  floor: [1, 1],
  ceiling: [1, 1],
  'geo.distance': [2, 2],
  'geo.length': [1, 1],
  'geo.intersects': [2, 2],
  st_equals: [2, 2],
  st_disjoint: [2, 2],
  st_intersects: [2, 2],
  st_within: [2, 2],
  st_contains: [2, 2],
};

type Token =
  | { t: 'num'; v: number; at: number }
  | { t: 'str'; v: string; at: number }
  | { t: 'time'; v: number; at: number }
  | { t: 'geo'; v: Geometry; at: number }
  | { t: 'word'; v: string; at: number }
  | { t: 'punct'; v: '(' | ')' | ',' | '-'; at: number }
  | { t: 'end'; at: number };

const DATETIME = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?/;
const NUMBER = /^\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/;
const WORD = /^[A-Za-z_@$][A-Za-z0-9_.@$]*(?:\/[A-Za-z_@$][A-Za-z0-9_.@$]*)*/;

function lex(src: string, option: string): Token[] {
  if (src.length > MAX_EXPRESSION_LENGTH)
    throw new StaQueryError(`${option} is longer than ${MAX_EXPRESSION_LENGTH} characters`, option);
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    const rest = src.slice(i);
    if (c === '(' || c === ')' || c === ',' || c === '-') {
      // A minus directly before a digit is part of a number literal only where an operand is expected.
      const prev = out[out.length - 1];
      const operand = !prev || (prev.t === 'punct' && prev.v !== ')') || (prev.t === 'word' && isOperatorWord(prev.v));
      const num = c === '-' && operand ? NUMBER.exec(rest.slice(1)) : null;
      if (num && !DATETIME.exec(rest.slice(1))) {
        out.push({ t: 'num', v: -Number(num[0]), at: i });
        i += 1 + num[0].length;
        continue;
      }
      out.push({ t: 'punct', v: c, at: i });
      i++;
      continue;
    }
    if (c === "'") {
      let s = '';
      let j = i + 1;
      for (;;) {
        if (j >= src.length) throw new StaQueryError(`unterminated string starting at position ${i}`, option);
        if (src[j] === "'") {
          if (src[j + 1] === "'") {
            s += "'";
            j += 2;
            continue;
          }
          break;
        }
        s += src[j];
        j++;
      }
      out.push({ t: 'str', v: s, at: i });
      i = j + 1;
      continue;
    }
    const dt = DATETIME.exec(rest);
    if (dt && (dt[0].length > 10 || !/^[\d.eE]/.test(rest.slice(10, 11)))) {
      const ms = Date.parse(dt[0]);
      if (Number.isNaN(ms)) throw new StaQueryError(`'${dt[0]}' at position ${i} is not a valid time`, option);
      out.push({ t: 'time', v: ms, at: i });
      i += dt[0].length;
      continue;
    }
    const num = NUMBER.exec(rest);
    if (num) {
      out.push({ t: 'num', v: Number(num[0]), at: i });
      i += num[0].length;
      continue;
    }
    const word = WORD.exec(rest);
    if (word) {
      const w = word[0];
      // Typed literals: geography'…', geometry'…'.
      if ((w === 'geography' || w === 'geometry') && src[i + w.length] === "'") {
        const end = src.indexOf("'", i + w.length + 1);
        if (end < 0) throw new StaQueryError(`unterminated ${w} literal at position ${i}`, option);
        try {
          out.push({ t: 'geo', v: parseWkt(src.slice(i + w.length + 1, end)), at: i });
        } catch (err) {
          if (err instanceof WktError) throw new StaQueryError(`${w} literal at position ${i}: ${err.message}`, option);
          throw err;
        }
        i = end + 1;
        continue;
      }
      out.push({ t: 'word', v: w, at: i });
      i += w.length;
      continue;
    }
    throw new StaQueryError(`unexpected character '${c}' at position ${i}`, option);
  }
  out.push({ t: 'end', at: src.length });
  return out;
}

const OPERATOR_WORDS = new Set([
  'eq',
  'ne',
  'gt',
  'ge',
  'lt',
  'le',
  'and',
  'or',
  'not',
  'add',
  'sub',
  'mul',
  'div',
  'mod',
]);
const isOperatorWord = (w: string) => OPERATOR_WORDS.has(w);

class Parser {
  private i = 0;
  private depth = 0;
  constructor(
    private readonly toks: Token[],
    private readonly option: string,
  ) {}

  private peek(): Token {
    return this.toks[this.i]!;
  }
  private fail(msg: string, at = this.peek().at): never {
    throw new StaQueryError(`${msg} at position ${at}`, this.option);
  }
  private isWord(w: string): boolean {
    const t = this.peek();
    return t.t === 'word' && t.v === w;
  }
  private expect(p: '(' | ')' | ','): void {
    const t = this.peek();
    if (t.t !== 'punct' || t.v !== p) this.fail(`expected '${p}'`);
    this.i++;
  }

  parseAll(): Expr {
    const e = this.or();
    if (this.peek().t !== 'end') this.fail('unexpected input');
    return e;
  }

  private nest<T>(f: () => T): T {
    if (++this.depth > MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH} levels`);
    try {
      return f();
    } finally {
      this.depth--;
    }
  }

  private binary(next: () => Expr, ops: readonly BinaryOp[]): Expr {
    let l = next();
    for (;;) {
      const t = this.peek();
      const op = t.t === 'word' ? ops.find((o) => o === t.v) : undefined;
      if (!op) return l;
      this.i++;
      l = at({ k: 'bin', op, l, r: next() }, t.at);
    }
  }
  or = (): Expr => this.nest(() => this.binary(this.and, ['or']));
  and = (): Expr => this.binary(this.eq, ['and']);
  eq = (): Expr => this.binary(this.rel, ['eq', 'ne']);
  rel = (): Expr => this.binary(this.add, ['gt', 'ge', 'lt', 'le']);
  add = (): Expr => this.binary(this.mul, ['add', 'sub']);
  mul = (): Expr => this.binary(this.unary, ['mul', 'div', 'mod']);
  unary = (): Expr =>
    this.nest(() => {
      // `not` takes the comparison that follows (`not a eq 1` is not (a eq 1)), as OData's grammar reads it.
      if (this.isWord('not')) {
        this.i++;
        return at({ k: 'not', e: this.eq() }, this.toks[this.i - 1]!.at);
      }
      const t = this.peek();
      if (t.t === 'punct' && t.v === '-') {
        this.i++;
        return { k: 'neg', e: this.unary() };
      }
      return this.primary();
    });

  private primary(): Expr {
    const t = this.peek();
    switch (t.t) {
      case 'num':
        this.i++;
        return { k: 'lit', v: t.v };
      case 'str':
        this.i++;
        return { k: 'lit', v: t.v };
      case 'time':
        this.i++;
        return { k: 'lit', v: { kind: 'time', ms: t.v } };
      case 'geo':
        this.i++;
        return { k: 'lit', v: { kind: 'geo', g: t.v } };
      case 'punct': {
        if (t.v !== '(') this.fail(`unexpected '${t.v}'`);
        this.i++;
        const e = this.or();
        this.expect(')');
        return e;
      }
      case 'word': {
        this.i++;
        if (t.v === 'true' || t.v === 'false') return { k: 'lit', v: t.v === 'true' };
        if (t.v === 'null') return { k: 'lit', v: null };
        if (isOperatorWord(t.v)) this.fail(`operator '${t.v}' where a value was expected`, t.at);
        const next = this.peek();
        if (next.t === 'punct' && next.v === '(') {
          const arity = FUNCTIONS[t.v];
          if (!arity) this.fail(`unknown or unsupported function '${t.v}'`, t.at);
          this.i++;
          const args: Expr[] = [];
          if (!(this.peek().t === 'punct' && (this.peek() as { v: string }).v === ')')) {
            args.push(this.or());
            while (this.peek().t === 'punct' && (this.peek() as { v: string }).v === ',') {
              this.i++;
              args.push(this.or());
            }
          }
          this.expect(')');
          if (args.length < arity[0] || args.length > arity[1])
            this.fail(
              `${t.v} takes ${arity[0] === arity[1] ? arity[0] : `${arity[0]} to ${arity[1]}`} arguments`,
              t.at,
            );
          return at({ k: 'fn', name: t.v, args }, t.at);
        }
        return at({ k: 'path', p: t.v.split('/') }, t.at);
      }
      default:
        return this.fail('expression ends where a value was expected');
    }
  }
}

/** Parses a `$filter` expression (or one `$orderby` key). */
export function parseExpression(src: string, option = '$filter'): Expr {
  if (src.trim() === '') throw new StaQueryError(`${option} is empty`, option);
  return new Parser(lex(src, option), option).parseAll();
}
