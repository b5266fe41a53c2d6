import { type Expr, parseExpression, StaQueryError } from './expression.ts';

/** The system query options of one collection or entity (OGC 18-088 §9.3), nested under `$expand` as well. */
export interface QueryOptions {
  top?: number;
  skip: number;
  count: boolean;
  select?: string[];
  orderby: Array<{ e: Expr; desc: boolean }>;
  filter?: Expr;
  expand: Expand[];
}
export interface Expand {
  /** A navigation property; `Datastreams/ObservedProperty` nests one Expand in another. */
  nav: string;
  options: QueryOptions;
}

const OPTIONS = new Set(['$top', '$skip', '$count', '$select', '$orderby', '$filter', '$expand', '$resultFormat']);
const MAX_EXPAND_DEPTH = 6;
/** Navigation properties one request may expand in all (each can fan out into a query per entity). */
const MAX_EXPAND_ITEMS = 32;
const expandItems = (xs: Expand[]): number => xs.reduce((n, x) => n + 1 + expandItems(x.options.expand), 0);
const MAX_SKIP = 1_000_000_000;

/** Splits on `sep` outside parentheses and quotes. */
function splitTop(s: string, sep: string, option: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "'") quoted = !quoted;
    else if (quoted) continue;
    else if (c === '(') depth++;
    else if (c === ')') {
      if (--depth < 0) throw new StaQueryError(`unbalanced ')' at position ${i}`, option);
    } else if (c === sep && depth === 0) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  if (depth !== 0 || quoted) throw new StaQueryError('unbalanced parentheses or quotes', option);
  out.push(s.slice(start));
  return out;
}

function integer(v: string, option: string, max: number): number {
  if (!/^\d{1,10}$/.test(v.trim()) || Number(v) > max)
    throw new StaQueryError(`${option} must be a whole number between 0 and ${max}, not '${v}'`, option);
  return Number(v);
}

function parseExpand(s: string, depth: number): Expand[] {
  if (depth > MAX_EXPAND_DEPTH) throw new StaQueryError(`$expand nested deeper than ${MAX_EXPAND_DEPTH}`, '$expand');
  const out: Expand[] = [];
  for (const raw of splitTop(s, ',', '$expand')) {
    const item = raw.trim();
    if (!item) throw new StaQueryError('empty item in $expand', '$expand');
    const open = item.indexOf('(');
    const path = (open < 0 ? item : item.slice(0, open)).trim();
    if (open >= 0 && !item.endsWith(')')) throw new StaQueryError(`'${item}' in $expand is malformed`, '$expand');
    const inner = open < 0 ? {} : nestedOptions(item.slice(open + 1, -1), depth);
    const segs = path.split('/');
    if (segs.some((p) => !/^[A-Za-z]+$/.test(p)))
      throw new StaQueryError(`'${path}' in $expand is not a navigation path`, '$expand');
    // a/b(opts) = a($expand=b(opts)); items with the same head are merged.
    let leaf: Expand = { nav: segs[segs.length - 1]!, options: parseOptions(inner, depth + 1) };
    for (let i = segs.length - 2; i >= 0; i--) leaf = { nav: segs[i]!, options: { ...emptyOptions(), expand: [leaf] } };
    const same = out.find((x) => x.nav === leaf.nav);
    // A repeated item adds nothing: `Datastreams/Observations` five hundred times is one expansion, not 500 queries each.
    if (same)
      for (const x of leaf.options.expand) {
        if (!same.options.expand.some((y) => JSON.stringify(y) === JSON.stringify(x))) same.options.expand.push(x);
      }
    else out.push(leaf);
  }
  return out;
}

function nestedOptions(s: string, depth: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of splitTop(s, ';', '$expand')) {
    const eq = part.indexOf('=');
    if (eq < 0) throw new StaQueryError(`'${part}' in $expand is not an option=value pair`, '$expand');
    out[part.slice(0, eq).trim()] = part.slice(eq + 1);
  }
  if (depth > MAX_EXPAND_DEPTH) throw new StaQueryError('nested too deep', '$expand');
  return out;
}

export const emptyOptions = (): QueryOptions => ({ skip: 0, count: false, orderby: [], expand: [] });

/** Parses the options of one level; unknown `$` options are refused, others (a client's own) are ignored. */
export function parseOptions(q: Record<string, unknown>, depth = 0): QueryOptions {
  const o = emptyOptions();
  for (const [key, raw] of Object.entries(q)) {
    if (!key.startsWith('$')) continue;
    if (!OPTIONS.has(key)) throw new StaQueryError(`unknown query option '${key}'`, key);
    if (typeof raw !== 'string') throw new StaQueryError(`${key} is given more than once`, key);
    switch (key) {
      case '$top':
        o.top = integer(raw, key, 1_000_000);
        break;
      case '$skip':
        o.skip = integer(raw, key, MAX_SKIP);
        break;
      case '$count':
        if (raw !== 'true' && raw !== 'false')
          throw new StaQueryError(`$count must be true or false, not '${raw}'`, key);
        o.count = raw === 'true';
        break;
      case '$select':
        o.select = raw.split(',').map((s) => s.trim());
        if (o.select.some((s) => !/^@?[A-Za-z][A-Za-z.]*$/.test(s)))
          throw new StaQueryError(`$select lists property names separated by commas, not '${raw}'`, key);
        break;
      case '$orderby':
        o.orderby = splitTop(raw, ',', key).map((item) => {
          const m = /^(.*?)(?:\s+(asc|desc))?\s*$/s.exec(item.trim())!;
          return { e: parseExpression(m[1]!, key), desc: m[2] === 'desc' };
        });
        break;
      case '$filter':
        o.filter = parseExpression(raw, key);
        break;
      case '$expand':
        o.expand = parseExpand(raw, depth);
        if (depth === 0 && expandItems(o.expand) > MAX_EXPAND_ITEMS)
          throw new StaQueryError(`$expand names more than ${MAX_EXPAND_ITEMS} navigation properties in all`, key);
        break;
      case '$resultFormat':
        if (raw !== 'default')
          throw new StaQueryError(`$resultFormat '${raw}' is not supported (dataArray is not)`, key);
        break;
    }
  }
  return o;
}
