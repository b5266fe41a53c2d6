import { describe, expect, it } from 'vitest';
import { compileObservationFilter, matches } from '../../../../services/api/sta/evaluate.ts';
import { type Expr, parseExpression, StaQueryError, type Value } from '../../../../services/api/sta/expression.ts';
import { distance, intersects, length, parseWkt, within } from '../../../../services/api/sta/geo.ts';
import { parseOptions } from '../../../../services/api/sta/query-options.ts';

const lit = (v: Value): Expr => ({ k: 'lit', v });
const path = (...p: string[]): Expr => ({ k: 'path', p });

describe('SensorThings $filter parser', () => {
  it('parses with OData precedence: not > mul > add > comparison > and > or', () => {
    expect(parseExpression("not a eq 1 or b add 2 mul 3 gt 4 and c/d eq 'x''y'")).toStrictEqual({
      k: 'bin',
      op: 'or',
      l: { k: 'not', e: { k: 'bin', op: 'eq', l: path('a'), r: lit(1) } },
      r: {
        k: 'bin',
        op: 'and',
        l: {
          k: 'bin',
          op: 'gt',
          l: { k: 'bin', op: 'add', l: path('b'), r: { k: 'bin', op: 'mul', l: lit(2), r: lit(3) } },
          r: lit(4),
        },
        r: { k: 'bin', op: 'eq', l: path('c', 'd'), r: lit("x'y") },
      },
    });
  });

  it('reads datetimes, negative numbers, geography literals and function calls', () => {
    expect(
      parseExpression(
        "phenomenonTime ge 2026-06-01T08:00:00.000Z and result sub -1.5e1 lt geo.distance(location, geography'POINT(8 51)')",
      ),
    ).toStrictEqual({
      k: 'bin',
      op: 'and',
      l: { k: 'bin', op: 'ge', l: path('phenomenonTime'), r: lit({ kind: 'time', ms: Date.UTC(2026, 5, 1, 8) }) },
      r: {
        k: 'bin',
        op: 'lt',
        l: { k: 'bin', op: 'sub', l: path('result'), r: lit(-15) },
        r: {
          k: 'fn',
          name: 'geo.distance',
          args: [path('location'), lit({ kind: 'geo', g: { type: 'Point', coordinates: [8, 51] } })],
        },
      },
    });
  });

  it('names the position of what it cannot read', () => {
    for (const [src, msg] of [
      ['name eq', 'expression ends where a value was expected at position 7'],
      ["name eq 'x", 'unterminated string starting at position 8'],
      ['frob(name)', "unknown or unsupported function 'frob' at position 0"],
      ['contains(name)', 'contains takes 2 arguments at position 0'],
      ['a eq 1 )', 'unexpected input at position 7'],
      ['a # 1', "unexpected character '#' at position 2"],
      [
        "st_within(location, geography'POINT(1)')",
        "geography literal at position 20: '1' is not a position (two numbers: longitude latitude)",
      ],
    ]) {
      expect(() => parseExpression(src!)).toThrow(new StaQueryError(msg!, '$filter'));
    }
    expect(() => parseExpression(`${'('.repeat(200)}a${')'.repeat(200)}`)).toThrow(/nested deeper than 64/);
    expect(() => parseExpression('a eq 1 '.repeat(1000))).toThrow(/longer than 4000/);
  });
});

describe('SensorThings filter evaluation on registry entities', () => {
  const entity: Record<string, Value[]> = {
    name: ['Station Nord'],
    'Datastreams/name': ['pm10 of A', 'no2 of A'],
    location: [{ kind: 'geo', g: { type: 'Point', coordinates: [9.2, 48.5] } }],
    time: [{ kind: 'time', ms: Date.UTC(2026, 0, 1) }],
    missing: [null],
  };
  const holds = (f: string) => matches(parseExpression(f), (p) => entity[p.join('/')] ?? [null]);

  it('evaluates string, arithmetic, time and geo functions; a to-many path holds when any value does', () => {
    const yes = [
      "startswith(name, 'Station') and endswith(name, 'Nord') and contains(name, 'on N')",
      "substringof('Nord', name) and length(name) eq 12 and indexof(name, 'N') eq 8",
      "tolower(name) eq 'station nord' and toupper(substring(name, 8)) eq 'NORD' and concat(name, '!') eq 'Station Nord!'",
      "Datastreams/name eq 'no2 of A'",
      '3 add 4 mul 2 eq 11 and 7 mod 4 eq 3 and 9 div 2 eq 4.5 and -(2) eq -2',
      'round(2.5) eq 3 and floor(2.7) eq 2 and ceiling(2.1) eq 3',
      'time eq 2026-01-01T00:00:00Z and year(time) eq 2026 and month(time) eq 1 and time lt now()',
      "time gt '2025-12-31T23:59:59Z'",
      "geo.distance(location, geography'POINT(9.2 48.6)') lt 0.11 and geo.length(geography'LINESTRING(0 0, 3 4)') eq 5",
      "st_within(location, geography'POLYGON((9 48, 10 48, 10 49, 9 49, 9 48))')",
      "st_intersects(location, geography'LINESTRING(9.2 48, 9.2 49)') and st_disjoint(location, geography'POINT(0 0)')",
      'missing eq null and name ne null',
    ];
    const no = [
      "Datastreams/name eq 'o3 of A'",
      "name gt 'Z'",
      'missing gt 1',
      "st_within(location, geography'POLYGON((0 0, 1 0, 1 1, 0 0))')",
      "not (name eq 'Station Nord')",
    ];
    expect(yes.filter((f) => !holds(f))).toStrictEqual([]);
    expect(no.filter((f) => holds(f))).toStrictEqual([]);
  });
});

describe('SensorThings filters on Observations become InfluxQL', () => {
  const compile = (f: string, known: Record<string, Value[]> = {}) =>
    compileObservationFilter(
      parseExpression(f),
      (p) => {
        const k = p.join('/');
        if (k === 'result') return 'result';
        if (k === 'phenomenonTime' || k === 'resultTime') return 'time';
        return known[k] ?? [null];
      },
      (ms) => `'${new Date(ms).toISOString()}'`,
    );

  it('keeps result conditions and ANDed time bounds, decided registry parts folded away', () => {
    expect(
      compile(
        "Datastream/name eq 'pm10' and phenomenonTime ge 2026-01-01T00:00:00Z and 2026-02-01T00:00:00Z gt resultTime and (result gt 3 or result mul 2 le -4)",
        { 'Datastream/name': ['pm10'] },
      ),
    ).toStrictEqual({
      k: 'query',
      where: ['(("value" > 3) OR (("value" * 2) <= -4))'],
      time: ["time >= '2026-01-01T00:00:00.000Z'", "time < '2026-02-01T00:00:00.000Z'"],
    });
    expect(compile("Datastream/name eq 'no2' and result gt 3", { 'Datastream/name': ['pm10'] })).toStrictEqual({
      k: 'const',
      v: false,
    });
    expect(compile("Datastream/name eq 'pm10' or result gt 3", { 'Datastream/name': ['pm10'] })).toStrictEqual({
      k: 'const',
      v: true,
    });
  });

  it('pushes not into the comparisons (InfluxQL has no NOT) and refuses what InfluxDB cannot evaluate', () => {
    expect(compile('not (result gt 3 and result lt 5)')).toStrictEqual({
      k: 'query',
      where: ['(("value" <= 3) OR ("value" >= 5))'],
      time: [],
    });
    expect(compile("result eq 'abc'")).toStrictEqual({ k: 'const', v: false });
    for (const f of [
      'phenomenonTime ne 2026-01-01T00:00:00Z',
      'phenomenonTime gt 2026-01-01T00:00:00Z or result gt 1',
      'round(result) eq 1',
      "phenomenonTime gt 'not a time'",
      'result',
    ])
      expect(() => compile(f)).toThrow(StaQueryError);
  });
});

describe('SensorThings query options', () => {
  it('nests $expand paths and options, merging items with the same head', () => {
    const o = parseOptions({
      $expand:
        'Datastreams($top=1;$expand=Observations($orderby=phenomenonTime desc;$top=2)),Datastreams/Sensor,Locations',
      $top: '5',
      $count: 'true',
      $select: 'id,name',
    });
    expect(o.top).toBe(5);
    expect(o.count).toBe(true);
    expect(o.select).toStrictEqual(['id', 'name']);
    expect(
      o.expand.map((x) => [
        x.nav,
        x.options.top,
        x.options.expand.map((y) => [y.nav, y.options.top, y.options.orderby.map((k) => k.desc)]),
      ]),
    ).toStrictEqual([
      [
        'Datastreams',
        1,
        [
          ['Observations', 2, [true]],
          ['Sensor', undefined, []],
        ],
      ],
      ['Locations', undefined, []],
    ]);
    for (const bad of [
      { $top: 'ten' },
      { $count: 'yes' },
      { $expand: 'Datastreams(' },
      { $select: 'a b' },
      { $unknown: '1' },
    ])
      expect(() => parseOptions(bad)).toThrow(StaQueryError);
  });

  it('merges repeated $expand items into one and refuses more than 32 navigation properties in all', () => {
    const o = parseOptions({ $expand: Array.from({ length: 500 }, () => 'Datastreams/Observations').join(',') });
    expect(o.expand.map((x) => [x.nav, x.options.expand.map((y) => y.nav)])).toStrictEqual([
      ['Datastreams', ['Observations']],
    ]);
    const many = Array.from({ length: 17 }, (_, i) => `Datastreams($top=${i};$expand=Observations)`).join(',');
    expect(parseOptions({ $expand: many }).expand).toHaveLength(1);
    const wide = ['Thing', 'Sensor', 'ObservedProperty', 'Observations']
      .map((n) => `Datastreams/${n}`)
      .concat(
        Array.from({ length: 29 }, (_, i) => `X${'abcdefghijklmnopqrstuvwxyz'[i % 26]}${'ab'[Math.floor(i / 26)]}`),
      )
      .join(',');
    expect(() => parseOptions({ $expand: wide })).toThrow(
      new StaQueryError('$expand names more than 32 navigation properties in all', '$expand'),
    );
  });
});

describe('SensorThings geometry (planar, as the OGC test suite computes it)', () => {
  const poly = parseWkt('POLYGON((8 53, 7 52, 7 53, 8 53))');
  it('answers distance, length, intersects and within like the ets-sta geo tests', () => {
    expect(distance(parseWkt('POINT(8 54)'), parseWkt('POINT(8 54.1)'))).toBeCloseTo(0.1, 12);
    expect(length(parseWkt('LINESTRING(5 52, 5 53)'))).toBe(1);
    expect(intersects(poly, parseWkt('LINESTRING(7.5 51, 7.5 54)'))).toBe(true);
    expect(intersects(parseWkt('LINESTRING(4 52, 8 52)'), parseWkt('LINESTRING(7.5 51, 7.5 54)'))).toBe(true);
    expect(intersects(parseWkt('POINT(8 51)'), parseWkt('LINESTRING(7.5 51, 7.5 54)'))).toBe(false);
    expect(within(parseWkt('POINT(7.2 52.8)'), poly)).toBe(true);
    expect(within(parseWkt('POINT(7.9 52.1)'), poly)).toBe(false);
    expect(distance(parseWkt('POINT(9 52.5)'), parseWkt('LINESTRING(8 52, 8 53)'))).toBe(1);
  });
});

describe('SensorThings options from hostile input', () => {
  it('answers 5,000 seeded random option strings with a parse or a StaQueryError, nothing else, in linear time', () => {
    let seed = 0x5715;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pieces = [
      'name',
      ' eq ',
      "'x'",
      "'",
      '(',
      ')',
      ',',
      ' and ',
      ' or ',
      'not ',
      '-',
      '1',
      '1e999',
      '2026-01-01T00:00:00Z',
      "geography'POINT(1 2)'",
      "geography'POLYGON((",
      'geo.distance(',
      'substring(',
      ' add ',
      '/',
      '@iot.id',
      '$',
      '\u0000',
      '\ud800',
      ';',
      '$top=1',
      '$expand=',
      'Datastreams',
      '$filter=',
      ' ',
      '((((((((',
      '))))))))',
    ];
    const unexpected: string[] = [];
    const started = performance.now();
    for (let i = 0; i < 5000; i++) {
      const s = Array.from({ length: 1 + rnd(40) }, () => pieces[rnd(pieces.length)]).join('');
      const key = ['$filter', '$orderby', '$expand', '$select', '$top'][rnd(5)]!;
      try {
        parseOptions({ [key]: s });
      } catch (err) {
        if (!(err instanceof StaQueryError)) unexpected.push(`${key}=${JSON.stringify(s)}: ${String(err)}`);
      }
    }
    expect(unexpected).toStrictEqual([]);
    // Deeply nested input is refused by the depth bound, not by the stack.
    expect(() => parseOptions({ $expand: `${'Datastreams($expand='.repeat(2000)}Thing${')'.repeat(2000)}` })).toThrow(
      StaQueryError,
    );
    expect(() => parseOptions({ $filter: `${'not '.repeat(900)}a eq 1` })).toThrow(/nested deeper than 64/);
    expect(performance.now() - started).toBeLessThan(20_000);
  });
});
